/*
 * cmd_explain.c: `swervectl explain NAME`, how a connection to a host name
 * would be routed: its service, the locality rules that act for this host,
 * each priority tier with its health and load, panic, and the next pick.
 * Single-threaded.
 */
#include <inttypes.h>
#include <stdatomic.h>
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
	       "%%, panic threshold %" PRIu32 "%%%s\n", lb_name(svc->lb),
	       svc->overprovisioning_factor, svc->outlier.min_health_percent,
	       svc->outlier.min_health_percent == 0 ? " (panic disabled)" :
	       "");
	printf("outlier detection:  %s\n", svc->outlier.enabled ?
	       "on" : "off (every endpoint is in priority 0, as in Istio)");
}

/* The locality rules of <svc> and which of them act for this host. */
static void explain_rules(const struct swerve_config *cfg,
			  const struct swerve_service *svc)
{
	uint32_t weight[SWERVE_MAX_LOCALITIES];
	const struct swerve_distribute *d;
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
	d = svc->ndistribute > 0 ? swerve_balancer_distribute(svc, cfg, weight)
				 : NULL;
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
	       swerve_balancer_locality_weighted(svc) ?
	       "on (a locality is picked by effective weight, then an "
	       "endpoint)" : "off (endpoints of a priority are picked "
	       "directly)");
}

/*
 * Prints the localities of tier <p> with their weights as the pick sees
 * them: configured weight, healthy/total, effective weight and share.
 */
static void explain_localities(const struct swerve_service *svc,
			       const struct swerve_balancer_input *in,
			       unsigned p)
{
	uint64_t eff[SWERVE_MAX_LOCALITIES], sum;
	unsigned g, i, total, up;
	uint32_t w;

	sum = swerve_balancer_locality_weights(in, p, eff);
	if (!swerve_balancer_locality_weighted(svc))
		return;
	for (g = 0; g < svc->nlocalities && g < SWERVE_MAX_LOCALITIES; g++) {
		total = 0;
		up = 0;
		w = 0;
		for (i = 0; i < svc->nendpoints; i++) {
			if (svc->endpoints[i].group != g || in->prio[i] != p)
				continue;
			total++;
			up += in->healthy[i];
			w += svc->endpoints[i].weight;
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

/*
 * Prints one tier: its share of traffic and the state of each endpoint the
 * connect path would see (the published ejection deadline, no lock).
 */
static void explain_tier(const struct swerve_service *svc, unsigned p,
			 const uint8_t *prio, const bool *healthy,
			 struct swerve_shm_row *const *rows,
			 const struct swerve_balancer_load *load, uint64_t now)
{
	char dur[32];
	unsigned i, total = 0, up = 0;
	uint64_t until;

	for (i = 0; i < svc->nendpoints; i++) {
		if (prio[i] != p)
			continue;
		total++;
		if (healthy[i])
			up++;
	}
	printf("\npriority %u: %u/%u healthy, health %" PRIu32 "%%, "
	       "load %" PRIu32 "%%%s\n", p, up, total, load->health[p],
	       load->load[p], load->panic[p] ? ", in panic" : "");
	for (i = 0; i < svc->nendpoints; i++) {
		const struct swerve_endpoint *ep = &svc->endpoints[i];

		if (prio[i] != p)
			continue;
		printf("  %-22s %-28s weight %-4" PRIu32, ep->text,
		       ep->locality_text[0] != '\0' ? ep->locality_text : "-",
		       ep->weight);
		if (healthy[i]) {
			puts(" healthy");
			continue;
		}
		until = atomic_load(&rows[i]->ejected_until_ms);
		format_duration(until > now ? until - now : 0, dur,
				sizeof(dur));
		printf(" ejected for %s\n", dur);
	}
}

/* Endpoints a distribute rule keeps this host away from. */
static void explain_unrouted(const struct swerve_service *svc,
			     const uint8_t *prio)
{
	unsigned i;
	bool any = false;

	for (i = 0; i < svc->nendpoints; i++) {
		if (prio[i] != SWERVE_BALANCER_UNROUTED)
			continue;
		if (!any)
			puts("\nnot routed (distribute lists no target for "
			     "their locality):");
		any = true;
		printf("  %-22s %s\n", svc->endpoints[i].text,
		       svc->endpoints[i].locality_text[0] != '\0' ?
		       svc->endpoints[i].locality_text : "-");
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

int cmd_explain(const struct cli_args *a)
{
	uint8_t prio[SWERVE_MAX_ENDPOINTS];
	bool healthy[SWERVE_MAX_ENDPOINTS];
	uint32_t weight[SWERVE_MAX_ENDPOINTS];
	uint32_t active[SWERVE_MAX_ENDPOINTS];
	struct swerve_shm_row *rows[SWERVE_MAX_ENDPOINTS];
	struct swerve_balancer_load load;
	struct swerve_balancer_input in;
	const struct swerve_service *svc;
	struct swerve_config *cfg = NULL;
	struct swerve_shm tab;
	char why[256] = "";
	unsigned i, npri;
	uint64_t now;
	bool present;
	int pick, rc = CLI_EXIT_FAIL;

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
		goto out;
	}
	if (svc->nendpoints == 0 || svc->nendpoints > SWERVE_MAX_ENDPOINTS) {
		print_error("service %s has %u endpoints", svc->name,
			    svc->nendpoints);
		goto out;
	}
	if (attach_table(cfg, false, &tab, &present) != 0)
		goto out;

	now = swerve_now_ms();
	memset(prio, 0, sizeof(prio));
	npri = swerve_balancer_priorities(svc, cfg, prio);
	for (i = 0; i < svc->nendpoints; i++) {
		rows[i] = present ?
			  swerve_shm_row(&tab, svc->endpoints[i].key, false) :
			  NULL;
		healthy[i] = !swerve_shm_is_ejected(rows[i], now);
		weight[i] = svc->endpoints[i].weight;
		/* In-flight counts live in each process; none are here. */
		active[i] = 0;
	}
	swerve_balancer_load(prio, healthy, svc->nendpoints, npri,
			     svc->overprovisioning_factor,
			     svc->outlier.min_health_percent, &load);

	memset(&in, 0, sizeof(in));
	in.n = svc->nendpoints;
	in.prio = prio;
	in.npriorities = npri;
	in.healthy = healthy;
	in.weight = weight;
	in.overprov = svc->overprovisioning_factor;
	in.svc = svc;
	in.client = cfg;

	explain_service(cfg, svc, a->pos[0]);
	explain_rules(cfg, svc);
	for (i = 0; i < npri; i++) {
		explain_tier(svc, i, prio, healthy, rows, &load, now);
		explain_localities(svc, &in, i);
	}
	explain_unrouted(svc, prio);
	putchar('\n');
	explain_panic(&load);

	memset(&in, 0, sizeof(in));
	in.n = svc->nendpoints;
	in.prio = prio;
	in.npriorities = npri;
	in.healthy = healthy;
	in.weight = weight;
	in.active = active;
	in.lb = svc->lb;
	in.overprov = svc->overprovisioning_factor;
	in.panic_threshold = svc->outlier.min_health_percent;
	in.svc = svc;
	in.client = cfg;
	pick = swerve_balancer_pick(&in, why, sizeof(why));
	if (pick < 0) {
		puts("next connect:       no endpoint can be picked");
	} else {
		printf("next connect:       %s (%s)\n",
		       svc->endpoints[pick].text,
		       why[0] != '\0' ? why : "no reason given");
		/* The real pick draws random numbers or advances a counter. */
		if (npri > 1)
			printf("                    the first pick only: the "
			       "draw of a priority per\n"
			       "                    connection and %s make "
			       "later picks vary\n", lb_name(svc->lb));
		else
			printf("                    the first pick only: %s "
			       "makes later picks vary\n", lb_name(svc->lb));
	}
	rc = CLI_EXIT_OK;
	swerve_shm_detach(&tab);
out:
	swerve_config_free(cfg);
	return rc;
}
