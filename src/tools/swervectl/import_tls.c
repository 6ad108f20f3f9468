/*
 * import_tls.c: a DestinationRule's trafficPolicy.tls (Istio's
 * ClientTLSSettings) to the service's tls keys: mode SIMPLE and MUTUAL,
 * sni, subjectAltNames, caCertificates, clientCertificate, privateKey,
 * insecureSkipVerify. The fields are gathered first, since what each one
 * means depends on the mode. Without caCertificates the endpoints are
 * verified against the system trust store, as in Istio; nothing is
 * written for it. With IP-literal endpoints and neither sni nor
 * subjectAltNames, the service's host is the name to verify, as Istio's
 * automatic SNI takes it from the request's Host.
 *
 * Thread-safety: swervectl is single-threaded.
 */
#include <string.h>
#include <unistd.h>

#include "tools/swervectl/import_dr.h"

/* The fields kept, in the order of struct dr's tls[]. */
enum {
	TLS_MODE, TLS_SNI, TLS_SANS, TLS_CA, TLS_CERT, TLS_KEY, TLS_SKIP,
	TLS_FIELDS
};

static const char *const names[TLS_FIELDS] = {
	[TLS_MODE] = "mode", [TLS_SNI] = "sni",
	[TLS_SANS] = "subjectAltNames", [TLS_CA] = "caCertificates",
	[TLS_CERT] = "clientCertificate", [TLS_KEY] = "privateKey",
	[TLS_SKIP] = "insecureSkipVerify",
};

static struct dr *dr_of(struct import_ctx *c)
{
	return (struct dr *)c;
}

/* Keeps the value of the field that ends <path>. */
static void keep(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	const char *key = strrchr(path, '.');
	unsigned i;

	key = key != NULL ? key + 1 : path;
	for (i = 0; i < TLS_FIELDS; i++) {
		if (strcmp(names[i], key) == 0)
			dr_of(c)->tls[i] = v;
	}
}

/* A file to <key>: an absolute path, as swerve and Istio take them. */
static bool file(struct import_ctx *c, yaml_node_t *v, const char *path,
		 const char *key)
{
	const char *s = import_text(v);

	if (s == NULL || s[0] != '/' || strpbrk(s, ";#\r\n") != NULL) {
		import_skip(c, v, v, path, "swerve takes an absolute path "
			    "(without ';' or '#')", false);
		return false;
	}
	if (access(s, R_OK) != 0)
		import_warn(c, v, "%s: %s cannot be read on this host: "
			    "swervectl check will say so until it can", path,
			    s);
	import_key(c, key, "%s", s);
	return true;
}

static bool sni(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	const char *s = import_text(v);

	if (s == NULL || s[0] == '\0' || import_is_ip(s) ||
	    strpbrk(s, " \t\r\n,;#=") != NULL) {
		import_skip(c, v, v, path, "swerve sends a host name as SNI, "
			    "never an address (RFC 6066)", false);
		return false;
	}
	import_key(c, "tls_sni", "%s", s);
	return true;
}

static unsigned sans(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	const char *items[SWERVE_MAX_HOSTS];
	yaml_node_item_t *i;
	unsigned n = 0;

	if (!import_want(c, v, path, YAML_SEQUENCE_NODE))
		return 0;
	for (i = v->data.sequence.items.start; i < v->data.sequence.items.top;
	     i++) {
		yaml_node_t *item = import_node(c, *i);
		const char *s = import_text(item);

		if (s == NULL || s[0] == '\0' ||
		    strpbrk(s, " \t\r\n,;#=") != NULL)
			import_skip(c, item, item, path, "not a name or an "
				    "address", false);
		else if (n == SWERVE_MAX_HOSTS)
			import_skip(c, item, item, path, "swerve takes 16 "
				    "names at most", false);
		else
			items[n++] = s;
	}
	import_list(c, "tls_subject_alt_names", items, n);
	return n;
}

/*
 * IP-literal endpoints have no name to send or verify: the service's
 * first exact host is it, as Istio's automatic SNI sends the Host the
 * program asked for.
 */
static void name_for_ip_endpoints(struct import_ctx *c, yaml_node_t *v)
{
	unsigned h;

	for (h = 0; h < c->svc->nhosts; h++) {
		if (strncmp(c->svc->hosts[h], "*.", 2) == 0)
			continue;
		import_comment(c, "IP endpoints and no sni: the service's "
			       "host is sent and verified, as Istio's "
			       "automatic SNI sends the request's Host");
		import_key(c, "tls_sni", "%s", c->svc->hosts[h]);
		return;
	}
	import_warn(c, v, "tls: the endpoints are IP addresses and there is "
		    "no sni, subjectAltNames or host name to verify them "
		    "by: give sni");
}

/* mode SIMPLE or MUTUAL: every field. */
static void origination(struct import_ctx *c, yaml_node_t *v,
			const char *path, bool mutual)
{
	yaml_node_t **t = dr_of(c)->tls;
	bool skip = false, named = false;
	char sub[128];

	import_key(c, "tls", mutual ? "mutual" : "simple");
	if (t[TLS_SKIP] != NULL &&
	    import_bool(c, t[TLS_SKIP], import_path(sub, sizeof(sub), path,
						    names[TLS_SKIP]),
			&skip) == 0)
		import_key(c, "tls_insecure_skip_verify", "%s",
			   skip ? "true" : "false");
	if (t[TLS_SNI] != NULL)
		named = sni(c, t[TLS_SNI], import_path(sub, sizeof(sub), path,
						       names[TLS_SNI]));
	if (t[TLS_SANS] != NULL)
		named |= sans(c, t[TLS_SANS], import_path(sub, sizeof(sub),
							  path,
							  names[TLS_SANS])) >
			 0;
	if (t[TLS_CA] != NULL)
		(void)file(c, t[TLS_CA], import_path(sub, sizeof(sub), path,
						     names[TLS_CA]),
			   "tls_ca_certificates");
	else if (!skip)
		import_comment(c, "no caCertificates: the system trust store "
			       "verifies the endpoints, as in Istio");
	if (!named && !skip && c->svc->ip_endpoint)
		name_for_ip_endpoints(c, v);
	import_path(sub, sizeof(sub), path, names[TLS_CERT]);
	if (t[TLS_CERT] != NULL && !mutual)
		import_skip(c, t[TLS_CERT], t[TLS_CERT], sub, "used with mode "
			    "MUTUAL only", true);
	else if (mutual && (t[TLS_CERT] == NULL || t[TLS_KEY] == NULL))
		import_warn(c, v, "%s: mode MUTUAL needs clientCertificate and "
			    "privateKey files", path);
	if (t[TLS_CERT] != NULL && mutual)
		(void)file(c, t[TLS_CERT], sub, "tls_client_certificate");
	import_path(sub, sizeof(sub), path, names[TLS_KEY]);
	if (t[TLS_KEY] != NULL && !mutual)
		import_skip(c, t[TLS_KEY], t[TLS_KEY], sub, "used with mode "
			    "MUTUAL only", true);
	else if (t[TLS_KEY] != NULL)
		(void)file(c, t[TLS_KEY], sub, "tls_private_key");
}

void import_tls(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct import_field fields[] = {
		{ "mode", keep, NULL, false },
		{ "sni", keep, NULL, false },
		{ "subjectAltNames", keep, NULL, false },
		{ "caCertificates", keep, NULL, false },
		{ "clientCertificate", keep, NULL, false },
		{ "privateKey", keep, NULL, false },
		{ "insecureSkipVerify", keep, NULL, false },
		{ "credentialName", NULL, "swerve reads files, not Kubernetes "
		  "secrets: give clientCertificate, privateKey and "
		  "caCertificates", false },
		{ "caCrl", NULL, "swerve does not read revocation lists",
		  false },
		{ NULL, NULL, NULL, false },
	};
	yaml_node_t **t = dr_of(c)->tls;
	const char *mode;
	char sub[128];
	unsigned i;

	import_walk(c, v, path, fields);
	if (!import_is_map(v))
		return;
	mode = t[TLS_MODE] != NULL ? import_text(t[TLS_MODE]) : "DISABLE";
	if (mode != NULL && (strcmp(mode, "SIMPLE") == 0 ||
			     strcmp(mode, "MUTUAL") == 0)) {
		origination(c, v, path, strcmp(mode, "MUTUAL") == 0);
		return;
	}
	import_path(sub, sizeof(sub), path, names[TLS_MODE]);
	if (mode == NULL || strcmp(mode, "DISABLE") != 0)
		import_skip(c, t[TLS_MODE], t[TLS_MODE], sub,
			    mode != NULL && strcmp(mode, "ISTIO_MUTUAL") == 0
				    ? "a mesh's own certificates: swerve has "
				      "none, the program's bytes go as they "
				      "are"
				    : "not DISABLE, SIMPLE or MUTUAL",
			    false);
	for (i = TLS_SNI; i < TLS_FIELDS; i++) {
		if (t[i] != NULL)
			import_skip(c, t[i], t[i],
				    import_path(sub, sizeof(sub), path,
						names[i]),
				    "no effect without TLS origination", true);
	}
}
