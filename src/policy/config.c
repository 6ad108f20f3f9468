/*
 * config.c: INI file -> immutable struct swerve_config.
 *
 * inih drives the parse, but two of its limits shape this file: it does not
 * tell the handler the line number (Debian builds it with
 * INI_HANDLER_LINENO 0), and it cuts section names to 49 bytes, shorter
 * than "service " plus a 63-byte name. So read_line(), the reader given to
 * ini_parse_stream(), sees every physical line first: it counts lines,
 * classifies each one the way inih will, and opens sections itself. inih
 * calls the reader once per line and the handler right after it, so the
 * handler always finds the current line and section in struct parse.
 *
 * Loading then works in three steps:
 *   1. handle_pair() stores every key as written (tuning keys as numbers,
 *      with the line they came from) and reports what is wrong with a
 *      value on its own;
 *   2. finish() resolves each tuning key of each service: its own value,
 *      else [defaults], else the built-in default, so [defaults] may appear
 *      anywhere in the file; then it runs the checks that involve several
 *      keys or the whole file;
 *   3. assign_vips() derives the service addresses.
 * Every problem is reported and parsing goes on, so `swervectl check` lists
 * them all at once; any error makes the load fail.
 *
 * Service addresses must come out the same in every process that loads the
 * file, without the processes talking to each other, and should not move
 * when a service is added. Each service hashes its name to a start offset
 * inside vip_cidr and takes the next free addresses from there (linear
 * probing) in file order: adding a service can only move another one when
 * both hash to the same spot and the new one comes first in the file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "policy/config.h"

#define SERVICE_NAME_MAX 63
#define WEIGHT_MAX 10000

enum section_kind {
	SECTION_NONE = 0,       /* before the first header */
	SECTION_SWERVE = 1,
	SECTION_DEFAULTS = 2,
	SECTION_SERVICE = 3,
	SECTION_IGNORED = 4,    /* a bad header, already reported */
};

enum swerve_key {
	SK_LOCALITY = 0,
	SK_VIP_CIDR = 1,
	SK_SHM = 2,
	SK_LOG = 3,
	SK_DNS_SERVERS = 4,
	SK_COUNT = 5,
};

static const char *const swerve_keys[SK_COUNT] = {
	"locality", "vip_cidr", "shm", "log", "dns_servers",
};

static const char *const service_keys[] = {
	"hosts", "ports", "endpoint", "failover", "failover_priority",
	"distribute",
};

enum value_kind {
	VALUE_UINT = 0,
	VALUE_DURATION = 1,
	VALUE_BOOL = 2,
	VALUE_LB = 3,
	VALUE_RESOLUTION = 4,
};

/* Keys allowed both in [defaults] and in [service NAME]. */
enum tuning_key {
	TK_CONSECUTIVE_5XX = 0,
	TK_CONSECUTIVE_GATEWAY,
	TK_CONSECUTIVE_LOCAL_ORIGIN,
	TK_SPLIT,
	TK_INTERVAL,
	TK_BASE_EJECTION,
	TK_MAX_EJECTION,
	TK_MAX_EJECTION_PERCENT,
	TK_MIN_EJECTABLE_HOSTS,
	TK_MIN_HEALTH_PERCENT,
	TK_LB,
	TK_OVERPROVISIONING,
	TK_CONNECT_TIMEOUT,
	TK_CONNECT_ATTEMPTS,
	TK_RESOLUTION,
	TK_DNS_MIN_TTL,
	TK_DNS_MAX_TTL,
	TK_DNS_TIMEOUT,
	TK_COUNT,
};

struct tuning_spec {
	const char *name;
	enum value_kind kind;
	uint64_t min;
	uint64_t max;
	uint64_t def;
	bool outlier;           /* giving it turns outlier detection on */
	const char *hint;       /* appended to range errors, or NULL */
};

/*
 * Defaults follow Istio's OutlierDetection and Envoy's cluster settings,
 * except min_ejectable_hosts, which is swerve's own floor. The default of
 * max_ejection_time depends on base_ejection_time: resolve_tuning().
 */
static const struct tuning_spec tuning_specs[TK_COUNT] = {
	[TK_CONSECUTIVE_5XX] = { "consecutive_5xx_errors", VALUE_UINT,
				 0, UINT32_MAX, 5, true, NULL },
	[TK_CONSECUTIVE_GATEWAY] = { "consecutive_gateway_errors", VALUE_UINT,
				     0, UINT32_MAX, 0, true, NULL },
	[TK_CONSECUTIVE_LOCAL_ORIGIN] = { "consecutive_local_origin_failures",
					  VALUE_UINT, 0, UINT32_MAX, 5, true,
					  NULL },
	[TK_SPLIT] = { "split_external_local_origin_errors", VALUE_BOOL,
		       0, 1, 0, true, NULL },
	[TK_INTERVAL] = { "interval", VALUE_DURATION,
			  1, UINT64_MAX, 10000, true, NULL },
	[TK_BASE_EJECTION] = { "base_ejection_time", VALUE_DURATION,
			       1, UINT64_MAX, 30000, true, NULL },
	[TK_MAX_EJECTION] = { "max_ejection_time", VALUE_DURATION,
			      1, UINT64_MAX, 300000, true, NULL },
	[TK_MAX_EJECTION_PERCENT] = { "max_ejection_percent", VALUE_UINT,
				      0, 100, 10, true, NULL },
	[TK_MIN_EJECTABLE_HOSTS] = { "min_ejectable_hosts", VALUE_UINT,
				     0, SWERVE_MAX_ENDPOINTS, 1, true, NULL },
	[TK_MIN_HEALTH_PERCENT] = { "min_health_percent", VALUE_UINT,
				    0, 100, 0, true, NULL },
	[TK_LB] = { "lb", VALUE_LB, 0, 2, SWERVE_LB_ROUND_ROBIN, false, NULL },
	[TK_OVERPROVISIONING] = { "overprovisioning_factor", VALUE_UINT,
				  100, 1000, 140, false,
				  " (a percentage: 140 means 1.4)" },
	[TK_CONNECT_TIMEOUT] = { "connect_timeout", VALUE_DURATION,
				 1, UINT64_MAX, 10000, false, NULL },
	[TK_CONNECT_ATTEMPTS] = { "connect_attempts", VALUE_UINT,
				  1, 16, 3, false, NULL },
	/* Istio's ServiceEntry resolution; Envoy's dns_refresh_rate (5s) is
	 * the floor under a record's TTL. */
	[TK_RESOLUTION] = { "resolution", VALUE_RESOLUTION, 0, 1, 0, false,
			    NULL },
	[TK_DNS_MIN_TTL] = { "dns_min_ttl", VALUE_DURATION,
			     1, UINT64_MAX, 5000, false, NULL },
	[TK_DNS_MAX_TTL] = { "dns_max_ttl", VALUE_DURATION,
			     1, UINT64_MAX, 300000, false, NULL },
	[TK_DNS_TIMEOUT] = { "dns_timeout", VALUE_DURATION,
			     1, UINT64_MAX, 2000, false, NULL },
};

static const char *const lb_names[] = {
	[SWERVE_LB_ROUND_ROBIN] = "round_robin",
	[SWERVE_LB_LEAST_REQUEST] = "least_request",
	[SWERVE_LB_RANDOM] = "random",
};

/* Tuning keys as given in one section; line 0 means "not given". */
struct tuning {
	uint64_t value[TK_COUNT];
	int line[TK_COUNT];
};

/* What a service needs while loading only; parallel to cfg->services. */
struct service_state {
	struct tuning tuning;
	unsigned cap_endpoints;
	unsigned cap_distribute;
};

struct parse {
	const char *path;
	struct swerve_config *cfg;
	struct service_state *states;
	unsigned cap_services;
	struct tuning defaults;
	FILE *file;
	int lineno;
	bool prev_name;         /* inih's "continuation lines allowed" */
	enum section_kind section;
	unsigned service;       /* index when section is SECTION_SERVICE */
	int swerve_line;        /* header lines, 0 when absent */
	int defaults_line;
	int swerve_key_line[SK_COUNT];
	int first_syntax_line;
	unsigned nerrors;
	bool oom;
	int read_errno;
	swerve_config_report_fn report;
	void *ctx;
	char *err;
	size_t errlen;
};

static void deliver(struct parse *p, bool is_error, const char *text)
{
	if (is_error) {
		if (p->nerrors == 0 && p->err != NULL && p->errlen > 0)
			snprintf(p->err, p->errlen, "%s", text);
		p->nerrors++;
	}
	if (p->report != NULL)
		p->report(p->ctx, is_error, text);
}

/* Reports "<path>:<line>: <message>", or "<path>: <message>" for line 0. */
static void report_at(struct parse *p, bool is_error, int line,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report_at(struct parse *p, bool is_error, int line,
		      const char *fmt, ...)
{
	char msg[512];
	char text[PATH_MAX + 600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(text, sizeof(text), "%s:%d: %s", p->path, line, msg);
	else
		snprintf(text, sizeof(text), "%s: %s", p->path, msg);
	deliver(p, is_error, text);
}

/* An environment override has no file line: "<VARIABLE>: <message>". */
static void report_env(struct parse *p, const char *var, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report_env(struct parse *p, const char *var, const char *fmt, ...)
{
	char msg[512];
	char text[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(text, sizeof(text), "%s: %s", var, msg);
	deliver(p, true, text);
}

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '\f' || c == '\v';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static char to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Copies s[0..len) to <out> (of <size> bytes) without surrounding blanks. */
static void copy_trimmed(char *out, size_t size, const char *s, size_t len)
{
	while (len > 0 && is_space(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len >= size)
		len = size - 1;
	memmove(out, s, len);	/* open_section() trims in place */
	out[len] = '\0';
}

/* Digits only, no sign, at most <max>: 0, -EINVAL or -ERANGE. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!is_digit(*s))
		return -EINVAL;
	for (; *s != '\0'; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (!is_digit(*s))
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int swerve_config_parse_duration(const char *s, uint64_t *out_ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		      { "h", 3600000 } };
	uint64_t v = 0;
	size_t i;

	if (s == NULL || !is_digit(*s))
		return -EINVAL;
	for (; is_digit(*s); s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	for (i = 0; i < SWERVE_ARRAY_LEN(units); i++) {
		if (strcmp(s, units[i].unit) != 0)
			continue;
		if (v > UINT64_MAX / units[i].ms)
			return -EINVAL;
		*out_ms = v * units[i].ms;
		return 0;
	}
	return -EINVAL;
}

int swerve_config_parse_locality(const char *s, struct swerve_locality *out)
{
	struct swerve_locality loc;
	char *parts[3] = { loc.region, loc.zone, loc.subzone };
	size_t part = 0;
	size_t n = 0;

	if (s == NULL)
		return -EINVAL;
	memset(&loc, 0, sizeof(loc));
	for (;; s++) {
		if (*s == '/' || *s == '\0') {
			/* "", "a//b" and "a/" name no place */
			if (n == 0)
				return -EINVAL;
			part++;
			n = 0;
			if (*s == '\0')
				break;
			if (part == SWERVE_ARRAY_LEN(parts))
				return -EINVAL;
			continue;
		}
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return -EINVAL;
		if (n == sizeof(loc.region) - 1)
			return -EINVAL;
		parts[part][n++] = *s;
	}
	*out = loc;
	return 0;
}

int swerve_config_parse_pattern(const char *s, struct swerve_locality *out)
{
	struct swerve_locality loc;
	const char *parts[3];
	unsigned i;

	if (swerve_config_parse_locality(s, &loc) < 0)
		return -EINVAL;
	parts[0] = loc.region;
	parts[1] = loc.zone;
	parts[2] = loc.subzone;
	/* '*' is a whole part or nothing: "us-*" would look like a glob. */
	for (i = 0; i < 3; i++) {
		if (strchr(parts[i], '*') != NULL && strcmp(parts[i], "*") != 0)
			return -EINVAL;
	}
	*out = loc;
	return 0;
}

bool swerve_config_locality_match(const struct swerve_locality *loc,
				  const struct swerve_locality *pattern)
{
	bool region = strcmp(pattern->region, "*") == 0 ||
		      strcmp(pattern->region, loc->region) == 0;
	bool zone = pattern->zone[0] == '\0' ||
		    strcmp(pattern->zone, "*") == 0 ||
		    strcmp(pattern->zone, loc->zone) == 0;
	bool subzone = pattern->subzone[0] == '\0' ||
		       strcmp(pattern->subzone, "*") == 0 ||
		       strcmp(pattern->subzone, loc->subzone) == 0;

	return region && zone && subzone;
}

const char *swerve_config_label(const struct swerve_label *labels,
				unsigned n, const struct swerve_locality *loc,
				const char *key)
{
	unsigned i;

	if (strcmp(key, SWERVE_LABEL_REGION) == 0)
		return loc->region;
	if (strcmp(key, SWERVE_LABEL_ZONE) == 0)
		return loc->zone;
	if (strcmp(key, SWERVE_LABEL_SUBZONE) == 0)
		return loc->subzone;
	for (i = 0; i < n && i < SWERVE_MAX_LABELS; i++) {
		if (strcmp(labels[i].key, key) == 0)
			return labels[i].value;
	}
	return "";
}

/*
 * vip_cidr "a.b.c.d/p": IPv4, prefix 8..30 (a /31 has no room once network
 * and broadcast are left out), no host bits, inside 127.0.0.0/8 so that a
 * service address can never reach the network if swerve is not loaded.
 */
static int parse_cidr(const char *s, uint32_t *net, uint32_t *mask,
		      unsigned *prefix, const char **why)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct in_addr in;
	uint64_t p;
	uint32_t m, a;

	*why = "use an IPv4 network like 127.77.0.0/16";
	if (slash == NULL || (size_t)(slash - s) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1 ||
	    parse_uint(slash + 1, 32, &p) < 0)
		return -EINVAL;
	if (p < 8 || p > 30) {
		*why = "the prefix length must be 8 to 30";
		return -EINVAL;
	}
	a = ntohl(in.s_addr);
	m = ~(uint32_t)0 << (32 - p);
	if ((a & ~m) != 0) {
		*why = "the address has bits set beyond the prefix length";
		return -EINVAL;
	}
	if ((a & 0xff000000u) != 0x7f000000u) {
		*why = "vip_cidr must lie inside 127.0.0.0/8";
		return -EINVAL;
	}
	*net = a;
	*mask = m;
	*prefix = (unsigned)p;
	return 0;
}

/* shm_open(3): "/name", one slash only. */
static bool is_valid_shm_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 2 && n <= 100 && s[0] == '/' &&
	       strchr(s + 1, '/') == NULL;
}

static const char *format_section(const struct parse *p, char *buf,
				 size_t size)
{
	switch (p->section) {
	case SECTION_SWERVE:
		return "[swerve]";
	case SECTION_DEFAULTS:
		return "[defaults]";
	case SECTION_SERVICE:
		snprintf(buf, size, "[service %s]",
			 p->cfg->services[p->service].name);
		return buf;
	case SECTION_NONE:
	case SECTION_IGNORED:
		break;
	}
	return "this section";
}

static int find_name(const char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return (int)i;
	}
	return -1;
}

static int find_tuning_key(const char *name)
{
	int k;

	for (k = 0; k < TK_COUNT; k++) {
		if (strcmp(tuning_specs[k].name, name) == 0)
			return k;
	}
	return -1;
}

static bool is_all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!is_digit(*s))
			return false;
	}
	return true;
}

static void set_tuning(struct parse *p, struct tuning *t, int k,
		       const char *value, const char *where)
{
	const struct tuning_spec *spec = &tuning_specs[k];
	uint64_t v = 0;
	int i;

	if (t->line[k] != 0) {
		report_at(p, true, p->lineno,
			  "%s is given twice in %s (first at line %d)",
			  spec->name, where, t->line[k]);
		return;
	}
	switch (spec->kind) {
	case VALUE_UINT:
		if (parse_uint(value, spec->max, &v) < 0 || v < spec->min) {
			report_at(p, true, p->lineno,
				  "%s must be a whole number from %llu to "
				  "%llu%s, not '%s'", spec->name,
				  (unsigned long long)spec->min,
				  (unsigned long long)spec->max,
				  spec->hint != NULL ? spec->hint : "", value);
			return;
		}
		break;
	case VALUE_DURATION:
		if (swerve_config_parse_duration(value, &v) < 0) {
			if (is_all_digits(value))
				report_at(p, true, p->lineno,
					  "%s = %s needs a unit: ms, s, m or h",
					  spec->name, value);
			else
				report_at(p, true, p->lineno,
					  "%s: '%s' is not a duration: use a "
					  "whole number with ms, s, m or h, "
					  "like 15s", spec->name, value);
			return;
		}
		if (v < spec->min) {
			report_at(p, true, p->lineno,
				  "%s must be at least 1ms", spec->name);
			return;
		}
		break;
	case VALUE_BOOL:
		if (strcmp(value, "true") == 0) {
			v = 1;
		} else if (strcmp(value, "false") != 0) {
			report_at(p, true, p->lineno,
				  "%s must be true or false, not '%s'",
				  spec->name, value);
			return;
		}
		break;
	case VALUE_RESOLUTION:
		if (strcmp(value, "dns") == 0) {
			v = 1;
		} else if (strcmp(value, "static") != 0) {
			report_at(p, true, p->lineno,
				  "resolution must be static or dns, not '%s'",
				  value);
			return;
		}
		break;
	case VALUE_LB:
		i = find_name(lb_names, SWERVE_ARRAY_LEN(lb_names), value);
		if (i < 0) {
			report_at(p, true, p->lineno,
				  "lb must be round_robin, least_request or "
				  "random, not '%s'", value);
			return;
		}
		v = (uint64_t)i;
		break;
	}
	t->value[k] = v;
	t->line[k] = p->lineno;
}

/* "127.0.0.1:5353, [::1]:5353": what ares_set_servers_ports_csv takes. */
static bool is_valid_dns_servers(const char *value)
{
	char item[128], host[INET6_ADDRSTRLEN + 2];
	const char *s = value, *end;
	struct in6_addr a6;
	struct in_addr a4;
	uint64_t port;
	size_t len;
	char *colon;

	if (strlen(value) >= sizeof(((struct swerve_config *)0)->dns_servers))
		return false;
	while (*s != '\0') {
		end = strchr(s, ',');
		len = end != NULL ? (size_t)(end - s) : strlen(s);
		copy_trimmed(item, sizeof(item), s, len);
		if (item[0] == '[') {
			char *close = strchr(item, ']');

			if (close == NULL ||
			    (size_t)(close - item - 1) >= sizeof(host))
				return false;
			memcpy(host, item + 1, (size_t)(close - item - 1));
			host[close - item - 1] = '\0';
			if (inet_pton(AF_INET6, host, &a6) != 1)
				return false;
			if (close[1] == ':' &&
			    (parse_uint(close + 2, 65535, &port) < 0 ||
			     port == 0))
				return false;
			if (close[1] != '\0' && close[1] != ':')
				return false;
		} else {
			if (strlen(item) >= sizeof(host))
				return false;
			memcpy(host, item, strlen(item) + 1);
			colon = strchr(host, ':');
			if (colon != NULL) {
				*colon = '\0';
				if (parse_uint(colon + 1, 65535, &port) < 0 ||
				    port == 0)
					return false;
			}
			if (inet_pton(AF_INET, host, &a4) != 1)
				return false;
		}
		s = end != NULL ? end + 1 : s + len;
	}
	return true;
}

static void handle_swerve_key(struct parse *p, int k, const char *value)
{
	struct swerve_config *cfg = p->cfg;
	struct swerve_locality loc;
	enum swerve_log_level level;
	const char *why;

	if (p->swerve_key_line[k] != 0) {
		report_at(p, true, p->lineno,
			  "%s is given twice in [swerve] (first at line %d)",
			  swerve_keys[k], p->swerve_key_line[k]);
		return;
	}
	p->swerve_key_line[k] = p->lineno;
	switch ((enum swerve_key)k) {
	case SK_LOCALITY:
		if (swerve_config_parse_locality(value, &loc) < 0) {
			report_at(p, true, p->lineno,
				  "locality '%s' is not region[/zone[/subzone]]"
				  " (parts of 1 to 63 characters, no spaces)",
				  value);
			return;
		}
		cfg->locality = loc;
		snprintf(cfg->locality_text, sizeof(cfg->locality_text), "%s",
			 value);
		break;
	case SK_VIP_CIDR:
		if (parse_cidr(value, &cfg->vip_net, &cfg->vip_mask,
			       &cfg->vip_prefix, &why) < 0)
			report_at(p, true, p->lineno, "bad vip_cidr '%s': %s",
				  value, why);
		break;
	case SK_SHM:
		if (!is_valid_shm_name(value)) {
			report_at(p, true, p->lineno,
				  "shm '%s' must be '/' and a name without "
				  "'/', at most 100 characters in all", value);
			return;
		}
		snprintf(cfg->shm_name, sizeof(cfg->shm_name), "%s", value);
		break;
	case SK_LOG:
		if (swerve_log_parse_level(value, &level) < 0) {
			report_at(p, true, p->lineno,
				  "log must be error, warn, info or debug, "
				  "not '%s'", value);
			return;
		}
		cfg->log_level = level;
		break;
	case SK_DNS_SERVERS:
		if (!is_valid_dns_servers(value)) {
			report_at(p, true, p->lineno,
				  "dns_servers '%s' must be a comma separated "
				  "list of IPv4[:PORT] or [IPv6][:PORT]",
				  value);
			return;
		}
		snprintf(cfg->dns_servers, sizeof(cfg->dns_servers), "%s",
			 value);
		break;
	case SK_COUNT:
		break;
	}
}

/* Host names are stored lower case without the trailing dot. */
static bool is_valid_host(const char *body)
{
	size_t n = strlen(body);
	size_t label = 0;
	const char *s;

	if (n == 0 || n > 253)
		return false;
	for (s = body; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || is_digit(*s) || *s == '-' ||
		      *s == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

static void add_host(struct parse *p, const char *where, const char *item)
{
	struct swerve_config *cfg = p->cfg;
	struct swerve_service *svc = &cfg->services[p->service];
	char name[256];
	struct in_addr in;
	const char *body;
	size_t n = strlen(item);
	size_t i;
	unsigned s, h;

	if (n == 0) {
		report_at(p, true, p->lineno, "empty name in hosts list");
		return;
	}
	if (n >= sizeof(name)) {
		report_at(p, true, p->lineno, "host name '%s' is too long",
			  item);
		return;
	}
	for (i = 0; i < n; i++)
		name[i] = to_lower(item[i]);
	if (n > 1 && name[n - 1] == '.')
		n--;
	name[n] = '\0';
	body = strncmp(name, "*.", 2) == 0 ? name + 2 : name;
	if (!is_valid_host(body)) {
		report_at(p, true, p->lineno,
			  "'%s' is not a host name: use NAME or *.SUFFIX "
			  "(letters, digits, '-', '_' and dots)", item);
		return;
	}
	if (inet_pton(AF_INET, body, &in) == 1) {
		report_at(p, true, p->lineno,
			  "hosts takes names, not addresses: '%s'", item);
		return;
	}
	for (s = 0; s < cfg->nservices; s++) {
		const struct swerve_service *o = &cfg->services[s];

		for (h = 0; h < o->nhosts; h++) {
			if (strcmp(o->hosts[h], name) != 0)
				continue;
			if (o == svc)
				report_at(p, true, p->lineno,
					  "host '%s' is listed twice in %s",
					  name, where);
			else
				report_at(p, true, p->lineno,
					  "host '%s' is already served by "
					  "[service %s] (line %d)", name,
					  o->name, o->line);
			return;
		}
	}
	if (svc->nhosts == SWERVE_MAX_HOSTS) {
		report_at(p, true, p->lineno, "%s has more than %d hosts",
			  where, SWERVE_MAX_HOSTS);
		return;
	}
	memcpy(svc->hosts[svc->nhosts++], name, n + 1);
}

static void add_port(struct parse *p, const char *where, const char *item)
{
	struct swerve_service *svc = &p->cfg->services[p->service];
	uint64_t v;
	unsigned i;

	if (parse_uint(item, 65535, &v) < 0 || v == 0) {
		report_at(p, true, p->lineno,
			  "port must be 1 to 65535, not '%s'", item);
		return;
	}
	for (i = 0; i < svc->nports; i++) {
		if (svc->ports[i] == v) {
			report_at(p, true, p->lineno,
				  "port %u is listed twice in %s",
				  (unsigned)v, where);
			return;
		}
	}
	if (svc->nports == SWERVE_MAX_PORTS) {
		report_at(p, true, p->lineno, "%s has more than %d ports",
			  where, SWERVE_MAX_PORTS);
		return;
	}
	svc->ports[svc->nports++] = (uint16_t)v;
}

/* hosts and ports are comma separated and accumulate over repeated keys. */
static void add_list(struct parse *p, const char *where, const char *value,
		     void (*add)(struct parse *, const char *, const char *))
{
	char item[INI_MAX_LINE];
	const char *comma;

	for (;;) {
		comma = strchr(value, ',');
		copy_trimmed(item, sizeof(item), value,
			     comma != NULL ? (size_t)(comma - value)
					   : strlen(value));
		add(p, where, item);
		if (comma == NULL)
			break;
		value = comma + 1;
	}
}

/* Copies the next blank-separated word of <s> to <tok>; NULL at the end. */
static const char *read_token(const char *s, char *tok, size_t size)
{
	size_t n = 0;

	while (is_space(*s))
		s++;
	if (*s == '\0')
		return NULL;
	while (*s != '\0' && !is_space(*s)) {
		if (n + 1 < size)
			tok[n++] = *s;
		s++;
	}
	tok[n] = '\0';
	return s;
}

/* Looks like "db.internal" rather than a mistyped address. */
static bool looks_like_name(const char *s)
{
	bool letter = false;

	for (; *s != '\0'; s++) {
		char c = to_lower(*s);

		if (c >= 'a' && c <= 'z')
			letter = true;
		else if (!is_digit(c) && c != '.' && c != '-' && c != '_')
			return false;
	}
	return letter;
}

/*
 * ADDRESS[:PORT] with ADDRESS an IPv4 literal, a bracketed IPv6 literal,
 * or a bare IPv6 literal (then without port). Fills addr, addrlen, text.
 */
static int parse_endpoint_address(struct parse *p, const char *tok,
				  struct swerve_endpoint *ep)
{
	char host[INI_MAX_LINE];
	char ntop[INET6_ADDRSTRLEN];
	const char *port = NULL;
	const char *colon;
	bool v6 = false;
	uint64_t portnum = 0;
	size_t n;

	if (tok[0] == '[') {
		const char *close = strchr(tok, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
			report_at(p, true, p->lineno,
				  "endpoint '%s' is not [IPv6]:PORT", tok);
			return -EINVAL;
		}
		n = (size_t)(close - tok - 1);
		if (close[1] == ':')
			port = close + 2;
		tok++;
		v6 = true;
	} else {
		colon = strchr(tok, ':');
		n = strlen(tok);
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			v6 = true;
		} else if (colon != NULL) {
			n = (size_t)(colon - tok);
			port = colon + 1;
		}
	}
	if (n >= sizeof(host))
		n = sizeof(host) - 1;
	memcpy(host, tok, n);
	host[n] = '\0';

	if (port != NULL && parse_uint(port, 65535, &portnum) < 0) {
		report_at(p, true, p->lineno,
			  "endpoint port must be 0 to 65535, not '%s'", port);
		return -EINVAL;
	}
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ep->addr;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			report_at(p, true, p->lineno,
				  "endpoint '%s' is not an IPv6 address",
				  host);
			return -EINVAL;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)portnum);
		ep->port = (uint16_t)portnum;
		ep->addrlen = sizeof(*sin6);
		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			goto unspecified;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ntop, sizeof(ntop));
		if (portnum != 0)
			snprintf(ep->text, sizeof(ep->text), "[%s]:%u", ntop,
				 (unsigned)portnum);
		else
			snprintf(ep->text, sizeof(ep->text), "[%s]", ntop);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ep->addr;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			if (looks_like_name(host)) {
				/* Resolved later with c-ares; whether the
				 * service allows names is checked once its
				 * resolution is known (check_endpoints). */
				size_t k;

				for (k = 0; host[k] != '\0' &&
					    k < sizeof(ep->name) - 1; k++)
					ep->name[k] = to_lower(host[k]);
				ep->name[k] = '\0';
				if (k > 0 && ep->name[k - 1] == '.')
					ep->name[k - 1] = '\0';
				ep->port = (uint16_t)portnum;
				ep->addr.ss_family = AF_UNSPEC;
				ep->addrlen = 0;
				if (portnum != 0)
					snprintf(ep->text, sizeof(ep->text),
						 "%.60s:%u", ep->name,
						 (unsigned)portnum);
				else
					snprintf(ep->text, sizeof(ep->text),
						 "%.70s", ep->name);
				return 0;
			}
			else
				report_at(p, true, p->lineno,
					  "endpoint '%s' is not an IPv4 or "
					  "IPv6 address", host);
			return -EINVAL;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)portnum);
		ep->port = (uint16_t)portnum;
		ep->addrlen = sizeof(*sin);
		if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
			goto unspecified;
		inet_ntop(AF_INET, &sin->sin_addr, ntop, sizeof(ntop));
		if (portnum != 0)
			snprintf(ep->text, sizeof(ep->text), "%s:%u", ntop,
				 (unsigned)portnum);
		else
			snprintf(ep->text, sizeof(ep->text), "%s", ntop);
	}
	return 0;

unspecified:
	/* connect(2) to 0.0.0.0 or :: reaches this host: surely a typo */
	report_at(p, true, p->lineno,
		  "endpoint '%s' is the unspecified address", host);
	return -EINVAL;
}

/* Label keys as Kubernetes writes them: letters, digits, '.', '_', '-', '/'. */
static bool is_valid_label_key(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (; *s != '\0'; s++) {
		char c = to_lower(*s);

		if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '.' ||
		      c == '_' || c == '-' || c == '/'))
			return false;
	}
	return true;
}

static bool is_locality_key(const char *key)
{
	return strcmp(key, SWERVE_LABEL_REGION) == 0 ||
	       strcmp(key, SWERVE_LABEL_ZONE) == 0 ||
	       strcmp(key, SWERVE_LABEL_SUBZONE) == 0;
}

/*
 * Adds KEY=VALUE to <labels>: the checks shared by endpoint options and
 * [swerve] label.KEY keys. Returns 0 or -EINVAL after reporting.
 */
static int add_label(struct parse *p, struct swerve_label *labels,
		     unsigned *n, const char *key, const char *value)
{
	unsigned i;

	if (!is_valid_label_key(key)) {
		report_at(p, true, p->lineno,
			  "bad label key '%s': use 1 to 63 of A-Z a-z 0-9 "
			  ". _ - /", key);
		return -EINVAL;
	}
	if (is_locality_key(key)) {
		report_at(p, true, p->lineno,
			  "label %s comes from the locality: set it with "
			  "locality=REGION[/ZONE[/SUBZONE]]", key);
		return -EINVAL;
	}
	if (strlen(value) > 63 || strpbrk(value, " \t=,") != NULL) {
		report_at(p, true, p->lineno,
			  "label %s: value '%s' must be at most 63 "
			  "characters without blanks, '=' or ','", key, value);
		return -EINVAL;
	}
	for (i = 0; i < *n; i++) {
		if (strcmp(labels[i].key, key) == 0) {
			report_at(p, true, p->lineno,
				  "label %s is given twice", key);
			return -EINVAL;
		}
	}
	if (*n == SWERVE_MAX_LABELS) {
		report_at(p, true, p->lineno, "more than %d labels",
			  SWERVE_MAX_LABELS);
		return -EINVAL;
	}
	snprintf(labels[*n].key, sizeof(labels[*n].key), "%s", key);
	snprintf(labels[*n].value, sizeof(labels[*n].value), "%s", value);
	(*n)++;
	return 0;
}

/* "label.KEY=VALUE" as one endpoint option. */
static int add_endpoint_label(struct parse *p, const char *tok,
			      struct swerve_endpoint *ep)
{
	char key[INI_MAX_LINE];
	const char *eq = strchr(tok, '=');
	size_t n = (size_t)(eq - tok) - 6;

	if (n >= sizeof(key))
		n = sizeof(key) - 1;
	memcpy(key, tok + 6, n);
	key[n] = '\0';
	return add_label(p, ep->labels, &ep->nlabels, key, eq + 1);
}

static int parse_endpoint_options(struct parse *p, const char *s,
				  struct swerve_endpoint *ep)
{
	char tok[INI_MAX_LINE];
	bool have_locality = false;
	bool have_weight = false;
	uint64_t v;

	while ((s = read_token(s, tok, sizeof(tok))) != NULL) {
		if (strncmp(tok, "locality=", 9) == 0 && !have_locality) {
			have_locality = true;
			if (swerve_config_parse_locality(tok + 9,
							 &ep->locality) < 0) {
				report_at(p, true, p->lineno,
					  "endpoint locality '%s' is not "
					  "region[/zone[/subzone]] (parts of 1 "
					  "to 63 characters)", tok + 9);
				return -EINVAL;
			}
			snprintf(ep->locality_text, sizeof(ep->locality_text),
				 "%s", tok + 9);
		} else if (strncmp(tok, "weight=", 7) == 0 && !have_weight) {
			have_weight = true;
			if (parse_uint(tok + 7, WEIGHT_MAX, &v) < 0 || v == 0) {
				report_at(p, true, p->lineno,
					  "endpoint weight must be a whole "
					  "number from 1 to %d, not '%s'",
					  WEIGHT_MAX, tok + 7);
				return -EINVAL;
			}
			ep->weight = (uint32_t)v;
		} else if (strncmp(tok, "label.", 6) == 0 &&
			   strchr(tok, '=') != NULL) {
			if (add_endpoint_label(p, tok, ep) < 0)
				return -EINVAL;
		} else if (strncmp(tok, "locality=", 9) == 0 ||
			   strncmp(tok, "weight=", 7) == 0) {
			report_at(p, true, p->lineno,
				  "endpoint option '%.*s' is given twice",
				  (int)(strchr(tok, '=') - tok), tok);
			return -EINVAL;
		} else {
			report_at(p, true, p->lineno,
				  "unknown endpoint option '%s': use "
				  "locality=REGION[/ZONE[/SUBZONE]], "
				  "weight=N or label.KEY=VALUE", tok);
			return -EINVAL;
		}
	}
	return 0;
}

/* Row key of the shared table: hash of "service\0text", never 0. */
static uint64_t hash_endpoint_key(const char *service, const char *text)
{
	uint64_t h;

	h = swerve_hash64(service, strlen(service), SWERVE_HASH_SEED);
	h = swerve_hash64("", 1, h);
	h = swerve_hash64(text, strlen(text), h);
	return h != 0 ? h : 1;
}

static void add_endpoint(struct parse *p, const char *where,
			 const char *value)
{
	struct swerve_service *svc = &p->cfg->services[p->service];
	struct service_state *st = &p->states[p->service];
	struct swerve_endpoint ep;
	char tok[INI_MAX_LINE];
	const char *rest;
	unsigned i;

	memset(&ep, 0, sizeof(ep));
	ep.weight = 1;
	ep.line = p->lineno;
	rest = read_token(value, tok, sizeof(tok));
	if (rest == NULL || parse_endpoint_address(p, tok, &ep) < 0 ||
	    parse_endpoint_options(p, rest, &ep) < 0)
		return;
	for (i = 0; i < svc->nendpoints; i++) {
		if (strcmp(svc->endpoints[i].text, ep.text) == 0) {
			report_at(p, true, p->lineno,
				  "endpoint %s is listed twice in %s (first at "
				  "line %d)", ep.text, where,
				  svc->endpoints[i].line);
			return;
		}
	}
	if (svc->nendpoints == SWERVE_MAX_ENDPOINTS) {
		report_at(p, true, p->lineno, "%s has more than %d endpoints",
			  where, SWERVE_MAX_ENDPOINTS);
		return;
	}
	if (svc->nendpoints == st->cap_endpoints) {
		unsigned cap = st->cap_endpoints != 0 ? st->cap_endpoints * 2
						      : 4;
		struct swerve_endpoint *grown;

		grown = realloc(svc->endpoints, cap * sizeof(*grown));
		if (grown == NULL) {
			p->oom = true;
			return;
		}
		svc->endpoints = grown;
		st->cap_endpoints = cap;
	}
	ep.key = hash_endpoint_key(svc->name, ep.text);
	svc->endpoints[svc->nendpoints++] = ep;
}

/* A failover end: a region name alone (Istio: no '/', no '*'). */
static bool is_valid_region(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '/' ||
		    *s == '*' || *s == ',' || *s == ':')
			return false;
	}
	return true;
}

/*
 * Splits "FROM -> TO" into trimmed <from> and <to> (each <size> bytes).
 * Returns 0 or -EINVAL when there is no single "->".
 */
static int split_arrow(const char *value, char *from, char *to, size_t size)
{
	const char *arrow = strstr(value, "->");

	if (arrow == NULL || strstr(arrow + 2, "->") != NULL)
		return -EINVAL;
	copy_trimmed(from, size, value, (size_t)(arrow - value));
	copy_trimmed(to, size, arrow + 2, strlen(arrow + 2));
	return 0;
}

/* failover = FROM -> TO, repeatable; regions only, as in Istio. */
static void add_failover(struct parse *p, const char *where,
			 const char *value)
{
	struct swerve_service *svc = &p->cfg->services[p->service];
	char from[INI_MAX_LINE], to[INI_MAX_LINE];
	struct swerve_failover *f;
	unsigned i;

	if (split_arrow(value, from, to, sizeof(from)) < 0) {
		report_at(p, true, p->lineno,
			  "failover must be FROM_REGION -> TO_REGION, not '%s'",
			  value);
		return;
	}
	if (!is_valid_region(from) || !is_valid_region(to)) {
		report_at(p, true, p->lineno,
			  "failover takes regions, without '/' or '*': "
			  "'%s -> %s'", from, to);
		return;
	}
	if (strcmp(from, to) == 0) {
		report_at(p, true, p->lineno,
			  "failover from %s to itself", from);
		return;
	}
	for (i = 0; i < svc->nfailover; i++) {
		if (strcmp(svc->failover[i].from, from) == 0) {
			report_at(p, true, p->lineno,
				  "failover from %s is given twice in %s "
				  "(first at line %d): only the first would "
				  "count", from, where, svc->failover[i].line);
			return;
		}
	}
	if (svc->nfailover == SWERVE_MAX_FAILOVER) {
		report_at(p, true, p->lineno, "%s has more than %d failover "
			  "rules", where, SWERVE_MAX_FAILOVER);
		return;
	}
	/* is_valid_region() bounded both to 63 bytes */
	f = &svc->failover[svc->nfailover++];
	memcpy(f->from, from, strlen(from) + 1);
	memcpy(f->to, to, strlen(to) + 1);
	f->line = p->lineno;
}

/* One failover_priority entry: KEY or KEY=VALUE. */
static void add_failover_label(struct parse *p, const char *where,
			       const char *item)
{
	struct swerve_service *svc = &p->cfg->services[p->service];
	struct swerve_failover_label fl;
	const char *eq = strchr(item, '=');
	size_t n = eq != NULL ? (size_t)(eq - item) : strlen(item);
	unsigned i;

	memset(&fl, 0, sizeof(fl));
	if (n >= sizeof(fl.key) || (eq != NULL && strlen(eq + 1) >= 64)) {
		report_at(p, true, p->lineno,
			  "failover_priority entry '%s' is too long", item);
		return;
	}
	memcpy(fl.key, item, n);
	fl.key[n] = '\0';
	if (!is_valid_label_key(fl.key)) {
		report_at(p, true, p->lineno,
			  "failover_priority: '%s' is not a label key (1 to "
			  "63 of A-Z a-z 0-9 . _ - /)", fl.key);
		return;
	}
	if (eq != NULL) {
		fl.has_value = true;
		snprintf(fl.value, sizeof(fl.value), "%s", eq + 1);
	}
	for (i = 0; i < svc->nfailover_priority; i++) {
		if (strcmp(svc->failover_priority[i].key, fl.key) == 0) {
			report_at(p, true, p->lineno,
				  "failover_priority lists %s twice in %s",
				  fl.key, where);
			return;
		}
	}
	if (svc->nfailover_priority == SWERVE_MAX_LABELS) {
		report_at(p, true, p->lineno,
			  "failover_priority has more than %d labels",
			  SWERVE_MAX_LABELS);
		return;
	}
	svc->failover_priority[svc->nfailover_priority++] = fl;
}

/*
 * Two patterns overlap when some locality matches both: each part equal,
 * or a wildcard ("*" or "") on either side.
 */
static bool is_wild(const char *part)
{
	return part[0] == '\0' || strcmp(part, "*") == 0;
}

static bool parts_overlap(const char *a, const char *b)
{
	return is_wild(a) || is_wild(b) || strcmp(a, b) == 0;
}

static bool patterns_overlap(const struct swerve_locality *a,
			     const struct swerve_locality *b)
{
	/* Istio's region has no "" wildcard, but "*" is one. */
	bool region = strcmp(a->region, "*") == 0 ||
		      strcmp(b->region, "*") == 0 ||
		      strcmp(a->region, b->region) == 0;

	return region && parts_overlap(a->zone, b->zone) &&
	       parts_overlap(a->subzone, b->subzone);
}

/* "PATTERN:WEIGHT" into <t>. Returns 0 or -EINVAL after reporting. */
static int parse_distribute_target(struct parse *p, const char *item,
				   struct swerve_distribute_target *t)
{
	const char *colon = strrchr(item, ':');
	char pat[INI_MAX_LINE];
	uint64_t w;
	size_t n;

	if (colon == NULL) {
		report_at(p, true, p->lineno,
			  "distribute target '%s' needs a weight: "
			  "LOCALITY:WEIGHT", item);
		return -EINVAL;
	}
	n = (size_t)(colon - item);
	copy_trimmed(pat, sizeof(pat), item, n);
	if (swerve_config_parse_pattern(pat, &t->pattern) < 0 ||
	    strlen(pat) >= sizeof(t->text)) {
		report_at(p, true, p->lineno,
			  "distribute target '%s' is not "
			  "region[/zone[/subzone]] (parts may be '*')", pat);
		return -EINVAL;
	}
	snprintf(t->text, sizeof(t->text), "%s", pat);
	if (parse_uint(colon + 1, 100, &w) < 0 || w == 0) {
		report_at(p, true, p->lineno,
			  "distribute weight of %s must be 1 to 100, not '%s'",
			  pat, colon + 1);
		return -EINVAL;
	}
	t->weight = (uint32_t)w;
	return 0;
}

/*
 * distribute = FROM -> TO:WEIGHT, ... Validated as Istio does (weights in
 * 1..100 summing to 100) and more: targets that overlap would make the
 * result depend on Go's random map order in Istio, so they are refused.
 */
static void add_distribute(struct parse *p, const char *where,
			   const char *value)
{
	struct swerve_service *svc = &p->cfg->services[p->service];
	struct service_state *st = &p->states[p->service];
	char from[INI_MAX_LINE], to[INI_MAX_LINE], item[INI_MAX_LINE];
	struct swerve_distribute d, *grown;
	const char *s, *comma;
	unsigned i, j, sum = 0;

	memset(&d, 0, sizeof(d));
	d.line = p->lineno;
	if (split_arrow(value, from, to, sizeof(from)) < 0 ||
	    to[0] == '\0') {
		report_at(p, true, p->lineno,
			  "distribute must be FROM -> TO:WEIGHT[, ...], not "
			  "'%s'", value);
		return;
	}
	if (swerve_config_parse_pattern(from, &d.from) < 0 ||
	    strlen(from) >= sizeof(d.from_text)) {
		report_at(p, true, p->lineno,
			  "distribute from '%s' is not region[/zone[/subzone]]"
			  " (parts may be '*')", from);
		return;
	}
	snprintf(d.from_text, sizeof(d.from_text), "%s", from);
	for (s = to;; s = comma + 1) {
		comma = strchr(s, ',');
		copy_trimmed(item, sizeof(item), s,
			     comma != NULL ? (size_t)(comma - s) : strlen(s));
		if (d.nto == SWERVE_MAX_DISTRIBUTE) {
			report_at(p, true, p->lineno,
				  "distribute from %s has more than %d "
				  "targets", from, SWERVE_MAX_DISTRIBUTE);
			return;
		}
		if (parse_distribute_target(p, item, &d.to[d.nto]) < 0)
			return;
		sum += d.to[d.nto].weight;
		for (j = 0; j < d.nto; j++) {
			if (!patterns_overlap(&d.to[j].pattern,
					      &d.to[d.nto].pattern))
				continue;
			report_at(p, true, p->lineno,
				  "distribute targets %s and %s overlap: a "
				  "locality may match only one", d.to[j].text,
				  d.to[d.nto].text);
			return;
		}
		d.nto++;
		if (comma == NULL)
			break;
	}
	if (sum != 100) {
		report_at(p, true, p->lineno,
			  "distribute weights from %s sum to %u, not 100",
			  from, sum);
		return;
	}
	for (i = 0; i < svc->ndistribute; i++) {
		if (strcmp(svc->distribute[i].from_text, d.from_text) == 0) {
			report_at(p, true, p->lineno,
				  "distribute from %s is given twice in %s "
				  "(first at line %d)", from, where,
				  svc->distribute[i].line);
			return;
		}
	}
	if (svc->ndistribute == SWERVE_MAX_DISTRIBUTE) {
		report_at(p, true, p->lineno,
			  "%s has more than %d distribute rules", where,
			  SWERVE_MAX_DISTRIBUTE);
		return;
	}
	if (svc->ndistribute == st->cap_distribute) {
		unsigned cap = st->cap_distribute != 0 ?
			       st->cap_distribute * 2 : 2;

		grown = realloc(svc->distribute, cap * sizeof(*grown));
		if (grown == NULL) {
			p->oom = true;
			return;
		}
		svc->distribute = grown;
		st->cap_distribute = cap;
	}
	svc->distribute[svc->ndistribute++] = d;
}

static void handle_service_key(struct parse *p, const char *name,
			       const char *value)
{
	struct service_state *st = &p->states[p->service];
	char where[SERVICE_NAME_MAX + 16];
	int k;

	format_section(p, where, sizeof(where));
	k = find_tuning_key(name);
	if (k >= 0) {
		set_tuning(p, &st->tuning, k, value, where);
	} else if (strcmp(name, "hosts") == 0) {
		add_list(p, where, value, add_host);
	} else if (strcmp(name, "ports") == 0) {
		add_list(p, where, value, add_port);
	} else if (strcmp(name, "endpoint") == 0) {
		add_endpoint(p, where, value);
	} else if (strcmp(name, "failover") == 0) {
		add_failover(p, where, value);
	} else if (strcmp(name, "failover_priority") == 0) {
		struct swerve_service *svc = &p->cfg->services[p->service];

		if (svc->failover_priority_line != 0) {
			report_at(p, true, p->lineno,
				  "failover_priority is given twice in %s "
				  "(first at line %d)", where,
				  svc->failover_priority_line);
			return;
		}
		svc->failover_priority_line = p->lineno;
		add_list(p, where, value, add_failover_label);
	} else if (strcmp(name, "distribute") == 0) {
		add_distribute(p, where, value);
	} else if (find_name(swerve_keys, SK_COUNT, name) >= 0) {
		report_at(p, true, p->lineno,
			  "key '%s' belongs in [swerve], not %s", name, where);
	} else {
		report_at(p, true, p->lineno, "unknown key '%s' in %s", name,
			  where);
	}
}

static void handle_other_key(struct parse *p, const char *name,
			     const char *value)
{
	bool in_swerve = p->section == SECTION_SWERVE;
	const char *where = in_swerve ? "[swerve]" : "[defaults]";
	int k;

	if (strncmp(name, "label.", 6) == 0) {
		if (in_swerve)
			(void)add_label(p, p->cfg->labels, &p->cfg->nlabels,
					name + 6, value);
		else
			report_at(p, true, p->lineno,
				  "key '%s' belongs in [swerve] (this host's "
				  "labels), not %s", name, where);
		return;
	}
	k = find_name(swerve_keys, SK_COUNT, name);
	if (k >= 0) {
		if (in_swerve)
			handle_swerve_key(p, k, value);
		else
			report_at(p, true, p->lineno,
				  "key '%s' belongs in [swerve], not %s", name,
				  where);
		return;
	}
	k = find_tuning_key(name);
	if (k >= 0) {
		if (in_swerve)
			report_at(p, true, p->lineno,
				  "key '%s' belongs in [defaults] or a "
				  "[service NAME] section, not [swerve]", name);
		else
			set_tuning(p, &p->defaults, k, value, where);
		return;
	}
	if (find_name(service_keys, SWERVE_ARRAY_LEN(service_keys), name) >= 0)
		report_at(p, true, p->lineno,
			  "key '%s' belongs in a [service NAME] section, "
			  "not %s", name, where);
	else
		report_at(p, true, p->lineno, "unknown key '%s' in %s", name,
			  where);
}

/* The ini_handler: <section> is ignored, see read_line(). */
static int handle_pair(void *user, const char *section, const char *name,
		       const char *value)
{
	struct parse *p = user;
	char where[SERVICE_NAME_MAX + 16];

	(void)section;
	if (p->oom || p->section == SECTION_IGNORED)
		return 1;
	if (p->section == SECTION_NONE) {
		report_at(p, true, p->lineno,
			  "key '%s' comes before any [section]", name);
		return 1;
	}
	if (*name == '\0') {
		report_at(p, true, p->lineno, "missing key name before '='");
		return 1;
	}
	if (*value == '\0') {
		report_at(p, true, p->lineno, "key '%s' in %s needs a value",
			  name, format_section(p, where, sizeof(where)));
		return 1;
	}
	if (p->section == SECTION_SERVICE)
		handle_service_key(p, name, value);
	else
		handle_other_key(p, name, value);
	return 1;
}

static bool is_valid_service_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SERVICE_NAME_MAX)
		return false;
	for (; *s != '\0'; s++) {
		char c = to_lower(*s);

		if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '_' ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

static void open_service(struct parse *p, const char *name)
{
	struct swerve_config *cfg = p->cfg;
	struct swerve_service *svc;
	unsigned i;

	p->section = SECTION_IGNORED;
	if (*name == '\0') {
		report_at(p, true, p->lineno,
			  "a service section needs a name: [service NAME]");
		return;
	}
	if (!is_valid_service_name(name)) {
		report_at(p, true, p->lineno,
			  "bad service name '%s': use 1 to 63 of A-Z a-z 0-9 "
			  "_ . -", name);
		return;
	}
	for (i = 0; i < cfg->nservices; i++) {
		if (strcmp(cfg->services[i].name, name) == 0) {
			report_at(p, true, p->lineno,
				  "[service %s] appears twice (first at line "
				  "%d)", name, cfg->services[i].line);
			return;
		}
	}
	if (cfg->nservices == SWERVE_MAX_SERVICES) {
		report_at(p, true, p->lineno, "more than %d services",
			  SWERVE_MAX_SERVICES);
		return;
	}
	if (cfg->nservices == p->cap_services) {
		unsigned cap = p->cap_services != 0 ? p->cap_services * 2 : 8;
		struct swerve_service *services;
		struct service_state *states;

		/* Grown one after the other: each stays valid if the next
		 * allocation fails, and cap_services only counts both. */
		services = realloc(cfg->services, cap * sizeof(*services));
		if (services == NULL) {
			p->oom = true;
			return;
		}
		cfg->services = services;
		states = realloc(p->states, cap * sizeof(*states));
		if (states == NULL) {
			p->oom = true;
			return;
		}
		p->states = states;
		p->cap_services = cap;
	}
	svc = &cfg->services[cfg->nservices];
	memset(svc, 0, sizeof(*svc));
	memset(&p->states[cfg->nservices], 0, sizeof(p->states[0]));
	/* is_valid_service_name() bounded the length already */
	memcpy(svc->name, name, strnlen(name, sizeof(svc->name) - 1));
	svc->line = p->lineno;
	p->service = cfg->nservices++;
	p->section = SECTION_SERVICE;
}

static void open_section(struct parse *p, const char *text, size_t len)
{
	char name[INI_MAX_LINE];
	int *seen = NULL;

	copy_trimmed(name, sizeof(name), text, len);
	if (strcmp(name, "swerve") == 0) {
		p->section = SECTION_SWERVE;
		seen = &p->swerve_line;
	} else if (strcmp(name, "defaults") == 0) {
		p->section = SECTION_DEFAULTS;
		seen = &p->defaults_line;
	} else if (strncmp(name, "service", 7) == 0 &&
		   (name[7] == '\0' || is_space(name[7]))) {
		copy_trimmed(name, sizeof(name), name + 7, strlen(name + 7));
		open_service(p, name);
		return;
	} else {
		report_at(p, true, p->lineno,
			  "unknown section [%s]: use [swerve], [defaults] or "
			  "[service NAME]", name);
		p->section = SECTION_IGNORED;
		return;
	}
	if (*seen != 0) {
		report_at(p, true, p->lineno,
			  "[%s] appears twice (first at line %d)", name, *seen);
		p->section = SECTION_IGNORED;
		return;
	}
	*seen = p->lineno;
}

/* inih's find_chars_or_comment(): ';' starts a comment after a blank. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s != '\0' && strchr(chars, *s) == NULL &&
	       !(was_space && *s == ';')) {
		was_space = is_space(*s);
		s++;
	}
	return s;
}

/*
 * Mirrors inih's decision for one line (ini.c, ini_parse_stream) so that
 * sections and syntax errors are known with their line numbers.
 */
static void classify_line(struct parse *p, const char *line)
{
	const char *s = line;
	const char *end;

	while (is_space(*s))
		s++;
	if (*s == '\0' || *s == ';' || *s == '#')
		return;
	/* A non-blank line with leading blanks continues the last value. */
	if (p->prev_name && s > line)
		return;
	if (*s == '[') {
		end = find_chars_or_comment(s + 1, "]");
		if (*end != ']') {
			report_at(p, true, p->lineno,
				  "section header without ']'");
			if (p->first_syntax_line == 0)
				p->first_syntax_line = p->lineno;
			p->section = SECTION_IGNORED;
			return;
		}
		open_section(p, s + 1, (size_t)(end - s - 1));
		p->prev_name = false;
		return;
	}
	end = find_chars_or_comment(s, "=:");
	if (*end != '=' && *end != ':') {
		report_at(p, true, p->lineno,
			  "expected 'key = value' or a [section] header");
		if (p->first_syntax_line == 0)
			p->first_syntax_line = p->lineno;
		return;
	}
	p->prev_name = end > s;
}

/*
 * The ini_reader: one physical line per call, so p->lineno is the line
 * inih is about to hand to handle_pair(). A line too long for inih's
 * buffer would be split into pieces parsed as separate lines, so it is
 * reported here and replaced by an empty line.
 */
static char *read_line(char *buf, int size, void *stream)
{
	struct parse *p = stream;
	size_t max = (size_t)size - 2;
	size_t n = 0;
	size_t skip = 0;
	bool too_long = false;
	const char *s;
	int c;

	while ((c = getc(p->file)) != EOF && c != '\n') {
		if (n < max)
			buf[n++] = (char)c;
		else
			too_long = true;
	}
	if (c == EOF) {
		if (ferror(p->file)) {
			p->read_errno = errno != 0 ? errno : EIO;
			return NULL;
		}
		if (n == 0)
			return NULL;
	}
	p->lineno++;
	buf[n] = '\0';
	if (p->lineno == 1 && strncmp(buf, "\xef\xbb\xbf", 3) == 0)
		skip = 3;       /* a UTF-8 byte order mark */
	memmove(buf, buf + skip, n - skip + 1);
	n -= skip;
	if (too_long) {
		for (s = buf; is_space(*s); s++)
			;
		/* a long comment is harmless once dropped whole */
		if (*s != ';' && *s != '#') {
			report_at(p, true, p->lineno,
				  "line is longer than %zu characters", max);
			if (*s == '[')
				p->section = SECTION_IGNORED;
		}
		n = 0;
		buf[0] = '\0';
	}
	buf[n++] = '\n';
	buf[n] = '\0';
	if (!too_long)
		classify_line(p, buf);
	return buf;
}

static void apply_env(struct parse *p)
{
	struct swerve_config *cfg = p->cfg;
	struct swerve_locality loc;
	enum swerve_log_level level;
	const char *s;

	/* An empty variable counts as unset, as with most Unix tools. */
	s = secure_getenv("SWERVE_LOCALITY");
	if (s != NULL && *s != '\0') {
		if (swerve_config_parse_locality(s, &loc) < 0) {
			report_env(p, "SWERVE_LOCALITY",
				   "'%s' is not region[/zone[/subzone]] "
				   "(parts of 1 to 63 characters, no spaces)",
				   s);
		} else {
			cfg->locality = loc;
			snprintf(cfg->locality_text,
				 sizeof(cfg->locality_text), "%s", s);
		}
	}
	s = secure_getenv("SWERVE_SHM");
	if (s != NULL && *s != '\0') {
		if (!is_valid_shm_name(s))
			report_env(p, "SWERVE_SHM",
				   "'%s' must be '/' and a name without '/', "
				   "at most 100 characters in all", s);
		else
			snprintf(cfg->shm_name, sizeof(cfg->shm_name), "%s",
				 s);
	}
	s = secure_getenv("SWERVE_LOG");
	if (s != NULL && *s != '\0') {
		if (swerve_log_parse_level(s, &level) < 0)
			report_env(p, "SWERVE_LOG",
				   "'%s' is not a log level: use error, warn, "
				   "info or debug", s);
		else
			cfg->log_level = level;
	}
}

/* <own> over <defaults> over the built-in defaults. */
static void resolve_tuning(const struct tuning *own,
			   const struct tuning *defaults, struct tuning *out)
{
	int k;

	for (k = 0; k < TK_COUNT; k++) {
		if (own->line[k] != 0) {
			out->value[k] = own->value[k];
			out->line[k] = own->line[k];
		} else if (defaults->line[k] != 0) {
			out->value[k] = defaults->value[k];
			out->line[k] = defaults->line[k];
		} else {
			out->value[k] = tuning_specs[k].def;
			out->line[k] = 0;
		}
	}
	/* Envoy: max_ejection_time defaults to 300s, or base when longer. */
	if (out->line[TK_MAX_EJECTION] == 0 &&
	    out->value[TK_BASE_EJECTION] > out->value[TK_MAX_EJECTION])
		out->value[TK_MAX_EJECTION] = out->value[TK_BASE_EJECTION];
}

/*
 * Checks between keys, on the resolved values <t>, but only where one of
 * the keys involved is in <own>: a mistake in [defaults] is reported once,
 * at [defaults], not again for every service that inherits it.
 */
static void check_tuning(struct parse *p, const struct tuning *t,
			 const struct tuning *own, const char *where)
{
	int line;

	line = own->line[TK_MAX_EJECTION] != 0 ? own->line[TK_MAX_EJECTION]
					       : own->line[TK_BASE_EJECTION];
	if (line != 0 && t->line[TK_MAX_EJECTION] != 0 &&
	    t->value[TK_MAX_EJECTION] < t->value[TK_BASE_EJECTION])
		report_at(p, true, line,
			  "max_ejection_time (%llums) is shorter than "
			  "base_ejection_time (%llums) in %s",
			  (unsigned long long)t->value[TK_MAX_EJECTION],
			  (unsigned long long)t->value[TK_BASE_EJECTION],
			  where);

	line = own->line[TK_DNS_MIN_TTL] != 0 ? own->line[TK_DNS_MIN_TTL]
					      : own->line[TK_DNS_MAX_TTL];
	if (line != 0 && t->value[TK_DNS_MIN_TTL] > t->value[TK_DNS_MAX_TTL])
		report_at(p, true, line,
			  "dns_min_ttl (%llums) is longer than dns_max_ttl "
			  "(%llums) in %s",
			  (unsigned long long)t->value[TK_DNS_MIN_TTL],
			  (unsigned long long)t->value[TK_DNS_MAX_TTL], where);

	/* Istio rejects local origin failures unless they are split. */
	line = own->line[TK_CONSECUTIVE_LOCAL_ORIGIN] != 0
		       ? own->line[TK_CONSECUTIVE_LOCAL_ORIGIN]
		       : own->line[TK_SPLIT];
	if (line != 0 && t->line[TK_CONSECUTIVE_LOCAL_ORIGIN] != 0 &&
	    t->value[TK_CONSECUTIVE_LOCAL_ORIGIN] > 0 && !t->value[TK_SPLIT])
		report_at(p, true, line,
			  "consecutive_local_origin_failures needs "
			  "split_external_local_origin_errors = true in %s",
			  where);
}

static void apply_tuning(struct swerve_service *svc, const struct tuning *t)
{
	struct swerve_outlier_cfg *o = &svc->outlier;
	int k;

	o->enabled = false;
	for (k = 0; k < TK_COUNT; k++) {
		if (tuning_specs[k].outlier && t->line[k] != 0)
			o->enabled = true;
	}
	o->consecutive_5xx = (uint32_t)t->value[TK_CONSECUTIVE_5XX];
	o->consecutive_gateway = (uint32_t)t->value[TK_CONSECUTIVE_GATEWAY];
	o->consecutive_local_origin =
		(uint32_t)t->value[TK_CONSECUTIVE_LOCAL_ORIGIN];
	o->split_external_local_origin = t->value[TK_SPLIT] != 0;
	o->interval_ms = t->value[TK_INTERVAL];
	o->base_ejection_ms = t->value[TK_BASE_EJECTION];
	o->max_ejection_ms = t->value[TK_MAX_EJECTION];
	o->max_ejection_percent = (uint32_t)t->value[TK_MAX_EJECTION_PERCENT];
	o->min_ejectable_hosts = (uint32_t)t->value[TK_MIN_EJECTABLE_HOSTS];
	o->min_health_percent = (uint32_t)t->value[TK_MIN_HEALTH_PERCENT];
	svc->lb = (enum swerve_lb)t->value[TK_LB];
	svc->overprovisioning_factor = (uint32_t)t->value[TK_OVERPROVISIONING];
	svc->connect_timeout_ms = t->value[TK_CONNECT_TIMEOUT];
	svc->connect_attempts = (uint32_t)t->value[TK_CONNECT_ATTEMPTS];
	svc->dns = t->value[TK_RESOLUTION] != 0;
	svc->dns_min_ttl_ms = t->value[TK_DNS_MIN_TTL];
	svc->dns_max_ttl_ms = t->value[TK_DNS_MAX_TTL];
	svc->dns_timeout_ms = t->value[TK_DNS_TIMEOUT];
}

static bool is_same_locality(const struct swerve_locality *a,
			  const struct swerve_locality *b)
{
	return strcmp(a->region, b->region) == 0 &&
	       strcmp(a->zone, b->zone) == 0 &&
	       strcmp(a->subzone, b->subzone) == 0;
}

static void check_endpoints(struct parse *p, const struct swerve_service *svc)
{
	const struct swerve_config *cfg = p->cfg;
	bool several = false;
	unsigned i;

	for (i = 0; i < svc->nendpoints; i++) {
		const struct swerve_endpoint *ep = &svc->endpoints[i];
		const struct sockaddr_in *sin;

		if (!is_same_locality(&ep->locality,
				      &svc->endpoints[0].locality))
			several = true;
		if (ep->name[0] != '\0' && !svc->dns)
			report_at(p, true, ep->line,
				  "endpoint '%s' is a host name: set resolution "
				  "= dns in [service %s] to resolve it with "
				  "c-ares, or use an IP literal", ep->name,
				  svc->name);
		if (ep->addr.ss_family != AF_INET)
			continue;
		sin = (const struct sockaddr_in *)&ep->addr;
		/* connect() would rewrite it again, forever */
		if ((ntohl(sin->sin_addr.s_addr) & cfg->vip_mask) ==
		    cfg->vip_net)
			report_at(p, true, ep->line,
				  "endpoint %s lies inside vip_cidr", ep->text);
	}
	if (several && !svc->outlier.enabled && svc->ndistribute == 0)
		report_at(p, false, svc->line,
			  "service %s has endpoints in several localities but "
			  "no outlier detection: like Istio, swerve uses no "
			  "priority tiers without it", svc->name);
}

/*
 * Groups the endpoints by locality, as Istio's LocalityLbEndpoints do:
 * each group weighs the sum of its endpoints' weights. Returns 0, or
 * -ENOMEM / -EINVAL (reported) for too many localities.
 */
static int build_localities(struct parse *p, struct swerve_service *svc)
{
	struct swerve_locality_group *g;
	unsigned i, k;

	if (svc->nendpoints == 0)
		return 0;
	svc->localities = calloc(svc->nendpoints < SWERVE_MAX_LOCALITIES ?
				 svc->nendpoints : SWERVE_MAX_LOCALITIES,
				 sizeof(*svc->localities));
	if (svc->localities == NULL) {
		p->oom = true;
		return -ENOMEM;
	}
	for (i = 0; i < svc->nendpoints; i++) {
		struct swerve_endpoint *ep = &svc->endpoints[i];

		for (k = 0; k < svc->nlocalities; k++) {
			if (is_same_locality(&svc->localities[k].locality,
					     &ep->locality))
				break;
		}
		if (k == svc->nlocalities) {
			if (k == SWERVE_MAX_LOCALITIES) {
				report_at(p, true, ep->line,
					  "service %s has endpoints in more "
					  "than %d localities", svc->name,
					  SWERVE_MAX_LOCALITIES);
				return -EINVAL;
			}
			g = &svc->localities[svc->nlocalities++];
			g->locality = ep->locality;
			snprintf(g->text, sizeof(g->text), "%s",
				 ep->locality_text);
		}
		g = &svc->localities[k];
		ep->group = (uint16_t)k;
		g->nendpoints++;
		/* 1024 endpoints of weight 10000 fit in 32 bits */
		g->weight += ep->weight;
	}
	return 0;
}

/*
 * Istio's validation of the locality settings (ValidateLocalityLbSetting)
 * and what it only warns about, plus swerve's own notes on rules that
 * cannot do anything on this host.
 */
static void check_locality_rules(struct parse *p,
				 const struct swerve_service *svc)
{
	const struct swerve_config *cfg = p->cfg;
	const struct swerve_distribute *d = NULL;
	unsigned i, j;
	bool hit;

	if (svc->ndistribute > 0 && svc->nfailover > 0)
		report_at(p, true, svc->distribute[0].line,
			  "service %s has both distribute and failover: Istio "
			  "refuses the pair, use one", svc->name);
	if (svc->ndistribute > 0 && svc->nfailover_priority > 0)
		report_at(p, true, svc->failover_priority_line,
			  "service %s has both distribute and "
			  "failover_priority: Istio would ignore "
			  "failover_priority, so swerve refuses it", svc->name);
	if (svc->nfailover > 0) {
		for (i = 0; i < svc->nfailover_priority; i++) {
			if (!is_locality_key(svc->failover_priority[i].key))
				continue;
			report_at(p, true, svc->failover_priority_line,
				  "failover_priority uses %s together with "
				  "failover in service %s: Istio refuses "
				  "locality labels there", 
				  svc->failover_priority[i].key, svc->name);
			break;
		}
	}
	if ((svc->nfailover > 0 || svc->nfailover_priority > 0) &&
	    !svc->outlier.enabled)
		report_at(p, false, svc->nfailover > 0 ? svc->failover[0].line :
			  svc->failover_priority_line,
			  "service %s has failover rules but no outlier "
			  "detection: like Istio, swerve makes no priority "
			  "tiers without it, so they do nothing", svc->name);

	/* The rule this host would use, and where it sends nothing. */
	for (i = 0; i < svc->ndistribute && d == NULL; i++) {
		if (swerve_config_locality_match(&cfg->locality,
						 &svc->distribute[i].from))
			d = &svc->distribute[i];
	}
	if (d == NULL)
		return;
	for (i = 0; i < svc->nlocalities; i++) {
		hit = false;
		for (j = 0; j < d->nto && !hit; j++)
			hit = swerve_config_locality_match(
				&svc->localities[i].locality,
				&d->to[j].pattern);
		if (!hit)
			report_at(p, false, d->line,
				  "distribute from %s lists no target for "
				  "locality '%s' of service %s: this host "
				  "sends it nothing, not even on failure",
				  d->from_text, svc->localities[i].text,
				  svc->name);
	}
}

static bool is_vip_taken(const struct swerve_config *cfg, unsigned service,
			 unsigned vip, uint32_t addr)
{
	unsigned s, v;

	for (s = 0; s <= service; s++) {
		for (v = 0; v < (s == service ? vip : SWERVE_VIPS_PER_SERVICE);
		     v++) {
			if (cfg->services[s].vips[v] == addr)
				return true;
		}
	}
	return false;
}

/* See the design comment at the top for why hashing plus probing. */
static void assign_vips(struct parse *p)
{
	struct swerve_config *cfg = p->cfg;
	uint64_t nslots = (1ull << (32 - cfg->vip_prefix)) - 2;
	uint64_t need = (uint64_t)cfg->nservices * SWERVE_VIPS_PER_SERVICE;
	uint64_t slot;
	unsigned s, v;

	if (need > nslots) {
		report_at(p, true, p->swerve_key_line[SK_VIP_CIDR],
			  "vip_cidr /%u has room for %llu service addresses, "
			  "but %u services need %llu", cfg->vip_prefix,
			  (unsigned long long)nslots, cfg->nservices,
			  (unsigned long long)need);
		return;
	}
	for (s = 0; s < cfg->nservices; s++) {
		struct swerve_service *svc = &cfg->services[s];

		slot = swerve_hash64(svc->name, strlen(svc->name),
				     SWERVE_HASH_SEED) % nslots;
		for (v = 0; v < SWERVE_VIPS_PER_SERVICE; v++) {
			/* offset 0 is the network, nslots + 1 broadcast */
			while (is_vip_taken(cfg, s, v,
					    cfg->vip_net + 1 + (uint32_t)slot))
				slot = (slot + 1) % nslots;
			svc->vips[v] = cfg->vip_net + 1 + (uint32_t)slot;
			slot = (slot + 1) % nslots;
		}
	}
}

static void finish(struct parse *p, bool use_env)
{
	struct swerve_config *cfg = p->cfg;
	struct tuning empty, t;
	char where[SERVICE_NAME_MAX + 16];
	unsigned i;

	if (use_env)
		apply_env(p);
	memset(&empty, 0, sizeof(empty));
	resolve_tuning(&p->defaults, &empty, &t);
	check_tuning(p, &t, &p->defaults, "[defaults]");
	for (i = 0; i < cfg->nservices; i++) {
		struct swerve_service *svc = &cfg->services[i];
		const struct tuning *own = &p->states[i].tuning;

		snprintf(where, sizeof(where), "[service %s]", svc->name);
		if (svc->nhosts == 0)
			report_at(p, true, svc->line,
				  "%s has no hosts: add hosts = NAME[, ...]",
				  where);
		if (svc->nendpoints == 0)
			report_at(p, true, svc->line,
				  "%s has no endpoint: add endpoint = "
				  "ADDRESS[:PORT]", where);
		resolve_tuning(own, &p->defaults, &t);
		check_tuning(p, &t, own, where);
		apply_tuning(svc, &t);
		check_endpoints(p, svc);
		if (build_localities(p, svc) == 0)
			check_locality_rules(p, svc);
	}
	assign_vips(p);
}

static void init_config(struct swerve_config *cfg, const char *path)
{
	const char *why;

	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	snprintf(cfg->shm_name, sizeof(cfg->shm_name), "%s",
		 SWERVE_DEFAULT_SHM);
	cfg->log_level = SWERVE_LOG_WARN;
	(void)parse_cidr(SWERVE_DEFAULT_VIP_CIDR, &cfg->vip_net,
			 &cfg->vip_mask, &cfg->vip_prefix, &why);
}

int swerve_config_load(const char *path, bool use_env,
		       struct swerve_config **out,
		       swerve_config_report_fn report, void *ctx, char *err,
		       size_t errlen)
{
	struct parse p;
	int rc;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.report = report;
	p.ctx = ctx;
	p.err = err;
	p.errlen = errlen;
	if (strlen(path) >= sizeof(p.cfg->path)) {
		report_at(&p, true, 0, "%s", strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	p.cfg = calloc(1, sizeof(*p.cfg));
	if (p.cfg == NULL) {
		report_at(&p, true, 0, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	init_config(p.cfg, path);

	p.file = fopen(path, "re");
	if (p.file == NULL) {
		rc = -errno;
		report_at(&p, true, 0, "%s", strerror(-rc));
		goto fail;
	}
	rc = ini_parse_stream(read_line, &p, handle_pair, &p);
	fclose(p.file);
	if (p.oom || rc == -2) {
		rc = -ENOMEM;
		report_at(&p, true, 0, "%s", strerror(ENOMEM));
		goto fail;
	}
	if (p.read_errno != 0) {
		rc = -p.read_errno;
		report_at(&p, true, 0, "%s", strerror(-rc));
		goto fail;
	}
	/* read_line() reports syntax errors itself; this is a backstop. */
	if (rc > 0 && rc != p.first_syntax_line)
		report_at(&p, true, rc, "syntax error");
	finish(&p, use_env);
	if (p.nerrors > 0) {
		rc = -EINVAL;
		goto fail;
	}
	free(p.states);
	*out = p.cfg;
	return 0;

fail:
	free(p.states);
	swerve_config_free(p.cfg);
	return rc;
}

void swerve_config_free(struct swerve_config *cfg)
{
	unsigned i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nservices; i++) {
		free(cfg->services[i].endpoints);
		free(cfg->services[i].localities);
		free(cfg->services[i].distribute);
	}
	free(cfg->services);
	free(cfg);
}

const struct swerve_service *swerve_config_match_name(
	const struct swerve_config *cfg, const char *name)
{
	const struct swerve_service *best = NULL;
	size_t best_len = 0;
	char buf[256];
	size_t n, i, len;
	unsigned s, h;

	if (cfg == NULL || name == NULL)
		return NULL;
	n = strnlen(name, sizeof(buf));
	if (n == sizeof(buf))
		return NULL;
	for (i = 0; i < n; i++)
		buf[i] = to_lower(name[i]);
	if (n > 0 && buf[n - 1] == '.')
		n--;
	buf[n] = '\0';
	if (n == 0)
		return NULL;
	for (s = 0; s < cfg->nservices; s++) {
		const struct swerve_service *svc = &cfg->services[s];

		for (h = 0; h < svc->nhosts; h++) {
			const char *host = svc->hosts[h];

			if (host[0] != '*') {
				if (strcmp(host, buf) == 0)
					return svc;
				continue;
			}
			/* "*.mydb.com": the suffix keeps its dot, and at
			 * least one character must come before it. */
			len = strlen(host + 1);
			if (n > len && len > best_len &&
			    memcmp(buf + n - len, host + 1, len) == 0) {
				best = svc;
				best_len = len;
			}
		}
	}
	return best;
}

const struct swerve_service *swerve_config_match_vip(
	const struct swerve_config *cfg, uint32_t addr, unsigned *vip_index)
{
	unsigned s, v;

	if (cfg == NULL || (addr & cfg->vip_mask) != cfg->vip_net)
		return NULL;
	for (s = 0; s < cfg->nservices; s++) {
		for (v = 0; v < SWERVE_VIPS_PER_SERVICE; v++) {
			if (cfg->services[s].vips[v] != addr)
				continue;
			if (vip_index != NULL)
				*vip_index = v;
			return &cfg->services[s];
		}
	}
	return NULL;
}

bool swerve_config_serves_port(const struct swerve_service *svc,
			       uint16_t port)
{
	unsigned i;

	if (svc->nports == 0)
		return true;
	for (i = 0; i < svc->nports; i++) {
		if (svc->ports[i] == port)
			return true;
	}
	return false;
}
