/*
 * config_tls.c: the TLS keys (Istio's ClientTLSSettings in snake_case, per
 * service, and [swerve] tls_max_connections), each value checked on its
 * own, and then how a service's TLS keys combine with each other and with
 * its endpoints. Certificate and key files are only named here: the
 * library reads them at first use and `swervectl check` reads them ahead.
 *
 * Thread-safety: swerve_config_tls_mode_name() is a pure function; the
 * rest is used only by the thread loading a config, with all state in its
 * struct parse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "policy/config_int.h"

/* The config spelling of each mode, Istio's in lower case. */
static const char *const mode_names[] = {
	[SWERVE_TLS_DISABLE] = "disable",
	[SWERVE_TLS_SIMPLE] = "simple",
	[SWERVE_TLS_MUTUAL] = "mutual",
};

const char *swerve_config_tls_mode_name(enum swerve_tls_mode mode)
{
	if ((unsigned)mode >= SWERVE_ARRAY_LEN(mode_names))
		return "?";
	return mode_names[mode];
}

static struct swerve_tls_cfg *current_tls(struct parse *p)
{
	return &p->cfg->services[p->service].tls;
}

void config_set_tls_max_connections(struct parse *p, const char *value)
{
	uint64_t v;

	if (config_parse_key_value(p, value, &v) == 0)
		p->cfg->tls_max_connections = (uint32_t)v;
}

void config_set_tls(struct parse *p, const char *value)
{
	struct swerve_tls_cfg *tls = current_tls(p);
	size_t i;

	if (config_given_twice(p, tls->line))
		return;
	for (i = 0; i < SWERVE_ARRAY_LEN(mode_names); i++) {
		if (strcmp(mode_names[i], value) != 0)
			continue;
		tls->mode = (enum swerve_tls_mode)i;
		tls->line = p->lineno;
		return;
	}
	config_error(p, "tls must be %s, %s or %s, not '%s'", mode_names[0],
		     mode_names[1], mode_names[2], value);
}

/*
 * A certificate, key or CA file. It must be absolute: the library reads it
 * at first use, inside programs that each have a working directory of
 * their own, so a relative path would name a different file (or none) in
 * each of them. Stores it in <*path> and the line in <*line>; <key> names
 * the key in messages.
 */
static void set_file(struct parse *p, const char *key, const char *value,
		     const char **path, int *line)
{
	if (config_given_twice(p, *line))
		return;
	if (value[0] != '/') {
		config_error(p, "%s '%s' must be an absolute path: programs "
			     "read it from their own working directories",
			     key, value);
		return;
	}
	*path = config_keep_string(p, value);
	*line = p->lineno;
}

void config_set_tls_ca(struct parse *p, const char *value)
{
	struct swerve_tls_cfg *tls = current_tls(p);

	set_file(p, "tls_ca_certificates", value, &tls->ca, &tls->ca_line);
}

void config_set_tls_cert(struct parse *p, const char *value)
{
	struct swerve_tls_cfg *tls = current_tls(p);

	set_file(p, "tls_client_certificate", value, &tls->cert,
		 &tls->cert_line);
}

void config_set_tls_key(struct parse *p, const char *value)
{
	struct swerve_tls_cfg *tls = current_tls(p);

	set_file(p, "tls_private_key", value, &tls->key, &tls->key_line);
}

static bool is_ip_literal(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 ||
	       inet_pton(AF_INET6, s, &a6) == 1;
}

/*
 * Writes host name <value> as hosts stores it into <out> (256 bytes).
 * Returns 0, or -EINVAL when it is no host name.
 */
static int normalize_host(const char *value, char *out)
{
	if (swerve_config_host_normalize(value, out, 256) < 0 ||
	    !config_is_valid_host(out))
		return -EINVAL;
	return 0;
}

/* tls_sni: a host name, never an address (RFC 6066, 3: HostName). */
void config_set_tls_sni(struct parse *p, const char *value)
{
	struct swerve_tls_cfg *tls = current_tls(p);
	char name[256];

	if (config_given_twice(p, tls->sni_line))
		return;
	if (is_ip_literal(value)) {
		config_error(p, "tls_sni '%s' is an IP address, and SNI names "
			     "hosts only (RFC 6066): to accept a certificate "
			     "for this address, list it in "
			     "tls_subject_alt_names", value);
		return;
	}
	if (normalize_host(value, name) < 0) {
		config_error(p, "tls_sni '%s' is not a host name (letters, "
			     "digits, '-', '_' and dots)", value);
		return;
	}
	tls->sni = config_keep_string(p, name);
	tls->sni_line = p->lineno;
}

/* One name of tls_subject_alt_names: a DNS name or an IP address. */
static void add_san(struct parse *p, const char *item)
{
	struct swerve_tls_cfg *tls = current_tls(p);
	char name[256];
	unsigned i;

	if (*item == '\0') {
		config_error(p, "empty name in tls_subject_alt_names");
		return;
	}
	if (is_ip_literal(item))
		snprintf(name, sizeof(name), "%s", item);
	else if (normalize_host(item, name) < 0) {
		config_error(p, "tls_subject_alt_names: '%s' is not a host "
			     "name or an IP address", item);
		return;
	}
	for (i = 0; i < tls->nsan; i++) {
		if (strcmp(tls->san[i], name) == 0) {
			config_error(p, "tls_subject_alt_names lists %s twice "
				     "in %s", name, p->where);
			return;
		}
	}
	if (tls->nsan == SWERVE_MAX_SANS) {
		config_error(p, "%s has more than %d tls_subject_alt_names",
			     p->where, SWERVE_MAX_SANS);
		return;
	}
	tls->san[tls->nsan++] = config_keep_string(p, name);
}

/* Comma separated; repeated keys add up, as hosts do (lines are short). */
void config_add_tls_sans(struct parse *p, const char *value)
{
	struct swerve_tls_cfg *tls = current_tls(p);

	if (tls->san_line == 0)
		tls->san_line = p->lineno;
	config_add_list(p, value, add_san);
}

void config_set_tls_skip_verify(struct parse *p, const char *value)
{
	struct swerve_tls_cfg *tls = current_tls(p);
	uint64_t v;

	if (config_given_twice(p, tls->skip_verify_line) ||
	    config_parse_key_value(p, value, &v) < 0)
		return;
	tls->skip_verify = v != 0;
	tls->skip_verify_line = p->lineno;
}

/* Every TLS key but tls, with its line, in file order of the table. */
struct tls_key_line {
	const char *name;
	int line;
};

static unsigned tls_key_lines(const struct swerve_tls_cfg *tls,
			      struct tls_key_line *out)
{
	const struct tls_key_line all[] = {
		{ "tls_ca_certificates", tls->ca_line },
		{ "tls_sni", tls->sni_line },
		{ "tls_subject_alt_names", tls->san_line },
		{ "tls_client_certificate", tls->cert_line },
		{ "tls_private_key", tls->key_line },
		{ "tls_insecure_skip_verify", tls->skip_verify_line },
	};
	unsigned i, n = 0;

	for (i = 0; i < SWERVE_ARRAY_LEN(all); i++) {
		if (all[i].line != 0)
			out[n++] = all[i];
	}
	return n;
}

/*
 * The client certificate and its key go together, with mutual only
 * (Istio requires both for MUTUAL); for simple they would do nothing.
 */
static void check_client_certificate(struct parse *p,
				     const struct swerve_service *svc)
{
	const struct swerve_tls_cfg *tls = &svc->tls;
	bool cert = tls->cert[0] != '\0', key = tls->key[0] != '\0';

	if (tls->mode == SWERVE_TLS_MUTUAL) {
		if (!cert || !key)
			config_report_at(p, true, tls->line, "tls = mutual in "
					 "[service %s] needs %s%s%s", svc->name,
					 cert ? "" : "tls_client_certificate",
					 !cert && !key ? " and " : "",
					 key ? "" : "tls_private_key");
		return;
	}
	if (cert)
		config_report_at(p, true, tls->cert_line, "tls_client_"
				 "certificate is for tls = mutual, but "
				 "[service %s] has tls = simple", svc->name);
	if (key)
		config_report_at(p, true, tls->key_line, "tls_private_key is "
				 "for tls = mutual, but [service %s] has tls = "
				 "simple", svc->name);
}

/*
 * Without a name an IP-literal endpoint's certificate cannot be verified
 * (there is no SNI to send and no name to match): that takes tls_sni or
 * tls_subject_alt_names, or skipping verification on purpose.
 */
static void check_ip_endpoints(struct parse *p,
			       const struct swerve_service *svc)
{
	const struct swerve_tls_cfg *tls = &svc->tls;
	unsigned i;

	if (tls->skip_verify || tls->sni[0] != '\0' || tls->nsan > 0)
		return;
	for (i = 0; i < svc->nendpoints; i++) {
		const struct swerve_endpoint *ep = &svc->endpoints[i];

		if (ep->name[0] != '\0')
			continue;
		config_report_at(p, true, ep->line, "endpoint %s is an IP "
				 "address, so tls = %s in [service %s] has no "
				 "name to verify its certificate by: set "
				 "tls_sni or tls_subject_alt_names (or "
				 "tls_insecure_skip_verify = true)", ep->text,
				 swerve_config_tls_mode_name(tls->mode),
				 svc->name);
	}
}

void config_check_tls(struct parse *p, struct swerve_service *svc)
{
	struct swerve_tls_cfg *tls = &svc->tls;
	struct tls_key_line given[6];
	unsigned i, n;

	/* A loaded config has no NULL strings. */
	if (tls->ca == NULL)
		tls->ca = "";
	if (tls->sni == NULL)
		tls->sni = "";
	if (tls->cert == NULL)
		tls->cert = "";
	if (tls->key == NULL)
		tls->key = "";
	if (tls->mode == SWERVE_TLS_DISABLE) {
		/* Silently ignored settings would look like protection. */
		n = tls_key_lines(tls, given);
		for (i = 0; i < n; i++)
			config_report_at(p, true, given[i].line, "%s does "
					 "nothing in [service %s] without tls "
					 "= simple or mutual", given[i].name,
					 svc->name);
		return;
	}
	check_client_certificate(p, svc);
	check_ip_endpoints(p, svc);
}
