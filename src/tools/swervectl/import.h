/*
 * import: what the files of `swervectl import` share. The command
 * (cmd_import.c) reads Istio YAML with libyaml into documents, finds the
 * resources in them, and hands each one to the importer of its kind
 * (import_se.c: ServiceEntry, import_dr.c: DestinationRule, import_vs.c:
 * VirtualService), which write swerve config lines. import_yaml.c holds
 * what they all use: reading nodes, values and durations, walking a
 * mapping field by field, and the comment and warning that every field
 * swerve does not take gets, so that nothing is dropped silently.
 *
 * Thread-safety: swervectl is single-threaded.
 */
#ifndef SWERVE_IMPORT_H
#define SWERVE_IMPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <yaml.h>

#include "base/swerve.h"

/* Output lines stay well inside the 198 characters the config reader
 * takes: lists are cut into several keys, comments wrapped. */
#define IMPORT_LINE_MAX 150

/* One Istio resource found in the input. */
struct import_res {
	yaml_document_t *doc;
	yaml_node_t *node;       /* its mapping */
	const char *file;        /* as given, "<stdin>" for "-" */
	const char *kind;        /* ServiceEntry, DestinationRule, ... */
	const char *name;        /* metadata.name, or "(unnamed)" */
	int line;                /* where the resource starts */
};

/* A buffer of output lines, written through a stdio stream. */
struct import_buf {
	FILE *f;
	char *text;
	size_t len;
};

/* One [service NAME] section being made. */
struct import_service {
	char name[64];
	char hosts[SWERVE_MAX_HOSTS][256]; /* lower case */
	unsigned nhosts;
	bool http;               /* protocol = http */
	bool ip_endpoint;        /* some endpoint is an IP literal */
	const struct import_res *dr; /* the DestinationRule applied */
	const struct import_res *vs; /* the VirtualService applied */
	struct import_buf lines;
};

/* The whole import. */
struct import {
	const char *locality;    /* --locality, or NULL */
	const char *vip_cidr;    /* --vip-cidr, or the default */
	struct import_res *res;
	size_t nres, capres;
	yaml_document_t **docs;
	size_t ndocs, capdocs;
	struct import_service *svcs; /* SWERVE_MAX_SERVICES of them */
	unsigned nsvcs;
	struct import_buf tail;  /* resources that apply to no service */
	bool locality_seen;      /* some endpoint has a locality */
	unsigned warnings;
	bool oom;
};

/* The resource being imported and where its lines go. */
struct import_ctx {
	struct import *imp;
	const struct import_res *res;
	struct import_service *svc; /* NULL while none applies */
	FILE *out;
	bool mute;               /* comments only: warned once already */
};

/* Imports <v> (a field's value) found at <path>, e.g. "spec.hosts". */
typedef void (*import_fn)(struct import_ctx *c, yaml_node_t *v,
			  const char *path);

/* Imports item <index> (from 0) of a list found at <path>. */
typedef void (*import_item_fn)(struct import_ctx *c, yaml_node_t *item,
			       const char *path, unsigned index);

/*
 * How a mapping's field is taken. With <fn>, the field is imported; without
 * it the field becomes a comment saying <why>, and, unless <quiet> (a field
 * whose absence changes nothing here), a warning at its file:line.
 */
struct import_field {
	const char *key;
	import_fn fn;
	const char *why;
	bool quiet;
};

/* The fields around every resource's spec, then <spec_fn> for spec. */
#define IMPORT_RESOURCE_FIELDS(spec_fn)                                    \
	{ "apiVersion", import_nothing, NULL, false },                     \
	{ "kind", import_nothing, NULL, false },                           \
	{ "metadata", import_metadata, NULL, false },                      \
	{ "spec", (spec_fn), NULL, false },                                \
	{ "status", NULL, "Istio's status, not configuration", true }

/* import_yaml.c */

/* An output buffer: 0, or -1 out of memory; closing frees it. */
int import_buf_open(struct import_buf *b);
void import_buf_close(struct import_buf *b);

/* Writes the lines of <b> to <out>, each one made a comment. */
void import_comment_out(struct import_buf *b, FILE *out);

/* Node <id> of the resource's document; field <key> of mapping <map>
 * (NULL when absent or <map> is none); a scalar's text (NULL for a list or
 * mapping); where a node starts (1-based); its kind. */
yaml_node_t *import_node(const struct import_ctx *c, int id);
yaml_node_t *import_get(const struct import_ctx *c, yaml_node_t *map,
			const char *key);
const char *import_text(const yaml_node_t *n);
int import_line(const yaml_node_t *n);
bool import_is_map(const yaml_node_t *n);
bool import_is_seq(const yaml_node_t *n);

/* <n> in YAML's flow style on one line, cut to <len> bytes with "...". */
void import_render(const struct import_ctx *c, yaml_node_t *n, char *buf,
		   size_t len);

/* "FILE:LINE: warning: KIND NAME: ..." on stderr, at <n>'s line (NULL: the
 * resource's); nothing while c->mute. */
void import_warn(struct import_ctx *c, const yaml_node_t *n,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "; ..." lines wrapped to 78 columns, line breaks made blanks. */
void import_comment(struct import_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "key = value"; and "key = a, b, c" for a key whose repeats add up, cut
 * into several lines when one would be too long. */
void import_key(struct import_ctx *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void import_list(struct import_ctx *c, const char *key,
		 const char *const *items, unsigned n);

/* A field not taken: a comment with <path>, the value <v> and <why>, and
 * unless <quiet> a warning at <at>'s line (NULL: <v>'s). */
void import_skip(struct import_ctx *c, yaml_node_t *at, yaml_node_t *v,
		 const char *path, const char *why, bool quiet);

/* Each field of mapping <map> (at <path>) as <fields> says; a field not
 * listed is not taken, with a warning. */
void import_walk(struct import_ctx *c, yaml_node_t *map, const char *path,
		 const struct import_field *fields);

/* True when <n> is of <type>; else it is not taken, with a warning. */
bool import_want(struct import_ctx *c, yaml_node_t *n, const char *path,
		 yaml_node_type_t type);

/* <fn> for each item of <list>, which must be a list. */
void import_items(struct import_ctx *c, yaml_node_t *list, const char *path,
		  import_item_fn fn);

/* Istio's values: a whole number up to <max>, true or false, a duration
 * (Go's form) in milliseconds. 0, or -1 when not taken (with a warning). */
int import_uint(struct import_ctx *c, yaml_node_t *n, const char *path,
		uint64_t max, uint64_t *out);
int import_bool(struct import_ctx *c, yaml_node_t *n, const char *path,
		bool *out);
int import_duration(struct import_ctx *c, yaml_node_t *n, const char *path,
		    uint64_t *out_ms);

/* <ms> in the largest unit that writes it whole: 1m, 90s, 1500ms. */
void import_format_duration(uint64_t ms, char *buf, size_t len);

/* What swerve's config takes as a label key and value; an IP literal. */
bool import_is_label_key(const char *s);
bool import_is_label_value(const char *s);
bool import_is_ip(const char *s);

/* Joins <a> and <b> with a dot into <buf>: a field's path. */
const char *import_path(char *buf, size_t len, const char *a, const char *b);

/* import_se.c, import_dr.c, import_vs.c */
void import_service_entry(struct import *imp, const struct import_res *r);
void import_destination_rule(struct import *imp, const struct import_res *r);
void import_virtual_service(struct import *imp, const struct import_res *r);

/* import_dr.c: where a rule goes, and the comment when nowhere. */
struct import_service *import_target(struct import_ctx *c, yaml_node_t *host,
				     const char *path, bool vs);
void import_not_applied(struct import_ctx *c, FILE *out, const char *why);

/* The service serving host <host> (exact, case-insensitive), or NULL. */
struct import_service *import_find_host(struct import *imp, const char *host);

/*
 * cmd_import.c: the fields around every resource's spec: apiVersion and
 * kind (already read: import_nothing) and metadata (its name names the
 * resource; the rest becomes comments).
 */
void import_nothing(struct import_ctx *c, yaml_node_t *v, const char *path);
void import_metadata(struct import_ctx *c, yaml_node_t *v, const char *path);

/* The "; KIND NAME (FILE:LINE)" comment that opens a resource's lines. */
void import_open(struct import_ctx *c);

#endif
