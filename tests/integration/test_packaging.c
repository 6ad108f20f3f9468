/*
 * The habits of a well-kept system tool: `swerve --version` and `swervectl
 * --version` name the release and the commit; make install, install-preload
 * and uninstall honour DESTDIR and PREFIX for every file and undo exactly
 * what they did (always into a DESTDIR of the test, never into /); make
 * dist packs HEAD with its commit. Building the tarball on a fresh tree is
 * make distcheck's job (a whole build: too slow for make test).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

static const char *src(void)
{
	const char *s = getenv("SWERVE_SRC");

	return s != NULL && s[0] != '\0' ? s : ".";
}

/* The contents of <path>, or "" (static storage per call slot). */
static const char *slurp(const char *path)
{
	static char bufs[4][65536];
	static int slot;
	char *buf = bufs[slot++ % 4];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(bufs[0]) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The commit the build says it came from: git describe of the checkout,
 * else the tarball's COMMIT file, else "unknown" (scripts/version.sh).
 * Without "-dirty": a file edited while the suite runs must not fail it. */
static void expected_version(const char *tool, char *out, size_t cap)
{
	static struct run r;
	char path[600], version[64] = "";
	const char *argv[] = { "git", "-C", src(), "describe", "--always",
			       NULL };

	snprintf(path, sizeof(path), "%s/VERSION", src());
	sscanf(slurp(path), "%63s", version);
	cr_assert_neq(version[0], '\0', "no VERSION in %s", src());
	snprintf(path, sizeof(path), "%s/.git", src());
	if (exists(path)) {
		t_run(&r, false, NULL, 30, argv);
		cr_assert_eq(r.status, 0, "%s", r.err);
		r.out[strcspn(r.out, "\n")] = '\0';
	} else {
		snprintf(path, sizeof(path), "%s/COMMIT", src());
		snprintf(r.out, sizeof(r.out), "%s",
			 exists(path) ? slurp(path) : "unknown");
		r.out[strcspn(r.out, "\n")] = '\0';
	}
	snprintf(out, cap, "%s %s (commit %.64s)\n", tool, version, r.out);
}

/* <line> without the "-dirty" that marks a build with uncommitted
 * changes (only the commit's own name may carry no other). */
static char *undirty(char *line)
{
	char *d = strstr(line, "-dirty)\n");

	if (d != NULL)
		memmove(d, d + 6, strlen(d + 6) + 1);
	return line;
}

Test(packaging, both_tools_report_the_version_and_the_commit)
{
	static struct run r;
	char bin[512], want[256];
	const char *tools[] = { "swerve", "swervectl" };
	size_t i;

	for (i = 0; i < 2; i++) {
		const char *argv[] = { bin, "--version", NULL };

		snprintf(bin, sizeof(bin), "%s/%s", t_build(), tools[i]);
		expected_version(tools[i], want, sizeof(want));
		t_run(&r, false, NULL, 10, argv);
		cr_assert_eq(r.status, 0, "%s: %s", bin, r.err);
		cr_assert_str_eq(undirty(r.out), want);
		cr_assert_str_eq(r.err, "");
	}
	/* Among swervectl's options too, as GNU tools take it. */
	{
		const char *argv[] = { bin, "endpoints", "--version", NULL };

		t_run(&r, false, NULL, 10, argv);
		cr_assert_eq(r.status, 0);
		cr_assert_str_eq(undirty(r.out), want);
	}
}

/* make -C SRC BUILD=... DESTDIR=<dest> PREFIX=/opt/sw <target>, with the
 * runner's own make variables left out. */
static void make(struct run *r, const char *dest, const char *target)
{
	char build[600], destdir[600];
	const char *argv[] = { "env", "-u", "MAKEFLAGS", "-u", "MFLAGS",
			       "-u", "MAKELEVEL", "make", "-s", "-C", src(),
			       build, destdir, "PREFIX=/opt/sw", target,
			       NULL };

	snprintf(build, sizeof(build), "BUILD=%s", t_build());
	snprintf(destdir, sizeof(destdir), "DESTDIR=%s", dest);
	t_run(r, false, NULL, 120, argv);
	cr_assert_eq(r->status, 0, "make %s: %s%s", target, r->out, r->err);
}

/* Every file (not directory) under <dir>, one per line, sorted. */
static const char *files_under(const char *dir)
{
	static struct run r;
	char cmd[700];
	const char *argv[] = { "sh", "-c", cmd, NULL };

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && find . ! -type d | sed 's|^\\./||' | sort", dir);
	t_run(&r, false, NULL, 10, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	return r.out;
}

/* A sanitizer build installs the same files, and a make run from here
 * might relink a tool without the sanitizer's flags. */
static void skip_if_sanitized(void)
{
	if (t_sanitized())
		cr_skip_test("a sanitizer build: the plain one tests install");
}

Test(packaging, install_puts_every_file_under_destdir_and_prefix,
     .timeout = 300)
{
	static struct run r;
	char dest[600], path[700], listed[4096] = "";
	const char *argv[] = { path, "-c", "/dev/null", "--", "sh", "-c",
			       "echo \"$LD_PRELOAD\"", NULL };
	const char *p;

	skip_if_sanitized();
	snprintf(dest, sizeof(dest), "%s/dest", t_dir());
	make(&r, dest, "install");
	snprintf(listed, sizeof(listed), "%s", files_under(dest));
	for (p = listed; *p != '\0'; p = strchr(p, '\n') + 1)
		cr_assert(strncmp(p, "opt/sw/", 7) == 0,
			  "installed outside PREFIX: %.*s",
			  (int)strcspn(p, "\n"), p);
	cr_assert(strstr(listed, "opt/sw/bin/swerve\n") != NULL, "%s", listed);
	cr_assert(strstr(listed, "opt/sw/bin/swervectl\n") != NULL);
	cr_assert(strstr(listed, "opt/sw/lib/swerve/libswerve.so\n") != NULL);
	cr_assert(strstr(listed, "opt/sw/share/doc/swerve/swerve.ini\n") !=
		  NULL);
	cr_assert(strstr(listed, ".new") == NULL, "%s", listed);

	/* The installed wrapper finds the installed library. */
	snprintf(path, sizeof(path), "%s/opt/sw/bin/swerve", dest);
	t_run(&r, false, NULL, 10, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	snprintf(path, sizeof(path), "%s/opt/sw/lib/swerve/libswerve.so\n",
		 dest);
	cr_assert_str_eq(r.out, path);

	make(&r, dest, "uninstall");
	cr_assert_str_eq(files_under(dest), "", "left behind");
	t_cleanup();
}

Test(packaging, install_preload_adds_one_line_and_uninstall_removes_it,
     .timeout = 300)
{
	static struct run r;
	char dest[600], preload[700], conf[700], example[700], edited[70000];
	const char *lib = "/opt/sw/lib/swerve/libswerve.so";
	char both[256];

	skip_if_sanitized();
	snprintf(dest, sizeof(dest), "%s/dest", t_dir());
	snprintf(preload, sizeof(preload), "%s/etc/ld.so.preload", dest);
	snprintf(conf, sizeof(conf), "%s/etc/swerve/swerve.ini", dest);
	snprintf(example, sizeof(example), "%s/conf/swerve.ini", src());
	snprintf(both, sizeof(both), "/opt/other/libother.so\n%s\n", lib);
	cr_assert_eq(mkdir(dest, 0755), 0);
	snprintf(edited, sizeof(edited), "%s/etc", dest);
	cr_assert_eq(mkdir(edited, 0755), 0);
	t_write("dest/etc/ld.so.preload", "/opt/other/libother.so\n");

	make(&r, dest, "install-preload");
	cr_assert_str_eq(slurp(preload), both);
	cr_assert_str_eq(slurp(conf), slurp(example));
	cr_assert(strstr(r.err, "WARNING") != NULL, "%s", r.err);
	cr_assert(strstr(r.err, "make uninstall") != NULL, "%s", r.err);

	/* Again, over an edited config: one line still, the edit kept. */
	snprintf(edited, sizeof(edited), "%s; edited\n", slurp(example));
	t_write("dest/etc/swerve/swerve.ini", edited);
	make(&r, dest, "install-preload");
	cr_assert_str_eq(slurp(preload), both);
	cr_assert_str_eq(slurp(conf), edited);

	make(&r, dest, "uninstall");
	cr_assert_str_eq(slurp(preload), "/opt/other/libother.so\n");
	cr_assert_str_eq(slurp(conf), edited);
	cr_assert(strstr(r.err, "edited") != NULL, "%s", r.err);
	cr_assert_str_eq(files_under(dest),
			 "etc/ld.so.preload\netc/swerve/swerve.ini\n");

	/* From nothing: uninstall leaves nothing, not even an empty file. */
	cr_assert(unlink(preload) == 0 && unlink(conf) == 0);
	make(&r, dest, "install-preload");
	cr_assert_str_eq(slurp(preload), "/opt/sw/lib/swerve/libswerve.so\n");
	make(&r, dest, "uninstall");
	cr_assert_str_eq(files_under(dest), "");
	t_cleanup();
}

/*
 * make dist packs exactly HEAD's files plus COMMIT, and from the unpacked
 * tree, where there is no .git, the version header carries that commit.
 */
Test(packaging, dist_packs_head_and_its_commit, .timeout = 120)
{
	static struct run r, files;
	char path[700], cmd[2048], head[128];
	const char *sh[] = { "sh", "-c", cmd, NULL };
	const char *describe[] = { "git", "-C", src(), "describe", "--always",
				   "HEAD", NULL };
	const char *ls[] = { "git", "-C", src(), "ls-tree", "-r",
			     "--name-only", "HEAD", NULL };
	char version[64] = "";
	long nfiles = 0;
	const char *p;

	snprintf(path, sizeof(path), "%s/.git", src());
	if (!exists(path))
		cr_skip_test("not a git checkout: nothing to pack");
	t_run(&r, false, NULL, 30, describe);
	cr_assert_eq(r.status, 0, "%s", r.err);
	snprintf(head, sizeof(head), "%.*s", (int)strcspn(r.out, "\n"), r.out);
	snprintf(path, sizeof(path), "%s/VERSION", src());
	sscanf(slurp(path), "%63s", version);
	make(&r, t_dir(), "dist");

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && tar -xzf '%s/swerve-%s.tar.gz' && "
		 "find swerve-%s ! -type d | sort",
		 t_dir(), t_build(), version, version);
	t_run(&files, false, NULL, 60, sh);
	cr_assert_eq(files.status, 0, "%s", files.err);
	t_run(&r, false, NULL, 30, ls);
	for (p = r.out; *p != '\0'; p = strchr(p, '\n') + 1) {
		snprintf(cmd, sizeof(cmd), "swerve-%s/%.*s\n", version,
			 (int)strcspn(p, "\n"), p);
		cr_assert(strstr(files.out, cmd) != NULL, "not packed: %s",
			  cmd);
		nfiles++;
	}
	for (p = files.out; *p != '\0'; p = strchr(p, '\n') + 1)
		nfiles--;
	cr_assert_eq(nfiles, -1, "HEAD's files and COMMIT, nothing else");
	snprintf(path, sizeof(path), "%s/swerve-%s/COMMIT", t_dir(), version);
	snprintf(cmd, sizeof(cmd), "%s\n", head);
	cr_assert_str_eq(slurp(path), cmd);

	snprintf(cmd, sizeof(cmd), "'%s/swerve-%s/scripts/version.sh' "
		 "'%s/swerve-%s'", t_dir(), version, t_dir(), version);
	t_run(&r, false, NULL, 30, sh);
	snprintf(path, sizeof(path), "#define SWERVE_COMMIT \"%s\"\n", head);
	cr_assert(strstr(r.out, path) != NULL, "%s", r.out);
	t_cleanup();
}
