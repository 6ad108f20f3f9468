/*
 * httptrack_memo.c: repeated messages. A keep-alive connection often
 * carries the same bytes again and again: a client's request for the same
 * URL with the same headers, a server's answer to it (which changes only
 * when its Date header does, once a second). When a buffer holds exactly
 * one whole message that starts at a message boundary and leaves the
 * direction at the next one, its effect is remembered with a hash of its
 * bytes; a buffer of the same length and hash, at a boundary again and
 * with the same queue conditions, is given that effect without parsing:
 * for a request, it joins the queue and is complete; for a response, its
 * status is reported and it answers the oldest request. Nothing else can
 * differ: a message that changed the tracker otherwise (a HEAD, a 1xx
 * alone, Connection: close, pipelining, a message cut by the buffer) is
 * never remembered, and only the same state can replay one.
 *
 * The hash is not keyed: the bytes are the endpoint's own, and a server
 * that wanted its 5xx taken for a 200 could send a 200. Each step of it is
 * a bijection of its state, so buffers of the same length that differ in
 * one word taken once never share a hash; otherwise a collision is about
 * a 2^-64 chance. The unit tests check every single-byte change of a
 * response.
 *
 * Thread-safety: none needed; every call works on the tracker it is given.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "policy/httptrack.h"
#include "policy/httptrack_int.h"

/* Whether <m> is at a message boundary: all zero, as message_done leaves
 * it (and init). Word by word: no call for 40 bytes. */
static bool at_boundary(const struct swerve_httptrack_msg *m)
{
	uint64_t w[sizeof(*m) / 8], acc = 0;
	size_t i;

	_Static_assert(sizeof(*m) % 8 == 0, "msg is whole words");
	memcpy(w, m, sizeof(w));
	for (i = 0; i < sizeof(*m) / 8; i++)
		acc |= w[i];
	return acc == 0;
}

/* One step of a lane: a bijection of <h> for each word <w> (xor, an odd
 * multiplier, a rotation). */
static inline uint64_t step(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0xff51afd7ed558ccdull;
	return h << 29 | h >> 35;
}

static inline uint64_t word(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

/*
 * Two lanes over alternate words, so that the multiplications of one do
 * not wait for the other's. The last bytes that fill no word are taken as
 * the buffer's last 8 bytes (they overlap words already taken, which
 * changes nothing but the value), a buffer under 8 bytes byte by byte.
 */
uint64_t swerve_httptrack_memo_hash(const uint8_t *p, size_t n)
{
	uint64_t a = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
	uint64_t b = 0xc4ceb9fe1a85ec53ull, w = 0;
	const uint8_t *end = p + n;
	size_t i;

	if (n < 8) {
		for (i = 0; i < n; i++)
			w = w << 8 | p[i];
		return step(a, w) | 1; /* 0 is "none" */
	}
	for (; end - p >= 16; p += 16) {
		a = step(a, word(p));
		b = step(b, word(p + 8));
	}
	if (end - p >= 8) {
		a = step(a, word(p));
		p += 8;
	}
	if (p < end)
		b = step(b, word(end - 8));
	return (step(a, b) ^ b) | 1; /* 0 is "none" */
}

/* Whether the next request may be remembered or replayed: a boundary,
 * and room in the queue (a full one gives up). */
static bool request_ready(const struct swerve_httptrack *t)
{
	return t->mode == M_TRACK && at_boundary(&t->req) &&
	       t->req_seq - t->rsp_seq < SWERVE_HTTPTRACK_QUEUE;
}

/* Whether the next response may be: a boundary, a request waiting for
 * it, and not a HEAD (whose answer has no body whatever it says). */
static bool response_ready(const struct swerve_httptrack *t)
{
	return t->mode == M_TRACK && at_boundary(&t->rsp) &&
	       t->req_seq != t->rsp_seq &&
	       !(t->head_mask & BIT(t->rsp_seq % SWERVE_HTTPTRACK_QUEUE));
}

bool swerve_httptrack_memo_request(struct swerve_httptrack *t,
				   const uint8_t *p, size_t n, uint64_t now,
				   struct swerve_httptrack_memo *mm)
{
	mm->hash = 0;
	if (!request_ready(t) || n > UINT16_MAX)
		return false;
	mm->hash = swerve_httptrack_memo_hash(p, n);
	mm->seq = t->req_seq;
	mm->done = t->req_done;
	if (mm->hash != t->memo_hash[0] || n != t->memo_len[0])
		return false;
	/* As method_done, then request_done, would have it. */
	t->head_mask &= (uint16_t)~BIT(t->req_seq % SWERVE_HTTPTRACK_QUEUE);
	t->req_seq++;
	if (t->req_done == t->rsp_seq)
		t->wait_from_ms = now;
	t->req_done++;
	return true;
}

void swerve_httptrack_memo_request_note(struct swerve_httptrack *t,
					size_t n, int events,
					const struct swerve_httptrack_memo *mm)
{
	if (mm->hash == 0 || events != 0 || t->mode != M_TRACK ||
	    !at_boundary(&t->req) || t->req_seq != mm->seq + 1 ||
	    t->req_done != mm->done + 1 ||
	    (t->head_mask & BIT(mm->seq % SWERVE_HTTPTRACK_QUEUE)))
		return;
	t->memo_hash[0] = mm->hash;
	t->memo_len[0] = (uint16_t)n;
}

bool swerve_httptrack_memo_response(struct swerve_httptrack *t,
				    const uint8_t *p, size_t n,
				    struct swerve_httptrack_memo *mm)
{
	mm->hash = 0;
	if (!response_ready(t) || n > UINT16_MAX)
		return false;
	mm->hash = swerve_httptrack_memo_hash(p, n);
	mm->seq = t->rsp_seq;
	return mm->hash == t->memo_hash[1] && n == t->memo_len[1];
}

void swerve_httptrack_memo_response_note(struct swerve_httptrack *t,
					 size_t n, int events, int status,
					 const struct swerve_httptrack_memo *mm)
{
	if (mm->hash == 0 || events != 1 || status < 200 ||
	    t->mode != M_TRACK || !at_boundary(&t->rsp) ||
	    t->rsp_seq != mm->seq + 1)
		return;
	t->memo_hash[1] = mm->hash;
	t->memo_len[1] = (uint16_t)n;
	t->memo_status = (uint16_t)status;
}
