/*
 * config_keys.c: which keys each section takes, what their values may be
 * and what they default to; dispatches every key to its handler, applies
 * the environment overrides, and resolves the tuning keys of a service.
 *
 * Thread-safety: the tables are constant; the functions are used only by
 * the thread loading a config, with all state in its struct parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config_int.h"

static const char *const swerve_keys[SK_COUNT] = {
	"locality", "vip_cidr", "shm", "log", "dns_servers",
};

static const char *const service_keys[] = {
	"hosts", "ports", "endpoint", "failover", "failover_priority",
	"distribute",
};

/*
 * Defaults follow Istio's OutlierDetection and Envoy's cluster settings,
 * except min_ejectable_hosts, which is swerve's own floor. The default of
 * max_ejection_time depends on base_ejection_time: config_resolve_tuning().
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

static void set_tuning(struct parse *p, struct tuning *t, int k,
		       const char *value, const char *where)
{
	const struct tuning_spec *spec = &tuning_specs[k];
	uint64_t v = 0;

	if (t->line[k] != 0) {
		config_error(p, "%s is given twice in %s (first at line %d)",
			     spec->name, where, t->line[k]);
		return;
	}
	switch (spec->kind) {
	case VALUE_UINT:
		if (config_parse_uint(value, spec->max, &v) < 0 ||
		    v < spec->min) {
			config_error(p, "%s must be a whole number from %llu "
				     "to %llu%s, not '%s'", spec->name,
				     (unsigned long long)spec->min,
				     (unsigned long long)spec->max,
				     spec->hint != NULL ? spec->hint : "",
				     value);
			return;
		}
		break;
	case VALUE_DURATION:
		if (swerve_config_parse_duration(value, &v) < 0) {
			if (config_is_all_digits(value))
				config_error(p, "%s = %s needs a unit: ms, s, "
					     "m or h", spec->name, value);
			else
				config_error(p, "%s: '%s' is not a duration: "
					     "use a whole number with ms, s, m "
					     "or h, like 15s", spec->name,
					     value);
			return;
		}
		if (v < spec->min) {
			config_error(p, "%s must be at least 1ms", spec->name);
			return;
		}
		break;
	case VALUE_BOOL:
		if (strcmp(value, "true") == 0) {
			v = 1;
		} else if (strcmp(value, "false") != 0) {
			config_error(p, "%s must be true or false, not '%s'",
				     spec->name, value);
			return;
		}
		break;
	case VALUE_RESOLUTION:
		if (strcmp(value, "dns") == 0) {
			v = 1;
		} else if (strcmp(value, "static") != 0) {
			config_error(p, "resolution must be static or dns, not "
				     "'%s'", value);
			return;
		}
		break;
	case VALUE_LB:
		if (config_parse_lb(p, value, &v) < 0)
			return;
		break;
	}
	t->value[k] = v;
	t->line[k] = p->lineno;
}

static void handle_swerve_key(struct parse *p, int k, const char *value)
{
	struct swerve_config *cfg = p->cfg;
	struct swerve_locality loc;
	enum swerve_log_level level;
	const char *why;

	if (p->swerve_key_line[k] != 0) {
		config_error(p, "%s is given twice in [swerve] (first at line "
			     "%d)", swerve_keys[k], p->swerve_key_line[k]);
		return;
	}
	p->swerve_key_line[k] = p->lineno;
	switch ((enum swerve_key)k) {
	case SK_LOCALITY:
		if (swerve_config_parse_locality(value, &loc) < 0) {
			config_error(p, "locality '%s' is not "
				     "region[/zone[/subzone]] (parts of 1 to "
				     "63 characters, no spaces)", value);
			return;
		}
		cfg->locality = loc;
		snprintf(cfg->locality_text, sizeof(cfg->locality_text), "%s",
			 value);
		break;
	case SK_VIP_CIDR:
		if (config_parse_cidr(value, &cfg->vip_net, &cfg->vip_mask,
				      &cfg->vip_prefix, &why) < 0)
			config_error(p, "bad vip_cidr '%s': %s", value, why);
		break;
	case SK_SHM:
		if (!config_is_valid_shm_name(value)) {
			config_error(p, "shm '%s' must be '/' and a name "
				     "without '/', at most 100 characters in "
				     "all", value);
			return;
		}
		snprintf(cfg->shm_name, sizeof(cfg->shm_name), "%s", value);
		break;
	case SK_LOG:
		if (swerve_log_parse_level(value, &level) < 0) {
			config_error(p, "log must be error, warn, info or "
				     "debug, not '%s'", value);
			return;
		}
		cfg->log_level = level;
		break;
	case SK_DNS_SERVERS:
		if (!config_is_valid_dns_servers(value)) {
			config_error(p, "dns_servers '%s' must be a comma "
				     "separated list of IPv4[:PORT] or "
				     "[IPv6][:PORT]", value);
			return;
		}
		snprintf(cfg->dns_servers, sizeof(cfg->dns_servers), "%s",
			 value);
		break;
	case SK_COUNT:
		break;
	}
}

void config_handle_service_key(struct parse *p, const char *name,
			       const char *value)
{
	struct service_state *st = &p->states[p->service];
	char where[SERVICE_NAME_MAX + 16];
	int k;

	config_format_section(p, where, sizeof(where));
	k = find_tuning_key(name);
	if (k >= 0) {
		set_tuning(p, &st->tuning, k, value, where);
	} else if (strcmp(name, "hosts") == 0) {
		config_add_list(p, where, value, config_add_host);
	} else if (strcmp(name, "ports") == 0) {
		config_add_list(p, where, value, config_add_port);
	} else if (strcmp(name, "endpoint") == 0) {
		config_add_endpoint(p, where, value);
	} else if (strcmp(name, "failover") == 0) {
		config_add_failover(p, where, value);
	} else if (strcmp(name, "failover_priority") == 0) {
		struct swerve_service *svc = &p->cfg->services[p->service];

		if (svc->failover_priority_line != 0) {
			config_error(p, "failover_priority is given twice in "
				     "%s (first at line %d)", where,
				     svc->failover_priority_line);
			return;
		}
		svc->failover_priority_line = p->lineno;
		config_add_list(p, where, value, config_add_failover_label);
	} else if (strcmp(name, "distribute") == 0) {
		config_add_distribute(p, where, value);
	} else if (find_name(swerve_keys, SK_COUNT, name) >= 0) {
		config_error(p, "key '%s' belongs in [swerve], not %s", name,
			     where);
	} else {
		config_error(p, "unknown key '%s' in %s", name, where);
	}
}

void config_handle_other_key(struct parse *p, const char *name,
			     const char *value)
{
	bool in_swerve = p->section == SECTION_SWERVE;
	const char *where = in_swerve ? "[swerve]" : "[defaults]";
	int k;

	if (strncmp(name, "label.", 6) == 0) {
		if (in_swerve)
			(void)config_add_label(p, p->cfg->labels,
					       &p->cfg->nlabels, name + 6,
					       value);
		else
			config_error(p, "key '%s' belongs in [swerve] (this "
				     "host's labels), not %s", name, where);
		return;
	}
	k = find_name(swerve_keys, SK_COUNT, name);
	if (k >= 0) {
		if (in_swerve)
			handle_swerve_key(p, k, value);
		else
			config_error(p, "key '%s' belongs in [swerve], not %s",
				     name, where);
		return;
	}
	k = find_tuning_key(name);
	if (k >= 0) {
		if (in_swerve)
			config_error(p, "key '%s' belongs in [defaults] or a "
				     "[service NAME] section, not [swerve]",
				     name);
		else
			set_tuning(p, &p->defaults, k, value, where);
		return;
	}
	if (find_name(service_keys, SWERVE_ARRAY_LEN(service_keys), name) >= 0)
		config_error(p, "key '%s' belongs in a [service NAME] section, "
			     "not %s", name, where);
	else
		config_error(p, "unknown key '%s' in %s", name, where);
}

void config_apply_env(struct parse *p)
{
	struct swerve_config *cfg = p->cfg;
	struct swerve_locality loc;
	enum swerve_log_level level;
	const char *s;

	/* An empty variable counts as unset, as with most Unix tools. */
	s = secure_getenv("SWERVE_LOCALITY");
	if (s != NULL && *s != '\0') {
		if (swerve_config_parse_locality(s, &loc) < 0) {
			config_report_env(p, "SWERVE_LOCALITY",
					  "'%s' is not region[/zone[/subzone]]"
					  " (parts of 1 to 63 characters, no "
					  "spaces)", s);
		} else {
			cfg->locality = loc;
			snprintf(cfg->locality_text,
				 sizeof(cfg->locality_text), "%s", s);
		}
	}
	s = secure_getenv("SWERVE_SHM");
	if (s != NULL && *s != '\0') {
		if (!config_is_valid_shm_name(s))
			config_report_env(p, "SWERVE_SHM",
					  "'%s' must be '/' and a name without "
					  "'/', at most 100 characters in all",
					  s);
		else
			snprintf(cfg->shm_name, sizeof(cfg->shm_name), "%s",
				 s);
	}
	s = secure_getenv("SWERVE_LOG");
	if (s != NULL && *s != '\0') {
		if (swerve_log_parse_level(s, &level) < 0)
			config_report_env(p, "SWERVE_LOG",
					  "'%s' is not a log level: use error, "
					  "warn, info or debug", s);
		else
			cfg->log_level = level;
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
			out->value[k] = tuning_specs[k].def;
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
