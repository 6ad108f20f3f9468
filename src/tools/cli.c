/*
 * swervectl: the operator's window onto swerve on this host. It reads the
 * same config the library loads and the same shared health table the
 * preloaded programs update, and shows what they see: every endpoint with
 * its priority tier, ejection and counters (like `istioctl proxy-config
 * endpoints`), why a name would be routed where it would (tiers, locality
 * rules and weights, panic), the recent ejections and panics from the
 * table's event ring, and whether a config file is valid. It can also
 * eject, un-eject and reset endpoints by hand, which is how an operator
 * drains a host or undoes a false ejection.
 *
 * It is an ordinary program linked with the core objects, never with the
 * hooks: nothing here runs inside someone else's process, so it may print,
 * allocate and exit freely.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/balancer.h"
#include "policy/config.h"
#include "names/dnscache.h"
#include "base/log.h"
#include "policy/outlier.h"
#include "table/shm.h"
#include "base/swerve.h"

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,   /* bad config, unknown name, shm error */
	CLI_EXIT_USAGE = 2,
};

/* What the command line said, before any command looks at it. */
struct cli_args {
	const char *config;   /* -c, or NULL */
	bool json;            /* --json */
	const char *for_arg;  /* --for DURATION, or NULL */
	bool help;
	const char *cmd;
	const char *pos[4];   /* positional arguments after the command */
	int npos;
};

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

#define CELL_MAX 256
#define NCOLS 12

static const char *const table_head[NCOLS] = {
	"SERVICE", "ENDPOINT", "LOCALITY", "PRIORITY", "STATUS",
	"OUTLIER CHECK", "EJECTED FOR", "FAILURES", "EJECTIONS",
	"CONNECTS OK", "CONNECTS FAILED", "DNS",
};

/* Counts what `check` reported, so it can tell errors from notes. */
struct check_ctx {
	unsigned errors;
	unsigned notes;
};

static void print_usage(FILE *f)
{
	fputs("usage: swervectl [-c CONFIG] COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  endpoints [--json]       every endpoint with its priority, "
	      "ejection and\n"
	      "                           counters, as the preloaded programs "
	      "see them\n"
	      "  check [CONFIG]           validate a config file; prints "
	      "file:line: problems\n"
	      "  explain NAME             how a connection to host NAME would "
	      "be routed\n"
	      "  events [--json]          recent ejections, un-ejections, "
	      "overflows and\n"
	      "                           panics, oldest first\n"
	      "  eject SERVICE ENDPOINT [--for DURATION]\n"
	      "                           eject an endpoint by hand (default: "
	      "the service's\n"
	      "                           base_ejection_time)\n"
	      "  uneject SERVICE ENDPOINT return an ejected endpoint to "
	      "service\n"
	      "  reset [SERVICE [ENDPOINT]]\n"
	      "                           forget streaks, ejections and "
	      "counters; with no\n"
	      "                           argument remove the whole shared "
	      "table\n"
	      "  help                     this text\n"
	      "\n"
	      "options:\n"
	      "  -c, --config CONFIG      config file (default: "
	      "$SWERVE_CONFIG, else\n"
	      "                           " SWERVE_DEFAULT_CONFIG ")\n"
	      "  -h, --help               this text\n"
	      "\n"
	      "ENDPOINT is written as in the endpoints listing, e.g. "
	      "127.0.0.2:18080.\n"
	      "DURATION is like 250ms, 15s, 1m, 2h. SWERVE_SHM, "
	      "SWERVE_LOCALITY and\n"
	      "SWERVE_LOG override the config as they do for the library.\n"
	      "exit status: 0 ok, 1 operational error, 2 usage error.\n", f);
}

static void vprint_error(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));

static void vprint_error(const char *fmt, va_list ap)
{
	fputs("swervectl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void print_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void print_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint_error(fmt, ap);
	va_end(ap);
}

/* Prints the error and the usage on stderr; returns the usage exit code. */
static int fail_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int fail_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint_error(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_usage(stderr);
	return CLI_EXIT_USAGE;
}

/*
 * Options may come before or after the command (`swervectl endpoints -c x`
 * is as natural as `swervectl -c x endpoints`); each command later refuses
 * the ones that mean nothing to it. "--" ends the options.
 */
static int parse_args(int argc, char **argv, struct cli_args *a)
{
	bool opts = true;
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (opts && strcmp(s, "--") == 0) {
			opts = false;
		} else if (opts && (strcmp(s, "-h") == 0 ||
				    strcmp(s, "--help") == 0)) {
			a->help = true;
		} else if (opts && strcmp(s, "--json") == 0) {
			a->json = true;
		} else if (opts && (strcmp(s, "-c") == 0 ||
				    strcmp(s, "--config") == 0 ||
				    strcmp(s, "--for") == 0)) {
			if (i + 1 >= argc)
				return fail_usage("%s needs a value", s);
			if (strcmp(s, "--for") == 0)
				a->for_arg = argv[++i];
			else
				a->config = argv[++i];
		} else if (opts && strncmp(s, "--config=", 9) == 0) {
			a->config = s + 9;
		} else if (opts && strncmp(s, "--for=", 6) == 0) {
			a->for_arg = s + 6;
		} else if (opts && strncmp(s, "-c", 2) == 0 && s[2] != '\0') {
			a->config = s + 2;
		} else if (opts && s[0] == '-' && s[1] != '\0') {
			return fail_usage("unknown option %s", s);
		} else if (a->cmd == NULL) {
			a->cmd = s;
		} else if (a->npos < (int)SWERVE_ARRAY_LEN(a->pos)) {
			a->pos[a->npos++] = s;
		} else {
			return fail_usage("too many arguments");
		}
	}
	if (a->config != NULL && a->config[0] == '\0')
		return fail_usage("empty config path");
	return CLI_EXIT_OK;
}

static const char *resolve_config_path(const struct cli_args *a)
{
	const char *env;

	if (a->config != NULL)
		return a->config;
	/* secure_getenv: the same rule the library follows in setuid hosts. */
	env = secure_getenv("SWERVE_CONFIG");
	if (env != NULL && env[0] != '\0')
		return env;
	return SWERVE_DEFAULT_CONFIG;
}

/* Loads the config as the library would (environment overrides apply). */
static int load_config(const char *path, struct swerve_config **out)
{
	char err[512] = "";
	int rc;

	rc = swerve_config_load(path, true, out, NULL, NULL, err, sizeof(err));
	if (rc != 0) {
		if (err[0] != '\0')
			print_error("%s", err);
		else
			print_error("%s: %s", path, strerror(-rc));
		return -1;
	}
	swerve_log_set_level((*out)->log_level);
	return 0;
}

/*
 * Attaches the shared table. A read-only command (create false) treats a
 * missing table as "nothing happened yet" and sets <*present> false; any
 * other failure is an error, reported with the attach's own reason.
 */
static int attach_table(const struct swerve_config *cfg, bool create,
			struct swerve_shm *tab, bool *present)
{
	char err[256] = "";
	int rc;

	memset(tab, 0, sizeof(*tab));
	*present = false;
	rc = swerve_shm_attach(cfg->shm_name, create, tab, err, sizeof(err));
	if (rc == 0) {
		*present = true;
		return 0;
	}
	if (rc == -ENOENT && !create) {
		fprintf(stderr, "swervectl: shared table %s does not exist yet "
			"(no program has run with swerve since boot or the "
			"last reset); every endpoint is shown healthy\n",
			cfg->shm_name);
		return 0;
	}
	if (err[0] != '\0')
		print_error("shared table %s: %s", cfg->shm_name, err);
	else
		print_error("shared table %s: %s", cfg->shm_name,
			    strerror(-rc));
	return -1;
}

static const struct swerve_service *find_service(
	const struct swerve_config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->nservices; i++)
		if (strcmp(cfg->services[i].name, name) == 0)
			return &cfg->services[i];
	return NULL;
}

static const struct swerve_endpoint *find_endpoint(
	const struct swerve_service *svc, const char *text)
{
	unsigned i;

	for (i = 0; i < svc->nendpoints; i++)
		if (strcmp(svc->endpoints[i].text, text) == 0)
			return &svc->endpoints[i];
	return NULL;
}

/* Finds SERVICE and ENDPOINT, naming the alternatives when one is wrong. */
static void format_address(const struct sockaddr_storage *addr, char *buf,
			   size_t len);

/*
 * An address behind one of <svc>'s names, written as swervectl endpoints
 * shows it ("127.0.0.2:18080"): the names are looked up now, as the library
 * would, and the match comes back as an endpoint whose key is that
 * address's row. NULL when no name resolves to it.
 */
static const struct swerve_endpoint *find_address(
	const struct swerve_config *cfg, const struct swerve_service *svc,
	const char *etext)
{
	static struct swerve_endpoint found;
	struct swerve_dnscache *dc = NULL;
	struct swerve_shm priv;
	const struct swerve_service *rs;
	unsigned s = (unsigned)(svc - cfg->services), i;
	const struct swerve_endpoint *ret = NULL;
	char text[96];

	memset(&priv, 0, sizeof(priv));
	if (swerve_shm_private(&priv) != 0)
		return NULL;
	if (swerve_dnscache_new(cfg, &priv, NULL, &dc, NULL, 0) != 0 ||
	    !swerve_dnscache_has_names(dc, s))
		goto out;
	swerve_dnscache_refresh(dc, s, swerve_now_ms());
	rs = swerve_dnscache_service(dc, s);
	for (i = 0; i < rs->nendpoints && ret == NULL; i++) {
		struct sockaddr_storage addr;

		if (rs->endpoints[i].name[0] == '\0' ||
		    !swerve_dnscache_address(dc, s, i, &addr, NULL))
			continue;
		format_address(&addr, text, sizeof(text));
		if (strcmp(text, etext) != 0)
			continue;
		found = rs->endpoints[i];
		/* The row key wants the address without the port. */
		if (addr.ss_family == AF_INET)
			((struct sockaddr_in *)&addr)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&addr)->sin6_port = 0;
		found.key = swerve_dnscache_key(svc, &rs->endpoints[i], &addr);
		snprintf(found.text, sizeof(found.text), "%s", etext);
		ret = &found;
	}
out:
	swerve_dnscache_free(dc);
	swerve_shm_detach(&priv);
	return ret;
}

static int lookup_target(const struct swerve_config *cfg, const char *sname,
			 const char *etext,
			 const struct swerve_service **svc_out,
			 const struct swerve_endpoint **ep_out)
{
	const struct swerve_service *svc;
	unsigned i;

	svc = find_service(cfg, sname);
	if (svc == NULL) {
		print_error("no service named '%s' in %s", sname, cfg->path);
		if (cfg->nservices > 0) {
			fputs("swervectl: services:", stderr);
			for (i = 0; i < cfg->nservices; i++)
				fprintf(stderr, " %s", cfg->services[i].name);
			fputc('\n', stderr);
		}
		return -1;
	}
	*svc_out = svc;
	if (etext == NULL)
		return 0;
	*ep_out = find_endpoint(svc, etext);
	if (*ep_out == NULL)
		*ep_out = find_address(cfg, svc, etext);
	if (*ep_out == NULL) {
		print_error("service '%s' has no endpoint '%s'", sname, etext);
		if (svc->nendpoints > 0) {
			fputs("swervectl: endpoints:", stderr);
			for (i = 0; i < svc->nendpoints; i++)
				fprintf(stderr, " %s",
					svc->endpoints[i].text);
			fputc('\n', stderr);
		}
		return -1;
	}
	return 0;
}

/*
 * "850ms", "58s", "1m12s", "2h0m5s". Seconds round up so that an ejection
 * that has just started for 1m reads "1m0s", not "59s".
 */
static void format_duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t s, h, m;

	if (ms < 1000) {
		snprintf(buf, len, "%" PRIu64 "ms", ms);
		return;
	}
	s = (ms + 999) / 1000;
	h = s / 3600;
	m = s / 60 % 60;
	s %= 60;
	if (h > 0)
		snprintf(buf, len, "%" PRIu64 "h%" PRIu64 "m%" PRIu64 "s",
			 h, m, s);
	else if (m > 0)
		snprintf(buf, len, "%" PRIu64 "m%" PRIu64 "s", m, s);
	else
		snprintf(buf, len, "%" PRIu64 "s", s);
}

static const char *lb_name(enum swerve_lb lb)
{
	switch (lb) {
	case SWERVE_LB_ROUND_ROBIN:
		return "round_robin";
	case SWERVE_LB_LEAST_REQUEST:
		return "least_request";
	case SWERVE_LB_RANDOM:
		return "random";
	}
	return "?";
}

static void format_vip(uint32_t vip, char *buf, size_t len)
{
	struct in_addr in = { .s_addr = htonl(vip) };

	if (inet_ntop(AF_INET, &in, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

/*
 * Fills <v> for endpoint <ep> of <svc> from <tab> (NULL when the table does
 * not exist: a fresh, healthy row). The snapshot is refreshed to <now>, so
 * an ejection whose time has passed already reads as healthy.
 */
static void view_endpoint(struct swerve_shm *tab,
			  const struct swerve_service *svc,
			  const struct swerve_endpoint *ep,
			  struct swerve_shm_row *row, unsigned priority,
			  uint64_t now, struct ep_view *v)
{
	struct swerve_outlier_state st;
	uint64_t until;

	memset(v, 0, sizeof(*v));
	memset(&st, 0, sizeof(st));
	v->svc = svc;
	v->ep = ep;
	snprintf(v->text, sizeof(v->text), "%s", ep->text);
	v->priority = priority;
	if (tab == NULL || row == NULL)
		return;
	if (swerve_shm_snapshot(tab, row, &svc->outlier, now, &st) != 0)
		return;
	v->ejected = st.ejected != 0;
	if (v->ejected) {
		until = swerve_outlier_ejected_until(&st, &svc->outlier);
		v->remaining_ms = until > now ? until - now : 0;
	}
	/* In split mode connect failures feed the local-origin streak. */
	v->failures = svc->outlier.split_external_local_origin ?
		      st.local_origin : st.c5xx;
	v->ejections = st.ejections;
	v->connects_ok = atomic_load(&row->connects_ok);
	v->connects_failed = atomic_load(&row->connects_failed);
}

/* "address:port" of <addr> (port 0: the address alone). */
static void format_address(const struct sockaddr_storage *addr, char *buf,
			   size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)addr;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		port = ntohs(sin->sin_port);
		if (port != 0)
			snprintf(buf, len, "%s:%u", a, port);
		else
			snprintf(buf, len, "%s", a);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)addr;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		port = ntohs(sin6->sin6_port);
		if (port != 0)
			snprintf(buf, len, "[%s]:%u", a, port);
		else
			snprintf(buf, len, "[%s]", a);
	}
}

/*
 * Views of the endpoints of service <s> behind names, as the library routes
 * them: one per address the name resolves to now (looked up by this very
 * command), or one "unresolved" row when it does not resolve. The name's
 * status row says how often programs had to use a stale answer.
 */
static size_t view_names(struct swerve_dnscache *dc, struct swerve_shm *tab,
			 const struct swerve_config *cfg, unsigned s,
			 uint64_t now, struct ep_view *views)
{
	const struct swerve_service *cs = &cfg->services[s];
	const struct swerve_service *rs = swerve_dnscache_service(dc, s);
	struct swerve_shm_row *const *rows = swerve_dnscache_rows(dc, s);
	uint8_t prio[SWERVE_MAX_ENDPOINTS];
	size_t n = 0;
	unsigned i, k = 0, j;

	memset(prio, 0, sizeof(prio));
	swerve_balancer_priorities(rs, cfg, prio);
	for (i = 0; i < cs->nendpoints; i++) {
		const struct swerve_endpoint *ep = &cs->endpoints[i];
		struct swerve_shm_row *status = NULL;
		unsigned width = ep->name[0] != '\0' ? SWERVE_DNS_MAX_ADDRS : 1;
		unsigned first = k;
		bool any = false;

		if (ep->name[0] != '\0' && tab != NULL)
			status = swerve_shm_row(
				tab, swerve_dnscache_status_key(cs, ep), false);
		for (j = 0; j < width; j++, k++) {
			struct sockaddr_storage addr;
			bool stale = false;
			struct ep_view *v = &views[n];

			if (!swerve_dnscache_address(dc, s, k, &addr, &stale))
				continue;
			view_endpoint(tab, rs, &rs->endpoints[k],
				      tab != NULL ? rows[k] : NULL, prio[k],
				      now, v);
			if (ep->name[0] != '\0') {
				format_address(&addr, v->text, sizeof(v->text));
				v->dns = stale ? "stale" : "ok";
				if (status != NULL)
					v->stale_uses = atomic_load(
						&status->stale_uses);
			}
			any = true;
			n++;
		}
		if (!any) {
			struct ep_view *v = &views[n++];

			view_endpoint(NULL, cs, ep, NULL, prio[first], now, v);
			v->dns = "unresolved";
			if (status != NULL) {
				v->stale_uses = atomic_load(&status->stale_uses);
				/* It resolved for programs before: they go on
				 * with their last answer meanwhile. */
				if (atomic_load(&status->connects_ok) > 0)
					v->dns = "failing";
			}
		}
	}
	return n;
}

/* Builds the view of every endpoint of every service; caller frees. */
static int collect_views(const struct swerve_config *cfg,
			 struct swerve_shm *tab, struct swerve_dnscache *dc,
			 struct ep_view **out, size_t *nout)
{
	uint8_t prio[SWERVE_MAX_ENDPOINTS];
	struct ep_view *views;
	uint64_t now = swerve_now_ms();
	size_t total = 0, n = 0;
	unsigned i, j;

	for (i = 0; i < cfg->nservices; i++)
		total += swerve_dnscache_service(dc, i)->nendpoints;
	views = calloc(total > 0 ? total : 1, sizeof(*views));
	if (views == NULL) {
		print_error("out of memory");
		return -1;
	}
	for (i = 0; i < cfg->nservices; i++) {
		const struct swerve_service *svc = &cfg->services[i];

		/* The config caps nendpoints, but prio[] must not trust it. */
		if (svc->nendpoints > SWERVE_MAX_ENDPOINTS)
			continue;
		if (swerve_dnscache_has_names(dc, i)) {
			swerve_dnscache_refresh(dc, i, now);
			n += view_names(dc, tab, cfg, i, now, &views[n]);
			continue;
		}
		memset(prio, 0, sizeof(prio));
		swerve_balancer_priorities(svc, cfg, prio);
		for (j = 0; j < svc->nendpoints; j++)
			view_endpoint(tab, svc, &svc->endpoints[j],
				      tab != NULL ? swerve_shm_row(
					      tab, svc->endpoints[j].key,
					      false) : NULL,
				      prio[j], now, &views[n++]);
	}
	*out = views;
	*nout = n;
	return 0;
}

static void format_cells(const struct ep_view *v, char cells[][CELL_MAX])
{
	snprintf(cells[0], CELL_MAX, "%s", v->svc->name);
	snprintf(cells[1], CELL_MAX, "%s", v->text);
	snprintf(cells[2], CELL_MAX, "%s",
		 v->ep->locality_text[0] != '\0' ? v->ep->locality_text : "-");
	if (v->priority == SWERVE_BALANCER_UNROUTED)
		snprintf(cells[3], CELL_MAX, "none");
	else
		snprintf(cells[3], CELL_MAX, "%u", v->priority);
	snprintf(cells[4], CELL_MAX, "%s", v->ejected ? "EJECTED" : "HEALTHY");
	snprintf(cells[5], CELL_MAX, "%s", v->ejected ? "FAILED" : "OK");
	if (v->ejected)
		format_duration(v->remaining_ms, cells[6], CELL_MAX);
	else
		snprintf(cells[6], CELL_MAX, "-");
	snprintf(cells[7], CELL_MAX, "%" PRIu32, v->failures);
	snprintf(cells[8], CELL_MAX, "%" PRIu32, v->ejections);
	snprintf(cells[9], CELL_MAX, "%" PRIu64, v->connects_ok);
	snprintf(cells[10], CELL_MAX, "%" PRIu64, v->connects_failed);
	if (v->dns == NULL)
		snprintf(cells[11], CELL_MAX, "-");
	else if (v->stale_uses > 0)
		snprintf(cells[11], CELL_MAX, "%.180s %s (%" PRIu64
			 " stale uses)", v->ep->name, v->dns, v->stale_uses);
	else
		snprintf(cells[11], CELL_MAX, "%.180s %s", v->ep->name,
			 v->dns);
}

/* Columns are separated by three spaces; the last one is not padded. */
static void print_row(char cells[][CELL_MAX], const size_t *width)
{
	int c;

	for (c = 0; c < NCOLS; c++) {
		if (c == NCOLS - 1)
			printf("%s\n", cells[c]);
		else
			printf("%-*s   ", (int)width[c], cells[c]);
	}
}

static void print_table(const struct ep_view *views, size_t n)
{
	char cells[NCOLS][CELL_MAX];
	size_t width[NCOLS];
	size_t i, len;
	int c;

	for (c = 0; c < NCOLS; c++)
		width[c] = strlen(table_head[c]);
	for (i = 0; i < n; i++) {
		format_cells(&views[i], cells);
		for (c = 0; c < NCOLS; c++) {
			len = strlen(cells[c]);
			if (len > width[c])
				width[c] = len;
		}
	}
	for (c = 0; c < NCOLS; c++)
		snprintf(cells[c], CELL_MAX, "%s", table_head[c]);
	print_row(cells, width);
	for (i = 0; i < n; i++) {
		format_cells(&views[i], cells);
		print_row(cells, width);
	}
}

/* RFC 8259 string: quotes, backslashes and control characters escaped. */
static void print_json_string(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

static void print_json(const struct ep_view *views, size_t n)
{
	size_t i;

	if (n == 0) {
		puts("[]");
		return;
	}
	puts("[");
	for (i = 0; i < n; i++) {
		const struct ep_view *v = &views[i];

		fputs("  {\"service\": ", stdout);
		print_json_string(v->svc->name);
		fputs(", \"endpoint\": ", stdout);
		print_json_string(v->text);
		if (v->dns != NULL) {
			fputs(", \"name\": ", stdout);
			print_json_string(v->ep->text);
			printf(", \"dns\": \"%s\", \"stale_uses\": %" PRIu64,
			       v->dns, v->stale_uses);
		}
		fputs(", \"locality\": ", stdout);
		print_json_string(v->ep->locality_text);
		if (v->priority == SWERVE_BALANCER_UNROUTED)
			fputs(", \"priority\": null", stdout);
		else
			printf(", \"priority\": %u", v->priority);
		printf(", \"status\": \"%s\", "
		       "\"consecutive_failures\": %" PRIu32 ", "
		       "\"ejections\": %" PRIu32 ", "
		       "\"connects_ok\": %" PRIu64 ", "
		       "\"connects_failed\": %" PRIu64 ", "
		       "\"ejected_remaining_ms\": %" PRIu64 "}%s\n",
		       v->ejected ? "ejected" : "healthy",
		       v->failures, v->ejections, v->connects_ok,
		       v->connects_failed, v->remaining_ms,
		       i + 1 < n ? "," : "");
	}
	puts("]");
}

static int cmd_endpoints(const struct cli_args *a)
{
	struct swerve_config *cfg = NULL;
	struct swerve_dnscache *dc = NULL;
	struct swerve_shm tab, priv;
	char err[256] = "";
	struct ep_view *views = NULL;
	size_t n = 0;
	bool present;
	int rc = CLI_EXIT_FAIL;

	memset(&priv, 0, sizeof(priv));
	if (a->npos > 0)
		return fail_usage("endpoints takes no arguments");
	if (a->for_arg != NULL)
		return fail_usage("--for is only for eject");
	if (load_config(resolve_config_path(a), &cfg) != 0)
		return CLI_EXIT_FAIL;
	if (attach_table(cfg, false, &tab, &present) != 0)
		goto out;
	/* Names are looked up by this command, as the library would; their
	 * rows come from the table (a private one when there is none yet). */
	if (!present && swerve_shm_private(&priv) != 0) {
		print_error("out of memory");
		goto out;
	}
	if (swerve_dnscache_new(cfg, present ? &tab : &priv, NULL, &dc, err,
				sizeof(err)) != 0) {
		print_error("%s", err);
		goto detach;
	}
	if (collect_views(cfg, present ? &tab : NULL, dc, &views, &n) == 0) {
		if (a->json)
			print_json(views, n);
		else
			print_table(views, n);
		rc = CLI_EXIT_OK;
	}
	free(views);
	swerve_dnscache_free(dc);
detach:
	swerve_shm_detach(&tab);
	swerve_shm_detach(&priv);
out:
	swerve_config_free(cfg);
	return rc;
}

/*
 * Errors are printed as config.c words them; notes get "note: " after
 * their place ("file:line: note: ...") so they read apart from errors.
 */
static void report_problem(void *ctx, const struct swerve_config_problem *p)
{
	struct check_ctx *c = ctx;

	if (p->is_error) {
		c->errors++;
		fprintf(stderr, "%s\n", p->text);
		return;
	}
	c->notes++;
	if (p->env != NULL)
		fprintf(stderr, "%s: note: %s\n", p->env, p->msg);
	else if (p->line > 0)
		fprintf(stderr, "%s:%d: note: %s\n", p->file, p->line, p->msg);
	else
		fprintf(stderr, "%s: note: %s\n", p->file, p->msg);
}

static int cmd_check(const struct cli_args *a)
{
	struct check_ctx ctx = { 0, 0 };
	struct swerve_config *cfg = NULL;
	const char *path;
	char err[512] = "";
	unsigned i, neps = 0;
	int rc;

	if (a->npos > 1)
		return fail_usage("check takes one config file");
	if (a->json || a->for_arg != NULL)
		return fail_usage("check takes no --json or --for");
	path = a->npos == 1 ? a->pos[0] : resolve_config_path(a);
	/* No environment: check the file itself, not this shell's overrides. */
	rc = swerve_config_load(path, false, &cfg, report_problem, &ctx, err,
				sizeof(err));
	if (rc != 0 || ctx.errors > 0) {
		/* An unreadable file may be reported through <err> only. */
		if (ctx.errors == 0) {
			if (err[0] != '\0')
				fprintf(stderr, "%s\n", err);
			else
				print_error("%s: %s", path,
					    strerror(rc != 0 ? -rc : EINVAL));
		}
		swerve_config_free(cfg);
		return CLI_EXIT_FAIL;
	}
	for (i = 0; i < cfg->nservices; i++)
		neps += cfg->services[i].nendpoints;
	printf("%s: ok (%u service%s, %u endpoint%s)\n", path,
	       cfg->nservices, cfg->nservices == 1 ? "" : "s",
	       neps, neps == 1 ? "" : "s");
	swerve_config_free(cfg);
	return CLI_EXIT_OK;
}

static void explain_service(const struct swerve_config *cfg,
			    const struct swerve_service *svc, const char *name)
{
	char buf[64];
	unsigned i;

	printf("name:               %s\n", name);
	printf("service:            %s (%s:%d)\n", svc->name, cfg->path,
	       svc->line);
	fputs("hosts:             ", stdout);
	for (i = 0; i < svc->nhosts; i++)
		printf(" %s", svc->hosts[i]);
	fputs("\nservice addresses: ", stdout);
	for (i = 0; i < SWERVE_VIPS_PER_SERVICE; i++) {
		format_vip(svc->vips[i], buf, sizeof(buf));
		printf(" %s", buf);
	}
	fputs("\nports:             ", stdout);
	if (svc->nports == 0)
		fputs(" any", stdout);
	for (i = 0; i < svc->nports; i++)
		printf(" %u", (unsigned)svc->ports[i]);
	putchar('\n');
	printf("this host:          %s%s\n",
	       cfg->locality_text[0] != '\0' ? cfg->locality_text :
	       "(no locality)",
	       secure_getenv("SWERVE_LOCALITY") != NULL ?
	       " (from SWERVE_LOCALITY)" : "");
	printf("load balancing:     %s, overprovisioning factor %" PRIu32
	       "%%, panic threshold %" PRIu32 "%%%s\n", lb_name(svc->lb),
	       svc->overprovisioning_factor, svc->outlier.min_health_percent,
	       svc->outlier.min_health_percent == 0 ? " (panic disabled)" :
	       "");
	printf("outlier detection:  %s\n", svc->outlier.enabled ?
	       "on" : "off (every endpoint is in priority 0, as in Istio)");
}

/* The locality rules of <svc> and which of them act for this host. */
static void explain_rules(const struct swerve_config *cfg,
			  const struct swerve_service *svc)
{
	uint32_t weight[SWERVE_MAX_LOCALITIES];
	const struct swerve_distribute *d;
	unsigned i, j;
	bool tiers = svc->outlier.enabled && svc->ndistribute == 0;

	for (i = 0; i < svc->nfailover; i++)
		printf("failover:           %s -> %s (line %d)%s\n",
		       svc->failover[i].from, svc->failover[i].to,
		       svc->failover[i].line,
		       !tiers ? ", inactive: no tiers" :
		       strcmp(svc->failover[i].from, cfg->locality.region) == 0
		       ? ", applies to this host" : "");
	if (svc->nfailover_priority > 0) {
		fputs("failover_priority: ", stdout);
		for (i = 0; i < svc->nfailover_priority; i++) {
			const struct swerve_failover_label *fl =
				&svc->failover_priority[i];

			printf("%s %s", i > 0 ? "," : "", fl->key);
			if (fl->has_value)
				printf("=%s", fl->value);
			else
				printf(" (here: '%s')", swerve_config_label(
					       cfg->labels, cfg->nlabels,
					       &cfg->locality, fl->key));
		}
		printf(" (line %d)%s\n", svc->failover_priority_line,
		       tiers ? "" : ", inactive: no tiers");
	}
	d = svc->ndistribute > 0 ? swerve_balancer_distribute(svc, cfg, weight)
				 : NULL;
	for (i = 0; i < svc->ndistribute; i++) {
		const struct swerve_distribute *r = &svc->distribute[i];

		printf("distribute:         %s ->", r->from_text);
		for (j = 0; j < r->nto; j++)
			printf("%s %s:%" PRIu32, j > 0 ? "," : "",
			       r->to[j].text, r->to[j].weight);
		printf(" (line %d)%s\n", r->line,
		       r == d ? ", applies to this host" : "");
	}
	if (svc->ndistribute > 0 && d == NULL)
		puts("                    no distribute rule matches this "
		     "host: own locality weights");
	printf("locality weighting: %s\n",
	       swerve_balancer_locality_weighted(svc) ?
	       "on (a locality is picked by effective weight, then an "
	       "endpoint)" : "off (endpoints of a priority are picked "
	       "directly)");
}

/*
 * Prints the localities of tier <p> with their weights as the pick sees
 * them: configured weight, healthy/total, effective weight and share.
 */
static void explain_localities(const struct swerve_service *svc,
			       const struct swerve_balancer_input *in,
			       unsigned p)
{
	uint64_t eff[SWERVE_MAX_LOCALITIES], sum;
	unsigned g, i, total, up;
	uint32_t w;

	sum = swerve_balancer_locality_weights(in, p, eff);
	if (!swerve_balancer_locality_weighted(svc))
		return;
	for (g = 0; g < svc->nlocalities && g < SWERVE_MAX_LOCALITIES; g++) {
		total = 0;
		up = 0;
		w = 0;
		for (i = 0; i < svc->nendpoints; i++) {
			if (svc->endpoints[i].group != g || in->prio[i] != p)
				continue;
			total++;
			up += in->healthy[i];
			w += svc->endpoints[i].weight;
		}
		if (total == 0)
			continue;
		printf("  locality %-20s %u/%u healthy, effective weight "
		       "%" PRIu64 ".%02" PRIu64 " of %" PRIu32 ", %" PRIu64
		       "%% of the priority\n",
		       svc->localities[g].text[0] != '\0' ?
		       svc->localities[g].text : "-", up, total,
		       eff[g] / 10000, eff[g] / 100 % 100, w,
		       sum > 0 ? eff[g] * 100 / sum : 0);
	}
}

/*
 * Prints one tier: its share of traffic and the state of each endpoint the
 * connect path would see (the published ejection deadline, no lock).
 */
static void explain_tier(const struct swerve_service *svc, unsigned p,
			 const uint8_t *prio, const bool *healthy,
			 struct swerve_shm_row *const *rows,
			 const struct swerve_balancer_load *load, uint64_t now)
{
	char dur[32];
	unsigned i, total = 0, up = 0;
	uint64_t until;

	for (i = 0; i < svc->nendpoints; i++) {
		if (prio[i] != p)
			continue;
		total++;
		if (healthy[i])
			up++;
	}
	printf("\npriority %u: %u/%u healthy, health %" PRIu32 "%%, "
	       "load %" PRIu32 "%%%s\n", p, up, total, load->health[p],
	       load->load[p], load->panic[p] ? ", in panic" : "");
	for (i = 0; i < svc->nendpoints; i++) {
		const struct swerve_endpoint *ep = &svc->endpoints[i];

		if (prio[i] != p)
			continue;
		printf("  %-22s %-28s weight %-4" PRIu32, ep->text,
		       ep->locality_text[0] != '\0' ? ep->locality_text : "-",
		       ep->weight);
		if (healthy[i]) {
			puts(" healthy");
			continue;
		}
		until = atomic_load(&rows[i]->ejected_until_ms);
		format_duration(until > now ? until - now : 0, dur,
				sizeof(dur));
		printf(" ejected for %s\n", dur);
	}
}

/* Endpoints a distribute rule keeps this host away from. */
static void explain_unrouted(const struct swerve_service *svc,
			     const uint8_t *prio)
{
	unsigned i;
	bool any = false;

	for (i = 0; i < svc->nendpoints; i++) {
		if (prio[i] != SWERVE_BALANCER_UNROUTED)
			continue;
		if (!any)
			puts("\nnot routed (distribute lists no target for "
			     "their locality):");
		any = true;
		printf("  %-22s %s\n", svc->endpoints[i].text,
		       svc->endpoints[i].locality_text[0] != '\0' ?
		       svc->endpoints[i].locality_text : "-");
	}
}

static void explain_panic(const struct swerve_balancer_load *load)
{
	unsigned p;
	bool any = false;

	if (load->none_routable) {
		puts("panic:              nothing is healthy and panic is "
		     "disabled: swerve fails open\n"
		     "                    to an ejected endpoint of the lowest "
		     "tier");
		return;
	}
	if (load->total_panic) {
		puts("panic:              total (every priority is below the "
		     "panic threshold):\n"
		     "                    traffic goes to all endpoints, "
		     "ejected or not");
		return;
	}
	fputs("panic:              ", stdout);
	for (p = 0; p < load->npriorities; p++) {
		if (!load->panic[p])
			continue;
		printf("%spriority %u", any ? ", " : "", p);
		any = true;
	}
	puts(any ? " (ejected endpoints of a priority in panic still get "
	     "traffic)" : "no");
}

static int cmd_explain(const struct cli_args *a)
{
	uint8_t prio[SWERVE_MAX_ENDPOINTS];
	bool healthy[SWERVE_MAX_ENDPOINTS];
	uint32_t weight[SWERVE_MAX_ENDPOINTS];
	uint32_t active[SWERVE_MAX_ENDPOINTS];
	struct swerve_shm_row *rows[SWERVE_MAX_ENDPOINTS];
	struct swerve_balancer_load load;
	struct swerve_balancer_input in;
	const struct swerve_service *svc;
	struct swerve_config *cfg = NULL;
	struct swerve_shm tab;
	char why[256] = "";
	unsigned i, npri;
	uint64_t now;
	bool present;
	int pick, rc = CLI_EXIT_FAIL;

	if (a->npos != 1)
		return fail_usage("explain takes one host name");
	if (a->json || a->for_arg != NULL)
		return fail_usage("explain takes no --json or --for");
	if (load_config(resolve_config_path(a), &cfg) != 0)
		return CLI_EXIT_FAIL;
	svc = swerve_config_match_name(cfg, a->pos[0]);
	if (svc == NULL) {
		print_error("%s is not served by swerve: no service in %s "
			    "lists it; programs resolve it as usual",
			    a->pos[0], cfg->path);
		goto out;
	}
	if (svc->nendpoints == 0 || svc->nendpoints > SWERVE_MAX_ENDPOINTS) {
		print_error("service %s has %u endpoints", svc->name,
			    svc->nendpoints);
		goto out;
	}
	if (attach_table(cfg, false, &tab, &present) != 0)
		goto out;

	now = swerve_now_ms();
	memset(prio, 0, sizeof(prio));
	npri = swerve_balancer_priorities(svc, cfg, prio);
	for (i = 0; i < svc->nendpoints; i++) {
		rows[i] = present ?
			  swerve_shm_row(&tab, svc->endpoints[i].key, false) :
			  NULL;
		healthy[i] = !swerve_shm_is_ejected(rows[i], now);
		weight[i] = svc->endpoints[i].weight;
		/* In-flight counts live in each process; none are here. */
		active[i] = 0;
	}
	swerve_balancer_load(prio, healthy, svc->nendpoints, npri,
			     svc->overprovisioning_factor,
			     svc->outlier.min_health_percent, &load);

	memset(&in, 0, sizeof(in));
	in.n = svc->nendpoints;
	in.prio = prio;
	in.npriorities = npri;
	in.healthy = healthy;
	in.weight = weight;
	in.overprov = svc->overprovisioning_factor;
	in.svc = svc;
	in.client = cfg;

	explain_service(cfg, svc, a->pos[0]);
	explain_rules(cfg, svc);
	for (i = 0; i < npri; i++) {
		explain_tier(svc, i, prio, healthy, rows, &load, now);
		explain_localities(svc, &in, i);
	}
	explain_unrouted(svc, prio);
	putchar('\n');
	explain_panic(&load);

	memset(&in, 0, sizeof(in));
	in.n = svc->nendpoints;
	in.prio = prio;
	in.npriorities = npri;
	in.healthy = healthy;
	in.weight = weight;
	in.active = active;
	in.lb = svc->lb;
	in.overprov = svc->overprovisioning_factor;
	in.panic_threshold = svc->outlier.min_health_percent;
	in.svc = svc;
	in.client = cfg;
	pick = swerve_balancer_pick(&in, why, sizeof(why));
	if (pick < 0) {
		puts("next connect:       no endpoint can be picked");
	} else {
		printf("next connect:       %s (%s)\n",
		       svc->endpoints[pick].text,
		       why[0] != '\0' ? why : "no reason given");
		/* The real pick draws random numbers or advances a counter. */
		if (npri > 1)
			printf("                    the first pick only: the "
			       "draw of a priority per\n"
			       "                    connection and %s make "
			       "later picks vary\n", lb_name(svc->lb));
		else
			printf("                    the first pick only: %s "
			       "makes later picks vary\n", lb_name(svc->lb));
	}
	rc = CLI_EXIT_OK;
	swerve_shm_detach(&tab);
out:
	swerve_config_free(cfg);
	return rc;
}

/* What an event's key names, resolved through the config. */
struct event_target {
	const struct swerve_service *svc;
	const struct swerve_endpoint *ep;   /* NULL for a service event */
};

static void resolve_key(const struct swerve_config *cfg, uint64_t key,
			struct event_target *t)
{
	unsigned i, j;

	t->svc = NULL;
	t->ep = NULL;
	for (i = 0; i < cfg->nservices; i++) {
		const struct swerve_service *svc = &cfg->services[i];

		if (swerve_shm_service_key(svc->name) == key) {
			t->svc = svc;
			return;
		}
		for (j = 0; j < svc->nendpoints; j++) {
			if (svc->endpoints[j].key == key) {
				t->svc = svc;
				t->ep = &svc->endpoints[j];
				return;
			}
		}
	}
}

static const char *event_name(enum swerve_shm_event_type type)
{
	switch (type) {
	case SWERVE_EVENT_EJECT:
		return "eject";
	case SWERVE_EVENT_UNEJECT:
		return "uneject";
	case SWERVE_EVENT_OVERFLOW:
		return "overflow";
	case SWERVE_EVENT_PANIC_ENTER:
		return "panic_enter";
	case SWERVE_EVENT_PANIC_EXIT:
		return "panic_exit";
	}
	return "?";
}

/* "priorities 0,2", "total panic", "nothing healthy (fail open)". */
static void format_panic(uint32_t mask, char *buf, size_t len)
{
	size_t off = 0;
	unsigned p;
	int w;

	buf[0] = '\0';
	if (mask & SWERVE_PANIC_NONE_ROUTABLE) {
		snprintf(buf, len, "nothing healthy, panic off: fail open");
		return;
	}
	if (mask & SWERVE_PANIC_TOTAL) {
		snprintf(buf, len, "total panic: all endpoints");
		return;
	}
	for (p = 0; p < SWERVE_MAX_PRIORITIES; p++) {
		if (!(mask & (1u << p)))
			continue;
		w = snprintf(buf + off, len - off, "%s%u",
			     off == 0 ? "priorities " : ",", p);
		if (w < 0 || (size_t)w >= len - off)
			return;
		off += (size_t)w;
	}
}

static void format_detail(const struct swerve_shm_event_info *ev,
			  char *buf, size_t len)
{
	char dur[32];

	switch (ev->type) {
	case SWERVE_EVENT_EJECT:
		format_duration(ev->duration_ms, dur, sizeof(dur));
		snprintf(buf, len, "for %s, ejection %" PRIu32, dur,
			 ev->value);
		return;
	case SWERVE_EVENT_UNEJECT:
		format_duration(ev->duration_ms, dur, sizeof(dur));
		snprintf(buf, len, "after %s", dur);
		return;
	case SWERVE_EVENT_OVERFLOW:
		snprintf(buf, len, "kept in: max_ejection_percent reached");
		return;
	case SWERVE_EVENT_PANIC_ENTER:
	case SWERVE_EVENT_PANIC_EXIT:
		format_panic(ev->value, buf, len);
		return;
	}
	buf[0] = '\0';
}

/*
 * Wall-clock time of monotonic <at_ms>, as UTC ISO 8601: the ring keeps
 * CLOCK_MONOTONIC, which every process of the host shares.
 */
static void format_wall(uint64_t at_ms, uint64_t now_ms, char *buf,
			size_t len)
{
	struct timespec rt;
	struct tm tm;
	int64_t wall_ms;
	time_t secs;

	clock_gettime(CLOCK_REALTIME, &rt);
	wall_ms = (int64_t)rt.tv_sec * 1000 + rt.tv_nsec / 1000000 -
		  (int64_t)(now_ms - (at_ms < now_ms ? at_ms : now_ms));
	secs = (time_t)(wall_ms / 1000);
	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

static void print_events_json(const struct swerve_config *cfg,
			      const struct swerve_shm_event_info *evs,
			      size_t n, uint64_t lost, uint64_t now)
{
	struct event_target t;
	char wall[64], detail[128];
	size_t i;

	printf("{\"lost\": %" PRIu64 ", \"events\": [", lost);
	for (i = 0; i < n; i++) {
		const struct swerve_shm_event_info *ev = &evs[i];

		resolve_key(cfg, ev->key, &t);
		format_wall(ev->at_ms, now, wall, sizeof(wall));
		format_detail(ev, detail, sizeof(detail));
		printf("%s\n  {\"seq\": %" PRIu64 ", \"time\": \"%s\", "
		       "\"ago_ms\": %" PRIu64 ", \"type\": \"%s\", "
		       "\"service\": ", i > 0 ? "," : "", ev->seq, wall,
		       now > ev->at_ms ? now - ev->at_ms : 0,
		       event_name(ev->type));
		if (t.svc != NULL)
			print_json_string(t.svc->name);
		else
			fputs("null", stdout);
		fputs(", \"endpoint\": ", stdout);
		if (t.ep != NULL)
			print_json_string(t.ep->text);
		else
			fputs("null", stdout);
		printf(", \"key\": \"%016" PRIx64 "\", \"reason\": \"%s\", "
		       "\"streak\": %" PRIu32 ", \"duration_ms\": %" PRIu64
		       ", \"value\": %" PRIu32 ", \"pid\": %" PRIu32
		       ", \"detail\": ", ev->key,
		       swerve_outlier_reason_name(ev->reason), ev->streak,
		       ev->duration_ms, ev->value, ev->pid);
		print_json_string(detail);
		putchar('}');
	}
	puts(n > 0 ? "\n]}" : "]}");
}

static void print_events_table(const struct swerve_config *cfg,
			       const struct swerve_shm_event_info *evs,
			       size_t n, uint64_t lost, uint64_t now)
{
	struct event_target t;
	char wall[64], ago[32], who[CELL_MAX], detail[128];
	size_t i;

	if (lost > 0)
		printf("(%" PRIu64 " older events were overwritten)\n", lost);
	if (n == 0) {
		puts("no events");
		return;
	}
	printf("%-24s %-8s %-11s %-36s %-24s %-6s %s\n", "TIME", "AGO",
	       "EVENT", "SERVICE/ENDPOINT", "REASON", "STREAK", "DETAIL");
	for (i = 0; i < n; i++) {
		const struct swerve_shm_event_info *ev = &evs[i];

		resolve_key(cfg, ev->key, &t);
		format_wall(ev->at_ms, now, wall, sizeof(wall));
		format_duration(now > ev->at_ms ? now - ev->at_ms : 0, ago,
				sizeof(ago));
		if (t.ep != NULL)
			snprintf(who, sizeof(who), "%s %s", t.svc->name,
				 t.ep->text);
		else if (t.svc != NULL)
			snprintf(who, sizeof(who), "%s", t.svc->name);
		else
			snprintf(who, sizeof(who), "(row %016" PRIx64
				 ", not in this config)", ev->key);
		format_detail(ev, detail, sizeof(detail));
		printf("%-24s %-8s %-11s %-36s %-24s %-6" PRIu32 " %s\n",
		       wall, ago, event_name(ev->type), who,
		       swerve_outlier_reason_name(ev->reason), ev->streak,
		       detail);
	}
}

static int cmd_events(const struct cli_args *a)
{
	struct swerve_shm_event_info *evs = NULL;
	struct swerve_config *cfg = NULL;
	struct swerve_shm tab;
	uint64_t lost = 0, now;
	size_t n = 0;
	bool present;
	int rc = CLI_EXIT_FAIL;

	if (a->npos > 0)
		return fail_usage("events takes no arguments");
	if (a->for_arg != NULL)
		return fail_usage("--for is only for eject");
	if (load_config(resolve_config_path(a), &cfg) != 0)
		return CLI_EXIT_FAIL;
	if (attach_table(cfg, false, &tab, &present) != 0)
		goto out;
	now = swerve_now_ms();
	if (present) {
		evs = calloc(tab.nevents > 0 ? tab.nevents : 1, sizeof(*evs));
		if (evs == NULL) {
			print_error("out of memory");
			swerve_shm_detach(&tab);
			goto out;
		}
		n = swerve_shm_events(&tab, evs, tab.nevents, &lost);
	}
	if (a->json)
		print_events_json(cfg, evs, n, lost, now);
	else
		print_events_table(cfg, evs, n, lost, now);
	rc = CLI_EXIT_OK;
	free(evs);
	swerve_shm_detach(&tab);
out:
	swerve_config_free(cfg);
	return rc;
}

/* What eject, uneject and reset of one endpoint do to its row. */
enum edit_op {
	EDIT_EJECT = 0,
	EDIT_UNEJECT = 1,
	EDIT_RESET = 2,
};

static int edit_row(struct swerve_shm *tab, const struct swerve_service *svc,
		    const struct swerve_endpoint *ep, enum edit_op op,
		    uint64_t duration_ms)
{
	struct swerve_shm_row *row;
	uint64_t now = swerve_now_ms();
	char dur[32];
	int rc = -EINVAL;

	/* Rows that were never used are already fresh: nothing to reset. */
	row = swerve_shm_row(tab, ep->key, op != EDIT_RESET);
	if (row == NULL && op == EDIT_RESET) {
		printf("%s %s: reset\n", svc->name, ep->text);
		return 0;
	}
	if (row == NULL) {
		print_error("shared table %s is full: no row for %s %s",
			    tab->name, svc->name, ep->text);
		return -1;
	}
	switch (op) {
	case EDIT_EJECT:
		rc = swerve_shm_eject(tab, row, duration_ms, now);
		break;
	case EDIT_UNEJECT:
		rc = swerve_shm_uneject(tab, row, now);
		break;
	case EDIT_RESET:
		rc = swerve_shm_reset_row(row);
		break;
	}
	if (rc != 0) {
		print_error("%s %s: %s", svc->name, ep->text, strerror(-rc));
		return -1;
	}
	switch (op) {
	case EDIT_EJECT:
		format_duration(duration_ms, dur, sizeof(dur));
		printf("%s %s: ejected for %s\n", svc->name, ep->text, dur);
		break;
	case EDIT_UNEJECT:
		printf("%s %s: back in service\n", svc->name, ep->text);
		break;
	case EDIT_RESET:
		printf("%s %s: reset\n", svc->name, ep->text);
		break;
	}
	return 0;
}

static int cmd_edit(const struct cli_args *a, enum edit_op op)
{
	const struct swerve_service *svc = NULL;
	const struct swerve_endpoint *ep = NULL;
	struct swerve_config *cfg = NULL;
	struct swerve_shm tab;
	uint64_t duration_ms = 0;
	bool present;
	unsigned i;
	int rc = CLI_EXIT_FAIL;

	if (a->json)
		return fail_usage("%s takes no --json", a->cmd);
	if (op != EDIT_EJECT && a->for_arg != NULL)
		return fail_usage("--for is only for eject");
	if (op == EDIT_RESET ? a->npos > 2 : a->npos != 2)
		return fail_usage("%s takes %s", a->cmd, op == EDIT_RESET ?
				  "[SERVICE [ENDPOINT]]" : "SERVICE ENDPOINT");
	if (a->for_arg != NULL &&
	    (swerve_config_parse_duration(a->for_arg, &duration_ms) != 0 ||
	     duration_ms == 0))
		return fail_usage("bad duration '%s' (like 250ms, 15s, 1m, 2h)",
				  a->for_arg);
	if (load_config(resolve_config_path(a), &cfg) != 0)
		return CLI_EXIT_FAIL;

	if (op == EDIT_RESET && a->npos == 0) {
		int urc = swerve_shm_unlink(cfg->shm_name);

		if (urc == -ENOENT) {
			printf("shared table %s does not exist: nothing to "
			       "reset\n", cfg->shm_name);
			rc = CLI_EXIT_OK;
		} else if (urc != 0) {
			print_error("cannot remove shared table %s: %s",
				    cfg->shm_name, strerror(-urc));
		} else {
			/* Mappings outlive the name: say what that means. */
			printf("removed shared table %s; running programs keep "
			       "their mapping until they exit, new ones start "
			       "a fresh table\n", cfg->shm_name);
			rc = CLI_EXIT_OK;
		}
		goto out;
	}
	if (lookup_target(cfg, a->pos[0], a->npos > 1 ? a->pos[1] : NULL,
			  &svc, &ep) != 0)
		goto out;
	if (op == EDIT_EJECT && a->for_arg == NULL)
		duration_ms = svc->outlier.base_ejection_ms;
	if (op == EDIT_EJECT && duration_ms == 0) {
		print_error("service %s has no base_ejection_time; use --for",
			    svc->name);
		goto out;
	}
	/* Created if absent: an operator may eject before any program ran. */
	if (attach_table(cfg, true, &tab, &present) != 0)
		goto out;
	rc = CLI_EXIT_OK;
	if (ep != NULL) {
		if (edit_row(&tab, svc, ep, op, duration_ms) != 0)
			rc = CLI_EXIT_FAIL;
	} else {
		for (i = 0; i < svc->nendpoints; i++)
			if (edit_row(&tab, svc, &svc->endpoints[i], op,
				     0) != 0)
				rc = CLI_EXIT_FAIL;
		if (svc->nendpoints == 0)
			printf("%s: no endpoints\n", svc->name);
	}
	swerve_shm_detach(&tab);
out:
	swerve_config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli_args a;
	int rc;

	rc = parse_args(argc, argv, &a);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (a.help || (a.cmd != NULL && strcmp(a.cmd, "help") == 0)) {
		print_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (a.cmd == NULL)
		return fail_usage("no command");

	if (strcmp(a.cmd, "endpoints") == 0)
		rc = cmd_endpoints(&a);
	else if (strcmp(a.cmd, "check") == 0)
		rc = cmd_check(&a);
	else if (strcmp(a.cmd, "explain") == 0)
		rc = cmd_explain(&a);
	else if (strcmp(a.cmd, "events") == 0)
		rc = cmd_events(&a);
	else if (strcmp(a.cmd, "eject") == 0)
		rc = cmd_edit(&a, EDIT_EJECT);
	else if (strcmp(a.cmd, "uneject") == 0)
		rc = cmd_edit(&a, EDIT_UNEJECT);
	else if (strcmp(a.cmd, "reset") == 0)
		rc = cmd_edit(&a, EDIT_RESET);
	else
		return fail_usage("unknown command '%s'", a.cmd);

	/* A full disk or closed pipe must not look like success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		print_error("writing output: %s", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return rc;
}
