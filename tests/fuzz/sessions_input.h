/*
 * sessions_input.h: the input format of the session store's fuzz target
 * (fuzz_sessions.c), which the seed writer (make_seeds.c) writes too.
 *
 *   bytes 0-3  the segment's size, little endian:
 *              1 + value % FUZZ_SESSIONS_MAX
 *   byte 4     the number of operations (% (FUZZ_SESSIONS_OPS + 1)),
 *              each FUZZ_SESSIONS_OP_BYTES bytes, that follow
 *   the segment's first bytes (header, then slots); the rest of it reads
 *   as zeroes.
 *
 * An operation is kind op[0] & 3 on the (op[0] >> 2)th key that the
 * input's first slots hold (a key made of op[1..3] when they hold none),
 * with arguments op[1], op[2] and op[3]: see fuzz_sessions.c.
 *
 * Thread-safety: definitions only.
 */
#ifndef SWERVE_FUZZ_SESSIONS_INPUT_H
#define SWERVE_FUZZ_SESSIONS_INPUT_H

#include <stdint.h>

#include "table/sessions.h"

/* The name file's record magic of a store (sessions.c's). */
#define FUZZ_SESSIONS_LINK_MAGIC 0x324b4e4c56525753ull /* "SWRVLNK2" */
#define FUZZ_SESSIONS_OPS 32
#define FUZZ_SESSIONS_OP_BYTES 4
/* A real store's size. */
#define FUZZ_SESSIONS_MAX                                               \
	(sizeof(struct swerve_sessions_header) +                        \
	 (size_t)SWERVE_SESSIONS_SLOTS * sizeof(struct swerve_session_slot))
/* The wall clock of every input, in seconds. */
#define FUZZ_SESSIONS_NOW 1700000000

enum fuzz_sessions_op {
	FUZZ_SESSIONS_GET = 0,
	FUZZ_SESSIONS_PUT = 1,   /* 1 + (op[1] << 8 | op[2]) bytes */
	FUZZ_SESSIONS_DROP = 2,  /* op[1] odd: every session; else the key's
				  * group */
	FUZZ_SESSIONS_LATER = 3, /* op[1] hours pass */
};

#endif
