/*
 * config_int.h: what the config files share and nothing outside them sees:
 * the state of one load (struct parse), the key tables' types, and the
 * functions each config file offers the others. config.h is the public
 * interface.
 *
 * The functions below have external linkage only so that the config files
 * can call each other: the build hides every symbol that is not exported
 * (-fvisibility=hidden), so none of them leaves libswerve.so, and their
 * config_ prefix keeps them apart from other modules' names where objects
 * are linked together (swervectl, the tests).
 *
 * Thread-safety: a struct parse belongs to the one thread that loads.
 */
#ifndef SWERVE_CONFIG_INT_H
#define SWERVE_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/config.h"

/*
 * inih's line buffer, INI_MAX_LINE (config.c checks that they agree): no
 * key, value or item of a value is longer, so a buffer of this size holds
 * any of them. It is spelled here so that only config.c includes ini.h.
 */
#define CONFIG_LINE_MAX 200

#define SERVICE_NAME_MAX 63

#define WEIGHT_MAX 10000

enum section_kind {
	SECTION_NONE = 0,       /* before the first header */
	SECTION_SWERVE = 1,
	SECTION_DEFAULTS = 2,
	SECTION_SERVICE = 3,
	SECTION_IGNORED = 4,    /* a bad header, already reported */
};

enum swerve_key {
	SK_LOCALITY = 0,
	SK_VIP_CIDR = 1,
	SK_SHM = 2,
	SK_LOG = 3,
	SK_DNS_SERVERS = 4,
	SK_COUNT = 5,
};

enum value_kind {
	VALUE_UINT = 0,
	VALUE_DURATION = 1,
	VALUE_BOOL = 2,
	VALUE_LB = 3,
	VALUE_RESOLUTION = 4,
};

/* Keys allowed both in [defaults] and in [service NAME]. */
enum tuning_key {
	TK_CONSECUTIVE_5XX = 0,
	TK_CONSECUTIVE_GATEWAY,
	TK_CONSECUTIVE_LOCAL_ORIGIN,
	TK_SPLIT,
	TK_INTERVAL,
	TK_BASE_EJECTION,
	TK_MAX_EJECTION,
	TK_MAX_EJECTION_PERCENT,
	TK_MIN_EJECTABLE_HOSTS,
	TK_MIN_HEALTH_PERCENT,
	TK_LB,
	TK_OVERPROVISIONING,
	TK_CONNECT_TIMEOUT,
	TK_CONNECT_ATTEMPTS,
	TK_RESOLUTION,
	TK_DNS_MIN_TTL,
	TK_DNS_MAX_TTL,
	TK_DNS_TIMEOUT,
	TK_COUNT,
};

struct tuning_spec {
	const char *name;
	enum value_kind kind;
	uint64_t min;
	uint64_t max;
	uint64_t def;
	bool outlier;           /* giving it turns outlier detection on */
	const char *hint;       /* appended to range errors, or NULL */
};

/* Tuning keys as given in one section; line 0 means "not given". */
struct tuning {
	uint64_t value[TK_COUNT];
	int line[TK_COUNT];
};

/* What a service needs while loading only; parallel to cfg->services. */
struct service_state {
	struct tuning tuning;
	unsigned cap_endpoints;
	unsigned cap_distribute;
};

struct parse {
	const char *path;
	struct swerve_config *cfg;
	struct service_state *states;
	unsigned cap_services;
	struct tuning defaults;
	FILE *file;
	int lineno;
	bool prev_name;         /* inih's "continuation lines allowed" */
	enum section_kind section;
	unsigned service;       /* index when section is SECTION_SERVICE */
	int swerve_line;        /* header lines, 0 when absent */
	int defaults_line;
	int swerve_key_line[SK_COUNT];
	int first_syntax_line;
	unsigned nerrors;
	bool oom;
	int read_errno;
	swerve_config_report_fn report;
	void *ctx;
	char *err;
	size_t errlen;
};

/* The characters the config syntax knows, independent of the locale. */

static inline bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '\f' || c == '\v';
}

static inline bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline char to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* config.c */

/* Reports "<path>:<line>: <message>", or "<path>: <message>" for line 0. */
void config_report_at(struct parse *p, bool is_error, int line,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * Reports an error about what is being read: the current line of the
 * file. Key handlers report through it, never with a line of their own.
 */
void config_error(struct parse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* An environment override has no file line: "<VARIABLE>: <message>". */
void config_report_env(struct parse *p, const char *var, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* config_read.c */
const char *config_format_section(const struct parse *p, char *buf,
				  size_t size);
int config_handle_pair(void *user, const char *section, const char *name,
		       const char *value);
char *config_read_line(char *buf, int size, void *stream);

/* config_keys.c */
void config_handle_service_key(struct parse *p, const char *name,
			       const char *value);
void config_handle_other_key(struct parse *p, const char *name,
			     const char *value);
void config_apply_env(struct parse *p);
void config_resolve_tuning(const struct tuning *own,
			   const struct tuning *defaults, struct tuning *out);
void config_apply_tuning(struct swerve_service *svc, const struct tuning *t);

/* config_values.c */
void config_copy_trimmed(char *out, size_t size, const char *s, size_t len);
int config_parse_uint(const char *s, uint64_t max, uint64_t *out);
int config_parse_cidr(const char *s, uint32_t *net, uint32_t *mask,
		      unsigned *prefix, const char **why);
/* An lb value as a number: 0, or -EINVAL after reporting. */
int config_parse_lb(struct parse *p, const char *value, uint64_t *out);
bool config_is_valid_shm_name(const char *s);
bool config_is_all_digits(const char *s);
bool config_is_valid_dns_servers(const char *value);
void config_add_host(struct parse *p, const char *where, const char *item);
void config_add_port(struct parse *p, const char *where, const char *item);
void config_add_list(struct parse *p, const char *where, const char *value,
		     void (*add)(struct parse *, const char *, const char *));
const char *config_read_token(const char *s, char *tok, size_t size);
bool config_is_valid_label_key(const char *s);
bool config_is_locality_key(const char *key);
int config_add_label(struct parse *p, struct swerve_label *labels,
		     unsigned *n, const char *key, const char *value);

/* config_endpoint.c */
void config_add_endpoint(struct parse *p, const char *where,
			 const char *value);

/* config_rules.c */
void config_add_failover(struct parse *p, const char *where,
			 const char *value);
void config_add_failover_label(struct parse *p, const char *where,
			       const char *item);
void config_add_distribute(struct parse *p, const char *where,
			   const char *value);

/* config_check.c */
void config_check_tuning(struct parse *p, const struct tuning *t,
			 const struct tuning *own, const char *where);
void config_check_endpoints(struct parse *p, const struct swerve_service *svc);
int config_build_localities(struct parse *p, struct swerve_service *svc);
void config_check_locality_rules(struct parse *p,
				 const struct swerve_service *svc);
void config_assign_vips(struct parse *p);

#endif
