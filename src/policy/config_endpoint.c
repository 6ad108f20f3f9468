/*
 * config_endpoint.c: the endpoint key: ADDRESS[:PORT] followed by options
 * (locality=, weight=, label.KEY=VALUE).
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
 * An endpoint while its line is read: the strings and labels get buffers
 * of their largest size here, and only what they hold is kept in the
 * config once the line is good (config_keep()).
 */
struct draft {
	struct swerve_endpoint ep;
	char name[256];
	char locality_text[200];
	struct swerve_label labels[SWERVE_MAX_LABELS];
};

/* Looks like "db.internal" rather than a mistyped address. */
static bool looks_like_name(const char *s)
{
	bool letter = false;

	for (; *s != '\0'; s++) {
		char c = to_lower(*s);

		if (c >= 'a' && c <= 'z')
			letter = true;
		else if (!is_digit(c) && c != '.' && c != '-' && c != '_')
			return false;
	}
	return letter;
}

/*
 * Splits ADDRESS[:PORT] into <host> (CONFIG_LINE_MAX bytes) and <*port>
 * (NULL when there is none). ADDRESS is an IPv4 literal, a host name, a
 * bracketed IPv6 literal or a bare one (then without port: it has two
 * colons or more); <*v6> tells the IPv6 forms. Returns 0 or -EINVAL after
 * reporting.
 */
static int split_address(struct parse *p, const char *tok, char *host,
			 const char **port, bool *v6)
{
	const char *colon;
	size_t n;

	*port = NULL;
	*v6 = false;
	if (tok[0] == '[') {
		const char *close = strchr(tok, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
			config_error(p, "endpoint '%s' is not [IPv6]:PORT",
				     tok);
			return -EINVAL;
		}
		n = (size_t)(close - tok - 1);
		if (close[1] == ':')
			*port = close + 2;
		tok++;
		*v6 = true;
	} else {
		colon = strchr(tok, ':');
		n = strlen(tok);
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			*v6 = true;
		} else if (colon != NULL) {
			n = (size_t)(colon - tok);
			*port = colon + 1;
		}
	}
	if (n >= CONFIG_LINE_MAX)
		n = CONFIG_LINE_MAX - 1;
	memcpy(host, tok, n);
	host[n] = '\0';
	return 0;
}

/* connect(2) to 0.0.0.0 or :: reaches this host: surely a typo. */
static int refuse_unspecified(struct parse *p, const char *host)
{
	config_error(p, "endpoint '%s' is the unspecified address", host);
	return -EINVAL;
}

/* ep->text: the address as inet_ntop() writes it, then ":PORT" if any. */
static void format_text(struct swerve_endpoint *ep, const char *ntop,
			bool v6)
{
	char port[8] = "";

	if (ep->port != 0)
		snprintf(port, sizeof(port), ":%u", (unsigned)ep->port);
	snprintf(ep->text, sizeof(ep->text), v6 ? "[%s]%s" : "%s%s", ntop,
		 port);
}

static int set_ipv6(struct parse *p, const char *host,
		    struct swerve_endpoint *ep)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ep->addr;
	char ntop[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
		config_error(p, "endpoint '%s' is not an IPv6 address", host);
		return -EINVAL;
	}
	if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
		return refuse_unspecified(p, host);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(ep->port);
	ep->addrlen = sizeof(*sin6);
	inet_ntop(AF_INET6, &sin6->sin6_addr, ntop, sizeof(ntop));
	format_text(ep, ntop, true);
	return 0;
}

/* <ep>'s address is the IPv4 literal <host>, already in ep->addr. */
static int set_ipv4(struct parse *p, const char *host,
		    struct swerve_endpoint *ep)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&ep->addr;
	char ntop[INET_ADDRSTRLEN];

	if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
		return refuse_unspecified(p, host);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(ep->port);
	ep->addrlen = sizeof(*sin);
	inet_ntop(AF_INET, &sin->sin_addr, ntop, sizeof(ntop));
	format_text(ep, ntop, false);
	return 0;
}

/*
 * A host name, resolved later with c-ares; whether the service allows
 * names is checked once its resolution is known (config_check_endpoints).
 */
static void set_name(struct draft *d)
{
	struct swerve_endpoint *ep = &d->ep;

	ep->addr.ss_family = AF_UNSPEC;
	ep->addrlen = 0;
	if (ep->port != 0)
		snprintf(ep->text, sizeof(ep->text), "%.60s:%u", d->name,
			 (unsigned)ep->port);
	else
		snprintf(ep->text, sizeof(ep->text), "%.70s", d->name);
}

/* ADDRESS[:PORT] (split_address): fills addr, addrlen, port, text, name. */
static int parse_endpoint_address(struct parse *p, const char *tok,
				  struct draft *d)
{
	struct swerve_endpoint *ep = &d->ep;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ep->addr;
	char host[CONFIG_LINE_MAX];
	const char *port;
	uint64_t portnum = 0;
	bool v6;

	if (split_address(p, tok, host, &port, &v6) < 0)
		return -EINVAL;
	if (port != NULL && config_parse_uint(port, 65535, &portnum) < 0) {
		config_error(p, "endpoint port must be 0 to 65535, not '%s'",
			     port);
		return -EINVAL;
	}
	ep->port = (uint16_t)portnum;
	if (v6)
		return set_ipv6(p, host, ep);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1)
		return set_ipv4(p, host, ep);
	if (looks_like_name(host) &&
	    swerve_config_host_normalize(host, d->name,
					 sizeof(d->name)) > 0) {
		set_name(d);
		return 0;
	}
	config_error(p, "endpoint '%s' is not an IPv4 or IPv6 address", host);
	return -EINVAL;
}

/* "label.KEY=VALUE" as one endpoint option. */
static int add_endpoint_label(struct parse *p, const char *tok,
			      struct draft *d)
{
	char key[CONFIG_LINE_MAX];
	const char *eq = strchr(tok, '=');
	size_t n = (size_t)(eq - tok) - 6;

	if (n >= sizeof(key))
		n = sizeof(key) - 1;
	memcpy(key, tok + 6, n);
	key[n] = '\0';
	return config_add_label(p, d->labels, &d->ep.nlabels, key, eq + 1);
}

static int parse_endpoint_options(struct parse *p, const char *s,
				  struct draft *d)
{
	struct swerve_endpoint *ep = &d->ep;
	char tok[CONFIG_LINE_MAX];
	bool have_locality = false;
	bool have_weight = false;
	uint64_t v;

	while ((s = config_read_token(s, tok, sizeof(tok))) != NULL) {
		if (strncmp(tok, "locality=", 9) == 0 && !have_locality) {
			have_locality = true;
			if (swerve_config_parse_locality(tok + 9,
							 &ep->locality) < 0) {
				config_error(p, "endpoint locality '%s' is not "
					     "region[/zone[/subzone]] (parts "
					     "of 1 to 63 characters)", tok + 9);
				return -EINVAL;
			}
			snprintf(d->locality_text, sizeof(d->locality_text),
				 "%s", tok + 9);
		} else if (strncmp(tok, "weight=", 7) == 0 && !have_weight) {
			have_weight = true;
			if (config_parse_uint(tok + 7, WEIGHT_MAX, &v) < 0 ||
			    v == 0) {
				config_error(p, "endpoint weight must be a "
					     "whole number from 1 to %d, not "
					     "'%s'", WEIGHT_MAX, tok + 7);
				return -EINVAL;
			}
			ep->weight = (uint32_t)v;
		} else if (strncmp(tok, "label.", 6) == 0 &&
			   strchr(tok, '=') != NULL) {
			if (add_endpoint_label(p, tok, d) < 0)
				return -EINVAL;
		} else if (strncmp(tok, "locality=", 9) == 0 ||
			   strncmp(tok, "weight=", 7) == 0) {
			config_error(p, "endpoint option '%.*s' is given twice",
				     (int)(strchr(tok, '=') - tok), tok);
			return -EINVAL;
		} else {
			config_error(p, "unknown endpoint option '%s': use "
				     "locality=REGION[/ZONE[/SUBZONE]], "
				     "weight=N or label.KEY=VALUE", tok);
			return -EINVAL;
		}
	}
	return 0;
}

void config_add_endpoint(struct parse *p, const char *value)
{
	struct swerve_service *svc = &p->cfg->services[p->service];
	struct service_state *st = &p->states[p->service];
	struct swerve_endpoint ep;
	struct draft d;
	char tok[CONFIG_LINE_MAX];
	const char *rest;
	unsigned i;

	memset(&d, 0, sizeof(d));
	d.ep.weight = 1;
	d.ep.line = p->lineno;
	rest = config_read_token(value, tok, sizeof(tok));
	if (rest == NULL || parse_endpoint_address(p, tok, &d) < 0 ||
	    parse_endpoint_options(p, rest, &d) < 0)
		return;
	ep = d.ep;
	for (i = 0; i < svc->nendpoints; i++) {
		if (strcmp(svc->endpoints[i].text, ep.text) == 0) {
			config_error(p, "endpoint %s is listed twice in %s "
				     "(first at line %d)", ep.text, p->where,
				     svc->endpoints[i].line);
			return;
		}
	}
	if (svc->nendpoints == SWERVE_MAX_ENDPOINTS) {
		config_error(p, "%s has more than %d endpoints",
			     p->where, SWERVE_MAX_ENDPOINTS);
		return;
	}
	if (svc->nendpoints == st->cap_endpoints) {
		unsigned cap = st->cap_endpoints != 0 ? st->cap_endpoints * 2
						      : 4;
		struct swerve_endpoint *grown;

		grown = realloc(svc->endpoints, cap * sizeof(*grown));
		if (grown == NULL) {
			p->oom = true;
			return;
		}
		svc->endpoints = grown;
		st->cap_endpoints = cap;
	}
	ep.name = config_keep_string(p, d.name);
	ep.locality_text = config_keep_string(p, d.locality_text);
	ep.labels = ep.nlabels == 0 ? NULL :
		config_keep(p, d.labels, ep.nlabels * sizeof(d.labels[0]));
	if (p->oom)
		return;
	svc->endpoints[svc->nendpoints++] = ep;
}
