/*
 * config_read.c: the reader and the handler given to inih, and the
 * sections they open.
 *
 * inih drives the parse, but two of its limits shape this file: it does not
 * tell the handler the line number (Debian builds it with
 * INI_HANDLER_LINENO 0), and it cuts section names to 49 bytes, shorter
 * than "service " plus a 63-byte name. So config_read_line(), the reader
 * given to ini_parse_stream(), sees every physical line first: it counts
 * lines, classifies each one the way inih will, and opens sections itself.
 * inih calls the reader once per line and the handler right after it, so
 * the handler always finds the current line and section in struct parse.
 *
 * Thread-safety: used only by the thread loading a config; all state is in
 * its struct parse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config_int.h"

/*
 * Starts a section whose keys are checked but kept nowhere (see struct
 * parse's scratch); <where> names it in messages.
 */
static void ignore_section(struct parse *p, const char *where)
{
	p->section = SECTION_IGNORED;
	swerve_config_free(p->scratch);
	p->scratch = NULL;
	memset(&p->scratch_state, 0, sizeof(p->scratch_state));
	memset(p->scratch_key_line, 0, sizeof(p->scratch_key_line));
	snprintf(p->where, sizeof(p->where), "%s", where);
}

/*
 * Hands a key of an ignored section to its handler as if it stood in the
 * section where it belongs, with the scratch config in place of the real
 * one, so its errors are reported and nothing of it is kept.
 */
static void check_ignored_key(struct parse *p, const char *name,
			      const char *value)
{
	struct swerve_config *cfg = p->cfg;
	struct service_state *states = p->states;
	unsigned service = p->service;
	int key_line[KEY_COUNT];

	if (p->scratch == NULL) {
		p->scratch = calloc(1, sizeof(*p->scratch));
		if (p->scratch != NULL)
			p->scratch->services =
				calloc(1, sizeof(*p->scratch->services));
		if (p->scratch == NULL || p->scratch->services == NULL) {
			p->oom = true;
			return;
		}
		p->scratch->nservices = 1;
	}
	memcpy(key_line, p->swerve_key_line, sizeof(key_line));
	memcpy(p->swerve_key_line, p->scratch_key_line, sizeof(key_line));
	p->cfg = p->scratch;
	p->states = &p->scratch_state;
	p->service = 0;
	p->section = config_home_section(name);
	config_handle_key(p, name, value);
	p->section = SECTION_IGNORED;
	p->cfg = cfg;
	p->states = states;
	p->service = service;
	memcpy(p->scratch_key_line, p->swerve_key_line, sizeof(key_line));
	memcpy(p->swerve_key_line, key_line, sizeof(key_line));
}

/* The ini_handler: <section> is ignored, see config_read_line(). */
int config_handle_pair(void *user, const char *section, const char *name,
		       const char *value)
{
	struct parse *p = user;

	(void)section;
	if (p->oom)
		return 1;
	if (p->section == SECTION_NONE) {
		config_error(p, "key '%s' comes before any [section]", name);
		return 1;
	}
	if (*name == '\0') {
		config_error(p, "missing key name before '='");
		return 1;
	}
	if (*value == '\0') {
		config_error(p, "key '%s' in %s needs a value", name,
			     p->where);
		return 1;
	}
	if (p->section == SECTION_IGNORED)
		check_ignored_key(p, name, value);
	else
		config_handle_key(p, name, value);
	return 1;
}

static bool is_valid_service_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SERVICE_NAME_MAX)
		return false;
	for (; *s != '\0'; s++) {
		char c = to_lower(*s);

		if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '_' ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

static void open_service(struct parse *p, const char *name)
{
	struct swerve_config *cfg = p->cfg;
	struct swerve_service *svc;
	char where[CONFIG_LINE_MAX + 16];
	unsigned i;

	snprintf(where, sizeof(where), "[service %s]", name);
	ignore_section(p, where);
	if (*name == '\0') {
		config_error(p, "a service section needs a name: [service "
			     "NAME]");
		return;
	}
	if (!is_valid_service_name(name)) {
		config_error(p, "bad service name '%s': use 1 to 63 of A-Z a-z "
			     "0-9 _ . -", name);
		return;
	}
	for (i = 0; i < cfg->nservices; i++) {
		if (strcmp(cfg->services[i].name, name) == 0) {
			config_error(p, "[service %s] appears twice (first at "
				     "line %d)", name, cfg->services[i].line);
			return;
		}
	}
	if (cfg->nservices == SWERVE_MAX_SERVICES) {
		config_error(p, "more than %d services", SWERVE_MAX_SERVICES);
		return;
	}
	if (cfg->nservices == p->cap_services) {
		unsigned cap = p->cap_services != 0 ? p->cap_services * 2 : 8;
		struct swerve_service *services;
		struct service_state *states;

		/* Grown one after the other: each stays valid if the next
		 * allocation fails, and cap_services only counts both. */
		services = realloc(cfg->services, cap * sizeof(*services));
		if (services == NULL) {
			p->oom = true;
			return;
		}
		cfg->services = services;
		states = realloc(p->states, cap * sizeof(*states));
		if (states == NULL) {
			p->oom = true;
			return;
		}
		p->states = states;
		p->cap_services = cap;
	}
	svc = &cfg->services[cfg->nservices];
	memset(svc, 0, sizeof(*svc));
	memset(&p->states[cfg->nservices], 0, sizeof(p->states[0]));
	/* is_valid_service_name() bounded the length already */
	memcpy(svc->name, name, strnlen(name, sizeof(svc->name) - 1));
	svc->line = p->lineno;
	p->service = cfg->nservices++;
	p->section = SECTION_SERVICE;
	snprintf(p->where, sizeof(p->where), "[service %s]", svc->name);
}

static void open_section(struct parse *p, const char *text, size_t len)
{
	char name[CONFIG_LINE_MAX], where[CONFIG_LINE_MAX + 2];
	int *seen = NULL;

	config_copy_trimmed(name, sizeof(name), text, len);
	if (strcmp(name, "swerve") == 0) {
		p->section = SECTION_SWERVE;
		seen = &p->swerve_line;
	} else if (strcmp(name, "defaults") == 0) {
		p->section = SECTION_DEFAULTS;
		seen = &p->defaults_line;
	} else if (strncmp(name, "service", 7) == 0 &&
		   (name[7] == '\0' || is_space(name[7]))) {
		config_copy_trimmed(name, sizeof(name), name + 7,
				    strlen(name + 7));
		open_service(p, name);
		return;
	} else {
		config_error(p, "unknown section [%s]: use [swerve], "
			     "[defaults] or [service NAME]", name);
		snprintf(where, sizeof(where), "[%s]", name);
		ignore_section(p, where);
		return;
	}
	if (*seen != 0) {
		config_error(p, "[%s] appears twice (first at line %d)", name,
			     *seen);
		snprintf(where, sizeof(where), "[%s]", name);
		ignore_section(p, where);
		return;
	}
	*seen = p->lineno;
	snprintf(p->where, sizeof(p->where), "[%s]", name);
}

/* inih's find_chars_or_comment(): ';' starts a comment after a blank. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s != '\0' && strchr(chars, *s) == NULL &&
	       !(was_space && *s == ';')) {
		was_space = is_space(*s);
		s++;
	}
	return s;
}

/*
 * Mirrors inih's decision for one line (ini.c, ini_parse_stream) so that
 * sections and syntax errors are known with their line numbers.
 */
static void classify_line(struct parse *p, const char *line)
{
	const char *s = line;
	const char *end;

	while (is_space(*s))
		s++;
	if (*s == '\0' || *s == ';' || *s == '#')
		return;
	/* A non-blank line with leading blanks continues the last value. */
	if (p->prev_name && s > line)
		return;
	if (*s == '[') {
		end = find_chars_or_comment(s + 1, "]");
		if (*end != ']') {
			config_error(p, "section header without ']'");
			if (p->first_syntax_line == 0)
				p->first_syntax_line = p->lineno;
			/* Read on as if the ']' were there, so the keys
			 * below are still checked where they belong. */
			open_section(p, s + 1, (size_t)(end - s - 1));
			p->prev_name = false;
			return;
		}
		open_section(p, s + 1, (size_t)(end - s - 1));
		p->prev_name = false;
		return;
	}
	end = find_chars_or_comment(s, "=:");
	if (*end != '=' && *end != ':') {
		config_error(p, "expected 'key = value' or a [section] header");
		if (p->first_syntax_line == 0)
			p->first_syntax_line = p->lineno;
		return;
	}
	p->prev_name = end > s;
}

/*
 * The ini_reader: one physical line per call, so p->lineno is the line
 * inih is about to hand to config_handle_pair(). A line too long for inih's
 * buffer would be split into pieces parsed as separate lines, so it is
 * reported here and replaced by an empty line.
 */
char *config_read_line(char *buf, int size, void *stream)
{
	struct parse *p = stream;
	size_t max = (size_t)size - 2;
	size_t n = 0;
	size_t skip = 0;
	bool too_long = false;
	const char *s;
	int c;

	while ((c = getc(p->file)) != EOF && c != '\n') {
		if (++p->bytes > SWERVE_MAX_CONFIG_BYTES) {
			/* A file that grows while it is read. */
			p->too_big = true;
			return NULL;
		}
		if (n < max)
			buf[n++] = (char)c;
		else
			too_long = true;
	}
	if (c == EOF) {
		if (ferror(p->file)) {
			p->read_errno = errno != 0 ? errno : EIO;
			return NULL;
		}
		if (n == 0)
			return NULL;
	}
	p->lineno++;
	buf[n] = '\0';
	if (p->lineno == 1 && strncmp(buf, "\xef\xbb\xbf", 3) == 0)
		skip = 3;       /* a UTF-8 byte order mark */
	memmove(buf, buf + skip, n - skip + 1);
	n -= skip;
	if (too_long) {
		for (s = buf; is_space(*s); s++)
			;
		/* a long comment is harmless once dropped whole */
		if (*s != ';' && *s != '#') {
			config_error(p, "line is longer than %zu characters",
				     max);
			if (*s == '[')
				ignore_section(p, "a section whose header "
					       "is too long");
		}
		n = 0;
		buf[0] = '\0';
	}
	buf[n++] = '\n';
	buf[n] = '\0';
	if (!too_long)
		classify_line(p, buf);
	return buf;
}
