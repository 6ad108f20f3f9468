/*
 * The README and the man pages agree, with each other and with the code:
 *   - every key of the one key registry (src/policy/config_keys.c's
 *     table) is an item of swerve.ini(5) in the subsection of its place,
 *     a row of the README's key table (Configuration) in the same section,
 *     with the same default, and named in the README's "Every key and its
 *     Istio name"; where the registry's default is a plain number,
 *     duration or boolean, it is the default both say;
 *   - the commands that src/tools/swervectl/main.c dispatches are exactly
 *     the items of swervectl(8)'s COMMANDS and the rows of the README's
 *     commands table;
 *   - every flag of swervectl and of the wrapper is in its page;
 *   - every SWERVE_* variable the sources read is in swerve(1)'s
 *     ENVIRONMENT and in the README.
 * The sources are parsed where they live (SWERVE_SRC), so a key, command,
 * flag or variable added without its documentation fails here.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "man_support.h"
#include "support.h"

enum place { P_SWERVE, P_TUNING, P_SERVICE, P_NONE };
enum kind { K_OTHER, K_UINT, K_DURATION, K_BOOL };

static const char *const place_names[] = { "[swerve]", "tuning",
					   "[service NAME]", "none" };

/* One key of the registry, as its table entry says it. */
struct key {
	char name[64];
	enum place place;
	enum kind kind;
	bool has_def;             /* .def is a decimal literal */
	unsigned long long def;
};

/* Blanks out every C comment of <text>, in place. */
static void strip_comments(char *text)
{
	char *a, *b;

	while ((a = strstr(text, "/*")) != NULL) {
		b = strstr(a + 2, "*/");
		cr_assert_not_null(b);
		memset(a, ' ', (size_t)(b + 2 - a));
	}
}

/* The place, kind and default of one entry's text <body>. */
static void read_entry(const char *body, struct key *k)
{
	const char *d;

	k->place = strstr(body, "TUNING") != NULL ? P_TUNING
		   : strstr(body, "SWERVE(") != NULL ||
				   strstr(body, "PLACE_SWERVE") != NULL
			   ? P_SWERVE
		   : strstr(body, "SERVICE(") != NULL ||
				   strstr(body, "PLACE_SERVICE") != NULL
			   ? P_SERVICE
			   : P_NONE;
	k->kind = strstr(body, "VALUE_UINT") != NULL	   ? K_UINT
		  : strstr(body, "VALUE_BOOL") != NULL	   ? K_BOOL
		  : strstr(body, "DURATION,") != NULL ? K_DURATION
			  : K_OTHER;
	d = strstr(body, ".def = ");
	k->has_def = d != NULL && isdigit((unsigned char)d[7]);
	if (k->has_def)
		k->def = strtoull(d + 7, NULL, 10);
}

/* The keys of the registry; their number. */
static int registry(struct key *keys, int max)
{
	char *text = m_slurp("src/policy/config_keys.c"), *p, *end, *q, *next;
	int n = 0;

	strip_comments(text);
	p = strstr(text, "keys[KEY_COUNT] = {");
	cr_assert_not_null(p, "no key table in config_keys.c");
	end = strstr(p, "\n};");
	cr_assert_not_null(end);
	*end = '\0';
	for (q = strstr(p, "] = { \""); q != NULL; q = next) {
		char *name = q + 7, *quote = strchr(name, '"');

		cr_assert(n < max && quote != NULL);
		next = strstr(quote, "] = { \"");
		if (next != NULL)
			*next = '\0';
		snprintf(keys[n].name, sizeof(keys[n].name), "%.*s",
			 (int)(quote - name), name);
		read_entry(quote, &keys[n]);
		cr_assert_neq(keys[n].place, P_NONE, "%s: no place",
			      keys[n].name);
		if (next != NULL)
			*next = ']';
		n++;
	}
	cr_assert_gt(n, 30, "only %d keys found in config_keys.c", n);
	free(text);
	return n;
}

/*
 * The text after "Default: " of <key>'s item in <sub> (a subsection of
 * swerve.ini(5)), into <out>; false when the key has no item there. The
 * default is the first line of the item's text.
 */
static bool man_default(const char *sub, const char *key, char *out,
			size_t len)
{
	char head[96];
	const char *at = NULL, *l, *nl;

	snprintf(head, sizeof(head), "\n.It Cm %.63s ", key);
	at = strstr(sub, head);
	if (at == NULL) {
		snprintf(head, sizeof(head), "\n.It Xo\n.Cm %.63s ", key);
		at = strstr(sub, head);
		if (at != NULL)
			at = strstr(at, "\n.Xc");
	}
	if (at == NULL)
		return false;
	l = strchr(at + 1, '\n');
	cr_assert_not_null(l);
	l++;
	nl = strchr(l, '\n');
	cr_assert(strncmp(l, "Default: ", 9) == 0,
		  "swerve.ini.5: the item of %s does not begin with "
		  "'Default: '", key);
	snprintf(out, len, "%.*s", (int)(nl - l - 9), l + 9);
	return true;
}

/* Splits a table row <line> into at most <max> trimmed cells ("\|" is no
 * separator); their number. The cells point into <line>, cut. */
static int cells(char *line, char **cell, int max)
{
	char *p = line, *start, *e;
	int n = 0;

	if (*p == '|')
		p++;
	for (start = p; *p != '\0' && *p != '\n' && n < max; p++) {
		if (*p == '|' && p[-1] != '\\') {
			*p = '\0';
			while (*start == ' ')
				start++;
			for (e = p - 1; e >= start && *e == ' '; e--)
				*e = '\0';
			cell[n++] = start;
			start = p + 1;
		}
	}
	return n;
}

/* The README's row of <key> in the Configuration table: its section (the
 * last one named above it) and its default, backticks removed. */
static bool readme_row(const char *table, const char *key, enum place *pl,
		       char *def, size_t len)
{
	char want[96], line[2048], *cell[6];
	const char *l = table, *nl, *c;
	enum place section = P_NONE;
	size_t o = 0;

	snprintf(want, sizeof(want), "`%.63s`", key);
	for (; l != NULL && *l != '\0'; l = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(l, '\n');
		snprintf(line, sizeof(line), "%.*s",
			 (int)(nl != NULL ? nl - l : (long)strlen(l)), l);
		if (line[0] != '|' || strncmp(line, "|---", 4) == 0 ||
		    cells(line, cell, 6) < 4)
			continue;
		if (strstr(cell[0], "[defaults]") != NULL)
			section = P_TUNING;
		else if (strstr(cell[0], "[swerve]") != NULL)
			section = P_SWERVE;
		else if (strstr(cell[0], "[service NAME]") != NULL)
			section = P_SERVICE;
		if (strstr(cell[1], want) == NULL)
			continue;
		*pl = section;
		for (c = cell[2]; *c != '\0' && o + 1 < len; c++)
			if (*c != '`')
				def[o++] = *c;
		def[o] = '\0';
		return true;
	}
	return false;
}

/* A default as the README writes it ("10s", "0s (off)", "5", "false"),
 * in the registry's unit (ms for durations); false when it is no such
 * plain value. */
static bool parse_default(const char *s, enum kind kind,
			  unsigned long long *v)
{
	char *end;

	if (kind == K_BOOL) {
		*v = strncmp(s, "true", 4) == 0;
		return *v || strncmp(s, "false", 5) == 0;
	}
	if (!isdigit((unsigned char)*s))
		return false;
	*v = strtoull(s, &end, 10);
	if (kind == K_UINT)
		return *end == '\0' || *end == ' ';
	if (strncmp(end, "ms", 2) == 0)
		return true;
	*v *= *end == 's' ? 1000 : *end == 'm' ? 60000 : *end == 'h' ?
		3600000 : 0;
	return *v != 0 || strncmp(s, "0s", 2) == 0;
}

/* A default that depends on another key, so no literal says it. */
static bool derived_default(const char *key)
{
	return strcmp(key, "max_ejection_time") == 0; /* max(300s, base) */
}

Test(man_agree, every_key_is_in_swerve_ini_5_and_the_readme_alike)
{
	static struct key keys[128];
	char *man = m_slurp("man/swerve.ini.5");
	char *readme = m_slurp("README.md");
	char *subs[3], *table, *istio, mdef[512], rdef[512];
	unsigned long long v;
	enum place pl;
	int n = registry(keys, 128), i, checked = 0;

	/* Each ends at the next subsection: they are consecutive. */
	subs[P_SWERVE] = m_part(man, ".Ss The [swerve] section", ".Ss ");
	subs[P_TUNING] = m_part(man, ".Ss Tuning keys", ".Ss ");
	subs[P_SERVICE] = m_part(man, ".Ss Service keys", ".Ss ");
	table = m_part(readme, "## Configuration", "### ");
	istio = m_part(readme, "### Every key and its Istio name", "### ");
	cr_assert(subs[0] && subs[1] && subs[2] && table && istio);
	for (i = 0; i < n; i++) {
		const struct key *k = &keys[i];
		char tick[80];

		if (!man_default(subs[k->place], k->name, mdef, sizeof(mdef))) {
			cr_expect_fail("swerve.ini.5: no item for %s under %s",
				       k->name, place_names[k->place]);
			mdef[0] = '\0';
		}
		if (!readme_row(table, k->name, &pl, rdef, sizeof(rdef))) {
			cr_expect_fail("README: %s is not in the key table",
				       k->name);
			continue;
		}
		cr_expect_eq(pl, k->place, "README: %s is under %s, not %s",
			     k->name, place_names[pl], place_names[k->place]);
		cr_expect(mdef[0] == '\0' ||
				  strncmp(mdef, rdef, strlen(rdef)) == 0,
			  "%s: swerve.ini.5 says 'Default: %s', the README "
			  "'%s'", k->name, mdef, rdef);
		snprintf(tick, sizeof(tick), "`%.63s", k->name);
		cr_expect(m_has_word(istio, tick), "README: %s is not in "
			  "'Every key and its Istio name'", k->name);
		if (!k->has_def || k->kind == K_OTHER ||
		    derived_default(k->name))
			continue;
		cr_expect(parse_default(rdef, k->kind, &v) && v == k->def,
			  "%s: the registry's default is %llu, the docs say "
			  "'%s'", k->name, k->def, rdef);
		checked++;
	}
	/* The outlier, timeout and DNS keys at least are plain values. */
	cr_expect_geq(checked, 16, "only %d defaults compared with the "
		      "registry's", checked);
}

/*
 * The names in <text> that follow each <lead>, up to one of <stops>, into
 * <out> (at most <max>, each once); their number.
 */
static int names_after(const char *text, const char *lead, const char *stops,
		       char out[][32], int max)
{
	const char *at;
	size_t len;
	int n = 0, i;

	for (at = strstr(text, lead); at != NULL; at = strstr(at, lead)) {
		at += strlen(lead);
		len = strcspn(at, stops);
		cr_assert(len < 32 && n < max);
		snprintf(out[n], 32, "%.*s", (int)len, at);
		for (i = 0; i < n && strcmp(out[i], out[n]) != 0; i++)
			;
		if (i == n)
			n++;
	}
	return n;
}

static bool listed(char list[][32], int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/* The first word of each row of the README's commands table. */
static int readme_commands(const char *readme, char out[][32], int max)
{
	char *part = m_part(readme, "## Commands", "## ");
	const char *l;
	int n = 0;

	cr_assert_not_null(part, "README has no Commands section");
	for (l = strstr(part, "\n| `"); l != NULL; l = strstr(l, "\n| `")) {
		l += 4;
		cr_assert(n < max);
		snprintf(out[n], 32, "%.*s", (int)strcspn(l, " `"), l);
		n++;
	}
	free(part);
	return n;
}

Test(man_agree, the_commands_of_swervectl_are_those_of_its_page_and_readme)
{
	char *main_c = m_slurp("src/tools/swervectl/main.c");
	char *man = m_slurp("man/swervectl.8");
	char *readme = m_slurp("README.md");
	char *commands = m_part(man, ".Sh COMMANDS", ".Sh ");
	char code[32][32], page[32][32], doc[32][32];
	int nc, np, nd, i;

	cr_assert_not_null(commands, "swervectl.8 has no COMMANDS");
	nc = names_after(main_c, "strcmp(a.cmd, \"", "\"", code, 32);
	cr_assert_gt(nc, 8, "only %d commands in main.c", nc);
	np = names_after(commands, "\n.It Cm ", " \n", page, 32);
	nd = readme_commands(readme, doc, 32);
	for (i = 0; i < nc; i++) {
		cr_expect(listed(page, np, code[i]),
			  "swervectl.8: no item for the command %s", code[i]);
		cr_expect(listed(doc, nd, code[i]),
			  "README: no row for the command %s", code[i]);
	}
	for (i = 0; i < np; i++)
		cr_expect(listed(code, nc, page[i]),
			  "swervectl.8 describes %s, which is no command",
			  page[i]);
	for (i = 0; i < nd; i++)
		cr_expect(listed(code, nc, doc[i]),
			  "README describes %s, which is no command", doc[i]);
}

/*
 * The flags among the string literals of <code>: "-c", "--json",
 * "--config=" (as "--config"); into <out>, each once; their number.
 */
static int flags_of(const char *code, char out[][32], int max)
{
	const char *at;
	size_t len;
	int n = 0, i;

	for (at = strstr(code, "\"-"); at != NULL; at = strstr(at + 1, "\"-")) {
		len = strspn(at + 1, "-abcdefghijklmnopqrstuvwxyz");
		if (at[1 + len] != '"' && at[1 + len] != '=')
			continue;
		if (len < 2 || strncmp(at + 1, "--", len) == 0)
			continue; /* "-" and "--" */
		cr_assert(len < 32 && n < max);
		snprintf(out[n], 32, "%.*s", (int)len, at + 1);
		for (i = 0; i < n && strcmp(out[i], out[n]) != 0; i++)
			;
		if (i == n)
			n++;
	}
	return n;
}

/* Every flag of the program <code_file> is an Fl of <page_file>. */
static void flags_documented(const char *code_file, const char *page_file,
			     int at_least)
{
	char *code = m_slurp(code_file), *page = m_slurp(page_file);
	char flags[32][32], fl[40];
	int n, i;

	strip_comments(code);
	n = flags_of(code, flags, 32);

	cr_assert_geq(n, at_least, "%s: only %d flags found", code_file, n);
	for (i = 0; i < n; i++) {
		/* mdoc writes -c as "Fl c" and --json as "Fl -json". */
		snprintf(fl, sizeof(fl), "Fl %s", flags[i] + 1);
		cr_expect(m_has_word(page, fl), "%s: no %s (the flag %s of %s)",
			  page_file, fl, flags[i], code_file);
	}
}

Test(man_agree, every_flag_is_in_its_page)
{
	flags_documented("src/tools/swervectl/main.c", "man/swervectl.8", 9);
	flags_documented("src/tools/wrapper.c", "man/swerve.1", 3);
}

Test(man_agree, every_variable_is_in_swerve_1_and_the_readme)
{
	static struct run run;
	char cmd[1200], var[32][32], item[64], tick[64];
	char *page = m_slurp("man/swerve.1"), *readme = m_slurp("README.md");
	char *env = m_part(page, ".Sh ENVIRONMENT", ".Sh ");
	const char *argv[] = { "sh", "-c", cmd, NULL };
	int n, i;

	cr_assert_not_null(env, "swerve.1 has no ENVIRONMENT");
	snprintf(cmd, sizeof(cmd), "grep -rhoE 'getenv\\(\"SWERVE_[A-Z_]+\"|"
		 "\\.env = \"SWERVE_[A-Z_]+\"' '%s/src' | "
		 "grep -oE 'SWERVE_[A-Z_]+' | sort -u | sed 's/^/=/'",
		 m_src());
	t_run(&run, false, NULL, 30, argv);
	n = names_after(run.out, "=", "\n", var, 32);
	cr_assert_geq(n, 6, "only %d variables found: %s", n, run.out);
	for (i = 0; i < n; i++) {
		snprintf(item, sizeof(item), ".It Ev %.31s", var[i]);
		snprintf(tick, sizeof(tick), "`%.31s`", var[i]);
		cr_expect(m_has_word(env, item),
			  "swerve.1: %s is not in ENVIRONMENT", var[i]);
		cr_expect_not_null(strstr(readme, tick),
				   "README does not name %s", var[i]);
	}
}
