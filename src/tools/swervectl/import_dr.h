/*
 * import_dr: the state of one DestinationRule while it is imported,
 * shared by import_dr.c (the rule, outlierDetection, loadBalancer,
 * connectionPool), import_locality.c (localityLbSetting) and import_tls.c
 * (tls).
 *
 * Thread-safety: swervectl is single-threaded.
 */
#ifndef SWERVE_IMPORT_DR_H
#define SWERVE_IMPORT_DR_H

#include "tools/swervectl/import.h"

struct dr {
	struct import_ctx c;     /* first: handlers get &dr->c */
	/* outlierDetection */
	unsigned outlier_keys;   /* keys written */
	bool has_5xx, has_gateway;
	uint64_t errors;         /* consecutiveErrors, deprecated */
	yaml_node_t *errors_node;
	/* tls: the value of each field import_tls.c takes, or NULL */
	yaml_node_t *tls[7];
};

/* trafficPolicy.loadBalancer.localityLbSetting */
void import_locality_lb(struct import_ctx *c, yaml_node_t *v,
			const char *path);

/* trafficPolicy.tls */
void import_tls(struct import_ctx *c, yaml_node_t *v, const char *path);

#endif
