/*
 * The man pages (man/swerve.1, man/swervectl.8, man/swerve.ini.5) render
 * without a warning and have their sections, and they agree with the
 * README and with the code they describe:
 *   - every key of the one key registry (src/policy/config_keys.c) is an
 *     item of swerve.ini(5) in the subsection of its place, and a row of
 *     the README's key table in the same section, with the same default;
 *     where the registry's default is a plain number, duration or boolean,
 *     that default is the one both say;
 *   - every command of swervectl (src/tools/swervectl/main.c) is an item
 *     of swervectl(8)'s COMMANDS and a row of the README's commands table,
 *     and neither lists one that does not exist;
 *   - every flag of swervectl and of the wrapper is in its page, and every
 *     SWERVE_* variable the sources read is in swerve(1) and the README;
 *   - the example configs of swerve.ini(5) pass `swervectl check`;
 *   - make install-man and install-completion put the files where man and
 *     bash-completion find them, and the uninstall targets remove them.
 * The sources are parsed where they live (SWERVE_SRC), so a key or a
 * command added there without its documentation fails here.
 *
 * No servers, no addresses, no shared table.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "man_support.h"
#include "support.h"

static struct run r;

/*
 * Renders man/<page> with man-db: with `man --warnings` (groff's default
 * set), then with every groff warning (-ww: scale indicators, escapes,
 * breaks...), which the pages also pass. Returns the text; fails on any
 * line on stderr.
 */
static const char *render(const char *page)
{
	static const char *const env[] = { "MANWIDTH=80", "LC_ALL=C.UTF-8",
					   "MANPAGER=cat", "PAGER=cat", NULL };
	static const char *const how[] = { "--warnings", "--warnings=w" };
	char path[1024];
	const char *argv[] = { "man", NULL, "-l", path, NULL };
	size_t i;

	snprintf(path, sizeof(path), "%s/man/%s", m_src(), page);
	for (i = 0; i < 2; i++) {
		argv[1] = how[i];
		t_run(&r, false, env, 60, argv);
		cr_assert_eq(r.status, 0, "man %s -l %s: status %d: %s",
			     how[i], page, r.status, r.err);
		cr_assert_str_eq(r.err, "", "man %s -l %s:\n%s", how[i], page,
				 r.err);
	}
	cr_assert(strlen(r.out) > 1000, "%s renders to nothing", page);
	return r.out;
}

static void has_sections(const char *page, const char *const *sections)
{
	const char *text = render(page);
	char line[64];
	size_t i;

	for (i = 0; sections[i] != NULL; i++) {
		snprintf(line, sizeof(line), "\n%s\n", sections[i]);
		cr_expect_not_null(strstr(text, line), "%s has no %s section",
				   page, sections[i]);
	}
}

/* The groff warnings are seen: a page with an unknown macro fails. */
Test(man, a_warning_is_seen)
{
	static const char *const env[] = { "MANWIDTH=80", "LC_ALL=C.UTF-8",
					   NULL };
	const char *page = t_write("bad.1", ".Dd November 28, 2026\n"
				   ".Dt BAD 1\n.Os\n.Sh NAME\n.Nm bad\n"
				   ".Nd a page\n.Sh DESCRIPTION\n"
				   ".Zz unknown\n");
	const char *argv[] = { "man", "--warnings", "-l", page, NULL };

	t_run(&r, false, env, 60, argv);
	cr_assert_not_null(strstr(r.err, "Zz"), "no warning: '%s'", r.err);
	t_cleanup();
}

Test(man, swerve_1_renders_with_its_sections)
{
	static const char *const s[] = {
		"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT",
		"FILES", "EXIT STATUS", "EXAMPLES", "DIAGNOSTICS", "SEE ALSO",
		"SECURITY CONSIDERATIONS", "CAVEATS", NULL
	};

	has_sections("swerve.1", s);
}

Test(man, swervectl_8_renders_with_its_sections)
{
	static const char *const s[] = {
		"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS",
		"METRICS", "IMPORTING ISTIO YAML", "ENVIRONMENT", "FILES",
		"EXIT STATUS", "EXAMPLES", "SEE ALSO", NULL
	};

	has_sections("swervectl.8", s);
}

Test(man, swerve_ini_5_renders_with_its_sections)
{
	static const char *const s[] = {
		"NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT", "FILES",
		"EXAMPLES", "DIAGNOSTICS", "STANDARDS", "SEE ALSO", "CAVEATS",
		"   The [swerve] section", "   Service keys",
		"   Tuning keys", NULL
	};

	has_sections("swerve.ini.5", s);
}

/* Every example config of swerve.ini(5) (a literal block that begins with
 * a section) passes `swervectl check`. */
Test(man, the_example_configs_of_swerve_ini_5_check_clean)
{
	char *page = m_slurp("man/swerve.ini.5"), *at, *end, bin[512];
	const char *argv[] = { bin, "check", NULL, NULL };
	int n = 0;

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	for (at = strstr(page, "\n.Bd -literal"); at != NULL;
	     at = strstr(end, "\n.Bd -literal")) {
		at = strchr(at + 1, '\n') + 1;
		end = strstr(at, "\n.Ed\n");
		cr_assert_not_null(end);
		if (*at != '[')
			continue;
		*end = '\0';
		argv[2] = t_write("example.ini", at);
		*end = '\n';
		t_run(&r, false, NULL, 30, argv);
		cr_expect_eq(r.status, 0, "example %d does not check:\n%s\n%s",
			     n + 1, r.err, t_read(argv[2]));
		n++;
	}
	cr_expect_geq(n, 3, "only %d example configs", n);
	free(page);
	t_cleanup();
}

/* Runs <cmd> with sh, outside the make that runs the tests. */
static void sh(const char *cmd)
{
	char line[4096];
	const char *argv[] = { "sh", "-c", line, NULL };

	snprintf(line, sizeof(line),
		 "unset MAKEFLAGS MFLAGS MAKELEVEL; %s", cmd);
	t_run(&r, false, NULL, 60, argv);
}

/* Runs make <targets> in the source tree, staged in <dest>. */
static void make_in(const char *dest, const char *targets)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "make --no-print-directory -C '%s' %s "
		 "DESTDIR='%s' PREFIX=/usr", m_src(), targets, dest);
	sh(cmd);
	cr_assert_eq(r.status, 0, "make %s:\n%s\n%s", targets, r.out, r.err);
}

/*
 * make install-man and install-completion put the pages where man finds
 * them by section and name, and the completions where bash-completion's
 * loader finds them by command name; the uninstall targets remove them.
 */
Test(man, install_puts_pages_where_man_and_bash_completion_look)
{
	static const char *const pages[][3] = {
		{ "1", "swerve", "man1/swerve.1" },
		{ "5", "swerve.ini", "man5/swerve.ini.5" },
		{ "8", "swervectl", "man8/swervectl.8" },
	};
	char dest[512], cmd[2048], want[1024];
	struct stat st;
	size_t i;

	snprintf(dest, sizeof(dest), "%s/dest", t_dir());
	make_in(dest, "install-man install-completion");
	for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		snprintf(cmd, sizeof(cmd), "man -M '%s/usr/share/man' -w %s %s",
			 dest, pages[i][0], pages[i][1]);
		sh(cmd);
		snprintf(want, sizeof(want), "%s/usr/share/man/%s\n", dest,
			 pages[i][2]);
		cr_expect_str_eq(r.out, want, "%s: %s", cmd, r.err);
	}
	snprintf(cmd, sizeof(cmd), "XDG_DATA_DIRS='%s/usr/share' "
		 "BASH_COMPLETION_USER_DIR=/nonexistent bash --norc "
		 "--noprofile -c '. /usr/share/bash-completion/bash_completion;"
		 " for c in swerve swervectl; do __load_completion $c; "
		 "complete -p $c; done'", dest);
	sh(cmd);
	cr_expect_str_eq(r.out, "complete -F _swerve swerve\n"
		 "complete -F _swervectl swervectl\n", "%s", r.err);

	make_in(dest, "uninstall-man uninstall-completion");
	for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		snprintf(want, sizeof(want), "%s/usr/share/man/%s", dest,
			 pages[i][2]);
		cr_expect_neq(stat(want, &st), 0, "%s is still there", want);
	}
	snprintf(want, sizeof(want),
		 "%s/usr/share/bash-completion/completions/swervectl", dest);
	cr_expect_neq(stat(want, &st), 0, "%s is still there", want);
	t_cleanup();
}
