/*
 * test_import_support.c: see test_import_support.h. swervectl runs through
 * sh, which sets up its redirections; single-threaded, one test per
 * process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_import_support.h"

static char dir[64];

void imp_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/swerve-import-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

void imp_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

const char *imp_write(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	cr_assert(fputs(text, f) >= 0);
	cr_assert_eq(fclose(f), 0);
	return path;
}

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

const char *imp_import(struct imp_run *r, const char *opts, const char *name,
		       const char *yaml)
{
	static char file[512];
	char args[1200];

	snprintf(file, sizeof(file), "%s", imp_write(name, yaml));
	snprintf(args, sizeof(args), "import %s %s", opts, file);
	imp_run(r, args, NULL);
	return file;
}

const char *imp_source(const char *rel)
{
	static char text[65536];
	const char *src = getenv("SWERVE_SRC");
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", src != NULL ? src : ".", rel);
	slurp(path, text, sizeof(text));
	cr_assert_neq(text[0], '\0', "%s is empty or missing", path);
	return text;
}

void imp_run(struct imp_run *r, const char *args, const char *stdin_path)
{
	const char *build = getenv("SWERVE_BUILD");
	const char *src = getenv("SWERVE_SRC");
	char cmd[4096], out[128], err[128];
	int st;

	cr_assert_not_null(build, "run through make: SWERVE_BUILD names the "
			   "build directory");
	snprintf(out, sizeof(out), "%s/stdout", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	snprintf(cmd, sizeof(cmd), "cd %s && %s/swervectl %s <%s >%s 2>%s",
		 src != NULL ? src : ".", build, args,
		 stdin_path != NULL ? stdin_path : "/dev/null", out, err);
	st = system(cmd);
	cr_assert(WIFEXITED(st), "%s", cmd);
	r->status = WEXITSTATUS(st);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
}

const char *imp_section(const char *ini, const char *section)
{
	static char keys[16384];
	char head[256];
	const char *s, *end;
	size_t n = 0;

	snprintf(head, sizeof(head), "\n[%s]\n", section);
	s = strstr(ini, head);
	keys[0] = '\0';
	if (s == NULL)
		return keys;
	for (s += strlen(head); *s != '\0' && *s != '['; s = end + 1) {
		end = strchr(s, '\n');
		if (end == NULL)
			end = s + strlen(s);
		if (*s != ';' && *s != '#' && end > s &&
		    n + (size_t)(end - s) + 2 < sizeof(keys))
			n += (size_t)snprintf(keys + n, sizeof(keys) - n,
					      "%.*s\n", (int)(end - s), s);
		if (*end == '\0')
			break;
	}
	return keys;
}

void imp_check_ok(const struct imp_run *r)
{
	struct imp_run c;
	char args[600];

	snprintf(args, sizeof(args), "check %s",
		 imp_write("made.ini", r->out));
	imp_run(&c, args, NULL);
	cr_assert_eq(c.status, 0, "check failed:\n%s\nof:\n%s", c.err,
		     r->out);
}

void imp_expect(const char *text, const char *needle)
{
	cr_assert_not_null(strstr(text, needle), "no \"%s\" in:\n%s", needle,
			   text);
}

void imp_expect_warning(const char *text, const char *file, int line,
			const char *msg)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s:%d: warning: %s", file, line, msg);
	imp_expect(text, want);
}
