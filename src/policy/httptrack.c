/*
 * httptrack.c: the HTTP/1.x exchange of one connection, followed byte by
 * byte (see httptrack.h for the events and what they mean).
 *
 * Each direction has the same message parser (struct swerve_httptrack_msg):
 * a start line, header lines, then a body framed by Content-Length or by
 * chunked encoding. Lines are never buffered: the few things that matter
 * are recognised as the bytes go by (the method, the status, the names
 * Content-Length, Transfer-Encoding and Connection and the tokens in their
 * values), so a line costs a counter whatever its length, and body bytes
 * are skipped in bulk. The two directions meet in a queue of the requests
 * written and not yet answered: a request joins it when its method has been
 * written, so that the response knows whether it answers a HEAD, and
 * leaves it when the header block of its final response has been read.
 * The queue is sequence numbers and a bit per slot (HEAD or not).
 *
 * This is the byte path, which defines what the tracker does. A line that
 * is whole in the buffer and of the common kind is first offered to the
 * fast path (httptrack_lines.c), which leaves the tracker as this file
 * would at the line's end; a line it does not take is read here.
 *
 * Choices where the framing is ambiguous, after RFC 9112, Envoy and nginx:
 * - Bare LF ends a line as CRLF does (curl and nginx accept it); a CR
 *   that is not followed by LF is garbage. Empty lines before a start line
 *   are skipped (RFC 9112 2.2: some clients send CRLF after a POST body).
 * - Folded header lines (obs-fold), a space before the colon, a line
 *   without a colon, a NUL and a line over SWERVE_HTTPTRACK_MAX_LINE give
 *   up, as Envoy rejects them; nothing is guessed.
 * - Content-Length: repeated (as headers or as a list) with equal values
 *   is that value; different values, an empty element or anything but
 *   digits give up (RFC 9112 6.3 item 5).
 * - Transfer-Encoding wins over Content-Length (6.3 item 3). A request
 *   whose last coding is not chunked gives up (servers answer 400 or 501).
 *   A response whose last coding is not chunked runs to EOF, as RFC 9112
 *   says and clients do; Envoy and nginx refuse such a response, but the
 *   application reads it, and its status is real, so it is reported and
 *   the connection is left there. An empty Transfer-Encoding gives up.
 * - No body after a response to HEAD, a 1xx, 204 or 304, whatever its
 *   headers say. 1xx other than 101 are interim: the request still waits
 *   for its final response. 101 is reported (Envoy hands it to outlier
 *   detection as a final status) and then the tracker gives up.
 * - A response that ends the connection (Connection: close, HTTP/1.0
 *   without keep-alive, a body to EOF) is reported and stops tracking.
 * - CONNECT gives up when it is written; a request line that is not
 *   "method SP target SP HTTP/1.x" gives up (HTTP/2's preface gives up as
 *   a version); a response with no request pending gives up (a server that
 *   speaks first is not HTTP).
 *
 * Thread-safety: none needed; every call works on the tracker it is given.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "policy/httptrack.h"
#include "policy/httptrack_int.h"
#include "policy/httptrack_words.h"

static void count_up(uint8_t *pos)
{
	if (*pos < UINT8_MAX)
		(*pos)++;
}

static void emit(struct feed *f, enum swerve_httptrack_kind kind, int status,
		 enum swerve_httptrack_why why)
{
	struct swerve_httptrack_event ev;

	ev.kind = kind;
	ev.status = status;
	ev.why = why;
	ev.request = f->t->rsp_seq;
	if (kind == SWERVE_HTTPTRACK_STATUS)
		f->status = status;
	if (f->emit != NULL)
		f->emit(f->arg, &ev);
	f->events++;
}

static void give_up(struct feed *f, enum swerve_httptrack_why why)
{
	f->t->mode = M_GAVE_UP;
	emit(f, SWERVE_HTTPTRACK_GAVE_UP, 0, why);
}

/*
 * A request was completely written. If it is the oldest one waiting, its
 * response time starts now (Envoy's timer starts at the end of the request).
 */
static void request_done(struct feed *f)
{
	struct swerve_httptrack *t = f->t;

	if (t->req_done == t->rsp_seq)
		t->wait_from_ms = f->now;
	t->req_done++;
}

static void message_done(struct feed *f)
{
	if (!f->rsp)
		request_done(f);
	memset(f->m, 0, sizeof(*f->m));
}

static void body_chunked(struct swerve_httptrack_msg *m)
{
	m->state = S_CHUNK_SIZE;
	m->num = 0;
	m->pos = 0;
}

/* The first byte of a start line. */
static void message_start(struct feed *f)
{
	struct swerve_httptrack *t = f->t;
	struct swerve_httptrack_msg *m = f->m;

	if (f->rsp && t->req_seq == t->rsp_seq) {
		give_up(f, SWERVE_HTTPTRACK_WHY_UNSOLICITED);
		return;
	}
	m->state = S_FIRST;
	m->phase = 0;
	m->pos = 0;
	m->mask = f->rsp ? 0 : METHOD_WORDS;
}

/* The method is written: the request joins the queue. */
static void method_done(struct feed *f)
{
	struct swerve_httptrack *t = f->t;
	struct swerve_httptrack_msg *m = f->m;
	enum word w = matched(m->mask, m->pos);

	if (w == W_CONNECT) {
		give_up(f, SWERVE_HTTPTRACK_WHY_CONNECT);
		return;
	}
	if (t->req_seq - t->rsp_seq >= SWERVE_HTTPTRACK_QUEUE) {
		give_up(f, SWERVE_HTTPTRACK_WHY_PIPELINE);
		return;
	}
	request_queued(t, w == W_HEAD);
	m->phase = P_TARGET;
	m->pos = 0;
}

/*
 * "HTTP/1.x", one byte at a time, in both directions. A mismatch after
 * "HTTP/" is another version (HTTP/2.0, HTTP/2), before it garbage.
 */
static void version_byte(struct feed *f, uint8_t c)
{
	static const char prefix[] = "HTTP/1.";
	struct swerve_httptrack_msg *m = f->m;

	if (m->pos < sizeof(prefix) - 1) {
		if (c != (uint8_t)prefix[m->pos]) {
			give_up(f, m->pos >= 5 ? SWERVE_HTTPTRACK_WHY_VERSION
					       : SWERVE_HTTPTRACK_WHY_GARBAGE);
			return;
		}
	} else if (m->pos == sizeof(prefix) - 1 && c >= '0' && c <= '9') {
		if (c == '0')
			m->flags |= F_HTTP10;
	} else {
		give_up(f, SWERVE_HTTPTRACK_WHY_GARBAGE);
		return;
	}
	m->pos++;
}

/* "method SP target SP HTTP/1.x", the line end excepted. */
static void request_line_byte(struct feed *f, uint8_t c)
{
	struct swerve_httptrack_msg *m = f->m;

	switch (m->phase) {
	case P_METHOD:
		if (c == ' ' && m->pos > 0) {
			method_done(f);
		} else if (!is_tchar(c) || m->pos >= MAX_METHOD) {
			give_up(f, SWERVE_HTTPTRACK_WHY_GARBAGE);
		} else {
			m->mask = narrow(m->mask, m->pos, c);
			m->pos++;
		}
		return;
	case P_TARGET:
		if (c == ' ' && m->pos > 0) {
			m->phase = P_VERSION;
			m->pos = 0;
		} else if (c <= ' ' || c == 0x7f) {
			give_up(f, SWERVE_HTTPTRACK_WHY_GARBAGE);
		} else {
			m->pos = 1;
		}
		return;
	default:
		version_byte(f, c);
		return;
	}
}

/* "HTTP/1.x SP 3DIGIT [SP reason]", the line end excepted. */
static void status_line_byte(struct feed *f, uint8_t c)
{
	struct swerve_httptrack_msg *m = f->m;

	switch (m->phase) {
	case P_RVERSION:
		if (m->pos == 8 && c == ' ') {
			m->phase = P_STATUS;
			m->pos = 0;
			m->status = 0;
		} else {
			version_byte(f, c);
		}
		return;
	case P_STATUS:
		if (m->pos == 3 && c == ' ')
			m->phase = P_REASON;
		else if (m->pos == 3 || c < '0' || c > '9' ||
			 (m->pos == 0 && c == '0'))
			give_up(f, SWERVE_HTTPTRACK_WHY_GARBAGE);
		else {
			m->status = (uint16_t)(m->status * 10 + (c - '0'));
			m->pos++;
		}
		return;
	default:
		return; /* the reason phrase means nothing */
	}
}

static void start_line_end(struct feed *f)
{
	struct swerve_httptrack_msg *m = f->m;
	bool ok;

	if (f->rsp) {
		ok = (m->phase == P_STATUS && m->pos == 3) ||
		     m->phase == P_REASON;
	} else if (m->phase == P_TARGET) {
		/* "GET /": HTTP/0.9, whose response has no status line. */
		give_up(f, SWERVE_HTTPTRACK_WHY_VERSION);
		return;
	} else {
		ok = m->phase == P_VERSION && m->pos == 8;
	}
	if (!ok) {
		give_up(f, SWERVE_HTTPTRACK_WHY_GARBAGE);
		return;
	}
	header_line_start(m);
}

static void name_byte(struct feed *f, uint8_t c)
{
	struct swerve_httptrack_msg *m = f->m;

	if (c == ':' && m->pos > 0) {
		m->hdr = (uint8_t)matched(m->mask, m->pos);
		m->state = S_VALUE;
		m->phase = V_PRE;
		m->pos = 0;
		m->num = 0;
		return;
	}
	if (m->pos == 0 && (c == ' ' || c == '\t')) {
		give_up(f, SWERVE_HTTPTRACK_WHY_OBS_FOLD);
		return;
	}
	if (!is_tchar(c)) {
		give_up(f, SWERVE_HTTPTRACK_WHY_GARBAGE);
		return;
	}
	m->mask = narrow(m->mask, m->pos, lower(c));
	count_up(&m->pos);
}

/* One element of a Content-Length list is complete in m->num. */
static void length_element(struct feed *f)
{
	struct swerve_httptrack_msg *m = f->m;

	if ((m->flags & F_CLEN) && m->clen != m->num) {
		give_up(f, SWERVE_HTTPTRACK_WHY_LENGTH);
		return;
	}
	m->clen = m->num;
	m->flags |= F_CLEN;
	m->num = 0;
}

static void length_byte(struct feed *f, uint8_t c)
{
	struct swerve_httptrack_msg *m = f->m;

	if (c == ' ' || c == '\t') {
		if (m->phase == V_IN)
			m->phase = V_POST;
	} else if (c == ',' && m->phase != V_PRE) {
		length_element(f);
		m->phase = V_PRE;
	} else if (c >= '0' && c <= '9' && m->phase != V_POST &&
		   m->num <= (UINT64_MAX - 9) / 10) {
		m->num = m->num * 10 + (uint64_t)(c - '0');
		m->phase = V_IN;
	} else {
		give_up(f, SWERVE_HTTPTRACK_WHY_LENGTH);
	}
}

/* A token of Transfer-Encoding or Connection ends. */
static void token_end(struct swerve_httptrack_msg *m)
{
	token_flags(m, m->hdr, matched(m->mask, m->pos));
}

/*
 * A comma-separated list of tokens; what follows a token up to the next
 * comma (parameters, junk) is skipped, and a token that starts with a
 * non-token byte matches nothing.
 */
static void token_byte(struct swerve_httptrack_msg *m, uint8_t c)
{
	if (c == ',') {
		if (m->phase == V_IN)
			token_end(m);
		m->phase = V_PRE;
		return;
	}
	if (m->phase == V_POST)
		return;
	if (m->phase == V_PRE) {
		if (c == ' ' || c == '\t')
			return;
		m->phase = V_IN;
		m->pos = 0;
		m->lflags |= L_TOKEN;
		m->mask = m->hdr == W_TE ? BIT(W_CHUNKED)
					 : (BIT(W_CLOSE) | BIT(W_KEEPALIVE));
	}
	if (!is_tchar(c)) {
		token_end(m);
		m->phase = V_POST;
		return;
	}
	m->mask = narrow(m->mask, m->pos, lower(c));
	count_up(&m->pos);
}

static void value_byte(struct feed *f, uint8_t c)
{
	switch (f->m->hdr) {
	case W_CLEN:
		length_byte(f, c);
		break;
	case W_TE:
	case W_CONN:
		token_byte(f->m, c);
		break;
	default:
		break;
	}
}

static void value_end(struct feed *f)
{
	struct swerve_httptrack_msg *m = f->m;

	switch (m->hdr) {
	case W_CLEN:
		if (m->phase == V_PRE)
			give_up(f, SWERVE_HTTPTRACK_WHY_LENGTH);
		else
			length_element(f);
		break;
	case W_TE:
		if (m->phase == V_IN)
			token_end(m);
		if (!(m->lflags & L_TOKEN))
			give_up(f, SWERVE_HTTPTRACK_WHY_CODING);
		break;
	case W_CONN:
		if (m->phase == V_IN)
			token_end(m);
		break;
	default:
		break;
	}
	header_line_start(m);
}

static void request_head_end(struct feed *f)
{
	struct swerve_httptrack_msg *m = f->m;

	if (m->flags & F_TE) {
		if (m->flags & F_CHUNKED)
			body_chunked(m);
		else
			give_up(f, SWERVE_HTTPTRACK_WHY_CODING);
	} else if ((m->flags & F_CLEN) && m->clen > 0) {
		m->state = S_BODY;
		m->remain = m->clen;
	} else {
		message_done(f);
	}
}

/*
 * The header block of a response is complete: an interim 1xx leaves its
 * request waiting; a final one answers the oldest request, is reported,
 * and frames its body (RFC 9112 6.3).
 */
static void response_head_end(struct feed *f)
{
	struct swerve_httptrack *t = f->t;
	struct swerve_httptrack_msg *m = f->m;
	unsigned status = m->status;
	bool head, close, chunked = false;

	if (status < 200 && status != 101) {
		memset(m, 0, sizeof(*m));
		return;
	}
	head = t->head_mask & BIT(t->rsp_seq % SWERVE_HTTPTRACK_QUEUE);
	emit(f, SWERVE_HTTPTRACK_STATUS, (int)status,
	     SWERVE_HTTPTRACK_WHY_NONE);
	t->rsp_seq++;
	if (status == 101) {
		give_up(f, SWERVE_HTTPTRACK_WHY_UPGRADE);
		return;
	}
	/* The next request, if written already, waits from now on. */
	if ((int32_t)(t->req_done - t->rsp_seq) > 0)
		t->wait_from_ms = f->now;
	close = (m->flags & F_CLOSE) ||
		((m->flags & F_HTTP10) && !(m->flags & F_KEEPALIVE));
	if (head || status == 204 || status == 304) {
		m->clen = 0;
	} else if (m->flags & F_TE) {
		chunked = m->flags & F_CHUNKED;
		close = close || !chunked; /* another coding: to EOF */
	} else if (!(m->flags & F_CLEN)) {
		close = true; /* no length: to EOF */
	}
	if (close) {
		t->mode = M_DONE;
	} else if (chunked) {
		body_chunked(m);
	} else if (m->clen > 0) {
		m->state = S_BODY;
		m->remain = m->clen;
	} else {
		message_done(f);
	}
}

static void chunk_size_byte(struct feed *f, uint8_t c)
{
	struct swerve_httptrack_msg *m = f->m;
	int d = hex_value(c);

	if (d >= 0 && m->num <= (UINT64_MAX >> 4)) {
		m->num = m->num << 4 | (uint64_t)d;
		m->pos = 1;
	} else if (d < 0 && m->pos > 0 && (c == ';' || c == ' ' || c == '\t')) {
		m->state = S_CHUNK_EXT;
	} else {
		give_up(f, SWERVE_HTTPTRACK_WHY_CHUNK);
	}
}

static void chunk_size_end(struct swerve_httptrack_msg *m)
{
	if (m->num == 0) {
		m->state = S_TRAILER;
	} else {
		m->state = S_CHUNK_DATA;
		m->remain = m->num;
		m->num = 0;
	}
}

/* A byte of a line that is neither CR, LF nor NUL. */
static void line_byte(struct feed *f, uint8_t c)
{
	struct swerve_httptrack_msg *m = f->m;

	if (m->state == S_START) {
		message_start(f);
		if (f->t->mode != M_TRACK)
			return;
	}
	switch (m->state) {
	case S_FIRST:
		if (f->rsp)
			status_line_byte(f, c);
		else
			request_line_byte(f, c);
		break;
	case S_NAME:
		name_byte(f, c);
		break;
	case S_VALUE:
		value_byte(f, c);
		break;
	case S_CHUNK_SIZE:
		chunk_size_byte(f, c);
		break;
	case S_CHUNK_END:
		give_up(f, SWERVE_HTTPTRACK_WHY_CHUNK);
		break;
	case S_TRAILER:
		m->state = S_TRAILER_LINE;
		break;
	default:
		break; /* chunk extensions and trailers mean nothing */
	}
}

static void line_end(struct feed *f)
{
	struct swerve_httptrack_msg *m = f->m;

	switch (m->state) {
	case S_FIRST:
		start_line_end(f);
		break;
	case S_NAME:
		if (m->pos > 0)
			give_up(f, SWERVE_HTTPTRACK_WHY_GARBAGE); /* no colon */
		else if (f->rsp)
			response_head_end(f);
		else
			request_head_end(f);
		break;
	case S_VALUE:
		value_end(f);
		break;
	case S_CHUNK_SIZE:
		if (m->pos == 0)
			give_up(f, SWERVE_HTTPTRACK_WHY_CHUNK);
		else
			chunk_size_end(m);
		break;
	case S_CHUNK_EXT:
		chunk_size_end(m);
		break;
	case S_CHUNK_END:
		body_chunked(m);
		break;
	case S_TRAILER:
		message_done(f);
		break;
	case S_TRAILER_LINE:
		m->state = S_TRAILER;
		break;
	default:
		break; /* S_START: empty lines before a message are skipped */
	}
}

void swerve_httptrack_end_line(struct feed *f)
{
	f->m->line = 0;
	line_end(f);
	f->m->lflags = 0;
}

void swerve_httptrack_end_head(struct feed *f)
{
	/* line_end's S_NAME case for an empty line (pos 0), without the
	 * dispatch: the fast path calls it for every message. */
	if (f->rsp)
		response_head_end(f);
	else
		request_head_end(f);
}

/* One byte of a line-oriented state: line ends first, then the rest. */
static void text_byte(struct feed *f, uint8_t c)
{
	struct swerve_httptrack_msg *m = f->m;

	if (m->lflags & L_CR) {
		if (c != '\n') {
			give_up(f, SWERVE_HTTPTRACK_WHY_GARBAGE);
			return;
		}
	} else if (c == '\r') {
		m->lflags |= L_CR;
		return;
	}
	if (c == '\n') {
		swerve_httptrack_end_line(f);
		return;
	}
	if (c == 0) {
		give_up(f, SWERVE_HTTPTRACK_WHY_GARBAGE);
		return;
	}
	if (++m->line > SWERVE_HTTPTRACK_MAX_LINE) {
		give_up(f, SWERVE_HTTPTRACK_WHY_LONG_LINE);
		return;
	}
	line_byte(f, c);
}

/* Runs that plain_run skips: what text_byte would do to each byte. */
enum run { RUN_NONE, RUN_TEXT, RUN_NAME, RUN_TARGET };

static enum run run_kind(const struct feed *f)
{
	const struct swerve_httptrack_msg *m = f->m;

	if ((m->lflags & L_CR) || m->line >= SWERVE_HTTPTRACK_MAX_LINE)
		return RUN_NONE;
	if ((m->state == S_VALUE && m->hdr == W_NONE) ||
	    (m->state == S_FIRST && f->rsp && m->phase == P_REASON))
		return RUN_TEXT;
	if (m->state == S_NAME && m->mask == 0 && m->pos > 0)
		return RUN_NAME;
	if (m->state == S_FIRST && !f->rsp && m->phase == P_TARGET &&
	    m->pos > 0)
		return RUN_TARGET;
	return RUN_NONE;
}

/*
 * Skips, of the <n> bytes at <p>, the run that text_byte would only count
 * against the line limit: the middle of a header value that means nothing
 * to the tracker (Date, Server, ...), of a reason phrase, of a request
 * target, or of a header name that matches no word. Stops before the
 * first byte that does anything else (a line end, a NUL, a ':', a byte
 * that gives up, the byte over the limit): text_byte handles it as before.
 * Returns how many bytes it skipped.
 */
static size_t plain_run(struct feed *f, const uint8_t *p, size_t n)
{
	struct swerve_httptrack_msg *m = f->m;
	enum run kind = run_kind(f);
	size_t k = 0;

	if (kind == RUN_NONE)
		return 0;
	if (n > SWERVE_HTTPTRACK_MAX_LINE - m->line)
		n = SWERVE_HTTPTRACK_MAX_LINE - m->line;
	if (kind == RUN_TEXT)
		while (k < n && p[k] != '\r' && p[k] != '\n' && p[k] != 0)
			k++;
	else if (kind == RUN_NAME)
		while (k < n && is_tchar(p[k]))
			k++;
	else
		while (k < n && p[k] > ' ' && p[k] != 0x7f)
			k++;
	m->line += (uint32_t)k;
	if (kind == RUN_NAME)
		m->pos = (uint8_t)(m->pos + k > UINT8_MAX ? UINT8_MAX
							  : m->pos + k);
	return k;
}

static void feed_bytes(struct feed *f, const uint8_t *p, size_t n)
{
	struct swerve_httptrack_msg *m = f->m;
	size_t k;

	while (n > 0 && f->t->mode == M_TRACK) {
		if (m->state != S_BODY && m->state != S_CHUNK_DATA) {
			/* Whole lines first, when it can: what is left of a
			 * line, or a line it does not take, goes byte by
			 * byte. */
			k = m->line == 0 && m->lflags == 0
				    ? swerve_httptrack_take_lines(f, p, n)
				    : 0;
			p += k;
			n -= k;
			if (k > 0)
				continue;
			k = plain_run(f, p, n);
			p += k;
			n -= k;
			if (n == 0)
				break;
			text_byte(f, *p);
			p++;
			n--;
			continue;
		}
		k = m->remain < n ? (size_t)m->remain : n;
		m->remain -= k;
		p += k;
		n -= k;
		if (m->remain > 0)
			continue;
		if (m->state == S_BODY)
			message_done(f);
		else
			m->state = S_CHUNK_END;
	}
}

static void feed_init(struct feed *f, struct swerve_httptrack *t, bool rsp,
		      uint64_t now_ms, swerve_httptrack_emit_fn *fn, void *arg)
{
	f->t = t;
	f->m = rsp ? &t->rsp : &t->req;
	f->rsp = rsp;
	f->now = now_ms;
	f->emit = fn;
	f->arg = arg;
	f->events = 0;
	f->status = 0;
}

void swerve_httptrack_init(struct swerve_httptrack *t)
{
	memset(t, 0, sizeof(*t));
}

void swerve_httptrack_restart(struct swerve_httptrack *t)
{
	struct swerve_httptrack keep = *t;

	memset(t, 0, sizeof(*t));
	memcpy(t->memo_hash, keep.memo_hash, sizeof(t->memo_hash));
	memcpy(t->memo_len, keep.memo_len, sizeof(t->memo_len));
	t->memo_status = keep.memo_status;
}

int swerve_httptrack_write(struct swerve_httptrack *t, const void *buf,
			   size_t len, uint64_t now_ms,
			   swerve_httptrack_emit_fn *emit_fn, void *arg)
{
	struct swerve_httptrack_memo mm;
	struct feed f;

	if (t->mode != M_TRACK || len == 0)
		return 0;
	if (swerve_httptrack_memo_request(t, buf, len, now_ms, &mm))
		return 0;
	feed_init(&f, t, false, now_ms, emit_fn, arg);
	feed_bytes(&f, buf, len);
	swerve_httptrack_memo_request_note(t, len, f.events, &mm);
	return f.events;
}

int swerve_httptrack_read(struct swerve_httptrack *t, const void *buf,
			  size_t len, uint64_t now_ms,
			  swerve_httptrack_emit_fn *emit_fn, void *arg)
{
	struct swerve_httptrack_memo mm;
	struct feed f;

	if (t->mode != M_TRACK || len == 0)
		return 0;
	t->last_rx_ms = now_ms;
	feed_init(&f, t, true, now_ms, emit_fn, arg);
	if (swerve_httptrack_memo_response(t, buf, len, &mm)) {
		/* As response_head_end, then message_done, would have it. */
		emit(&f, SWERVE_HTTPTRACK_STATUS, t->memo_status,
		     SWERVE_HTTPTRACK_WHY_NONE);
		t->rsp_seq++;
		if ((int32_t)(t->req_done - t->rsp_seq) > 0)
			t->wait_from_ms = now_ms;
		return f.events;
	}
	feed_bytes(&f, buf, len);
	swerve_httptrack_memo_response_note(t, len, f.events, f.status, &mm);
	return f.events;
}

int swerve_httptrack_eof(struct swerve_httptrack *t,
			 swerve_httptrack_emit_fn *emit_fn, void *arg)
{
	struct feed f;

	if (t->mode != M_TRACK)
		return 0;
	t->mode = M_DONE;
	if (t->req_seq == t->rsp_seq)
		return 0;
	feed_init(&f, t, true, 0, emit_fn, arg);
	emit(&f, SWERVE_HTTPTRACK_RESET, 0, SWERVE_HTTPTRACK_WHY_NONE);
	return f.events;
}

bool swerve_httptrack_abandoned(const struct swerve_httptrack *t,
				uint64_t now_ms, uint64_t timeout_ms)
{
	uint64_t since;

	if (t->mode != M_TRACK || timeout_ms == 0)
		return false;
	/* The oldest request waiting must have been written completely. */
	if ((int32_t)(t->req_done - t->rsp_seq) <= 0)
		return false;
	since = t->wait_from_ms > t->last_rx_ms ? t->wait_from_ms
						: t->last_rx_ms;
	return now_ms >= since && now_ms - since >= timeout_ms;
}

int swerve_httptrack_give_up(struct swerve_httptrack *t,
			     enum swerve_httptrack_why why,
			     swerve_httptrack_emit_fn *emit_fn, void *arg)
{
	struct feed f;

	if (t->mode != M_TRACK)
		return 0;
	feed_init(&f, t, false, 0, emit_fn, arg);
	give_up(&f, why);
	return f.events;
}

bool swerve_httptrack_active(const struct swerve_httptrack *t)
{
	return t->mode == M_TRACK;
}

void swerve_httptrack_where(const struct swerve_httptrack *t,
			    struct swerve_httptrack_pos *pos)
{
	pos->started = t->req_seq;
	pos->written = t->req_done;
	pos->answered = t->rsp_seq;
	pos->req_between = t->req.state == S_START;
	pos->rsp_between = t->rsp.state == S_START;
	pos->active = t->mode == M_TRACK;
}

const char *swerve_httptrack_why_name(enum swerve_httptrack_why why)
{
	static const char *const names[] = {
		[SWERVE_HTTPTRACK_WHY_NONE] = "none",
		[SWERVE_HTTPTRACK_WHY_GARBAGE] = "garbage",
		[SWERVE_HTTPTRACK_WHY_VERSION] = "version",
		[SWERVE_HTTPTRACK_WHY_UPGRADE] = "upgrade",
		[SWERVE_HTTPTRACK_WHY_CONNECT] = "connect",
		[SWERVE_HTTPTRACK_WHY_LONG_LINE] = "long-line",
		[SWERVE_HTTPTRACK_WHY_OBS_FOLD] = "obs-fold",
		[SWERVE_HTTPTRACK_WHY_LENGTH] = "content-length",
		[SWERVE_HTTPTRACK_WHY_CODING] = "transfer-encoding",
		[SWERVE_HTTPTRACK_WHY_CHUNK] = "chunk",
		[SWERVE_HTTPTRACK_WHY_PIPELINE] = "pipeline",
		[SWERVE_HTTPTRACK_WHY_UNSOLICITED] = "unsolicited",
		[SWERVE_HTTPTRACK_WHY_UNSEEN] = "unseen",
	};

	if ((unsigned)why >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[why];
}
