/*
 * view: what swervectl knows of the host: the config as the library loads
 * it, the shared table it attaches, and each endpoint's row as a view.
 *
 * Thread-safety: swervectl is single-threaded; nothing here locks.
 */
#ifndef SWERVE_VIEW_H
#define SWERVE_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "names/dnscache.h"
#include "policy/config.h"
#include "table/shm.h"

/* One endpoint as the table shows it, computed once per run. */
struct ep_view {
	const struct swerve_service *svc;
	const struct swerve_endpoint *ep;
	/* What ENDPOINT shows: ep->text, or for an address behind a name
	 * "address:port"; and for names the name and its DNS state. */
	char text[96];
	const char *dns;         /* NULL (literal), "ok", "stale",
				  * "unresolved" */
	uint64_t stale_uses;     /* connects on a stale answer, host-wide */
	unsigned priority;
	bool ejected;
	uint64_t remaining_ms;   /* 0 when healthy */
	uint32_t failures;       /* the streak that leads to an ejection */
	uint32_t ejections;
	uint64_t connects_ok;
	uint64_t connects_failed;
};

/* What an event's key names, resolved through the config. */
struct event_target {
	const struct swerve_service *svc;
	const struct swerve_endpoint *ep;   /* NULL for a service event */
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

/* Builds the view of every endpoint of every service; caller frees. */
int collect_views(const struct swerve_config *cfg, struct swerve_shm *tab,
		  struct swerve_dnscache *dc, struct ep_view **out,
		  size_t *nout);

/* What the row key <key> names in <cfg>. */
void resolve_key(const struct swerve_config *cfg, uint64_t key,
		 struct event_target *t);

#endif
