/*
 * import_se.c: a ServiceEntry to [service] sections. hosts, ports
 * (number; protocol: HTTP makes protocol = http; targetPort and the
 * endpoints' ports by name make the endpoints' port), resolution (STATIC,
 * DNS) and endpoints (address, ports, locality, labels, network, weight).
 * The spec is gathered first, since the endpoints' ports depend on the
 * service's ports whatever the order of the YAML, then written. A DNS
 * entry without endpoints resolves each of its hosts on its own in Istio,
 * so it becomes one section per host, each resolving its name.
 *
 * Thread-safety: swervectl is single-threaded.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tools/swervectl/import_se.h"

static void keep_hosts(struct import_ctx *c, yaml_node_t *v, const char *p)
{
	(void)p;
	se_of(c)->hosts = v;
}

static void keep_ports(struct import_ctx *c, yaml_node_t *v, const char *p)
{
	(void)p;
	se_of(c)->ports = v;
}

static void keep_resolution(struct import_ctx *c, yaml_node_t *v,
			    const char *p)
{
	(void)p;
	se_of(c)->resolution = v;
}

static void keep_endpoints(struct import_ctx *c, yaml_node_t *v,
			   const char *p)
{
	(void)p;
	se_of(c)->endpoints = v;
}

static void take_location(struct import_ctx *c, yaml_node_t *v,
			  const char *path)
{
	const char *s = import_text(v);

	if (s != NULL && strcmp(s, "MESH_EXTERNAL") == 0)
		import_skip(c, v, v, path, "every service of swerve is "
			    "outside a mesh", true);
	else
		import_skip(c, v, v, path, "swerve is no mesh: its "
			    "services are all MESH_EXTERNAL", false);
}

static void spec(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct import_field fields[] = {
		{ "hosts", keep_hosts, NULL, false },
		{ "ports", keep_ports, NULL, false },
		{ "resolution", keep_resolution, NULL, false },
		{ "endpoints", keep_endpoints, NULL, false },
		{ "location", take_location, NULL, false },
		{ "addresses", NULL, "swerve gives each service addresses of "
		  "its own from vip_cidr: a program that dials these is not "
		  "steered", false },
		{ "exportTo", NULL, "visibility inside a mesh: every program "
		  "on this host sees swerve's services", true },
		{ "workloadSelector", NULL, "swerve has no workloads to "
		  "select: give endpoints", false },
		{ "subjectAltNames", NULL, "mesh identities: give "
		  "subjectAltNames in the DestinationRule's tls", false },
		{ NULL, NULL, NULL, false },
	};

	import_walk(c, v, path, fields);
}

/* Lower case, without one trailing dot, as the config stores hosts. */
static void normalize(const char *in, char *out, size_t len)
{
	size_t i;

	snprintf(out, len, "%s", in);
	for (i = 0; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	if (i > 1 && out[i - 1] == '.')
		out[i - 1] = '\0';
}

bool import_se_is_host_name(const char *s)
{
	size_t n = strlen(s);

	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	return n > 0 && n < 254 && s[0] != '.' && strstr(s, "..") == NULL &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") ==
		       strlen(s);
}

/* Why host <name> cannot be served, or NULL. */
static const char *host_problem(struct se *se, const char *name)
{
	struct import_service *other;

	if (strcmp(name, "*") == 0)
		return "swerve serves the names it is given, not every name";
	if (!import_se_is_host_name(name))
		return "not a host name (letters, digits, '-', '_' and dots, "
		       "or *.SUFFIX)";
	if (import_is_ip(name))
		return "an address: swerve serves names";
	other = import_find_host(se->c.imp, name);
	if (other != NULL)
		return "served by an earlier ServiceEntry already";
	if (se->nnames == SWERVE_MAX_HOSTS)
		return "swerve serves at most 16 hosts per service";
	return NULL;
}

static void take_host(struct import_ctx *c, yaml_node_t *n, const char *path,
		      unsigned index)
{
	struct se *se = se_of(c);
	const char *why = "not a name";
	char name[256];
	unsigned k;

	(void)index;
	if (import_text(n) != NULL) {
		normalize(import_text(n), name, sizeof(name));
		why = host_problem(se, name);
	}
	for (k = 0; why == NULL && k < se->nnames; k++) {
		if (strcmp(se->names[k], name) == 0)
			why = "listed twice";
	}
	if (why != NULL)
		import_skip(c, n, n, path, why, false);
	else
		memcpy(se->names[se->nnames++], name, sizeof(name));
}

static void port_number(struct import_ctx *c, yaml_node_t *v,
			const char *path)
{
	(void)import_uint(c, v, path, 65535, &se_of(c)->cur_port->number);
}

static void port_target(struct import_ctx *c, yaml_node_t *v,
			const char *path)
{
	(void)import_uint(c, v, path, 65535, &se_of(c)->cur_port->target);
}

static void port_name(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	if (import_want(c, v, path, YAML_SCALAR_NODE))
		se_of(c)->cur_port->name = import_text(v);
}

static void port_protocol(struct import_ctx *c, yaml_node_t *v,
			  const char *path)
{
	if (import_want(c, v, path, YAML_SCALAR_NODE))
		se_of(c)->cur_port->protocol = import_text(v);
}

static void take_port(struct import_ctx *c, yaml_node_t *n, const char *path,
		      unsigned index)
{
	static const struct import_field fields[] = {
		{ "number", port_number, NULL, false },
		{ "targetPort", port_target, NULL, false },
		{ "name", port_name, NULL, false },
		{ "protocol", port_protocol, NULL, false },
		{ NULL, NULL, NULL, false },
	};
	struct se *se = se_of(c);
	struct se_port p = { .node = n };

	(void)index;
	se->cur_port = &p;
	import_walk(c, n, path, fields);
	if (!import_is_map(n))
		return;
	if (p.number == 0)
		import_skip(c, n, n, path, "a port needs a number from 1 to "
			    "65535", false);
	else if (se->nports == SWERVE_MAX_PORTS)
		import_skip(c, n, n, path, "swerve serves at most 16 ports "
			    "per service", false);
	else
		se->port[se->nports++] = p;
}

/*
 * The protocol of <p> as Istio selects it: the protocol field, else the
 * port name's prefix ("http-web" is HTTP), else TCP.
 */
static void port_protocol_of(const struct se_port *p, char *buf, size_t len)
{
	size_t i;

	if (p->protocol != NULL)
		snprintf(buf, len, "%s", p->protocol);
	else if (p->name != NULL)
		snprintf(buf, len, "%.*s", (int)strcspn(p->name, "-"),
			 p->name);
	else
		snprintf(buf, len, "TCP");
	for (i = 0; buf[i] != '\0'; i++)
		buf[i] = (char)toupper((unsigned char)buf[i]);
}

static bool is_http2(const char *proto)
{
	return strcmp(proto, "HTTP2") == 0 || strcmp(proto, "GRPC") == 0 ||
	       strcmp(proto, "GRPC-WEB") == 0;
}

/*
 * One protocol for the service: http when every port is HTTP. HTTP/2
 * ports are tcp: swerve follows HTTP/1.x only, and an http service whose
 * responses it cannot read would never end a streak of connect failures
 * (README, "Compared with Istio").
 */
static void decide_protocol(struct se *se)
{
	struct import_ctx *c = &se->c;
	unsigned i, http = 0;
	char proto[32];

	for (i = 0; i < se->nports; i++) {
		const struct se_port *p = &se->port[i];

		port_protocol_of(p, proto, sizeof(proto));
		if (strcmp(proto, "HTTP") == 0) {
			http++;
		} else if (is_http2(proto)) {
			import_comment(c, "port %llu is %s: imported as tcp, "
				       "as swerve reads HTTP/1.x only",
				       (unsigned long long)p->number, proto);
			import_warn(c, p->node, "port %llu: protocol %s is "
				    "imported as tcp: swerve observes "
				    "HTTP/1.x responses only, so only connect "
				    "outcomes count", (unsigned long long)
				    p->number, proto);
		} else if (strcmp(proto, "TCP") != 0) {
			import_comment(c, "port %llu is %s: tcp to swerve, "
				       "which counts connect outcomes",
				       (unsigned long long)p->number, proto);
		}
	}
	se->http = http > 0 && http == se->nports;
	if (http > 0 && !se->http) {
		import_comment(c, "some ports are HTTP and some are not: "
			       "swerve has one protocol per service, tcp");
		import_warn(c, se->ports, "HTTP ports with other ports: "
			    "imported as protocol tcp (one protocol per "
			    "service), so their responses are not observed");
	}
}

/* Every endpoint address of the entry is an IP literal. */
static bool all_ip(struct se *se)
{
	yaml_node_item_t *i;

	if (!import_is_seq(se->endpoints))
		return true;
	for (i = se->endpoints->data.sequence.items.start;
	     i < se->endpoints->data.sequence.items.top; i++) {
		const char *a = import_text(
			import_get(&se->c, import_node(&se->c, *i),
				   "address"));

		if (a != NULL && !import_is_ip(a))
			return false;
	}
	return true;
}

static void take_resolution(struct se *se)
{
	struct import_ctx *c = &se->c;
	const char *s = import_text(se->resolution);

	if (se->resolution == NULL) {
		se->res = se->endpoints == NULL ? RES_NONE
			  : all_ip(se)		 ? RES_STATIC
						 : RES_DNS;
		if (se->res != RES_NONE)
			import_warn(c, c->res->node, "spec.resolution is "
				    "missing: Istio's default NONE takes no "
				    "endpoints; imported as %s",
				    se->res == RES_STATIC ? "STATIC" : "DNS");
	} else if (s != NULL && strcmp(s, "STATIC") == 0) {
		se->res = RES_STATIC;
	} else if (s != NULL && strcmp(s, "DNS") == 0) {
		se->res = RES_DNS;
	} else if (s != NULL && strcmp(s, "DNS_ROUND_ROBIN") == 0) {
		se->res = RES_DNS;
		import_comment(c, "resolution DNS_ROUND_ROBIN: imported as "
			       "dns, each address an endpoint");
		import_warn(c, se->resolution, "resolution DNS_ROUND_ROBIN "
			    "(one address at a time) is imported as DNS: "
			    "swerve makes every address an endpoint");
	} else if (s != NULL && strcmp(s, "NONE") == 0) {
		se->res = RES_NONE;
	} else {
		import_skip(c, se->resolution, se->resolution,
			    "spec.resolution", "not STATIC or DNS", false);
		se->res = RES_NONE;
	}
}

/*
 * A name not yet used by a section: <base> cut to the config's 63
 * characters of A-Z a-z 0-9 _ . -, others made '-', then "-2", "-3"...
 */
static void unique_name(struct import *imp, const char *base, char *out)
{
	char name[64];
	unsigned s, n = 1;
	size_t i;

	snprintf(name, sizeof(name), "%s", base);
	for (i = 0; name[i] != '\0'; i++) {
		if (!isalnum((unsigned char)name[i]) &&
		    strchr("_.-", name[i]) == NULL)
			name[i] = '-';
	}
	snprintf(out, 64, "%s", name[0] != '\0' ? name : "service");
	for (s = 0; s < imp->nsvcs; s++) {
		if (strcmp(imp->svcs[s].name, out) != 0)
			continue;
		snprintf(out, 64, "%.56s-%u", name, ++n);
		s = (unsigned)-1;
	}
}

/* A new [service] section named after <base>, or NULL (said). */
static struct import_service *new_section(struct se *se, const char *base)
{
	struct import *imp = se->c.imp;
	struct import_service *svc;

	if (imp->nsvcs == SWERVE_MAX_SERVICES) {
		import_warn(&se->c, se->c.res->node, "not imported: swerve "
			    "takes 256 services at most");
		return NULL;
	}
	svc = &imp->svcs[imp->nsvcs];
	memset(svc, 0, sizeof(*svc));
	if (import_buf_open(&svc->lines) != 0) {
		imp->oom = true;
		return NULL;
	}
	unique_name(imp, base, svc->name);
	svc->http = se->http;
	imp->nsvcs++;
	se->c.svc = svc;
	se->c.out = svc->lines.f;
	return svc;
}

/* Moves the last section, which has no endpoint, to the tail. */
static void drop_section(struct se *se)
{
	struct import *imp = se->c.imp;
	struct import_service *svc = &imp->svcs[imp->nsvcs - 1];

	import_warn(&se->c, se->c.res->node, "not imported: no endpoint "
		    "of service %s could be (left as comments)", svc->name);
	import_comment_out(&svc->lines, imp->tail.f);
	import_buf_close(&svc->lines);
	imp->nsvcs--;
	se->c.svc = NULL;
	se->c.out = se->head.f;
}

/* hosts, ports, protocol and resolution of a section. */
static void write_common(struct se *se, struct import_service *svc,
			 const char (*names)[256], unsigned n)
{
	const char *items[SWERVE_MAX_PORTS > SWERVE_MAX_HOSTS
				  ? SWERVE_MAX_PORTS : SWERVE_MAX_HOSTS];
	char ports[SWERVE_MAX_PORTS][8];
	unsigned i;

	for (i = 0; i < n; i++) {
		memcpy(svc->hosts[svc->nhosts++], names[i], sizeof(names[i]));
		items[i] = names[i];
	}
	import_list(&se->c, "hosts", items, n);
	for (i = 0; i < se->nports; i++) {
		snprintf(ports[i], sizeof(ports[i]), "%llu",
			 (unsigned long long)se->port[i].number);
		items[i] = ports[i];
	}
	import_list(&se->c, "ports", items, se->nports);
	if (se->http)
		import_key(&se->c, "protocol", "http");
	if (se->res == RES_DNS)
		import_key(&se->c, "resolution", "dns");
}

static void copy_head(struct se *se)
{
	fflush(se->head.f);
	fwrite(se->head.text, 1, se->head.len, se->c.out);
}

/*
 * DNS without endpoints: Istio resolves each host on its own, so each
 * exact host gets a section that resolves it (a wildcard cannot be).
 */
static void one_section_per_host(struct se *se)
{
	struct se_ep ep = { .weight = 1 };
	unsigned k, exact = 0, made = 0;
	char base[600];

	for (k = 0; k < se->nnames; k++)
		exact += strncmp(se->names[k], "*.", 2) != 0;
	for (k = 0; k < se->nnames; k++) {
		if (strncmp(se->names[k], "*.", 2) == 0) {
			import_comment(&se->c, "not imported: host %s: a "
				       "wildcard cannot be resolved",
				       se->names[k]);
			import_warn(&se->c, se->hosts, "host %s is not "
				    "imported: with resolution DNS and no "
				    "endpoints a wildcard cannot be "
				    "resolved", se->names[k]);
			continue;
		}
		snprintf(base, sizeof(base), exact > 1 ? "%s.%s" : "%s",
			 se->c.res->name, se->names[k]);
		if (new_section(se, base) == NULL)
			return;
		if (made++ == 0)
			copy_head(se);
		else
			import_open(&se->c);
		import_comment(&se->c, "DNS without endpoints: %s resolves "
			       "itself, as in Istio", se->names[k]);
		write_common(se, se->c.svc, &se->names[k], 1);
		ep.address = se->names[k];
		ep.node = se->hosts;
		(void)import_se_write_endpoint(se, &ep);
	}
}

/* The entry could not make a section: its comments go to the tail. */
static void not_imported(struct se *se, const char *why)
{
	copy_head(se);
	import_comment(&se->c, "not imported: %s", why);
	import_warn(&se->c, se->c.res->node, "not imported: %s (left as "
		    "comments)", why);
}

void import_service_entry(struct import *imp, const struct import_res *r)
{
	static const struct import_field top[] = {
		IMPORT_RESOURCE_FIELDS(spec),
		{ NULL, NULL, NULL, false },
	};
	struct se *se = calloc(1, sizeof(*se));

	if (se == NULL || import_buf_open(&se->head) != 0) {
		imp->oom = true;
		free(se);
		return;
	}
	se->c.imp = imp;
	se->c.res = r;
	se->c.out = se->head.f;
	import_open(&se->c);
	import_walk(&se->c, r->node, "", top);
	if (se->hosts != NULL)
		import_items(&se->c, se->hosts, "spec.hosts", take_host);
	if (se->ports != NULL)
		import_items(&se->c, se->ports, "spec.ports", take_port);
	decide_protocol(se);
	take_resolution(se);
	if (se->nnames == 0) {
		se->c.out = imp->tail.f;
		not_imported(se, "no host that swerve can serve");
	} else if (se->res == RES_NONE) {
		se->c.out = imp->tail.f;
		not_imported(se, "resolution NONE sends each connection "
			     "where the program dialled: swerve needs "
			     "endpoints (STATIC or DNS)");
	} else if (se->res == RES_DNS && se->endpoints == NULL) {
		one_section_per_host(se);
	} else if (new_section(se, r->name) != NULL) {
		copy_head(se);
		write_common(se, se->c.svc, se->names, se->nnames);
		if (import_se_endpoints(se) == 0)
			drop_section(se);
	}
	import_buf_close(&se->head);
	free(se);
}

struct import_service *import_find_host(struct import *imp, const char *host)
{
	char name[256];
	unsigned s, h;

	normalize(host, name, sizeof(name));
	for (s = 0; s < imp->nsvcs; s++) {
		for (h = 0; h < imp->svcs[s].nhosts; h++) {
			if (strcmp(imp->svcs[s].hosts[h], name) == 0)
				return &imp->svcs[s];
		}
	}
	return NULL;
}
