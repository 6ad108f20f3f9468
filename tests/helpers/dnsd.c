/*
 * dnsd: a tiny authoritative UDP DNS responder for tests and the demo, never
 * linked with swerve. `dnsd [-n] [-r] [-v] ADDR PORT ZONEFILE` listens on
 * ADDR:PORT (UDP only) and answers from ZONEFILE, whose lines are
 *
 *     NAME TTL A|AAAA ADDRESS      # several lines per name: several records
 *
 * ('#' starts a comment; names match case-insensitively, a trailing dot is
 * optional). A query for a name with records of the asked type gets them,
 * a name with records of other types only gets NOERROR with no answers
 * (NODATA), and any other name gets NXDOMAIN. Queries of class other than IN
 * or opcode other than QUERY are refused or answered NOTIMP.
 *
 * The zone is re-read when the file's mtime, size or inode changes (checked
 * on every query, so a test can change records while a client runs) and on
 * SIGHUP. -n starts in "drop" mode: every query is read and ignored, a DNS
 * outage that makes clients time out; SIGUSR1 toggles the mode. -r answers
 * REFUSED to every query (a server that will not serve us). -v logs one
 * line per query on stderr.
 *
 * The question is echoed byte for byte, so 0x20 case randomisation survives;
 * an EDNS OPT record in the query is not echoed but its UDP size is honoured.
 * An answer that does not fit is cut and marked TC (there is no TCP side:
 * keep test zones small). It prints "ready" on stdout once bound, exits on
 * SIGTERM/SIGINT and dies with its parent (PR_SET_PDEATHSIG).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define T_A 1
#define T_AAAA 28
#define T_OPT 41
#define T_ANY 255
#define C_IN 1

#define RC_NOERROR 0
#define RC_FORMERR 1
#define RC_NXDOMAIN 3
#define RC_NOTIMP 4
#define RC_REFUSED 5

struct record {
	char name[256];  /* lower case, no trailing dot */
	uint32_t ttl;
	uint16_t type;   /* T_A or T_AAAA */
	unsigned char addr[16];
};

struct zone {
	struct record *rec;
	size_t n;
	struct stat st;  /* of the file last read; st_ino 0 = never read */
};

static volatile sig_atomic_t stop, reload, toggle_drop;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else if (sig == SIGUSR1)
		toggle_drop = 1;
	else
		stop = 1;
}

static void lower_name(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < cap; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
	if (i > 0 && dst[i - 1] == '.')
		dst[i - 1] = '\0';
}

/* Parses one zone line into <r>; 1 = record, 0 = blank/comment, -1 = bad. */
static int parse_line(char *line, struct record *r)
{
	char *hash = strchr(line, '#');
	char name[300], ttl[32], type[16], addr[128];
	char *end;
	unsigned long t;
	int n;

	if (hash != NULL)
		*hash = '\0';
	n = sscanf(line, "%299s %31s %15s %127s", name, ttl, type, addr);
	if (n <= 0)
		return 0;
	if (n != 4 || strlen(name) > 254)
		return -1;
	errno = 0;
	t = strtoul(ttl, &end, 10);
	if (errno != 0 || *end != '\0' || t > 0x7fffffffUL)
		return -1;
	memset(r, 0, sizeof(*r));
	lower_name(r->name, sizeof(r->name), name);
	r->ttl = (uint32_t)t;
	if (strcasecmp(type, "A") == 0) {
		r->type = T_A;
		return inet_pton(AF_INET, addr, r->addr) == 1 ? 1 : -1;
	}
	if (strcasecmp(type, "AAAA") == 0) {
		r->type = T_AAAA;
		return inet_pton(AF_INET6, addr, r->addr) == 1 ? 1 : -1;
	}
	return -1;
}

/*
 * Reads <path> into <z> when it changed since the last read (or always with
 * <force>). A file that cannot be opened keeps the old zone: a test that
 * rewrites the file must never see an empty zone in between.
 */
static void zone_load(struct zone *z, const char *path, int force)
{
	struct record *rec = NULL, r, *grown;
	size_t n = 0, cap = 0;
	char line[512];
	unsigned lineno = 0;
	struct stat st;
	FILE *f;
	int rc;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "dnsd: %s: %s\n", path, strerror(errno));
		return;
	}
	if (!force && z->st.st_ino == st.st_ino &&
	    z->st.st_size == st.st_size &&
	    z->st.st_mtim.tv_sec == st.st_mtim.tv_sec &&
	    z->st.st_mtim.tv_nsec == st.st_mtim.tv_nsec)
		return;
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "dnsd: %s: %s\n", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		rc = parse_line(line, &r);
		if (rc < 0) {
			fprintf(stderr, "dnsd: %s:%u: ignored bad line\n",
				path, lineno);
			continue;
		}
		if (rc == 0)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			grown = realloc(rec, cap * sizeof(*rec));
			if (grown == NULL)
				break;
			rec = grown;
		}
		rec[n++] = r;
	}
	fclose(f);
	free(z->rec);
	z->rec = rec;
	z->n = n;
	z->st = st;
}

static int put16(unsigned char *p, size_t cap, size_t *off, uint16_t v)
{
	if (*off + 2 > cap)
		return -1;
	p[*off] = (unsigned char)(v >> 8);
	p[*off + 1] = (unsigned char)v;
	*off += 2;
	return 0;
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Reads the question name at <q>[<off>..] into <name> (lower case, dotted,
 * no trailing dot; "" for the root). Returns the offset after it or -1.
 * Queries carry no compression pointers, so one is a format error.
 */
static long read_qname(const unsigned char *q, size_t len, size_t off,
		       char *name, size_t cap)
{
	size_t out = 0, i;
	unsigned l;

	for (;;) {
		if (off >= len)
			return -1;
		l = q[off++];
		if (l == 0)
			break;
		if (l > 63 || off + l > len || out + l + 2 > cap)
			return -1;
		if (out > 0)
			name[out++] = '.';
		for (i = 0; i < l; i++)
			name[out++] = (char)tolower(q[off + i]);
		off += l;
	}
	name[out] = '\0';
	return (long)off;
}

/* The UDP payload size the client accepts: EDNS OPT in the additional
 * section, else 512 (RFC 1035 4.2.1, RFC 6891 6.2.3). */
static size_t udp_limit(const unsigned char *q, size_t len, size_t off)
{
	unsigned ar = get16(q + 10);
	size_t sz;

	/* Skip nothing but the additional records: ancount/nscount are 0 in
	 * every query we serve. */
	if (get16(q + 6) != 0 || get16(q + 8) != 0 || ar == 0)
		return 512;
	if (off + 11 > len || q[off] != 0 || get16(q + off + 1) != T_OPT)
		return 512;
	sz = get16(q + off + 3);
	if (sz < 512)
		return 512;
	return sz > 4096 ? 4096 : sz;
}

/*
 * Builds the answer to query <q> of <len> bytes in <a> (capacity <acap>).
 * Returns its length, or 0 to send nothing (a response, or garbage).
 */
static size_t answer(const struct zone *z, const unsigned char *q, size_t len,
		     unsigned char *a, size_t acap, int refuse, int verbose)
{
	char name[256];
	uint16_t qtype = 0, qclass = 0, flags;
	size_t off, i, limit, count = 0;
	long qend;
	int rcode = RC_NOERROR, known = 0, tc = 0;

	if (len < 12 || (q[2] & 0x80) != 0)
		return 0;
	flags = get16(q + 2);
	memcpy(a, q, 2);
	/* QR, opcode echoed, AA, RD echoed; RA stays 0 (not recursive). */
	a[2] = (unsigned char)(0x80 | (q[2] & 0x78) | 0x04 | (q[2] & 0x01));
	a[3] = 0;
	memset(a + 4, 0, 8);
	if (((flags >> 11) & 0xf) != 0) {
		a[3] = RC_NOTIMP;
		return 12;
	}
	qend = get16(q + 4) == 1 ?
		read_qname(q, len, 12, name, sizeof(name)) : -1;
	if (qend < 0 || (size_t)qend + 4 > len) {
		a[3] = RC_FORMERR;
		return 12;
	}
	off = (size_t)qend;
	qtype = get16(q + off);
	qclass = get16(q + off + 2);
	off += 4;
	limit = udp_limit(q, len, off);
	if (limit > acap)
		limit = acap;
	/* Echo the question as sent: 0x20 randomised case must match. */
	if (off > limit)
		return 0;
	memcpy(a + 12, q + 12, off - 12);
	a[5] = 1;
	if (qclass != C_IN || refuse) {
		rcode = RC_REFUSED;
		goto done;
	}
	for (i = 0; i < z->n; i++) {
		const struct record *r = &z->rec[i];
		size_t rdlen = r->type == T_A ? 4 : 16;

		if (strcmp(r->name, name) != 0)
			continue;
		known = 1;
		if (qtype != r->type && qtype != T_ANY)
			continue;
		if (off + 12 + rdlen > limit) {
			tc = 1;
			break;
		}
		put16(a, limit, &off, 0xc00c); /* the name in the question */
		put16(a, limit, &off, r->type);
		put16(a, limit, &off, C_IN);
		put16(a, limit, &off, (uint16_t)(r->ttl >> 16));
		put16(a, limit, &off, (uint16_t)r->ttl);
		put16(a, limit, &off, (uint16_t)rdlen);
		memcpy(a + off, r->addr, rdlen);
		off += rdlen;
		count++;
	}
	if (!known)
		rcode = RC_NXDOMAIN;
done:
	a[3] = (unsigned char)rcode;
	if (tc)
		a[2] |= 0x02;
	a[6] = (unsigned char)(count >> 8);
	a[7] = (unsigned char)count;
	if (verbose)
		fprintf(stderr, "dnsd: %s type %u -> rcode %d, %zu answers%s\n",
			name, qtype, rcode, count, tc ? " (TC)" : "");
	return off;
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *sin = (void *)ss;
	struct sockaddr_in6 *sin6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/* No SA_RESTART: a signal must wake poll() in main(). */
static void set_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void usage(void)
{
	fprintf(stderr, "usage: dnsd [-n] [-r] [-v] ADDR PORT ZONEFILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, from;
	socklen_t sslen, fromlen;
	unsigned char q[4096], a[4096];
	struct zone z = { 0 };
	struct pollfd p;
	int fd, opt, drop = 0, refuse = 0, verbose = 0, port;
	const char *path;
	ssize_t n;
	size_t alen;

	while ((opt = getopt(argc, argv, "nrv")) != -1) {
		if (opt == 'n')
			drop = 1;
		else if (opt == 'r')
			refuse = 1;
		else if (opt == 'v')
			verbose = 1;
		else
			usage();
	}
	if (argc - optind != 3)
		usage();
	port = atoi(argv[optind + 1]);
	path = argv[optind + 2];
	if (port <= 0 || port > 65535 ||
	    parse_addr(argv[optind], port, &ss, &sslen) != 0)
		usage();

	/* Die with the test that started us, even if it crashes. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 1;
	set_signals();

	zone_load(&z, path, 1);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&ss, sslen) == -1) {
		fprintf(stderr, "dnsd: %s:%d: %s\n", argv[optind], port,
			strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	p.fd = fd;
	p.events = POLLIN;
	while (!stop) {
		if (reload) {
			reload = 0;
			zone_load(&z, path, 1);
		}
		if (toggle_drop) {
			toggle_drop = 0;
			drop = !drop;
			if (verbose)
				fprintf(stderr, "dnsd: drop %s\n",
					drop ? "on" : "off");
		}
		/* The timeout bounds the window in which a signal that
		 * arrives just before poll() goes unnoticed. */
		if (poll(&p, 1, 100) <= 0)
			continue;
		fromlen = sizeof(from);
		n = recvfrom(fd, q, sizeof(q), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fromlen);
		if (n <= 0 || drop)
			continue;
		zone_load(&z, path, 0);
		alen = answer(&z, q, (size_t)n, a, sizeof(a), refuse,
			      verbose);
		if (alen > 0)
			sendto(fd, a, alen, 0, (struct sockaddr *)&from,
			       fromlen);
	}
	free(z.rec);
	close(fd);
	return 0;
}
