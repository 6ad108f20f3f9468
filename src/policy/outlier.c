/*
 * outlier.c: Envoy's consecutive-error outlier detection for one endpoint.
 *
 * The state machine has two states, in service and ejected, and three
 * streaks: c5xx (every 5xx), gateway (502/503/504 only) and local_origin
 * (connect failures, resets and response timeouts, split mode only). Each outcome updates the streaks the
 * way Envoy's putResult/putHttpResponseCode do (docs/semantics.md
 * 5.1). When a streak reaches its threshold and the endpoint is in service,
 * the endpoint is ejected, or, when the service's ejection cap says no, the
 * attempt is reported as an overflow and the streak is kept so that the next
 * failure asks again. Two things differ from Envoy on purpose (semantics.md 8):
 * thresholds compare with >= instead of Envoy's racy ==, and a threshold
 * fires once, because an ejected endpoint cannot be ejected again.
 *
 * Connection outcomes map onto Envoy's codes. Without split mode a refused
 * or reset connect is a 503 and a connect timeout is a 503 as well (Envoy
 * charges both as LocalOriginConnectFailed). A successful connect counts
 * as a 200: Envoy's HTTP router ignores LocalOriginConnectSuccess and only
 * a non-5xx response breaks a streak, but swerve sees nothing but TCP for
 * most programs, so it behaves like Envoy's tcp_proxy, which reports
 * LocalOriginConnectSuccessFinal (200). Otherwise, as no response ever
 * ends a streak for such programs, any five refusals, however far apart,
 * would eject a healthy endpoint. In split mode connect outcomes feed only
 * local_origin.
 *
 * A service with protocol = http is observed the way Envoy's HTTP router
 * sees it. Its connects report SWERVE_OUTCOME_HTTP_CONNECT_OK, Envoy's
 * LocalOriginConnectSuccess, which no streak but local_origin (split mode)
 * notices: the responses tell. A reset or EOF before a response's header
 * block is LocalOriginConnectFailed (a 503 without split mode), a request
 * abandoned unanswered after response_timeout is LocalOriginTimeout (a
 * 504: a gateway error and a 5xx). Envoy's router reports a connect
 * success for every request, when the request gets its connection and so
 * before its response; swerve reports one per connection, so in split
 * mode every response, 5xx or not, stands for that report too and ends
 * the local-origin streak.
 *
 * Each ejection (and overflow) records the streak that fired (reason) and
 * what the failure that fired it was (cause: a 5xx or gateway status, a
 * timeout, a connect failure, a local-origin failure), for the event log.
 *
 * Ejection length follows Envoy's backoff: each ejection first raises
 * ejectTimeBackoff (while backoff * base < max + base) and then lasts
 * min(base * backoff, max). Envoy has no deadlines; its timer fires every
 * interval and un-ejects the endpoints whose time has passed, so a real
 * ejection lasts somewhere in [d, d + interval) depending on the arbitrary
 * phase of the timer. swerve has no timer either: every reader brings the
 * state up to date lazily from the time it is given (swerve_outlier_refresh),
 * as if a timer had ticked every interval counting from the ejection. The
 * ejection therefore lasts exactly ceil(d / interval) whole intervals, one
 * deterministic point of Envoy's range, and the un-ejection is stamped with
 * that virtual tick time rather than with the time somebody happened to
 * look. The streaks are cleared on un-ejection, as in Envoy, so a few new
 * errors do not eject the endpoint again at once.
 *
 * Backoff decays by one per interval tick while the endpoint stays in
 * service, starting one interval after the un-ejection (Envoy 1.28+ skips
 * the tick of the un-ejection itself). Lazily that is a division: the ticks
 * elapsed since decay_from_ms, capped at the backoff, with decay_from_ms
 * moved forward by whole ticks only, so the next refresh continues on the
 * same tick grid. Decay is applied before an ejection raises the backoff.
 *
 * Operators (swervectl) eject, un-eject and reset endpoints by hand; those
 * edits are made here too, so that every change of the state has one
 * author and the shared table only applies them under its row lock.
 *
 * All times are uint64 milliseconds; sums and products saturate, so absurd
 * configs (a base of years, huge backoffs) give long ejections, never wrapped
 * short ones.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "policy/outlier.h"

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	if (a != 0 && b > UINT64_MAX / a)
		return UINT64_MAX;
	return a * b;
}

/* A streak that saturates instead of wrapping to 0 (which would hide it). */
static void bump(uint32_t *streak)
{
	if (*streak < UINT32_MAX)
		(*streak)++;
}

/* Validation rejects 0; a stray 0 must still not divide by zero. */
static uint64_t interval_of(const struct swerve_outlier_cfg *cfg)
{
	return cfg->interval_ms > 0 ? cfg->interval_ms : 1;
}

/*
 * min(base * backoff, max) rounded up to whole intervals. At least one
 * interval: Envoy's timer cannot un-eject before its next tick, which comes
 * after the ejection, and a zero-length ejection would be no ejection.
 */
static uint64_t compute_ejection_ms(const struct swerve_outlier_state *st,
				    const struct swerve_outlier_cfg *cfg)
{
	uint64_t iv = interval_of(cfg);
	uint64_t d, ticks;

	d = mul_sat(cfg->base_ejection_ms, st->backoff);
	if (d > cfg->max_ejection_ms)
		d = cfg->max_ejection_ms;
	ticks = d / iv + (d % iv != 0);
	if (ticks == 0)
		ticks = 1;
	return mul_sat(ticks, iv);
}

/* Starts an ejection of <ms> at <now_ms>, by detection or by an operator. */
static void start_ejection(struct swerve_outlier_state *st, uint64_t ms,
			   uint64_t now_ms)
{
	if (st->ejections < UINT32_MAX)
		st->ejections++;
	st->ejected = 1;
	st->ejected_at_ms = now_ms;
	st->ejection_ms = ms;
}

static void eject(struct swerve_outlier_state *st,
		  const struct swerve_outlier_cfg *cfg, uint64_t now_ms)
{
	/*
	 * Envoy's cap: the backoff stops growing at the first value where
	 * base * backoff >= max + base, so the duration stays pinned at max
	 * while decay still has a bounded number of steps to undo.
	 */
	if (mul_sat(st->backoff, cfg->base_ejection_ms) <
	    add_sat(cfg->max_ejection_ms, cfg->base_ejection_ms))
		st->backoff++;
	start_ejection(st, compute_ejection_ms(st, cfg), now_ms);
}

/*
 * Puts the endpoint back in service at <at_ms>, which is also where the
 * backoff starts to decay. The streaks are cleared, as in Envoy, so a few
 * new errors do not eject it again at once.
 */
static void uneject(struct swerve_outlier_state *st, uint64_t at_ms)
{
	st->ejected = 0;
	st->unejected_at_ms = at_ms;
	st->decay_from_ms = at_ms;
	st->c5xx = 0;
	st->gateway = 0;
	st->local_origin = 0;
}

/*
 * Fires the threshold of one streak. Only the streak that fired is reset,
 * as in Envoy's onConsecutiveErrorWorker; the others keep counting.
 */
/* What the failure <outcome> that fired the streak of <why> was. */
static enum swerve_outlier_cause cause_of(enum swerve_outcome outcome,
					  enum swerve_outlier_reason why,
					  bool split)
{
	switch (outcome) {
	case SWERVE_OUTCOME_HTTP_STATUS:
		return why == SWERVE_REASON_GATEWAY ? SWERVE_CAUSE_GATEWAY
						    : SWERVE_CAUSE_5XX;
	case SWERVE_OUTCOME_HTTP_TIMEOUT:
		return SWERVE_CAUSE_TIMEOUT;
	case SWERVE_OUTCOME_HTTP_RESET:
		return SWERVE_CAUSE_LOCAL_ORIGIN;
	case SWERVE_OUTCOME_CONNECT_FAILED:
	case SWERVE_OUTCOME_CONNECT_TIMEOUT:
		return split ? SWERVE_CAUSE_LOCAL_ORIGIN
			     : SWERVE_CAUSE_CONNECT_FAILURE;
	case SWERVE_OUTCOME_CONNECT_OK:
	case SWERVE_OUTCOME_HTTP_CONNECT_OK:
		break;
	}
	return SWERVE_CAUSE_NONE; /* a success fires nothing */
}

static enum swerve_outlier_event fire_threshold(
	struct swerve_outlier_state *st, const struct swerve_outlier_cfg *cfg,
	uint32_t *streak, uint32_t threshold, enum swerve_outlier_reason why,
	bool may_eject, uint64_t now_ms)
{
	if (threshold == 0 || *streak < threshold || st->ejected)
		return SWERVE_OUTLIER_NONE;
	st->reason = why;
	st->streak = *streak;
	if (!may_eject)
		return SWERVE_OUTLIER_OVERFLOW;
	eject(st, cfg, now_ms);
	*streak = 0;
	return SWERVE_OUTLIER_EJECT;
}

/* Envoy's putHttpResponseCode (semantics.md 5.1), counters only. */
static void put_http_code(struct swerve_outlier_state *st, int code)
{
	if (code >= 500 && code <= 599) {
		if (code >= 502 && code <= 504)
			bump(&st->gateway);
		else
			st->gateway = 0; /* a 500 breaks the gateway streak */
		bump(&st->c5xx);
	} else {
		st->c5xx = 0;
		st->gateway = 0;
	}
}

static void count_outcome(struct swerve_outlier_state *st,
			  const struct swerve_outlier_cfg *cfg,
			  enum swerve_outcome outcome, int http_status)
{
	bool split = cfg->split_external_local_origin;

	switch (outcome) {
	case SWERVE_OUTCOME_CONNECT_OK:
		if (split)
			st->local_origin = 0;
		else
			put_http_code(st, 200);
		break;
	case SWERVE_OUTCOME_HTTP_CONNECT_OK:
		/* Envoy maps no code to it: the responses will tell. */
		if (split)
			st->local_origin = 0;
		break;
	case SWERVE_OUTCOME_CONNECT_FAILED:
	case SWERVE_OUTCOME_CONNECT_TIMEOUT:
	case SWERVE_OUTCOME_HTTP_RESET:
		if (split)
			bump(&st->local_origin);
		else
			put_http_code(st, 503);
		break;
	case SWERVE_OUTCOME_HTTP_TIMEOUT:
		if (split)
			bump(&st->local_origin);
		else
			put_http_code(st, 504);
		break;
	case SWERVE_OUTCOME_HTTP_STATUS:
		put_http_code(st, http_status);
		/* The request had its connection (see the top). */
		if (split)
			st->local_origin = 0;
		break;
	}
}

enum swerve_outlier_event swerve_outlier_refresh(
	struct swerve_outlier_state *st, const struct swerve_outlier_cfg *cfg,
	uint64_t now_ms)
{
	enum swerve_outlier_event ev = SWERVE_OUTLIER_NONE;
	uint64_t iv = interval_of(cfg);
	uint64_t end, ticks;

	if (st->ejected) {
		end = add_sat(st->ejected_at_ms, st->ejection_ms);
		if (now_ms >= end) {
			uneject(st, end);
			ev = SWERVE_OUTLIER_UNEJECT;
		}
	}
	/*
	 * Envoy decays only hosts that have a last un-ejection time
	 * (unejected_at_ms != 0); before the first un-ejection decay_from_ms
	 * means nothing.
	 */
	if (!st->ejected && st->unejected_at_ms != 0 && st->backoff > 0 &&
	    now_ms > st->decay_from_ms) {
		ticks = (now_ms - st->decay_from_ms) / iv;
		if (ticks > st->backoff)
			ticks = st->backoff;
		st->backoff -= (uint32_t)ticks;
		st->decay_from_ms += ticks * iv;
	}
	return ev;
}

/*
 * Returns EJECT or OVERFLOW when the outcome caused one; otherwise UNEJECT
 * when the refresh before it un-ejected the endpoint, so the caller can log
 * it; otherwise NONE. A service without outlier detection (cfg->enabled
 * false, like an Istio DestinationRule without outlierDetection) keeps its
 * streaks for reporting but never ejects.
 */
enum swerve_outlier_event swerve_outlier_note(
	struct swerve_outlier_state *st, const struct swerve_outlier_cfg *cfg,
	enum swerve_outcome outcome, int http_status, bool may_eject,
	uint64_t now_ms)
{
	enum swerve_outlier_event ev, fired;

	ev = swerve_outlier_refresh(st, cfg, now_ms);
	count_outcome(st, cfg, outcome, http_status);
	if (!cfg->enabled)
		return ev;
	/*
	 * Envoy notifies the gateway streak before the 5xx one when a single
	 * code trips both; the second finds the host ejected and keeps its
	 * counter. The same order gives the same counters here.
	 */
	fired = fire_threshold(st, cfg, &st->gateway, cfg->consecutive_gateway,
			       SWERVE_REASON_GATEWAY, may_eject, now_ms);
	if (fired == SWERVE_OUTLIER_NONE)
		fired = fire_threshold(st, cfg, &st->c5xx,
				       cfg->consecutive_5xx, SWERVE_REASON_5XX,
				       may_eject, now_ms);
	if (fired == SWERVE_OUTLIER_NONE && cfg->split_external_local_origin)
		fired = fire_threshold(st, cfg, &st->local_origin,
				       cfg->consecutive_local_origin,
				       SWERVE_REASON_LOCAL_ORIGIN, may_eject,
				       now_ms);
	if (fired == SWERVE_OUTLIER_NONE)
		return ev;
	st->cause = cause_of(outcome, (enum swerve_outlier_reason)st->reason,
			     cfg->split_external_local_origin);
	return fired;
}

uint64_t swerve_outlier_ejected_until(const struct swerve_outlier_state *st,
				      const struct swerve_outlier_cfg *cfg)
{
	(void)cfg; /* the length was fixed when the ejection started */
	if (!st->ejected)
		return 0;
	return add_sat(st->ejected_at_ms, st->ejection_ms);
}

void swerve_outlier_operator_eject(struct swerve_outlier_state *st,
				   uint64_t duration_ms, uint64_t now_ms)
{
	/*
	 * No config here, so no refresh: an earlier ejection still running
	 * is simply replaced by this one, and the backoff is left alone.
	 */
	start_ejection(st, duration_ms, now_ms);
	st->reason = SWERVE_REASON_OPERATOR;
	st->streak = 0;
	st->cause = SWERVE_CAUSE_NONE;
}

enum swerve_outlier_event swerve_outlier_operator_uneject(
	struct swerve_outlier_state *st, uint64_t now_ms)
{
	bool in_force;

	if (!st->ejected)
		return SWERVE_OUTLIER_NONE;
	/* An ejection whose time passed unrefreshed is over already. */
	in_force = add_sat(st->ejected_at_ms, st->ejection_ms) > now_ms;
	uneject(st, now_ms);
	return in_force ? SWERVE_OUTLIER_UNEJECT : SWERVE_OUTLIER_NONE;
}

void swerve_outlier_reset(struct swerve_outlier_state *st)
{
	memset(st, 0, sizeof(*st));
}

/*
 * The state was written by this code, so at worst it is half-updated by a
 * process that died in the middle; anything outside what this code can
 * produce is treated as damage and reset towards "in service": fail open.
 */
void swerve_outlier_repair(struct swerve_outlier_state *st,
			   uint64_t max_ejection_ms, uint64_t now_ms)
{
	if (st->ejected > 1)
		st->ejected = 1;
	if (st->cause > SWERVE_CAUSE_LOCAL_ORIGIN)
		st->cause = SWERVE_CAUSE_NONE;
	st->unused = 0;
	if (st->ejection_ms > max_ejection_ms) {
		st->ejection_ms = 0;
		st->ejected = 0;
	}
	if (now_ms == 0)
		return;
	/* CLOCK_MONOTONIC never runs backwards: future stamps are damage. */
	if (st->ejected_at_ms > now_ms)
		st->ejected_at_ms = now_ms;
	if (st->unejected_at_ms > now_ms)
		st->unejected_at_ms = now_ms;
	if (st->decay_from_ms > now_ms)
		st->decay_from_ms = now_ms;
}

uint32_t swerve_outlier_threshold(const struct swerve_outlier_cfg *cfg,
				  enum swerve_outlier_reason reason)
{
	switch (reason) {
	case SWERVE_REASON_5XX:
		return cfg->consecutive_5xx;
	case SWERVE_REASON_GATEWAY:
		return cfg->consecutive_gateway;
	case SWERVE_REASON_LOCAL_ORIGIN:
		return cfg->consecutive_local_origin;
	case SWERVE_REASON_NONE:
	case SWERVE_REASON_EXPIRED:
	case SWERVE_REASON_OPERATOR:
	case SWERVE_REASON_HEALTH:
		break;
	}
	return 0;
}

const char *swerve_outlier_reason_name(enum swerve_outlier_reason reason)
{
	switch (reason) {
	case SWERVE_REASON_5XX:
		return "consecutive_5xx";
	case SWERVE_REASON_GATEWAY:
		return "consecutive_gateway";
	case SWERVE_REASON_LOCAL_ORIGIN:
		return "consecutive_local_origin";
	case SWERVE_REASON_EXPIRED:
		return "ejection_time_over";
	case SWERVE_REASON_OPERATOR:
		return "operator";
	case SWERVE_REASON_HEALTH:
		return "healthy_below_threshold";
	case SWERVE_REASON_NONE:
		break;
	}
	return "none";
}

const char *swerve_outlier_cause_name(enum swerve_outlier_cause cause)
{
	switch (cause) {
	case SWERVE_CAUSE_5XX:
		return "5xx";
	case SWERVE_CAUSE_GATEWAY:
		return "gateway";
	case SWERVE_CAUSE_TIMEOUT:
		return "timeout";
	case SWERVE_CAUSE_CONNECT_FAILURE:
		return "connect-failure";
	case SWERVE_CAUSE_LOCAL_ORIGIN:
		return "local-origin";
	case SWERVE_CAUSE_NONE:
		break;
	}
	return "none";
}

uint32_t swerve_outlier_max_ejected(const struct swerve_outlier_cfg *cfg,
				    uint32_t nendpoints)
{
	uint64_t pct = cfg->max_ejection_percent;
	uint64_t k;

	/* Envoy clamps the percentage to 100 (semantics.md 5.3). */
	if (pct > 100)
		pct = 100;
	k = pct * nendpoints / 100;
	if (k < cfg->min_ejectable_hosts)
		k = cfg->min_ejectable_hosts;
	if (k > nendpoints)
		k = nendpoints;
	return (uint32_t)k;
}
