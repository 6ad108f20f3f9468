/*
 * import_endpoint.c: the endpoints of a ServiceEntry to endpoint lines:
 * address (an IP literal, or a host name with resolution DNS), the port
 * (the endpoint's own port of each service port's name, else the port's
 * targetPort, else its number), locality, weight, labels and network (a
 * label, as Istio reads it for failoverPriority).
 *
 * Thread-safety: swervectl is single-threaded.
 */
#include <stdlib.h>
#include <string.h>

#include "tools/swervectl/import_se.h"

static void ep_address(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	if (import_want(c, v, path, YAML_SCALAR_NODE))
		se_of(c)->cur_ep->address = import_text(v);
	else
		se_of(c)->cur_ep->bad = true;
}

/* The endpoint's own port for each of the entry's ports, by name. */
static void ep_ports(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	struct se *se = se_of(c);
	yaml_node_pair_t *p;
	char sub[128];
	unsigned k;

	if (!import_want(c, v, path, YAML_MAPPING_NODE))
		return;
	se->cur_ep->ports = v;
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = import_node(c, p->key);
		const char *name = import_text(key);
		uint64_t port;

		import_path(sub, sizeof(sub), path, name != NULL ? name : "?");
		for (k = 0; name != NULL && k < se->nports; k++) {
			if (se->port[k].name != NULL &&
			    strcmp(se->port[k].name, name) == 0)
				break;
		}
		if (name == NULL || k == se->nports)
			import_skip(c, key, import_node(c, p->value), sub,
				    "no port of the entry has this name, so "
				    "Istio ignores it too", true);
		else if (import_uint(c, import_node(c, p->value), sub, 65535,
				     &port) != 0)
			se->cur_ep->bad = true;
	}
}

static void add_label(struct import_ctx *c, yaml_node_t *at, yaml_node_t *v,
		      const char *path, const char *key)
{
	struct se_ep *ep = se_of(c)->cur_ep;
	const char *value = import_text(v);

	if (strcmp(key, SWERVE_LABEL_REGION) == 0 ||
	    strcmp(key, SWERVE_LABEL_ZONE) == 0 ||
	    strcmp(key, SWERVE_LABEL_SUBZONE) == 0)
		import_skip(c, at, v, path, "swerve takes the locality "
			    "labels from the endpoint's locality", true);
	else if (!import_is_label_key(key) || !import_is_label_value(value))
		import_skip(c, at, v, path, "swerve's labels take keys of "
			    "A-Z a-z 0-9 . _ - / and values without blanks, "
			    "'=' or ',', 63 characters at most", false);
	else if (ep->nlabels == SWERVE_MAX_LABELS)
		import_skip(c, at, v, path, "swerve takes 8 labels per "
			    "endpoint at most", false);
	else
		snprintf(ep->labels[ep->nlabels++], sizeof(ep->labels[0]),
			 " label.%s=%s", key, value);
}

static void ep_labels(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	yaml_node_pair_t *p;
	char sub[256];

	if (!import_want(c, v, path, YAML_MAPPING_NODE))
		return;
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = import_node(c, p->key);
		const char *key = import_text(k);
		const char *value = import_text(import_node(c, p->value));

		import_path(sub, sizeof(sub), path, key != NULL ? key : "?");
		if (key == NULL || value == NULL)
			import_skip(c, k, import_node(c, p->value), sub,
				    "not a label", false);
		else
			add_label(c, k, import_node(c, p->value), sub, key);
	}
}

static void ep_network(struct import_ctx *c, yaml_node_t *v,
		       const char *path)
{
	if (import_want(c, v, path, YAML_SCALAR_NODE))
		add_label(c, v, v, path, SWERVE_LABEL_NETWORK);
}

static void ep_locality(struct import_ctx *c, yaml_node_t *v,
			const char *path)
{
	struct swerve_locality loc;
	const char *s = import_text(v);

	if (s == NULL || swerve_config_parse_locality(s, &loc) != 0 ||
	    strpbrk(s, " \t\r\n=,;#") != NULL) {
		import_skip(c, v, v, path, "not REGION[/ZONE[/SUBZONE]]",
			    false);
		return;
	}
	se_of(c)->cur_ep->locality = s;
	c->imp->locality_seen = true;
}

static void ep_weight(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	struct se_ep *ep = se_of(c)->cur_ep;
	uint64_t w;

	if (import_uint(c, v, path, UINT32_MAX, &w) != 0)
		return;
	if (w == 0) {
		import_skip(c, v, v, path, "Istio takes 0 as 1, swerve's "
			    "default", true);
	} else if (w > 10000) {
		import_warn(c, v, "%s: %llu is cut to 10000, swerve's largest "
			    "weight", path, (unsigned long long)w);
		ep->weight = 10000;
	} else {
		ep->weight = w;
	}
}

/*
 * The port the endpoint is dialled on for service port <p>, as Envoy's:
 * the endpoint's own port of <p>'s name, else <p>'s targetPort, else its
 * number.
 */
static uint64_t ep_port(struct se *se, const struct se_ep *ep,
			const struct se_port *p)
{
	yaml_node_t *n = p->name != NULL
				 ? import_get(&se->c, ep->ports, p->name)
				 : NULL;
	const char *s = import_text(n);

	if (s != NULL && strspn(s, "0123456789") == strlen(s) && *s != '\0')
		return strtoull(s, NULL, 10);
	return p->target != 0 ? p->target : p->number;
}

/*
 * ":PORT" when the endpoint takes every service port on one port, else
 * "" (the port dialled) when each service port keeps its number. swerve has
 * one port per endpoint: for other mappings the port dialled is kept,
 * with a warning, as the ports whose number stays then still work.
 */
static void ep_suffix(struct se *se, const struct se_ep *ep, yaml_node_t *at,
		      char *buf, size_t len)
{
	bool same = true, identity = true;
	uint64_t first = 0, v;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < se->nports; i++) {
		v = ep_port(se, ep, &se->port[i]);
		if (i == 0)
			first = v;
		same = same && v == first;
		identity = identity && v == se->port[i].number;
	}
	if (se->nports > 0 && same) {
		snprintf(buf, len, ":%llu", (unsigned long long)first);
		return;
	}
	if (se->nports == 0 || identity)
		return;
	import_comment(&se->c, "the endpoint below takes the service's "
		       "ports on other ports, each its own: swerve has one "
		       "port per endpoint, so each port is dialled as is");
	import_warn(&se->c, at, "the endpoint takes the service's ports on "
		    "other ports, each its own (targetPort or ports): swerve "
		    "has one port per endpoint and dials each port as is");
}

/* Writes the endpoint line of <ep>; false when it cannot be one. */
bool import_se_write_endpoint(struct se *se, const struct se_ep *ep)
{
	struct import_ctx *c = &se->c;
	char line[1536], port[16];
	bool v6 = strchr(ep->address, ':') != NULL;
	size_t n;
	unsigned i;

	ep_suffix(se, ep, ep->node, port, sizeof(port));
	n = (size_t)snprintf(line, sizeof(line), "%s%s%s%s", v6 ? "[" : "",
			     ep->address, v6 ? "]" : "", port);
	if (ep->locality != NULL && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n,
				      " locality=%s", ep->locality);
	if (ep->weight > 1 && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n,
				      " weight=%llu",
				      (unsigned long long)ep->weight);
	for (i = 0; i < ep->nlabels && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s",
				      ep->labels[i]);
	if (n > 190) {
		import_skip(c, ep->node, ep->node, "spec.endpoints", "longer "
			    "than one line of swerve's config", false);
		return false;
	}
	import_key(c, "endpoint", "%s", line);
	if (v6 || import_is_ip(ep->address))
		c->svc->ip_endpoint = true;
	return true;
}

/* Why an endpoint at <address> cannot be one, or NULL. */
static const char *address_problem(const struct se *se, const char *address)
{
	if (strncmp(address, "unix://", 7) == 0)
		return "swerve routes TCP connects, not Unix sockets";
	if (import_is_ip(address))
		return NULL;
	if (!import_se_is_host_name(address) || strncmp(address, "*.", 2) == 0)
		return "not an IP address or a host name";
	if (se->res == RES_STATIC)
		return "a host name with resolution STATIC, which Istio "
		       "refuses too";
	return NULL;
}

/* One endpoint of spec.endpoints; se->made counts the lines made. */
static void take_endpoint(struct import_ctx *c, yaml_node_t *n,
			  const char *path, unsigned index)
{
	static const struct import_field fields[] = {
		{ "address", ep_address, NULL, false },
		{ "ports", ep_ports, NULL, false },
		{ "labels", ep_labels, NULL, false },
		{ "network", ep_network, NULL, false },
		{ "locality", ep_locality, NULL, false },
		{ "weight", ep_weight, NULL, false },
		{ "serviceAccount", NULL, "a mesh identity: give "
		  "subjectAltNames in the DestinationRule's tls", false },
		{ NULL, NULL, NULL, false },
	};
	struct se *se = se_of(c);
	struct se_ep ep = { .node = n, .weight = 1 };
	const char *why;

	(void)index;
	se->cur_ep = &ep;
	import_walk(c, n, path, fields);
	if (!import_is_map(n))
		return;
	why = ep.bad		     ? "its address or ports cannot be read"
	      : ep.address == NULL ? "an endpoint needs an address"
				   : address_problem(se, ep.address);
	if (why != NULL)
		import_skip(c, n, n, path, why, false);
	else if (import_se_write_endpoint(se, &ep))
		se->made++;
}

unsigned import_se_endpoints(struct se *se)
{
	se->made = 0;
	import_items(&se->c, se->endpoints, "spec.endpoints", take_endpoint);
	return se->made;
}
