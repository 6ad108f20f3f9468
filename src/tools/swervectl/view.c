/*
 * view.c: the view model (view.h). The routed service, the rows and the
 * names are the library's own (policy, table and names modules), read the
 * way hooks.c reads them; view_route() is the one place that asks the
 * balancer anything. Single-threaded.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/swerve.h"
#include "policy/balancer.h"
#include "policy/plan.h"
#include "policy/outlier.h"
#include "tools/swervectl/cli.h"
#include "tools/swervectl/print.h"
#include "tools/swervectl/view.h"

int load_config(const char *path, struct swerve_config **out)
{
	char err[512] = "";
	int rc;

	rc = swerve_config_load(path, true, out, NULL, NULL, err, sizeof(err));
	if (rc != 0) {
		if (err[0] != '\0')
			print_error("%s", err);
		else
			print_error("%s: %s", path, strerror(-rc));
		return -1;
	}
	swerve_log_set_level((*out)->log_level);
	return 0;
}

int attach_table(const struct swerve_config *cfg, bool create,
		 struct swerve_shm *tab, bool *present)
{
	char err[256] = "";
	int rc;

	memset(tab, 0, sizeof(*tab));
	*present = false;
	rc = swerve_shm_attach(cfg->shm_name, create, tab, err, sizeof(err));
	if (rc == 0) {
		*present = true;
		return 0;
	}
	if (rc == -ENOENT && !create) {
		fprintf(stderr, "swervectl: shared table %s does not exist yet "
			"(no program has run with swerve since boot or the "
			"last reset); every endpoint is shown healthy\n",
			cfg->shm_name);
		return 0;
	}
	if (err[0] != '\0')
		print_error("shared table %s: %s", cfg->shm_name, err);
	else
		print_error("shared table %s: %s", cfg->shm_name,
			    strerror(-rc));
	return -1;
}

int view_open(struct view *v, struct swerve_config *cfg,
	      enum view_table which)
{
	char err[256] = "";
	int rc;

	memset(v, 0, sizeof(*v));
	v->cfg = cfg;
	if (which == VIEW_SHARED &&
	    attach_table(cfg, false, &v->tab, &v->present) != 0)
		return -1;
	/* Names are looked up by this command, as the library would; their
	 * rows come from the table (a private one when there is none yet). */
	if (!v->present && swerve_shm_private(&v->tab) != 0) {
		print_error("out of memory");
		return -1;
	}
	rc = swerve_dnscache_new(cfg, &v->tab, &v->dc, err, sizeof(err));
	if (rc != 0) {
		print_error("%s", err[0] != '\0' ? err : strerror(-rc));
		return -1;
	}
	v->now = swerve_now_ms();
	return 0;
}

void view_close(struct view *v)
{
	free(v->eps);
	/* The cache's rows point into the table: it goes first. */
	swerve_dnscache_free(v->dc);
	swerve_shm_detach(&v->tab);
	swerve_config_free(v->cfg);
	memset(v, 0, sizeof(*v));
}

/*
 * Reads <row> (NULL: a fresh, healthy row) of an endpoint of <svc> into
 * <e>. The snapshot is refreshed to <now>, so an ejection whose time has
 * passed already reads as healthy.
 */
static void read_row(struct swerve_shm *tab, const struct swerve_service *svc,
		     struct swerve_shm_row *row, uint64_t now,
		     struct ep_view *e)
{
	struct swerve_outlier_state st;
	struct swerve_shm_row *svc_row;
	uint64_t until;

	memset(&st, 0, sizeof(st));
	if (row == NULL)
		return;
	/* A snapshot that ends an expired ejection moves the epoch. */
	svc_row = swerve_shm_row(tab, swerve_shm_service_key(svc->name),
				 false);
	if (swerve_shm_snapshot(tab, svc_row, row, &svc->outlier, now,
				&st) != 0)
		return;
	e->ejected = st.ejected != 0;
	if (e->ejected) {
		until = swerve_outlier_ejected_until(&st, &svc->outlier);
		e->remaining_ms = until > now ? until - now : 0;
		/* Shown by name: out of range reads as none. */
		e->reason = st.reason <= SWERVE_REASON_HEALTH ?
			    (enum swerve_outlier_reason)st.reason :
			    SWERVE_REASON_NONE;
		e->cause = (enum swerve_outlier_cause)st.cause;
	}
	/* In split mode connect failures feed the local-origin streak. */
	e->failures = svc->outlier.split_external_local_origin ?
		      st.local_origin : st.c5xx;
	e->ejections = st.ejections;
	e->connects_ok = atomic_load(&row->connects_ok);
	e->connects_failed = atomic_load(&row->connects_failed);
	e->responses_2xx = atomic_load(&row->responses_2xx);
	e->responses_3xx = atomic_load(&row->responses_3xx);
	e->responses_4xx = atomic_load(&row->responses_4xx);
	e->responses_5xx = atomic_load(&row->responses_5xx);
	e->timeouts = atomic_load(&row->timeouts);
	e->resets = atomic_load(&row->resets);
	e->tls_ok = atomic_load(&row->tls_ok);
	e->tls_failed = atomic_load(&row->tls_failed);
	e->tls_resumed = atomic_load(&row->tls_resumed);
	e->tls_verify_error = atomic_load(&row->tls_verify_error);
}

/*
 * Slot <k> of service <s>, which holds config endpoint <cep> (a literal,
 * or one of a name's addresses): its row and health, and a view when it
 * holds an address now; else it is marked absent. <status> is the name's
 * status row, which says how often programs had to use a stale answer.
 */
static void view_slot(struct view *v, unsigned s, unsigned k,
		      const struct swerve_endpoint *cep,
		      struct swerve_shm_row *status, struct svc_view *sv)
{
	struct sockaddr_storage addr;
	bool stale = false;
	struct ep_view *e;

	sv->healthy[k] = true;
	if (!swerve_dnscache_address(v->dc, s, k, &addr, &stale)) {
		sv->absent[k] = true;
		return;
	}
	if (v->present)
		sv->rows[k] = swerve_dnscache_has_names(v->dc, s) ?
			      swerve_dnscache_rows(v->dc, s)[k] :
			      swerve_shm_row(&v->tab,
					     swerve_shm_endpoint_key(
						     sv->svc->name, cep->text),
					     false);
	e = &sv->eps[sv->neps++];
	e->svc = sv->svc;
	e->ep = &sv->routed->endpoints[k];
	e->slot = k;
	e->key = swerve_shm_endpoint_key(sv->svc->name, cep->text);
	snprintf(e->text, sizeof(e->text), "%s", cep->text);
	if (cep->name[0] != '\0') {
		format_address(&addr, e->text, sizeof(e->text));
		e->key = swerve_shm_address_key(sv->svc->name, cep->text, &addr);
		e->dns = stale ? "stale" : "ok";
		if (status != NULL)
			e->stale_uses = atomic_load(&status->stale_uses);
	}
	read_row(&v->tab, sv->svc, sv->rows[k], v->now, e);
	sv->healthy[k] = !e->ejected;
}

/* The one view of a name that resolves to nothing now: never routed. */
static void view_unresolved(const struct swerve_endpoint *cep,
			    struct swerve_shm_row *status, unsigned first,
			    struct svc_view *sv)
{
	struct ep_view *e = &sv->eps[sv->neps++];

	e->svc = sv->svc;
	e->ep = cep;
	e->slot = first;
	e->absent = true;
	e->key = swerve_shm_endpoint_key(sv->svc->name, cep->text);
	snprintf(e->text, sizeof(e->text), "%s", cep->text);
	e->dns = "unresolved";
	if (status != NULL) {
		e->stale_uses = atomic_load(&status->stale_uses);
		/* It resolved for programs before: they go on with their
		 * last answer meanwhile. */
		if (atomic_load(&status->connects_ok) > 0)
			e->dns = "failing";
	}
}

/*
 * Views config endpoint <i> of service <s>, whose slots in the routed
 * service start at <*k>: a literal has one; a name has
 * SWERVE_DNS_MAX_ADDRS, one view per address it resolves to now (looked
 * up by this very command), or one "unresolved" view. Advances <*k>.
 */
static void view_config_endpoint(struct view *v, unsigned s, unsigned i,
				 unsigned *k, struct svc_view *sv)
{
	const struct swerve_endpoint *cep = &sv->svc->endpoints[i];
	bool named = cep->name[0] != '\0';
	unsigned width = named ? SWERVE_DNS_MAX_ADDRS : 1, first = *k, j;
	struct swerve_shm_row *status = NULL;
	size_t before = sv->neps;

	if (named && v->present)
		status = swerve_shm_row(&v->tab, swerve_shm_status_key(
						sv->svc->name, cep->text), false);
	for (j = 0; j < width; j++, (*k)++)
		view_slot(v, s, *k, cep, status, sv);
	if (named && sv->neps == before)
		view_unresolved(cep, status, first, sv);
}

/*
 * What the balancer makes of <sv> for this host: tiers, the load and panic
 * over the slots that hold an address, the locality rule and weights, and
 * the first pick (round-robin counter and random numbers at 0). The only
 * function of swervectl that calls the balancer, and the only one that
 * fills its input.
 */
/*
 * The routing plan a process would build from this health, its load and
 * its next pick (a fresh process: counters at zero, no avoidance).
 */
static void view_plan(const struct swerve_balancer_input *in,
		      struct view_route *r)
{
	struct swerve_plan_draw d;
	struct swerve_plan plan;

	memset(&d, 0, sizeof(d));
	d.active = in->active;
	r->pick = -1;
	if (swerve_plan_new(&plan, (uint32_t)in->n) != 0) {
		snprintf(r->why, sizeof(r->why), "out of memory");
		return;
	}
	swerve_plan_build(&plan, in);
	r->load = plan.ld;
	r->pick = swerve_plan_pick(&plan, &d, NULL, NULL, r->why,
				   sizeof(r->why));
	swerve_plan_free(&plan);
}

static void view_route(const struct swerve_config *cfg, struct svc_view *sv)
{
	const struct swerve_service *rs = sv->routed;
	struct view_route *r = &sv->route;
	uint32_t weight[SWERVE_MAX_ENDPOINTS], active[SWERVE_MAX_ENDPOINTS];
	uint32_t dweight[SWERVE_MAX_LOCALITIES];
	struct swerve_balancer_input in;
	unsigned i, p;

	r->npriorities = swerve_balancer_priorities(rs, cfg, r->prio);
	r->locality_weighted = swerve_balancer_locality_weighted(rs);
	r->distribute = rs->ndistribute > 0 ?
			swerve_balancer_distribute(rs, cfg, dweight) : NULL;
	for (i = 0; i < rs->nendpoints; i++) {
		weight[i] = rs->endpoints[i].weight;
		/* In-flight counts live in each process; none are here. */
		active[i] = 0;
	}
	memset(&in, 0, sizeof(in));
	in.n = rs->nendpoints;
	in.prio = r->prio;
	in.npriorities = r->npriorities;
	in.healthy = sv->healthy;
	in.absent = sv->absent;
	in.weight = weight;
	in.active = active;
	in.lb = rs->lb;
	in.overprov = rs->overprovisioning_factor;
	in.panic_threshold = rs->outlier.min_health_percent;
	in.svc = rs;
	in.client = cfg;
	for (p = 0; p < r->npriorities && p < SWERVE_MAX_PRIORITIES; p++)
		r->eff_sum[p] = swerve_balancer_locality_weights(&in, p,
								 r->eff[p]);
	view_plan(&in, r);
}

void view_service_free(struct svc_view *sv)
{
	if (sv == NULL)
		return;
	free(sv->eps);
	free(sv);
}

int view_service(struct view *v, unsigned s, struct svc_view **out)
{
	const struct swerve_service *rs = swerve_dnscache_service(v->dc, s);
	struct svc_view *sv;
	unsigned i, k = 0;
	size_t j;

	*out = NULL;
	/* The config caps endpoints, but the slot arrays must not trust it. */
	if (rs->nendpoints > SWERVE_MAX_ENDPOINTS) {
		print_error("service %s has %u endpoints", rs->name,
			    rs->nendpoints);
		return -1;
	}
	sv = calloc(1, sizeof(*sv));
	if (sv != NULL)
		sv->eps = calloc(rs->nendpoints > 0 ? rs->nendpoints : 1,
				 sizeof(*sv->eps));
	if (sv == NULL || sv->eps == NULL) {
		view_service_free(sv);
		print_error("out of memory");
		return -1;
	}
	sv->svc = &v->cfg->services[s];
	sv->routed = rs;
	if (swerve_dnscache_has_names(v->dc, s))
		swerve_dnscache_refresh(v->dc, s, v->now,
					SWERVE_DNSCACHE_WAIT);
	for (i = 0; i < sv->svc->nendpoints; i++)
		view_config_endpoint(v, s, i, &k, sv);
	view_route(v->cfg, sv);
	for (j = 0; j < sv->neps; j++)
		sv->eps[j].priority = sv->route.prio[sv->eps[j].slot];
	*out = sv;
	return 0;
}

int view_endpoints(struct view *v)
{
	struct svc_view *sv;
	size_t total = 0;
	unsigned s;

	for (s = 0; s < v->cfg->nservices; s++)
		total += swerve_dnscache_service(v->dc, s)->nendpoints;
	v->eps = calloc(total > 0 ? total : 1, sizeof(*v->eps));
	if (v->eps == NULL) {
		print_error("out of memory");
		return -1;
	}
	for (s = 0; s < v->cfg->nservices; s++) {
		if (view_service(v, s, &sv) != 0)
			return -1;
		memcpy(&v->eps[v->neps], sv->eps, sv->neps * sizeof(*sv->eps));
		v->neps += sv->neps;
		view_service_free(sv);
	}
	return 0;
}

int view_open_all(struct view *v, const char *path)
{
	struct swerve_config *cfg = NULL;

	memset(v, 0, sizeof(*v));
	if (load_config(path, &cfg) != 0 ||
	    view_open(v, cfg, VIEW_SHARED) != 0)
		return -1;
	return view_endpoints(v);
}

bool view_has_tls(const struct swerve_config *cfg)
{
	unsigned i;

	for (i = 0; i < cfg->nservices; i++) {
		if (cfg->services[i].tls.mode != SWERVE_TLS_DISABLE)
			return true;
	}
	return false;
}

void view_resolve_key(const struct view *v, uint64_t key,
		      struct event_target *t)
{
	unsigned i;
	size_t j;

	t->svc = NULL;
	t->ep = NULL;
	for (i = 0; i < v->cfg->nservices; i++) {
		if (swerve_shm_service_key(v->cfg->services[i].name) == key) {
			t->svc = &v->cfg->services[i];
			return;
		}
	}
	for (j = 0; j < v->neps; j++) {
		if (v->eps[j].key == key) {
			t->svc = v->eps[j].svc;
			t->ep = &v->eps[j];
			return;
		}
	}
}
