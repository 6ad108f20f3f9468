/*
 * config: reads the INI file (inih) into an immutable struct swerve_config,
 * validates it, and derives what every process must agree on: service
 * addresses from vip_cidr, endpoint row keys, defaults. The work is split
 * by concern over config.c and config_*.c, which share config_int.h; only
 * config.c includes ini.h.
 *
 * Thread-safety: loading and freeing are plain single-threaded calls; a
 * loaded config is never modified, so any number of threads (and signal
 * handlers) read it without locks.
 */
#ifndef SWERVE_CONFIG_H
#define SWERVE_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/swerve.h"

#define SWERVE_DEFAULT_CONFIG "/etc/swerve/swerve.ini"
#define SWERVE_DEFAULT_SHM "/swerve" /* then ".<euid>": one table per user */
#define SWERVE_DEFAULT_VIP_CIDR "127.77.0.0/16"

/* Bounds of the locality rules; a config beyond them is rejected. */
#define SWERVE_MAX_LABELS 8       /* per endpoint, client, failover_priority */
#define SWERVE_MAX_LOCALITIES 64  /* distinct localities per service */
#define SWERVE_MAX_FAILOVER 16    /* failover rules per service */
#define SWERVE_MAX_DISTRIBUTE 16  /* distribute rules, and targets per rule */

/*
 * The longest duration a key takes: a day. Deadlines are "now plus a
 * duration" in milliseconds of CLOCK_MONOTONIC, so an unbounded value would
 * wrap them; and no timeout or ejection that swerve applies makes sense
 * beyond a day.
 */
#define SWERVE_MAX_DURATION_MS (24ull * 3600 * 1000)

/* The largest config file read: a full one (256 services of 1,024
 * endpoints) takes about 16 MiB. */
#define SWERVE_MAX_CONFIG_BYTES (64ull << 20)

/*
 * Label keys that name a part of the locality instead of a label (Istio's
 * topology labels): their value is taken from locality=, never from a
 * label.KEY=VALUE option.
 */
#define SWERVE_LABEL_REGION "topology.kubernetes.io/region"
#define SWERVE_LABEL_ZONE "topology.kubernetes.io/zone"
#define SWERVE_LABEL_SUBZONE "topology.istio.io/subzone"
#define SWERVE_LABEL_NETWORK "topology.istio.io/network"

enum swerve_lb {
	SWERVE_LB_ROUND_ROBIN = 0,
	SWERVE_LB_LEAST_REQUEST = 1,
	SWERVE_LB_RANDOM = 2,
};

/*
 * The name of <lb> as the config spells it ("round_robin",
 * "least_request", "random"), or "?" for a value outside the enum.
 */
const char *swerve_config_lb_name(enum swerve_lb lb);

/* region[/zone[/subzone]]; empty strings for missing parts ("" == ""). */
struct swerve_locality {
	char region[64];
	char zone[64];
	char subzone[64];
};

/* A key=value label of an endpoint or of this host. */
struct swerve_label {
	char key[64];
	char value[64];         /* may be empty */
};

struct swerve_endpoint {
	/*
	 * IPv4 or IPv6 address. Port 0 means "the port the application
	 * dialled"; otherwise every connection goes to this port.
	 */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char text[80];          /* "127.0.0.2:18080" or "[::1]:80" */
	struct swerve_locality locality;
	/*
	 * The strings and labels below are sized to what the file wrote and
	 * owned by the config (a config of 256 services of 1,024 endpoints
	 * each must not cost a host process hundreds of megabytes). In a
	 * loaded config the strings are never NULL; labels is NULL when
	 * nlabels is 0.
	 */
	const char *locality_text; /* as written, "" when absent */
	uint32_t weight;        /* >= 1, default 1 */
	int line;               /* where it was defined */
	const struct swerve_label *labels; /* label.KEY=VALUE, nlabels */
	unsigned nlabels;
	uint16_t group;         /* index in the service's localities[] */
	/*
	 * A host name (lower case) when the endpoint was given as one
	 * (resolution = dns), "" for an IP literal; <addr> is then unset and
	 * <text> is "name:port". Every address the name resolves to is an
	 * endpoint of its own (dnscache.c).
	 */
	const char *name;
	uint16_t port;          /* host order; 0: the port dialled */
};

/* One distinct locality of a service's endpoints (Envoy's
 * LocalityLbEndpoints before tiers split it). */
struct swerve_locality_group {
	struct swerve_locality locality;
	char text[200];         /* as the first endpoint wrote it, or "" */
	uint32_t weight;        /* sum of its endpoints' weights (Istio) */
	unsigned nendpoints;
};

/* failover = FROM -> TO: regions (Istio's LocalityLoadBalancerSetting). */
struct swerve_failover {
	char from[64];
	char to[64];
	int line;
};

/* One failover_priority entry: a label key, with an optional literal. */
struct swerve_failover_label {
	char key[64];
	char value[64];
	bool has_value;         /* key=value: compare with the literal */
};

/*
 * A locality pattern of distribute: region[/zone[/subzone]], each part a
 * name or "*"; missing parts are "" and match anything (Istio's
 * LocalityMatch).
 */
struct swerve_distribute_target {
	struct swerve_locality pattern;
	char text[200];
	uint32_t weight;        /* 1..100; a rule's targets sum to 100 */
};

/* distribute = FROM -> TO:WEIGHT, ... */
struct swerve_distribute {
	struct swerve_locality from;
	char from_text[200];
	struct swerve_distribute_target to[SWERVE_MAX_DISTRIBUTE];
	unsigned nto;
	int line;
};

/* Outlier detection, Istio's DestinationRule fields in snake_case. */
struct swerve_outlier_cfg {
	bool enabled;                    /* any outlier key given */
	uint32_t consecutive_5xx;        /* 0 disables; default 5 */
	uint32_t consecutive_gateway;    /* 0 disables; default 0 */
	uint32_t consecutive_local_origin; /* split mode only; default 5 */
	bool split_external_local_origin; /* default false */
	uint64_t interval_ms;            /* default 10s */
	uint64_t base_ejection_ms;       /* default 30s */
	uint64_t max_ejection_ms;        /* default max(300s, base) */
	uint32_t max_ejection_percent;   /* default 10 */
	uint32_t min_ejectable_hosts;    /* swerve's floor; default 1 */
	uint32_t min_health_percent;     /* panic threshold; default 0 */
};

/* What a service's connections carry (Istio's port protocol). */
enum swerve_protocol {
	SWERVE_PROTOCOL_TCP = 0,  /* opaque bytes: connect outcomes only */
	SWERVE_PROTOCOL_HTTP = 1, /* HTTP/1.x: responses observed too */
};

/* Istio's ClientTLSSettings mode. */
enum swerve_tls_mode {
	SWERVE_TLS_DISABLE = 0,   /* default: swerve routes the bytes as is */
	SWERVE_TLS_SIMPLE = 1,    /* swerve originates TLS to the endpoints */
	SWERVE_TLS_MUTUAL = 2,    /* the same, with a client certificate */
};

/*
 * The name of <mode> as the config spells it ("disable", "simple",
 * "mutual"), or "?" for a value outside the enum.
 */
const char *swerve_config_tls_mode_name(enum swerve_tls_mode mode);

/* At most this many tls_subject_alt_names per service. */
#define SWERVE_MAX_SANS 16

/*
 * A service's TLS origination settings (Istio's ClientTLSSettings). The
 * strings are owned by the config's pool and never NULL in a loaded
 * config: "" when the key is absent. Certificate and key files are only
 * named here; they are read at first use (and by `swervectl check`).
 */
struct swerve_tls_cfg {
	enum swerve_tls_mode mode;       /* tls */
	int line;                        /* of the tls key; 0: absent */
	bool skip_verify;                /* tls_insecure_skip_verify */
	int skip_verify_line;
	const char *ca;                  /* tls_ca_certificates; "": the
					  * system trust store */
	int ca_line;
	const char *sni;                 /* tls_sni; "": the endpoint's host
					  * name (none for an IP literal) */
	int sni_line;
	const char *san[SWERVE_MAX_SANS]; /* tls_subject_alt_names; none:
					   * the SNI name */
	unsigned nsan;
	int san_line;
	const char *cert;                /* tls_client_certificate */
	int cert_line;
	const char *key;                 /* tls_private_key */
	int key_line;
};

/*
 * retry_on conditions (Istio's HTTPRetry retryOn, Envoy's x-envoy-retry-on
 * names), as bits. Only those that mean something for HTTP/1.1 exist.
 */
#define SWERVE_RETRY_ON_CONNECT_FAILURE 0x01u /* connect-failure */
#define SWERVE_RETRY_ON_RESET 0x02u           /* reset */
#define SWERVE_RETRY_ON_5XX 0x04u             /* 5xx */
#define SWERVE_RETRY_ON_GATEWAY_ERROR 0x08u   /* gateway-error */
#define SWERVE_RETRY_ON_RETRIABLE_4XX 0x10u   /* retriable-4xx */
#define SWERVE_RETRY_ON_STATUS_CODES 0x20u    /* retriable-status-codes */

/* At most this many retries per request, and retriable_status_codes. */
#define SWERVE_MAX_RETRIES 10
#define SWERVE_MAX_RETRIABLE_CODES 6

/*
 * A service's retry policy (Istio's HTTPRetry: attempts, retryOn, and the
 * mesh default's retriable status codes). Only the TLS relay resends
 * requests, so <attempts> is 0 for a service it does not relay (protocol
 * tcp, or tls = disable), whatever [defaults] says.
 */
struct swerve_retry_cfg {
	uint32_t attempts;              /* retries; default 2; 0: none */
	uint32_t on;                    /* SWERVE_RETRY_ON_* bits */
	uint16_t codes[SWERVE_MAX_RETRIABLE_CODES]; /* default 503 */
	unsigned ncodes;
};

struct swerve_service {
	char name[64];                   /* from [service NAME] */
	int line;                        /* of the section header */
	char hosts[SWERVE_MAX_HOSTS][256]; /* lower case, no trailing dot;
					    * "*.suffix" for wildcards */
	unsigned nhosts;
	uint16_t ports[SWERVE_MAX_PORTS]; /* none: every port is served */
	unsigned nports;
	struct swerve_endpoint *endpoints;
	unsigned nendpoints;
	struct swerve_outlier_cfg outlier;
	enum swerve_lb lb;               /* default round_robin */
	uint32_t overprovisioning_factor; /* percent, default 140 */
	uint64_t connect_timeout_ms;     /* default 10s (Istio's) */
	uint32_t connect_attempts;       /* per application call; default 3 */
	bool dns;                        /* resolution = dns (default static) */
	uint64_t dns_min_ttl_ms;         /* TTL clamp; default 5s */
	uint64_t dns_max_ttl_ms;         /* default 300s */
	uint64_t dns_timeout_ms;         /* one lookup's bound; default 2s */
	enum swerve_protocol protocol;   /* default tcp */
	uint64_t response_timeout_ms;    /* http: a request abandoned after
					  * this long unanswered counts as a
					  * timeout; 0 (default): never */
	struct swerve_tls_cfg tls;       /* mode SWERVE_TLS_DISABLE: none */
	struct swerve_retry_cfg retry;   /* retries, retry_on,
					  * retriable_status_codes */
	/* Service addresses, IPv4 in host byte order, inside vip_cidr. */
	uint32_t vips[SWERVE_VIPS_PER_SERVICE];
	/* Distinct endpoint localities, in order of first appearance. */
	struct swerve_locality_group *localities;
	unsigned nlocalities;
	/* Locality rules, in file order (first match wins, as in Istio). */
	struct swerve_failover failover[SWERVE_MAX_FAILOVER];
	unsigned nfailover;
	struct swerve_failover_label failover_priority[SWERVE_MAX_LABELS];
	unsigned nfailover_priority;
	int failover_priority_line;
	struct swerve_distribute *distribute;
	unsigned ndistribute;
};

/* Where a loaded config keeps its strings and labels (config.c). */
struct swerve_config_pool;

struct swerve_config {
	char path[PATH_MAX];
	struct swerve_locality locality;  /* this host; SWERVE_LOCALITY wins */
	char locality_text[200];
	struct swerve_label labels[SWERVE_MAX_LABELS]; /* [swerve] label.KEY */
	unsigned nlabels;
	uint32_t vip_net;                 /* host byte order */
	uint32_t vip_mask;                /* host byte order */
	unsigned vip_prefix;
	char shm_name[128];               /* SWERVE_SHM wins */
	char dns_servers[512];            /* "" : resolv.conf (c-ares) */
	uint32_t tls_max_connections;     /* relayed TLS connections at once,
					   * per process; default 1024 */
	bool reload;                      /* follow edits of the file;
					   * default true */
	enum swerve_log_level log_level;  /* SWERVE_LOG wins */
	char log_file[PATH_MAX];          /* "" : none; SWERVE_LOG_FILE wins */
	struct swerve_service *services;
	unsigned nservices;
	struct swerve_config_pool *pool;  /* the endpoints' strings */
};

/*
 * One problem found while loading, located by a line of the file, by an
 * environment variable, or by neither (the file as a whole). The strings
 * live only during the call that passes the problem: copy what you keep.
 */
struct swerve_config_problem {
	bool is_error;          /* false: a note, the load goes on */
	const char *file;       /* the config path */
	int line;               /* 0 when not from a line of the file */
	const char *env;        /* the environment variable, or NULL */
	const char *msg;        /* the message alone, no location */
	const char *text;       /* "file:line: msg" (or "VAR: msg", or
				 * "file: msg") as printed; no newline */
};

/* Called once per problem found, in the order found. */
typedef void (*swerve_config_report_fn)(
	void *ctx, const struct swerve_config_problem *problem);

/*
 * Parses and validates the file at <path>. Every problem is passed to
 * <report> (may be NULL): errors make the load fail, notes (is_error
 * false) do not. The text of the first error is also copied to <err>
 * (may be NULL). Environment overrides (SWERVE_LOCALITY, SWERVE_SHM,
 * SWERVE_LOG, read with secure_getenv) are applied when <use_env> is true.
 * Returns 0 and sets <*out>, or -errno (-ENOENT when the file does not
 * exist, -EINVAL for a bad file) with <*out> NULL. The caller owns <*out>
 * and frees it with swerve_config_free().
 */
int swerve_config_load(const char *path, bool use_env,
		       struct swerve_config **out,
		       swerve_config_report_fn report, void *ctx, char *err,
		       size_t errlen);

/* Frees a config from swerve_config_load(); accepts NULL. */
void swerve_config_free(struct swerve_config *cfg);

/*
 * Parses "region[/zone[/subzone]]" into <out>. Returns 0 or -EINVAL (empty
 * region, more than three parts, a part longer than 63 bytes).
 */
int swerve_config_parse_locality(const char *s, struct swerve_locality *out);

/*
 * Parses a distribute pattern "region[/zone[/subzone]]" where any part may
 * be "*" into <out>. Returns 0 or -EINVAL.
 */
int swerve_config_parse_pattern(const char *s, struct swerve_locality *out);

/*
 * Istio's LocalityMatch: true when <loc> matches <pattern> (region equal or
 * "*"; zone and subzone equal, "*" or "").
 */
bool swerve_config_locality_match(const struct swerve_locality *loc,
				  const struct swerve_locality *pattern);

/*
 * The value of label <key> for something at <loc> with <labels>[0..n-1]:
 * the locality part for the topology keys above, else the label's value,
 * else "" (a missing label equals an empty one).
 */
const char *swerve_config_label(const struct swerve_label *labels,
				unsigned n, const struct swerve_locality *loc,
				const char *key);

/* Parses "250ms", "15s", "1m", "2h" into milliseconds: 0 or -EINVAL. */
int swerve_config_parse_duration(const char *s, uint64_t *out_ms);

/*
 * Writes host name <in> to <out> (<outlen> bytes) the way the config
 * stores hosts: ASCII lower case, without one trailing dot. Allocates
 * nothing and takes no lock, so the hooks may call it on any thread.
 * Returns the length written (at least 1), -ENAMETOOLONG when <in> and its
 * terminating NUL are longer than <outlen> (<out> is then untouched), or
 * -EINVAL for a NULL argument, a zero <outlen> or a name that is empty
 * without its dot.
 */
int swerve_config_host_normalize(const char *in, char *out, size_t outlen);

/*
 * The service whose hosts match <name> (case-insensitive, one trailing dot
 * ignored, "*.suffix" matching any name ending in ".suffix"), or NULL.
 * Exact names win over wildcards; among wildcards the longest suffix wins.
 */
const struct swerve_service *swerve_config_match_name(
	const struct swerve_config *cfg, const char *name);

/*
 * The service owning IPv4 service address <addr> (host byte order) and, in
 * <vip_index>, which of its addresses it is; NULL when <addr> is no
 * service address. Constant time per service; safe in signal handlers.
 */
const struct swerve_service *swerve_config_match_vip(
	const struct swerve_config *cfg, uint32_t addr, unsigned *vip_index);

/* True when <port> is one of the service's ports (or it lists none). */
bool swerve_config_serves_port(const struct swerve_service *svc,
			       uint16_t port);

#endif
