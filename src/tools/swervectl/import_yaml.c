/*
 * import_yaml.c: what the importers of `swervectl import` share: reading
 * libyaml's nodes (fields, scalars, lines), Istio's values (numbers,
 * booleans, Go durations such as "1m30s"), writing config lines and
 * wrapped comments, and walking a mapping field by field, where every
 * field that swerve does not take becomes a comment in the output and,
 * when it changes what the program would see, a warning on stderr at the
 * YAML's file:line. See import.h.
 *
 * Thread-safety: swervectl is single-threaded.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config.h"
#include "tools/swervectl/import.h"

/* Comments are wrapped to this width; a longer word is cut. */
#define COMMENT_WIDTH 78

int import_buf_open(struct import_buf *b)
{
	b->text = NULL;
	b->len = 0;
	b->f = open_memstream(&b->text, &b->len);
	return b->f != NULL ? 0 : -1;
}

void import_buf_close(struct import_buf *b)
{
	if (b->f != NULL)
		fclose(b->f);
	free(b->text);
	b->f = NULL;
	b->text = NULL;
	b->len = 0;
}

/* Writes the lines of <b> to <out>, each one a comment. */
void import_comment_out(struct import_buf *b, FILE *out)
{
	const char *s, *end;

	fflush(b->f);
	for (s = b->text; s != NULL && s < b->text + b->len; s = end + 1) {
		end = memchr(s, '\n', (size_t)(b->text + b->len - s));
		if (end == NULL)
			end = b->text + b->len;
		fprintf(out, "%s%.*s\n", *s == ';' ? "" : "; ",
			(int)(end - s), s);
	}
}

yaml_node_t *import_node(const struct import_ctx *c, int id)
{
	return yaml_document_get_node(c->res->doc, id);
}

yaml_node_t *import_get(const struct import_ctx *c, yaml_node_t *map,
			const char *key)
{
	yaml_node_pair_t *p;

	if (!import_is_map(map))
		return NULL;
	for (p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		const char *k = import_text(import_node(c, p->key));

		if (k != NULL && strcmp(k, key) == 0)
			return import_node(c, p->value);
	}
	return NULL;
}

const char *import_text(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

int import_line(const yaml_node_t *n)
{
	return n != NULL ? (int)n->start_mark.line + 1 : 0;
}

bool import_is_map(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_MAPPING_NODE;
}

bool import_is_seq(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SEQUENCE_NODE;
}

const char *import_path(char *buf, size_t len, const char *a, const char *b)
{
	snprintf(buf, len, "%s%s%s", a, a[0] != '\0' ? "." : "", b);
	return buf;
}

/* Appends <s> to <buf> (<len> bytes, <*at> used), "..." when it is full. */
static void put(char *buf, size_t len, size_t *at, const char *s)
{
	size_t n = strlen(s);

	if (*at + 4 >= len)
		return;
	if (*at + n + 4 >= len) {
		n = len - *at - 4;
		memcpy(buf + *at, s, n);
		memcpy(buf + *at + n, "...", 4);
		*at = len - 1;
		return;
	}
	memcpy(buf + *at, s, n + 1);
	*at += n;
}

static void render(const struct import_ctx *c, yaml_node_t *n, char *buf,
		   size_t len, size_t *at, int depth)
{
	yaml_node_item_t *i;
	yaml_node_pair_t *p;

	/* Full: the rest is "...", and aliases cannot make it long. */
	if (*at + 1 >= len)
		return;
	if (n == NULL || depth > 8) {
		put(buf, len, at, "...");
	} else if (n->type == YAML_SCALAR_NODE) {
		put(buf, len, at, import_text(n));
	} else if (n->type == YAML_SEQUENCE_NODE) {
		put(buf, len, at, "[");
		for (i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			if (i != n->data.sequence.items.start)
				put(buf, len, at, ", ");
			render(c, import_node(c, *i), buf, len, at, depth + 1);
		}
		put(buf, len, at, "]");
	} else {
		put(buf, len, at, "{");
		for (p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			if (p != n->data.mapping.pairs.start)
				put(buf, len, at, ", ");
			render(c, import_node(c, p->key), buf, len, at,
			       depth + 1);
			put(buf, len, at, ": ");
			render(c, import_node(c, p->value), buf, len, at,
			       depth + 1);
		}
		put(buf, len, at, "}");
	}
}

/* <n> in YAML's flow style on one line, cut to <len> bytes with "...". */
void import_render(const struct import_ctx *c, yaml_node_t *n, char *buf,
		   size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	render(c, n, buf, len, &at, 0);
}

void import_warn(struct import_ctx *c, const yaml_node_t *n,
		 const char *fmt, ...)
{
	va_list ap;

	if (c->mute)
		return;
	c->imp->warnings++;
	fprintf(stderr, "%s:%d: warning: %s %s: ", c->res->file,
		n != NULL ? import_line(n) : c->res->line, c->res->kind,
		c->res->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Writes <text> as "; " lines of at most COMMENT_WIDTH columns. */
static void wrap_comment(FILE *out, const char *text)
{
	const char *s = text;

	while (*s != '\0') {
		size_t room = COMMENT_WIDTH - 2, n = strlen(s), cut = n;

		if (n > room) {
			/* The last blank that fits; a longer word is cut. */
			for (cut = room; cut > 0 && s[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = room;
		}
		fprintf(out, "; %.*s\n", (int)cut, s);
		s += cut;
		while (*s == ' ')
			s++;
	}
}

void import_comment(struct import_ctx *c, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* A newline inside a YAML value must not end the comment. */
	for (char *p = text; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	}
	wrap_comment(c->out, text);
}

void import_key(struct import_ctx *c, const char *key, const char *fmt, ...)
{
	va_list ap;

	fprintf(c->out, "%s = ", key);
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
}

/*
 * "key = a, b, c" for a key whose repeats add up (hosts, ports,
 * tls_subject_alt_names), as several lines when one would be too long.
 */
void import_list(struct import_ctx *c, const char *key,
		 const char *const *items, unsigned n)
{
	size_t col = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		size_t w = strlen(items[i]);

		if (col != 0 && col + 2 + w > IMPORT_LINE_MAX) {
			fputc('\n', c->out);
			col = 0;
		}
		if (col == 0)
			col = (size_t)fprintf(c->out, "%s = %s", key,
					      items[i]);
		else
			col += (size_t)fprintf(c->out, ", %s", items[i]);
	}
	if (col != 0)
		fputc('\n', c->out);
}

/*
 * A field swerve does not take: a comment with its path, its value and
 * <why>, and unless <quiet> a warning at <at>'s line (the key's; NULL:
 * the value's).
 */
void import_skip(struct import_ctx *c, yaml_node_t *at, yaml_node_t *v,
		 const char *path, const char *why, bool quiet)
{
	char value[96];

	import_render(c, v, value, sizeof(value));
	if (quiet)
		import_comment(c, "%s: %s: no key needed: %s", path, value,
			       why);
	else
		import_comment(c, "not imported: %s: %s (%s)", path, value,
			       why);
	if (!quiet)
		import_warn(c, at != NULL ? at : v,
			    "%s is not imported: %s (left as a comment)",
			    path, why);
}

static const struct import_field *find_field(const struct import_field *f,
					     const char *key)
{
	for (; f->key != NULL; f++) {
		if (strcmp(f->key, key) == 0)
			return f;
	}
	return NULL;
}

void import_walk(struct import_ctx *c, yaml_node_t *map, const char *path,
		 const struct import_field *fields)
{
	yaml_node_pair_t *p;
	char sub[256];

	if (!import_want(c, map, path, YAML_MAPPING_NODE))
		return;
	for (p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = import_node(c, p->key);
		yaml_node_t *v = import_node(c, p->value);
		const char *key = import_text(k);
		const struct import_field *f;

		if (key == NULL) {
			import_skip(c, k, k, path, "a key that is not a "
				    "plain name", false);
			continue;
		}
		import_path(sub, sizeof(sub), path, key);
		f = find_field(fields, key);
		if (f == NULL)
			import_skip(c, k, v, sub, "swerve has no such setting",
				    false);
		else if (f->fn == NULL)
			import_skip(c, k, v, sub, f->why, f->quiet);
		else
			f->fn(c, v, sub);
	}
}

/* True when <n> is of <type>; else a comment and a warning say so. */
bool import_want(struct import_ctx *c, yaml_node_t *n, const char *path,
		 yaml_node_type_t type)
{
	static const char *const names[] = {
		[YAML_SCALAR_NODE] = "a single value",
		[YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a mapping",
	};

	if (n != NULL && n->type == type)
		return true;
	import_skip(c, NULL, n, path, names[type], false);
	return false;
}

/* <fn> for each item of <list>, which must be a list. */
void import_items(struct import_ctx *c, yaml_node_t *list, const char *path,
		  import_item_fn fn)
{
	yaml_node_item_t *i;

	if (!import_want(c, list, path, YAML_SEQUENCE_NODE))
		return;
	for (i = list->data.sequence.items.start;
	     i < list->data.sequence.items.top; i++)
		fn(c, import_node(c, *i), path,
		   (unsigned)(i - list->data.sequence.items.start));
}

int import_uint(struct import_ctx *c, yaml_node_t *n, const char *path,
		uint64_t max, uint64_t *out)
{
	const char *s = import_text(n);
	char why[64];
	uint64_t v = 0;

	if (s != NULL && *s != '\0' && strspn(s, "0123456789") == strlen(s) &&
	    strlen(s) <= 19) {
		v = strtoull(s, NULL, 10);
		if (v <= max) {
			*out = v;
			return 0;
		}
	}
	snprintf(why, sizeof(why), "not a whole number from 0 to %llu",
		 (unsigned long long)max);
	import_skip(c, NULL, n, path, why, false);
	return -1;
}

int import_bool(struct import_ctx *c, yaml_node_t *n, const char *path,
		bool *out)
{
	const char *s = import_text(n);

	if (s != NULL && strcasecmp(s, "true") == 0) {
		*out = true;
		return 0;
	}
	if (s != NULL && strcasecmp(s, "false") == 0) {
		*out = false;
		return 0;
	}
	import_skip(c, NULL, n, path, "not true or false", false);
	return -1;
}

/* The nanoseconds of each of Go's duration units ("µs" in UTF-8). */
static uint64_t unit_ns(const char **s)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 },
		{ "ms", 1000000 }, { "s", 1000000000ull },
		{ "m", 60000000000ull }, { "h", 3600000000000ull },
	};
	size_t i;

	/* "ms" comes before "m" and "s", so it wins over them. */
	for (i = 0; i < SWERVE_ARRAY_LEN(units); i++) {
		size_t n = strlen(units[i].name);

		if (strncmp(*s, units[i].name, n) == 0) {
			*s += n;
			return units[i].ns;
		}
	}
	return 0;
}

/*
 * Go's (and protobuf's) duration text, such as "15s", "1m30s", "1.5s" or
 * "250ms", in nanoseconds: 0, or -1 when it is not one or passes 10^18.
 */
static int parse_go_duration(const char *s, uint64_t *out_ns)
{
	const uint64_t cap = 1000000000000000000ull;
	uint64_t total = 0;

	if (strcmp(s, "0") == 0) {
		*out_ns = 0;
		return 0;
	}
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		uint64_t whole = 0, frac = 0, scale = 1, unit;
		const char *start = s;

		for (; *s >= '0' && *s <= '9'; s++) {
			if (whole > cap / 10)
				return -1;
			whole = whole * 10 + (uint64_t)(*s - '0');
		}
		if (*s == '.') {
			for (s++; *s >= '0' && *s <= '9'; s++) {
				/* Nanoseconds are the finest unit. */
				if (scale < 1000000000ull) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
			}
		}
		if (s == start || (s == start + 1 && *start == '.'))
			return -1;
		unit = unit_ns(&s);
		if (unit == 0 || whole > cap / unit)
			return -1;
		total += whole * unit +
			 (uint64_t)((unsigned __int128)frac * unit / scale);
		if (total > cap)
			return -1;
	}
	*out_ns = total;
	return 0;
}

/*
 * A duration field in milliseconds, the unit of swerve's config: a part
 * of a millisecond is rounded up, and more than swerve's 24 hours is cut
 * to 24 hours, each with a warning.
 */
int import_duration(struct import_ctx *c, yaml_node_t *n, const char *path,
		    uint64_t *out_ms)
{
	const char *s = import_text(n);
	uint64_t ns, ms;

	if (s == NULL || parse_go_duration(s, &ns) != 0) {
		import_skip(c, NULL, n, path, "not a duration such as 15s, "
			    "1m30s or 250ms", false);
		return -1;
	}
	ms = ns / 1000000 + (ns % 1000000 != 0);
	if (ns % 1000000 != 0)
		import_warn(c, n, "%s: %s is rounded up to %llums: swerve "
			    "counts whole milliseconds", path, s,
			    (unsigned long long)ms);
	if (ms > SWERVE_MAX_DURATION_MS) {
		import_warn(c, n, "%s: %s is cut to 24h, swerve's longest "
			    "duration", path, s);
		ms = SWERVE_MAX_DURATION_MS;
	}
	*out_ms = ms;
	return 0;
}

/* <ms> in the largest unit that writes it whole: 1m, 90s, 1500ms. */
void import_format_duration(uint64_t ms, char *buf, size_t len)
{
	unsigned long long v = (unsigned long long)ms;

	if (v == 0)
		snprintf(buf, len, "0s");
	else if (v % 3600000 == 0)
		snprintf(buf, len, "%lluh", v / 3600000);
	else if (v % 60000 == 0)
		snprintf(buf, len, "%llum", v / 60000);
	else if (v % 1000 == 0)
		snprintf(buf, len, "%llus", v / 1000);
	else
		snprintf(buf, len, "%llums", v);
}

/* What swerve's config takes as a label key: 1 to 63 of A-Z a-z 0-9 . _ -
 * and /. */
bool import_is_label_key(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 63 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-/") == n;
}

/* And as a label value: at most 63 characters, none of them a blank, '=',
 * ',' or ';' (which would start a comment). */
bool import_is_label_value(const char *s)
{
	return strlen(s) <= 63 && strpbrk(s, " \t\r\n=,;#") == NULL;
}

bool import_is_ip(const char *s)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, s, addr) == 1 ||
	       inet_pton(AF_INET6, s, addr) == 1;
}
