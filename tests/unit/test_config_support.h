/*
 * Helpers shared by the config unit tests: see test_config_support.c.
 */
#ifndef SWERVE_TEST_CONFIG_SUPPORT_H
#define SWERVE_TEST_CONFIG_SUPPORT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"

#define MAX_REPORTS 32

/* 21 bytes: three make a 63-byte locality part, the longest allowed. */
#define A21 "aaaaaaaaaaaaaaaaaaaaa"

/* A problem's fields apart from its text (msg[] below). */
struct report_fields {
	char file[PATH_MAX];
	int line;
	char env[64];
	bool has_env;
	char msg[512];
};

struct reports {
	char msg[MAX_REPORTS][768];     /* the text, as printed */
	bool is_error[MAX_REPORTS];
	struct report_fields fields[MAX_REPORTS];
	unsigned n;
	unsigned nerrors;
	unsigned nnotes;
};

/* A swerve_config_report_fn that appends to the struct reports <ctx>. */
void collect(void *ctx, const struct swerve_config_problem *p);

void build_fixture_path(char *buf, size_t size, const char *name);
void build_repo_path(char *buf, size_t size, const char *name);
int load_fixture(const char *name, char *path, size_t size,
		 struct swerve_config **cfg, struct reports *r);
int load_text(const char *text, char *path, size_t size,
	      struct swerve_config **cfg, struct reports *r);
void dump(const struct reports *r, char *out, size_t size);
/* Loads <text> (into <path>, PATH_MAX bytes), which must fail with
 * exactly <nerrors> errors, collected in <r>. */
void load_bad(const char *text, char *path, struct reports *r,
	      unsigned nerrors);
void expect_report(const struct reports *r, bool is_error,
		   const char *path, int line, const char *needle);
void expect_error(const struct reports *r, const char *path, int line,
		  const char *needle);
const struct swerve_service *find_service(
	const struct swerve_config *cfg, const char *name);
uint16_t get_port(const struct swerve_endpoint *ep);
uint32_t parse_ipv4(const char *s);

#endif
