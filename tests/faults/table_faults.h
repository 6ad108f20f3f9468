/*
 * table_faults: what the shared table's fault cases (test_table_*.c)
 * share: one service with a dead and a live endpoint on fixed loopback
 * addresses of their own, real clients (the faultloop helper) run under the
 * library in the background, the table seen through the library's own
 * code, and a small /dev/shm in a mount namespace of the test's own.
 * Single-threaded, like each test; each test runs in its own process.
 */
#ifndef SWERVE_TABLE_FAULTS_H
#define SWERVE_TABLE_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "table/shm.h"

/* Has f_cleanup() kill <pid> (a client, a lock holder) at the end. */
void f_track(pid_t pid);

/* t_reap() for a tracked process: waits, at most <timeout_s>. */
int f_reap(pid_t pid, double timeout_s);

/*
 * Every case's .fini: kills what it started and is still there, even
 * when an assertion ended the case early, then t_cleanup().
 */
void f_cleanup(void);

/* The service every case dials: svc.faults.test, port 80. */
#define F_HOST "svc.faults.test"

/*
 * Writes the config of a case whose addresses are <prefix>.2 (nothing
 * listens: refused) and <prefix>.3 (the live endpoint), both on port
 * 18080, with <threshold> consecutive failures to eject and <extra> lines
 * added to the service. Returns its path (static storage).
 */
const char *f_config(const char *prefix, unsigned threshold,
		     const char *extra);

/* The row key of endpoint <prefix>.<host> of the service. */
uint64_t f_key(const char *prefix, int host);

/*
 * Starts faultloop against the service under the library, with <config>
 * and table <shm> (NULL: the config's), for <rounds> rounds (0: until
 * SIGTERM), counting into slot <slot> of <counters> (may be NULL); its
 * output goes to <dir>/<tag>.out. Returns its pid once it said "ready".
 */
pid_t f_client(const char *config, const char *shm, int rounds,
	       const char *counters, int slot, const char *tag);

/* The output so far of the client started with <tag>. */
const char *f_output(const char *tag);

/* Stops a client with SIGTERM and returns its exit code (-1: hung). */
int f_stop(pid_t pid);

/* The largest "max_ms" a client printed, or -1. */
double f_max_ms(const char *tag);

/* The number of lines in <text> that contain <needle>. */
int f_count(const char *text, const char *needle);

/* Attaches <shm> with the library's own code, creating it if needed. */
void f_attach(const char *shm, struct swerve_shm *tab);

/* Gives this test process a /dev/shm of <kib> KiB of its own (root). */
void f_private_dev_shm(unsigned kib);

/* Fills the current /dev/shm up to its last page. */
void f_fill_dev_shm(void);

#endif
