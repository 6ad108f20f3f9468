/*
 * retry: the decisions of Envoy's router retries for one HTTP/1.1 request,
 * as the TLS relay takes them (src/preload/pump_retry.c does the moving):
 * whether a request may be sent again (its method), whether a response's
 * status or a reset calls for it (retry_on), and the wait before it
 * (Envoy's fully jittered exponential back-off). Pure: no I/O, no
 * allocation, no globals; the random number is passed in.
 *
 * Thread-safety: none needed.
 */
#ifndef SWERVE_RETRY_H
#define SWERVE_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"

/* Envoy's default back-off: a 25 ms base, at most ten times that. */
#define SWERVE_RETRY_BASE_MS 25
#define SWERVE_RETRY_MAX_MS 250

enum swerve_retry_method {
	SWERVE_RETRY_METHOD_MORE = 0,  /* the method is not complete yet */
	SWERVE_RETRY_METHOD_IDEMPOTENT = 1,
	SWERVE_RETRY_METHOD_NOT = 2,   /* POST, PATCH, CONNECT, anything else */
};

/*
 * The class of the method of the request whose first <len> bytes are
 * <req> (empty lines before it are skipped, as RFC 9112 2.2 allows):
 * idempotent for GET, HEAD, OPTIONS, TRACE, PUT and DELETE (RFC 9110
 * 9.2.2), the only ones swerve sends again.
 */
enum swerve_retry_method swerve_retry_method(const void *req, size_t len);

/* Whether a final response of <status> calls for a retry under <rc>. */
bool swerve_retry_on_status(const struct swerve_retry_cfg *rc, int status);

/*
 * Whether the endpoint ending the connection before a response's header
 * block calls for a retry under <rc>: reset, and as in Envoy 5xx and
 * gateway-error, which count a reset as the 503 it becomes.
 */
bool swerve_retry_on_reset(const struct swerve_retry_cfg *rc);

/*
 * The wait before retry <n> (1 for the first), from the random number
 * <rnd>: uniform in [0, min(25 ms << (n - 1), 250 ms)), Envoy's
 * JitteredExponentialBackOffStrategy with its defaults.
 */
uint64_t swerve_retry_backoff_ms(unsigned n, uint64_t rnd);

#endif
