/*
 * fuzz_dns: libFuzzer target for what swerve does with a DNS server's
 * answers. Each input is what a DNS server answers; it reaches swerve the
 * way a real one does: a responder thread of this process, on a loopback
 * UDP port (and the TCP port of the same number, for truncated answers),
 * answers the queries that c-ares sends for swerve_dnscache_refresh() of a
 * service whose endpoint is the name fuzz.test. So the fuzzed bytes go
 * through c-ares' parser (the 1.18.1 that libswerve.so links), the
 * resolver's conversion (families, sorting, duplicates, TTL), and the
 * cache's publication (slots, rows, TTL clamping), as in a host process.
 *
 * Input: two bytes (big endian) for the length of the answer to A queries,
 * that answer, then the answer to AAAA queries. The responder only writes
 * the query's id over the answer's first two bytes: everything else (the
 * question, counts, flags, records) is the fuzzer's. An answer c-ares
 * drops (wrong question, garbage) would leave the query waiting for its
 * timeout, so each fuzzed answer is followed by a well-formed empty one
 * (NOERROR, no records), which c-ares ignores when it took the first.
 *
 * Checks, besides the sanitizers, after each refresh:
 *   - the name's slots hold addresses from slot 0 on, each IPv4 or IPv6,
 *     each once, with the endpoint's port, none stale;
 *   - each slot's row is the row of its address;
 *   - the answer is kept for at least dns_min_ttl and at most dns_max_ttl:
 *     a refresh before the one is a no-op, one after the other asks again
 *     (counted in the name's status row, one per lookup);
 *   - when that second lookup fails (the responder then sends only empty
 *     answers), the answer stays, slot for slot, and turns stale;
 *   - the static endpoint beside the name is untouched.
 *
 * Each input gets a fresh cache and an empty table (the rows an input used
 * are emptied after it), so an input means the same in every run.
 *
 * Thread-safety: libFuzzer calls the target from one thread; the responder
 * thread reads the current input under a mutex.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "names/dnscache.h"
#include "fuzz.h"

#define broken(what) fuzz_broken("fuzz_dns", what, NULL)

#define ENDPOINT "fuzz.test:80"
#define MIN_TTL_MS 1000u
#define MAX_TTL_MS 60000u
#define MSG_MAX 4096

/* A copy: the responder may still answer a late query after the input is
 * gone (a retry whose answer was already on its way). */
static pthread_mutex_t input_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t input_a[MSG_MAX], input_aaaa[MSG_MAX];
static size_t input_alen, input_aaaalen;
static bool silent; /* only the empty answers: the name has no records */

static struct swerve_config *cfg;
static struct swerve_shm tab;
/* The table's bytes as swerve_shm_private() made them, and the struct. */
static void *pristine;
static struct swerve_shm pristine_tab;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* The end of the question of query <q>, or 0 when it has none. */
static size_t question_end(const uint8_t *q, size_t len, uint16_t *type)
{
	size_t n = 12;

	if (len < 12 || q[4] != 0 || q[5] != 1)
		return 0;
	while (n < len && q[n] != 0) {
		if (q[n] > 63)
			return 0;
		n += 1u + q[n];
	}
	if (n + 5 > len)
		return 0;
	*type = (uint16_t)(q[n + 1] << 8 | q[n + 2]);
	return n + 5;
}

/*
 * Writes into <out> the fuzzed answer to query <q> (returns its length)
 * and into <empty> the well-formed empty one (*<elen>).
 */
static size_t answer(const uint8_t *q, size_t qlen, uint8_t *out,
		     uint8_t *empty, size_t *elen)
{
	uint16_t type = 0;
	size_t qend = question_end(q, qlen, &type), n;

	*elen = 0;
	if (qend == 0)
		return 0;
	memcpy(empty, q, qend);
	empty[2] = 0x81; /* QR, RD */
	empty[3] = 0x80; /* RA, NOERROR */
	memset(empty + 6, 0, 6); /* no records, no OPT */
	*elen = qend;
	pthread_mutex_lock(&input_lock);
	if (silent) {
		n = 0;
	} else if (type == 28) {
		n = input_aaaalen;
		memcpy(out, input_aaaa, n);
	} else {
		n = input_alen;
		memcpy(out, input_a, n);
	}
	pthread_mutex_unlock(&input_lock);
	if (n >= 2)
		memcpy(out, q, 2); /* the query's id */
	return n;
}

static void serve_udp(int fd)
{
	uint8_t q[MSG_MAX], out[MSG_MAX], empty[MSG_MAX];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	ssize_t got;
	size_t n, elen;

	got = recvfrom(fd, q, sizeof(q), 0, (void *)&from, &fromlen);
	if (got <= 0)
		return;
	n = answer(q, (size_t)got, out, empty, &elen);
	if (n > 0)
		sendto(fd, out, n, 0, (void *)&from, fromlen);
	if (elen > 0)
		sendto(fd, empty, elen, 0, (void *)&from, fromlen);
}

static bool send_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		buf += w;
		len -= (size_t)w;
	}
	return true;
}

static bool recv_all(int fd, uint8_t *buf, size_t len)
{
	ssize_t got;

	while (len > 0) {
		got = recv(fd, buf, len, 0);
		if (got <= 0)
			return false;
		buf += got;
		len -= (size_t)got;
	}
	return true;
}

/* One query on a TCP connection (RFC 1035 4.2.2); false once closed. */
static bool serve_tcp(int fd)
{
	uint8_t q[MSG_MAX], out[2 + MSG_MAX], empty[2 + MSG_MAX], len[2];
	size_t qlen, n, elen;

	if (!recv_all(fd, len, 2))
		return false;
	qlen = (size_t)(len[0] << 8 | len[1]);
	if (qlen > sizeof(q) || !recv_all(fd, q, qlen))
		return false;
	n = answer(q, qlen, out + 2, empty + 2, &elen);
	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	empty[0] = (uint8_t)(elen >> 8);
	empty[1] = (uint8_t)elen;
	return (n == 0 || send_all(fd, out, n + 2)) &&
	       (elen == 0 || send_all(fd, empty, elen + 2));
}

static void *responder(void *arg)
{
	int *fds = arg;
	struct pollfd p[3] = { { .fd = fds[0], .events = POLLIN },
			       { .fd = fds[1], .events = POLLIN },
			       { .fd = -1, .events = POLLIN } };

	for (;;) {
		if (poll(p, 3, -1) <= 0)
			continue;
		if (p[0].revents != 0)
			serve_udp(p[0].fd);
		if (p[1].revents != 0) {
			int c = accept(p[1].fd, NULL, NULL);

			if (p[2].fd != -1)
				close(p[2].fd);
			p[2].fd = c;
		}
		if (p[2].fd != -1 && p[2].revents != 0 && !serve_tcp(p[2].fd)) {
			close(p[2].fd);
			p[2].fd = -1;
		}
	}
	return NULL;
}

/* UDP and TCP on one loopback port the kernel picks; returns the port. */
static int start_responder(void)
{
	static int fds[2];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	pthread_t t;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = 0;
		fds[0] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[0] == -1 || fds[1] == -1 ||
		    bind(fds[0], (void *)&sin, sizeof(sin)) == -1 ||
		    getsockname(fds[0], (void *)&sin, &len) == -1)
			die("fuzz_dns: responder socket");
		if (bind(fds[1], (void *)&sin, sizeof(sin)) == 0 &&
		    listen(fds[1], 4) == 0)
			break;
		close(fds[0]);
		close(fds[1]);
	}
	if (tries == 100 || pthread_create(&t, NULL, responder, fds) != 0)
		die("fuzz_dns: responder");
	return ntohs(sin.sin_port);
}

/* The config: the name, and a static endpoint beside it. */
static void load_config(int port)
{
	char text[512], err[512];
	int fd = memfd_create("fuzz_dns.ini", MFD_CLOEXEC);
	int len;

	len = snprintf(text, sizeof(text),
		       "[swerve]\ndns_servers = 127.0.0.1:%d\n"
		       "[service fuzz]\nhosts = fuzzed.svc\nresolution = dns\n"
		       "endpoint = " ENDPOINT "\nendpoint = 127.0.0.9:81\n"
		       "dns_min_ttl = %ums\ndns_max_ttl = %ums\n"
		       "dns_timeout = 1s\n", port, MIN_TTL_MS, MAX_TTL_MS);
	if (fd == -1 || write(fd, text, (size_t)len) != len)
		die("fuzz_dns: config");
	snprintf(text, sizeof(text), "/proc/self/fd/%d", fd);
	if (swerve_config_load(text, false, &cfg, NULL, NULL, err,
			       sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_dns: %s\n", err);
		exit(1);
	}
	close(fd);
	if (swerve_shm_private(&tab) != 0)
		die("fuzz_dns: table");
	pristine = malloc(tab.size);
	if (pristine == NULL)
		die("fuzz_dns: table copy");
	memcpy(pristine, tab.hdr, tab.size);
	pristine_tab = tab;
}

static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr,
			      4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static uint16_t port_of(const struct sockaddr_storage *a)
{
	return ntohs(a->ss_family == AF_INET
			     ? ((const struct sockaddr_in *)a)->sin_port
			     : ((const struct sockaddr_in6 *)a)->sin6_port);
}

/*
 * Checks the name's slots and the static endpoint after a refresh, and
 * copies the name's addresses to <got>; returns how many. They are all
 * stale when <stale_wanted>, none otherwise.
 */
static unsigned check_slots(struct swerve_dnscache *c, bool stale_wanted,
			    struct sockaddr_storage *got)
{
	const struct swerve_service *svc = swerve_dnscache_service(c, 0);
	struct swerve_shm_row *const *rows = swerve_dnscache_rows(c, 0);
	struct sockaddr_storage st;
	unsigned i, j, n = 0;
	bool stale, present;

	if (svc->nendpoints != SWERVE_DNS_MAX_ADDRS + 1)
		broken("the name does not own its slots");
	for (i = 0; i < SWERVE_DNS_MAX_ADDRS; i++) {
		present = swerve_dnscache_address(c, 0, i, &got[n], &stale);
		if (!present)
			continue;
		if (i != n)
			broken("a hole before an address");
		if (stale != stale_wanted)
			broken(stale ? "a fresh answer is stale"
				     : "a failed refresh left the answer fresh");
		if (got[n].ss_family != AF_INET && got[n].ss_family != AF_INET6)
			broken("an address of no known family");
		if (port_of(&got[n]) != 80)
			broken("an address without the endpoint's port");
		for (j = 0; j < n; j++)
			if (same_addr(&got[j], &got[n]))
				broken("an address twice");
		if (rows[i] == NULL ||
		    atomic_load(&rows[i]->key) !=
			    swerve_shm_address_key("fuzz", ENDPOINT, &got[n]))
			broken("a slot's row is not its address's");
		n++;
	}
	if (!swerve_dnscache_address(c, 0, SWERVE_DNS_MAX_ADDRS, &st, &stale) ||
	    port_of(&st) != 81 || st.ss_family != AF_INET || stale)
		broken("the static endpoint changed");
	return n;
}

/* Lookups made so far: the name's status row counts each. */
static uint64_t lookups(void)
{
	struct swerve_shm_row *row = swerve_shm_row(
		&tab, swerve_shm_status_key("fuzz", ENDPOINT), false);

	if (row == NULL)
		broken("no status row");
	return atomic_load(&row->connects_ok) +
	       atomic_load(&row->connects_failed);
}

/*
 * After dns_max_ttl the answer of <n> addresses <first>, got at <t1>, is
 * due; the server then has no records for the name any more (empty
 * answers), so the refresh fails and must keep the answer, stale.
 */
static void refresh_after_max_ttl(struct swerve_dnscache *c, uint64_t t1,
				  const struct sockaddr_storage *first,
				  unsigned n)
{
	struct sockaddr_storage kept[SWERVE_DNS_MAX_ADDRS];
	unsigned i;

	pthread_mutex_lock(&input_lock);
	silent = true;
	pthread_mutex_unlock(&input_lock);
	swerve_dnscache_refresh(c, 0, t1 + MAX_TTL_MS, SWERVE_DNSCACHE_WAIT);
	if (lookups() != 2)
		broken("an answer kept for more than dns_max_ttl");
	if (check_slots(c, true, kept) != n)
		broken("a failed refresh changed the answer");
	for (i = 0; i < n; i++)
		if (!same_addr(&first[i], &kept[i]))
			broken("a failed refresh moved an address");
}

/*
 * A fresh private table for the next input: a table full of past inputs'
 * addresses would change what it does, and only the table itself knows
 * how to empty its rows (their layout, tags and locks are its own). So
 * the table gets back the very bytes swerve_shm_private() gave it, and
 * this process its own record of rows (mine) as it was then: a new
 * mapping per input cost more than half of each execution in page faults.
 * A table that moved (replaced as damaged) is made anew.
 */
/* Not the fuzzer's business (and 4,096 traced comparisons an input). */
__attribute__((no_sanitize("coverage"))) static void restore_used(void)
{
	size_t i, off;

	/* Everything up to the first row (the header), the event ring, and
	 * each row that a key claimed; the others were never written. */
	off = (size_t)((char *)tab.rows - (char *)tab.hdr);
	memcpy(tab.hdr, pristine, off);
	for (i = 0; i < tab.nrows; i++) {
		if (atomic_load(&tab.rows[i].key) == 0 && tab.mine[i] == 0)
			continue;
		memcpy(&tab.rows[i], (char *)pristine + off +
		       i * sizeof(tab.rows[i]), sizeof(tab.rows[i]));
		tab.mine[i] = 0;
	}
	off = (size_t)((char *)tab.events - (char *)tab.hdr);
	memcpy(tab.events, (char *)pristine + off,
	       tab.nevents * sizeof(tab.events[0]));
}

static void fresh_table(void)
{
	if (tab.hdr == pristine_tab.hdr && tab.size == pristine_tab.size &&
	    tab.mine == pristine_tab.mine && !atomic_load(&tab.damaged)) {
		restore_used();
		tab = pristine_tab;
		return;
	}
	swerve_shm_detach(&tab);
	if (swerve_shm_private(&tab) != 0)
		die("fuzz_dns: table");
	memcpy(pristine, tab.hdr, tab.size);
	pristine_tab = tab;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int port;
	struct sockaddr_storage first[SWERVE_DNS_MAX_ADDRS];
	struct swerve_dnscache *c = NULL;
	uint64_t t0, t1;
	size_t alen;
	unsigned n;

	if (port == 0) {
		port = start_responder();
		load_config(port);
	}
	alen = size >= 2 ? (size_t)(data[0] << 8 | data[1]) : 0;
	data += size >= 2 ? 2 : size;
	size -= size >= 2 ? 2 : size;
	if (alen > size)
		alen = size;
	pthread_mutex_lock(&input_lock);
	silent = false;
	input_alen = alen < MSG_MAX ? alen : MSG_MAX;
	memcpy(input_a, data, input_alen);
	input_aaaalen = size - alen < MSG_MAX ? size - alen : MSG_MAX;
	memcpy(input_aaaa, data + alen, input_aaaalen);
	pthread_mutex_unlock(&input_lock);

	if (swerve_dnscache_new(cfg, &tab, &c, NULL, 0) != 0)
		broken("no cache");
	t0 = swerve_now_ms();
	swerve_dnscache_refresh(c, 0, t0, SWERVE_DNSCACHE_WAIT);
	t1 = swerve_now_ms();
	n = check_slots(c, false, first);
	if (lookups() != 1)
		broken("the first refresh did not look up once");
	swerve_dnscache_refresh(c, 0, t0 + MIN_TTL_MS - 1,
				SWERVE_DNSCACHE_WAIT);
	if (lookups() != 1)
		broken("an answer kept for less than dns_min_ttl");
	if (n > 0)
		refresh_after_max_ttl(c, t1, first, n);
	swerve_dnscache_free(c);
	fresh_table();
	return 0;
}
