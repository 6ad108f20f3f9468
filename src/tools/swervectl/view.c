/*
 * view.c: the config and shared table as swervectl reads them, and the
 * view of each endpoint's row (names expanded into their addresses as the
 * library expands them). Single-threaded.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/swerve.h"
#include "policy/balancer.h"
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

/*
 * Fills <v> for endpoint <ep> of <svc> from <tab> (NULL when the table does
 * not exist: a fresh, healthy row). The snapshot is refreshed to <now>, so
 * an ejection whose time has passed already reads as healthy.
 */
static void view_endpoint(struct swerve_shm *tab,
			  const struct swerve_service *svc,
			  const struct swerve_endpoint *ep,
			  struct swerve_shm_row *row, unsigned priority,
			  uint64_t now, struct ep_view *v)
{
	struct swerve_outlier_state st;
	uint64_t until;

	memset(v, 0, sizeof(*v));
	memset(&st, 0, sizeof(st));
	v->svc = svc;
	v->ep = ep;
	snprintf(v->text, sizeof(v->text), "%s", ep->text);
	v->priority = priority;
	if (tab == NULL || row == NULL)
		return;
	if (swerve_shm_snapshot(tab, row, &svc->outlier, now, &st) != 0)
		return;
	v->ejected = st.ejected != 0;
	if (v->ejected) {
		until = swerve_outlier_ejected_until(&st, &svc->outlier);
		v->remaining_ms = until > now ? until - now : 0;
	}
	/* In split mode connect failures feed the local-origin streak. */
	v->failures = svc->outlier.split_external_local_origin ?
		      st.local_origin : st.c5xx;
	v->ejections = st.ejections;
	v->connects_ok = atomic_load(&row->connects_ok);
	v->connects_failed = atomic_load(&row->connects_failed);
}

/*
 * Views of the endpoints of service <s> behind names, as the library routes
 * them: one per address the name resolves to now (looked up by this very
 * command), or one "unresolved" row when it does not resolve. The name's
 * status row says how often programs had to use a stale answer.
 */
static size_t view_names(struct swerve_dnscache *dc, struct swerve_shm *tab,
			 const struct swerve_config *cfg, unsigned s,
			 uint64_t now, struct ep_view *views)
{
	const struct swerve_service *cs = &cfg->services[s];
	const struct swerve_service *rs = swerve_dnscache_service(dc, s);
	struct swerve_shm_row *const *rows = swerve_dnscache_rows(dc, s);
	uint8_t prio[SWERVE_MAX_ENDPOINTS];
	size_t n = 0;
	unsigned i, k = 0, j;

	memset(prio, 0, sizeof(prio));
	swerve_balancer_priorities(rs, cfg, prio);
	for (i = 0; i < cs->nendpoints; i++) {
		const struct swerve_endpoint *ep = &cs->endpoints[i];
		struct swerve_shm_row *status = NULL;
		unsigned width = ep->name[0] != '\0' ? SWERVE_DNS_MAX_ADDRS : 1;
		unsigned first = k;
		bool any = false;

		if (ep->name[0] != '\0' && tab != NULL)
			status = swerve_shm_row(
				tab, swerve_dnscache_status_key(cs, ep), false);
		for (j = 0; j < width; j++, k++) {
			struct sockaddr_storage addr;
			bool stale = false;
			struct ep_view *v = &views[n];

			if (!swerve_dnscache_address(dc, s, k, &addr, &stale))
				continue;
			view_endpoint(tab, rs, &rs->endpoints[k],
				      tab != NULL ? rows[k] : NULL, prio[k],
				      now, v);
			if (ep->name[0] != '\0') {
				format_address(&addr, v->text, sizeof(v->text));
				v->dns = stale ? "stale" : "ok";
				if (status != NULL)
					v->stale_uses = atomic_load(
						&status->stale_uses);
			}
			any = true;
			n++;
		}
		if (!any) {
			struct ep_view *v = &views[n++];

			view_endpoint(NULL, cs, ep, NULL, prio[first], now, v);
			v->dns = "unresolved";
			if (status != NULL) {
				v->stale_uses = atomic_load(&status->stale_uses);
				/* It resolved for programs before: they go on
				 * with their last answer meanwhile. */
				if (atomic_load(&status->connects_ok) > 0)
					v->dns = "failing";
			}
		}
	}
	return n;
}

int collect_views(const struct swerve_config *cfg,
			 struct swerve_shm *tab, struct swerve_dnscache *dc,
			 struct ep_view **out, size_t *nout)
{
	uint8_t prio[SWERVE_MAX_ENDPOINTS];
	struct ep_view *views;
	uint64_t now = swerve_now_ms();
	size_t total = 0, n = 0;
	unsigned i, j;

	for (i = 0; i < cfg->nservices; i++)
		total += swerve_dnscache_service(dc, i)->nendpoints;
	views = calloc(total > 0 ? total : 1, sizeof(*views));
	if (views == NULL) {
		print_error("out of memory");
		return -1;
	}
	for (i = 0; i < cfg->nservices; i++) {
		const struct swerve_service *svc = &cfg->services[i];

		/* The config caps nendpoints, but prio[] must not trust it. */
		if (svc->nendpoints > SWERVE_MAX_ENDPOINTS)
			continue;
		if (swerve_dnscache_has_names(dc, i)) {
			swerve_dnscache_refresh(dc, i, now);
			n += view_names(dc, tab, cfg, i, now, &views[n]);
			continue;
		}
		memset(prio, 0, sizeof(prio));
		swerve_balancer_priorities(svc, cfg, prio);
		for (j = 0; j < svc->nendpoints; j++)
			view_endpoint(tab, svc, &svc->endpoints[j],
				      tab != NULL ? swerve_shm_row(
					      tab, svc->endpoints[j].key,
					      false) : NULL,
				      prio[j], now, &views[n++]);
	}
	*out = views;
	*nout = n;
	return 0;
}

void resolve_key(const struct swerve_config *cfg, uint64_t key,
			struct event_target *t)
{
	unsigned i, j;

	t->svc = NULL;
	t->ep = NULL;
	for (i = 0; i < cfg->nservices; i++) {
		const struct swerve_service *svc = &cfg->services[i];

		if (swerve_shm_service_key(svc->name) == key) {
			t->svc = svc;
			return;
		}
		for (j = 0; j < svc->nendpoints; j++) {
			if (svc->endpoints[j].key == key) {
				t->svc = svc;
				t->ep = &svc->endpoints[j];
				return;
			}
		}
	}
}
