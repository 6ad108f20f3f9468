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
 *
 * main.c owns the command line: usage, argument parsing, error printing
 * and the dispatch to the commands. Single-threaded.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/swerve.h"
#include "policy/config.h"
#include "tools/swervectl/cli.h"

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
	      "  metrics [--listen ADDR:PORT [--allow-remote]]\n"
	      "                           the table in Prometheus' text "
	      "format; with --listen\n"
	      "                           served on /metrics (PORT alone: "
	      "127.0.0.1; only\n"
	      "                           loopback without --allow-remote)\n"
	      "  import [--locality L] [--vip-cidr CIDR] FILE...\n"
	      "                           Istio ServiceEntry, "
	      "DestinationRule and\n"
	      "                           VirtualService YAML (- for stdin) "
	      "to a config\n"
	      "                           on stdout; what swerve does not "
	      "take becomes\n"
	      "                           a comment and a file:line "
	      "warning\n"
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

void print_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint_error(fmt, ap);
	va_end(ap);
}

int fail_usage(const char *fmt, ...)
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
 * Where the value of option <s> ("--name" or "--name=VALUE") goes, or NULL
 * when it takes none.
 */
static const char **value_of(struct cli_args *a, const char *s)
{
	size_t n = strcspn(s, "=");

	if (n == 2 && strncmp(s, "-c", 2) == 0)
		return &a->config;
	if (n == 8 && strncmp(s, "--config", 8) == 0)
		return &a->config;
	if (n == 5 && strncmp(s, "--for", 5) == 0)
		return &a->for_arg;
	if (n == 10 && strncmp(s, "--locality", 10) == 0)
		return &a->locality;
	if (n == 10 && strncmp(s, "--vip-cidr", 10) == 0)
		return &a->vip_cidr;
	return NULL;
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
		} else if (opts && strcmp(s, "--allow-remote") == 0) {
			a->allow_remote = true;
		} else if (opts && strcmp(s, "--listen") == 0) {
			if (i + 1 >= argc)
				return fail_usage("%s needs a value", s);
			a->listen = argv[++i];
		} else if (opts && strncmp(s, "--listen=", 9) == 0) {
			a->listen = s + 9;
		} else if (opts && (strcmp(s, "-c") == 0 ||
				    strcmp(s, "--config") == 0 ||
				    strcmp(s, "--for") == 0 ||
				    strcmp(s, "--locality") == 0 ||
				    strcmp(s, "--vip-cidr") == 0)) {
			if (i + 1 >= argc)
				return fail_usage("%s needs a value", s);
			*value_of(a, s) = argv[++i];
		} else if (opts && strncmp(s, "--", 2) == 0 &&
			   strchr(s, '=') != NULL &&
			   value_of(a, s) != NULL) {
			*value_of(a, s) = strchr(s, '=') + 1;
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

const char *resolve_config_path(const struct cli_args *a)
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
	if ((a.locality != NULL || a.vip_cidr != NULL) &&
	    strcmp(a.cmd, "import") != 0)
		return fail_usage("--locality and --vip-cidr are options of "
				  "import");

	if ((a.listen != NULL || a.allow_remote) &&
	    strcmp(a.cmd, "metrics") != 0)
		return fail_usage("--listen and --allow-remote are only for "
				  "metrics");
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
	else if (strcmp(a.cmd, "metrics") == 0)
		rc = cmd_metrics(&a);
	else if (strcmp(a.cmd, "import") == 0)
		rc = cmd_import(&a);
	else
		return fail_usage("unknown command '%s'", a.cmd);

	/* A full disk or closed pipe must not look like success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		print_error("writing output: %s", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return rc;
}
