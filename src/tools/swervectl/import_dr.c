/*
 * import_dr.c: a DestinationRule's trafficPolicy to the keys of the
 * section that serves its host: outlierDetection (every field),
 * loadBalancer.simple, localityLbSetting (failover, failoverPriority,
 * distribute: import_locality.c), connectionPool.tcp.connectTimeout,
 * tls (import_tls.c). The first rule for a service applies, as the
 * oldest does in Istio; a later one is left as a comment.
 *
 * Thread-safety: swervectl is single-threaded.
 */
#include <string.h>

#include "policy/config.h"
#include "tools/swervectl/import.h"
#include "tools/swervectl/import_dr.h"

static struct dr *dr_of(struct import_ctx *c)
{
	return (struct dr *)c;
}

/* A count field of outlierDetection to <key>. */
static void count(struct import_ctx *c, yaml_node_t *v, const char *path,
		  const char *key)
{
	uint64_t n;

	if (import_uint(c, v, path, UINT32_MAX, &n) != 0)
		return;
	import_key(c, key, "%llu", (unsigned long long)n);
	dr_of(c)->outlier_keys++;
}

static void od_5xx(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	dr_of(c)->has_5xx = true;
	count(c, v, path, "consecutive_5xx_errors");
}

static void od_gateway(struct import_ctx *c, yaml_node_t *v,
		       const char *path)
{
	dr_of(c)->has_gateway = true;
	count(c, v, path, "consecutive_gateway_errors");
}

static void od_local_origin(struct import_ctx *c, yaml_node_t *v,
			    const char *path)
{
	count(c, v, path, "consecutive_local_origin_failures");
}

/* The deprecated consecutiveErrors: see finish_outlier(). */
static void od_errors(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	struct dr *d = dr_of(c);

	if (import_uint(c, v, path, UINT32_MAX, &d->errors) == 0)
		d->errors_node = v;
}

static void od_split(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	bool b;

	if (import_bool(c, v, path, &b) != 0)
		return;
	import_key(c, "split_external_local_origin_errors", "%s",
		   b ? "true" : "false");
	dr_of(c)->outlier_keys++;
}

/* A duration to <key>, which must not be 0; true when written. */
static bool duration(struct import_ctx *c, yaml_node_t *v, const char *path,
		     const char *key)
{
	char text[32];
	uint64_t ms;

	if (import_duration(c, v, path, &ms) != 0)
		return false;
	if (ms == 0) {
		import_skip(c, v, v, path, "swerve takes 1ms at least",
			    false);
		return false;
	}
	import_format_duration(ms, text, sizeof(text));
	import_key(c, key, "%s", text);
	return true;
}

static void od_interval(struct import_ctx *c, yaml_node_t *v,
			const char *path)
{
	if (duration(c, v, path, "interval"))
		dr_of(c)->outlier_keys++;
}

static void od_base(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	if (duration(c, v, path, "base_ejection_time"))
		dr_of(c)->outlier_keys++;
}

/* A percentage to <key>; Istio ignores a 0 maximum (Envoy's 10 stays). */
static void percent(struct import_ctx *c, yaml_node_t *v, const char *path,
		    const char *key)
{
	uint64_t n;

	if (import_uint(c, v, path, 100, &n) != 0)
		return;
	if (n == 0 && strcmp(key, "max_ejection_percent") == 0) {
		import_skip(c, v, v, path, "Istio ignores 0 and keeps "
			    "Envoy's 10, which is swerve's default", true);
		return;
	}
	import_key(c, key, "%llu", (unsigned long long)n);
	dr_of(c)->outlier_keys++;
}

static void od_max_percent(struct import_ctx *c, yaml_node_t *v,
			   const char *path)
{
	percent(c, v, path, "max_ejection_percent");
}

static void od_min_health(struct import_ctx *c, yaml_node_t *v,
			  const char *path)
{
	percent(c, v, path, "min_health_percent");
}

/*
 * Istio's consecutiveErrors counts gateway errors only (502, 503, 504)
 * and turns the 5xx streak off, unless the newer fields say otherwise.
 * A block that set no key still turns outlier detection on in Istio,
 * with its defaults: swerve needs one key for that.
 */
static void finish_outlier(struct dr *d)
{
	struct import_ctx *c = &d->c;

	if (d->errors_node != NULL) {
		import_comment(c, "consecutiveErrors (deprecated) counts "
			       "gateway errors only, as in Istio");
		if (!d->has_gateway)
			import_key(c, "consecutive_gateway_errors", "%llu",
				   (unsigned long long)d->errors);
		if (!d->has_5xx)
			import_key(c, "consecutive_5xx_errors", "0");
		d->outlier_keys++;
	}
	if (d->outlier_keys == 0) {
		import_comment(c, "outlierDetection turns outlier detection "
			       "on with Istio's defaults:");
		import_key(c, "consecutive_5xx_errors", "5");
	}
}

static void outlier(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct import_field fields[] = {
		{ "consecutive5xxErrors", od_5xx, NULL, false },
		{ "consecutiveGatewayErrors", od_gateway, NULL, false },
		{ "consecutiveLocalOriginFailures", od_local_origin, NULL,
		  false },
		{ "splitExternalLocalOriginErrors", od_split, NULL, false },
		{ "consecutiveErrors", od_errors, NULL, false },
		{ "interval", od_interval, NULL, false },
		{ "baseEjectionTime", od_base, NULL, false },
		{ "maxEjectionPercent", od_max_percent, NULL, false },
		{ "minHealthPercent", od_min_health, NULL, false },
		{ NULL, NULL, NULL, false },
	};

	import_walk(c, v, path, fields);
	if (import_is_map(v))
		finish_outlier(dr_of(c));
}

static void lb_simple(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct {
		const char *istio, *swerve;
	} map[] = {
		{ "ROUND_ROBIN", "round_robin" },
		{ "LEAST_REQUEST", "least_request" },
		{ "LEAST_CONN", "least_request" },
		{ "RANDOM", "random" },
	};
	const char *s = import_text(v);
	size_t i;

	for (i = 0; s != NULL && i < SWERVE_ARRAY_LEN(map); i++) {
		if (strcmp(s, map[i].istio) == 0) {
			import_key(c, "lb", "%s", map[i].swerve);
			return;
		}
	}
	if (s != NULL && strcmp(s, "UNSPECIFIED") == 0)
		import_skip(c, v, v, path, "Istio's default; swerve's is "
			    "round_robin (README: Load-balancing policies)",
			    true);
	else
		import_skip(c, v, v, path, "swerve balances with "
			    "ROUND_ROBIN, LEAST_REQUEST or RANDOM", false);
}

static void load_balancer(struct import_ctx *c, yaml_node_t *v,
			  const char *path)
{
	static const struct import_field fields[] = {
		{ "simple", lb_simple, NULL, false },
		{ "localityLbSetting", import_locality_lb, NULL, false },
		{ "consistentHash", NULL, "swerve has no consistent "
		  "hashing", false },
		{ "warmupDurationSecs", NULL, "swerve has no slow start",
		  false },
		{ "warmup", NULL, "swerve has no slow start", false },
		{ NULL, NULL, NULL, false },
	};

	import_walk(c, v, path, fields);
}

static void tcp_connect_timeout(struct import_ctx *c, yaml_node_t *v,
				const char *path)
{
	(void)duration(c, v, path, "connect_timeout");
}

static void pool_tcp(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct import_field fields[] = {
		{ "connectTimeout", tcp_connect_timeout, NULL, false },
		{ "maxConnections", NULL, "swerve does not limit "
		  "connections", false },
		{ "tcpKeepalive", NULL, "keepalive is the program's own "
		  "socket option", false },
		{ "maxConnectionDuration", NULL, "swerve does not end "
		  "connections", false },
		{ "idleTimeout", NULL, "swerve does not end connections",
		  false },
		{ NULL, NULL, NULL, false },
	};

	import_walk(c, v, path, fields);
}

static void pool(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct import_field fields[] = {
		{ "tcp", pool_tcp, NULL, false },
		{ "http", NULL, "swerve keeps no connection pool or request "
		  "queue: the program's connections are its own", false },
		{ NULL, NULL, NULL, false },
	};

	import_walk(c, v, path, fields);
}

static void traffic_policy(struct import_ctx *c, yaml_node_t *v,
			   const char *path)
{
	static const struct import_field fields[] = {
		{ "outlierDetection", outlier, NULL, false },
		{ "loadBalancer", load_balancer, NULL, false },
		{ "connectionPool", pool, NULL, false },
		{ "tls", import_tls, NULL, false },
		{ "portLevelSettings", NULL, "swerve has one policy per "
		  "service, for all its ports", false },
		{ "tunnel", NULL, "swerve connects to the endpoints "
		  "themselves", false },
		{ "proxyProtocol", NULL, "swerve sends the program's bytes "
		  "only", false },
		{ NULL, NULL, NULL, false },
	};

	import_walk(c, v, path, fields);
}

static void spec(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct import_field fields[] = {
		{ "host", import_nothing, NULL, false },
		{ "trafficPolicy", traffic_policy, NULL, false },
		{ "subsets", NULL, "swerve has one pool of endpoints per "
		  "service", false },
		{ "exportTo", NULL, "visibility inside a mesh: every program "
		  "on this host sees swerve's services", true },
		{ "workloadSelector", NULL, "swerve applies a rule to every "
		  "program on the host", false },
		{ NULL, NULL, NULL, false },
	};

	import_walk(c, v, path, fields);
}

/*
 * A resource whose host no section serves, or whose section has one
 * already: one comment in <out> and one warning say so.
 */
void import_not_applied(struct import_ctx *c, FILE *out, const char *why)
{
	c->out = out;
	import_open(c);
	import_comment(c, "not imported: %s", why);
	import_warn(c, c->res->node, "not imported: %s (left as a comment)",
		    why);
}

/*
 * The section that serves <host> (the value at <path>), where the rule
 * <c->res> goes if the section has no rule of its kind yet (<vs>:
 * VirtualService, else DestinationRule); NULL after saying why not.
 */
struct import_service *import_target(struct import_ctx *c, yaml_node_t *host,
				     const char *path, bool vs)
{
	const struct import_res **taken;
	struct import_service *svc;
	const char *h = import_text(host);
	char why[512];

	svc = h != NULL ? import_find_host(c->imp, h) : NULL;
	if (svc == NULL) {
		snprintf(why, sizeof(why), "%s %s is served by no ServiceEntry "
			 "imported", path, h != NULL ? h : "is missing: it");
		import_not_applied(c, c->imp->tail.f, why);
		return NULL;
	}
	taken = vs ? &svc->vs : &svc->dr;
	/* Two hosts of one rule in one section: it applies once. */
	if (*taken == c->res)
		return NULL;
	if (*taken != NULL) {
		snprintf(why, sizeof(why), "service %s has %s %s (%s:%d) "
			 "already, which Istio would apply", svc->name,
			 c->res->kind, (*taken)->name, (*taken)->file,
			 (*taken)->line);
		import_not_applied(c, svc->lines.f, why);
		return NULL;
	}
	*taken = c->res;
	c->svc = svc;
	c->out = svc->lines.f;
	import_open(c);
	return svc;
}

void import_destination_rule(struct import *imp, const struct import_res *r)
{
	static const struct import_field top[] = {
		IMPORT_RESOURCE_FIELDS(spec),
		{ NULL, NULL, NULL, false },
	};
	struct dr d = { .c = { .imp = imp, .res = r } };
	yaml_node_t *spec_node = import_get(&d.c, r->node, "spec");

	if (import_target(&d.c, import_get(&d.c, spec_node, "host"),
			  "spec.host", false) == NULL)
		return;
	if (d.c.svc->nhosts > 1)
		import_comment(&d.c, "it applies to every host of the "
			       "service");
	import_walk(&d.c, r->node, "", top);
}
