/*
 * print.c: the table and JSON printers of swervectl and the formatting
 * they share. Single-threaded; everything goes to stdout.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy/balancer.h"
#include "policy/outlier.h"
#include "tools/swervectl/print.h"

static const char *const table_head[NCOLS] = {
	"SERVICE", "ENDPOINT", "LOCALITY", "PRIORITY", "STATUS",
	"OUTLIER CHECK", "EJECTED FOR", "FAILURES", "EJECTIONS",
	"CONNECTS OK", "CONNECTS FAILED", "RESPONSES", "TLS OK/FAILED",
	"TLS RESUMED", "TLS VERIFY ERROR", "DNS",
};

/* The TLS columns, shown only when some service has tls. */
#define TLS_COL 12
#define TLS_NCOLS 3

/*
 * The verify errors a client meets most, in OpenSSL 3's own words
 * (X509_verify_cert_error_string), so that they read as curl and
 * openssl s_client print them. A table of our own keeps libcrypto out of
 * swervectl; any other code reads "error N".
 */
static const struct {
	uint64_t code;
	const char *text;
} verify_errors[] = {
	{ 2, "unable to get issuer certificate" },
	{ 7, "certificate signature failure" },
	{ 9, "certificate is not yet valid" },
	{ 10, "certificate has expired" },
	{ 18, "self-signed certificate" },
	{ 19, "self-signed certificate in certificate chain" },
	{ 20, "unable to get local issuer certificate" },
	{ 21, "unable to verify the first certificate" },
	{ 23, "certificate revoked" },
	{ 26, "unsuitable certificate purpose" },
	{ 62, "hostname mismatch" },
	{ 64, "IP address mismatch" },
};

/*
 * "850ms", "58s", "1m12s", "2h0m5s". Seconds round up so that an ejection
 * that has just started for 1m reads "1m0s", not "59s".
 */
void format_duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t s, h, m;

	if (ms < 1000) {
		snprintf(buf, len, "%" PRIu64 "ms", ms);
		return;
	}
	s = (ms + 999) / 1000;
	h = s / 3600;
	m = s / 60 % 60;
	s %= 60;
	if (h > 0)
		snprintf(buf, len, "%" PRIu64 "h%" PRIu64 "m%" PRIu64 "s",
			 h, m, s);
	else if (m > 0)
		snprintf(buf, len, "%" PRIu64 "m%" PRIu64 "s", m, s);
	else
		snprintf(buf, len, "%" PRIu64 "s", s);
}

void format_vip(uint32_t vip, char *buf, size_t len)
{
	struct in_addr in = { .s_addr = htonl(vip) };

	if (inet_ntop(AF_INET, &in, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

/* "address:port" of <addr> (port 0: the address alone). */
void format_address(const struct sockaddr_storage *addr, char *buf,
		    size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)addr;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		port = ntohs(sin->sin_port);
		if (port != 0)
			snprintf(buf, len, "%s:%u", a, port);
		else
			snprintf(buf, len, "%s", a);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)addr;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		port = ntohs(sin6->sin6_port);
		if (port != 0)
			snprintf(buf, len, "[%s]:%u", a, port);
		else
			snprintf(buf, len, "[%s]", a);
	}
}

void format_dns(const struct ep_view *v, char *buf, size_t len)
{
	if (v->dns == NULL)
		snprintf(buf, len, "-");
	else if (v->stale_uses > 0)
		snprintf(buf, len, "%.180s %s (%" PRIu64 " stale uses)",
			 v->ep->name, v->dns, v->stale_uses);
	else
		snprintf(buf, len, "%.180s %s", v->ep->name, v->dns);
}

const char *ejection_why(const struct ep_view *v)
{
	if (!v->ejected)
		return NULL;
	if (v->cause != SWERVE_CAUSE_NONE)
		return swerve_outlier_cause_name(v->cause);
	if (v->reason != SWERVE_REASON_NONE)
		return swerve_outlier_reason_name(v->reason);
	return NULL;
}

void format_responses(const struct ep_view *v, char *buf, size_t len)
{
	const struct {
		const char *name;
		uint64_t n;
	} c[] = {
		{ "2xx", v->responses_2xx }, { "3xx", v->responses_3xx },
		{ "4xx", v->responses_4xx }, { "5xx", v->responses_5xx },
		{ "timeouts", v->timeouts }, { "resets", v->resets },
	};
	size_t i, off = 0;
	int w;

	snprintf(buf, len, v->svc->protocol == SWERVE_PROTOCOL_HTTP ?
		 "none" : "-");
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (c[i].n == 0)
			continue;
		w = snprintf(buf + off, len - off, "%s%s:%" PRIu64,
			     off > 0 ? " " : "", c[i].name, c[i].n);
		if (w < 0 || (size_t)w >= len - off)
			return;
		off += (size_t)w;
	}
}

const char *tls_verify_text(uint64_t code, char *buf, size_t len)
{
	size_t i;

	if (code == 0)
		return NULL;
	for (i = 0; i < sizeof(verify_errors) / sizeof(verify_errors[0]);
	     i++) {
		if (verify_errors[i].code == code)
			return verify_errors[i].text;
	}
	snprintf(buf, len, "error %" PRIu64, code);
	return buf;
}

/*
 * The share of completed handshakes that resumed a session, rounded down
 * (100% means every one). Counters read one by one while programs add to
 * them, or written over, may say more resumed than completed: never above
 * 100%. Below that, times 100 overflows only past 2^64 / 100 handshakes,
 * where a hundredth of the count is as good.
 */
static void format_resumed(const struct ep_view *v, char *buf, size_t len)
{
	uint64_t share;

	if (v->tls_ok == 0) {
		snprintf(buf, len, "-");
		return;
	}
	if (v->tls_resumed >= v->tls_ok)
		share = 100;
	else if (v->tls_ok <= UINT64_MAX / 100)
		share = v->tls_resumed * 100 / v->tls_ok;
	else
		share = v->tls_resumed / (v->tls_ok / 100);
	snprintf(buf, len, "%" PRIu64 "%%", share);
}

void format_tls(const struct ep_view *v, char *handshakes, char *resumed,
		char *verify, size_t len)
{
	const char *text;

	if (v->svc->tls.mode == SWERVE_TLS_DISABLE) {
		snprintf(handshakes, len, "-");
		snprintf(resumed, len, "-");
		snprintf(verify, len, "-");
		return;
	}
	snprintf(handshakes, len, "%" PRIu64 "/%" PRIu64, v->tls_ok,
		 v->tls_failed);
	format_resumed(v, resumed, len);
	text = tls_verify_text(v->tls_verify_error, verify, len);
	if (text == NULL)
		snprintf(verify, len, "none");
	else if (text != verify)
		snprintf(verify, len, "%s", text);
}

static void format_cells(const struct ep_view *v, char cells[][CELL_MAX])
{
	const char *why = ejection_why(v);

	snprintf(cells[0], CELL_MAX, "%s", v->svc->name);
	snprintf(cells[1], CELL_MAX, "%s", v->text);
	snprintf(cells[2], CELL_MAX, "%s",
		 v->ep->locality_text[0] != '\0' ? v->ep->locality_text : "-");
	if (v->priority == SWERVE_BALANCER_UNROUTED)
		snprintf(cells[3], CELL_MAX, "none");
	else
		snprintf(cells[3], CELL_MAX, "%u", v->priority);
	snprintf(cells[4], CELL_MAX, "%s", v->ejected ? "EJECTED" : "HEALTHY");
	if (why != NULL)
		snprintf(cells[5], CELL_MAX, "FAILED (%s)", why);
	else
		snprintf(cells[5], CELL_MAX, "%s", v->ejected ? "FAILED" : "OK");
	if (v->ejected)
		format_duration(v->remaining_ms, cells[6], CELL_MAX);
	else
		snprintf(cells[6], CELL_MAX, "-");
	snprintf(cells[7], CELL_MAX, "%" PRIu32, v->failures);
	snprintf(cells[8], CELL_MAX, "%" PRIu32, v->ejections);
	snprintf(cells[9], CELL_MAX, "%" PRIu64, v->connects_ok);
	snprintf(cells[10], CELL_MAX, "%" PRIu64, v->connects_failed);
	format_responses(v, cells[11], CELL_MAX);
	format_tls(v, cells[TLS_COL], cells[TLS_COL + 1], cells[TLS_COL + 2],
		   CELL_MAX);
	format_dns(v, cells[15], CELL_MAX);
}

/*
 * Columns are separated by three spaces; the last one is not padded.
 * Without <tls> the TLS columns are left out.
 */
static void print_row(char cells[][CELL_MAX], const size_t *width, bool tls)
{
	int c;

	for (c = 0; c < NCOLS; c++) {
		if (!tls && c >= TLS_COL && c < TLS_COL + TLS_NCOLS)
			continue;
		if (c == NCOLS - 1)
			printf("%s\n", cells[c]);
		else
			printf("%-*s   ", (int)width[c], cells[c]);
	}
}

void print_table(const struct ep_view *views, size_t n, bool tls)
{
	char cells[NCOLS][CELL_MAX];
	size_t width[NCOLS];
	size_t i, len;
	int c;

	for (c = 0; c < NCOLS; c++)
		width[c] = strlen(table_head[c]);
	for (i = 0; i < n; i++) {
		format_cells(&views[i], cells);
		for (c = 0; c < NCOLS; c++) {
			len = strlen(cells[c]);
			if (len > width[c])
				width[c] = len;
		}
	}
	for (c = 0; c < NCOLS; c++)
		snprintf(cells[c], CELL_MAX, "%s", table_head[c]);
	print_row(cells, width, tls);
	for (i = 0; i < n; i++) {
		format_cells(&views[i], cells);
		print_row(cells, width, tls);
	}
}

/* RFC 8259 string: quotes, backslashes and control characters escaped. */
void print_json_string(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

/* A name for JSON, or null. */
static void print_json_name(const char *name)
{
	if (name != NULL)
		print_json_string(name);
	else
		fputs("null", stdout);
}

/* The fields of <v> that an http service fills: its protocol, response
 * counters, and why it is ejected. */
static void print_json_http(const struct ep_view *v)
{
	printf(", \"protocol\": \"%s\", \"responses_2xx\": %" PRIu64
	       ", \"responses_3xx\": %" PRIu64 ", \"responses_4xx\": %" PRIu64
	       ", \"responses_5xx\": %" PRIu64 ", \"timeouts\": %" PRIu64
	       ", \"resets\": %" PRIu64 ", \"reason\": ",
	       v->svc->protocol == SWERVE_PROTOCOL_HTTP ? "http" : "tcp",
	       v->responses_2xx, v->responses_3xx, v->responses_4xx,
	       v->responses_5xx, v->timeouts, v->resets);
	print_json_name(v->reason != SWERVE_REASON_NONE ?
			swerve_outlier_reason_name(v->reason) : NULL);
	fputs(", \"cause\": ", stdout);
	print_json_name(v->cause != SWERVE_CAUSE_NONE ?
			swerve_outlier_cause_name(v->cause) : NULL);
}

/* The fields of <v> that a service with tls fills: its handshakes and
 * the last verify error, as a code and in words (null when none). */
static void print_json_tls(const struct ep_view *v)
{
	char buf[32];

	if (v->svc->tls.mode == SWERVE_TLS_DISABLE)
		return;
	printf(", \"tls_handshakes_ok\": %" PRIu64
	       ", \"tls_handshakes_failed\": %" PRIu64
	       ", \"tls_resumed\": %" PRIu64
	       ", \"tls_last_verify_error\": %" PRIu64
	       ", \"tls_last_verify_error_text\": ",
	       v->tls_ok, v->tls_failed, v->tls_resumed, v->tls_verify_error);
	print_json_name(tls_verify_text(v->tls_verify_error, buf,
					sizeof(buf)));
}

void print_json(const struct ep_view *views, size_t n)
{
	size_t i;

	if (n == 0) {
		puts("[]");
		return;
	}
	puts("[");
	for (i = 0; i < n; i++) {
		const struct ep_view *v = &views[i];

		fputs("  {\"service\": ", stdout);
		print_json_string(v->svc->name);
		fputs(", \"endpoint\": ", stdout);
		print_json_string(v->text);
		if (v->dns != NULL) {
			fputs(", \"name\": ", stdout);
			print_json_string(v->ep->text);
			printf(", \"dns\": \"%s\", \"stale_uses\": %" PRIu64,
			       v->dns, v->stale_uses);
		}
		fputs(", \"locality\": ", stdout);
		print_json_string(v->ep->locality_text);
		if (v->priority == SWERVE_BALANCER_UNROUTED)
			fputs(", \"priority\": null", stdout);
		else
			printf(", \"priority\": %u", v->priority);
		printf(", \"status\": \"%s\", "
		       "\"consecutive_failures\": %" PRIu32 ", "
		       "\"ejections\": %" PRIu32 ", "
		       "\"connects_ok\": %" PRIu64 ", "
		       "\"connects_failed\": %" PRIu64 ", "
		       "\"ejected_remaining_ms\": %" PRIu64,
		       v->ejected ? "ejected" : "healthy",
		       v->failures, v->ejections, v->connects_ok,
		       v->connects_failed, v->remaining_ms);
		print_json_http(v);
		print_json_tls(v);
		printf("}%s\n", i + 1 < n ? "," : "");
	}
	puts("]");
}

static const char *event_name(enum swerve_shm_event_type type)
{
	switch (type) {
	case SWERVE_EVENT_EJECT:
		return "eject";
	case SWERVE_EVENT_UNEJECT:
		return "uneject";
	case SWERVE_EVENT_OVERFLOW:
		return "overflow";
	case SWERVE_EVENT_PANIC_ENTER:
		return "panic_enter";
	case SWERVE_EVENT_PANIC_EXIT:
		return "panic_exit";
	}
	return "?";
}

/* "priorities 0,2", "total panic", "nothing healthy (fail open)". */
static void format_panic(uint32_t mask, char *buf, size_t len)
{
	size_t off = 0;
	unsigned p;
	int w;

	buf[0] = '\0';
	if (mask & SWERVE_PANIC_NONE_ROUTABLE) {
		snprintf(buf, len, "nothing healthy, panic off: fail open");
		return;
	}
	if (mask & SWERVE_PANIC_TOTAL) {
		snprintf(buf, len, "total panic: all endpoints");
		return;
	}
	for (p = 0; p < SWERVE_MAX_PRIORITIES; p++) {
		if (!(mask & (1u << p)))
			continue;
		w = snprintf(buf + off, len - off, "%s%u",
			     off == 0 ? "priorities " : ",", p);
		if (w < 0 || (size_t)w >= len - off)
			return;
		off += (size_t)w;
	}
}

static void format_detail(const struct swerve_shm_event_info *ev,
			  char *buf, size_t len)
{
	char dur[32];

	switch (ev->type) {
	case SWERVE_EVENT_EJECT:
		format_duration(ev->duration_ms, dur, sizeof(dur));
		snprintf(buf, len, "for %s, ejection %" PRIu32, dur,
			 ev->value);
		return;
	case SWERVE_EVENT_UNEJECT:
		format_duration(ev->duration_ms, dur, sizeof(dur));
		snprintf(buf, len, "after %s", dur);
		return;
	case SWERVE_EVENT_OVERFLOW:
		snprintf(buf, len, "kept in: max_ejection_percent reached");
		return;
	case SWERVE_EVENT_PANIC_ENTER:
	case SWERVE_EVENT_PANIC_EXIT:
		format_panic(ev->value, buf, len);
		return;
	}
	buf[0] = '\0';
}

/*
 * Wall-clock time of monotonic <at_ms>, as UTC ISO 8601: the ring keeps
 * CLOCK_MONOTONIC, which every process of the host shares.
 */
static void format_wall(uint64_t at_ms, uint64_t now_ms, char *buf,
			size_t len)
{
	struct timespec rt;
	struct tm tm;
	int64_t wall_ms;
	time_t secs;

	clock_gettime(CLOCK_REALTIME, &rt);
	wall_ms = (int64_t)rt.tv_sec * 1000 + rt.tv_nsec / 1000000 -
		  (int64_t)(now_ms - (at_ms < now_ms ? at_ms : now_ms));
	secs = (time_t)(wall_ms / 1000);
	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

void print_events_json(const struct view *v,
		       const struct swerve_shm_event_info *evs,
		       size_t n, uint64_t lost, uint64_t now)
{
	struct event_target t;
	char wall[64], detail[128];
	size_t i;

	printf("{\"lost\": %" PRIu64 ", \"events\": [", lost);
	for (i = 0; i < n; i++) {
		const struct swerve_shm_event_info *ev = &evs[i];

		view_resolve_key(v, ev->key, &t);
		format_wall(ev->at_ms, now, wall, sizeof(wall));
		format_detail(ev, detail, sizeof(detail));
		printf("%s\n  {\"seq\": %" PRIu64 ", \"time\": \"%s\", "
		       "\"ago_ms\": %" PRIu64 ", \"type\": \"%s\", "
		       "\"service\": ", i > 0 ? "," : "", ev->seq, wall,
		       now > ev->at_ms ? now - ev->at_ms : 0,
		       event_name(ev->type));
		if (t.svc != NULL)
			print_json_string(t.svc->name);
		else
			fputs("null", stdout);
		fputs(", \"endpoint\": ", stdout);
		if (t.ep != NULL)
			print_json_string(t.ep->text);
		else
			fputs("null", stdout);
		printf(", \"key\": \"%016" PRIx64 "\", \"reason\": \"%s\", "
		       "\"streak\": %" PRIu32 ", \"duration_ms\": %" PRIu64
		       ", \"value\": %" PRIu32 ", \"pid\": %" PRIu32
		       ", \"detail\": ", ev->key,
		       swerve_outlier_reason_name(ev->reason), ev->streak,
		       ev->duration_ms, ev->value, ev->pid);
		print_json_string(detail);
		fputs(", \"cause\": ", stdout);
		print_json_name(ev->cause != SWERVE_CAUSE_NONE ?
				swerve_outlier_cause_name(ev->cause) : NULL);
		putchar('}');
	}
	puts(n > 0 ? "\n]}" : "]}");
}

void print_events_table(const struct view *v,
			const struct swerve_shm_event_info *evs,
			size_t n, uint64_t lost, uint64_t now)
{
	struct event_target t;
	char wall[64], ago[32], who[CELL_MAX], detail[128];
	size_t i;

	if (lost > 0)
		printf("(%" PRIu64 " older events were overwritten)\n", lost);
	if (n == 0) {
		puts("no events");
		return;
	}
	printf("%-24s %-8s %-11s %-36s %-24s %-15s %-6s %s\n", "TIME",
	       "AGO", "EVENT", "SERVICE/ENDPOINT", "REASON", "CAUSE",
	       "STREAK", "DETAIL");
	for (i = 0; i < n; i++) {
		const struct swerve_shm_event_info *ev = &evs[i];

		view_resolve_key(v, ev->key, &t);
		format_wall(ev->at_ms, now, wall, sizeof(wall));
		format_duration(now > ev->at_ms ? now - ev->at_ms : 0, ago,
				sizeof(ago));
		if (t.ep != NULL)
			snprintf(who, sizeof(who), "%s %s", t.svc->name,
				 t.ep->text);
		else if (t.svc != NULL)
			snprintf(who, sizeof(who), "%s", t.svc->name);
		else
			snprintf(who, sizeof(who), "(row %016" PRIx64
				 ", not in this config)", ev->key);
		format_detail(ev, detail, sizeof(detail));
		printf("%-24s %-8s %-11s %-36s %-24s %-15s %-6" PRIu32
		       " %s\n", wall, ago, event_name(ev->type), who,
		       swerve_outlier_reason_name(ev->reason),
		       ev->cause != SWERVE_CAUSE_NONE ?
		       swerve_outlier_cause_name(ev->cause) : "-",
		       ev->streak, detail);
	}
}
