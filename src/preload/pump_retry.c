/*
 * pump_retry.c: Istio's retries on the connections the pump relays for a
 * protocol = http service (retries, retry_on, retriable_status_codes). It
 * decides; pump_conn.c moves the bytes and changes the endpoint.
 *
 * What is kept. Each request the application writes is copied as it goes
 * out to the endpoint, from its first byte (the HTTP tracker says where
 * requests begin and end), up to SWERVE_PUMP_KEEP_MAX bytes: a larger one
 * is not kept and never sent again. Only a request that the application
 * wrote when the exchange was idle (every earlier response read in full)
 * is kept, so a kept request is never behind another one. A request whose
 * method is not idempotent (POST, PATCH...) is dropped as soon as its
 * method is known.
 *
 * What is held. When the first bytes of the kept request's response
 * arrive, the request written in full and nothing written after it, the
 * relay holds them back from the application (in its own 16 KiB buffer:
 * no copy) until the tracker has read the response's header block. Then
 * either the status is one retry_on names and a retry is left, and the
 * held bytes are dropped and the request sent again, or they all go to the
 * application, which never knows. A header block that does not fit the
 * buffer, or a response the tracker cannot follow, is passed on, and its
 * request is not retried. The endpoint ending the connection before the
 * header block is a reset, retried the same way. Outlier detection has
 * seen the status or the reset either way: retrying changes nothing there.
 *
 * Thread-safety: only the pump thread touches a connection.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/retry.h"
#include "preload/pump_retry.h"

/* The first size of the copy, and what it may keep between requests. */
#define KEEP_FIRST 4096
#define KEEP_IDLE 16384

void swerve_pump_retry_note(struct swerve_pump_seen *seen,
			    const struct swerve_httptrack_event *ev,
			    unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (ev[i].kind == SWERVE_HTTPTRACK_STATUS) {
			seen->status = ev[i].status;
			seen->status_req = ev[i].request;
		} else if (ev[i].kind == SWERVE_HTTPTRACK_RESET) {
			seen->reset = true;
			seen->reset_req = ev[i].request;
		}
	}
}

/* Appends <n> bytes to the copy: false when it would grow too large (or
 * memory runs out). */
static bool keep(struct swerve_pump_retry *r, const void *buf, size_t n)
{
	uint32_t cap = r->cap != 0 ? r->cap : KEEP_FIRST;
	unsigned char *p;

	if (n > SWERVE_PUMP_KEEP_MAX - r->len)
		return false;
	while (cap < r->len + n)
		cap *= 2;
	if (cap > SWERVE_PUMP_KEEP_MAX)
		cap = SWERVE_PUMP_KEEP_MAX;
	if (cap != r->cap) {
		p = realloc(r->buf, cap);
		if (p == NULL)
			return false;
		r->buf = p;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, buf, n);
	r->len += (uint32_t)n;
	return true;
}

/* A request begins with the bytes being written; <pos>: before them. */
static void keep_begin(struct swerve_pump_retry *r,
		       const struct swerve_httptrack_pos *pos)
{
	r->keeping = true;
	r->len = 0;
	r->used = 0;
	r->behind = false;
	r->seq = pos->started;
	/* Behind a response still coming (the application pipelines): a
	 * retry could not be told from that response. */
	r->spoiled = !pos->active || pos->answered != pos->started ||
		     !pos->rsp_between;
}

bool swerve_pump_retry_sent(struct swerve_pump_retry *r,
			    const struct swerve_service *svc,
			    const struct swerve_httptrack *t, const void *buf,
			    size_t n)
{
	struct swerve_httptrack_pos pos;
	bool later = false;

	if (svc->retry.attempts == 0 || r->resending)
		return false;
	if (r->holding) {
		/* Written behind the held request: it stays where it is. */
		r->behind = true;
		return false;
	}
	swerve_httptrack_where(t, &pos);
	if (pos.req_between) {
		later = r->requests++ > 0;
		keep_begin(r, &pos);
	}
	if (!r->keeping || r->spoiled)
		return later;
	/* A POST is known by its first bytes, usually: not copied at all. */
	if ((r->len == 0 &&
	     swerve_retry_method(buf, n) == SWERVE_RETRY_METHOD_NOT) ||
	    !keep(r, buf, n) ||
	    swerve_retry_method(r->buf, r->len) == SWERVE_RETRY_METHOD_NOT)
		r->spoiled = true;
	return later;
}

size_t swerve_pump_retry_resend(const struct swerve_pump_retry *r,
				const unsigned char **buf)
{
	if (!r->resending)
		return 0;
	*buf = r->buf + r->resent;
	return r->len - r->resent;
}

void swerve_pump_retry_resent(struct swerve_pump_retry *r, size_t n)
{
	r->resent += (uint32_t)n;
	if (r->resent >= r->len)
		r->resending = false;
}

/* Whether the kept request, tracked as <pos> says, may be sent again:
 * written in full with nothing after it, idempotent, a retry left. */
static bool retriable(const struct swerve_pump_retry *r,
		      const struct swerve_service *svc,
		      const struct swerve_httptrack_pos *pos, uint32_t ulen)
{
	return r->keeping && !r->spoiled && !r->behind && !r->resending &&
	       ulen == 0 && r->used < svc->retry.attempts &&
	       pos->started == r->seq + 1 && pos->written == r->seq + 1 &&
	       pos->req_between &&
	       swerve_retry_method(r->buf, r->len) ==
		       SWERVE_RETRY_METHOD_IDEMPOTENT;
}

void swerve_pump_retry_response(struct swerve_pump_retry *r,
				const struct swerve_service *svc,
				const struct swerve_httptrack *t,
				uint32_t dlen, uint32_t ulen)
{
	struct swerve_httptrack_pos pos;
	const uint32_t any = SWERVE_RETRY_ON_RESET | SWERVE_RETRY_ON_5XX |
			     SWERVE_RETRY_ON_GATEWAY_ERROR |
			     SWERVE_RETRY_ON_RETRIABLE_4XX |
			     SWERVE_RETRY_ON_STATUS_CODES;

	if (!r->keeping || r->spoiled || r->holding)
		return;
	swerve_httptrack_where(t, &pos);
	/* Nothing of an earlier response may still wait to go: the held
	 * bytes are then the whole of the buffer. */
	if (dlen == 0 && pos.active && pos.answered == r->seq &&
	    pos.rsp_between && (svc->retry.on & any) &&
	    retriable(r, svc, &pos, ulen))
		r->holding = true;
	else
		r->spoiled = true; /* its response goes on as it comes */
}

enum swerve_pump_verdict swerve_pump_retry_judge(
	struct swerve_pump_retry *r, const struct swerve_service *svc,
	const struct swerve_httptrack *t, const struct swerve_pump_seen *seen,
	uint32_t ulen, bool full)
{
	struct swerve_httptrack_pos pos;
	bool status, reset;

	if (!r->keeping || (r->spoiled && !r->holding))
		return SWERVE_PUMP_GO_ON;
	swerve_httptrack_where(t, &pos);
	status = seen->status != 0 && seen->status_req == r->seq;
	reset = seen->reset && seen->reset_req == r->seq;
	if (status || reset) {
		if (retriable(r, svc, &pos, ulen) &&
		    (status ? swerve_retry_on_status(&svc->retry, seen->status)
			    : swerve_retry_on_reset(&svc->retry)))
			return SWERVE_PUMP_RETRY;
		swerve_pump_retry_pass(r);
		return SWERVE_PUMP_PASS;
	}
	if (r->holding &&
	    (full || !pos.active || !retriable(r, svc, &pos, ulen))) {
		swerve_pump_retry_pass(r);
		return SWERVE_PUMP_PASS;
	}
	return SWERVE_PUMP_GO_ON;
}

void swerve_pump_retry_pass(struct swerve_pump_retry *r)
{
	r->holding = false;
	r->spoiled = true;
	/* A large copy is not worth keeping between requests. */
	if (r->cap > KEEP_IDLE) {
		free(r->buf);
		r->buf = NULL;
		r->cap = r->len = 0;
	}
}

void swerve_pump_retry_begin(struct swerve_pump_retry *r)
{
	r->used++;
	r->resending = r->len > 0;
	r->resent = 0;
	r->seq = 0;
	r->holding = false;
	r->behind = false;
}

void swerve_pump_retry_free(struct swerve_pump_retry *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}
