/*
 * import_vs.c: a VirtualService's HTTP route to the keys of the section
 * that serves each of its hosts: timeout to response_timeout (the nearest
 * equivalent: swerve counts a request the program abandons after that
 * long, it never cuts one off), retries.attempts to retries,
 * retries.retryOn to retry_on (the conditions swerve retries on) and its
 * status codes to retriable_status_codes. swerve has one route per
 * service: the first HTTP route applies, the others are comments. A
 * VirtualService bound to gateways only does not apply to a program's
 * own connections, in Istio as here.
 *
 * Thread-safety: swervectl is single-threaded.
 */
#include <stdlib.h>
#include <string.h>

#include "tools/swervectl/import.h"

/* The retryOn conditions swerve retries on, written as Istio's. */
static const char *const retry_conditions[] = {
	"connect-failure", "reset", "retriable-status-codes", "5xx",
	"gateway-error",
};

static const char retry_why[] = "swerve retries on connect-failure, "
				"reset, 5xx, gateway-error, "
				"retriable-status-codes and status codes";

/* What retryOn came to. */
struct retry_on {
	const char *kept[8];
	unsigned nkept;
	char codes[16][4];
	unsigned ncodes;
	bool status_codes;       /* retriable-status-codes kept */
};

static void timeout(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	char text[32];
	uint64_t ms;

	if (!c->svc->http) {
		import_skip(c, v, v, path, "response_timeout needs "
			    "protocol http (an HTTP port)", false);
		return;
	}
	if (import_duration(c, v, path, &ms) != 0)
		return;
	import_format_duration(ms, text, sizeof(text));
	import_comment(c, "timeout %s: the nearest equivalent counts a "
		       "request the program abandons after that long; swerve "
		       "never cuts one off", import_text(v));
	import_key(c, "response_timeout", "%s", text);
}

static void add_condition(struct retry_on *r, const char *s)
{
	unsigned i;

	for (i = 0; i < r->nkept; i++) {
		if (strcmp(r->kept[i], s) == 0)
			return;
	}
	if (r->nkept < SWERVE_ARRAY_LEN(r->kept))
		r->kept[r->nkept++] = s;
	if (strcmp(s, "retriable-status-codes") == 0)
		r->status_codes = true;
}

/* One item of retryOn: a condition swerve has, a status code, or not. */
static void retry_item(struct import_ctx *c, yaml_node_t *v, const char *path,
		       const char *item, struct retry_on *r)
{
	size_t i;

	for (i = 0; i < SWERVE_ARRAY_LEN(retry_conditions); i++) {
		if (strcmp(item, retry_conditions[i]) == 0) {
			add_condition(r, retry_conditions[i]);
			return;
		}
	}
	if (strlen(item) == 3 && strspn(item, "0123456789") == 3 &&
	    item[0] >= '1' && item[0] <= '5' &&
	    r->ncodes < SWERVE_ARRAY_LEN(r->codes)) {
		memcpy(r->codes[r->ncodes++], item, 4);
		add_condition(r, "retriable-status-codes");
		return;
	}
	import_comment(c, "not imported: %s: %s (%s)", path, item,
		       retry_why);
	import_warn(c, v, "%s: %s is not imported: %s (left as a comment)",
		    path, item, retry_why);
}

/* Istio's retryOn, a comma-separated string, into <r>. */
static void retry_on(struct import_ctx *c, yaml_node_t *v, const char *path,
		     struct retry_on *r)
{
	const char *s = import_text(v);
	char item[64];

	if (!import_want(c, v, path, YAML_SCALAR_NODE))
		return;
	while (*s != '\0') {
		size_t n = strcspn(s, ","), b = strspn(s, " \t");

		if (n > b) {
			size_t len = n - b;

			while (len > 0 && (s[b + len - 1] == ' ' ||
					   s[b + len - 1] == '\t'))
				len--;
			snprintf(item, sizeof(item), "%.*s", (int)len, s + b);
			if (item[0] != '\0')
				retry_item(c, v, path, item, r);
		}
		s += n + (s[n] == ',');
	}
}

static void write_retry_on(struct import_ctx *c, const struct retry_on *r)
{
	const char *codes[SWERVE_ARRAY_LEN(r->codes)];
	unsigned i;

	import_list(c, "retry_on", r->kept, r->nkept);
	for (i = 0; i < r->ncodes; i++)
		codes[i] = r->codes[i];
	import_list(c, "retriable_status_codes", codes, r->ncodes);
}

/*
 * Istio retries <attempts> times on the retryOn conditions, by default
 * its own (connect-failure, refused-stream, unavailable, cancelled and
 * 503); no attempts, or 0, is no retries.
 */
static void write_retries(struct import_ctx *c, yaml_node_t *v,
			  const char *path, uint64_t attempts)
{
	yaml_node_t *on = import_get(c, v, "retryOn");
	struct retry_on r = { .nkept = 0 };
	char sub[128];

	if (attempts == 0) {
		import_comment(c, "attempts 0 or none: no retries, as in "
			       "Istio");
		import_key(c, "retries", "0");
		return;
	}
	if (on != NULL) {
		retry_on(c, on, import_path(sub, sizeof(sub), path, "retryOn"),
			 &r);
	} else {
		import_comment(c, "no retryOn: Istio's default, of which "
			       "swerve has connect-failure and 503 "
			       "(refused-stream, unavailable and cancelled "
			       "are HTTP/2's)");
		add_condition(&r, "connect-failure");
		retry_item(c, v, path, "503", &r);
	}
	if (r.nkept == 0) {
		import_comment(c, "nothing swerve retries on: no retries");
		import_key(c, "retries", "0");
		return;
	}
	import_key(c, "retries", "%llu", (unsigned long long)attempts);
	write_retry_on(c, &r);
}

static void retries(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct import_field fields[] = {
		{ "attempts", import_nothing, NULL, false },
		{ "retryOn", import_nothing, NULL, false },
		{ "perTryTimeout", NULL, "swerve has no per-try timeout",
		  false },
		{ "retryRemoteLocalities", NULL, "swerve has no such "
		  "setting", false },
		{ "retryIgnorePreviousHosts", NULL, "swerve's retries always "
		  "go to other endpoints, as Istio's default true", true },
		{ "backoff", NULL, "swerve has no retry backoff", false },
		{ NULL, NULL, NULL, false },
	};
	yaml_node_t *attempts = import_get(c, v, "attempts");
	char sub[128];
	uint64_t n = 0;

	if (!c->svc->http) {
		import_skip(c, v, v, path, "retries need protocol http (an "
			    "HTTP port)", false);
		return;
	}
	import_walk(c, v, path, fields);
	if (!import_is_map(v) ||
	    (attempts != NULL &&
	     import_uint(c, attempts, import_path(sub, sizeof(sub), path,
						 "attempts"), 1000, &n) != 0))
		return;
	write_retries(c, v, path, n);
}

/* One destination, of this service, is what swerve routes to anyway. */
static void destinations(struct import_ctx *c, yaml_node_t *v,
			 const char *path)
{
	yaml_node_t *first, *dest;
	const char *host;

	if (!import_want(c, v, path, YAML_SEQUENCE_NODE))
		return;
	if (v->data.sequence.items.top - v->data.sequence.items.start != 1) {
		import_skip(c, v, v, path, "swerve does not split traffic: "
			    "it routes to the service's own endpoints", false);
		return;
	}
	first = import_node(c, *v->data.sequence.items.start);
	dest = import_get(c, first, "destination");
	host = import_text(import_get(c, dest, "host"));
	if (host == NULL || import_find_host(c->imp, host) != c->svc)
		import_skip(c, first, first, path, "swerve routes to the "
			    "service's own endpoints, not elsewhere", false);
	else if (import_get(c, dest, "subset") != NULL)
		import_skip(c, first, first, path, "swerve has one pool of "
			    "endpoints per service, no subsets", false);
	else if (import_get(c, first, "headers") != NULL)
		import_skip(c, first, first, path, "swerve passes requests "
			    "as the program writes them", false);
}

static void route(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct import_field fields[] = {
		{ "timeout", timeout, NULL, false },
		{ "retries", retries, NULL, false },
		{ "route", destinations, NULL, false },
		{ "name", NULL, "a name only", true },
		{ "match", NULL, "swerve applies the route to every request "
		  "of the service", false },
		{ "rewrite", NULL, "swerve passes requests as the program "
		  "writes them", false },
		{ "redirect", NULL, "swerve passes requests as the program "
		  "writes them", false },
		{ "directResponse", NULL, "swerve passes requests as the "
		  "program writes them", false },
		{ "headers", NULL, "swerve passes requests as the program "
		  "writes them", false },
		{ "corsPolicy", NULL, "swerve passes requests as the program "
		  "writes them", false },
		{ "fault", NULL, "swerve injects no faults", false },
		{ "mirror", NULL, "swerve does not mirror requests", false },
		{ "mirrors", NULL, "swerve does not mirror requests", false },
		{ "mirrorPercentage", NULL, "swerve does not mirror requests",
		  false },
		{ NULL, NULL, NULL, false },
	};

	import_walk(c, v, path, fields);
}

/* swerve has one route per service: the first. */
static void http_route(struct import_ctx *c, yaml_node_t *n, const char *path,
		       unsigned index)
{
	if (index == 0)
		route(c, n, path);
	else
		import_skip(c, n, n, path, "swerve has one route per service: "
			    "the first applies", false);
}

static void http_routes(struct import_ctx *c, yaml_node_t *v,
			const char *path)
{
	import_items(c, v, path, http_route);
}

static void gateways(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	import_skip(c, v, v, path, "the mesh is where swerve's programs "
		    "are; other gateways are not", true);
}

static void spec(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct import_field fields[] = {
		{ "hosts", import_nothing, NULL, false },
		{ "http", http_routes, NULL, false },
		{ "gateways", gateways, NULL, false },
		{ "tcp", NULL, "swerve has no TCP routes: connections go to "
		  "the service's endpoints", false },
		{ "tls", NULL, "swerve has no TLS routes: connections go to "
		  "the service's endpoints", false },
		{ "exportTo", NULL, "visibility inside a mesh: every program "
		  "on this host sees swerve's services", true },
		{ NULL, NULL, NULL, false },
	};

	import_walk(c, v, path, fields);
}

/* A VirtualService bound to gateways without "mesh" routes no program. */
static bool is_for_mesh(struct import_ctx *c, yaml_node_t *spec_node)
{
	yaml_node_t *gw = import_get(c, spec_node, "gateways");
	yaml_node_item_t *i;

	if (!import_is_seq(gw) ||
	    gw->data.sequence.items.top == gw->data.sequence.items.start)
		return true;
	for (i = gw->data.sequence.items.start;
	     i < gw->data.sequence.items.top; i++) {
		const char *s = import_text(import_node(c, *i));

		if (s != NULL && strcmp(s, "mesh") == 0)
			return true;
	}
	return false;
}

void import_virtual_service(struct import *imp, const struct import_res *r)
{
	static const struct import_field top[] = {
		IMPORT_RESOURCE_FIELDS(spec),
		{ NULL, NULL, NULL, false },
	};
	struct import_ctx c = { .imp = imp, .res = r };
	yaml_node_t *spec_node = import_get(&c, r->node, "spec");
	yaml_node_t *hosts = import_get(&c, spec_node, "hosts");
	yaml_node_item_t *i;
	bool applied = false;

	if (!is_for_mesh(&c, spec_node)) {
		import_not_applied(&c, imp->tail.f, "spec.gateways has no "
				   "mesh: it routes at gateways, not the "
				   "programs' own connections");
		return;
	}
	if (!import_is_seq(hosts)) {
		import_not_applied(&c, imp->tail.f, "spec.hosts is missing");
		return;
	}
	for (i = hosts->data.sequence.items.start;
	     i < hosts->data.sequence.items.top; i++) {
		struct import_ctx one = { .imp = imp, .res = r };

		if (import_target(&one, import_node(&c, *i), "spec.hosts",
				  true) == NULL)
			continue;
		/* Its fields were warned about for the first service. */
		one.mute = applied;
		import_walk(&one, r->node, "", top);
		applied = true;
	}
}
