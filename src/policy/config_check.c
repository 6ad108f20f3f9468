/*
 * config_check.c: the checks that involve several keys or the whole file
 * (tuning keys against each other, endpoints against the service and
 * vip_cidr, locality rules against each other and this host), the
 * grouping of endpoints by locality, and the service addresses.
 *
 * Service addresses must come out the same in every process that loads the
 * file, without the processes talking to each other, and should not move
 * when a service is added. Each service hashes its name to a start offset
 * inside vip_cidr and takes the next free addresses from there (linear
 * probing) in file order: adding a service can only move another one when
 * both hash to the same spot and the new one comes first in the file.
 *
 * Thread-safety: used only by the thread loading a config; all state is in
 * its struct parse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config_int.h"

/*
 * Checks between keys, on the resolved values <t>, but only where one of
 * the keys involved is in <own>: a mistake in [defaults] is reported once,
 * at [defaults], not again for every service that inherits it.
 */
void config_check_tuning(struct parse *p, const struct tuning *t,
			 const struct tuning *own, const char *where)
{
	int line;

	line = own->line[TK_MAX_EJECTION] != 0 ? own->line[TK_MAX_EJECTION]
					       : own->line[TK_BASE_EJECTION];
	if (line != 0 && t->line[TK_MAX_EJECTION] != 0 &&
	    t->value[TK_MAX_EJECTION] < t->value[TK_BASE_EJECTION])
		config_report_at(p, true, line,
				 "max_ejection_time (%llums) is shorter than "
				 "base_ejection_time (%llums) in %s",
				 (unsigned long long)t->value[TK_MAX_EJECTION],
				 (unsigned long long)t->value[TK_BASE_EJECTION],
				 where);

	line = own->line[TK_DNS_MIN_TTL] != 0 ? own->line[TK_DNS_MIN_TTL]
					      : own->line[TK_DNS_MAX_TTL];
	if (line != 0 && t->value[TK_DNS_MIN_TTL] > t->value[TK_DNS_MAX_TTL])
		config_report_at(p, true, line, "dns_min_ttl (%llums) is "
				 "longer than dns_max_ttl (%llums) in %s",
				 (unsigned long long)t->value[TK_DNS_MIN_TTL],
				 (unsigned long long)t->value[TK_DNS_MAX_TTL],
				 where);

	/* Istio rejects local origin failures unless they are split. */
	line = own->line[TK_CONSECUTIVE_LOCAL_ORIGIN] != 0
		       ? own->line[TK_CONSECUTIVE_LOCAL_ORIGIN]
		       : own->line[TK_SPLIT];
	if (line != 0 && t->line[TK_CONSECUTIVE_LOCAL_ORIGIN] != 0 &&
	    t->value[TK_CONSECUTIVE_LOCAL_ORIGIN] > 0 && !t->value[TK_SPLIT])
		config_report_at(p, true, line,
				 "consecutive_local_origin_failures needs "
				 "split_external_local_origin_errors = true in "
				 "%s", where);
}

static bool is_same_locality(const struct swerve_locality *a,
			  const struct swerve_locality *b)
{
	return strcmp(a->region, b->region) == 0 &&
	       strcmp(a->zone, b->zone) == 0 &&
	       strcmp(a->subzone, b->subzone) == 0;
}

void config_check_endpoints(struct parse *p, const struct swerve_service *svc)
{
	const struct swerve_config *cfg = p->cfg;
	bool several = false, capped = false;
	unsigned i, slots = 0;

	for (i = 0; i < svc->nendpoints; i++) {
		const struct swerve_endpoint *ep = &svc->endpoints[i];
		const struct sockaddr_in *sin;

		/* The library routes each name as SWERVE_DNS_MAX_ADDRS
		 * endpoints (names/dnscache.c): the cap counts them so. */
		slots += ep->name[0] != '\0' ? SWERVE_DNS_MAX_ADDRS : 1;
		if (slots > SWERVE_MAX_ENDPOINTS && !capped) {
			capped = true;
			config_report_at(p, true, ep->line, "service %s has "
					 "more than %d endpoints once each "
					 "name counts as the %d addresses it "
					 "may resolve to", svc->name,
					 SWERVE_MAX_ENDPOINTS,
					 SWERVE_DNS_MAX_ADDRS);
		}
		if (!is_same_locality(&ep->locality,
				      &svc->endpoints[0].locality))
			several = true;
		if (ep->name[0] != '\0' && !svc->dns)
			config_report_at(p, true, ep->line, "endpoint '%s' is "
					 "a host name: set resolution = dns in "
					 "[service %s] to resolve it with "
					 "c-ares, or use an IP literal",
					 ep->name, svc->name);
		if (ep->addr.ss_family != AF_INET)
			continue;
		sin = (const struct sockaddr_in *)&ep->addr;
		/* connect() would rewrite it again, forever */
		if ((ntohl(sin->sin_addr.s_addr) & cfg->vip_mask) ==
		    cfg->vip_net)
			config_report_at(p, true, ep->line, "endpoint %s lies "
					 "inside vip_cidr", ep->text);
	}
	if (several && !svc->outlier.enabled && svc->ndistribute == 0)
		config_report_at(p, false, svc->line, "service %s has "
				 "endpoints in several localities but no "
				 "outlier detection: like Istio, swerve uses "
				 "no priority tiers without it", svc->name);
}

/*
 * Groups the endpoints by locality, as Istio's LocalityLbEndpoints do:
 * each group weighs the sum of its endpoints' weights. Returns 0, or
 * -ENOMEM / -EINVAL (reported) for too many localities.
 */
int config_build_localities(struct parse *p, struct swerve_service *svc)
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
				config_report_at(p, true, ep->line,
						 "service %s has endpoints in "
						 "more than %d localities",
						 svc->name,
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
void config_check_locality_rules(struct parse *p,
				 const struct swerve_service *svc)
{
	const struct swerve_config *cfg = p->cfg;
	const struct swerve_distribute *d = NULL;
	unsigned i, j;
	bool hit;

	if (svc->ndistribute > 0 && svc->nfailover > 0)
		config_report_at(p, true, svc->distribute[0].line,
				 "service %s has both distribute and failover: "
				 "Istio refuses the pair, use one", svc->name);
	if (svc->ndistribute > 0 && svc->nfailover_priority > 0)
		config_report_at(p, true, svc->failover_priority_line,
				 "service %s has both distribute and "
				 "failover_priority: Istio would ignore "
				 "failover_priority, so swerve refuses it",
				 svc->name);
	if (svc->nfailover > 0) {
		for (i = 0; i < svc->nfailover_priority; i++) {
			if (!config_is_locality_key(
				    svc->failover_priority[i].key))
				continue;
			config_report_at(p, true, svc->failover_priority_line,
					 "failover_priority uses %s together "
					 "with failover in service %s: Istio "
					 "refuses locality labels there",
					 svc->failover_priority[i].key,
					 svc->name);
			break;
		}
	}
	if ((svc->nfailover > 0 || svc->nfailover_priority > 0) &&
	    !svc->outlier.enabled)
		config_report_at(p, false, svc->nfailover > 0 ?
				 svc->failover[0].line :
				 svc->failover_priority_line,
				 "service %s has failover rules but no outlier "
				 "detection: like Istio, swerve makes no "
				 "priority tiers without it, so they do "
				 "nothing", svc->name);

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
			config_report_at(p, false, d->line,
					 "distribute from %s lists no target "
					 "for locality '%s' of service %s: "
					 "this host sends it nothing, not even "
					 "on failure", d->from_text,
					 svc->localities[i].text, svc->name);
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
void config_assign_vips(struct parse *p)
{
	struct swerve_config *cfg = p->cfg;
	uint64_t nslots = (1ull << (32 - cfg->vip_prefix)) - 2;
	uint64_t need = (uint64_t)cfg->nservices * SWERVE_VIPS_PER_SERVICE;
	uint64_t slot;
	unsigned s, v;

	if (need > nslots) {
		config_report_at(p, true, p->swerve_key_line[SK_VIP_CIDR],
				 "vip_cidr /%u has room for %llu service "
				 "addresses, but %u services need %llu",
				 cfg->vip_prefix, (unsigned long long)nslots,
				 cfg->nservices, (unsigned long long)need);
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
