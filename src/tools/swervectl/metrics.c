/*
 * metrics.c: the exposition of `swervectl metrics` (metrics.h). Each
 * family is written whole, HELP and TYPE first and then its samples, as
 * the text format requires: families of services, then of endpoints (one
 * table of them below, so that every endpoint family is written by the
 * same loop), then of the host. Names follow Prometheus' conventions: the
 * swerve_ prefix, _total on counters, seconds and ratios as base units.
 * An endpoint is labelled service, endpoint (as `swervectl endpoints`
 * shows it), locality, and name for an address behind a name; a name that
 * resolves to nothing now has no row, hence no endpoint series.
 *
 * Single-threaded.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "policy/balancer.h"
#include "policy/config.h"
#include "tools/swervectl/cli.h"
#include "tools/swervectl/metrics.h"

/* Which endpoints a family has series for. */
enum family_only {
	ONLY_ALL,
	ONLY_HTTP,   /* endpoints of a service with protocol = http */
	ONLY_TLS,    /* endpoints of a service with tls */
};

/* How a sample's value is read from its ep_view field. */
enum value_kind {
	VALUE_BOOL,
	VALUE_U32,
	VALUE_U64,
	VALUE_MS,    /* milliseconds, written as seconds */
};

/* One series of a family: its extra label's value (NULL: none) and the
 * ep_view field it reads. */
struct variant {
	const char *value;
	size_t off;
};

struct ep_family {
	const char *name;
	const char *type;
	const char *help;
	enum family_only only;
	enum value_kind kind;
	const char *label;       /* the variants' label name, or NULL */
	struct variant v[4];     /* with a label: up to the first without a
				  * value */
};

#define F(field) offsetof(struct ep_view, field)
#define FIELD_SIZE(field) sizeof(((const struct ep_view *)0)->field)

/* The table reads fields by kind: a field whose type changes in view.h
 * must change its kind here too. */
_Static_assert(FIELD_SIZE(ejected) == sizeof(bool) &&
	       FIELD_SIZE(ejections) == 4 && FIELD_SIZE(failures) == 4 &&
	       FIELD_SIZE(remaining_ms) == 8 && FIELD_SIZE(connects_ok) == 8 &&
	       FIELD_SIZE(responses_2xx) == 8 && FIELD_SIZE(tls_resumed) == 8,
	       "ep_view fields and their kinds in ep_families disagree");

static const struct ep_family ep_families[] = {
	{ "swerve_endpoint_ejected", "gauge",
	  "1 while the endpoint is ejected host-wide, else 0.",
	  ONLY_ALL, VALUE_BOOL, NULL, { { NULL, F(ejected) } } },
	{ "swerve_endpoint_ejection_remaining_seconds", "gauge",
	  "Seconds until the ejection in force ends; 0 when not ejected.",
	  ONLY_ALL, VALUE_MS, NULL, { { NULL, F(remaining_ms) } } },
	{ "swerve_endpoint_ejections_total", "counter",
	  "Ejections of the endpoint since its row was created or reset.",
	  ONLY_ALL, VALUE_U32, NULL, { { NULL, F(ejections) } } },
	{ "swerve_endpoint_consecutive_failures", "gauge",
	  "Failures in a row: the streak that leads to an ejection.",
	  ONLY_ALL, VALUE_U32, NULL, { { NULL, F(failures) } } },
	{ "swerve_endpoint_connects_total", "counter",
	  "Connects of preloaded programs to the endpoint, by result.",
	  ONLY_ALL, VALUE_U64, "result",
	  { { "ok", F(connects_ok) }, { "failed", F(connects_failed) } } },
	{ "swerve_endpoint_responses_total", "counter",
	  "Final HTTP responses of the endpoint, by status class.",
	  ONLY_HTTP, VALUE_U64, "class",
	  { { "2xx", F(responses_2xx) }, { "3xx", F(responses_3xx) },
	    { "4xx", F(responses_4xx) }, { "5xx", F(responses_5xx) } } },
	{ "swerve_endpoint_response_timeouts_total", "counter",
	  "HTTP requests abandoned after response_timeout.",
	  ONLY_HTTP, VALUE_U64, NULL, { { NULL, F(timeouts) } } },
	{ "swerve_endpoint_resets_total", "counter",
	  "HTTP connections reset or closed before a response.",
	  ONLY_HTTP, VALUE_U64, NULL, { { NULL, F(resets) } } },
	{ "swerve_endpoint_tls_handshakes_total", "counter",
	  "TLS handshakes originated to the endpoint, by result.",
	  ONLY_TLS, VALUE_U64, "result",
	  { { "ok", F(tls_ok) }, { "failed", F(tls_failed) } } },
	{ "swerve_endpoint_tls_handshakes_resumed_total", "counter",
	  "Completed TLS handshakes that resumed a session.",
	  ONLY_TLS, VALUE_U64, NULL, { { NULL, F(tls_resumed) } } },
};

/*
 * Appends key="value" to the label list <buf> (a comma first unless it is
 * empty), the value escaped as the format asks: backslash, double quote
 * and line feed. A value too long for <buf> is cut short, never the
 * quoting; <buf> is sized so that no config value comes near.
 */
static void put_label(char *buf, size_t len, const char *key,
		      const char *value)
{
	size_t at = strlen(buf);
	int n;

	n = snprintf(buf + at, len - at, "%s%s=\"", at > 0 ? "," : "", key);
	if (n < 0 || (size_t)n >= len - at) {
		buf[at] = '\0';
		return;
	}
	at += (size_t)n;
	for (; *value != '\0' && at + 4 < len; value++) {
		if (*value == '\\' || *value == '"') {
			buf[at++] = '\\';
			buf[at++] = *value;
		} else if (*value == '\n') {
			buf[at++] = '\\';
			buf[at++] = 'n';
		} else {
			buf[at++] = *value;
		}
	}
	buf[at++] = '"';
	buf[at] = '\0';
}

static void family_head(FILE *out, const char *name, const char *type,
			const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels that name endpoint <e>. */
static void endpoint_labels(const struct ep_view *e, char *buf, size_t len)
{
	buf[0] = '\0';
	put_label(buf, len, "service", e->svc->name);
	put_label(buf, len, "endpoint", e->text);
	put_label(buf, len, "locality", e->ep->locality_text);
	if (e->dns != NULL)
		put_label(buf, len, "name", e->ep->text);
}

static bool family_covers(const struct ep_family *f, const struct ep_view *e)
{
	if (e->absent)
		return false;
	if (f->only == ONLY_HTTP)
		return e->svc->protocol == SWERVE_PROTOCOL_HTTP;
	if (f->only == ONLY_TLS)
		return e->svc->tls.mode != SWERVE_TLS_DISABLE;
	return true;
}

static void write_value(FILE *out, const struct ep_view *e,
			enum value_kind kind, size_t off)
{
	const char *p = (const char *)e + off;
	uint64_t v;

	switch (kind) {
	case VALUE_BOOL:
		fputs(*(const bool *)p ? "1" : "0", out);
		return;
	case VALUE_U32:
		fprintf(out, "%" PRIu32, *(const uint32_t *)p);
		return;
	case VALUE_U64:
		fprintf(out, "%" PRIu64, *(const uint64_t *)p);
		return;
	case VALUE_MS:
		v = *(const uint64_t *)p;
		fprintf(out, "%" PRIu64 ".%03" PRIu64, v / 1000, v % 1000);
		return;
	}
}

/* Family <f>'s samples for every endpoint of every service of <m>. */
static void write_ep_family(FILE *out, const struct metrics *m,
			    const struct ep_family *f)
{
	char labels[1024];
	unsigned s, k;
	size_t i;

	family_head(out, f->name, f->type, f->help);
	for (s = 0; s < m->nsvcs; s++) {
		for (i = 0; i < m->svcs[s]->neps; i++) {
			const struct ep_view *e = &m->svcs[s]->eps[i];

			if (!family_covers(f, e))
				continue;
			endpoint_labels(e, labels, sizeof(labels));
			for (k = 0; k < SWERVE_ARRAY_LEN(f->v); k++) {
				if (k > 0 && f->v[k].value == NULL)
					break;
				if (f->label != NULL)
					fprintf(out, "%s{%s,%s=\"%s\"} ",
						f->name, labels, f->label,
						f->v[k].value);
				else
					fprintf(out, "%s{%s} ", f->name,
						labels);
				write_value(out, e, f->kind, f->v[k].off);
				fputc('\n', out);
			}
		}
	}
}

/* Slots of <sv> that hold an address now (each address behind a name is
 * one), and those of them that are not ejected. */
static uint64_t svc_endpoints(const struct svc_view *sv)
{
	unsigned k, n = 0;

	for (k = 0; k < sv->routed->nendpoints; k++)
		n += !sv->absent[k];
	return n;
}

static uint64_t svc_healthy(const struct svc_view *sv)
{
	unsigned k, n = 0;

	for (k = 0; k < sv->routed->nendpoints; k++)
		n += !sv->absent[k] && sv->healthy[k];
	return n;
}

/*
 * Panic as the event ring records it (swerve_balancer_panic_mask): a
 * priority in panic, total panic, or nothing healthy with panic disabled,
 * where swerve fails open to an ejected endpoint. A service with no
 * address at all routes nothing, so it is in no panic.
 */
static uint64_t svc_panic(const struct svc_view *sv)
{
	return swerve_balancer_panic_mask(&sv->route.load) != 0 &&
	       svc_endpoints(sv) > 0;
}

/* The first priority that gets traffic; the loads always sum to 100. */
static uint64_t svc_priority(const struct svc_view *sv)
{
	const struct swerve_balancer_load *ld = &sv->route.load;
	unsigned p;

	for (p = 0; p < ld->npriorities && p < SWERVE_MAX_PRIORITIES; p++) {
		if (ld->load[p] > 0)
			return p;
	}
	return 0;
}

struct svc_family {
	const char *name;
	const char *help;
	uint64_t (*value)(const struct svc_view *sv);
};

static const struct svc_family svc_families[] = {
	{ "swerve_service_endpoints",
	  "Endpoints of the service with an address now (each address "
	  "behind a name counts).", svc_endpoints },
	{ "swerve_service_healthy_endpoints",
	  "Endpoints of the service with an address now and not ejected.",
	  svc_healthy },
	{ "swerve_service_panic",
	  "1 while the service routes in panic (ejected endpoints get "
	  "traffic), else 0.", svc_panic },
	{ "swerve_service_priority_in_use",
	  "The first priority (0 is the highest) that gets traffic now.",
	  svc_priority },
};

static void write_services(FILE *out, const struct metrics *m)
{
	char labels[256];
	unsigned s, p, f;

	for (f = 0; f < SWERVE_ARRAY_LEN(svc_families); f++) {
		family_head(out, svc_families[f].name, "gauge",
			    svc_families[f].help);
		for (s = 0; s < m->nsvcs; s++) {
			labels[0] = '\0';
			put_label(labels, sizeof(labels), "service",
				  m->svcs[s]->svc->name);
			fprintf(out, "%s{%s} %" PRIu64 "\n",
				svc_families[f].name, labels,
				svc_families[f].value(m->svcs[s]));
		}
	}
	family_head(out, "swerve_service_priority_load_ratio", "gauge",
		    "Share of the service's traffic that each priority gets "
		    "now, from 0 to 1.");
	for (s = 0; s < m->nsvcs; s++) {
		const struct swerve_balancer_load *ld =
			&m->svcs[s]->route.load;

		labels[0] = '\0';
		put_label(labels, sizeof(labels), "service",
			  m->svcs[s]->svc->name);
		for (p = 0; p < ld->npriorities && p < SWERVE_MAX_PRIORITIES;
		     p++)
			fprintf(out, "swerve_service_priority_load_ratio"
				"{%s,priority=\"%u\"} %g\n", labels, p,
				ld->load[p] / 100.0);
	}
}

/*
 * The ring counts nothing it overwrites, but it numbers every event: its
 * header holds how many positions were handed out, so the events it no
 * longer holds are those beyond its size (what `swervectl events` calls
 * lost). No table yet: nothing happened.
 */
static void write_host(FILE *out, const struct metrics *m)
{
	uint64_t written = 0, dropped = 0;

	if (m->v.present && m->v.tab.hdr != NULL) {
		written = atomic_load(&m->v.tab.hdr->event_next);
		if (written > m->v.tab.nevents)
			dropped = written - m->v.tab.nevents;
	}
	family_head(out, "swerve_events_total", "counter",
		    "Events written to the table's event ring (ejections, "
		    "un-ejections, overflows, panics).");
	fprintf(out, "swerve_events_total %" PRIu64 "\n", written);
	family_head(out, "swerve_events_dropped_total", "counter",
		    "Events the ring no longer holds: newer ones overwrote "
		    "them.");
	fprintf(out, "swerve_events_dropped_total %" PRIu64 "\n", dropped);
}

void metrics_write(const struct metrics *m, FILE *out)
{
	size_t f;

	write_services(out, m);
	for (f = 0; f < SWERVE_ARRAY_LEN(ep_families); f++)
		write_ep_family(out, m, &ep_families[f]);
	write_host(out, m);
}

int metrics_read(struct metrics *m, const char *path)
{
	struct swerve_config *cfg = NULL;
	unsigned s;

	memset(m, 0, sizeof(*m));
	if (load_config(path, &cfg) != 0 ||
	    view_open(&m->v, cfg, VIEW_SHARED) != 0)
		return -1;
	m->svcs = calloc(cfg->nservices > 0 ? cfg->nservices : 1,
			 sizeof(*m->svcs));
	if (m->svcs == NULL) {
		print_error("out of memory");
		return -1;
	}
	for (s = 0; s < cfg->nservices; s++) {
		if (view_service(&m->v, s, &m->svcs[s]) != 0)
			return -1;
		m->nsvcs++;
	}
	return 0;
}

void metrics_free(struct metrics *m)
{
	unsigned s;

	for (s = 0; s < m->nsvcs; s++)
		view_service_free(m->svcs[s]);
	free(m->svcs);
	view_close(&m->v);
	memset(m, 0, sizeof(*m));
}
