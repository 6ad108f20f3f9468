/*
 * make_seeds: writes the seed inputs of the table and DNS fuzz targets
 * from the real thing (scripts/fuzz-seeds.sh runs it; the config target's
 * seeds are the fixtures themselves).
 *   make_seeds table DIR      tables made and used by swerve's own calls
 *   make_seeds sessions DIR   TLS session stores made and used by
 *                             swerve's own calls
 *   make_seeds dns PORT FILE  the answers of tests/helpers/dnsd on
 *                             127.0.0.1:PORT for fuzz.test, to the
 *                             queries c-ares sends
 *
 * Table seeds follow fuzz_table.c's input format (table_input.h): a
 * table made by swerve_shm_attach() and used by swerve's own calls,
 * compacted to the rows in use and a few events (its header's row and
 * event counts say so; the only way a table's rows fit an input of a few
 * KiB), each with operations of every kind for after attach:
 *   fresh         the first 4 KiB of a table just created, its real size
 *   used          the used table, its own size
 *   used-large    the same bytes in a segment of the real size
 *   link-*        the same behind the name file's real record (link
 *                 mode): as it is, of an older layout version, naming a
 *                 segment that is gone, and in name files of each size
 *                 the format offers
 *   regress-lock-held  the used table with every row's lock word held by
 *                 a holder long gone (what hung hosts before the bounded
 *                 lock), reported on
 *
 * Session store seeds follow fuzz_sessions.c's input format
 * (sessions_input.h): a store made by swerve_sessions_attach() holding
 * three sessions of one set, its header and those slots, with operations
 * of every kind: as it is in a segment of the real size (store), in a
 * segment only as large as those bytes (store-short), with a session's
 * byte written over (store-damaged), and fresh (store-fresh).
 *
 * DNS seeds follow fuzz_dns.c's input format: two bytes (big endian) for
 * the length of the answer to the A query, that answer, then the answer to
 * the AAAA query. Each answer is what dnsd sent to a query shaped like
 * c-ares' (recursion desired, EDNS0 with a 1232-byte payload).
 *
 * Thread-safety: a plain single-threaded program.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sessions_input.h"
#include "table/shm.h"
#include "table_input.h"

#define SEED_BYTES 4096
#define USED_ROWS 8
#define USED_EVENTS 4
#define USED_BYTES FUZZ_TABLE_BYTES(USED_ROWS, USED_EVENTS)

/* A held lock word of a holder long gone: token, then a stamp (ms). */
#define LOCK_HELD_LONG_AGO 0x5eed5eed00000001ull

/*
 * The operations every table seed carries (table_input.h): kind | row << 3,
 * then two arguments. Outcomes of all seven kinds (HTTP statuses 503 and
 * 200: 100 + ((a / 7) << 8 | b) % 500), a snapshot, an operator ejection,
 * un-ejection and reset, a row claimed for a name, panic entered and left,
 * and time passing (60 s, 300 s) with the check.
 */
static const uint8_t seed_ops[][FUZZ_TABLE_OP_BYTES] = {
	{ 0 << 3 | FUZZ_OP_REPORT, SWERVE_OUTCOME_CONNECT_FAILED, 0 },
	{ 1 << 3 | FUZZ_OP_REPORT, SWERVE_OUTCOME_CONNECT_OK, 0 },
	{ 2 << 3 | FUZZ_OP_REPORT, SWERVE_OUTCOME_CONNECT_TIMEOUT, 0 },
	{ 2 << 3 | FUZZ_OP_REPORT, 7 + SWERVE_OUTCOME_HTTP_STATUS, 147 },
	{ 2 << 3 | FUZZ_OP_REPORT, 7 + SWERVE_OUTCOME_HTTP_STATUS, 147 },
	{ 3 << 3 | FUZZ_OP_REPORT, SWERVE_OUTCOME_HTTP_CONNECT_OK, 0 },
	{ 4 << 3 | FUZZ_OP_REPORT, SWERVE_OUTCOME_HTTP_RESET, 0 },
	{ 4 << 3 | FUZZ_OP_REPORT, SWERVE_OUTCOME_HTTP_TIMEOUT, 0 },
	{ 5 << 3 | FUZZ_OP_REPORT, SWERVE_OUTCOME_HTTP_STATUS, 100 },
	{ 1 << 3 | FUZZ_OP_SNAPSHOT, 0, 0 },
	{ 5 << 3 | FUZZ_OP_EJECT, 0, 30 },
	{ 5 << 3 | FUZZ_OP_UNEJECT, 0, 0 },
	{ 6 << 3 | FUZZ_OP_RESET, 0, 0 },
	{ FUZZ_OP_NAMED, 0, 9 },
	{ FUZZ_OP_PANIC, 1, 0 },
	{ FUZZ_OP_LATER, 0x02, 0x58 },
	{ 2 << 3 | FUZZ_OP_SNAPSHOT, 0, 0 },
	{ FUZZ_OP_PANIC, 0, 0 },
	{ FUZZ_OP_LATER, 0x0b, 0xb8 },
};

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void save(const char *dir, const char *name, const void *a,
		 size_t alen, const void *b, size_t blen)
{
	char path[512];
	FILE *f;

	if (dir != NULL)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(a, 1, alen, f) != alen ||
	    (blen > 0 && fwrite(b, 1, blen, f) != blen) || fclose(f) != 0)
		die(path);
}

/* Writes a table input: <link> NULL for the segment case. */
static void save_input(const char *dir, const char *name, uint8_t flags,
		       size_t seg_size, const struct test_link *link,
		       const void *bytes, size_t len)
{
	uint8_t head[6 + sizeof(seed_ops) + sizeof(*link)];
	uint32_t v = (uint32_t)(seg_size - 1); /* size = 1 + v % max */
	size_t n = 0;

	head[n++] = flags;
	head[n++] = (uint8_t)v;
	head[n++] = (uint8_t)(v >> 8);
	head[n++] = (uint8_t)(v >> 16);
	head[n++] = (uint8_t)(v >> 24);
	head[n++] = (uint8_t)(sizeof(seed_ops) / sizeof(seed_ops[0]));
	memcpy(head + n, seed_ops, sizeof(seed_ops));
	n += sizeof(seed_ops);
	if (link != NULL) {
		memcpy(head + n, link, sizeof(*link));
		n += sizeof(*link);
	}
	save(dir, name, head, n, bytes, len);
}

/* Outcomes, an ejection and a panic, as the library and swervectl make. */
static void use_table(struct swerve_shm *tab, struct swerve_shm_row **rows,
		      size_t n)
{
	struct swerve_outlier_cfg cfg = {
		.enabled = true, .consecutive_5xx = 2, .interval_ms = 15000,
		.base_ejection_ms = 60000, .max_ejection_ms = 300000,
		.max_ejection_percent = 100, .min_ejectable_hosts = 1,
	};
	struct swerve_shm_row *svc = swerve_shm_row(
		tab, swerve_shm_service_key("mydb"), true);
	uint64_t now = swerve_now_ms();
	char text[32];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "127.0.0.%zu:18080", i + 2);
		rows[i] = swerve_shm_row(
			tab, swerve_shm_endpoint_key("mydb", text), true);
	}
	for (i = 0; i < 3; i++)
		swerve_shm_report(tab, svc, rows, n, 0, &cfg,
				  SWERVE_OUTCOME_CONNECT_FAILED, 0, now + i);
	swerve_shm_report(tab, svc, rows, n, 1, &cfg,
			  SWERVE_OUTCOME_CONNECT_OK, 0, now);
	swerve_shm_report(tab, svc, rows, n, 2, &cfg,
			  SWERVE_OUTCOME_HTTP_STATUS, 503, now);
	swerve_shm_report(tab, svc, rows, n, 4, &cfg,
			  SWERVE_OUTCOME_HTTP_RESET, 0, now);
	swerve_shm_report(tab, svc, rows, n, 5, &cfg,
			  SWERVE_OUTCOME_HTTP_TIMEOUT, 0, now);
	swerve_shm_eject(tab, svc, rows[3], 30000, now);
	swerve_shm_panic_note(tab, "mydb", 1, now);
	rows[n] = svc;
}

/* The record in the file behind the name <name>. */
static void read_record(const char *name, struct test_link *link)
{
	int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);

	if (fd == -1 || pread(fd, link, sizeof(*link), 0) !=
			(ssize_t)sizeof(*link))
		die("make_seeds: the table's record");
	close(fd);
}

/* The used table behind its record, in each form link mode offers. */
static void link_seeds(const char *dir, const struct test_link *real,
		       const uint8_t *used)
{
	static const struct {
		const char *name;
		uint8_t flags;
	} files[] = {
		{ "link-used", FUZZ_FILE_PAGE },
		{ "link-file-record", FUZZ_FILE_RECORD },
		{ "link-file-short", FUZZ_FILE_SHORT },
		{ "link-file-large", FUZZ_FILE_LARGE },
	};
	struct test_link l = *real;
	size_t i;

	l.size = USED_BYTES;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		save_input(dir, files[i].name,
			   FUZZ_TABLE_LINK_MODE |
				   files[i].flags << FUZZ_TABLE_FILE_SHIFT,
			   USED_BYTES, &l, used, USED_BYTES);
	l.version = SWERVE_SHM_VERSION - 1;
	save_input(dir, "link-old-version", FUZZ_TABLE_LINK_MODE, USED_BYTES,
		   &l, used, USED_BYTES);
	l.version = SWERVE_SHM_VERSION;
	l.shmid = -1;
	save_input(dir, "link-gone", FUZZ_TABLE_LINK_MODE, USED_BYTES, &l,
		   used, USED_BYTES);
}

/* The used table compacted to its rows in use and a few events. */
static void compact(const struct swerve_shm *tab,
		    struct swerve_shm_row *const *rows, uint8_t *used)
{
	struct swerve_shm_header *hdr = (void *)used;
	size_t i;

	memcpy(used, tab->hdr, sizeof(*hdr));
	hdr->nrows = USED_ROWS;
	hdr->nevents = USED_EVENTS;
	for (i = 0; i < USED_ROWS; i++)
		memcpy(used + sizeof(*hdr) + i * sizeof(*rows[i]), rows[i],
		       sizeof(*rows[i]));
	memcpy(used + sizeof(*hdr) + USED_ROWS * sizeof(*rows[0]), tab->events,
	       USED_EVENTS * sizeof(struct swerve_shm_event));
}

static void table_seeds(const char *dir)
{
	struct swerve_shm tab;
	struct swerve_shm_row *rows[USED_ROWS], *held;
	struct test_link link;
	uint8_t used[USED_BYTES];
	char name[64], err[256];
	size_t i;

	snprintf(name, sizeof(name), "/swerve-seeds-%d", (int)getpid());
	if (swerve_shm_attach(name, true, &tab, err, sizeof(err)) != 0) {
		fprintf(stderr, "make_seeds: %s\n", err);
		exit(1);
	}
	read_record(name, &link);
	swerve_shm_unlink(name);
	save_input(dir, "fresh", 0, tab.size, NULL, tab.hdr, SEED_BYTES);
	use_table(&tab, rows, USED_ROWS - 1);
	compact(&tab, rows, used);
	save_input(dir, "used", 0, sizeof(used), NULL, used, sizeof(used));
	/* The same rows in a segment of the real size. */
	save_input(dir, "used-large", 0, tab.size, NULL, used, sizeof(used));
	link_seeds(dir, &link, used);
	for (i = 0; i < USED_ROWS; i++) {
		held = (void *)(used + sizeof(struct swerve_shm_header) +
				i * sizeof(*held));
		atomic_store(&held->lock, LOCK_HELD_LONG_AGO);
	}
	save_input(dir, "regress-lock-held", 0, sizeof(used), NULL, used,
		   sizeof(used));
	swerve_shm_detach(&tab);
}

/* A query as c-ares 1.18 sends it: RD, one question, an EDNS0 OPT. */
static size_t make_query(uint8_t *q, uint16_t id, const char *name,
			 uint16_t type)
{
	static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };
	size_t n = 12, len;
	const char *dot;

	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01;
	q[5] = 1;
	q[11] = 1;
	while (*name != '\0') {
		dot = strchr(name, '.');
		len = dot != NULL ? (size_t)(dot - name) : strlen(name);
		q[n++] = (uint8_t)len;
		memcpy(q + n, name, len);
		n += len;
		name += len + (dot != NULL);
	}
	q[n++] = 0;
	q[n++] = 0;
	q[n++] = (uint8_t)type;
	q[n++] = 0;
	q[n++] = 1;
	memcpy(q + n, opt, sizeof(opt));
	return n + sizeof(opt);
}

static size_t ask(int fd, const char *name, uint16_t type, uint8_t *ans,
		  size_t cap)
{
	uint8_t q[512];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t qlen = make_query(q, (uint16_t)(0x1234 + type), name, type);
	ssize_t got;

	if (send(fd, q, qlen, 0) != (ssize_t)qlen)
		die("make_seeds: send");
	if (poll(&p, 1, 2000) != 1)
		die("make_seeds: no answer from dnsd");
	got = recv(fd, ans, cap, 0);
	if (got <= 0)
		die("make_seeds: recv");
	return (size_t)got;
}

static void dns_seed(int port, const char *file)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	uint8_t a[4096], aaaa[4096], both[2 + sizeof(a)];
	size_t alen, aaaalen;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || connect(fd, (void *)&sin, sizeof(sin)) == -1)
		die("make_seeds: socket");
	/* fuzz_dns.c's endpoint name. */
	alen = ask(fd, "fuzz.test", 1, a, sizeof(a));
	aaaalen = ask(fd, "fuzz.test", 28, aaaa, sizeof(aaaa));
	close(fd);
	both[0] = (uint8_t)(alen >> 8);
	both[1] = (uint8_t)alen;
	memcpy(both + 2, a, alen);
	save(NULL, file, both, alen + 2, aaaa, aaaalen);
}

/* Lookups (one with other settings), a store, drops, and time. */
static const uint8_t store_ops[][FUZZ_SESSIONS_OP_BYTES] = {
	{ 0 << 2 | FUZZ_SESSIONS_GET, 0, 0, 0 },
	{ 1 << 2 | FUZZ_SESSIONS_GET, 0, 0, 1 },
	{ 2 << 2 | FUZZ_SESSIONS_PUT, 1, 200, 7 },
	{ 2 << 2 | FUZZ_SESSIONS_GET, 0, 0, 0 },
	{ 1 << 2 | FUZZ_SESSIONS_DROP, 0, 0, 0 },
	{ FUZZ_SESSIONS_LATER, 2, 0, 0 },
	{ 0 << 2 | FUZZ_SESSIONS_GET, 0, 0, 0 },
	{ 0 << 2 | FUZZ_SESSIONS_DROP, 1, 0, 0 },
	{ 0 << 2 | FUZZ_SESSIONS_PUT, 0, 90, 3 },
};

/* Writes a store input: the segment of <seg_size> bytes begins <bytes>. */
static void save_store(const char *dir, const char *name, size_t seg_size,
		       const void *bytes, size_t len)
{
	uint8_t head[5 + sizeof(store_ops)];
	uint32_t v = (uint32_t)(seg_size - 1); /* size = 1 + v % max */

	head[0] = (uint8_t)v;
	head[1] = (uint8_t)(v >> 8);
	head[2] = (uint8_t)(v >> 16);
	head[3] = (uint8_t)(v >> 24);
	head[4] = (uint8_t)(sizeof(store_ops) / sizeof(store_ops[0]));
	memcpy(head + 5, store_ops, sizeof(store_ops));
	save(dir, name, head, sizeof(head), bytes, len);
}

static void session_seeds(const char *dir)
{
	enum { USED = 3 };
	size_t image = sizeof(struct swerve_sessions_header) +
		       USED * sizeof(struct swerve_session_slot);
	const uint64_t nsets = SWERVE_SESSIONS_SLOTS / SWERVE_SESSIONS_WAYS;
	static uint8_t blob[SWERVE_SESSIONS_BLOB_MAX];
	struct swerve_session_key k = { .group = 5, .verify = 9 };
	struct swerve_sessions st;
	char name[64], err[256];
	uint8_t *copy;
	unsigned i;

	snprintf(name, sizeof(name), "/swerve-seeds-%d.tls", (int)getpid());
	swerve_sessions_unlink(name);
	if (swerve_sessions_attach(name, true, &st, err, sizeof(err)) != 0)
		die(err);
	save_store(dir, "store-fresh", FUZZ_SESSIONS_MAX, st.hdr,
		   sizeof(*st.hdr));
	/* Three sessions of set 0 (its slots come first), of the sizes
	 * OpenSSL's are: a ticket, a certificate, a large one. */
	for (i = 0; i < USED; i++) {
		k.h1 = nsets * (i + 1);
		k.h2 = 0xc0ffee + i;
		memset(blob, 0x30 + (int)i, sizeof(blob));
		if (swerve_sessions_put(&st, &k, FUZZ_SESSIONS_NOW + 3600,
					FUZZ_SESSIONS_NOW, blob,
					200 + 1400 * i) != 0)
			die("make_seeds: a session");
	}
	copy = malloc(image);
	if (copy == NULL)
		die("make_seeds: memory");
	memcpy(copy, st.hdr, image);
	save_store(dir, "store", FUZZ_SESSIONS_MAX, copy, image);
	save_store(dir, "store-short", image, copy, image);
	copy[sizeof(struct swerve_sessions_header) +
	     offsetof(struct swerve_session_slot, blob) + 100] ^= 0x5a;
	save_store(dir, "store-damaged", FUZZ_SESSIONS_MAX, copy, image);
	free(copy);
	swerve_sessions_detach(&st);
	swerve_sessions_unlink(name);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "table") == 0) {
		table_seeds(argv[2]);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "sessions") == 0) {
		session_seeds(argv[2]);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "dns") == 0) {
		dns_seed(atoi(argv[2]), argv[3]);
		return 0;
	}
	fprintf(stderr, "usage: make_seeds table DIR | sessions DIR | dns PORT FILE\n");
	return 2;
}
