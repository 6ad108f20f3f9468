/*
 * retry.c: the retry decisions of one request (see retry.h).
 *
 * Thread-safety: pure functions.
 */
#include <string.h>

#include "policy/retry.h"

enum swerve_retry_method swerve_retry_method(const void *req, size_t len)
{
	static const char *const idempotent[] = {
		"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE",
	};
	const char *s = req, *sp;
	size_t i, n;

	while (len > 0 && (*s == '\r' || *s == '\n')) {
		s++;
		len--;
	}
	sp = memchr(s, ' ', len);
	if (sp == NULL)
		/* "OPTIONS" is the longest: a longer word is no match. */
		return len > 7 ? SWERVE_RETRY_METHOD_NOT
			       : SWERVE_RETRY_METHOD_MORE;
	n = (size_t)(sp - s);
	/* Methods are case-sensitive (RFC 9110 9.1): "get" is another. */
	for (i = 0; i < sizeof(idempotent) / sizeof(idempotent[0]); i++)
		if (strlen(idempotent[i]) == n &&
		    memcmp(idempotent[i], s, n) == 0)
			return SWERVE_RETRY_METHOD_IDEMPOTENT;
	return SWERVE_RETRY_METHOD_NOT;
}

bool swerve_retry_on_status(const struct swerve_retry_cfg *rc, int status)
{
	unsigned i;

	if ((rc->on & SWERVE_RETRY_ON_5XX) && status >= 500 && status <= 599)
		return true;
	if ((rc->on & SWERVE_RETRY_ON_GATEWAY_ERROR) &&
	    (status == 502 || status == 503 || status == 504))
		return true;
	if ((rc->on & SWERVE_RETRY_ON_RETRIABLE_4XX) && status == 409)
		return true;
	if (!(rc->on & SWERVE_RETRY_ON_STATUS_CODES))
		return false;
	for (i = 0; i < rc->ncodes && i < SWERVE_MAX_RETRIABLE_CODES; i++)
		if (rc->codes[i] == status)
			return true;
	return false;
}

bool swerve_retry_on_reset(const struct swerve_retry_cfg *rc)
{
	return (rc->on & (SWERVE_RETRY_ON_RESET | SWERVE_RETRY_ON_5XX |
			  SWERVE_RETRY_ON_GATEWAY_ERROR)) != 0;
}

uint64_t swerve_retry_backoff_ms(unsigned n, uint64_t rnd)
{
	uint64_t ceiling = SWERVE_RETRY_BASE_MS;

	while (n > 1 && ceiling < SWERVE_RETRY_MAX_MS) {
		ceiling *= 2;
		n--;
	}
	if (ceiling > SWERVE_RETRY_MAX_MS)
		ceiling = SWERVE_RETRY_MAX_MS;
	return rnd % ceiling;
}
