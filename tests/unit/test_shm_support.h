/*
 * What the unit tests of the shared table share: see test_shm_support.c.
 * Single-threaded, like each test.
 */
#ifndef SWERVE_TEST_SHM_SUPPORT_H
#define SWERVE_TEST_SHM_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "table/shm.h"

#define NOW 1000000u /* any fixed time: the clock is a parameter */

/* A fresh table name, "/swerve-test-<pid>-<n>" (up to 8 per test). */
const char *new_name(void);

/* Removes every table new_name() gave out, and the TLS session store
 * named after each: the tests' .fini. */
void unlink_names(void);

/*
 * The record in the file behind a table's name, as shm_segment.c writes
 * it: a file format, spelled out again here so that a test can write one
 * the way a foreign or broken program would.
 */
#define TEST_LINK_MAGIC 0x314b4e4c56525753ull /* "SWRVLNK1" */
struct test_link {
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

/* A header as a sound table of the default size has it. */
struct swerve_shm_header good_header(void);

/* The bytes of a table of the default size. */
size_t full_size(void);

/* The pid of a process that existed and is gone. */
pid_t dead_pid(void);

/* Sends stderr to a fresh file until captured(); returns the file. */
int capture_stderr(int *saved);

/* Puts stderr back and copies what was written meanwhile into <buf>. */
void captured(int fd, int saved, char *buf, size_t len);

/* The checksum the record carries. */
uint64_t link_sum(const struct test_link *l);

/* Writes <len> bytes as the file of a new name <name> (mode 0600). */
void write_link(const char *name, const void *bytes, size_t len);

/* The record of table <name>. */
struct test_link read_link(const char *name);

/*
 * A SysV segment of <size> bytes holding <hdr> (NULL: zeros) and rows
 * with their tags, and a complete record for it under <name>; returns its
 * id.
 */
int make_table(const char *name, size_t size,
	       const struct swerve_shm_header *hdr);

/* Envoy's defaults (5 failures in a row eject for 30 s, interval 10 s)
 * with a cap that lets every endpoint go. */
struct swerve_outlier_cfg test_cfg(void);

/* One refused connect to <row>, events into <tab> (may be NULL). */
enum swerve_outlier_event fail_in(struct swerve_shm *tab,
				  struct swerve_shm_row *row,
				  const struct swerve_outlier_cfg *c,
				  uint64_t now);

/* fail_in() without events. */
enum swerve_outlier_event fail_once(struct swerve_shm_row *row,
				    const struct swerve_outlier_cfg *c,
				    uint64_t now);

#endif
