/*
 * httptrack: follows the HTTP/1.x exchange on one TCP connection from the
 * bytes the application writes and reads, and tells outlier detection what
 * the endpoint answered. It is a pure state machine: no I/O, no allocation,
 * no globals, the clock passed in; a fixed-size struct without pointers per
 * connection, fed in order and in chunks of any size (one byte at a time
 * gives the same events as the whole stream). It never reads outside the
 * buffers it is given.
 *
 * Thread-safety: none needed; every call works on the tracker it is given,
 * which its caller keeps per connection.
 *
 * Events, and what Envoy's outlier detection makes of them (the caller
 * passes them on with swerve_outlier_note):
 *
 * - SWERVE_HTTPTRACK_STATUS: the status of a final response (101 and
 *   200..999; interim 1xx are not reported), once per response, when its
 *   header block is complete, as Envoy's router reports response headers.
 *   5xx counts for consecutive_5xx_errors, 502/503/504 also for
 *   consecutive_gateway_errors; any other status resets those streaks
 *   (and, in split mode, the local-origin one).
 * - SWERVE_HTTPTRACK_RESET: the connection ended (EOF or an error) while a
 *   request was waiting for its response's header block: Envoy's "upstream
 *   reset before response headers", a local-origin failure (a 503 for the
 *   streaks in non-split mode). At most one per connection.
 * - SWERVE_HTTPTRACK_GAVE_UP: the exchange cannot be followed any more
 *   (see enum swerve_httptrack_why); the tracker ignores the connection
 *   from then on at the cost of one comparison per call, and nothing is
 *   reported. At most one per connection.
 *
 * The response timeout is a question rather than an event: when the
 * application closes the socket or moves it to another address, the caller
 * asks swerve_httptrack_abandoned, and a yes counts as Envoy's request
 * timeout (LocalOriginTimeout: a 504 in non-split mode, a local-origin
 * failure in split mode).
 *
 * After a response that ends the connection (Connection: close, an HTTP/1.0
 * response without keep-alive, or a body that runs to EOF) the tracker
 * stops quietly: requests pipelined after it were never going to be
 * answered there, so they are neither resets nor timeouts.
 */
#ifndef SWERVE_HTTPTRACK_H
#define SWERVE_HTTPTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Requests written and not yet answered; one more gives up (pipeline). */
#define SWERVE_HTTPTRACK_QUEUE 16
/* Longest start, header, chunk-size or trailer line, in bytes. */
#define SWERVE_HTTPTRACK_MAX_LINE 65536

enum swerve_httptrack_kind {
	SWERVE_HTTPTRACK_STATUS = 1,
	SWERVE_HTTPTRACK_RESET = 2,
	SWERVE_HTTPTRACK_GAVE_UP = 3,
};

/* Why the tracker gave up on a connection. */
enum swerve_httptrack_why {
	SWERVE_HTTPTRACK_WHY_NONE = 0,
	SWERVE_HTTPTRACK_WHY_GARBAGE = 1,     /* not an HTTP/1.x message */
	SWERVE_HTTPTRACK_WHY_VERSION = 2,     /* HTTP/2 preface, HTTP/0.9 ... */
	SWERVE_HTTPTRACK_WHY_UPGRADE = 3,     /* 101 Switching Protocols */
	SWERVE_HTTPTRACK_WHY_CONNECT = 4,     /* a CONNECT request (tunnel) */
	SWERVE_HTTPTRACK_WHY_LONG_LINE = 5,   /* a line over MAX_LINE */
	SWERVE_HTTPTRACK_WHY_OBS_FOLD = 6,    /* a folded header line */
	SWERVE_HTTPTRACK_WHY_LENGTH = 7,      /* bad or conflicting
					       * Content-Length */
	SWERVE_HTTPTRACK_WHY_CODING = 8,      /* an empty Transfer-Encoding,
					       * or a request's not ending in
					       * chunked */
	SWERVE_HTTPTRACK_WHY_CHUNK = 9,       /* bad chunked framing */
	SWERVE_HTTPTRACK_WHY_PIPELINE = 10,   /* over QUEUE requests pending */
	SWERVE_HTTPTRACK_WHY_UNSOLICITED = 11, /* a response with no request
						* (or a server that speaks
						* first) */
	SWERVE_HTTPTRACK_WHY_UNSEEN = 12,     /* the caller could not see
					       * some bytes (sendfile, splice)
					       * and said so */
};

struct swerve_httptrack_event {
	enum swerve_httptrack_kind kind;
	int status;                   /* STATUS: the status code, else 0 */
	enum swerve_httptrack_why why; /* GAVE_UP: why, else WHY_NONE */
	uint32_t request;             /* STATUS, RESET: which request on the
				       * connection it answers, from 0 (a
				       * reset of a reused connection may be
				       * the server closing it while idle) */
};

/* Receives each event, in order; <arg> is the caller's. */
typedef void swerve_httptrack_emit_fn(void *arg,
				      const struct swerve_httptrack_event *ev);

/* One direction's parser. Private: in the header only for its size. */
struct swerve_httptrack_msg {
	uint64_t remain;  /* body or chunk bytes still to come */
	uint64_t clen;    /* the Content-Length value */
	uint64_t num;     /* the number being read */
	uint32_t line;    /* bytes in the current line */
	uint16_t status;  /* responses: the status code */
	uint16_t mask;    /* words still matching the current name/token */
	uint8_t state;
	uint8_t phase;    /* where in the start line or header value */
	uint8_t pos;      /* length of the current word (saturates) */
	uint8_t hdr;      /* the known header of this line, or 0 */
	uint8_t flags;    /* what this message's header block said */
	uint8_t lflags;   /* the current line: a CR waiting, a token seen */
};

/* Per connection. Private fields; a zeroed struct is a fresh tracker. */
struct swerve_httptrack {
	struct swerve_httptrack_msg req; /* bytes written */
	struct swerve_httptrack_msg rsp; /* bytes read */
	uint64_t wait_from_ms;  /* when the oldest pending request was
				 * complete and first in line */
	uint64_t last_rx_ms;    /* when the last byte was read */
	uint32_t req_seq;       /* requests started */
	uint32_t req_done;      /* requests completely written */
	uint32_t rsp_seq;       /* final response header blocks read */
	uint16_t head_mask;     /* queue slots (seq % QUEUE) holding a HEAD */
	uint8_t mode;           /* tracking, done, or gave up */
	/* The last buffer of each direction that held exactly one whole
	 * message, from a message boundary (0: requests, 1: responses): a
	 * hash of its bytes (0: none), its length, and for a response its
	 * status. The same bytes at a boundary again have the same effect,
	 * which is then applied without parsing them (httptrack_memo.c). */
	uint64_t memo_hash[2];
	uint16_t memo_len[2];   /* longer messages are not remembered */
	uint16_t memo_status;
};

/* Makes <t> a fresh tracker (the same as zeroing it). */
void swerve_httptrack_init(struct swerve_httptrack *t);

/*
 * Makes <t> fresh for a new connection, but for its memo of repeated
 * messages, whose effect depends on their bytes alone: a client that opens
 * a connection per request sends the same request on each.
 */
void swerve_httptrack_restart(struct swerve_httptrack *t);

/*
 * Feeds <len> bytes that the application wrote to the connection (what
 * write or send returned, not what it asked for), at <now_ms>. Calls
 * <emit>(<arg>, event) for each event (<emit> may be NULL) and returns how
 * many there were. Writes can only give up: an unfollowable request
 * (CONNECT, HTTP/2, garbage, too many pending).
 */
int swerve_httptrack_write(struct swerve_httptrack *t, const void *buf,
			   size_t len, uint64_t now_ms,
			   swerve_httptrack_emit_fn *emit, void *arg);

/*
 * Feeds <len> bytes that the application read from the connection (never
 * peeked bytes), at <now_ms>. Emits and returns as swerve_httptrack_write:
 * statuses, or one GAVE_UP.
 */
int swerve_httptrack_read(struct swerve_httptrack *t, const void *buf,
			  size_t len, uint64_t now_ms,
			  swerve_httptrack_emit_fn *emit, void *arg);

/*
 * The connection ended: a read returned 0, or a read or write failed with
 * an error that ends it (ECONNRESET, ETIMEDOUT, EPIPE). Emits one RESET
 * when a request was waiting for its response's header block, and stops
 * tracking either way. Returns the number of events (0 or 1).
 */
int swerve_httptrack_eof(struct swerve_httptrack *t,
			 swerve_httptrack_emit_fn *emit, void *arg);

/*
 * Asked when the application closes the socket or moves it to another
 * address (a read that would block is not a reason to ask). True when a
 * request was completely written, the header block of its response has not
 * arrived, and no byte was read for at least <timeout_ms> since the later
 * of the request's completion and the previous read: the caller counts a
 * response timeout. Envoy's timer likewise starts when the whole request
 * has been sent. False when <timeout_ms> is 0 (no timeout, as Envoy's 0s),
 * and once the tracker has stopped.
 */
bool swerve_httptrack_abandoned(const struct swerve_httptrack *t,
				uint64_t now_ms, uint64_t timeout_ms);

/*
 * Gives up on the connection for a reason the caller knows (<why>, usually
 * SWERVE_HTTPTRACK_WHY_UNSEEN for bytes moved by sendfile or splice).
 * Emits GAVE_UP unless the tracker had stopped already; returns the number
 * of events (0 or 1).
 */
int swerve_httptrack_give_up(struct swerve_httptrack *t,
			     enum swerve_httptrack_why why,
			     swerve_httptrack_emit_fn *emit, void *arg);

/* False once the tracker stopped (gave up, EOF, or a closing response). */
bool swerve_httptrack_active(const struct swerve_httptrack *t);

/*
 * Where the exchange stands, for a caller that keeps each request to send
 * it again (the TLS relay's retries): where one request ends and the next
 * begins, and whether the responses have caught up.
 */
struct swerve_httptrack_pos {
	uint32_t started;   /* requests whose method was written */
	uint32_t written;   /* requests completely written */
	uint32_t answered;  /* final responses whose header block was read */
	bool req_between;   /* no byte of a next request written yet (empty
			     * lines before one aside) */
	bool rsp_between;   /* no byte of a next response read yet */
	bool active;        /* swerve_httptrack_active() */
};

void swerve_httptrack_where(const struct swerve_httptrack *t,
			    struct swerve_httptrack_pos *pos);

/* "garbage", "upgrade", ...: a stable name for logs. */
const char *swerve_httptrack_why_name(enum swerve_httptrack_why why);

#endif
