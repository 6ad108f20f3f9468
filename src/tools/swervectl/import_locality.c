/*
 * import_locality.c: a DestinationRule's localityLbSetting to the
 * service's locality rules: failover (FROM -> TO), failover_priority
 * (label keys, with values or not) and distribute (FROM -> TO:WEIGHT, ...).
 * swerve always behaves like Istio's default enabled: true; a rule with
 * enabled: false, which Istio ignores, is left as comments.
 *
 * Thread-safety: swervectl is single-threaded.
 */
#include <string.h>

#include "policy/config.h"
#include "tools/swervectl/import_dr.h"

/* The longest rule line written; more would not fit the config's line. */
#define RULE_MAX 180

static bool is_region(const char *s)
{
	struct swerve_locality loc;

	return s != NULL && swerve_config_parse_locality(s, &loc) == 0 &&
	       strpbrk(s, "/* \t\r\n=,;#") == NULL;
}

static bool is_pattern(const char *s)
{
	struct swerve_locality loc;

	return s != NULL && swerve_config_parse_pattern(s, &loc) == 0 &&
	       strpbrk(s, " \t\r\n=,;#:") == NULL;
}

/* The fields of a failover or distribute rule. */
static const struct import_field rule_fields[] = {
	{ "from", import_nothing, NULL, false },
	{ "to", import_nothing, NULL, false },
	{ NULL, NULL, NULL, false },
};

static void failover(struct import_ctx *c, yaml_node_t *n, const char *path,
		     unsigned index)
{
	const char *from = import_text(import_get(c, n, "from"));
	const char *to = import_text(import_get(c, n, "to"));

	(void)index;
	import_walk(c, n, path, rule_fields);
	if (!import_is_map(n))
		return;
	if (!is_region(from) || !is_region(to) || strcmp(from, to) == 0)
		import_skip(c, n, n, path, "failover takes two different "
			    "regions, without '/' or '*'", false);
	else
		import_key(c, "failover", "%s -> %s", from, to);
}

/* "KEY" or "KEY=VALUE", as failover_priority takes them. */
static bool is_priority_label(const char *s)
{
	char key[128];
	const char *eq = strchr(s, '=');
	size_t n = eq != NULL ? (size_t)(eq - s) : strlen(s);

	if (n >= sizeof(key))
		return false;
	memcpy(key, s, n);
	key[n] = '\0';
	return import_is_label_key(key) &&
	       (eq == NULL || import_is_label_value(eq + 1));
}

static void failover_priority(struct import_ctx *c, yaml_node_t *v,
			      const char *path)
{
	yaml_node_item_t *i;
	char line[1024] = "";
	size_t n = 0;
	unsigned labels = 0;

	if (!import_want(c, v, path, YAML_SEQUENCE_NODE))
		return;
	for (i = v->data.sequence.items.start; i < v->data.sequence.items.top;
	     i++) {
		yaml_node_t *item = import_node(c, *i);
		const char *s = import_text(item);

		if (s == NULL || !is_priority_label(s))
			import_skip(c, item, item, path, "not a label key "
				    "of A-Z a-z 0-9 . _ - / with an optional "
				    "=VALUE", false);
		else if (labels == SWERVE_MAX_LABELS)
			import_skip(c, item, item, path, "swerve takes 8 "
				    "labels at most", false);
		else if (n + strlen(s) + 2 > RULE_MAX)
			import_skip(c, item, item, path, "longer than one "
				    "line of swerve's config", false);
		else
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      "%s%s", labels++ > 0 ? ", " : "",
					      s);
	}
	if (labels > 0)
		import_key(c, "failover_priority", "%s", line);
}

/* The targets of one distribute rule into <line>; how many. */
static unsigned distribute_targets(struct import_ctx *c, yaml_node_t *to,
				   const char *path, char *line, size_t len)
{
	yaml_node_pair_t *p;
	size_t n = strlen(line);
	unsigned targets = 0;
	char sub[256];

	if (!import_want(c, to, path, YAML_MAPPING_NODE))
		return 0;
	for (p = to->data.mapping.pairs.start; p < to->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = import_node(c, p->key);
		const char *pattern = import_text(k);
		uint64_t w;

		import_path(sub, sizeof(sub), path,
			    pattern != NULL ? pattern : "?");
		if (!is_pattern(pattern)) {
			import_skip(c, k, k, sub, "not REGION[/ZONE[/SUBZONE]] "
				    "with '*' parts", false);
		} else if (import_uint(c, import_node(c, p->value), sub, 100,
				       &w) != 0) {
			continue;
		} else if (w == 0) {
			import_skip(c, k, import_node(c, p->value), sub,
				    "weight 0 sends nothing, as a target not "
				    "listed", true);
		} else if (n + strlen(pattern) + 8 > RULE_MAX) {
			import_skip(c, k, k, sub, "longer than one line of "
				    "swerve's config", false);
		} else {
			n += (size_t)snprintf(line + n, len - n, "%s%s:%llu",
					      targets++ > 0 ? ", " : "",
					      pattern, (unsigned long long)w);
		}
	}
	return targets;
}

static void distribute(struct import_ctx *c, yaml_node_t *n,
		       const char *path, unsigned index)
{
	const char *from = import_text(import_get(c, n, "from"));
	char line[512], sub[128];

	(void)index;
	import_walk(c, n, path, rule_fields);
	if (!import_is_map(n))
		return;
	if (!is_pattern(from)) {
		import_skip(c, n, n, path, "from is not REGION[/ZONE[/SUBZONE]] "
			    "with '*' parts", false);
		return;
	}
	snprintf(line, sizeof(line), "%s -> ", from);
	if (distribute_targets(c, import_get(c, n, "to"),
			       import_path(sub, sizeof(sub), path, "to"), line,
			       sizeof(line)) > 0)
		import_key(c, "distribute", "%s", line);
}

static void failovers(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	import_items(c, v, path, failover);
}

static void distributes(struct import_ctx *c, yaml_node_t *v,
			const char *path)
{
	import_items(c, v, path, distribute);
}

static void enabled(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	bool on;

	if (import_bool(c, v, path, &on) == 0)
		import_skip(c, v, v, path, "swerve always applies the "
			    "locality rules, as Istio's default true does",
			    true);
}

/*
 * enabled: false turns Istio's locality load balancing off, rules and
 * all; swerve cannot: its rules are left as comments, with a warning.
 */
static void disabled(struct import_ctx *c, yaml_node_t *v, const char *path)
{
	yaml_node_pair_t *p;
	char sub[256];

	import_warn(c, v, "%s.enabled: false is not imported: swerve always "
		    "prefers the endpoints of this host's locality; give the "
		    "endpoints one locality to keep them in one tier", path);
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		const char *key = import_text(import_node(c, p->key));

		import_path(sub, sizeof(sub), path, key != NULL ? key : "?");
		import_skip(c, import_node(c, p->key),
			    import_node(c, p->value), sub,
			    "locality load balancing is off (enabled: "
			    "false), which swerve cannot do", true);
	}
}

void import_locality_lb(struct import_ctx *c, yaml_node_t *v,
			const char *path)
{
	static const struct import_field fields[] = {
		{ "enabled", enabled, NULL, false },
		{ "failover", failovers, NULL, false },
		{ "failoverPriority", failover_priority, NULL, false },
		{ "distribute", distributes, NULL, false },
		{ NULL, NULL, NULL, false },
	};
	const char *on = import_text(import_get(c, v, "enabled"));

	if (on != NULL && strcasecmp(on, "false") == 0)
		disabled(c, v, path);
	else
		import_walk(c, v, path, fields);
}
