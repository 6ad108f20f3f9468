/*
 * config_keys.c: the table of every key the file knows (where it may be
 * given, what its value is, its range and default, its handler), the
 * dispatch of each key read to its handler, the environment overrides,
 * and the resolution of a service's tuning keys.
 *
 * Thread-safety: the table is constant; the functions are used only by the
 * thread loading a config, with all state in its struct parse.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/config_int.h"

static void set_tuning(struct parse *p, const char *value);

/* The fields all keys of one place share. */
#define TUNING .place = PLACE_TUNING, .handle = set_tuning
#define SWERVE(fn) .place = PLACE_SWERVE, .kind = VALUE_TEXT, .handle = (fn)
#define SERVICE(fn) .place = PLACE_SERVICE, .kind = VALUE_TEXT, .handle = (fn)
/* Every duration lies between 1 ms and a day (SWERVE_MAX_DURATION_MS). */
#define DURATION \
	.kind = VALUE_DURATION, .min = 1, .max = SWERVE_MAX_DURATION_MS

/*
 * Defaults follow Istio's OutlierDetection and Envoy's cluster settings,
 * except min_ejectable_hosts, which is swerve's own floor. The default of
 * max_ejection_time depends on base_ejection_time: config_resolve_tuning().
 */
static const struct key_spec keys[KEY_COUNT] = {
	[TK_CONSECUTIVE_5XX] = { "consecutive_5xx_errors", TUNING,
		.kind = VALUE_UINT, .max = UINT32_MAX, .def = 5,
		.outlier = true },
	[TK_CONSECUTIVE_GATEWAY] = { "consecutive_gateway_errors", TUNING,
		.kind = VALUE_UINT, .max = UINT32_MAX, .def = 0,
		.outlier = true },
	[TK_CONSECUTIVE_LOCAL_ORIGIN] = { "consecutive_local_origin_failures",
		TUNING, .kind = VALUE_UINT, .max = UINT32_MAX, .def = 5,
		.outlier = true },
	[TK_SPLIT] = { "split_external_local_origin_errors", TUNING,
		.kind = VALUE_BOOL, .max = 1, .def = 0, .outlier = true },
	[TK_INTERVAL] = { "interval", TUNING,
		DURATION, .def = 10000, .outlier = true },
	[TK_BASE_EJECTION] = { "base_ejection_time", TUNING,
		DURATION, .def = 30000, .outlier = true },
	[TK_MAX_EJECTION] = { "max_ejection_time", TUNING,
		DURATION, .def = 300000, .outlier = true },
	[TK_MAX_EJECTION_PERCENT] = { "max_ejection_percent", TUNING,
		.kind = VALUE_UINT, .max = 100, .def = 10, .outlier = true },
	[TK_MIN_EJECTABLE_HOSTS] = { "min_ejectable_hosts", TUNING,
		.kind = VALUE_UINT, .max = SWERVE_MAX_ENDPOINTS, .def = 1,
		.outlier = true },
	[TK_MIN_HEALTH_PERCENT] = { "min_health_percent", TUNING,
		.kind = VALUE_UINT, .max = 100, .def = 0, .outlier = true },
	[TK_LB] = { "lb", TUNING,
		.kind = VALUE_LB, .max = 2, .def = SWERVE_LB_ROUND_ROBIN },
	[TK_OVERPROVISIONING] = { "overprovisioning_factor", TUNING,
		.kind = VALUE_UINT, .min = 100, .max = 1000, .def = 140,
		.hint = " (a percentage: 140 means 1.4)" },
	[TK_CONNECT_TIMEOUT] = { "connect_timeout", TUNING,
		DURATION, .def = 10000 },
	[TK_CONNECT_ATTEMPTS] = { "connect_attempts", TUNING,
		.kind = VALUE_UINT, .min = 1, .max = 16, .def = 3 },
	/* Istio's ServiceEntry resolution; Envoy's dns_refresh_rate (5s) is
	 * the floor under a record's TTL. */
	[TK_RESOLUTION] = { "resolution", TUNING,
		.kind = VALUE_RESOLUTION, .max = 1, .def = 0 },
	[TK_DNS_MIN_TTL] = { "dns_min_ttl", TUNING,
		DURATION, .def = 5000 },
	[TK_DNS_MAX_TTL] = { "dns_max_ttl", TUNING,
		DURATION, .def = 300000 },
	[TK_DNS_TIMEOUT] = { "dns_timeout", TUNING,
		DURATION, .def = 2000 },
	/* Istio's port protocol, and its route timeout: 0s (the default,
	 * as in Istio) counts no response timeout. */
	[TK_PROTOCOL] = { "protocol", TUNING,
		.kind = VALUE_PROTOCOL, .max = 1, .def = SWERVE_PROTOCOL_TCP },
	[TK_RESPONSE_TIMEOUT] = { "response_timeout", TUNING,
		.kind = VALUE_DURATION, .min = 0,
		.max = SWERVE_MAX_DURATION_MS, .def = 0 },
	/* Istio's HTTPRetry and its mesh default (2 retries, 503), for the
	 * services the TLS relay carries; config_retry.c. */
	[TK_RETRIES] = { "retries", TUNING,
		.kind = VALUE_UINT, .max = SWERVE_MAX_RETRIES, .def = 2 },
	[TK_RETRY_ON] = { "retry_on", TUNING,
		.kind = VALUE_RETRY_ON, .def = RETRY_ON_DEFAULT },
	[TK_RETRIABLE_CODES] = { "retriable_status_codes", TUNING,
		.kind = VALUE_STATUS_CODES, .def = RETRIABLE_CODES_DEFAULT },
	/* config.c sets the defaults of the [swerve] keys. */
	[SK_LOCALITY] = { "locality", SWERVE(config_set_locality),
		.env = "SWERVE_LOCALITY" },
	[SK_VIP_CIDR] = { "vip_cidr", SWERVE(config_set_vip_cidr) },
	[SK_SHM] = { "shm", SWERVE(config_set_shm), .env = "SWERVE_SHM" },
	[SK_LOG] = { "log", SWERVE(config_set_log), .env = "SWERVE_LOG" },
	[SK_DNS_SERVERS] = { "dns_servers", SWERVE(config_set_dns_servers) },
	[SK_LOG_FILE] = { "log_file", SWERVE(config_set_log_file),
		.env = "SWERVE_LOG_FILE" },
	/* A number: its handler reads it with config_parse_key_value(). */
	[SK_TLS_MAX_CONNECTIONS] = { "tls_max_connections",
		.place = PLACE_SWERVE, .kind = VALUE_UINT, .min = 1,
		.max = TLS_MAX_CONNECTIONS_MAX,
		.def = TLS_MAX_CONNECTIONS_DEFAULT,
		.handle = config_set_tls_max_connections },
	/* Whether running programs follow edits of the file (preload's
	 * reload.c); a boolean read as tls_insecure_skip_verify is. */
	[SK_RELOAD] = { "reload", .place = PLACE_SWERVE, .kind = VALUE_BOOL,
		.max = 1, .def = 1, .handle = config_set_reload },
	/* All but failover_priority accumulate over repeated keys. */
	[VK_HOSTS] = { "hosts", SERVICE(config_add_hosts) },
	[VK_PORTS] = { "ports", SERVICE(config_add_ports) },
	[VK_ENDPOINT] = { "endpoint", SERVICE(config_add_endpoint) },
	[VK_FAILOVER] = { "failover", SERVICE(config_add_failover) },
	[VK_FAILOVER_PRIORITY] = { "failover_priority",
		SERVICE(config_set_failover_priority) },
	[VK_DISTRIBUTE] = { "distribute", SERVICE(config_add_distribute) },
	/* Istio's ClientTLSSettings, per service; config_tls.c. Only
	 * tls_subject_alt_names accumulates. */
	[VK_TLS] = { "tls", SERVICE(config_set_tls) },
	[VK_TLS_CA] = { "tls_ca_certificates", SERVICE(config_set_tls_ca) },
	[VK_TLS_SNI] = { "tls_sni", SERVICE(config_set_tls_sni) },
	[VK_TLS_SANS] = { "tls_subject_alt_names",
		SERVICE(config_add_tls_sans) },
	[VK_TLS_CERT] = { "tls_client_certificate",
		SERVICE(config_set_tls_cert) },
	[VK_TLS_KEY] = { "tls_private_key", SERVICE(config_set_tls_key) },
	[VK_TLS_SKIP_VERIFY] = { "tls_insecure_skip_verify",
		.place = PLACE_SERVICE, .kind = VALUE_BOOL, .max = 1,
		.handle = config_set_tls_skip_verify },
};

/* Where each place is, as a message about a misplaced key says it. */
static const char *const homes[] = {
	[PLACE_SWERVE] = "[swerve]",
	[PLACE_TUNING] = "[defaults] or a [service NAME] section",
	[PLACE_SERVICE] = "a [service NAME] section",
};

static int find_key(const char *name)
{
	int k;

	for (k = 0; k < KEY_COUNT; k++) {
		if (strcmp(keys[k].name, name) == 0)
			return k;
	}
	return -1;
}

static bool is_at_home(enum key_place place, enum section_kind section)
{
	switch (place) {
	case PLACE_SWERVE:
		return section == SECTION_SWERVE;
	case PLACE_TUNING:
		return section == SECTION_DEFAULTS ||
		       section == SECTION_SERVICE;
	case PLACE_SERVICE:
		return section == SECTION_SERVICE;
	}
	return false;
}

bool config_given_twice(struct parse *p, int first_line)
{
	if (first_line == 0)
		return false;
	config_error(p, "%s is given twice in %s (first at line %d)",
		     keys[p->key].name, p->where, first_line);
	return true;
}

int config_parse_key_value(struct parse *p, const char *value,
			   uint64_t *out)
{
	return config_parse_value(p, &keys[p->key], value, out);
}

/* The handler of every tuning key: the kind, range and default decide. */
static void set_tuning(struct parse *p, const char *value)
{
	struct tuning *t = p->section == SECTION_DEFAULTS
				   ? &p->defaults
				   : &p->states[p->service].tuning;
	int k = p->key;
	uint64_t v = 0;

	if (config_given_twice(p, t->line[k]) ||
	    config_parse_key_value(p, value, &v) < 0)
		return;
	t->value[k] = v;
	t->line[k] = p->lineno;
}

enum section_kind config_home_section(const char *name)
{
	int k;

	if (strncmp(name, "label.", 6) == 0)
		return SECTION_SWERVE;
	k = find_key(name);
	return k >= 0 && keys[k].place == PLACE_SWERVE ? SECTION_SWERVE
						       : SECTION_SERVICE;
}

/* this host's labels: label.KEY = VALUE in [swerve] */
static void handle_label(struct parse *p, const char *name,
			 const char *value)
{
	if (p->section == SECTION_SWERVE)
		(void)config_add_label(p, p->cfg->labels, &p->cfg->nlabels,
				       name + 6, value);
	else
		config_error(p, "key '%s' belongs in [swerve] (this host's "
			     "labels), not %s", name, p->where);
}

void config_handle_key(struct parse *p, const char *name, const char *value)
{
	int k;

	/* A service's labels are options of its endpoints, not keys. */
	if (strncmp(name, "label.", 6) == 0 && p->section != SECTION_SERVICE) {
		handle_label(p, name, value);
		return;
	}
	k = find_key(name);
	if (k < 0) {
		config_error(p, "unknown key '%s' in %s", name, p->where);
		return;
	}
	if (!is_at_home(keys[k].place, p->section)) {
		config_error(p, "key '%s' belongs in %s, not %s", name,
			     homes[keys[k].place], p->where);
		return;
	}
	p->key = k;
	/* Tuning keys and the service keys given once (failover_priority,
	 * the TLS keys) check this in their handler. */
	if (keys[k].place == PLACE_SWERVE) {
		if (config_given_twice(p, p->swerve_key_line[k]))
			return;
		p->swerve_key_line[k] = p->lineno;
	}
	keys[k].handle(p, value);
}

/*
 * The environment overrides the file: each key that names a variable gets
 * its value from there, through the same handler, after the file is read.
 */
void config_apply_env(struct parse *p)
{
	const char *s;
	int k;

	for (k = 0; k < KEY_COUNT; k++) {
		if (keys[k].env == NULL)
			continue;
		/* An empty variable counts as unset, as with most Unix
		 * tools. */
		s = secure_getenv(keys[k].env);
		if (s == NULL || *s == '\0')
			continue;
		p->key = k;
		p->env = keys[k].env;
		keys[k].handle(p, s);
		p->env = NULL;
	}
}

/* <own> over <defaults> over the built-in defaults. */
void config_resolve_tuning(const struct tuning *own,
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
			out->value[k] = keys[k].def;
			out->line[k] = 0;
		}
	}
	/* Envoy: max_ejection_time defaults to 300s, or base when longer. */
	if (out->line[TK_MAX_EJECTION] == 0 &&
	    out->value[TK_BASE_EJECTION] > out->value[TK_MAX_EJECTION])
		out->value[TK_MAX_EJECTION] = out->value[TK_BASE_EJECTION];
}

void config_apply_tuning(struct swerve_service *svc, const struct tuning *t)
{
	struct swerve_outlier_cfg *o = &svc->outlier;
	int k;

	o->enabled = false;
	for (k = 0; k < TK_COUNT; k++) {
		if (keys[k].outlier && t->line[k] != 0)
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
	svc->protocol = (enum swerve_protocol)t->value[TK_PROTOCOL];
	svc->response_timeout_ms = t->value[TK_RESPONSE_TIMEOUT];
}
