/*
 * import_se: the state of one ServiceEntry while it is imported, shared
 * by import_se.c (the entry, its hosts, ports, resolution and sections)
 * and import_endpoint.c (its endpoints).
 *
 * Thread-safety: swervectl is single-threaded.
 */
#ifndef SWERVE_IMPORT_SE_H
#define SWERVE_IMPORT_SE_H

#include "policy/config.h"
#include "tools/swervectl/import.h"

/* spec.resolution, as it is imported */
enum se_resolution { RES_UNSET, RES_STATIC, RES_DNS, RES_NONE };

struct se_port {
	uint64_t number, target; /* target 0: none */
	const char *name, *protocol;
	yaml_node_t *node;
};

/* One endpoint while it is read. */
struct se_ep {
	const char *address, *locality;
	yaml_node_t *node, *ports;
	uint64_t weight;
	char labels[SWERVE_MAX_LABELS][144];
	unsigned nlabels;
	bool bad;
};

struct se {
	struct import_ctx c;     /* first: handlers get &se->c */
	struct import_buf head;  /* the entry's comments before a section */
	yaml_node_t *hosts, *ports, *resolution, *endpoints;
	char names[SWERVE_MAX_HOSTS][256];
	unsigned nnames;
	struct se_port port[SWERVE_MAX_PORTS];
	unsigned nports;
	struct se_port *cur_port;
	struct se_ep *cur_ep;
	enum se_resolution res;
	bool http;
	unsigned made;           /* endpoint lines made */
};

static inline struct se *se_of(struct import_ctx *c)
{
	return (struct se *)c;
}

/* A name or *.SUFFIX of letters, digits, '-', '_' and dots. */
bool import_se_is_host_name(const char *s);

/* import_endpoint.c: the endpoint line of <ep> (false: none made), and
 * every endpoint of spec.endpoints (how many lines made). */
bool import_se_write_endpoint(struct se *se, const struct se_ep *ep);
unsigned import_se_endpoints(struct se *se);

#endif
