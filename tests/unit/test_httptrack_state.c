/*
 * Unit tests of the HTTP/1.x tracker (policy/httptrack.c) beyond the table
 * of exchanges: the response timeout asked at abandonment (the clock is a
 * parameter, nothing sleeps), which request an event answers, the bounds
 * (pipeline queue, line length), and that a tracker which stopped costs
 * nothing and never speaks again.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/httptrack.h"
#include "test_httptrack_support.h"

#define GET "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
#define OK0 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

static void w(struct swerve_httptrack *t, const char *s, uint64_t now,
	      char *out)
{
	ht_feed(t, 'W', s, strlen(s), 0, now, out, HT_TEXT);
}

static void r(struct swerve_httptrack *t, const char *s, uint64_t now,
	      char *out)
{
	ht_feed(t, 'R', s, strlen(s), 0, now, out, HT_TEXT);
}

/* A fresh tracker that has just been sent <req> at <now>. */
static void begin(struct swerve_httptrack *t, char *out, const char *req,
		  uint64_t now)
{
	swerve_httptrack_init(t);
	out[0] = '\0';
	w(t, req, now, out);
}

Test(httptrack, zeroed_struct_is_a_fresh_tracker)
{
	struct swerve_httptrack a, b;

	memset(&a, 0xa5, sizeof(a));
	swerve_httptrack_init(&a);
	memset(&b, 0, sizeof(b));
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
	cr_assert(swerve_httptrack_active(&a));
	cr_assert(!swerve_httptrack_abandoned(&a, 1000000, 1));
}

Test(httptrack, abandoned_after_the_timeout_without_a_response)
{
	struct swerve_httptrack t;
	char out[HT_TEXT] = "";

	begin(&t, out, GET, 5000);
	cr_assert(!swerve_httptrack_abandoned(&t, 5999, 1000));
	cr_assert(swerve_httptrack_abandoned(&t, 6000, 1000));
	cr_assert(!swerve_httptrack_abandoned(&t, 6000, 0), "0 is no timeout");
	cr_assert(!swerve_httptrack_abandoned(&t, 4000, 1000),
		  "a clock that went back proves nothing");
	cr_assert_str_eq(out, "");
}

Test(httptrack, a_response_header_block_ends_the_wait)
{
	struct swerve_httptrack t;
	char out[HT_TEXT] = "";

	begin(&t, out, GET, 0);
	r(&t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nslow", 10, out);
	cr_assert(!swerve_httptrack_abandoned(&t, 100000, 1000),
		  "a slow body is not a response timeout");
	cr_assert_str_eq(out, "200");
}

Test(httptrack, any_byte_read_restarts_the_wait)
{
	struct swerve_httptrack t;
	char out[HT_TEXT] = "";

	begin(&t, out, GET, 0);
	r(&t, "HTTP/1.1 100 Continue\r\n\r\n", 1500, out);
	cr_assert(!swerve_httptrack_abandoned(&t, 2499, 1000));
	cr_assert(swerve_httptrack_abandoned(&t, 2500, 1000));
	r(&t, "HTTP/1.1 2", 3000, out);
	cr_assert(!swerve_httptrack_abandoned(&t, 3999, 1000));
	cr_assert(swerve_httptrack_abandoned(&t, 4000, 1000));
	cr_assert_str_eq(out, "");
}

Test(httptrack, the_wait_starts_when_the_request_is_complete)
{
	struct swerve_httptrack t;
	char out[HT_TEXT] = "";

	begin(&t, out, "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", 0);
	cr_assert(!swerve_httptrack_abandoned(&t, 100000, 1000),
		  "a request still being written is not waiting");
	w(&t, "cd", 200000, out);
	cr_assert(!swerve_httptrack_abandoned(&t, 200999, 1000));
	cr_assert(swerve_httptrack_abandoned(&t, 201000, 1000));
}

Test(httptrack, a_pipelined_request_waits_from_the_previous_response)
{
	struct swerve_httptrack t;
	char out[HT_TEXT] = "";

	begin(&t, out, GET GET, 0);
	r(&t, OK0, 5000, out);
	cr_assert(!swerve_httptrack_abandoned(&t, 5999, 1000));
	cr_assert(swerve_httptrack_abandoned(&t, 6000, 1000));
	r(&t, OK0, 6500, out);
	cr_assert(!swerve_httptrack_abandoned(&t, 100000, 1000),
		  "nothing is waiting any more");
	cr_assert_str_eq(out, "200 200");
}

Test(httptrack, a_response_before_the_request_is_complete)
{
	struct swerve_httptrack t;
	char out[HT_TEXT] = "";

	begin(&t, out, "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", 0);
	r(&t, "HTTP/1.1 413 x\r\nContent-Length: 0\r\n\r\n", 10, out);
	w(&t, "cd", 20, out);
	cr_assert(!swerve_httptrack_abandoned(&t, 100000, 1000),
		  "the completed request was answered already");
	w(&t, GET, 30000, out);
	cr_assert(swerve_httptrack_abandoned(&t, 31000, 1000));
	cr_assert_str_eq(out, "413");
}

Test(httptrack, stopped_trackers_are_never_abandoned)
{
	struct swerve_httptrack t;
	char out[HT_TEXT] = "";

	begin(&t, out, GET, 0);
	cr_assert_eq(swerve_httptrack_eof(&t, NULL, NULL), 1);
	cr_assert(!swerve_httptrack_abandoned(&t, 100000, 1000),
		  "the reset was counted already");

	begin(&t, out, GET, 0);
	r(&t, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 1, out);
	w(&t, GET, 2, out);
	cr_assert(!swerve_httptrack_active(&t));
	cr_assert(!swerve_httptrack_abandoned(&t, 100000, 1000),
		  "a request after a closing response is never answered");

	begin(&t, out, GET, 0);
	cr_assert_eq(swerve_httptrack_give_up(
			     &t, SWERVE_HTTPTRACK_WHY_UNSEEN, NULL, NULL), 1);
	cr_assert(!swerve_httptrack_abandoned(&t, 100000, 1000));
	cr_assert_eq(swerve_httptrack_give_up(
			     &t, SWERVE_HTTPTRACK_WHY_UNSEEN, NULL, NULL), 0);
	cr_assert_eq(swerve_httptrack_eof(&t, NULL, NULL), 0);
}

static void record(void *arg, const struct swerve_httptrack_event *ev)
{
	struct swerve_httptrack_event *evs = arg;
	size_t i = 0;

	while (evs[i].kind != 0)
		i++;
	evs[i] = *ev;
}

Test(httptrack, events_name_the_request_they_answer)
{
	static const char two[] = OK0 "HTTP/1.1 503 x\r\n"
				  "Content-Length: 0\r\n\r\n";
	struct swerve_httptrack_event evs[8];
	struct swerve_httptrack t;

	memset(evs, 0, sizeof(evs));
	swerve_httptrack_init(&t);
	cr_assert_eq(swerve_httptrack_write(&t, GET GET GET, strlen(GET) * 3,
					    0, record, evs), 0);
	cr_assert_eq(swerve_httptrack_read(&t, two, sizeof(two) - 1, 1, record,
					   evs), 2);
	cr_assert_eq(swerve_httptrack_eof(&t, record, evs), 1);
	cr_assert_eq(evs[0].kind, SWERVE_HTTPTRACK_STATUS);
	cr_assert_eq(evs[0].status, 200);
	cr_assert_eq(evs[0].request, 0);
	cr_assert_eq(evs[0].why, SWERVE_HTTPTRACK_WHY_NONE);
	cr_assert_eq(evs[1].status, 503);
	cr_assert_eq(evs[1].request, 1);
	cr_assert_eq(evs[2].kind, SWERVE_HTTPTRACK_RESET);
	cr_assert_eq(evs[2].request, 2);
	cr_assert_eq(evs[2].status, 0);
	cr_assert_eq(evs[3].kind, 0);
}

Test(httptrack, the_queue_holds_sixteen_pending_requests)
{
	struct swerve_httptrack t;
	char out[HT_TEXT] = "";
	char want[HT_TEXT] = "";
	int i;

	swerve_httptrack_init(&t);
	for (i = 0; i < SWERVE_HTTPTRACK_QUEUE; i++)
		w(&t, GET, 0, out);
	cr_assert_str_eq(out, "");
	for (i = 0; i < SWERVE_HTTPTRACK_QUEUE; i++) {
		r(&t, OK0, 1, out);
		strcat(want, i ? " 200" : "200");
	}
	cr_assert_str_eq(out, want);

	out[0] = '\0';
	swerve_httptrack_init(&t);
	for (i = 0; i <= SWERVE_HTTPTRACK_QUEUE; i++)
		w(&t, GET, 0, out);
	cr_assert_str_eq(out, "gave-up:pipeline");
	r(&t, OK0, 1, out);
	cr_assert_str_eq(out, "gave-up:pipeline");
}

/*
 * Many rounds of pipelined HEAD and GET through the ring of slots: each
 * HEAD's answer has a Content-Length and no body, each GET's has a body,
 * so a slot that kept a stale method would swallow or leave bytes and
 * derail the statuses that follow.
 */
Test(httptrack, queue_slots_are_reused_with_their_methods)
{
	static const char head[] = "HEAD / HTTP/1.1\r\n\r\n";
	static const char rsp[] = "HTTP/1.1 200 OK\r\n"
				  "Content-Length: 3\r\n\r\n";
	struct swerve_httptrack t;
	char out[HT_TEXT] = "";
	int round, k, n;

	swerve_httptrack_init(&t);
	for (round = 0; round < 50; round++) {
		out[0] = '\0';
		n = 3 + round % 11;
		for (k = 0; k < n; k++)
			w(&t, (k + round) % 3 ? GET : head, (uint64_t)round,
			  out);
		for (k = 0; k < n; k++) {
			r(&t, rsp, (uint64_t)round, out);
			if ((k + round) % 3)
				r(&t, "abc", (uint64_t)round, out);
		}
		cr_assert_eq(strlen(out), (size_t)n * 4 - 1, "round %d: %s",
			     round, out);
		cr_assert_null(strchr(out, 'g'), "round %d: %s", round, out);
	}
}

/* A header line of exactly <len> bytes (the line end not counted). */
static char *response_with_line(size_t len)
{
	static const char start[] = "HTTP/1.1 200 OK\r\nX-Big: ";
	static const char end[] = "\r\nContent-Length: 0\r\n\r\n";
	size_t pre = strlen("X-Big: ");
	char *s = malloc(sizeof(start) + len + sizeof(end));

	cr_assert_not_null(s);
	strcpy(s, start);
	memset(s + strlen(start), 'v', len - pre);
	strcpy(s + strlen(start) + len - pre, end);
	return s;
}

Test(httptrack, lines_are_bounded)
{
	struct swerve_httptrack t;
	char out[HT_TEXT] = "";
	char *s;

	swerve_httptrack_init(&t);
	s = response_with_line(SWERVE_HTTPTRACK_MAX_LINE);
	w(&t, GET, 0, out);
	r(&t, s, 1, out);
	cr_assert_str_eq(out, "200");
	free(s);

	out[0] = '\0';
	s = response_with_line(SWERVE_HTTPTRACK_MAX_LINE + 1);
	w(&t, GET, 0, out);
	ht_feed(&t, 'R', s, strlen(s), 1, 2, out, HT_TEXT);
	cr_assert_str_eq(out, "gave-up:long-line");
	free(s);
}

/* After giving up, feeding changes nothing and reports nothing. */
Test(httptrack, a_tracker_that_gave_up_costs_nothing)
{
	struct swerve_httptrack t, before;
	char out[HT_TEXT] = "";

	begin(&t, out, "\x16\x03\x01\x02", 0);
	cr_assert_str_eq(out, "gave-up:garbage");
	cr_assert(!swerve_httptrack_active(&t));
	before = t;
	cr_assert_eq(swerve_httptrack_write(&t, GET, strlen(GET), 5, record,
					    NULL), 0);
	cr_assert_eq(swerve_httptrack_read(&t, OK0, strlen(OK0), 6, record,
					   NULL), 0);
	cr_assert_eq(swerve_httptrack_eof(&t, record, NULL), 0);
	cr_assert_eq(memcmp(&t, &before, sizeof(t)), 0);
}

Test(httptrack, gave_up_reasons_have_names)
{
	int why;

	for (why = 0; why <= SWERVE_HTTPTRACK_WHY_UNSEEN; why++)
		cr_assert_str_neq(swerve_httptrack_why_name(
					  (enum swerve_httptrack_why)why),
				  "unknown");
	cr_assert_str_eq(swerve_httptrack_why_name(
				 (enum swerve_httptrack_why)99), "unknown");
	cr_assert_str_eq(swerve_httptrack_why_name(
				 SWERVE_HTTPTRACK_WHY_UPGRADE), "upgrade");
}

Test(httptrack, the_struct_is_small_and_fixed)
{
	/* Kept per connection: no pointers, no growth with the traffic. */
	cr_assert_leq(sizeof(struct swerve_httptrack), 144);
}

/* swerve_httptrack_where() of <t>, as "started/written/answered rb a". */
static const char *where(const struct swerve_httptrack *t)
{
	static char text[64];
	struct swerve_httptrack_pos p;

	swerve_httptrack_where(t, &p);
	snprintf(text, sizeof(text), "%u/%u/%u %c%c %c", p.started, p.written,
		 p.answered, p.req_between ? 'r' : '-',
		 p.rsp_between ? 'b' : '-', p.active ? 'a' : '-');
	return text;
}

Test(httptrack, where_tells_requests_and_responses_apart)
{
	struct swerve_httptrack t;
	char out[HT_TEXT] = "";

	swerve_httptrack_init(&t);
	cr_assert_str_eq(where(&t), "0/0/0 rb a");
	w(&t, "\r\n", 1, out);
	cr_assert_str_eq(where(&t), "0/0/0 rb a", "empty lines are between");
	w(&t, "PO", 1, out);
	cr_assert_str_eq(where(&t), "0/0/0 -b a", "a request has begun");
	w(&t, "ST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nh", 1, out);
	cr_assert_str_eq(where(&t), "1/0/0 -b a");
	w(&t, "i", 1, out);
	cr_assert_str_eq(where(&t), "1/1/0 rb a");
	r(&t, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 No\r\n", 2, out);
	cr_assert_str_eq(where(&t), "1/1/0 r- a", "an interim is no answer");
	r(&t, "Content-Length: 1\r\n\r\n", 3, out);
	cr_assert_str_eq(where(&t), "1/1/1 r- a", "its body is coming");
	w(&t, GET, 4, out);
	cr_assert_str_eq(where(&t), "2/2/1 r- a", "pipelined");
	r(&t, "x", 5, out);
	cr_assert_str_eq(where(&t), "2/2/1 rb a");
	r(&t, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
	      "Content-Length: 0\r\n\r\n", 6, out);
	cr_assert_str_eq(where(&t), "2/2/2 r- -", "a closing response ends it");
	cr_assert_str_eq(out, "503 200");
}
