/*
 * man_support: the string helpers of the man pages' tests (man_support.h).
 * Single-threaded.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "man_support.h"
#include "support.h"

const char *m_src(void)
{
	static char path[PATH_MAX];
	const char *s = getenv("SWERVE_SRC");

	/* Absolute: the tests hand it to programs in other directories. */
	if (path[0] == '\0' &&
	    realpath(s != NULL && s[0] != '\0' ? s : ".", path) == NULL)
		cr_assert_fail("SWERVE_SRC: %s", strerror(errno));
	return path;
}

char *m_slurp(const char *rel)
{
	char path[1024];
	const char *text;

	snprintf(path, sizeof(path), "%s/%s", m_src(), rel);
	text = t_read(path);
	cr_assert(text[0] != '\0', "%s is missing or empty", path);
	return strdup(text);
}

/* The start of the line after the one at <l>, or NULL. */
static const char *next_line(const char *l)
{
	const char *nl = strchr(l, '\n');

	return nl != NULL && nl[1] != '\0' ? nl + 1 : NULL;
}

char *m_part(const char *text, const char *start, const char *end)
{
	size_t n = strlen(start), e = strlen(end);
	const char *a, *b;

	for (a = text; a != NULL; a = next_line(a))
		if (strncmp(a, start, n) == 0 && (a[n] == '\n' || a[n] == '\0'))
			break;
	if (a == NULL)
		return NULL;
	a = next_line(a);
	if (a == NULL)
		return strdup("");
	for (b = a; b != NULL; b = next_line(b))
		if (strncmp(b, end, e) == 0)
			break;
	if (b == NULL)
		b = a + strlen(a);
	return strndup(a, (size_t)(b - a));
}

bool m_has_item(const char *text, const char *head, const char *word)
{
	size_t h = strlen(head), w = strlen(word);
	const char *l;
	char c;

	for (l = text; l != NULL; l = next_line(l)) {
		if (strncmp(l, head, h) != 0 || strncmp(l + h, word, w) != 0)
			continue;
		c = l[h + w];
		if (c == ' ' || c == '\n' || c == '\0')
			return true;
	}
	return false;
}

bool m_has_word(const char *text, const char *word)
{
	size_t w = strlen(word);
	const char *at;
	char c;

	for (at = strstr(text, word); at != NULL; at = strstr(at + 1, word)) {
		c = at[w];
		if (!isalnum((unsigned char)c) && c != '_' && c != '-')
			return true;
	}
	return false;
}
