/*
 * fuzz_http.c: libFuzzer target for the HTTP/1.x tracker
 * (src/policy/httptrack.c). Build and run from the top of the tree:
 *
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=all -Isrc -D_GNU_SOURCE \
 *       tests/fuzz/fuzz_http.c src/policy/httptrack.c \
 *       src/policy/httptrack_lines.c src/policy/httptrack_memo.c \
 *       -o build/fuzz_http
 *   build/fuzz_http -runs=10000000 tests/fuzz/corpus/http
 *
 * (copy the corpus to a scratch directory first to keep new inputs out of
 * the tree). The input is a script of operations, each a control byte c
 * followed by its data:
 *   c & 3 == 0: the next (c >> 2) + 1 bytes are written by the application;
 *   c & 3 == 1: the next (c >> 2) + 1 bytes are read by it;
 *   c & 3 == 2: the connection ends (EOF), or when c >> 2 == 63 the caller
 *               gives up (bytes it could not see);
 *   c & 3 == 3: the application abandons: the tracker is asked with a
 *               timeout of 10 ms times the next byte.
 * The clock advances by c >> 2 ms per operation.
 *
 * Each input runs three times: with every operation's bytes in one call,
 * one byte per call, and with the bytes of operations in a row in the same
 * direction joined into one call (long lines whole: the tracker's fast
 * path, httptrack_lines.c, takes whole lines only). The events must be the
 * same in all three; the answers, and the tracker itself at the end, the
 * same in the first two (the third feeds at other times). Every run
 * checks what the header promises: at most one GAVE_UP and one RESET,
 * nothing after the tracker stopped (which then changes no byte of it),
 * final statuses only (101 or 200..999), each answering the next request.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/httptrack.h"

#define MAX_EVENTS 4096
/* The largest input libFuzzer makes with its default -max_len, and more. */
#define MAX_JOINED 65536

/* How a run feeds the tracker. */
enum how { WHOLE, BYTES, JOINED };

struct record {
	struct swerve_httptrack_event ev[MAX_EVENTS];
	bool answer[MAX_EVENTS]; /* abandonment answers, in order */
	size_t nev, nanswer;
	unsigned gave_up, resets;
	uint32_t next_request;
	bool stopped;
};

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void on_event(void *arg, const struct swerve_httptrack_event *ev)
{
	struct record *r = arg;

	check(!r->stopped);
	switch (ev->kind) {
	case SWERVE_HTTPTRACK_STATUS:
		check(ev->status == 101 ||
		      (ev->status >= 200 && ev->status <= 999));
		check(ev->request == r->next_request);
		check(ev->why == SWERVE_HTTPTRACK_WHY_NONE);
		r->next_request++;
		break;
	case SWERVE_HTTPTRACK_RESET:
		check(++r->resets == 1 && r->gave_up == 0);
		check(ev->status == 0);
		break;
	case SWERVE_HTTPTRACK_GAVE_UP:
		check(++r->gave_up == 1 && r->resets == 0);
		check(ev->why != SWERVE_HTTPTRACK_WHY_NONE);
		break;
	default:
		check(false);
	}
	if (r->nev < MAX_EVENTS)
		r->ev[r->nev++] = *ev;
}

/* Feeds <len> bytes in one call or one per call; checks a stopped one. */
static void feed(struct swerve_httptrack *t, struct record *r, bool rd,
		 const uint8_t *p, size_t len, bool bytewise, uint64_t now)
{
	struct swerve_httptrack before = *t;
	bool was_active = swerve_httptrack_active(t);
	size_t i, step = bytewise ? 1 : len;
	uint8_t one[1], *copy = one;

	/*
	 * Exact-size copies, so that ASan sees any read outside them: one
	 * byte on the stack, or the whole operation on the heap.
	 */
	if (!bytewise) {
		copy = malloc(len > 0 ? len : 1);
		check(copy != NULL);
	}
	for (i = 0; i < len; i += step) {
		memcpy(copy, p + i, step);
		if (rd)
			swerve_httptrack_read(t, copy, step, now, on_event, r);
		else
			swerve_httptrack_write(t, copy, step, now, on_event, r);
	}
	if (copy != one)
		free(copy);
	if (!was_active)
		check(memcmp(&before, t, sizeof(*t)) == 0);
}

/* Bytes of feeding operations in a row in one direction, for JOINED. */
struct joined {
	uint8_t buf[MAX_JOINED];
	size_t len;
	bool rd;
};

/* Feeds what <j> holds in one call, at <now>. */
static void flush(struct swerve_httptrack *t, struct record *r,
		  struct joined *j, uint64_t now)
{
	if (j->len > 0)
		feed(t, r, j->rd, j->buf, j->len, false, now);
	j->len = 0;
}

/* The tracker as <data> leaves it, fed as <how> says, in <t>. */
static void run(const uint8_t *data, size_t size, enum how how,
		struct record *r, struct swerve_httptrack *t)
{
	static struct joined j;
	uint64_t now = 1000;
	size_t i = 0, len;
	uint8_t c;

	swerve_httptrack_init(t);
	j.len = 0;
	while (i < size) {
		c = data[i++];
		now += c >> 2;
		len = (size_t)(c >> 2) + 1;
		if (len > size - i)
			len = size - i;
		if (how == JOINED && (c & 3) <= 1 && j.len > 0 &&
		    j.rd == (c & 1) && j.len + len <= sizeof(j.buf)) {
			memcpy(j.buf + j.len, data + i, len);
			j.len += len;
			i += len;
			continue;
		}
		if (how == JOINED)
			flush(t, r, &j, now);
		switch (c & 3) {
		case 0:
		case 1:
			if (how == JOINED) {
				memcpy(j.buf, data + i, len);
				j.len = len;
				j.rd = c & 1;
			} else {
				feed(t, r, c & 1, data + i, len, how == BYTES,
				     now);
			}
			i += len;
			break;
		case 2:
			if (c >> 2 == 63)
				swerve_httptrack_give_up(
					t, SWERVE_HTTPTRACK_WHY_UNSEEN,
					on_event, r);
			else
				swerve_httptrack_eof(t, on_event, r);
			break;
		default:
			len = i < size ? data[i++] : 0;
			if (r->nanswer < MAX_EVENTS)
				r->answer[r->nanswer++] =
					swerve_httptrack_abandoned(
						t, now, (uint64_t)len * 10);
			break;
		}
		r->stopped = !swerve_httptrack_active(t);
		if (r->stopped)
			check(!swerve_httptrack_abandoned(t, UINT64_MAX, 1));
	}
	if (how == JOINED)
		flush(t, r, &j, now);
}

/* The events of <a> and <b> are the same. */
static void same_events(const struct record *a, const struct record *b)
{
	size_t i;

	check(a->nev == b->nev);
	for (i = 0; i < a->nev; i++) {
		check(a->ev[i].kind == b->ev[i].kind);
		check(a->ev[i].status == b->ev[i].status);
		check(a->ev[i].why == b->ev[i].why);
		check(a->ev[i].request == b->ev[i].request);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct record whole, bytes, joined;
	struct swerve_httptrack tw, tb, tj;
	size_t i;

	memset(&whole, 0, sizeof(whole));
	memset(&bytes, 0, sizeof(bytes));
	memset(&joined, 0, sizeof(joined));
	run(data, size, WHOLE, &whole, &tw);
	run(data, size, BYTES, &bytes, &tb);
	run(data, size, JOINED, &joined, &tj);
	same_events(&whole, &bytes);
	same_events(&whole, &joined);
	check(whole.nanswer == bytes.nanswer);
	for (i = 0; i < whole.nanswer; i++)
		check(whole.answer[i] == bytes.answer[i]);
	/* Not only what it said: where it is, to the byte, but for the memo
	 * of repeated messages, which byte-by-byte feeding never fills (a
	 * whole message never comes in one call there). */
	memset(tw.memo_hash, 0, sizeof(tw.memo_hash));
	memset(tw.memo_len, 0, sizeof(tw.memo_len));
	tw.memo_status = 0;
	check(memcmp(&tw, &tb, sizeof(tw)) == 0);
	return 0;
}
