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
 *   link mode: the record (struct fuzz_table_link), then
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

#define FUZZ_TABLE_LINK_MODE 3u
#define FUZZ_TABLE_FILE_SHIFT 2 /* 2 bits: enum fuzz_table_file */
#define FUZZ_TABLE_OPS 32
#define FUZZ_TABLE_OP_BYTES 3
/* A real table's size: bigger ones only cost page faults. */
#define FUZZ_TABLE_MAX                                                  \
	(sizeof(struct swerve_shm_header) +                            \
	 SWERVE_SHM_ROWS * sizeof(struct swerve_shm_row) +             \
	 SWERVE_SHM_EVENTS * sizeof(struct swerve_shm_event))

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

/*
 * The record in the file behind a table's name, as shm_segment.c reads it
 * (a copy of its private struct shm_link: keep them the same).
 */
struct fuzz_table_link {
	uint64_t magic;
	uint32_t version;
	uint32_t creator_pid;
	uint64_t created_ms;
	uint64_t nonce;
	uint64_t size;
	int32_t shmid;
	uint32_t pad;
	uint64_t sum;
};

#define FUZZ_TABLE_LINK_MAGIC 0x314b4e4c56525753ull /* "SWRVLNK1" */

#endif
