/*
 * pump_retry.h: the retries of one relayed connection (pump_retry.c owns
 * them; pump_conn.c moves the bytes and changes endpoints). Only the pump
 * thread calls these.
 */
#ifndef SWERVE_PUMP_RETRY_H
#define SWERVE_PUMP_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"
#include "policy/httptrack.h"

/* The largest request kept to be sent again; a larger one is not. */
#define SWERVE_PUMP_KEEP_MAX 65536

/*
 * Per connection; a zeroed struct keeps nothing. The request being kept
 * is the last one the application began, from its first byte.
 */
struct swerve_pump_retry {
	unsigned char *buf;     /* its bytes (malloc), NULL: none */
	uint32_t len, cap;
	uint32_t resent;        /* of them, written to the new endpoint */
	uint32_t seq;           /* the tracker's count of requests before it */
	uint32_t requests;      /* requests begun on the connection */
	uint32_t used;          /* retries spent on it */
	bool keeping;           /* buf holds it from its first byte */
	bool spoiled;           /* it will not be sent again */
	bool behind;            /* the application wrote more after it */
	bool holding;           /* its response's first bytes wait, unsent */
	bool resending;         /* buf goes to the new endpoint first */
};

/* What one feed of the tracker found (pump_conn.c's observe()). */
struct swerve_pump_seen {
	int status;             /* a final response's status, 0: none */
	uint32_t status_req;    /* the request it answers */
	bool reset;             /* the connection ended before a response */
	uint32_t reset_req;     /* the request left unanswered */
};

enum swerve_pump_verdict {
	SWERVE_PUMP_GO_ON = 0,  /* nothing decided */
	SWERVE_PUMP_PASS = 1,   /* what is held goes to the application */
	SWERVE_PUMP_RETRY = 2,  /* the kept request goes to another
				 * endpoint, if one is left */
};

/* Adds the tracker's events <ev>[0..n-1] to <seen>. */
void swerve_pump_retry_note(struct swerve_pump_seen *seen,
			    const struct swerve_httptrack_event *ev,
			    unsigned n);

/*
 * <n> bytes <buf> of the application's were just written to the endpoint,
 * and are about to be fed to the tracker <t>: kept while they belong to a
 * request that may be sent again. True when they begin a request after
 * the connection's first: the endpoints tried for the previous one no
 * longer count (Envoy's previous_hosts is per request).
 */
bool swerve_pump_retry_sent(struct swerve_pump_retry *r,
			    const struct swerve_service *svc,
			    const struct swerve_httptrack *t, const void *buf,
			    size_t n);

/* While resending: the kept bytes not written yet (<*buf>); else 0. */
size_t swerve_pump_retry_resend(const struct swerve_pump_retry *r,
				const unsigned char **buf);
/* <n> of them were written. */
void swerve_pump_retry_resent(struct swerve_pump_retry *r, size_t n);

/*
 * Bytes of a response were just read, and are about to be fed to <t>;
 * <dlen> bytes wait before them for the application, <ulen> bytes of the
 * application's wait to go out. Sets r->holding when they start the
 * response of a request that may be sent again, so that nothing of that
 * response reaches the application before its status is known.
 */
void swerve_pump_retry_response(struct swerve_pump_retry *r,
				const struct swerve_service *svc,
				const struct swerve_httptrack *t,
				uint32_t dlen, uint32_t ulen);

/*
 * After a feed of the tracker <t> that found <seen>: what becomes of the
 * kept request. <full>: the held bytes fill the buffer.
 */
enum swerve_pump_verdict swerve_pump_retry_judge(
	struct swerve_pump_retry *r, const struct swerve_service *svc,
	const struct swerve_httptrack *t, const struct swerve_pump_seen *seen,
	uint32_t ulen, bool full);

/* Nothing is held any more, and the request will not be sent again. */
void swerve_pump_retry_pass(struct swerve_pump_retry *r);
/* A retry begins: the kept request is to be written again from its start
 * to a fresh tracker. */
void swerve_pump_retry_begin(struct swerve_pump_retry *r);
/* The connection ends. */
void swerve_pump_retry_free(struct swerve_pump_retry *r);

#endif
