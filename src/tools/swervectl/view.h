/*
 * view: THE view model of swervectl, what every command that shows
 * something reads. It loads the config as the library loads it, attaches
 * the shared table, builds the names cache as the library builds it (so an
 * endpoint given as a name is routed as its addresses, each with its own
 * row), reads each row's health with a snapshot, and asks the balancer
 * what it makes of that health: tiers, load, panic, locality weights and
 * the next pick. endpoints, explain and events print from here, so they
 * cannot disagree about an endpoint.
 *
 * Thread-safety: swervectl is single-threaded; nothing here locks.
 */
#ifndef SWERVE_VIEW_H
#define SWERVE_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/swerve.h"
#include "names/dnscache.h"
#include "policy/balancer.h"
#include "policy/config.h"
#include "policy/outlier.h"
#include "table/shm.h"

/* One endpoint as the table shows it, computed once per run. */
struct ep_view {
	const struct swerve_service *svc;
	/* Locality, weight, name: the config's endpoint, or for an address
	 * behind a name the slot of the routed service that holds it. */
	const struct swerve_endpoint *ep;
	/* What ENDPOINT shows: ep->text, or for an address behind a name
	 * "address:port"; and for names the name and its DNS state. */
	char text[96];
	const char *dns;         /* NULL (literal), "ok", "stale",
				  * "unresolved", "failing" */
	uint64_t stale_uses;     /* connects on a stale answer, host-wide */
	uint64_t key;            /* its row in the shared table */
	unsigned slot;           /* its endpoint in the routed service */
	bool absent;             /* a name with no address: nothing routed */
	unsigned priority;
	bool ejected;
	uint64_t remaining_ms;   /* 0 when healthy */
	uint32_t failures;       /* the streak that leads to an ejection */
	uint32_t ejections;
	uint64_t connects_ok;
	uint64_t connects_failed;
	/* protocol = http: final responses by status class, requests
	 * abandoned after response_timeout, resets before a response. */
	uint64_t responses_2xx;
	uint64_t responses_3xx;
	uint64_t responses_4xx;
	uint64_t responses_5xx;
	uint64_t timeouts;
	uint64_t resets;
	/* A service with tls: handshakes completed (resumed among them)
	 * and failed, and the X509_V_ERR_* code of the last certificate
	 * that did not verify (0: none). */
	uint64_t tls_ok;
	uint64_t tls_failed;
	uint64_t tls_resumed;
	uint64_t tls_verify_error;
	/* While ejected: the streak that did it and the failure that
	 * tripped it; NONE when healthy. */
	enum swerve_outlier_reason reason;
	enum swerve_outlier_cause cause;
};

/* What the balancer makes of one service for this host (view_route()). */
struct view_route {
	uint8_t prio[SWERVE_MAX_ENDPOINTS];   /* tier of each slot */
	unsigned npriorities;
	struct swerve_balancer_load load;     /* over the slots routed now */
	bool locality_weighted;
	const struct swerve_distribute *distribute; /* acting here, or NULL */
	/* Effective locality weights per tier and their sums (only with
	 * locality weighting). */
	uint64_t eff[SWERVE_MAX_PRIORITIES][SWERVE_MAX_LOCALITIES];
	uint64_t eff_sum[SWERVE_MAX_PRIORITIES];
	int pick;                             /* slot, or -1: none */
	char why[256];
};

/*
 * One service as the library routes it: the slots of the routed service
 * (the config's endpoints, or names expanded into address slots), each
 * with its row and health, and the endpoints to show, in config order.
 */
struct svc_view {
	const struct swerve_service *svc;     /* the config's */
	const struct swerve_service *routed;  /* its slots */
	struct swerve_shm_row *rows[SWERVE_MAX_ENDPOINTS];
	bool healthy[SWERVE_MAX_ENDPOINTS];   /* not ejected */
	bool absent[SWERVE_MAX_ENDPOINTS];    /* a name's slot, no address */
	struct view_route route;
	struct ep_view *eps;
	size_t neps;
};

/* Which table a view reads. */
enum view_table {
	VIEW_SHARED,   /* the shared table; a missing one reads healthy */
	VIEW_PRIVATE,  /* none: names and keys only (finding an endpoint) */
};

struct view {
	struct swerve_config *cfg;
	struct swerve_shm tab;        /* shared, else private (for names) */
	bool present;                 /* rows are read from the shared one */
	struct swerve_dnscache *dc;
	uint64_t now;
	struct ep_view *eps;          /* every service: view_endpoints() */
	size_t neps;
};

/* What an event's key names: a service, or an endpoint of one. */
struct event_target {
	const struct swerve_service *svc;
	const struct ep_view *ep;   /* NULL for a service event */
};

/* Loads the config as the library would (environment overrides apply). */
int load_config(const char *path, struct swerve_config **out);

/*
 * Attaches the shared table. A read-only command (create false) treats a
 * missing table as "nothing happened yet" and sets <*present> false; any
 * other failure is an error, reported with the attach's own reason.
 */
int attach_table(const struct swerve_config *cfg, bool create,
		 struct swerve_shm *tab, bool *present);

/*
 * Reads <cfg> (the view owns it from now on), attaching the table <which>
 * says, and builds the names cache over it. Resolves nothing yet. Errors
 * are printed; returns 0 or -1. view_close() in both cases.
 */
int view_open(struct view *v, struct swerve_config *cfg,
	      enum view_table which);
void view_close(struct view *v);

/*
 * Reads service <s>: looks its names up now (as the library would), reads
 * every row and asks the balancer. 0, or -1 with the error printed.
 * view_service_free() frees <*out>.
 */
int view_service(struct view *v, unsigned s, struct svc_view **out);
void view_service_free(struct svc_view *sv);

/* Fills v->eps with every endpoint of every service. 0 or -1. */
int view_endpoints(struct view *v);

/*
 * Loads the config at <path> and views every endpoint over the shared
 * table (what endpoints and events read). 0, or -1 with the error
 * printed; view_close() in both cases.
 */
int view_open_all(struct view *v, const char *path);

/* True when some service of <cfg> originates TLS (its tls is not
 * disable): endpoints then shows the TLS columns. */
bool view_has_tls(const struct swerve_config *cfg);

/* What the row or service key <key> names among v->eps. */
void view_resolve_key(const struct view *v, uint64_t key,
		      struct event_target *t);

#endif
