/*
 * cli: what every command of swervectl shares: the parsed command line,
 * the exit codes, how errors and usage are printed, and the commands
 * themselves (each in its cmd_*.c file, dispatched by main.c).
 *
 * Thread-safety: swervectl is single-threaded.
 */
#ifndef SWERVE_CLI_H
#define SWERVE_CLI_H

#include <stdbool.h>

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
	const char *listen;   /* --listen ADDR:PORT (metrics), or NULL */
	bool allow_remote;    /* --allow-remote: --listen beyond loopback */
	const char *locality; /* import --locality, or NULL */
	const char *vip_cidr; /* import --vip-cidr, or NULL */
	bool help;
	const char *cmd;
	const char *pos[64];  /* positional arguments after the command */
	int npos;
};

/* What eject, uneject and reset of one endpoint do to its row. */
enum edit_op {
	EDIT_EJECT = 0,
	EDIT_UNEJECT = 1,
	EDIT_RESET = 2,
};

/* "swervectl: <message>" on stderr. */
void print_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Prints the error and the usage on stderr; returns the usage exit code. */
int fail_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* -c, else $SWERVE_CONFIG, else the default path. */
const char *resolve_config_path(const struct cli_args *a);

int cmd_endpoints(const struct cli_args *a);
int cmd_check(const struct cli_args *a);
int cmd_explain(const struct cli_args *a);
int cmd_events(const struct cli_args *a);
int cmd_edit(const struct cli_args *a, enum edit_op op);
int cmd_metrics(const struct cli_args *a);
int cmd_import(const struct cli_args *a);

#endif
