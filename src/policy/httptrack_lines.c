/*
 * httptrack_lines.c: the tracker's fast path. Most lines of an exchange are
 * of one plain kind: a start line "GET /x HTTP/1.1" or "HTTP/1.1 200 OK",
 * then header lines whose name is letters, digits and dashes, of which only
 * Content-Length, Transfer-Encoding and Connection mean anything, and whose
 * values (when they mean something) are one number or one token. Such a
 * line, when all of it is in the buffer, is taken here at once: its few
 * delimiters are found 16 bytes at a time, the names compared by length
 * and as whole words, and the tracker is left exactly as the byte path
 * (httptrack.c) leaves it at the line's LF.
 *
 * Everything else is left to the byte path from the line's first byte:
 * a line cut by the end of the buffer, a list value ("close, upgrade"), a
 * name or token with other token characters, and every line the tracker
 * gives up on (this file never gives up, and never emits but through the
 * byte path's end of a header block). So what it takes, it takes as the
 * byte path would, and what it does not take, the byte path reads as
 * before; the fuzz target checks that feeding whole and byte by byte
 * reports the same.
 *
 * Thread-safety: none needed; every call works on the tracker it is given.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/httptrack.h"
#include "policy/httptrack_int.h"
#include "policy/httptrack_words.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Runs of bytes the fast path skips at once. */
enum span_kind {
	SPAN_WORD,   /* letters, digits and '-': names, methods, tokens
		      * (names with other token characters go the byte
		      * path's way) */
	SPAN_VALUE,  /* anything but CR, LF and NUL */
	SPAN_TARGET, /* a request target: no SP, control or DEL */
};

static inline bool is_stop(uint8_t c)
{
	return c == '\r' || c == '\n' || c == 0;
}

/* What ends a request target: SP, controls and DEL. */
static inline bool is_target_stop(uint8_t c)
{
	return c <= ' ' || c == 0x7f;
}

static inline bool is_digit(uint8_t c)
{
	return (uint8_t)(c - '0') < 10;
}

static inline bool is_word(uint8_t c)
{
	return (uint8_t)((c | 0x20) - 'a') < 26 || (uint8_t)(c - '0') < 10 ||
	       c == '-';
}

#ifdef __SSE2__
/* x86-64: 16 bytes compared at once, one bit per byte from the mask. */
static ALWAYS_INLINE __m128i bytes(uint8_t c)
{
	return _mm_set1_epi8((char)c);
}

/* Bytes of <v> that are at most <max> (unsigned). */
static ALWAYS_INLINE __m128i at_most(__m128i v, uint8_t max)
{
	return _mm_cmpeq_epi8(_mm_min_epu8(v, bytes(max)), v);
}

static ALWAYS_INLINE __m128i load16(const uint8_t *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* The bytes of <v> that are no word bytes. */
static ALWAYS_INLINE unsigned nonword_bits(__m128i v)
{
	__m128i w = _mm_or_si128(
		at_most(_mm_sub_epi8(_mm_or_si128(v, bytes(0x20)), bytes('a')),
			25),
		at_most(_mm_sub_epi8(v, bytes('0')), 9));

	w = _mm_or_si128(w, _mm_cmpeq_epi8(v, bytes('-')));
	return ~(unsigned)_mm_movemask_epi8(w) & 0xffff;
}

static ALWAYS_INLINE unsigned stop_bits(__m128i v)
{
	__m128i s = _mm_or_si128(_mm_cmpeq_epi8(v, bytes('\r')),
				 _mm_cmpeq_epi8(v, bytes('\n')));

	s = _mm_or_si128(s, _mm_cmpeq_epi8(v, _mm_setzero_si128()));
	return (unsigned)_mm_movemask_epi8(s);
}

/* The bytes of <v> that end a span of <kind>. */
static ALWAYS_INLINE unsigned end_bits(enum span_kind kind, __m128i v)
{
	switch (kind) {
	case SPAN_WORD:
		return nonword_bits(v);
	case SPAN_VALUE:
		return stop_bits(v);
	default:
		return (unsigned)_mm_movemask_epi8(_mm_or_si128(
			at_most(v, ' '), _mm_cmpeq_epi8(v, bytes(0x7f))));
	}
}
#endif

/* Whether byte <c> ends a span of <kind>. */
static ALWAYS_INLINE bool ends(enum span_kind kind, uint8_t c)
{
	switch (kind) {
	case SPAN_WORD:
		return !is_word(c);
	case SPAN_VALUE:
		return is_stop(c);
	default:
		return is_target_stop(c);
	}
}

/* How many of the <n> bytes at <p> come before the first that ends a span
 * of <kind>: 16 at a time where SSE2 is, the last few one by one. */
static ALWAYS_INLINE size_t span(const uint8_t *p, size_t n,
				 enum span_kind kind)
{
	size_t i = 0;
#ifdef __SSE2__
	unsigned m;

	for (; n - i >= 16; i += 16) {
		m = end_bits(kind, load16(p + i));
		if (m != 0)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	while (i < n && !ends(kind, p[i]))
		i++;
	return i;
}

/* How many of the <n> bytes at <p> can be a request target's. */
static size_t span_target(const uint8_t *p, size_t n)
{
	return span(p, n, SPAN_TARGET);
}

static inline size_t skip_ows(const uint8_t *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i;
}

/*
 * The line of the <n> bytes at <p> whose content ends at <i> (the first
 * byte that is not the line's): its length with its CRLF or bare LF, or 0
 * when no line end is there (a CR without LF, a NUL, the buffer's end) or
 * the line is longer than the byte path allows.
 */
static inline size_t line_len(const uint8_t *p, size_t n, size_t i)
{
	if (i > SWERVE_HTTPTRACK_MAX_LINE || i >= n)
		return 0;
	if (p[i] == '\n')
		return i + 1;
	if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
		return i + 2;
	return 0;
}

/*
 * True when the <len> word bytes at <p> are <w> (lowercase, 4 to 24
 * bytes) in any case: on letters, digits and '-', setting bit 0x20 is
 * what lower() does, so whole words compare at once.
 */
static bool same_word(const uint8_t *p, size_t len, const char *w)
{
	uint64_t a, b;
	uint32_t c, d;
	size_t i;

	if (len < 8) {
		memcpy(&c, p, 4);
		memcpy(&d, w, 4);
		if ((c | 0x20202020u) != d)
			return false;
		memcpy(&c, p + len - 4, 4);
		memcpy(&d, w + len - 4, 4);
		return (c | 0x20202020u) == d;
	}
	for (i = 0;; i += 8) {
		if (i + 8 > len)
			i = len - 8; /* the last 8, overlapping */
		memcpy(&a, p + i, 8);
		memcpy(&b, w + i, 8);
		if ((a | 0x2020202020202020ull) != b)
			return false;
		if (i + 8 == len)
			return true;
	}
}

/* The header among Content-Length, Transfer-Encoding and Connection whose
 * name is the <len> word bytes at <p>, or W_NONE. */
static enum word header_of(const uint8_t *p, size_t len)
{
	uint8_t c = (uint8_t)(p[0] | 0x20);

	if (len == word_len[W_CLEN] && c == 'c' &&
	    same_word(p, len, words[W_CLEN]))
		return W_CLEN;
	if (len == word_len[W_CONN] && c == 'c' &&
	    same_word(p, len, words[W_CONN]))
		return W_CONN;
	if (len == word_len[W_TE] && c == 't' &&
	    same_word(p, len, words[W_TE]))
		return W_TE;
	return W_NONE;
}

/* The word of <hdr>'s values (chunked; close, keep-alive) that the <len>
 * word bytes at <p> are, or W_NONE. */
static enum word token_of(unsigned hdr, const uint8_t *p, size_t len)
{
	if (hdr == W_TE)
		return len == word_len[W_CHUNKED] &&
				       same_word(p, len, words[W_CHUNKED])
			       ? W_CHUNKED
			       : W_NONE;
	if (len == word_len[W_CLOSE] && same_word(p, len, words[W_CLOSE]))
		return W_CLOSE;
	if (len == word_len[W_KEEPALIVE] &&
	    same_word(p, len, words[W_KEEPALIVE]))
		return W_KEEPALIVE;
	return W_NONE;
}

/*
 * The value of a Content-Length (<hdr> W_CLEN), Transfer-Encoding or
 * Connection header, from <i> in the <n> bytes at <p>, when it is one
 * number (at most 19 digits: the byte path's limit is higher) or one
 * word, between optional white space. Returns the line's length and notes
 * what the value says, or 0, changing nothing, for any other value (a
 * list, a second length that differs, nothing) and leaves it to the byte
 * path.
 */
static size_t known_value(struct swerve_httptrack_msg *m, unsigned hdr,
			  const uint8_t *p, size_t n, size_t i)
{
	uint64_t num = 0;
	size_t from, len;

	i = skip_ows(p, n, i);
	from = i;
	if (hdr == W_CLEN)
		for (; i < n && is_digit(p[i]) && i - from < 19; i++)
			num = num * 10 + (uint64_t)(p[i] - '0');
	else
		i += span(p + i, n - i, SPAN_WORD);
	len = line_len(p, n, skip_ows(p, n, i));
	if (i == from || len == 0)
		return 0;
	if (hdr != W_CLEN) {
		token_flags(m, hdr, token_of(hdr, p + from, i - from));
	} else if ((m->flags & F_CLEN) && m->clen != num) {
		return 0; /* the byte path gives up */
	} else {
		m->clen = num;
		m->flags |= F_CLEN;
	}
	return len;
}

/*
 * The header lines at the start of the <n> bytes at <p>, up to the empty
 * line that ends the block (taken too: the byte path's line end reads what
 * the block said), or up to a line it does not take. Returns how many
 * bytes they were. The parser stays at the start of a header line
 * throughout: a header line changes only what the block says.
 */
static size_t header_lines(struct feed *f, const uint8_t *p, size_t n)
{
	struct swerve_httptrack_msg *m = f->m;
	size_t s = 0, k, len, r;
	const uint8_t *q;
	enum word hdr;

	for (;; s += len) {
		q = p + s;
		r = n - s;
		if (r == 0)
			return s;
		if (q[0] == '\n' || (q[0] == '\r' && r > 1 && q[1] == '\n')) {
			swerve_httptrack_end_head(f);
			return s + (q[0] == '\n' ? 1 : 2);
		}
		k = span(q, r, SPAN_WORD);
		if (k == 0 || k >= r || q[k] != ':')
			return s;
		hdr = header_of(q, k);
		if (hdr == W_NONE)
			len = line_len(q, r,
				       k + 1 + span(q + k + 1, r - k - 1,
						    SPAN_VALUE));
		else
			len = known_value(m, hdr, q, r, k + 1);
		if (len == 0)
			return s;
	}
}

/* "HTTP/1.x" at <p>, <n> bytes at least 8: the minor digit, or -1. */
static int version_at(const uint8_t *p)
{
	return memcmp(p, "HTTP/1.", 7) == 0 && is_digit(p[7]) ? p[7] - '0'
							     : -1;
}

/* "HTTP/1.x ddd[ reason]": the final or interim status of the oldest
 * request waiting. */
static size_t status_line(struct feed *f, const uint8_t *p, size_t n)
{
	struct swerve_httptrack *t = f->t;
	struct swerve_httptrack_msg *m = f->m;
	size_t len, i = 12;
	int minor;

	if (n < 13 || t->req_seq == t->rsp_seq)
		return 0;
	minor = version_at(p);
	if (minor < 0 || p[8] != ' ' || p[9] == '0' || !is_digit(p[9]) ||
	    !is_digit(p[10]) || !is_digit(p[11]))
		return 0;
	if (p[12] == ' ')
		i = 13 + span(p + 13, n - 13, SPAN_VALUE);
	len = line_len(p, n, i);
	if (len == 0)
		return 0;
	m->status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 +
			       (p[11] - '0'));
	if (minor == 0)
		m->flags |= F_HTTP10;
	header_line_start(m);
	line_done(m);
	return len;
}

/* "METHOD target HTTP/1.x": a request joins the queue. CONNECT, a full
 * queue and HTTP/0.9 are the byte path's to give up on. */
static size_t request_line(struct feed *f, const uint8_t *p, size_t n)
{
	struct swerve_httptrack *t = f->t;
	struct swerve_httptrack_msg *m = f->m;
	size_t k, v, len;
	int minor;

	k = span(p, n, SPAN_WORD);
	if (k == 0 || k > MAX_METHOD || k >= n || p[k] != ' ' ||
	    (k == word_len[W_CONNECT] && memcmp(p, words[W_CONNECT], k) == 0) ||
	    t->req_seq - t->rsp_seq >= SWERVE_HTTPTRACK_QUEUE)
		return 0;
	v = k + 1 + span_target(p + k + 1, n - k - 1);
	if (v == k + 1 || n - v < 9 || p[v] != ' ')
		return 0;
	minor = version_at(p + v + 1);
	len = minor >= 0 ? line_len(p, n, v + 9) : 0;
	if (len == 0)
		return 0;
	request_queued(t, k == word_len[W_HEAD] &&
				  memcmp(p, words[W_HEAD], k) == 0);
	if (minor == 0)
		m->flags |= F_HTTP10;
	header_line_start(m);
	line_done(m);
	return len;
}

size_t swerve_httptrack_take_lines(struct feed *f, const uint8_t *p,
				   size_t n)
{
	struct swerve_httptrack_msg *m = f->m;
	size_t k, done = 0;

	while (done < n && f->t->mode == M_TRACK) {
		if (m->state == S_NAME)
			k = header_lines(f, p + done, n - done);
		else if (m->state != S_START)
			break;
		else if (f->rsp)
			k = status_line(f, p + done, n - done);
		else
			k = request_line(f, p + done, n - done);
		if (k == 0)
			break;
		done += k;
	}
	return done;
}
