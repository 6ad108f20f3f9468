/*
 * outlier: Envoy's consecutive-error outlier detection for one endpoint, as a
 * pure state machine, and the only code that changes its state (operator
 * edits included). It owns no memory and does no I/O: the caller passes
 * the state, the config and the time, so tests inject the clock and the
 * shared table (shm.c) applies it under the row lock.
 *
 * Thread-safety: none needed; every call works on the state it is given.
 */
#ifndef SWERVE_OUTLIER_H
#define SWERVE_OUTLIER_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/config.h"

/* What one attempt to an endpoint came to (Envoy's putResult kinds). */
enum swerve_outcome {
	SWERVE_OUTCOME_CONNECT_OK = 0,      /* TCP connection established */
	SWERVE_OUTCOME_CONNECT_FAILED = 1,  /* refused, unreachable, reset */
	SWERVE_OUTCOME_CONNECT_TIMEOUT = 2, /* deadline passed or abandoned */
	/*
	 * An HTTP response status (protocol = http), counted as Envoy's
	 * putHttpResponseCode counts it: 5xx and gateway streaks. In split
	 * mode any status also ends the local-origin streak: a response
	 * means its request had a connection, which Envoy reports for every
	 * request (LocalOriginConnectSuccess) before its response comes.
	 */
	SWERVE_OUTCOME_HTTP_STATUS = 3,
	/*
	 * protocol = http (the HTTP tracker reports these). Envoy's
	 * LocalOriginConnectSuccess: a connection of a two-layer protocol
	 * was established; in non-split mode it touches no streak (the
	 * responses will tell), in split mode it resets local_origin.
	 */
	SWERVE_OUTCOME_HTTP_CONNECT_OK = 4,
	/* Reset or EOF before a response's header block: Envoy's
	 * LocalOriginConnectFailed (a 503 in non-split mode). */
	SWERVE_OUTCOME_HTTP_RESET = 5,
	/* A request abandoned unanswered after response_timeout: Envoy's
	 * LocalOriginTimeout (a 504 in non-split mode). */
	SWERVE_OUTCOME_HTTP_TIMEOUT = 6,
};

enum swerve_outlier_event {
	SWERVE_OUTLIER_NONE = 0,
	SWERVE_OUTLIER_EJECT = 1,
	SWERVE_OUTLIER_UNEJECT = 2,
	SWERVE_OUTLIER_OVERFLOW = 3, /* threshold reached, cap said no */
};

/* Why an endpoint was ejected or un-ejected (the event log shows it). */
enum swerve_outlier_reason {
	SWERVE_REASON_NONE = 0,
	SWERVE_REASON_5XX = 1,          /* consecutive_5xx_errors */
	SWERVE_REASON_GATEWAY = 2,      /* consecutive_gateway_errors */
	SWERVE_REASON_LOCAL_ORIGIN = 3, /* consecutive_local_origin_failures */
	SWERVE_REASON_EXPIRED = 4,      /* the ejection time is over */
	SWERVE_REASON_OPERATOR = 5,     /* swervectl eject / uneject */
	SWERVE_REASON_HEALTH = 6,       /* panic: too few healthy endpoints */
};

/*
 * What the failure that tripped a streak was (the reason says which
 * streak): the event log and swervectl show it, as `5xx`, `gateway`,
 * `timeout`, `connect-failure` or `local-origin`.
 */
enum swerve_outlier_cause {
	SWERVE_CAUSE_NONE = 0,            /* operator edits, or not known */
	SWERVE_CAUSE_5XX = 1,             /* an HTTP 5xx, by the 5xx streak */
	SWERVE_CAUSE_GATEWAY = 2,         /* an HTTP 502/503/504, by the
					   * gateway streak */
	SWERVE_CAUSE_TIMEOUT = 3,         /* a response timeout */
	SWERVE_CAUSE_CONNECT_FAILURE = 4, /* a connect refused, unreachable
					   * or timed out (non-split) */
	SWERVE_CAUSE_LOCAL_ORIGIN = 5,    /* a reset before the response, or
					   * in split mode a connect failure */
};

/* Per endpoint; lives inside a shared-table row. Plain data, no pointers. */
struct swerve_outlier_state {
	uint32_t c5xx;           /* consecutive 5xx (connect failures: 503) */
	uint32_t gateway;        /* consecutive 502/503/504 */
	uint32_t local_origin;   /* consecutive local-origin failures (split) */
	uint32_t backoff;        /* Envoy's ejectTimeBackoff */
	uint32_t ejections;      /* times ejected, reported only */
	uint32_t ejected;        /* 1 while ejected */
	uint64_t ejected_at_ms;  /* last ejection, 0 = never */
	uint64_t ejection_ms;    /* length of the current (last) ejection,
				  * fixed when it starts: min(base * backoff,
				  * max) rounded up to whole intervals, or an
				  * operator's choice (swervectl eject) */
	uint64_t unejected_at_ms; /* last un-ejection, 0 = never */
	uint64_t decay_from_ms;  /* backoff decays one step per interval from here */
	uint32_t reason;         /* enum swerve_outlier_reason of the last
				  * ejection or overflow */
	uint32_t streak;         /* the streak that caused it, as it stood */
	uint32_t cause;          /* enum swerve_outlier_cause of the same */
	uint32_t unused;         /* 0: the struct has no implicit padding,
				  * which copies and memcmp would see */
};

/*
 * Brings <st> up to <now_ms>: un-ejects an endpoint whose ejection time has
 * passed (at the interval tick where Envoy's timer would have done it,
 * counting ticks from the ejection) and decays the backoff by one per
 * healthy interval. Returns SWERVE_OUTLIER_UNEJECT when it un-ejected, else
 * SWERVE_OUTLIER_NONE.
 */
enum swerve_outlier_event swerve_outlier_refresh(
	struct swerve_outlier_state *st, const struct swerve_outlier_cfg *cfg,
	uint64_t now_ms);

/*
 * Records one outcome at <now_ms> (after refreshing <st>). <http_status> is
 * read only for SWERVE_OUTCOME_HTTP_STATUS. <may_eject> is whether the
 * ejection cap of the service allows one more ejection now (see
 * swerve_outlier_max_ejected). Returns the event the outcome caused.
 */
enum swerve_outlier_event swerve_outlier_note(
	struct swerve_outlier_state *st, const struct swerve_outlier_cfg *cfg,
	enum swerve_outcome outcome, int http_status, bool may_eject,
	uint64_t now_ms);

/*
 * When the current ejection of <st> ends (ms on the same clock), or 0 when it
 * is not ejected. Readers on the connect path use this value, published in
 * the row, without taking the lock. <cfg> is not read (the length was fixed
 * when the ejection started) and may be NULL.
 */
uint64_t swerve_outlier_ejected_until(const struct swerve_outlier_state *st,
				      const struct swerve_outlier_cfg *cfg);

/*
 * An operator's ejection (swervectl eject) of <duration_ms> from <now_ms>:
 * counts as an ejection with reason SWERVE_REASON_OPERATOR and replaces
 * one still running. The backoff is left alone, and nothing is refreshed
 * first, as there is no config to refresh with.
 */
void swerve_outlier_operator_eject(struct swerve_outlier_state *st,
				   uint64_t duration_ms, uint64_t now_ms);

/*
 * An operator's un-ejection (swervectl uneject) at <now_ms>: the endpoint
 * is back in service with its streaks cleared and its backoff decaying from
 * <now_ms>. Returns SWERVE_OUTLIER_UNEJECT when this ended an ejection that
 * was still in force, SWERVE_OUTLIER_NONE when the endpoint was in service
 * or its ejection time had passed already.
 */
enum swerve_outlier_event swerve_outlier_operator_uneject(
	struct swerve_outlier_state *st, uint64_t now_ms);

/* A fresh state (swervectl reset): no streaks, backoff or history. */
void swerve_outlier_reset(struct swerve_outlier_state *st);

/*
 * Makes <st> usable again after a process died while changing it (the
 * shared table's robust lock tells): a state this module cannot produce is
 * reset towards "in service". Ejections longer than <max_ejection_ms> and
 * stamps later than <now_ms> (0: not checked) count as damage.
 */
void swerve_outlier_repair(struct swerve_outlier_state *st,
			   uint64_t max_ejection_ms, uint64_t now_ms);

/*
 * How many endpoints of a service with <nendpoints> endpoints may be ejected
 * at once: max(min_ejectable_hosts, floor(max_ejection_percent * n / 100)),
 * never more than n.
 */
uint32_t swerve_outlier_max_ejected(const struct swerve_outlier_cfg *cfg,
				    uint32_t nendpoints);

/* The threshold of the streak behind <reason>, 0 for the other reasons. */
uint32_t swerve_outlier_threshold(const struct swerve_outlier_cfg *cfg,
				  enum swerve_outlier_reason reason);

/* "consecutive_5xx", "operator", ...: a stable name for logs and JSON. */
const char *swerve_outlier_reason_name(enum swerve_outlier_reason reason);

/* "5xx", "gateway", "timeout", "connect-failure", "local-origin"; "none"
 * for SWERVE_CAUSE_NONE and values out of range. */
const char *swerve_outlier_cause_name(enum swerve_outlier_cause cause);

#endif
