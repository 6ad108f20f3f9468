/*
 * test_httptrack_support: runs a scripted exchange (bytes written, bytes
 * read, end of connection) through an HTTP tracker in chunks of a given
 * size and renders the events as text, for the httptrack tests.
 */
#ifndef TEST_HTTPTRACK_SUPPORT_H
#define TEST_HTTPTRACK_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "policy/httptrack.h"

/* One step: 'W' bytes written, 'R' bytes read, 'E' end of connection. */
struct ht_step {
	char op;
	const char *data;
	size_t len;
};

/* Literal data, NULs included. */
#define HT_W(s) { 'W', s, sizeof(s) - 1 }
#define HT_R(s) { 'R', s, sizeof(s) - 1 }
#define HT_EOF { 'E', NULL, 0 }

#define HT_MAX_STEPS 12
#define HT_TEXT 512

/*
 * Runs <steps> (up to an op of 0 or HT_MAX_STEPS) through a fresh tracker
 * <t>, each step's bytes in pieces of <chunk> bytes (0: whole), each piece
 * copied to a buffer of exactly its size so that a sanitized build catches
 * any read outside it. The clock advances by one ms per step. Renders the
 * events into <out>: "200 503 reset gave-up:upgrade".
 */
void ht_run(const struct ht_step *steps, size_t chunk,
	    struct swerve_httptrack *t, char *out, size_t outlen);

/* Feeds one step's worth of bytes to <t> the same way; appends to <out>. */
void ht_feed(struct swerve_httptrack *t, char op, const void *data,
	     size_t len, size_t chunk, uint64_t now_ms, char *out,
	     size_t outlen);

/* The text of one event, as ht_run renders it. */
void ht_event_text(const struct swerve_httptrack_event *ev, char *out,
		   size_t outlen);

#endif
