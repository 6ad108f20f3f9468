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
 * else the tarball's COMMIT file, else "unknown" (scripts/version.sh). */
static void expected_version(const char *tool, char *out, size_t cap)
{
	static struct run r;
	char path[600], version[64] = "";
	const char *argv[] = { "git", "-C", src(), "describe", "--always",
			       "--dirty", NULL };

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
		cr_assert_str_eq(r.out, want);
		cr_assert_str_eq(r.err, "");
	}
	/* Among swervectl's options too, as GNU tools take it. */
	{
		const char *argv[] = { bin, "endpoints", "--version", NULL };

		t_run(&r, false, NULL, 10, argv);
		cr_assert_eq(r.status, 0);
		cr_assert_str_eq(r.out, want);
	}
}
