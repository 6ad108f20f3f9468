/*
 * Unit tests of the tracker's memo of repeated messages
 * (policy/httptrack_memo.c): a message seen again at a message boundary
 * has the effect parsing it would have (the same events and the same
 * state as feeding it byte by byte, where no memo can apply), and nothing
 * that differs is ever replayed: another status of the same length, a
 * HEAD's answer, pipelined requests, a closing response.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "policy/httptrack.h"
#include "policy/httptrack_int.h"
#include "test_httptrack_support.h"

#define GET "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
#define HEAD "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
#define OK2 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
#define BAD2 "HTTP/1.1 503 OK\r\nContent-Length: 2\r\n\r\nok"

/* Runs <steps> whole and byte by byte: the same events (returned, whole),
 * and the same place in the exchange. */
static const char *run_both(const struct ht_step *steps,
			    struct swerve_httptrack *whole)
{
	static char out[HT_TEXT];
	char bytes[HT_TEXT];
	struct swerve_httptrack t1;
	struct swerve_httptrack_pos a, b;

	/* Zeroed first: the padding is compared too. */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ht_run(steps, 0, whole, out, sizeof(out));
	ht_run(steps, 1, &t1, bytes, sizeof(bytes));
	cr_assert_str_eq(out, bytes, "whole: %s; byte by byte: %s", out,
			 bytes);
	swerve_httptrack_where(whole, &a);
	swerve_httptrack_where(&t1, &b);
	cr_assert(memcmp(&a, &b, sizeof(a)) == 0);
	cr_assert_eq(whole->wait_from_ms, t1.wait_from_ms);
	cr_assert(memcmp(&whole->req, &t1.req, sizeof(t1.req)) == 0);
	cr_assert(memcmp(&whole->rsp, &t1.rsp, sizeof(t1.rsp)) == 0);
	return out;
}

Test(httptrack_memo, repeated_exchanges_have_the_effect_of_parsing)
{
	const struct ht_step steps[] = { HT_W(GET), HT_R(OK2), HT_W(GET),
					 HT_R(OK2), HT_W(GET), HT_R(OK2),
					 HT_W(GET), HT_R(BAD2), HT_W(GET),
					 HT_R(OK2), { 0, NULL, 0 } };
	struct swerve_httptrack t;

	cr_assert_str_eq(run_both(steps, &t), "200 200 200 503 200");
	/* Both directions were remembered, so the repeats were replayed. */
	cr_assert_neq(t.memo_hash[0], 0);
	cr_assert_neq(t.memo_hash[1], 0);
	cr_assert_eq(t.memo_status, 200);
}

Test(httptrack_memo, another_status_of_the_same_length_is_parsed)
{
	const struct ht_step steps[] = { HT_W(GET), HT_R(OK2), HT_W(GET),
					 HT_R(BAD2), { 0, NULL, 0 } };
	struct swerve_httptrack t;

	cr_assert_str_eq(run_both(steps, &t), "200 503");
}

Test(httptrack_memo, a_head_is_never_answered_from_the_memo)
{
	/* The remembered bytes after a HEAD: a head, then "ok" that answers
	 * nothing, as parsing says. */
	const struct ht_step steps[] = { HT_W(GET), HT_R(OK2), HT_W(HEAD),
					 HT_R(OK2), { 0, NULL, 0 } };
	struct swerve_httptrack t;

	cr_assert_str_eq(run_both(steps, &t), "200 200 gave-up:unsolicited");
}

Test(httptrack_memo, pipelined_and_closing_messages_are_not_remembered)
{
	const struct ht_step pipelined[] = { HT_W(GET GET), HT_R(OK2),
					     HT_R(OK2), HT_R(OK2 OK2),
					     { 0, NULL, 0 } };
	const struct ht_step closing[] = {
		HT_W(GET),
		HT_R("HTTP/1.1 200 OK\r\nConnection: close\r\n"
		     "Content-Length: 2\r\n\r\nok"),
		{ 0, NULL, 0 } };
	struct swerve_httptrack t;

	cr_assert_str_eq(run_both(pipelined, &t),
			 "200 200 gave-up:unsolicited");
	cr_assert_eq(t.memo_hash[0], 0);
	cr_assert_str_eq(run_both(closing, &t), "200");
	cr_assert_eq(t.memo_hash[1], 0);
}

Test(httptrack_memo, one_byte_changed_changes_the_hash)
{
	uint8_t a[155], b[155];
	uint64_t h;
	size_t i;

	for (i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 7 + 1);
	h = swerve_httptrack_memo_hash(a, sizeof(a));
	cr_assert_neq(h, 0);
	for (i = 0; i < sizeof(a); i++) {
		memcpy(b, a, sizeof(a));
		b[i] ^= 0x20;
		cr_assert_neq(swerve_httptrack_memo_hash(b, sizeof(b)), h,
			      "byte %zu", i);
	}
	cr_assert_neq(swerve_httptrack_memo_hash(a, sizeof(a) - 1), h);
}

Test(httptrack_memo, a_restart_keeps_the_memo_and_nothing_else)
{
	const struct ht_step steps[] = { HT_W(GET), HT_R(OK2),
					 { 0, NULL, 0 } };
	struct swerve_httptrack t, fresh;
	char out[HT_TEXT] = "";

	run_both(steps, &t);
	cr_assert_neq(t.memo_hash[1], 0);
	swerve_httptrack_restart(&t);
	swerve_httptrack_init(&fresh);
	cr_assert_eq(t.req_seq, 0);
	cr_assert_eq(t.rsp_seq, 0);
	cr_assert(memcmp(&t.req, &fresh.req, sizeof(t.req)) == 0);
	cr_assert(memcmp(&t.rsp, &fresh.rsp, sizeof(t.rsp)) == 0);
	cr_assert_neq(t.memo_hash[0], 0);
	/* The next connection's same exchange, replayed: what a fresh
	 * tracker parses. */
	ht_feed(&t, 'W', GET, sizeof(GET) - 1, 0, 5, out, sizeof(out));
	ht_feed(&t, 'R', OK2, sizeof(OK2) - 1, 0, 6, out, sizeof(out));
	cr_assert_str_eq(out, "200");
	cr_assert_eq(t.req_seq, 1);
	cr_assert_eq(t.rsp_seq, 1);
	cr_assert_eq(t.req_done, 1);
}
