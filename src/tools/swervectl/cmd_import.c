/*
 * cmd_import.c: `swervectl import FILE...`, Istio YAML in, swerve config
 * out. It reads each file ("-": standard input) with libyaml, every
 * document of it and the items of a `kind: List`, and imports the
 * networking.istio.io resources (v1, v1beta1, v1alpha3) in three passes:
 * each ServiceEntry makes a [service] section, then each DestinationRule
 * and VirtualService adds its keys to the section that serves its host.
 * What swerve does not take is a comment in the output and a warning on
 * stderr at the YAML's file:line (import_yaml.c). The config made is
 * loaded back with swerve's own loader before it is printed, so that what
 * import prints is what the library would accept, or import says why not
 * and fails. Bad YAML is an error at its file:line, exit 1, nothing
 * printed.
 *
 * Thread-safety: swervectl is single-threaded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/config.h"
#include "tools/swervectl/cli.h"
#include "tools/swervectl/import.h"

/* Where service addresses come from unless --vip-cidr says otherwise:
 * swerve's own default. */
#define IMPORT_VIP_CIDR "127.77.0.0/16"

/* The API versions of networking.istio.io that import reads. */
static const char *const versions[] = {
	"networking.istio.io/v1",
	"networking.istio.io/v1beta1",
	"networking.istio.io/v1alpha3",
};

void import_nothing(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	(void)c;
	(void)v;
	(void)path;
}

/* The name names the resource; the rest of metadata is no configuration
 * to swerve, and says so in a comment. */
void import_metadata(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	yaml_node_pair_t *p;
	char sub[128];

	if (!import_want(c, v, path, YAML_MAPPING_NODE))
		return;
	for (p = v->data.mapping.pairs.start;
	     p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = import_node(c, p->key);
		const char *key = import_text(k);

		if (key != NULL && strcmp(key, "name") == 0)
			continue;
		import_path(sub, sizeof(sub), path, key != NULL ? key : "?");
		import_skip(c, k, import_node(c, p->value), sub,
			    key != NULL && strcmp(key, "namespace") == 0
				    ? "swerve has no namespaces: each name in "
				      "hosts is served as written"
				    : "metadata, not configuration", true);
	}
}

void import_open(struct import_ctx *c)
{
	/* A comment, whatever the name holds: a newline cannot end it. */
	import_comment(c, "%s %s (%s:%d)", c->res->kind, c->res->name,
		       c->res->file, c->res->line);
}

/* Reads all of <path> ("-": stdin) into a NUL-ended buffer, or NULL. */
static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (f == NULL) {
		print_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - n < 65536) {
			char *nb = cap < SWERVE_MAX_CONFIG_BYTES
					   ? realloc(buf, cap + 65537) : NULL;

			if (nb == NULL) {
				print_error("%s: too large or out of memory",
					    path);
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap += 65536;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (buf != NULL && ferror(f)) {
		print_error("%s: %s", path, strerror(errno));
		free(buf);
		buf = NULL;
	}
	if (f != stdin)
		fclose(f);
	if (buf != NULL)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static int keep_doc(struct import *imp, yaml_document_t *doc)
{
	yaml_document_t **nd;

	if (imp->ndocs == imp->capdocs) {
		nd = realloc(imp->docs, (imp->capdocs * 2 + 8) * sizeof(*nd));
		if (nd == NULL)
			return -1;
		imp->docs = nd;
		imp->capdocs = imp->capdocs * 2 + 8;
	}
	imp->docs[imp->ndocs++] = doc;
	return 0;
}

static int keep_res(struct import *imp, const struct import_res *r)
{
	struct import_res *nr;

	if (imp->nres == imp->capres) {
		nr = realloc(imp->res, (imp->capres * 2 + 8) * sizeof(*nr));
		if (nr == NULL)
			return -1;
		imp->res = nr;
		imp->capres = imp->capres * 2 + 8;
	}
	imp->res[imp->nres++] = *r;
	return 0;
}

static const char *scalar_of(yaml_document_t *doc, yaml_node_t *map,
			     const char *key)
{
	struct import_res r = { .doc = doc };
	struct import_ctx c = { .res = &r };

	return import_text(import_get(&c, map, key));
}

/* The text of scalar <n> with its line breaks made blanks, or NULL: a
 * resource's name goes into messages, each one line. */
static const char *one_line(yaml_node_t *n)
{
	char *s;

	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	for (s = (char *)n->data.scalar.value; *s != '\0'; s++) {
		if (*s == '\n' || *s == '\r')
			*s = ' ';
	}
	return (const char *)n->data.scalar.value;
}

/*
 * Keeps the resource <node> of <doc> (a mapping, checked by the caller).
 * A List's items are resources of their own.
 */
static int add_resource(struct import *imp, yaml_document_t *doc,
			yaml_node_t *node, const char *file)
{
	struct import_res r = { .doc = doc, .node = node, .file = file };
	struct import_ctx c = { .imp = imp, .res = &r };
	yaml_node_t *items, *meta;
	yaml_node_item_t *i;

	r.kind = scalar_of(doc, node, "kind");
	meta = import_get(&c, node, "metadata");
	r.name = one_line(import_get(&c, meta, "name"));
	r.line = import_line(node);
	if (r.kind == NULL)
		r.kind = "(no kind)";
	if (r.name == NULL)
		r.name = "(unnamed)";
	if (strcmp(r.kind, "List") != 0)
		return keep_res(imp, &r);
	items = import_get(&c, node, "items");
	if (items == NULL)
		return 0;
	if (!import_is_seq(items)) {
		fprintf(stderr, "%s:%d: error: the items of a List must be a "
			"list\n", file, import_line(items));
		return -EINVAL;
	}
	for (i = items->data.sequence.items.start;
	     i < items->data.sequence.items.top; i++) {
		yaml_node_t *item = yaml_document_get_node(doc, *i);

		if (!import_is_map(item)) {
			fprintf(stderr, "%s:%d: error: an item of the List is "
				"not a resource (a mapping with apiVersion "
				"and kind)\n", file, import_line(item));
			return -EINVAL;
		}
		if (add_resource(imp, doc, item, file) != 0)
			return -EINVAL;
	}
	return 0;
}

static void yaml_error(const yaml_parser_t *y, const char *file)
{
	fprintf(stderr, "%s:%zu:%zu: error: bad YAML: %s", file,
		y->problem_mark.line + 1, y->problem_mark.column + 1,
		y->problem != NULL ? y->problem : "cannot be parsed");
	if (y->context != NULL)
		fprintf(stderr, " (%s at line %zu)", y->context,
			y->context_mark.line + 1);
	fputc('\n', stderr);
}

/* Reads every document of <text> into <imp>. Returns 0 or -1 (said). */
static int load_documents(struct import *imp, const char *text, size_t len,
			  const char *file)
{
	yaml_parser_t y;
	yaml_document_t *doc;
	yaml_node_t *root;
	int rc = 0;

	if (!yaml_parser_initialize(&y))
		return -1;
	yaml_parser_set_input_string(&y, (const unsigned char *)text, len);
	for (;;) {
		doc = calloc(1, sizeof(*doc));
		if (doc == NULL || !yaml_parser_load(&y, doc)) {
			if (doc != NULL)
				yaml_error(&y, file);
			free(doc);
			rc = -1;
			break;
		}
		root = yaml_document_get_root_node(doc);
		if (root == NULL) {
			/* The end of the stream. */
			yaml_document_delete(doc);
			free(doc);
			break;
		}
		if (keep_doc(imp, doc) != 0) {
			yaml_document_delete(doc);
			free(doc);
			rc = -1;
			break;
		}
		/* An empty document ("---" and nothing) holds nothing. */
		if (root->type == YAML_SCALAR_NODE &&
		    root->data.scalar.length == 0)
			continue;
		if (!import_is_map(root)) {
			fprintf(stderr, "%s:%d: error: not a resource (a "
				"mapping with apiVersion and kind)\n", file,
				import_line(root));
			rc = -1;
			break;
		}
		if (add_resource(imp, doc, root, file) != 0) {
			rc = -1;
			break;
		}
	}
	yaml_parser_delete(&y);
	return rc;
}

/* True when <r> is of a version and kind import reads; else says so. */
static bool is_istio(struct import *imp, const struct import_res *r)
{
	struct import_ctx c = { .imp = imp, .res = r, .out = imp->tail.f };
	const char *v = scalar_of(r->doc, r->node, "apiVersion");
	size_t i;

	for (i = 0; v != NULL && i < SWERVE_ARRAY_LEN(versions); i++) {
		if (strcmp(v, versions[i]) != 0)
			continue;
		if (strcmp(r->kind, "ServiceEntry") == 0 ||
		    strcmp(r->kind, "DestinationRule") == 0 ||
		    strcmp(r->kind, "VirtualService") == 0)
			return true;
		break;
	}
	import_open(&c);
	import_comment(&c, "not imported: %s of %s: swerve imports "
		       "ServiceEntry, DestinationRule and VirtualService of "
		       "networking.istio.io/v1, v1beta1 or v1alpha3", r->kind,
		       v != NULL ? v : "no apiVersion");
	import_warn(&c, r->node, "not imported: swerve imports ServiceEntry, "
		    "DestinationRule and VirtualService of "
		    "networking.istio.io/v1, v1beta1 or v1alpha3 (left as a "
		    "comment)");
	return false;
}

/* The three passes: services first, then what applies to them. */
static void import_all(struct import *imp)
{
	static void (*const pass[])(struct import *,
				    const struct import_res *) = {
		import_service_entry, import_destination_rule,
		import_virtual_service,
	};
	static const char *const kinds[] = {
		"ServiceEntry", "DestinationRule", "VirtualService",
	};
	bool *ok = calloc(imp->nres + 1, sizeof(*ok));
	size_t i, k;

	if (ok == NULL) {
		imp->oom = true;
		return;
	}
	for (i = 0; i < imp->nres; i++)
		ok[i] = is_istio(imp, &imp->res[i]);
	for (k = 0; k < SWERVE_ARRAY_LEN(pass); k++) {
		for (i = 0; i < imp->nres; i++) {
			if (ok[i] && strcmp(imp->res[i].kind, kinds[k]) == 0)
				pass[k](imp, &imp->res[i]);
		}
	}
	free(ok);
}

static void write_swerve_section(const struct import *imp, FILE *out)
{
	fputs("[swerve]\n", out);
	if (imp->locality != NULL)
		fprintf(out, "locality = %s\n", imp->locality);
	else
		fputs("; locality = REGION[/ZONE[/SUBZONE]]\n"
		      "; This host's locality, as an Istio proxy has its own: "
		      "set it here (or in\n"
		      "; SWERVE_LOCALITY, or import with --locality) so that "
		      "the endpoints of\n"
		      "; this host's locality come first and failover rules "
		      "apply.\n", out);
	fprintf(out, "vip_cidr = %s\n", imp->vip_cidr);
}

/* The whole config into <out>. */
static void write_config(const struct import *imp, FILE *out,
			 const char *const *files, int nfiles)
{
	unsigned s;
	int i;

	fputs("; swerve config made by `swervectl import` from Istio YAML:\n",
	      out);
	for (i = 0; i < nfiles; i++) {
		const char *f = strcmp(files[i], "-") == 0 ? "<stdin>"
							   : files[i];

		fprintf(out, ";   %.*s\n", (int)strcspn(f, "\r\n"), f);
	}
	fputs("; What swerve does not take is left as a comment, and was a "
	      "warning at its\n"
	      "; file:line. README \"Importing Istio YAML\" has the whole "
	      "mapping.\n\n", out);
	write_swerve_section(imp, out);
	for (s = 0; s < imp->nsvcs; s++) {
		const struct import_service *svc = &imp->svcs[s];

		fflush(svc->lines.f);
		fprintf(out, "\n[service %s]\n", svc->name);
		fwrite(svc->lines.text, 1, svc->lines.len, out);
	}
	fflush(imp->tail.f);
	if (imp->tail.len > 0) {
		fputs("\n; Resources that apply to no service above:\n", out);
		fwrite(imp->tail.text, 1, imp->tail.len, out);
	}
}

/* Prints each error of loading the config made, by its line. */
static void report_made(void *ctx, const struct swerve_config_problem *p)
{
	unsigned *errors = ctx;

	if (!p->is_error)
		return;
	(*errors)++;
	if (p->line > 0)
		print_error("import: the config made does not load: line %d: "
			    "%s", p->line, p->msg);
	else
		print_error("import: the config made does not load: %s",
			    p->msg);
}

/*
 * Loads <text> as the library would (no environment), from a private
 * temporary file. Returns 0, or -1 after saying what is wrong.
 */
static int check_made(const char *text, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	struct swerve_config *cfg = NULL;
	char path[512];
	unsigned errors = 0;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/swervectl-import-XXXXXX",
		 tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	fd = mkstemp(path);
	if (fd == -1) {
		print_error("import: %s: %s", path, strerror(errno));
		return -1;
	}
	rc = write(fd, text, len) == (ssize_t)len ? 0 : -EIO;
	close(fd);
	if (rc == 0)
		rc = swerve_config_load(path, false, &cfg, report_made,
					&errors, NULL, 0);
	unlink(path);
	swerve_config_free(cfg);
	if (rc != 0 && errors == 0)
		print_error("import: the config made does not load: %s",
			    strerror(-rc));
	return rc == 0 && errors == 0 ? 0 : -1;
}

static int import_init(struct import *imp, const struct cli_args *a)
{
	struct swerve_locality loc;

	memset(imp, 0, sizeof(*imp));
	imp->locality = a->locality;
	imp->vip_cidr = a->vip_cidr != NULL ? a->vip_cidr : IMPORT_VIP_CIDR;
	if (imp->locality != NULL &&
	    swerve_config_parse_locality(imp->locality, &loc) != 0)
		return fail_usage("--locality %s is not "
				  "REGION[/ZONE[/SUBZONE]]", imp->locality);
	imp->svcs = calloc(SWERVE_MAX_SERVICES, sizeof(*imp->svcs));
	if (imp->svcs == NULL || import_buf_open(&imp->tail) != 0) {
		print_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static void import_free(struct import *imp)
{
	size_t i;

	for (i = 0; i < imp->nsvcs; i++)
		import_buf_close(&imp->svcs[i].lines);
	import_buf_close(&imp->tail);
	for (i = 0; i < imp->ndocs; i++) {
		yaml_document_delete(imp->docs[i]);
		free(imp->docs[i]);
	}
	free(imp->docs);
	free(imp->res);
	free(imp->svcs);
}

/* Reads every file named on the command line. Returns 0 or -1 (said). */
static int read_files(struct import *imp, const struct cli_args *a)
{
	int i, stdin_seen = 0;

	for (i = 0; i < a->npos; i++) {
		const char *file = a->pos[i];
		size_t len = 0;
		char *text;
		int rc;

		if (strcmp(file, "-") == 0) {
			file = "<stdin>";
			if (stdin_seen++ > 0) {
				print_error("import: - (stdin) is given twice");
				return -1;
			}
		}
		text = read_all(a->pos[i], &len);
		if (text == NULL)
			return -1;
		rc = load_documents(imp, text, len, file);
		free(text);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Writes the config made to stdout, once it loads. Returns an exit code. */
static int finish(struct import *imp, const struct cli_args *a)
{
	struct import_buf all;
	int rc = CLI_EXIT_OK;

	if (imp->nsvcs == 0) {
		print_error("import: no ServiceEntry could be imported: "
			    "swerve needs one per service");
		return CLI_EXIT_FAIL;
	}
	if (import_buf_open(&all) != 0) {
		print_error("out of memory");
		return CLI_EXIT_FAIL;
	}
	write_config(imp, all.f, a->pos, a->npos);
	if (fflush(all.f) != 0 || imp->oom) {
		print_error("out of memory");
		import_buf_close(&all);
		return CLI_EXIT_FAIL;
	}
	if (imp->locality == NULL && imp->locality_seen)
		print_error("import: no --locality: set locality in [swerve] "
			    "(or SWERVE_LOCALITY) to this host's, or no "
			    "endpoint is local");
	/* Printed even when it does not load: the errors name its lines. */
	if (check_made(all.text, all.len) != 0)
		rc = CLI_EXIT_FAIL;
	fwrite(all.text, 1, all.len, stdout);
	import_buf_close(&all);
	return rc;
}

int cmd_import(const struct cli_args *a)
{
	struct import imp;
	int rc;

	if (a->npos == 0)
		return fail_usage("import takes one or more YAML files "
				  "(- for stdin)");
	if (a->json || a->for_arg != NULL || a->config != NULL)
		return fail_usage("import takes no -c, --json or --for");
	rc = import_init(&imp, a);
	if (rc == CLI_EXIT_OK) {
		if (read_files(&imp, a) != 0) {
			rc = CLI_EXIT_FAIL;
		} else {
			import_all(&imp);
			rc = finish(&imp, a);
		}
	}
	import_free(&imp);
	return rc;
}
