/*
 * fakego: a C program dressed as a Go binary (it carries the section Go's
 * linker writes, ".note.go.buildid"), so the tests can check that swerve
 * stays out of Go programs' way without needing a Go toolchain.
 * `fakego NAME` prints the first address getaddrinfo gives for NAME.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

__attribute__((used, section(".note.go.buildid")))
static const char go_buildid[] = "Go\0\0fake-build-id";

int main(int argc, char **argv)
{
	struct addrinfo hints, *res;
	char buf[INET6_ADDRSTRLEN];
	int rc;

	if (argc != 2)
		return 2;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(argv[1], "80", &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "fakego: %s\n", gai_strerror(rc));
		return 1;
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, buf,
		  sizeof(buf));
	printf("%s\n", buf);
	freeaddrinfo(res);
	return 0;
}
