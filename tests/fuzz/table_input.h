/*
 * table_input.h: the input format of the table fuzz target (fuzz_table.c),
 * which the seed writer (make_seeds.c) writes too.
 *
 *   byte 0     flags: FUZZ_TABLE_LINK_MODE (both low bits set: the name
 *              file's record comes from the input, else the harness
 *              writes a valid one); in link mode, FUZZ_TABLE_FILE_SHIFT
 *              picks the name file's size
 *   bytes 1-4  the segment's size, little endian: 1 + value % FUZZ_TABLE_MAX
 *   byte 5     the number of operations (% (FUZZ_TABLE_OPS + 1)), each
 *              FUZZ_TABLE_OP_BYTES bytes, that follow
 *   link mode: the record (struct test_link of the unit tests' support,
 *              which spells out shm_segment.c's file format), then
 *   the segment's first bytes; the rest of it reads as zeroes.
 *
 * An operation is kind (op[0] & 7) on row op[0] >> 3 of those the table
 * holds, with arguments op[1] and op[2]: see fuzz_table.c.
 *
 * Thread-safety: definitions only.
 */
#ifndef SWERVE_FUZZ_TABLE_INPUT_H
#define SWERVE_FUZZ_TABLE_INPUT_H

#include <stdint.h>

#include "table/shm.h"
#include "../unit/test_shm_support.h"

#define FUZZ_TABLE_LINK_MODE 3u
#define FUZZ_TABLE_FILE_SHIFT 2 /* 2 bits: enum fuzz_table_file */
#define FUZZ_TABLE_OPS 32
#define FUZZ_TABLE_OP_BYTES 3
/* Bytes of a table of <rows> rows and <events> events. */
#define FUZZ_TABLE_BYTES(rows, events)                                  \
	(sizeof(struct swerve_shm_header) +                            \
	 (rows) * sizeof(struct swerve_shm_row) +                      \
	 (events) * sizeof(struct swerve_shm_event))
/* A real table's size: bigger ones only cost page faults. */
#define FUZZ_TABLE_MAX FUZZ_TABLE_BYTES(SWERVE_SHM_ROWS, SWERVE_SHM_EVENTS)

enum fuzz_table_file {
	FUZZ_FILE_PAGE = 0,   /* one page, as swerve makes it */
	FUZZ_FILE_RECORD = 1, /* just the record */
	FUZZ_FILE_SHORT = 2,  /* one byte short of the record */
	FUZZ_FILE_LARGE = 3,  /* one byte over a page */
};

enum fuzz_table_op {
	FUZZ_OP_REPORT = 0,
	FUZZ_OP_SNAPSHOT = 1,
	FUZZ_OP_EJECT = 2,
	FUZZ_OP_UNEJECT = 3,
	FUZZ_OP_RESET = 4,
	FUZZ_OP_NAMED = 5,
	FUZZ_OP_PANIC = 6,
	FUZZ_OP_LATER = 7, /* time passes; the table is checked */
};

#endif
