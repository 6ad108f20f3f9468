/*
 * config_rules.c: the values of the locality rule keys of a service,
 * failover, failover_priority and distribute, each checked on its own;
 * config_check.c checks how they combine.
 *
 * Thread-safety: used only by the thread loading a config; all state is in
 * its struct parse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config_int.h"

/* A failover end: a region name alone (Istio: no '/', no '*'). */
static bool is_valid_region(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '/' ||
		    *s == '*' || *s == ',' || *s == ':')
			return false;
	}
	return true;
}

/*
 * Splits "FROM -> TO" into trimmed <from> and <to> (each <size> bytes).
 * Returns 0 or -EINVAL when there is no single "->".
 */
static int split_arrow(const char *value, char *from, char *to, size_t size)
{
	const char *arrow = strstr(value, "->");

	if (arrow == NULL || strstr(arrow + 2, "->") != NULL)
		return -EINVAL;
	config_copy_trimmed(from, size, value, (size_t)(arrow - value));
	config_copy_trimmed(to, size, arrow + 2, strlen(arrow + 2));
	return 0;
}

/* failover = FROM -> TO, repeatable; regions only, as in Istio. */
void config_add_failover(struct parse *p, const char *value)
{
	struct swerve_service *svc = &p->cfg->services[p->service];
	char from[CONFIG_LINE_MAX], to[CONFIG_LINE_MAX];
	struct swerve_failover *f;
	unsigned i;

	if (split_arrow(value, from, to, sizeof(from)) < 0) {
		config_error(p, "failover must be FROM_REGION -> TO_REGION, "
			     "not '%s'", value);
		return;
	}
	if (!is_valid_region(from) || !is_valid_region(to)) {
		config_error(p, "failover takes regions, without '/' or '*': "
			     "'%s -> %s'", from, to);
		return;
	}
	if (strcmp(from, to) == 0) {
		config_error(p, "failover from %s to itself", from);
		return;
	}
	for (i = 0; i < svc->nfailover; i++) {
		if (strcmp(svc->failover[i].from, from) == 0) {
			config_error(p, "failover from %s is given twice in %s "
				     "(first at line %d): only the first would "
				     "count", from, p->where,
				     svc->failover[i].line);
			return;
		}
	}
	if (svc->nfailover == SWERVE_MAX_FAILOVER) {
		config_error(p, "%s has more than %d failover "
			     "rules", p->where, SWERVE_MAX_FAILOVER);
		return;
	}
	/* is_valid_region() bounded both to 63 bytes */
	f = &svc->failover[svc->nfailover++];
	memcpy(f->from, from, strlen(from) + 1);
	memcpy(f->to, to, strlen(to) + 1);
	f->line = p->lineno;
}

/* One failover_priority entry: KEY or KEY=VALUE. */
static void add_failover_label(struct parse *p, const char *item)
{
	struct swerve_service *svc = &p->cfg->services[p->service];
	struct swerve_failover_label fl;
	const char *eq = strchr(item, '=');
	size_t n = eq != NULL ? (size_t)(eq - item) : strlen(item);
	unsigned i;

	memset(&fl, 0, sizeof(fl));
	if (n >= sizeof(fl.key) || (eq != NULL && strlen(eq + 1) >= 64)) {
		config_error(p, "failover_priority entry '%s' is too long",
			     item);
		return;
	}
	memcpy(fl.key, item, n);
	fl.key[n] = '\0';
	if (!config_is_valid_label_key(fl.key)) {
		config_error(p, "failover_priority: '%s' is not a label key (1 "
			     "to 63 of A-Z a-z 0-9 . _ - /)", fl.key);
		return;
	}
	if (eq != NULL) {
		fl.has_value = true;
		snprintf(fl.value, sizeof(fl.value), "%s", eq + 1);
	}
	for (i = 0; i < svc->nfailover_priority; i++) {
		if (strcmp(svc->failover_priority[i].key, fl.key) == 0) {
			config_error(p, "failover_priority lists %s twice in "
				     "%s", fl.key, p->where);
			return;
		}
	}
	if (svc->nfailover_priority == SWERVE_MAX_LABELS) {
		config_error(p, "failover_priority has more than %d labels",
			     SWERVE_MAX_LABELS);
		return;
	}
	svc->failover_priority[svc->nfailover_priority++] = fl;
}

/* failover_priority = KEY[=VALUE], ... : once per service. */
void config_set_failover_priority(struct parse *p, const char *value)
{
	struct swerve_service *svc = &p->cfg->services[p->service];

	if (config_given_twice(p, svc->failover_priority_line))
		return;
	svc->failover_priority_line = p->lineno;
	config_add_list(p, value, add_failover_label);
}

/*
 * Two patterns overlap when some locality matches both: each part equal,
 * or a wildcard ("*" or "") on either side.
 */
static bool is_wild(const char *part)
{
	return part[0] == '\0' || strcmp(part, "*") == 0;
}

static bool parts_overlap(const char *a, const char *b)
{
	return is_wild(a) || is_wild(b) || strcmp(a, b) == 0;
}

static bool patterns_overlap(const struct swerve_locality *a,
			     const struct swerve_locality *b)
{
	/* Istio's region has no "" wildcard, but "*" is one. */
	bool region = strcmp(a->region, "*") == 0 ||
		      strcmp(b->region, "*") == 0 ||
		      strcmp(a->region, b->region) == 0;

	return region && parts_overlap(a->zone, b->zone) &&
	       parts_overlap(a->subzone, b->subzone);
}

/* "PATTERN:WEIGHT" into <t>. Returns 0 or -EINVAL after reporting. */
static int parse_distribute_target(struct parse *p, const char *item,
				   struct swerve_distribute_target *t)
{
	const char *colon = strrchr(item, ':');
	char pat[CONFIG_LINE_MAX];
	uint64_t w;
	size_t n;

	if (colon == NULL) {
		config_error(p, "distribute target '%s' needs a weight: "
			     "LOCALITY:WEIGHT", item);
		return -EINVAL;
	}
	n = (size_t)(colon - item);
	config_copy_trimmed(pat, sizeof(pat), item, n);
	if (swerve_config_parse_pattern(pat, &t->pattern) < 0 ||
	    strlen(pat) >= sizeof(t->text)) {
		config_error(p, "distribute target '%s' is not "
			     "region[/zone[/subzone]] (parts may be '*')", pat);
		return -EINVAL;
	}
	snprintf(t->text, sizeof(t->text), "%s", pat);
	if (config_parse_uint(colon + 1, 100, &w) < 0 || w == 0) {
		config_error(p, "distribute weight of %s must be 1 to 100, not "
			     "'%s'", pat, colon + 1);
		return -EINVAL;
	}
	t->weight = (uint32_t)w;
	return 0;
}

/*
 * The targets "TO:WEIGHT, ..." of rule <d>, whose from_text is set: no two
 * may overlap, and the weights must sum to 100. Returns 0 or -EINVAL after
 * reporting.
 */
static int parse_distribute_targets(struct parse *p, const char *to,
				    struct swerve_distribute *d)
{
	char item[CONFIG_LINE_MAX];
	const char *s, *comma;
	unsigned j, sum = 0;

	for (s = to;; s = comma + 1) {
		comma = strchr(s, ',');
		config_copy_trimmed(item, sizeof(item), s,
				    comma != NULL ? (size_t)(comma - s)
						  : strlen(s));
		if (d->nto == SWERVE_MAX_DISTRIBUTE) {
			config_error(p, "distribute from %s has more than %d "
				     "targets", d->from_text,
				     SWERVE_MAX_DISTRIBUTE);
			return -EINVAL;
		}
		if (parse_distribute_target(p, item, &d->to[d->nto]) < 0)
			return -EINVAL;
		sum += d->to[d->nto].weight;
		for (j = 0; j < d->nto; j++) {
			if (!patterns_overlap(&d->to[j].pattern,
					      &d->to[d->nto].pattern))
				continue;
			config_error(p, "distribute targets %s and %s overlap: "
				     "a locality may match only one",
				     d->to[j].text, d->to[d->nto].text);
			return -EINVAL;
		}
		d->nto++;
		if (comma == NULL)
			break;
	}
	if (sum != 100) {
		config_error(p, "distribute weights from %s sum to %u, not 100",
			     d->from_text, sum);
		return -EINVAL;
	}
	return 0;
}

/*
 * distribute = FROM -> TO:WEIGHT, ... Validated as Istio does (weights in
 * 1..100 summing to 100) and more: targets that overlap would make the
 * result depend on Go's random map order in Istio, so they are refused.
 */
void config_add_distribute(struct parse *p, const char *value)
{
	struct swerve_service *svc = &p->cfg->services[p->service];
	struct service_state *st = &p->states[p->service];
	char from[CONFIG_LINE_MAX], to[CONFIG_LINE_MAX];
	struct swerve_distribute d, *grown;
	unsigned i;

	memset(&d, 0, sizeof(d));
	d.line = p->lineno;
	if (split_arrow(value, from, to, sizeof(from)) < 0 ||
	    to[0] == '\0') {
		config_error(p, "distribute must be FROM -> TO:WEIGHT[, ...], "
			     "not '%s'", value);
		return;
	}
	if (swerve_config_parse_pattern(from, &d.from) < 0 ||
	    strlen(from) >= sizeof(d.from_text)) {
		config_error(p, "distribute from '%s' is not "
			     "region[/zone[/subzone]] (parts may be '*')",
			     from);
		return;
	}
	snprintf(d.from_text, sizeof(d.from_text), "%s", from);
	if (parse_distribute_targets(p, to, &d) < 0)
		return;
	for (i = 0; i < svc->ndistribute; i++) {
		if (strcmp(svc->distribute[i].from_text, d.from_text) == 0) {
			config_error(p, "distribute from %s is given twice in "
				     "%s (first at line %d)", from, p->where,
				     svc->distribute[i].line);
			return;
		}
	}
	if (svc->ndistribute == SWERVE_MAX_DISTRIBUTE) {
		config_error(p, "%s has more than %d distribute rules",
			     p->where, SWERVE_MAX_DISTRIBUTE);
		return;
	}
	if (svc->ndistribute == st->cap_distribute) {
		unsigned cap = st->cap_distribute != 0 ?
			       st->cap_distribute * 2 : 2;

		grown = realloc(svc->distribute, cap * sizeof(*grown));
		if (grown == NULL) {
			p->oom = true;
			return;
		}
		svc->distribute = grown;
		st->cap_distribute = cap;
	}
	svc->distribute[svc->ndistribute++] = d;
}
