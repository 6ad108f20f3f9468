/*
 * man_support: what the man pages' tests share: the source tree
 * (SWERVE_SRC), its files as text, the parts of a text between two
 * headings, and whether a page or a table has a given item. Plain string
 * work, single-threaded like each test.
 */
#ifndef SWERVE_TEST_MAN_SUPPORT_H
#define SWERVE_TEST_MAN_SUPPORT_H

#include <stdbool.h>

/* The source tree, absolute: SWERVE_SRC, else ".". */
const char *m_src(void);

/* The text of <rel> under the source tree, allocated; fails the test when
 * the file is missing or empty. */
char *m_slurp(const char *rel);

/* The text after the line <start> (exact) up to the next line that begins
 * with <end>, allocated; NULL when there is no such line. */
char *m_part(const char *text, const char *start, const char *end);

/* Whether <text> has a line that begins with <head> then <word>, followed
 * by a blank, the line's end or the text's. */
bool m_has_item(const char *text, const char *head, const char *word);

/* Whether <text> has <word> followed by a character that cannot continue
 * a name (anything but a letter, digit, '_' or '-'). */
bool m_has_word(const char *text, const char *word);

#endif
