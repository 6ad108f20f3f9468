/*
 * The bash completions (completion/swervectl, completion/swerve) in a
 * real bash, driven as bash drives them: COMP_LINE, COMP_POINT,
 * COMP_WORDS and COMP_CWORD set, the function called, COMPREPLY read.
 * Commands and options by prefix; the services, host names and endpoints
 * of the config the command line names (endpoints as `swervectl
 * endpoints` shows them, an address behind a name included, else as the
 * config writes them); nothing, and no table made, when the config or
 * the table is absent; an endpoint's ':' as bash splits the word there;
 * the wrapper's options, its command, and the command's own completion
 * after it; with bash-completion's loader too.
 *
 * No servers, no addresses: the config's names are resolved from
 * /etc/hosts (localhost), with dns_servers on a closed loopback port.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "man_support.h"
#include "support.h"

static struct run r;

static const char config_text[] =
	"[swerve]\n"
	"locality = us-east1/us-east1-b\n"
	"dns_servers = 127.0.0.1:9\n"
	"[service alpha]\n"
	"hosts = alpha.test, *.beta.test, alpha2.test\n"
	"resolution = dns\n"
	"endpoint = localhost:18999 locality=us-east1\n"
	"endpoint = 127.0.0.9:18998 locality=us-west1\n"
	"[service beta]\n"
	"hosts = beta.test\n"
	"endpoint = [::1]:18997\n";

/* How the completions are loaded: sourced in a plain bash, or found by
 * bash-completion's loader on first use. */
enum load { PLAIN, LOADER };

/*
 * Completes <line> with <func> in a new bash, the cursor at the end.
 * <words> is COMP_WORDS as bash would split the line (a bash array body),
 * or NULL to split it on blanks. <pre> is run first (NULL: nothing).
 * Returns the replies, one per line, sorted, each once.
 */
static const char *complete(enum load load, const char *pre,
			    const char *func, const char *line,
			    const char *words)
{
	static char script[8192];
	char load_text[2048];
	const char *argv[] = { "bash", "--norc", "--noprofile", "-c", script,
			       NULL };

	if (load == PLAIN)
		snprintf(load_text, sizeof(load_text),
			 ". '%s/completion/swervectl'\n"
			 ". '%s/completion/swerve'\n", m_src(), m_src());
	else
		snprintf(load_text, sizeof(load_text),
			 "mkdir -p '%s/bc/completions'\n"
			 "ln -sf '%s/completion/swerve' '%s/completion/swervectl'"
			 " '%s/bc/completions/'\n"
			 "export BASH_COMPLETION_USER_DIR='%s/bc'\n"
			 ". /usr/share/bash-completion/bash_completion\n"
			 "__load_completion swerve\n", t_dir(), m_src(),
			 m_src(), t_dir(), t_dir());
	snprintf(script, sizeof(script),
		 "%s%s\n"
		 "COMP_LINE='%s'; COMP_POINT=${#COMP_LINE}\n"
		 "if %s; then COMP_WORDS=(%s)\n"
		 "else read -ra COMP_WORDS <<<\"$COMP_LINE\"\n"
		 "  [[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')\n"
		 "fi\n"
		 "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()\n"
		 "%s \"${COMP_WORDS[0]}\" \"${COMP_WORDS[COMP_CWORD]}\" "
		 "\"${COMP_WORDS[COMP_CWORD - 1]}\"\n"
		 "(( ${#COMPREPLY[@]} )) && printf '%%s\\n' \"${COMPREPLY[@]}\""
		 " | LC_ALL=C sort -u\n"
		 "exit 0\n",
		 load_text, pre != NULL ? pre : "", line,
		 words != NULL ? "true" : "false", words != NULL ? words : "",
		 func);
	t_run(&r, false, NULL, 30, argv);
	cr_assert_eq(r.status, 0, "%s\n%s", r.err, script);
	cr_expect_str_eq(r.err, "", "bash said:\n%s", r.err);
	return r.out;
}

static const char *config(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s", t_write("c.ini", config_text));
	return path;
}

/* <tmpl> with its first CONF replaced by the path of the test's config,
 * into <out>. */
static void fill(char *out, size_t len, const char *tmpl)
{
	const char *at = strstr(tmpl, "CONF");

	if (at == NULL)
		snprintf(out, len, "%s", tmpl);
	else
		snprintf(out, len, "%.*s%s%s", (int)(at - tmpl), tmpl,
			 config(), at + 4);
}

/*
 * Expects the replies <want> to the line <tmpl> (words: as complete()
 * takes them, or NULL), where CONF stands for the test's config.
 */
static void expect(enum load load, const char *pre, const char *func,
		   const char *tmpl, const char *words_tmpl, const char *want)
{
	char line[1024], words[1024];

	fill(line, sizeof(line), tmpl);
	if (words_tmpl != NULL)
		fill(words, sizeof(words), words_tmpl);
	cr_expect_str_eq(complete(load, pre, func, line,
				  words_tmpl != NULL ? words : NULL),
			 want, "completing '%s'", line);
}

Test(completion, swervectl_commands_and_options_by_prefix)
{
	expect(PLAIN, NULL, "_swervectl", "swervectl e", NULL,
	       "eject\nendpoints\nevents\nexplain\n");
	expect(PLAIN, NULL, "_swervectl", "swervectl un", NULL, "uneject\n");
	expect(PLAIN, NULL, "_swervectl", "swervectl endpoints --j", NULL,
	       "--json\n");
	expect(PLAIN, NULL, "_swervectl", "swervectl metrics --", NULL,
	       "--allow-remote\n--config\n--help\n--listen\n--version\n");
	expect(PLAIN, NULL, "_swervectl", "swervectl eject alpha x --f", NULL,
	       "--for\n");
	t_cleanup();
}

Test(completion, swervectl_names_and_services_come_from_the_config)
{
	char pre[1024];

	expect(PLAIN, NULL, "_swervectl", "swervectl -c CONF explain al", NULL,
	       "alpha.test\nalpha2.test\n");
	expect(PLAIN, NULL, "_swervectl", "swervectl --config=CONF eject ",
	       NULL, "alpha\nbeta\n");
	/* $SWERVE_CONFIG when the line names none. */
	snprintf(pre, sizeof(pre), "SWERVE_CONFIG='%s'", config());
	expect(PLAIN, pre, "_swervectl", "swervectl reset b", NULL, "beta\n");
	expect(PLAIN, NULL, "_swervectl",
	       "swervectl -c CONF import --locality us-", NULL,
	       "us-east1\nus-east1/us-east1-b\nus-west1\n");
	t_cleanup();
}

/* Whether the shm name <name> exists (its file in /dev/shm). */
static bool shm_exists(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	return stat(path, &st) == 0;
}

Test(completion, swervectl_endpoints_as_swervectl_shows_them)
{
	char line[1024], pre[256];
	const char *c = config(), *shm = t_shm(), *out;

	/* The built swervectl, as typed: it shows the address behind
	 * localhost, and with no table it makes none. */
	snprintf(pre, sizeof(pre), "export SWERVE_SHM='%s'", shm);
	snprintf(line, sizeof(line), "%s/swervectl -c %s eject alpha ",
		 t_build(), c);
	out = complete(PLAIN, pre, "_swervectl", line, NULL);
	cr_expect_not_null(strstr(out, "127.0.0.1:18999\n"), "%s", out);
	cr_expect_not_null(strstr(out, "127.0.0.9:18998\n"), "%s", out);
	cr_expect_null(strstr(out, "localhost"), "%s", out);
	cr_expect(!shm_exists(shm), "completing made the table %s", shm);

	/* No swervectl to ask: the config's own endpoint lines. */
	expect(PLAIN, "PATH=/usr/bin:/bin", "_swervectl",
	       "swervectl -c CONF uneject alpha ", NULL,
	       "127.0.0.9:18998\nlocalhost:18999\n");
	expect(PLAIN, "PATH=/usr/bin:/bin", "_swervectl",
	       "swervectl -c CONF reset beta [", NULL, "[::1]:18997\n");
	t_cleanup();
}

/* bash splits "127.0.0.9:18" at the ':': the reply completes the part
 * after it. */
Test(completion, swervectl_endpoint_after_a_colon)
{
	expect(PLAIN, "PATH=/usr/bin:/bin", "_swervectl",
	       "swervectl -c CONF eject alpha 127.0.0.9:18",
	       "swervectl -c CONF eject alpha 127.0.0.9 : 18", "18998\n");
	t_cleanup();
}

/* A config that is not there completes nothing, and says nothing. */
Test(completion, swervectl_without_a_config)
{
	expect(PLAIN, NULL, "_swervectl",
	       "swervectl -c /nonexistent/c.ini eject ", NULL, "");
	expect(PLAIN, "SWERVE_CONFIG=/nonexistent/c.ini", "_swervectl",
	       "swervectl explain a", NULL, "");
	expect(PLAIN, NULL, "_swervectl",
	       "swervectl -c /nonexistent/c.ini eject a ", NULL, "");
	t_cleanup();
}

Test(completion, swerve_options_command_and_the_command_s_completion)
{
	char pre[1024];

	expect(PLAIN, NULL, "_swerve", "swerve -", NULL,
	       "--\n--config=\n--help\n--version\n-c\n-h\n");
	snprintf(pre, sizeof(pre), "PATH='%s':/usr/bin:/bin", t_build());
	expect(PLAIN, pre, "_swerve", "swerve -c CONF swervect", NULL,
	       "swervectl\n");
	/* The command runs with SWERVE_CONFIG set to -c: so is it
	 * completed. */
	expect(PLAIN, pre, "_swerve", "swerve -c CONF swervectl eject ", NULL,
	       "alpha\nbeta\n");
	expect(PLAIN, pre, "_swerve", "swerve --config=CONF -- swervectl ex",
	       "swerve --config = CONF -- swervectl ex", "explain\n");
	t_cleanup();
}

/* As installed: bash-completion's loader finds both files by command
 * name, and its _command_offset hands the wrapper's command over. */
Test(completion, with_bash_completion_s_loader)
{
	char pre[1024];

	snprintf(pre, sizeof(pre), "PATH='%s':/usr/bin:/bin", t_build());
	expect(LOADER, pre, "_swerve", "swerve -c CONF swervectl eject a", NULL,
	       "alpha\n");
	expect(LOADER, "__load_completion swervectl", "_swervectl",
	       "swervectl ev", NULL, "events\n");
	t_cleanup();
}
