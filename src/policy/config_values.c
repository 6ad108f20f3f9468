/*
 * config_values.c: parsers of values that stand on their own: numbers,
 * durations, localities and patterns, vip_cidr, shm and dns_servers,
 * host names, ports, comma separated lists and labels.
 *
 * Thread-safety: the public parsers are pure functions of their arguments;
 * the rest are used only by the thread loading a config, with all state in
 * its struct parse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "policy/config_int.h"

/* Copies s[0..len) to <out> (of <size> bytes) without surrounding blanks. */
void config_copy_trimmed(char *out, size_t size, const char *s, size_t len)
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
int config_parse_uint(const char *s, uint64_t max, uint64_t *out)
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

/* The config spelling of each balancing policy. */
static const char *const lb_names[] = {
	[SWERVE_LB_ROUND_ROBIN] = "round_robin",
	[SWERVE_LB_LEAST_REQUEST] = "least_request",
	[SWERVE_LB_RANDOM] = "random",
};
_Static_assert(SWERVE_ARRAY_LEN(lb_names) == 3,
	       "config_parse_lb() names every policy in its message");

const char *swerve_config_lb_name(enum swerve_lb lb)
{
	if ((unsigned)lb >= SWERVE_ARRAY_LEN(lb_names))
		return "?";
	return lb_names[lb];
}

static int parse_lb(struct parse *p, const char *value, uint64_t *out)
{
	size_t i;

	for (i = 0; i < SWERVE_ARRAY_LEN(lb_names); i++) {
		if (strcmp(lb_names[i], value) == 0) {
			*out = i;
			return 0;
		}
	}
	config_error(p, "lb must be %s, %s or %s, not '%s'", lb_names[0],
		     lb_names[1], lb_names[2], value);
	return -EINVAL;
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

static int parse_uint_value(struct parse *p, const struct key_spec *key,
			    const char *value, uint64_t *out)
{
	if (config_parse_uint(value, key->max, out) < 0 || *out < key->min) {
		config_error(p, "%s must be a whole number from %llu to "
			     "%llu%s, not '%s'", key->name,
			     (unsigned long long)key->min,
			     (unsigned long long)key->max,
			     key->hint != NULL ? key->hint : "", value);
		return -EINVAL;
	}
	return 0;
}

static int parse_duration_value(struct parse *p, const struct key_spec *key,
				const char *value, uint64_t *out)
{
	if (swerve_config_parse_duration(value, out) < 0) {
		if (is_all_digits(value))
			config_error(p, "%s = %s needs a unit: ms, s, m or h",
				     key->name, value);
		else
			config_error(p, "%s: '%s' is not a duration: use a "
				     "whole number with ms, s, m or h, like "
				     "15s", key->name, value);
		return -EINVAL;
	}
	if (*out < key->min) {
		config_error(p, "%s must be at least 1ms", key->name);
		return -EINVAL;
	}
	if (*out > key->max) {
		config_error(p, "%s must be at most %lluh (a day), not '%s'",
			     key->name,
			     (unsigned long long)(key->max / 3600000), value);
		return -EINVAL;
	}
	return 0;
}

int config_parse_value(struct parse *p, const struct key_spec *key,
		       const char *value, uint64_t *out)
{
	switch (key->kind) {
	case VALUE_UINT:
		return parse_uint_value(p, key, value, out);
	case VALUE_DURATION:
		return parse_duration_value(p, key, value, out);
	case VALUE_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
			*out = strcmp(value, "true") == 0;
			return 0;
		}
		config_error(p, "%s must be true or false, not '%s'",
			     key->name, value);
		return -EINVAL;
	case VALUE_RESOLUTION:
		if (strcmp(value, "dns") == 0 || strcmp(value, "static") == 0) {
			*out = strcmp(value, "dns") == 0;
			return 0;
		}
		config_error(p, "%s must be static or dns, not '%s'",
			     key->name, value);
		return -EINVAL;
	case VALUE_PROTOCOL:
		if (strcmp(value, "http") == 0 || strcmp(value, "tcp") == 0) {
			*out = strcmp(value, "http") == 0 ? SWERVE_PROTOCOL_HTTP
							  : SWERVE_PROTOCOL_TCP;
			return 0;
		}
		config_error(p, "%s must be tcp or http, not '%s'",
			     key->name, value);
		return -EINVAL;
	case VALUE_LB:
		return parse_lb(p, value, out);
	case VALUE_RETRY_ON:
		return config_parse_retry_on(p, key, value, out);
	case VALUE_STATUS_CODES:
		return config_parse_status_codes(p, key, value, out);
	case VALUE_TEXT:
		break;
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

/*
 * vip_cidr "a.b.c.d/p": IPv4, prefix 8..30 (a /31 has no room once network
 * and broadcast are left out), no host bits, inside 127.0.0.0/8 so that a
 * service address can never reach the network if swerve is not loaded.
 */
int config_parse_cidr(const char *s, uint32_t *net, uint32_t *mask,
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
	    config_parse_uint(slash + 1, 32, &p) < 0)
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
		config_copy_trimmed(item, sizeof(item), s, len);
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
			    (config_parse_uint(close + 2, 65535, &port) < 0 ||
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
				if (config_parse_uint(colon + 1, 65535,
						      &port) < 0 || port == 0)
					return false;
			}
			if (inet_pton(AF_INET, host, &a4) != 1)
				return false;
		}
		s = end != NULL ? end + 1 : s + len;
	}
	return true;
}

void config_set_locality(struct parse *p, const char *value)
{
	struct swerve_config *cfg = p->cfg;
	struct swerve_locality loc;

	if (swerve_config_parse_locality(value, &loc) < 0) {
		config_error(p, "locality '%s' is not region[/zone[/subzone]] "
			     "(parts of 1 to 63 characters, no spaces)", value);
		return;
	}
	cfg->locality = loc;
	snprintf(cfg->locality_text, sizeof(cfg->locality_text), "%s", value);
}

void config_set_vip_cidr(struct parse *p, const char *value)
{
	struct swerve_config *cfg = p->cfg;
	const char *why;

	if (config_parse_cidr(value, &cfg->vip_net, &cfg->vip_mask,
			      &cfg->vip_prefix, &why) < 0)
		config_error(p, "bad vip_cidr '%s': %s", value, why);
}

void config_set_shm(struct parse *p, const char *value)
{
	struct swerve_config *cfg = p->cfg;

	if (!is_valid_shm_name(value)) {
		config_error(p, "shm '%s' must be '/' and a name without '/', "
			     "at most 100 characters in all", value);
		return;
	}
	snprintf(cfg->shm_name, sizeof(cfg->shm_name), "%s", value);
}

void config_set_log(struct parse *p, const char *value)
{
	enum swerve_log_level level;

	if (swerve_log_parse_level(value, &level) < 0) {
		config_error(p, "log must be error, warn, info or debug, not "
			     "'%s'", value);
		return;
	}
	p->cfg->log_level = level;
}

void config_set_dns_servers(struct parse *p, const char *value)
{
	struct swerve_config *cfg = p->cfg;

	if (!is_valid_dns_servers(value)) {
		config_error(p, "dns_servers '%s' must be a comma separated "
			     "list of IPv4[:PORT] or [IPv6][:PORT]", value);
		return;
	}
	snprintf(cfg->dns_servers, sizeof(cfg->dns_servers), "%s", value);
}

/*
 * log_file: an absolute path that swerve appends its lines to (base/log.c
 * opens it for each line, so nothing stays open).
 */
void config_set_log_file(struct parse *p, const char *value)
{
	struct swerve_config *cfg = p->cfg;

	if (value[0] != '/' || strlen(value) >= sizeof(cfg->log_file) ||
	    strpbrk(value, "\n\r") != NULL) {
		config_error(p, "log_file '%s' must be an absolute path",
			     value);
		return;
	}
	snprintf(cfg->log_file, sizeof(cfg->log_file), "%s", value);
}

void config_set_reload(struct parse *p, const char *value)
{
	uint64_t v;

	if (config_parse_key_value(p, value, &v) == 0)
		p->cfg->reload = v != 0;
}

int swerve_config_host_normalize(const char *in, char *out, size_t outlen)
{
	size_t n, i;

	if (in == NULL || out == NULL || outlen == 0)
		return -EINVAL;
	n = strnlen(in, outlen);
	if (n == outlen || n > INT_MAX)
		return -ENAMETOOLONG;
	for (i = 0; i < n; i++)
		out[i] = to_lower(in[i]);
	/* "name." is the same name, written fully qualified */
	if (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return n > 0 ? (int)n : -EINVAL;
}

/* Host names are stored lower case without the trailing dot. */
bool config_is_valid_host(const char *body)
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

static void add_host(struct parse *p, const char *item)
{
	struct swerve_config *cfg = p->cfg;
	struct swerve_service *svc = &cfg->services[p->service];
	char name[256];
	struct in_addr in;
	const char *body;
	unsigned s, h;
	int n;

	if (*item == '\0') {
		config_error(p, "empty name in hosts list");
		return;
	}
	n = swerve_config_host_normalize(item, name, sizeof(name));
	if (n == -ENAMETOOLONG) {
		config_error(p, "host name '%s' is too long", item);
		return;
	}
	body = strncmp(name, "*.", 2) == 0 ? name + 2 : name;
	if (n < 0 || !config_is_valid_host(body)) {
		config_error(p, "'%s' is not a host name: use NAME or *.SUFFIX "
			     "(letters, digits, '-', '_' and dots)", item);
		return;
	}
	if (inet_pton(AF_INET, body, &in) == 1) {
		config_error(p, "hosts takes names, not addresses: '%s'", item);
		return;
	}
	for (s = 0; s < cfg->nservices; s++) {
		const struct swerve_service *o = &cfg->services[s];

		for (h = 0; h < o->nhosts; h++) {
			if (strcmp(o->hosts[h], name) != 0)
				continue;
			if (o == svc)
				config_error(p, "host '%s' is listed twice in "
					     "%s", name, p->where);
			else
				config_error(p, "host '%s' is already served "
					     "by [service %s] (line %d)", name,
					     o->name, o->line);
			return;
		}
	}
	if (svc->nhosts == SWERVE_MAX_HOSTS) {
		config_error(p, "%s has more than %d hosts",
			     p->where, SWERVE_MAX_HOSTS);
		return;
	}
	memcpy(svc->hosts[svc->nhosts++], name, (size_t)n + 1);
}

static void add_port(struct parse *p, const char *item)
{
	struct swerve_service *svc = &p->cfg->services[p->service];
	uint64_t v;
	unsigned i;

	if (config_parse_uint(item, 65535, &v) < 0 || v == 0) {
		config_error(p, "port must be 1 to 65535, not '%s'", item);
		return;
	}
	for (i = 0; i < svc->nports; i++) {
		if (svc->ports[i] == v) {
			config_error(p, "port %u is listed twice in %s",
				     (unsigned)v, p->where);
			return;
		}
	}
	if (svc->nports == SWERVE_MAX_PORTS) {
		config_error(p, "%s has more than %d ports",
			     p->where, SWERVE_MAX_PORTS);
		return;
	}
	svc->ports[svc->nports++] = (uint16_t)v;
}

/*
 * hosts, ports and failover_priority are comma separated lists; hosts and
 * ports accumulate over repeated keys.
 */
void config_add_list(struct parse *p, const char *value,
		     void (*add)(struct parse *p, const char *item))
{
	char item[CONFIG_LINE_MAX];
	const char *comma;

	for (;;) {
		comma = strchr(value, ',');
		config_copy_trimmed(item, sizeof(item), value,
				    comma != NULL ? (size_t)(comma - value)
						  : strlen(value));
		add(p, item);
		if (comma == NULL)
			break;
		value = comma + 1;
	}
}

void config_add_hosts(struct parse *p, const char *value)
{
	config_add_list(p, value, add_host);
}

void config_add_ports(struct parse *p, const char *value)
{
	config_add_list(p, value, add_port);
}

/* Copies the next blank-separated word of <s> to <tok>; NULL at the end. */
const char *config_read_token(const char *s, char *tok, size_t size)
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

/* Label keys as Kubernetes writes them: letters, digits, '.', '_', '-', '/'. */
bool config_is_valid_label_key(const char *s)
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

bool config_is_locality_key(const char *key)
{
	return strcmp(key, SWERVE_LABEL_REGION) == 0 ||
	       strcmp(key, SWERVE_LABEL_ZONE) == 0 ||
	       strcmp(key, SWERVE_LABEL_SUBZONE) == 0;
}

/*
 * Adds KEY=VALUE to <labels>: the checks shared by endpoint options and
 * [swerve] label.KEY keys. Returns 0 or -EINVAL after reporting.
 */
int config_add_label(struct parse *p, struct swerve_label *labels,
		     unsigned *n, const char *key, const char *value)
{
	unsigned i;

	if (!config_is_valid_label_key(key)) {
		config_error(p, "bad label key '%s': use 1 to 63 of A-Z a-z "
			     "0-9 . _ - /", key);
		return -EINVAL;
	}
	if (config_is_locality_key(key)) {
		config_error(p, "label %s comes from the locality: set it with "
			     "locality=REGION[/ZONE[/SUBZONE]]", key);
		return -EINVAL;
	}
	if (strlen(value) > 63 || strpbrk(value, " \t=,") != NULL) {
		config_error(p, "label %s: value '%s' must be at most 63 "
			     "characters without blanks, '=' or ','", key,
			     value);
		return -EINVAL;
	}
	for (i = 0; i < *n; i++) {
		if (strcmp(labels[i].key, key) == 0) {
			config_error(p, "label %s is given twice", key);
			return -EINVAL;
		}
	}
	if (*n == SWERVE_MAX_LABELS) {
		config_error(p, "more than %d labels", SWERVE_MAX_LABELS);
		return -EINVAL;
	}
	snprintf(labels[*n].key, sizeof(labels[*n].key), "%s", key);
	snprintf(labels[*n].value, sizeof(labels[*n].value), "%s", value);
	(*n)++;
	return 0;
}
