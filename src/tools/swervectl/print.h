/*
 * print: how swervectl writes what it shows: durations, addresses and
 * JSON strings, and the table and JSON printers of endpoints and events.
 *
 * Thread-safety: swervectl is single-threaded; printers write stdout.
 */
#ifndef SWERVE_PRINT_H
#define SWERVE_PRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/config.h"
#include "table/shm.h"
#include "tools/swervectl/view.h"

#define CELL_MAX 256
#define NCOLS 16

/*
 * "850ms", "58s", "1m12s", "2h0m5s". Seconds round up so that an ejection
 * that has just started for 1m reads "1m0s", not "59s".
 */
void format_duration(uint64_t ms, char *buf, size_t len);


/* A service address (host byte order) as dotted quad. */
void format_vip(uint32_t vip, char *buf, size_t len);

/* "address:port" of <addr> (port 0: the address alone). */
void format_address(const struct sockaddr_storage *addr, char *buf,
		    size_t len);

/* What the DNS column shows: "-" for a literal, else the name and its
 * state ("db.internal ok (3 stale uses)"). */
void format_dns(const struct ep_view *v, char *buf, size_t len);

/* Why <v> is ejected, for people: the cause ("5xx", "timeout", ...), else
 * the reason ("operator"); NULL when healthy or not known. */
const char *ejection_why(const struct ep_view *v);

/* What the RESPONSES column shows: "-" for a tcp service, else the
 * non-zero counters ("2xx:120 5xx:3 timeouts:1") or "none". */
void format_responses(const struct ep_view *v, char *buf, size_t len);

/* What the TLS columns show: "-" for a service without tls, else
 * handshakes ok/failed ("12/1"), the share of completed handshakes that
 * resumed a session ("75%", "-" before any) and the last verify error
 * ("none" before any). */
void format_tls(const struct ep_view *v, char *handshakes, char *resumed,
		char *verify, size_t len);

/*
 * The X509_V_ERR_* code <code> for people: OpenSSL's own words for the
 * common ones ("certificate has expired"), else "error N" in <buf>.
 * NULL for 0 (no verify error).
 */
const char *tls_verify_text(uint64_t code, char *buf, size_t len);

/* RFC 8259 string: quotes, backslashes and control characters escaped. */
void print_json_string(const char *s);

/* swervectl endpoints, as a table (with the TLS columns when <tls>:
 * view_has_tls()) and as JSON (TLS fields on each row of a service with
 * tls). */
void print_table(const struct ep_view *views, size_t n, bool tls);
void print_json(const struct ep_view *views, size_t n);

/* swervectl events, as JSON and as a table; keys are named through <v>
 * (service and endpoint views). */
void print_events_json(const struct view *v,
		       const struct swerve_shm_event_info *evs, size_t n,
		       uint64_t lost, uint64_t now);
void print_events_table(const struct view *v,
			const struct swerve_shm_event_info *evs, size_t n,
			uint64_t lost, uint64_t now);

#endif
