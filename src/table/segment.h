/*
 * segment: where a host-wide shared segment lives, for every kind of
 * segment swerve shares between the processes of a user: the health
 * table (shm_segment.c) and the TLS session store (sessions.c). Each is a
 * SysV segment of mode 0600 behind a POSIX name, a one-page file in
 * /dev/shm that says which segment it is (docs/design.md 2.2 says why).
 * A kind brings its own magic, layout version, size, initialisation and
 * validation; segment.c does the rest for all of them: the name's file,
 * creation and its races, the owner, mode and size checks, the renewal
 * of a segment that is gone, removal, and the sweep of segments no name
 * leads to any more.
 *
 * Thread-safety: attach and unlink are for one thread at a time per
 * segment (init, tools, the relay thread); kinds are read-only.
 */
#ifndef SWERVE_SEGMENT_H
#define SWERVE_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Names this long or longer are refused (the headers keep the name). */
#define SWERVE_SEGMENT_NAME_MAX 160

struct swerve_segment_kind {
	const char *what;       /* "table", "session store": in messages */
	uint64_t link_magic;    /* of the record in the name's file */
	uint32_t version;       /* layout version, in the record too */
	size_t size;            /* bytes of a segment this build makes */
	size_t min_size;        /* what an attacher accepts */
	size_t max_size;
	/* Fills the zeroed segment at <map>, made by this process for
	 * <name> on the /dev/shm of device <dev>; publishes it last. */
	void (*init)(void *map, uint64_t nonce, uint64_t dev,
		     const char *name);
	/*
	 * Validates the mapped segment of <size> bytes whose record says
	 * <nonce>: 0 with what the caller needs of its shape in <shape>
	 * (read once, here: a header rewritten later must not reach an
	 * index), or -EPROTO with the reason in <err>.
	 */
	int (*check)(const void *map, size_t size, uint64_t nonce,
		     const char *name, uint32_t shape[2], char *err,
		     size_t errlen);
	/*
	 * For the orphan sweep: whether the segment at <map> (of <size>,
	 * read-only) is of this kind and was made on the /dev/shm of
	 * device <dev>; then its name (<len> bytes, terminated) and nonce.
	 */
	bool (*owner)(const void *map, uint64_t dev, char *name, size_t len,
		      uint64_t *nonce);
};

/* A segment attached: its mapping, size, nonce and validated shape. */
struct swerve_segment {
	void *map;
	size_t size;
	uint64_t nonce;
	uint32_t shape[2];
};

/*
 * Attaches the segment of kind <k> that <name> leads to, validated, or
 * with <create> makes it when the name does not exist yet (and renews a
 * segment that is gone behind its name). Returns 0 with <out> filled, or
 * -errno with a reason in <err>: -ENOENT (no such name, and not
 * <create>), -EACCES (another user's), -EPROTO (not one of ours, or
 * damaged), -EAGAIN (its creator never finished), -EINVAL (a bad name).
 * Waits at most about 50 ms, for a creator that is half-way.
 */
int swerve_segment_attach(const struct swerve_segment_kind *k,
			  const char *name, bool create,
			  struct swerve_segment *out, char *err,
			  size_t errlen);

/*
 * Removes the segment <name> leads to and the name, then sweeps this
 * user's segments of kind <k> that no name leads to. 0, -ENOENT (no
 * such name) or another -errno. Processes that have it mapped keep
 * their mapping until they detach.
 */
int swerve_segment_unlink(const struct swerve_segment_kind *k,
			  const char *name);

/* A random non-zero nonce (a segment's, tying it to its record). */
uint64_t swerve_segment_nonce(void);

#endif
