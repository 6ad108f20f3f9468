/*
 * gai_async: resolves NAME with getaddrinfo_a (GAI_WAIT) and prints the
 * first IPv4 address, or the error. glibc's getaddrinfo_a resolves on a
 * thread of its own through its internal getaddrinfo, which no preload can
 * see: the test checks that such callers get glibc's answer, unharmed.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct addrinfo hints;
	struct gaicb cb, *list[1] = { &cb };
	char buf[INET6_ADDRSTRLEN];
	int rc;

	if (argc != 2)
		return 2;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	memset(&cb, 0, sizeof(cb));
	cb.ar_name = argv[1];
	cb.ar_service = "80";
	cb.ar_request = &hints;
	rc = getaddrinfo_a(GAI_WAIT, list, 1, NULL);
	if (rc == 0)
		rc = gai_error(&cb);
	if (rc != 0) {
		fprintf(stderr, "gai_async: %s\n", gai_strerror(rc));
		return 1;
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)cb.ar_result->ai_addr)->sin_addr,
		  buf, sizeof(buf));
	printf("%s\n", buf);
	freeaddrinfo(cb.ar_result);
	return 0;
}
