/*
 * make_seeds: writes the seed inputs of the table and DNS fuzz targets
 * from the real thing (scripts/fuzz-seeds.sh runs it; the config target's
 * seeds are the fixtures themselves).
 *   make_seeds table DIR      tables made and used by swerve's own calls
 *   make_seeds dns PORT FILE  the answers of tests/helpers/dnsd on
 *                             127.0.0.1:PORT for fuzz.test, to the
 *                             queries c-ares sends
 *
 * Table seeds: "fresh" is the first 4 KiB of a table just created by
 * swerve_shm_attach(), with its real size; "used" is a table after real
 * reports, an operator ejection and a panic note, compacted to the rows
 * in use and a few events (its header's row and event counts say so), the
 * only way a table's rows fit an input of a few KiB.
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
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "table/shm.h"

#define SEED_BYTES 4096
#define USED_ROWS 8
#define USED_EVENTS 4

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

static void save_table(const char *dir, const char *name, uint32_t size,
		       const void *bytes, size_t len)
{
	uint8_t le[4] = { (uint8_t)size, (uint8_t)(size >> 8),
			  (uint8_t)(size >> 16), (uint8_t)(size >> 24) };

	save(dir, name, le, sizeof(le), bytes, len);
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
	swerve_shm_eject(tab, svc, rows[3], 30000, now);
	swerve_shm_panic_note(tab, "mydb", 1, now);
	rows[n] = svc;
}

static void table_seeds(const char *dir)
{
	struct swerve_shm tab;
	struct swerve_shm_row *rows[USED_ROWS];
	uint8_t used[sizeof(struct swerve_shm_header) +
		     USED_ROWS * sizeof(struct swerve_shm_row) +
		     USED_EVENTS * sizeof(struct swerve_shm_event)];
	struct swerve_shm_header *hdr = (void *)used;
	char name[64], err[256];
	size_t i;

	snprintf(name, sizeof(name), "/swerve-seeds-%d", (int)getpid());
	if (swerve_shm_attach(name, true, &tab, err, sizeof(err)) != 0) {
		fprintf(stderr, "make_seeds: %s\n", err);
		exit(1);
	}
	swerve_shm_unlink(name);
	save_table(dir, "fresh", (uint32_t)tab.size, tab.hdr, SEED_BYTES);
	use_table(&tab, rows, USED_ROWS - 1);
	memcpy(used, tab.hdr, sizeof(*hdr));
	hdr->nrows = USED_ROWS;
	hdr->nevents = USED_EVENTS;
	for (i = 0; i < USED_ROWS; i++)
		memcpy(used + sizeof(*hdr) + i * sizeof(*rows[i]), rows[i],
		       sizeof(*rows[i]));
	memcpy(used + sizeof(*hdr) + USED_ROWS * sizeof(*rows[0]), tab.events,
	       USED_EVENTS * sizeof(struct swerve_shm_event));
	save_table(dir, "used", (uint32_t)sizeof(used), used, sizeof(used));
	/* The same rows in a table of the real size: lookups probe. */
	save_table(dir, "used-large", (uint32_t)tab.size, used, sizeof(used));
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

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "table") == 0) {
		table_seeds(argv[2]);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "dns") == 0) {
		dns_seed(atoi(argv[2]), argv[3]);
		return 0;
	}
	fprintf(stderr, "usage: make_seeds table DIR | dns PORT FILE\n");
	return 2;
}
