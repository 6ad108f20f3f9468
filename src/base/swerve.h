/*
 * swerve.h: the few definitions every module shares: the export marker, array
 * length, limits that size fixed arrays, the monotonic clock and the hash that
 * names rows of the shared table. Nothing here keeps state, so everything is
 * safe from any thread and from signal handlers.
 */
#ifndef SWERVE_H
#define SWERVE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Only hooks.c marks definitions with this; everything else is hidden. */
#define SWERVE_EXPORT __attribute__((visibility("default")))
#define SWERVE_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SWERVE_UNUSED __attribute__((unused))

/*
 * Each service gets this many service addresses. Two, because clients that
 * move on to the next getaddrinfo result after a late failure (blackhole)
 * need a second address that swerve can route elsewhere (docs/design.md 4.4).
 */
#define SWERVE_VIPS_PER_SERVICE 2

/* Bounds of the immutable config; a config beyond them is rejected. */
#define SWERVE_MAX_SERVICES 256
#define SWERVE_MAX_ENDPOINTS 1024 /* per service: stack arrays on connect() */
#define SWERVE_MAX_HOSTS 16       /* names per service */
#define SWERVE_MAX_PORTS 16       /* service ports per service */
#define SWERVE_MAX_PRIORITIES 16  /* priority tiers per service */
/*
 * Addresses kept per endpoint given as a name (resolution = dns): each
 * such endpoint takes this many of its service's SWERVE_MAX_ENDPOINTS, and
 * a larger answer is cut to a subset chosen per host (names/resolver.c).
 */
#define SWERVE_DNS_MAX_ADDRS 16

/*
 * Milliseconds of CLOCK_MONOTONIC. The same clock in every process of a host
 * (outside time namespaces), so deadlines stored in the shared table compare
 * across processes. clock_gettime is async-signal-safe.
 */
static inline uint64_t swerve_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * The same clock as the kernel's last tick saw it (CLOCK_MONOTONIC_COARSE:
 * a few ms behind swerve_now_ms(), never ahead, and a quarter of its cost,
 * with no TSC read). For time stamps that are only ever subtracted from a
 * later swerve_now_ms(), on paths that run per request.
 */
static inline uint64_t swerve_now_coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * FNV-1a, 64 bits, continued from <seed> (pass SWERVE_HASH_SEED to start).
 * Row keys of the shared table are hashes of "service\0endpoint", so the
 * table holds no addresses; 0 is reserved for "empty row".
 */
#define SWERVE_HASH_SEED 0xcbf29ce484222325ull
static inline uint64_t swerve_hash64(const void *data, size_t len,
				     uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed;

	while (len-- > 0) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

#endif
