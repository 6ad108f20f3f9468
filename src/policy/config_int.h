/*
 * config_int.h: what the config files share and nothing outside them sees:
 * the state of one load (struct parse), the key table's types, and the
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

/* tls_max_connections: its default and largest value. */
#define TLS_MAX_CONNECTIONS_DEFAULT 1024
#define TLS_MAX_CONNECTIONS_MAX 65536

enum section_kind {
	SECTION_NONE = 0,       /* before the first header */
	SECTION_SWERVE = 1,
	SECTION_DEFAULTS = 2,
	SECTION_SERVICE = 3,
	SECTION_IGNORED = 4,    /* a bad header, already reported */
};

/* What a key's value is; the handler of a VALUE_TEXT key checks it alone. */
enum value_kind {
	VALUE_UINT = 0,
	VALUE_DURATION = 1,
	VALUE_BOOL = 2,
	VALUE_LB = 3,
	VALUE_RESOLUTION = 4,
	VALUE_TEXT = 5,
	VALUE_PROTOCOL = 6,
	VALUE_RETRY_ON = 7,     /* a list of retry conditions, as bits */
	VALUE_STATUS_CODES = 8, /* a list of statuses, packed: config_retry.c */
};

/* Where a key may be given. */
enum key_place {
	PLACE_SWERVE = 0,       /* [swerve] */
	PLACE_TUNING = 1,       /* [defaults] and [service NAME] */
	PLACE_SERVICE = 2,      /* [service NAME] */
};

/*
 * Every key of the file, indexes of the key table (config_keys.c). The
 * tuning keys come first so that they also index struct tuning.
 */
enum key_id {
	/* PLACE_TUNING */
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
	TK_PROTOCOL,
	TK_RESPONSE_TIMEOUT,
	TK_RETRIES,
	TK_RETRY_ON,
	TK_RETRIABLE_CODES,
	TK_COUNT,
	/* PLACE_SWERVE */
	SK_LOCALITY = TK_COUNT,
	SK_VIP_CIDR,
	SK_SHM,
	SK_LOG,
	SK_DNS_SERVERS,
	SK_LOG_FILE,
	SK_TLS_MAX_CONNECTIONS,
	SK_RELOAD,
	/* PLACE_SERVICE */
	VK_HOSTS,
	VK_PORTS,
	VK_ENDPOINT,
	VK_FAILOVER,
	VK_FAILOVER_PRIORITY,
	VK_DISTRIBUTE,
	VK_TLS,
	VK_TLS_CA,
	VK_TLS_SNI,
	VK_TLS_SANS,
	VK_TLS_CERT,
	VK_TLS_KEY,
	VK_TLS_SKIP_VERIFY,
	KEY_COUNT,
};

struct parse;

/*
 * One key of the file. Its handler checks and stores a value of the key
 * being read (struct parse's key) and reports what is wrong with it
 * through config_error(), so that the same value gets the same message
 * wherever it comes from.
 */
struct key_spec {
	const char *name;
	enum key_place place;
	enum value_kind kind;
	uint64_t min;           /* range and default: tuning keys */
	uint64_t max;
	uint64_t def;
	bool outlier;           /* giving it turns outlier detection on */
	const char *hint;       /* appended to range errors, or NULL */
	const char *env;        /* the variable overriding it, or NULL */
	void (*handle)(struct parse *p, const char *value);
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
	int swerve_key_line[KEY_COUNT]; /* [swerve] keys given, by key_id */
	int key;                /* the key being handled (enum key_id) */
	const char *env;        /* the variable being applied, or NULL */
	char where[SERVICE_NAME_MAX + 16]; /* the section, as messages say */
	int first_syntax_line;
	unsigned nerrors;
	bool oom;
	int read_errno;
	unsigned long long bytes; /* read so far */
	bool too_big;           /* more than SWERVE_MAX_CONFIG_BYTES */
	/*
	 * Keys of a section that cannot be opened (unknown, given twice, a bad
	 * service name) still go to their handlers, so that every error of
	 * the file is reported: into this config of one service, thrown away.
	 */
	struct swerve_config *scratch;
	struct service_state scratch_state;
	int scratch_key_line[KEY_COUNT];
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

/*
 * Reports a problem at <line> of the file (0: the file as a whole) to the
 * caller's report function; the first error is also copied to its buffer.
 */
void config_report_at(struct parse *p, bool is_error, int line,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * Reports an error about what is being read: the current line of the
 * file, or the environment variable being applied ("<VARIABLE>: <message>",
 * an override has no line). Key handlers report through it, never with a
 * place of their own, so a value gets the same message from either.
 */
void config_error(struct parse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Copies <size> bytes of <data> into the config's own storage, which lives
 * as long as the config. NULL (and p->oom) when out of memory.
 */
void *config_keep(struct parse *p, const void *data, size_t size);
/* The same for a string; "" when it is empty or memory runs out. */
const char *config_keep_string(struct parse *p, const char *s);

/* config_read.c: the reader and the handler given to ini_parse_stream() */
int config_handle_pair(void *user, const char *section, const char *name,
		       const char *value);
char *config_read_line(char *buf, int size, void *stream);

/* config_keys.c */

/* Hands the key <name> of the current section to its handler. */
void config_handle_key(struct parse *p, const char *name, const char *value);
/* The kind of section where key <name> belongs ([swerve] or a service). */
enum section_kind config_home_section(const char *name);
/*
 * For a key that may be given once per section, with <first_line> the
 * line it was given on (0: not yet): reports and returns true if it was.
 */
bool config_given_twice(struct parse *p, int first_line);
/*
 * The value of the key being handled (p->key), of the kind and range its
 * entry in the key table gives: 0, or -EINVAL after reporting.
 */
int config_parse_key_value(struct parse *p, const char *value,
			   uint64_t *out);
void config_apply_env(struct parse *p);
void config_resolve_tuning(const struct tuning *own,
			   const struct tuning *defaults, struct tuning *out);
void config_apply_tuning(struct swerve_service *svc, const struct tuning *t);

/* config_values.c */
void config_copy_trimmed(char *out, size_t size, const char *s, size_t len);
int config_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* A value of <key>'s kind and range: 0, or -EINVAL after reporting. */
int config_parse_value(struct parse *p, const struct key_spec *key,
		       const char *value, uint64_t *out);
int config_parse_cidr(const char *s, uint32_t *net, uint32_t *mask,
		      unsigned *prefix, const char **why);
/* Handlers of the [swerve] keys and of hosts and ports. */
void config_set_locality(struct parse *p, const char *value);
void config_set_vip_cidr(struct parse *p, const char *value);
void config_set_shm(struct parse *p, const char *value);
void config_set_log(struct parse *p, const char *value);
void config_set_dns_servers(struct parse *p, const char *value);
void config_set_log_file(struct parse *p, const char *value);
void config_add_hosts(struct parse *p, const char *value);
void config_add_ports(struct parse *p, const char *value);
void config_add_list(struct parse *p, const char *value,
		     void (*add)(struct parse *p, const char *item));
const char *config_read_token(const char *s, char *tok, size_t size);
/* A host name as hosts stores it (lower case, no trailing dot, no '*'). */
bool config_is_valid_host(const char *body);
bool config_is_valid_label_key(const char *s);
bool config_is_locality_key(const char *key);
int config_add_label(struct parse *p, struct swerve_label *labels,
		     unsigned *n, const char *key, const char *value);

/* config_endpoint.c: the handler of endpoint */
void config_add_endpoint(struct parse *p, const char *value);

/* config_rules.c: the handlers of the locality rule keys */
void config_add_failover(struct parse *p, const char *value);
void config_set_failover_priority(struct parse *p, const char *value);
void config_add_distribute(struct parse *p, const char *value);

/* config_tls.c: the TLS keys, and how they combine with the endpoints */
void config_set_tls_max_connections(struct parse *p, const char *value);
void config_set_reload(struct parse *p, const char *value);
void config_set_tls(struct parse *p, const char *value);
void config_set_tls_ca(struct parse *p, const char *value);
void config_set_tls_sni(struct parse *p, const char *value);
void config_add_tls_sans(struct parse *p, const char *value);
void config_set_tls_cert(struct parse *p, const char *value);
void config_set_tls_key(struct parse *p, const char *value);
void config_set_tls_skip_verify(struct parse *p, const char *value);
/*
 * Gives the absent strings of <svc>'s TLS settings their "" and checks the
 * keys against each other and against the endpoints.
 */
void config_check_tls(struct parse *p, struct swerve_service *svc);

/* config_retry.c: the retry keys (Istio's HTTPRetry) */

/* retry_on's default: Istio's conditions that apply to HTTP/1.1. */
#define RETRY_ON_DEFAULT \
	(SWERVE_RETRY_ON_CONNECT_FAILURE | SWERVE_RETRY_ON_RESET | \
	 SWERVE_RETRY_ON_STATUS_CODES)
/* retriable_status_codes' default, 503, packed as the parser packs. */
#define RETRIABLE_CODES_DEFAULT 503
int config_parse_retry_on(struct parse *p, const struct key_spec *key,
			  const char *value, uint64_t *out);
int config_parse_status_codes(struct parse *p, const struct key_spec *key,
			      const char *value, uint64_t *out);
/*
 * Sets <svc>'s retry policy from the resolved tuning <t> and checks it;
 * refuses a retry key given in its own section (<own>) when the service is
 * not one the TLS relay carries: swerve cannot resend those requests.
 */
void config_apply_retry(struct parse *p, struct swerve_service *svc,
			const struct tuning *t, const struct tuning *own);
/*
 * The retry keys against each other, on the resolved values <t>, where one
 * of them is in <own> (as config_check_tuning() does for the others).
 */
void config_check_retry(struct parse *p, const struct tuning *t,
			const struct tuning *own, const char *where);

/* config_check.c */
void config_check_tuning(struct parse *p, const struct tuning *t,
			 const struct tuning *own, const char *where);
void config_check_endpoints(struct parse *p, const struct swerve_service *svc);
int config_build_localities(struct parse *p, struct swerve_service *svc);
void config_check_locality_rules(struct parse *p,
				 const struct swerve_service *svc);
void config_assign_vips(struct parse *p);

#endif
