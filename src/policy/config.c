/*
 * config.c: loads a config file into an immutable struct swerve_config,
 * frees it, reports problems, and answers the lookups the hooks make on a
 * loaded config (names, service addresses, ports, labels, locality
 * patterns).
 *
 * Loading works in three steps:
 *   1. inih reads the file through config_read.c, which hands every key to
 *      its handler (config_handle_key(), config_keys.c); the handler stores
 *      it as written (tuning keys as numbers, with the line they came from)
 *      and reports what is wrong with a value on its own;
 *   2. finish() gives the environment overrides to the same handlers, then
 *      resolves each tuning key of each service: its own value, else
 *      [defaults], else the built-in default, so [defaults] may appear
 *      anywhere in the file; then it runs the checks that involve several
 *      keys or the whole file (config_check.c, config_tls.c);
 *   3. config_assign_vips() derives the service addresses.
 * Every problem is reported, as a struct swerve_config_problem, and parsing
 * goes on, so `swervectl check` lists them all at once; any error makes the
 * load fail.
 *
 * This is the only file that includes ini.h: the other config files see
 * inih only through config_read_line() and config_handle_pair(), whose
 * signatures are plain C.
 *
 * Thread-safety: loading and freeing are plain single-threaded calls; the
 * lookups only read a loaded config, so any number of threads (and signal
 * handlers) call them without locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "base/libc.h"
#include "policy/config_int.h"

_Static_assert(INI_MAX_LINE == CONFIG_LINE_MAX,
	       "CONFIG_LINE_MAX must be inih's line buffer");

/* <env> (a variable's name) or else <line> (0: none) locates the problem. */
static void report_v(struct parse *p, bool is_error, int line,
		     const char *env, const char *fmt, va_list ap)
{
	struct swerve_config_problem problem;
	char msg[512];
	char text[PATH_MAX + 600];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (env != NULL)
		snprintf(text, sizeof(text), "%s: %s", env, msg);
	else if (line > 0)
		snprintf(text, sizeof(text), "%s:%d: %s", p->path, line, msg);
	else
		snprintf(text, sizeof(text), "%s: %s", p->path, msg);
	if (is_error) {
		if (p->nerrors == 0 && p->err != NULL && p->errlen > 0)
			snprintf(p->err, p->errlen, "%s", text);
		p->nerrors++;
	}
	if (p->report == NULL)
		return;
	problem.is_error = is_error;
	problem.file = p->path;
	problem.line = env == NULL && line > 0 ? line : 0;
	problem.env = env;
	problem.msg = msg;
	problem.text = text;
	p->report(p->ctx, &problem);
}

void config_report_at(struct parse *p, bool is_error, int line,
		      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(p, is_error, line, NULL, fmt, ap);
	va_end(ap);
}

void config_error(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(p, true, p->lineno, p->env, fmt, ap);
	va_end(ap);
}

/*
 * The config's storage for what its endpoints wrote (names, locality
 * texts, labels): chunks filled one after the other and freed together, so
 * that each endpoint costs what its strings take, not the largest string
 * any endpoint could have.
 */
struct swerve_config_pool {
	struct swerve_config_pool *next;
	size_t used;
	size_t cap;
	_Alignas(max_align_t) unsigned char data[];
};

#define POOL_CHUNK ((size_t)64 << 10)

void *config_keep(struct parse *p, const void *data, size_t size)
{
	struct swerve_config_pool *c = p->cfg->pool;
	size_t need = (size + _Alignof(max_align_t) - 1) &
		      ~(_Alignof(max_align_t) - 1);
	void *dst;

	if (c == NULL || c->cap - c->used < need) {
		size_t cap = need > POOL_CHUNK ? need : POOL_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL) {
			p->oom = true;
			return NULL;
		}
		c->next = p->cfg->pool;
		c->used = 0;
		c->cap = cap;
		p->cfg->pool = c;
	}
	dst = c->data + c->used;
	c->used += need;
	memcpy(dst, data, size);
	return dst;
}

const char *config_keep_string(struct parse *p, const char *s)
{
	const char *kept;

	if (*s == '\0')
		return "";
	kept = config_keep(p, s, strlen(s) + 1);
	return kept != NULL ? kept : "";
}

bool swerve_config_locality_match(const struct swerve_locality *loc,
				  const struct swerve_locality *pattern)
{
	bool region = strcmp(pattern->region, "*") == 0 ||
		      strcmp(pattern->region, loc->region) == 0;
	bool zone = pattern->zone[0] == '\0' ||
		    strcmp(pattern->zone, "*") == 0 ||
		    strcmp(pattern->zone, loc->zone) == 0;
	bool subzone = pattern->subzone[0] == '\0' ||
		       strcmp(pattern->subzone, "*") == 0 ||
		       strcmp(pattern->subzone, loc->subzone) == 0;

	return region && zone && subzone;
}

const char *swerve_config_label(const struct swerve_label *labels,
				unsigned n, const struct swerve_locality *loc,
				const char *key)
{
	unsigned i;

	if (strcmp(key, SWERVE_LABEL_REGION) == 0)
		return loc->region;
	if (strcmp(key, SWERVE_LABEL_ZONE) == 0)
		return loc->zone;
	if (strcmp(key, SWERVE_LABEL_SUBZONE) == 0)
		return loc->subzone;
	for (i = 0; i < n && i < SWERVE_MAX_LABELS; i++) {
		if (strcmp(labels[i].key, key) == 0)
			return labels[i].value;
	}
	return "";
}

static void finish(struct parse *p, bool use_env)
{
	struct swerve_config *cfg = p->cfg;
	struct tuning empty, t;
	char where[SERVICE_NAME_MAX + 16];
	unsigned i;

	if (use_env)
		config_apply_env(p);
	memset(&empty, 0, sizeof(empty));
	config_resolve_tuning(&p->defaults, &empty, &t);
	config_check_tuning(p, &t, &p->defaults, "[defaults]");
	config_check_retry(p, &t, &p->defaults, "[defaults]");
	for (i = 0; i < cfg->nservices; i++) {
		struct swerve_service *svc = &cfg->services[i];
		const struct tuning *own = &p->states[i].tuning;

		snprintf(where, sizeof(where), "[service %s]", svc->name);
		if (svc->nhosts == 0)
			config_report_at(p, true, svc->line, "%s has no hosts: "
					 "add hosts = NAME[, ...]", where);
		if (svc->nendpoints == 0)
			config_report_at(p, true, svc->line,
					 "%s has no endpoint: add endpoint = "
					 "ADDRESS[:PORT]", where);
		/* Grown by doubling while reading: give back the rest. */
		if (svc->nendpoints > 0 &&
		    svc->nendpoints < p->states[i].cap_endpoints) {
			struct swerve_endpoint *fit = realloc(
				svc->endpoints,
				svc->nendpoints * sizeof(*fit));

			if (fit != NULL)
				svc->endpoints = fit;
		}
		config_resolve_tuning(own, &p->defaults, &t);
		config_check_tuning(p, &t, own, where);
		config_apply_tuning(svc, &t);
		config_check_endpoints(p, svc);
		config_check_tls(p, svc);
		config_apply_retry(p, svc, &t, own);
		if (config_build_localities(p, svc) == 0)
			config_check_locality_rules(p, svc);
	}
	config_assign_vips(p);
}

static void init_config(struct swerve_config *cfg, const char *path)
{
	const char *why;

	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	/* Per user: a table belongs to the user that made it (mode 0600),
	 * so one shared name would leave every other user on its own. */
	snprintf(cfg->shm_name, sizeof(cfg->shm_name), "%s.%u",
		 SWERVE_DEFAULT_SHM, (unsigned)geteuid());
	cfg->log_level = SWERVE_LOG_WARN;
	cfg->tls_max_connections = TLS_MAX_CONNECTIONS_DEFAULT;
	cfg->reload = true;
	(void)config_parse_cidr(SWERVE_DEFAULT_VIP_CIDR, &cfg->vip_net,
				&cfg->vip_mask, &cfg->vip_prefix, &why);
}

/*
 * Opens the file for reading, refusing anything but a regular file: a FIFO
 * would block every thread that waits for init (open itself blocks on a
 * FIFO without a writer, hence O_NONBLOCK), and a device like /dev/zero
 * never ends. Returns the stream, or NULL with -errno in *<rc>, reported.
 */
static FILE *open_config(struct parse *p, int *rc)
{
	struct stat st;
	FILE *f;
	int fd;

	fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		*rc = -errno;
		config_report_at(p, true, 0, "%s", strerror(-*rc));
		return NULL;
	}
	if (fstat(fd, &st) == -1)
		*rc = -errno;
	else if (!S_ISREG(st.st_mode))
		*rc = -EINVAL;
	else if ((unsigned long long)st.st_size > SWERVE_MAX_CONFIG_BYTES)
		*rc = -EFBIG;
	else
		*rc = 0;
	if (*rc != 0) {
		if (*rc == -EINVAL)
			config_report_at(p, true, 0, "not a regular file");
		else if (*rc == -EFBIG)
			config_report_at(p, true, 0, "larger than %llu MiB",
					 SWERVE_MAX_CONFIG_BYTES >> 20);
		else
			config_report_at(p, true, 0, "%s", strerror(-*rc));
		swerve_libc_close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		*rc = -errno;
		config_report_at(p, true, 0, "%s", strerror(-*rc));
		swerve_libc_close(fd);
	}
	return f;
}

int swerve_config_load(const char *path, bool use_env,
		       struct swerve_config **out,
		       swerve_config_report_fn report, void *ctx, char *err,
		       size_t errlen)
{
	struct parse p;
	int rc;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.report = report;
	p.ctx = ctx;
	p.err = err;
	p.errlen = errlen;
	if (strlen(path) >= sizeof(p.cfg->path)) {
		config_report_at(&p, true, 0, "%s", strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	p.cfg = calloc(1, sizeof(*p.cfg));
	if (p.cfg == NULL) {
		config_report_at(&p, true, 0, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	init_config(p.cfg, path);

	p.file = open_config(&p, &rc);
	if (p.file == NULL)
		goto fail;
	rc = ini_parse_stream(config_read_line, &p, config_handle_pair, &p);
	fclose(p.file);
	swerve_config_free(p.scratch);
	p.scratch = NULL;
	if (p.too_big) {
		rc = -EFBIG;
		config_report_at(&p, true, 0, "larger than %llu MiB",
				 SWERVE_MAX_CONFIG_BYTES >> 20);
		goto fail;
	}
	if (p.oom || rc == -2) {
		rc = -ENOMEM;
		config_report_at(&p, true, 0, "%s", strerror(ENOMEM));
		goto fail;
	}
	if (p.read_errno != 0) {
		rc = -p.read_errno;
		config_report_at(&p, true, 0, "%s", strerror(-rc));
		goto fail;
	}
	/* config_read_line() reports syntax errors; this is a backstop. */
	if (rc > 0 && rc != p.first_syntax_line)
		config_report_at(&p, true, rc, "syntax error");
	finish(&p, use_env);
	if (p.nerrors > 0) {
		rc = -EINVAL;
		goto fail;
	}
	free(p.states);
	*out = p.cfg;
	return 0;

fail:
	free(p.states);
	swerve_config_free(p.cfg);
	return rc;
}

void swerve_config_free(struct swerve_config *cfg)
{
	struct swerve_config_pool *c, *next;
	unsigned i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nservices; i++) {
		free(cfg->services[i].endpoints);
		free(cfg->services[i].localities);
		free(cfg->services[i].distribute);
	}
	free(cfg->services);
	for (c = cfg->pool; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(cfg);
}

const struct swerve_service *swerve_config_match_name(
	const struct swerve_config *cfg, const char *name)
{
	const struct swerve_service *best = NULL;
	size_t best_len = 0;
	char buf[256];
	size_t n, len;
	unsigned s, h;
	int rc;

	if (cfg == NULL)
		return NULL;
	rc = swerve_config_host_normalize(name, buf, sizeof(buf));
	if (rc < 0)
		return NULL;
	n = (size_t)rc;
	for (s = 0; s < cfg->nservices; s++) {
		const struct swerve_service *svc = &cfg->services[s];

		for (h = 0; h < svc->nhosts; h++) {
			const char *host = svc->hosts[h];

			if (host[0] != '*') {
				if (strcmp(host, buf) == 0)
					return svc;
				continue;
			}
			/* "*.mydb.com": the suffix keeps its dot, and at
			 * least one character must come before it. */
			len = strlen(host + 1);
			if (n > len && len > best_len &&
			    memcmp(buf + n - len, host + 1, len) == 0) {
				best = svc;
				best_len = len;
			}
		}
	}
	return best;
}

const struct swerve_service *swerve_config_match_vip(
	const struct swerve_config *cfg, uint32_t addr, unsigned *vip_index)
{
	unsigned s, v;

	if (cfg == NULL || (addr & cfg->vip_mask) != cfg->vip_net)
		return NULL;
	for (s = 0; s < cfg->nservices; s++) {
		for (v = 0; v < SWERVE_VIPS_PER_SERVICE; v++) {
			if (cfg->services[s].vips[v] != addr)
				continue;
			if (vip_index != NULL)
				*vip_index = v;
			return &cfg->services[s];
		}
	}
	return NULL;
}

bool swerve_config_serves_port(const struct swerve_service *svc,
			       uint16_t port)
{
	unsigned i;

	if (svc->nports == 0)
		return true;
	for (i = 0; i < svc->nports; i++) {
		if (svc->ports[i] == port)
			return true;
	}
	return false;
}
