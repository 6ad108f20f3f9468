/*
 * subset.c: this host's subset of a large answer (subset.h says how and
 * why).
 *
 * Thread-safety: no state; the host seed reads /etc/machine-id.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "base/libc.h"
#include "base/swerve.h"
#include "names/subset.h"

uint64_t swerve_subset_host_seed(void)
{
	char id[64];
	struct utsname u;
	uint64_t h = SWERVE_HASH_SEED;
	ssize_t n = -1;
	int fd;

	fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd != -1) {
		n = swerve_libc_read(fd, id, sizeof(id));
		swerve_libc_close(fd);
	}
	if (n > 0)
		h = swerve_hash64(id, (size_t)n, h);
	if (uname(&u) == 0)
		h = swerve_hash64(u.nodename, strlen(u.nodename), h);
	return h;
}

/* An address of an answer with its score for this host. */
struct scored {
	uint64_t score;
	size_t at;              /* index in the sorted answer */
};

static int by_score_desc(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return (x->at > y->at) - (x->at < y->at);
}

/* The rendezvous score of <ss> for the host <seed>. */
static uint64_t score_of(const struct sockaddr_storage *ss, uint64_t seed)
{
	const struct sockaddr_in *sin = (const void *)ss;
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	uint64_t h = swerve_hash64(&seed, sizeof(seed), SWERVE_HASH_SEED);

	if (ss->ss_family == AF_INET)
		h = swerve_hash64(&sin->sin_addr, 4, h);
	else
		h = swerve_hash64(&sin6->sin6_addr, 16, h);
	/* FNV's last bytes mix weakly into the high bits: finish them. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

size_t swerve_subset_ipv4_places(size_t n4, size_t n6, size_t max)
{
	size_t k4 = (max * n4 + (n4 + n6) / 2) / (n4 + n6);

	if (n4 > 0 && k4 == 0)
		k4 = 1;
	if (n6 > 0 && k4 == max && max > 1)
		k4 = max - 1;
	if (k4 > n4)
		k4 = n4;
	if (max - k4 > n6)
		k4 = max - n6;
	return k4;
}

int swerve_subset_keep(const struct sockaddr_storage *all, size_t n,
		       struct sockaddr_storage *out, size_t max,
		       uint64_t seed)
{
	struct scored *sc;
	size_t n4 = 0, k4, i, kept = 0;

	while (n4 < n && all[n4].ss_family == AF_INET)
		n4++;
	k4 = swerve_subset_ipv4_places(n4, n - n4, max);
	sc = calloc(n, sizeof(*sc));
	if (sc == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		sc[i].score = score_of(&all[i], seed);
		sc[i].at = i;
	}
	/* The IPv4 run comes first in <all>, then the IPv6 one. */
	qsort(sc, n4, sizeof(*sc), by_score_desc);
	qsort(sc + n4, n - n4, sizeof(*sc), by_score_desc);
	for (i = 0; i < k4; i++)
		out[kept++] = all[sc[i].at];
	for (i = 0; i < max - k4; i++)
		out[kept++] = all[sc[n4 + i].at];
	free(sc);
	return (int)kept;
}
