/*
 * httptrack_int.h: what the two halves of the HTTP/1.x tracker share, and
 * nothing else includes. httptrack.c follows an exchange byte by byte and
 * owns the interface (httptrack.h); httptrack_lines.c takes the common
 * lines whole, and leaves every other line to the byte path. Both leave a
 * tracker in the same state after a line, so that where a line ends up
 * never changes what the tracker reports.
 *
 * The functions below have external linkage only so that the two files can
 * call each other: the build hides every symbol that is not exported
 * (-fvisibility=hidden), so none of them leaves libswerve.so.
 *
 * Thread-safety: as httptrack.h; every call works on the tracker it is
 * given.
 */
#ifndef SWERVE_HTTPTRACK_INT_H
#define SWERVE_HTTPTRACK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/httptrack.h"
#include "policy/httptrack_words.h"

enum mode { M_TRACK = 0, M_DONE = 1, M_GAVE_UP = 2 };

/* Where a direction's parser is. S_BODY and S_CHUNK_DATA skip in bulk. */
enum state {
	S_START = 0,    /* before a start line */
	S_FIRST,        /* in the start line (phase says where) */
	S_NAME,         /* at or in a header name */
	S_VALUE,        /* in a header value */
	S_BODY,         /* Content-Length bytes */
	S_CHUNK_SIZE,   /* the hex size of a chunk */
	S_CHUNK_EXT,    /* chunk extensions, up to the end of the line */
	S_CHUNK_DATA,   /* chunk bytes */
	S_CHUNK_END,    /* the line end after chunk data */
	S_TRAILER,      /* at the start of a trailer line */
	S_TRAILER_LINE, /* in a trailer line */
};

/* Phases of a start line (requests, then responses). */
enum { P_METHOD = 0, P_TARGET = 1, P_VERSION = 2 };
enum { P_RVERSION = 0, P_STATUS = 1, P_REASON = 2 };

/* Phases of a list value: before, in and after an element. */
enum { V_PRE = 0, V_IN = 1, V_POST = 2 };

/* What a header block said (msg.flags). */
#define F_CLEN 0x01      /* a Content-Length */
#define F_TE 0x02        /* a Transfer-Encoding */
#define F_CHUNKED 0x04   /* ... whose last coding is chunked */
#define F_CLOSE 0x08     /* Connection: close */
#define F_KEEPALIVE 0x10 /* Connection: keep-alive */
#define F_HTTP10 0x20    /* an HTTP/1.0 start line */

/* The current line (msg.lflags). */
#define L_CR 0x01    /* a CR that must be followed by LF */
#define L_TOKEN 0x02 /* a list value had an element */

/* Longer than any method in use; a longer first word is not HTTP. */
#define MAX_METHOD 32

/* One call's context: the tracker, the direction, the clock, the sink. */
struct feed {
	struct swerve_httptrack *t;
	struct swerve_httptrack_msg *m;
	bool rsp;
	uint64_t now;
	swerve_httptrack_emit_fn *emit;
	void *arg;
	int events;
	int status;     /* of the last STATUS event */
};

/* The parser at the start of a header line (after a start or header
 * line). */
static inline void header_line_start(struct swerve_httptrack_msg *m)
{
	m->state = S_NAME;
	m->phase = 0;
	m->pos = 0;
	m->mask = HEADER_WORDS;
	m->hdr = W_NONE;
	m->num = 0;
}

/* A line ended after the line <m> was in (m->line bytes, no CR waiting):
 * what the byte path does at its LF. */
static inline void line_done(struct swerve_httptrack_msg *m)
{
	m->line = 0;
	m->lflags = 0;
}

/* A request's method is written: its slot in the queue says whether it
 * is a HEAD, and it waits for its response from now on. The caller has
 * checked that the queue has room. */
static inline void request_queued(struct swerve_httptrack *t, bool head)
{
	uint16_t slot = BIT(t->req_seq % SWERVE_HTTPTRACK_QUEUE);

	if (head)
		t->head_mask |= slot;
	else
		t->head_mask &= (uint16_t)~slot;
	t->req_seq++;
}

/* What the last token of a Transfer-Encoding (<hdr> W_TE) or of a
 * Connection header, <w> (a word or W_NONE), says. */
static inline void token_flags(struct swerve_httptrack_msg *m, unsigned hdr,
			       enum word w)
{
	if (hdr == W_TE) {
		/* Only the last coding of the last line counts. */
		m->flags |= F_TE;
		if (w == W_CHUNKED)
			m->flags |= F_CHUNKED;
		else
			m->flags &= (uint8_t)~F_CHUNKED;
	} else if (w == W_CLOSE) {
		m->flags |= F_CLOSE;
	} else if (w == W_KEEPALIVE) {
		m->flags |= F_KEEPALIVE;
	}
}

/* httptrack.c: the byte path's line end (a LF, after a CR or not), for
 * the empty line that ends a header block. */
void swerve_httptrack_end_line(struct feed *f);

/* httptrack.c: the same for the empty line of a header block, the parser
 * being at the start of a header line (S_NAME, pos 0, line and lflags 0,
 * as the fast path keeps them). */
void swerve_httptrack_end_head(struct feed *f);

/*
 * httptrack_lines.c: takes the whole lines at the start of the <n> bytes
 * at <p> while they are start and header lines of the common kind, and
 * returns how many bytes they were: 0 when the first line is not one it
 * takes (incomplete, odd, or to be given up on), which the byte path then
 * reads. The caller is at the start of a line (m->line and m->lflags 0).
 */
size_t swerve_httptrack_take_lines(struct feed *f, const uint8_t *p,
				   size_t n);

/* httptrack_memo.c: a message seen before (see that file). What a call
 * noted before feeding, for the note after it. */
struct swerve_httptrack_memo {
	uint64_t hash;  /* 0: this buffer is not to be remembered */
	uint32_t seq;   /* req_seq or rsp_seq before */
	uint32_t done;  /* req_done before */
};

/* The hash of the <n> bytes at <p> (never 0). */
uint64_t swerve_httptrack_memo_hash(const uint8_t *p, size_t n);
/*
 * Before a write of <n> bytes at <p>: true when they are the remembered
 * request, whose effect is then applied (at <now>); else <mm> holds what
 * the note after the feed needs.
 */
bool swerve_httptrack_memo_request(struct swerve_httptrack *t,
				   const uint8_t *p, size_t n, uint64_t now,
				   struct swerve_httptrack_memo *mm);
/* After feeding them, which made <events>: remembers them when they were
 * one whole request. */
void swerve_httptrack_memo_request_note(struct swerve_httptrack *t,
					size_t n, int events,
					const struct swerve_httptrack_memo *mm);
/*
 * Before a read: true when the bytes are the remembered response, which
 * the caller then reports (t->memo_status) as response_head_end would;
 * else <mm> as above.
 */
bool swerve_httptrack_memo_response(struct swerve_httptrack *t,
				    const uint8_t *p, size_t n,
				    struct swerve_httptrack_memo *mm);
/* After feeding them: remembers them when they were one whole response
 * with final <status>, and nothing else. */
void swerve_httptrack_memo_response_note(
	struct swerve_httptrack *t, size_t n, int events, int status,
	const struct swerve_httptrack_memo *mm);

#endif
