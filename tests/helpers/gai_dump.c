/*
 * gai_dump: prints what getaddrinfo and gethostbyname_r answer for a table
 * of names, services, families, socket types and flags, one line per case
 * and result, so that a run with the library and a run without it can be
 * compared byte for byte.
 *   gai_dump matrix    names swerve must leave to glibc (hosts file and
 *                      numeric only: nothing here may ask a DNS server)
 *   gai_dump NAME...   the same table for configured names
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void dump(const char *node, const char *service, int family,
		 int socktype, int flags)
{
	struct addrinfo hints, *res = NULL, *p;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = socktype;
	hints.ai_flags = flags;
	rc = getaddrinfo(node, service, &hints, &res);
	printf("%s|%s|%d|%d|0x%x => %d\n", node ? node : "(null)",
	       service ? service : "(null)", family, socktype, flags, rc);
	for (p = rc == 0 ? res : NULL; p != NULL; p = p->ai_next) {
		char buf[INET6_ADDRSTRLEN] = "?";
		int port = 0;

		if (p->ai_family == AF_INET) {
			struct sockaddr_in *s = (void *)p->ai_addr;

			inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf));
			port = ntohs(s->sin_port);
		} else if (p->ai_family == AF_INET6) {
			struct sockaddr_in6 *s = (void *)p->ai_addr;

			inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf));
			port = ntohs(s->sin6_port);
		}
		printf("  %d %d %d 0x%x %u %s %d %s\n", p->ai_family,
		       p->ai_socktype, p->ai_protocol, p->ai_flags,
		       (unsigned)p->ai_addrlen, buf, port,
		       p->ai_canonname ? p->ai_canonname : "-");
	}
	if (rc == 0)
		freeaddrinfo(res);
}

static void dump_hostent(const char *name, int af)
{
	struct hostent he, *r = NULL;
	char buf[2048];
	int herr = 0, rc, i;

	rc = gethostbyname2_r(name, af, &he, buf, sizeof(buf), &r, &herr);
	printf("gethostbyname2_r %s %d => %d %d\n", name, af, rc, r ? 0 : herr);
	for (i = 0; r != NULL && r->h_addr_list[i] != NULL; i++) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(r->h_addrtype, r->h_addr_list[i], a, sizeof(a));
		printf("  %s %s\n", r->h_name, a);
	}
	/* Too small a buffer: ERANGE, so that callers grow it. */
	rc = gethostbyname2_r(name, af, &he, buf, 8, &r, &herr);
	printf("  small buffer => %d %s\n", rc, r ? "result" : "null");
}

int main(int argc, char **argv)
{
	static const int families[] = { AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX };
	static const int socktypes[] = { 0, SOCK_STREAM, SOCK_DGRAM };
	static const int flagset[] = { 0, AI_CANONNAME, AI_NUMERICHOST,
				       AI_V4MAPPED, AI_V4MAPPED | AI_ALL,
				       AI_PASSIVE, AI_ADDRCONFIG,
				       AI_NUMERICSERV, 0x10000 };
	static const char *const services[] = { "80", "http", NULL,
						"no-such-service" };
	static const char *const matrix[] = { "localhost", "vm", "127.0.0.1",
					      "::1", "127.1", "",
					      "::ffff:127.0.0.1", NULL };
	size_t f, s, t, g, n;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: gai_dump matrix | NAME...\n");
		return 2;
	}
	if (strcmp(argv[1], "matrix") == 0) {
		for (n = 0; n < sizeof(matrix) / sizeof(matrix[0]); n++) {
			const char *node = matrix[n];
			/* A name that is not in the hosts file for a family
			 * would go to DNS: names are asked for AF_UNSPEC and
			 * AF_INET only, and never for AI_V4MAPPED. */
			int is_name = node != NULL && node[0] != '\0' &&
				      node[0] >= 'a' && node[0] <= 'z';

			for (f = 0; f < 4; f++)
				for (s = 0; s < 4; s++)
					for (t = 0; t < 3; t++)
						for (g = 0; g < 9; g++) {
							if (is_name &&
							    (families[f] == AF_INET6 ||
							     (flagset[g] & AI_V4MAPPED)))
								continue;
							dump(node, services[s],
							     families[f],
							     socktypes[t],
							     flagset[g]);
						}
			if (is_name) {
				dump_hostent(node, AF_INET);
			}
		}
		return 0;
	}
	for (i = 1; i < argc; i++) {
		for (f = 0; f < 4; f++)
			for (s = 0; s < 4; s++)
				for (t = 0; t < 3; t++)
					for (g = 0; g < 9; g++)
						dump(argv[i], services[s],
						     families[f], socktypes[t],
						     flagset[g]);
		dump_hostent(argv[i], AF_INET);
		dump_hostent(argv[i], AF_INET6);
	}
	return 0;
}
