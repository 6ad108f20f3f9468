/*
 * cmd_explain.c: `swervectl explain NAME`, how a connection to a host name
 * would be routed: its service, the TLS settings in force, the locality
 * rules that act for this host, each priority tier with its health and
 * load, panic, and the next pick. Single-threaded.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/swerve.h"
#include "policy/balancer.h"
#include "tools/swervectl/cli.h"
#include "tools/swervectl/print.h"
#include "tools/swervectl/view.h"

static void explain_service(const struct swerve_config *cfg,
			    const struct swerve_service *svc, const char *name)
{
	char buf[64];
	unsigned i;

	printf("name:               %s\n", name);
	printf("service:            %s (%s:%d)\n", svc->name, cfg->path,
	       svc->line);
	fputs("hosts:             ", stdout);
	for (i = 0; i < svc->nhosts; i++)
		printf(" %s", svc->hosts[i]);
	fputs("\nservice addresses: ", stdout);
	for (i = 0; i < SWERVE_VIPS_PER_SERVICE; i++) {
		format_vip(svc->vips[i], buf, sizeof(buf));
		printf(" %s", buf);
	}
	fputs("\nports:             ", stdout);
	if (svc->nports == 0)
		fputs(" any", stdout);
	for (i = 0; i < svc->nports; i++)
		printf(" %u", (unsigned)svc->ports[i]);
	putchar('\n');
	printf("this host:          %s%s\n",
	       cfg->locality_text[0] != '\0' ? cfg->locality_text :
	       "(no locality)",
	       secure_getenv("SWERVE_LOCALITY") != NULL ?
	       " (from SWERVE_LOCALITY)" : "");
	printf("load balancing:     %s, overprovisioning factor %" PRIu32
	       "%%, panic threshold %" PRIu32 "%%%s\n", swerve_config_lb_name(svc->lb),
	       svc->overprovisioning_factor, svc->outlier.min_health_percent,
	       svc->outlier.min_health_percent == 0 ? " (panic disabled)" :
	       "");
	printf("outlier detection:  %s\n", svc->outlier.enabled ?
	       "on" : "off (every endpoint is in priority 0, as in Istio)");
	if (svc->protocol != SWERVE_PROTOCOL_HTTP) {
		puts("protocol:           tcp (connect outcomes only)");
		return;
	}
	fputs("protocol:           http (response statuses count too), ",
	      stdout);
	if (svc->response_timeout_ms == 0) {
		puts("no response timeout");
		return;
	}
	format_duration(svc->response_timeout_ms, buf, sizeof(buf));
	printf("response timeout %s\n", buf);
}

/* The name each endpoint is sent as SNI, and where it comes from. */
static void explain_sni(const struct swerve_service *svc)
{
	const struct swerve_tls_cfg *tls = &svc->tls;
	unsigned i;

	if (tls->sni[0] != '\0') {
		printf("tls sni:            %s to every endpoint (tls_sni, "
		       "line %d)\n", tls->sni, tls->sni_line);
		return;
	}
	for (i = 0; i < svc->nendpoints; i++) {
		const struct swerve_endpoint *ep = &svc->endpoints[i];

		printf("%s%-22s ", i == 0 ? "tls sni:            " :
		       "                    ", ep->text);
		if (ep->name[0] != '\0')
			printf("%s (the endpoint's name)\n", ep->name);
		else
			puts("none (an IP address)");
	}
}

/*
 * The TLS settings in force: whether swerve originates TLS, what it
 * trusts, the SNI and the names it accepts, the client certificate, and a
 * line nobody can miss when certificates are not verified at all.
 */
static void explain_tls(const struct swerve_service *svc)
{
	const struct swerve_tls_cfg *tls = &svc->tls;
	unsigned i;

	if (tls->mode == SWERVE_TLS_DISABLE) {
		puts("tls:                disable (the application's bytes go "
		     "to the endpoints as they are)");
		return;
	}
	printf("tls:                %s: swerve originates TLS to the "
	       "endpoints (line %d)\n",
	       swerve_config_tls_mode_name(tls->mode), tls->line);
	if (tls->ca[0] != '\0')
		printf("tls trust:          %s (tls_ca_certificates, line "
		       "%d)\n", tls->ca, tls->ca_line);
	else
		puts("tls trust:          the system trust store");
	explain_sni(svc);
	fputs("tls names accepted:", stdout);
	if (tls->skip_verify)
		puts(" any: verification is skipped");
	else if (tls->nsan == 0)
		puts(" the SNI name sent to each endpoint");
	for (i = 0; !tls->skip_verify && i < tls->nsan; i++)
		printf("%s %s", i > 0 ? "," : "", tls->san[i]);
	if (!tls->skip_verify && tls->nsan > 0)
		printf(" (tls_subject_alt_names, line %d)\n", tls->san_line);
	if (tls->mode == SWERVE_TLS_MUTUAL)
		printf("tls client cert:    %s (line %d), key %s (line %d)\n",
		       tls->cert, tls->cert_line, tls->key, tls->key_line);
	if (tls->skip_verify)
		printf("WARNING:            certificates are NOT verified "
		       "(tls_insecure_skip_verify = true,\n"
		       "                    line %d): anyone who can answer "
		       "for an endpoint gets its traffic\n",
		       tls->skip_verify_line);
}

/*
 * The retries of an http service (Istio's HTTPRetry): only the TLS relay
 * holds a copy of a request it can send again; a plain http service is
 * observed on the application's own connection.
 */
static void explain_retry(const struct swerve_service *svc)
{
	static const char *const names[] = {
		"connect-failure", "reset", "5xx", "gateway-error",
		"retriable-4xx", "retriable-status-codes",
	};
	const struct swerve_retry_cfg *rt = &svc->retry;
	unsigned i, n = 0;

	if (svc->protocol != SWERVE_PROTOCOL_HTTP)
		return;
	if (svc->tls.mode == SWERVE_TLS_DISABLE) {
		puts("retries:            none (swerve observes the "
		     "application's own connection: it cannot resend)");
		return;
	}
	if (rt->attempts == 0) {
		puts("retries:            none (retries = 0)");
		return;
	}
	printf("retries:            %u, on", rt->attempts);
	for (i = 0; i < SWERVE_ARRAY_LEN(names); i++)
		if (rt->on & (1u << i))
			printf("%s %s", n++ > 0 ? "," : "", names[i]);
	if (rt->on & SWERVE_RETRY_ON_STATUS_CODES)
		for (i = 0; i < rt->ncodes; i++)
			printf("%s%u", i == 0 ? " (" : ", ", rt->codes[i]);
	puts(rt->on & SWERVE_RETRY_ON_STATUS_CODES && rt->ncodes > 0
		     ? "): idempotent requests of up to 64 KiB, on endpoints "
		       "not tried for them"
		     : ": idempotent requests of up to 64 KiB, on endpoints "
		       "not tried for them");
}

/* The locality rules of the service and which of them act for this host. */
static void explain_rules(const struct swerve_config *cfg,
			  const struct svc_view *sv)
{
	const struct swerve_service *svc = sv->svc;
	const struct swerve_distribute *d = sv->route.distribute;
	unsigned i, j;
	bool tiers = svc->outlier.enabled && svc->ndistribute == 0;

	for (i = 0; i < svc->nfailover; i++)
		printf("failover:           %s -> %s (line %d)%s\n",
		       svc->failover[i].from, svc->failover[i].to,
		       svc->failover[i].line,
		       !tiers ? ", inactive: no tiers" :
		       strcmp(svc->failover[i].from, cfg->locality.region) == 0
		       ? ", applies to this host" : "");
	if (svc->nfailover_priority > 0) {
		fputs("failover_priority: ", stdout);
		for (i = 0; i < svc->nfailover_priority; i++) {
			const struct swerve_failover_label *fl =
				&svc->failover_priority[i];

			printf("%s %s", i > 0 ? "," : "", fl->key);
			if (fl->has_value)
				printf("=%s", fl->value);
			else
				printf(" (here: '%s')", swerve_config_label(
					       cfg->labels, cfg->nlabels,
					       &cfg->locality, fl->key));
		}
		printf(" (line %d)%s\n", svc->failover_priority_line,
		       tiers ? "" : ", inactive: no tiers");
	}
	for (i = 0; i < svc->ndistribute; i++) {
		const struct swerve_distribute *r = &svc->distribute[i];

		printf("distribute:         %s ->", r->from_text);
		for (j = 0; j < r->nto; j++)
			printf("%s %s:%" PRIu32, j > 0 ? "," : "",
			       r->to[j].text, r->to[j].weight);
		printf(" (line %d)%s\n", r->line,
		       r == d ? ", applies to this host" : "");
	}
	if (svc->ndistribute > 0 && d == NULL)
		puts("                    no distribute rule matches this "
		     "host: own locality weights");
	printf("locality weighting: %s\n",
	       sv->route.locality_weighted ?
	       "on (a locality is picked by effective weight, then an "
	       "endpoint)" : "off (endpoints of a priority are picked "
	       "directly)");
}

/*
 * Prints the localities of tier <p> with their weights as the pick sees
 * them: configured weight, healthy/total, effective weight and share.
 * Only the endpoints routed now count (a name's addresses, not the name).
 */
static void explain_localities(const struct svc_view *sv, unsigned p)
{
	const struct swerve_service *svc = sv->svc;
	const uint64_t *eff = sv->route.eff[p];
	uint64_t sum = sv->route.eff_sum[p];
	unsigned g, total, up;
	uint32_t w;
	size_t i;

	if (!sv->route.locality_weighted)
		return;
	for (g = 0; g < svc->nlocalities && g < SWERVE_MAX_LOCALITIES; g++) {
		total = 0;
		up = 0;
		w = 0;
		for (i = 0; i < sv->neps; i++) {
			const struct ep_view *e = &sv->eps[i];

			if (e->absent || e->ep->group != g || e->priority != p)
				continue;
			total++;
			up += !e->ejected;
			w += e->ep->weight;
		}
		if (total == 0)
			continue;
		printf("  locality %-20s %u/%u healthy, effective weight "
		       "%" PRIu64 ".%02" PRIu64 " of %" PRIu32 ", %" PRIu64
		       "%% of the priority\n",
		       svc->localities[g].text[0] != '\0' ?
		       svc->localities[g].text : "-", up, total,
		       eff[g] / 10000, eff[g] / 100 % 100, w,
		       sum > 0 ? eff[g] * 100 / sum : 0);
	}
}

/* One endpoint of a tier: address, locality, weight and state. */
static void explain_endpoint(const struct ep_view *e)
{
	char buf[CELL_MAX];

	printf("  %-22s %-28s weight %-4" PRIu32, e->text,
	       e->ep->locality_text[0] != '\0' ? e->ep->locality_text : "-",
	       e->ep->weight);
	if (e->absent) {
		fputs(" no address", stdout);
	} else if (e->ejected) {
		format_duration(e->remaining_ms, buf, sizeof(buf));
		printf(" ejected for %s", buf);
		if (ejection_why(e) != NULL)
			printf(" (%s)", ejection_why(e));
	} else {
		fputs(" healthy", stdout);
	}
	if (e->dns != NULL) {
		format_dns(e, buf, sizeof(buf));
		printf(" (%s)", buf);
	}
	putchar('\n');
}

/*
 * Prints one tier: its share of traffic and the state of each endpoint the
 * connect path would see. A name shows as the addresses it resolves to,
 * each with its own row, as swervectl endpoints shows them.
 */
static void explain_tier(const struct svc_view *sv, unsigned p)
{
	const struct swerve_balancer_load *load = &sv->route.load;
	unsigned total = 0, up = 0;
	size_t i;

	for (i = 0; i < sv->neps; i++) {
		if (sv->eps[i].priority != p || sv->eps[i].absent)
			continue;
		total++;
		up += !sv->eps[i].ejected;
	}
	printf("\npriority %u: %u/%u healthy, health %" PRIu32 "%%, "
	       "load %" PRIu32 "%%%s\n", p, up, total, load->health[p],
	       load->load[p], load->panic[p] ? ", in panic" : "");
	for (i = 0; i < sv->neps; i++)
		if (sv->eps[i].priority == p)
			explain_endpoint(&sv->eps[i]);
}

/* Endpoints a distribute rule keeps this host away from. */
static void explain_unrouted(const struct svc_view *sv)
{
	size_t i;
	bool any = false;

	for (i = 0; i < sv->neps; i++) {
		const struct ep_view *e = &sv->eps[i];

		if (e->priority != SWERVE_BALANCER_UNROUTED)
			continue;
		if (!any)
			puts("\nnot routed (distribute lists no target for "
			     "their locality):");
		any = true;
		printf("  %-22s %s\n", e->text,
		       e->ep->locality_text[0] != '\0' ?
		       e->ep->locality_text : "-");
	}
}

static void explain_panic(const struct swerve_balancer_load *load)
{
	unsigned p;
	bool any = false;

	if (load->none_routable) {
		puts("panic:              nothing is healthy and panic is "
		     "disabled: swerve fails open\n"
		     "                    to an ejected endpoint of the lowest "
		     "tier");
		return;
	}
	if (load->total_panic) {
		puts("panic:              total (every priority is below the "
		     "panic threshold):\n"
		     "                    traffic goes to all endpoints, "
		     "ejected or not");
		return;
	}
	fputs("panic:              ", stdout);
	for (p = 0; p < load->npriorities; p++) {
		if (!load->panic[p])
			continue;
		printf("%spriority %u", any ? ", " : "", p);
		any = true;
	}
	puts(any ? " (ejected endpoints of a priority in panic still get "
	     "traffic)" : "no");
}

/* The next connect: an address as endpoints lists it, never a name. */
static void explain_pick(const struct svc_view *sv)
{
	const struct view_route *r = &sv->route;
	const struct ep_view *e = NULL;
	size_t i;

	for (i = 0; r->pick >= 0 && i < sv->neps; i++)
		if (!sv->eps[i].absent && sv->eps[i].slot == (unsigned)r->pick)
			e = &sv->eps[i];
	if (e == NULL) {
		puts("next connect:       no endpoint can be picked");
		return;
	}
	printf("next connect:       %s (%s)\n", e->text,
	       r->why[0] != '\0' ? r->why : "no reason given");
	/* The real pick draws random numbers or advances a counter. */
	if (r->npriorities > 1)
		printf("                    the first pick only: the "
		       "draw of a priority per\n"
		       "                    connection and %s make "
		       "later picks vary\n", swerve_config_lb_name(sv->svc->lb));
	else
		printf("                    the first pick only: %s "
		       "makes later picks vary\n", swerve_config_lb_name(sv->svc->lb));
}

int cmd_explain(const struct cli_args *a)
{
	const struct swerve_service *svc;
	struct swerve_config *cfg = NULL;
	struct svc_view *sv = NULL;
	struct view v;
	unsigned p;
	int rc = CLI_EXIT_FAIL;

	if (a->npos != 1)
		return fail_usage("explain takes one host name");
	if (a->json || a->for_arg != NULL)
		return fail_usage("explain takes no --json or --for");
	if (load_config(resolve_config_path(a), &cfg) != 0)
		return CLI_EXIT_FAIL;
	svc = swerve_config_match_name(cfg, a->pos[0]);
	if (svc == NULL) {
		print_error("%s is not served by swerve: no service in %s "
			    "lists it; programs resolve it as usual",
			    a->pos[0], cfg->path);
		swerve_config_free(cfg);
		return CLI_EXIT_FAIL;
	}
	if (svc->nendpoints == 0 || svc->nendpoints > SWERVE_MAX_ENDPOINTS) {
		print_error("service %s has %u endpoints", svc->name,
			    svc->nendpoints);
		swerve_config_free(cfg);
		return CLI_EXIT_FAIL;
	}
	if (view_open(&v, cfg, VIEW_SHARED) != 0 ||
	    view_service(&v, (unsigned)(svc - cfg->services), &sv) != 0)
		goto out;
	explain_service(cfg, svc, a->pos[0]);
	explain_tls(svc);
	explain_retry(svc);
	explain_rules(cfg, sv);
	for (p = 0; p < sv->route.npriorities; p++) {
		explain_tier(sv, p);
		explain_localities(sv, p);
	}
	explain_unrouted(sv);
	putchar('\n');
	explain_panic(&sv->route.load);
	explain_pick(sv);
	rc = CLI_EXIT_OK;
out:
	view_service_free(sv);
	view_close(&v);
	return rc;
}
