/*
 * config_retry.c: the retry keys, Istio's HTTPRetry in snake_case:
 * retries (attempts), retry_on (retryOn) and retriable_status_codes (the
 * mesh default's 503). They are tuning keys ([defaults] or a service), and
 * they apply only where swerve can resend a request: a service the TLS
 * relay carries (protocol = http with tls = simple or mutual). Given in
 * [defaults] they reach those services alone; given in the section of
 * another service they are an error, as they would do nothing there.
 *
 * retry_on takes Istio's names of the conditions that mean something for
 * HTTP/1.1, and refuses the others (HTTP/2, HTTP/3 and gRPC conditions,
 * Envoy's own rate limiter) with the reason. Its value is a set of
 * SWERVE_RETRY_ON_* bits. retriable_status_codes is a list of at most
 * SWERVE_MAX_RETRIABLE_CODES statuses, packed 10 bits each into the one
 * 64-bit value that a tuning key holds (every status is below 1024 and
 * above 0, so a zero field ends the list).
 *
 * Thread-safety: used only by the thread loading a config, with all state
 * in its struct parse.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/config_int.h"

#define CODE_BITS 10
#define CODE_MASK ((1u << CODE_BITS) - 1)

static const struct {
	const char *name;
	uint32_t bit;
} conditions[] = {
	{ "connect-failure", SWERVE_RETRY_ON_CONNECT_FAILURE },
	{ "reset", SWERVE_RETRY_ON_RESET },
	{ "5xx", SWERVE_RETRY_ON_5XX },
	{ "gateway-error", SWERVE_RETRY_ON_GATEWAY_ERROR },
	{ "retriable-4xx", SWERVE_RETRY_ON_RETRIABLE_4XX },
	{ "retriable-status-codes", SWERVE_RETRY_ON_STATUS_CODES },
};

/* Istio's (Envoy's) conditions that cannot apply here, and why. */
static const struct {
	const char *name;
	const char *why;
} refused[] = {
	{ "refused-stream", "it is an HTTP/2 stream refusal, and the relay "
			    "speaks HTTP/1.1 to the endpoints" },
	{ "reset-before-request", "swerve resends only a request it has "
				  "sent in full, so it would never apply: "
				  "use reset" },
	{ "envoy-ratelimited", "it is the answer of Envoy's own rate "
			       "limiter, and swerve has none" },
	{ "retriable-headers", "it needs retriable response headers, which "
			       "swerve does not configure" },
	{ "http3-post-connect-failure", "it is an HTTP/3 condition" },
	{ "cancelled", "it is a gRPC status, and gRPC needs HTTP/2" },
	{ "deadline-exceeded", "it is a gRPC status, and gRPC needs HTTP/2" },
	{ "internal", "it is a gRPC status, and gRPC needs HTTP/2" },
	{ "resource-exhausted", "it is a gRPC status, and gRPC needs HTTP/2" },
	{ "unavailable", "it is a gRPC status, and gRPC needs HTTP/2" },
};

/* What a list's items add up to: a set of bits, or packed statuses. */
struct items {
	uint64_t value;
	unsigned n;
};

/*
 * Hands each comma-separated item of <value> (blanks trimmed) to <one>,
 * which adds it to <acc> or reports what is wrong with it. Returns 0, or
 * -EINVAL when an item was wrong.
 */
static int each_item(struct parse *p, const char *value,
		     bool (*one)(struct parse *p, const char *item,
				 struct items *acc),
		     struct items *acc)
{
	char item[CONFIG_LINE_MAX];
	const char *comma;
	bool ok = true;

	for (;;) {
		comma = strchr(value, ',');
		config_copy_trimmed(item, sizeof(item), value,
				    comma != NULL ? (size_t)(comma - value)
						  : strlen(value));
		if (!one(p, item, acc))
			ok = false;
		if (comma == NULL)
			break;
		value = comma + 1;
	}
	return ok ? 0 : -EINVAL;
}

/* One condition of retry_on: its bit, or 0 after reporting. */
static uint32_t condition_bit(struct parse *p, const char *item)
{
	size_t i;

	if (*item == '\0') {
		config_error(p, "empty condition in retry_on");
		return 0;
	}
	for (i = 0; i < SWERVE_ARRAY_LEN(conditions); i++)
		if (strcmp(conditions[i].name, item) == 0)
			return conditions[i].bit;
	for (i = 0; i < SWERVE_ARRAY_LEN(refused); i++) {
		if (strcmp(refused[i].name, item) == 0) {
			config_error(p, "retry_on: %s does not apply here: %s",
				     item, refused[i].why);
			return 0;
		}
	}
	if (is_digit(item[0])) {
		config_error(p, "retry_on: %s is a status: list it in "
			     "retriable_status_codes (Istio's retryOn takes "
			     "statuses too, swerve gives them a key of their "
			     "own)", item);
		return 0;
	}
	config_error(p, "retry_on: '%s' is not a retry condition: use "
		     "connect-failure, reset, 5xx, gateway-error, "
		     "retriable-4xx or retriable-status-codes", item);
	return 0;
}

static bool add_condition(struct parse *p, const char *item,
			  struct items *acc)
{
	uint32_t bit = condition_bit(p, item);

	if (bit == 0)
		return false;
	if (acc->value & bit) {
		config_error(p, "retry_on lists %s twice", item);
		return false;
	}
	acc->value |= bit;
	return true;
}

int config_parse_retry_on(struct parse *p, const struct key_spec *key,
			  const char *value, uint64_t *out)
{
	struct items acc = { 0, 0 };

	(void)key;
	if (each_item(p, value, add_condition, &acc) < 0)
		return -EINVAL;
	*out = acc.value;
	return 0;
}

/* Whether the packed list <acc> holds <code>. */
static bool has_code(const struct items *acc, unsigned code)
{
	unsigned i;

	for (i = 0; i < acc->n && i < SWERVE_MAX_RETRIABLE_CODES; i++)
		if (((acc->value >> (CODE_BITS * i)) & CODE_MASK) == code)
			return true;
	return false;
}

/* One status of retriable_status_codes, 100 to 599. */
static bool add_code(struct parse *p, const char *item, struct items *acc)
{
	uint64_t v;

	if (strlen(item) != 3 || config_parse_uint(item, 599, &v) < 0 ||
	    v < 100) {
		config_error(p, "retriable_status_codes: '%s' is not an HTTP "
			     "status (three digits, 100 to 599)", item);
		return false;
	}
	if (has_code(acc, (unsigned)v)) {
		config_error(p, "retriable_status_codes lists %u twice",
			     (unsigned)v);
		return false;
	}
	/* Said once; the statuses after the last one kept are dropped. */
	if (acc->n >= SWERVE_MAX_RETRIABLE_CODES) {
		if (acc->n++ == SWERVE_MAX_RETRIABLE_CODES)
			config_error(p, "retriable_status_codes lists more "
				     "than %d statuses",
				     SWERVE_MAX_RETRIABLE_CODES);
		return false;
	}
	acc->value |= v << (CODE_BITS * acc->n++);
	return true;
}

int config_parse_status_codes(struct parse *p, const struct key_spec *key,
			      const char *value, uint64_t *out)
{
	struct items acc = { 0, 0 };

	(void)key;
	if (each_item(p, value, add_code, &acc) < 0)
		return -EINVAL;
	*out = acc.value;
	return 0;
}

/*
 * A retry key given in the section of a service the relay does not carry
 * (<svc>): why it would do nothing there.
 */
static void refuse_key(struct parse *p, const struct swerve_service *svc,
		       const char *name, int line)
{
	if (svc->tls.mode == SWERVE_TLS_DISABLE)
		config_report_at(p, true, line, "%s does nothing in [service "
				 "%s]: without tls = simple or mutual swerve "
				 "only observes the application's own "
				 "connection to the endpoint, and cannot send "
				 "a request again", name, svc->name);
	else
		config_report_at(p, true, line, "%s does nothing in [service "
				 "%s]: its protocol is tcp, whose bytes hold "
				 "no request to send again (set protocol = "
				 "http)", name, svc->name);
}

void config_check_retry(struct parse *p, const struct tuning *t,
			const struct tuning *own, const char *where)
{
	int line = own->line[TK_RETRIABLE_CODES] != 0
			   ? own->line[TK_RETRIABLE_CODES]
			   : own->line[TK_RETRY_ON];

	/* Envoy reads the codes only for retriable-status-codes. */
	if (line != 0 && t->line[TK_RETRIABLE_CODES] != 0 &&
	    !(t->value[TK_RETRY_ON] & SWERVE_RETRY_ON_STATUS_CODES))
		config_report_at(p, true, line, "retriable_status_codes needs "
				 "retriable-status-codes in retry_on in %s",
				 where);
}

void config_apply_retry(struct parse *p, struct swerve_service *svc,
			const struct tuning *t, const struct tuning *own)
{
	static const int keys[] = { TK_RETRIES, TK_RETRY_ON,
				    TK_RETRIABLE_CODES };
	static const char *const names[] = { "retries", "retry_on",
					     "retriable_status_codes" };
	struct swerve_retry_cfg *rc = &svc->retry;
	uint64_t codes = t->value[TK_RETRIABLE_CODES];
	char where[SERVICE_NAME_MAX + 16];
	size_t i;

	memset(rc, 0, sizeof(*rc));
	if (svc->protocol != SWERVE_PROTOCOL_HTTP ||
	    svc->tls.mode == SWERVE_TLS_DISABLE) {
		for (i = 0; i < SWERVE_ARRAY_LEN(keys); i++)
			if (own->line[keys[i]] != 0)
				refuse_key(p, svc, names[i],
					   own->line[keys[i]]);
		return;
	}
	snprintf(where, sizeof(where), "[service %s]", svc->name);
	config_check_retry(p, t, own, where);
	rc->attempts = (uint32_t)t->value[TK_RETRIES];
	rc->on = (uint32_t)t->value[TK_RETRY_ON];
	while (rc->ncodes < SWERVE_MAX_RETRIABLE_CODES &&
	       (codes & CODE_MASK) != 0) {
		rc->codes[rc->ncodes++] = (uint16_t)(codes & CODE_MASK);
		codes >>= CODE_BITS;
	}
}
