/*
 * metrics: the host's table in the Prometheus text exposition format
 * (version 0.0.4), read from the same view model as `swervectl endpoints`
 * (view.h), so that a dashboard and the endpoints listing cannot disagree.
 * Every series is listed, with its type and labels, in the README
 * (Metrics).
 *
 * Thread-safety: swervectl is single-threaded; nothing here locks.
 */
#ifndef SWERVE_METRICS_H
#define SWERVE_METRICS_H

#include <stdbool.h>
#include <stdio.h>

#include "tools/swervectl/view.h"

/* One reading of the table: every service as the library routes it. */
struct metrics {
	struct view v;
	struct svc_view **svcs;   /* one per service of v.cfg */
	unsigned nsvcs;
};

/* The Content-Type of what metrics_write() writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Loads the config at <path> and reads every service over the shared
 * table, now. 0, or -1 with the error printed; metrics_free() in both
 * cases.
 */
int metrics_read(struct metrics *m, const char *path);
void metrics_free(struct metrics *m);

/* Writes every family of <m> to <out>, each with its HELP and TYPE. */
void metrics_write(const struct metrics *m, FILE *out);

/*
 * Serves the metrics of the config at <config> on GET /metrics over
 * HTTP/1.1 at <listen> ("PORT" or ":PORT": 127.0.0.1; "ADDR:PORT";
 * "[V6]:PORT"), reading the table anew for each scrape, until SIGTERM or
 * SIGINT. An address that is not loopback is refused unless
 * <allow_remote>. Returns the exit code (cli.h).
 */
int metrics_serve(const char *listen, bool allow_remote, const char *config);

#endif
