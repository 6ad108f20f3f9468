/*
 * Helpers shared by the config unit tests (test_config*.c): loading a
 * fixture or a text, collecting the problems reported, and asserting on
 * them. Fixtures live in tests/fixtures/ under $SWERVE_SRC (default ".");
 * small variations are written to a temporary directory by load_text().
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/config.h"
#include "test_config_support.h"

void collect(void *ctx, const struct swerve_config_problem *p)
{
	struct reports *r = ctx;
	struct report_fields *f;

	if (p->is_error)
		r->nerrors++;
	else
		r->nnotes++;
	if (r->n == MAX_REPORTS)
		return;
	snprintf(r->msg[r->n], sizeof(r->msg[0]), "%s", p->text);
	r->is_error[r->n] = p->is_error;
	f = &r->fields[r->n];
	snprintf(f->file, sizeof(f->file), "%s", p->file);
	f->line = p->line;
	snprintf(f->env, sizeof(f->env), "%s", p->env != NULL ? p->env : "");
	f->has_env = p->env != NULL;
	snprintf(f->msg, sizeof(f->msg), "%s", p->msg);
	r->n++;
}

void build_fixture_path(char *buf, size_t size, const char *name)
{
	const char *root = getenv("SWERVE_SRC");

	snprintf(buf, size, "%s/tests/fixtures/%s",
		 root != NULL && *root != '\0' ? root : ".", name);
}

void build_repo_path(char *buf, size_t size, const char *name)
{
	const char *root = getenv("SWERVE_SRC");

	snprintf(buf, size, "%s/%s", root != NULL && *root != '\0' ? root : ".",
		 name);
}

int load_fixture(const char *name, char *path, size_t size,
		 struct swerve_config **cfg, struct reports *r)
{
	build_fixture_path(path, size, name);
	memset(r, 0, sizeof(*r));
	return swerve_config_load(path, false, cfg, collect, r, NULL, 0);
}

/* Writes <text> to a fresh file, loads it and removes it again. */
int load_text(const char *text, char *path, size_t size,
	      struct swerve_config **cfg, struct reports *r)
{
	char dir[] = "/tmp/swerve-config-XXXXXX";
	FILE *f;
	int rc;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, size, "%s/test.ini", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
	memset(r, 0, sizeof(*r));
	rc = swerve_config_load(path, false, cfg, collect, r, NULL, 0);
	unlink(path);
	rmdir(dir);
	return rc;
}

void dump(const struct reports *r, char *out, size_t size)
{
	size_t used = 0;
	unsigned i;

	out[0] = '\0';
	for (i = 0; i < r->n && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "\n  %s %s",
					 r->is_error[i] ? "error" : "note",
					 r->msg[i]);
}

/* Asserts a report "<path>:<line>: ..." containing <needle>. */
void load_bad(const char *text, char *path, struct reports *r,
	      unsigned nerrors)
{
	struct swerve_config *cfg = NULL;
	char all[MAX_REPORTS * 800];

	cr_assert_eq(load_text(text, path, PATH_MAX, &cfg, r), -EINVAL);
	cr_assert_null(cfg);
	dump(r, all, sizeof(all));
	cr_assert_eq(r->nerrors, nerrors, "%u errors:%s", r->nerrors, all);
}

void expect_report(const struct reports *r, bool is_error,
		   const char *path, int line, const char *needle)
{
	char prefix[PATH_MAX + 32];
	char all[MAX_REPORTS * 800];
	size_t plen;
	unsigned i;

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	plen = strlen(prefix);
	for (i = 0; i < r->n; i++) {
		if (r->is_error[i] == is_error &&
		    strncmp(r->msg[i], prefix, plen) == 0 &&
		    strstr(r->msg[i] + plen, needle) != NULL)
			return;
	}
	dump(r, all, sizeof(all));
	cr_assert_fail("no %s \"%s...%s\" among:%s",
		       is_error ? "error" : "note", prefix, needle, all);
}

void expect_error(const struct reports *r, const char *path, int line,
		  const char *needle)
{
	expect_report(r, true, path, line, needle);
}

const struct swerve_service *find_service(
	const struct swerve_config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->nservices; i++) {
		if (strcmp(cfg->services[i].name, name) == 0)
			return &cfg->services[i];
	}
	cr_assert_fail("no service %s", name);
	return NULL;
}

uint16_t get_port(const struct swerve_endpoint *ep)
{
	if (ep->addr.ss_family == AF_INET6)
		return ntohs(
			((const struct sockaddr_in6 *)&ep->addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&ep->addr)->sin_port);
}

uint32_t parse_ipv4(const char *s)
{
	struct in_addr in;

	cr_assert_eq(inet_pton(AF_INET, s, &in), 1);
	return ntohl(in.s_addr);
}
