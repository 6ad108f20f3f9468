/*
 * swervectl metrics on a live table: real servers (httpd, tlsserve), a
 * real DNS responder (dnsd) and real clients under the library (httpc)
 * fill the shared table of an http service whose second endpoint answers
 * 503 and is ejected, a tls service and a service whose endpoint is a
 * name; swervectl metrics must then pass `promtool check metrics` with no
 * finding, and `swervectl metrics --listen` must serve the same on GET
 * /metrics to curl, read the table anew for each scrape, answer 404
 * elsewhere and end cleanly on SIGTERM and SIGINT. Without promtool the
 * checks that need it are skipped with the reason, except where CI is set
 * (scripts/deps.sh --ci installs it), where they fail.
 *
 * Addresses 127.14.3.2-6 (ports 18080 and 18443), the dnsd on
 * 127.0.0.1:15143, service addresses in 127.114.3.0/24 and the metrics
 * port 19143 belong to this file.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

#define LISTEN_PORT "19143"
#define URL "http://127.0.0.1:" LISTEN_PORT

/* One test's world: its servers, config and table. */
struct mw {
	const char *config, *shm;
	pid_t pids[6];
};

/* The test certificates, made in the test's directory; their folder. */
static const char *certs_make(void)
{
	static char certs[300];
	char cmd[900];
	const char *src = getenv("SWERVE_SRC");

	snprintf(certs, sizeof(certs), "%s/certs", t_dir());
	snprintf(cmd, sizeof(cmd), "%s/scripts/tls-certs.sh %s >/dev/null",
		 src != NULL ? src : ".", certs);
	cr_assert_eq(system(cmd), 0, "scripts/tls-certs.sh failed");
	return certs;
}

static pid_t tls_server(const char *certs)
{
	char crt[400], key[400];
	char *argv[] = { (char *)"tlsserve", (char *)"--listen",
			 (char *)"127.14.3.6:18443", (char *)"--cert", crt,
			 (char *)"--key", key, NULL };

	snprintf(crt, sizeof(crt), "%s/east.pem", certs);
	snprintf(key, sizeof(key), "%s/east.key", certs);
	return t_start(argv);
}

/*
 * web (http): 127.14.3.2 answers 200, 127.14.3.3 503; secure (http over
 * tls, SNI east.mydb.test): 127.14.3.6; api: the name
 * backend.metrics.test, two addresses with an httpd each.
 */
static void mw_start(struct mw *w)
{
	const char *certs = certs_make();
	char text[2048];
	int i;

	memset(w, 0, sizeof(*w));
	w->pids[0] = t_dnsd(15143, t_write("zone",
		"backend.metrics.test 30 A 127.14.3.4\n"
		"backend.metrics.test 30 A 127.14.3.5\n"), NULL);
	w->pids[1] = t_server("127.14.3.2", 18080, "web-a", "ok");
	w->pids[2] = t_server("127.14.3.3", 18080, "web-b", "503");
	w->pids[3] = t_server("127.14.3.4", 18080, "api-a", "ok");
	w->pids[4] = t_server("127.14.3.5", 18080, "api-b", "ok");
	w->pids[5] = tls_server(certs);
	for (i = 0; i < 6; i++)
		cr_assert(w->pids[i] > 0, "server %d did not start", i);
	snprintf(text, sizeof(text),
		 "[swerve]\nvip_cidr = 127.114.3.0/24\nlog = warn\n"
		 "dns_servers = 127.0.0.1:15143\n\n"
		 "[service web]\nhosts = web.metrics.test\nports = 80\n"
		 "protocol = http\n"
		 "endpoint = 127.14.3.2:18080\nendpoint = 127.14.3.3:18080\n"
		 "consecutive_5xx_errors = 1\nbase_ejection_time = 1m\n"
		 "max_ejection_percent = 50\n\n"
		 "[service secure]\nhosts = secure.metrics.test\nports = 80\n"
		 "protocol = http\nendpoint = 127.14.3.6:18443\n"
		 "tls = simple\ntls_sni = east.mydb.test\n"
		 "tls_ca_certificates = %s/ca.pem\n\n"
		 "[service api]\nhosts = api.metrics.test\nports = 80\n"
		 "resolution = dns\nendpoint = backend.metrics.test:18080\n",
		 certs);
	w->config = t_write("swerve.ini", text);
	w->shm = t_shm();
}

static void mw_stop(struct mw *w)
{
	int i;

	for (i = 0; i < 6; i++)
		t_stop(w->pids[i]);
	t_cleanup();
}

/* httpc under the library: GET / on <host> port 80, <n> times, each on
 * a connection of its own. */
static void get(const struct mw *w, const char *host, int n)
{
	const char *args[12] = { "-n", host, "80" };
	struct run *r = malloc(sizeof(*r));
	int i;

	cr_assert_not_null(r);
	for (i = 0; i < n && i < 8; i++)
		args[3 + i] = "GET:/";
	t_helper(r, w->config, w->shm, NULL, "httpc", args);
	cr_assert_eq(r->status, 0, "httpc %s (%d): %s", host, r->status,
		     r->err);
	free(r);
}

/* The clients: web's 503 ejects its second endpoint; a TLS handshake to
 * secure; a connect to one of api's addresses. */
static void traffic(const struct mw *w)
{
	get(w, "web.metrics.test", 4);
	get(w, "secure.metrics.test", 1);
	get(w, "api.metrics.test", 1);
	cr_assert(t_endpoint_ejected(w->config, w->shm, "127.14.3.3:18080"),
		  "web's 503 endpoint was not ejected");
}

#define NO_PROMTOOL "promtool is not installed (Debian package prometheus; " \
		    "scripts/deps.sh --ci installs it)"

/* True when promtool can run; its absence fails where CI is set. */
static bool have_promtool(void)
{
	const char *ci = getenv("CI");

	if (t_have("promtool"))
		return true;
	cr_assert(ci == NULL || ci[0] == '\0', "promtool is missing in CI: "
		  "scripts/deps.sh --ci installs it (Debian package "
		  "prometheus)");
	return false;
}

/* promtool check metrics on <text>: no finding at all. */
static void expect_clean(const char *text)
{
	static struct run r;
	char path[400], cmd[600];
	const char *argv[] = { "sh", "-c", cmd, NULL };
	FILE *f;

	snprintf(path, sizeof(path), "%s/metrics.prom", t_dir());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert(fputs(text, f) >= 0);
	cr_assert_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	t_run(&r, false, NULL, 30, argv);
	cr_assert_eq(r.status, 0, "promtool (%d): %s\non:\n%s", r.status,
		     r.out, text);
	cr_assert_eq(r.out[0], '\0', "promtool: %s\non:\n%s", r.out, text);
}

static void expect_in(const char *text, const char *want)
{
	cr_assert_not_null(strstr(text, want), "no \"%s\" in:\n%s", want,
			   text);
}

/* What the clients did, as series. */
static void expect_traffic(const char *text)
{
	expect_in(text, "\nswerve_endpoint_ejected{service=\"web\","
		  "endpoint=\"127.14.3.3:18080\",locality=\"\"} 1\n");
	expect_in(text, "\nswerve_endpoint_responses_total{service=\"web\","
		  "endpoint=\"127.14.3.3:18080\",locality=\"\","
		  "class=\"5xx\"} 1\n");
	expect_in(text, "\nswerve_endpoint_tls_handshakes_total{"
		  "service=\"secure\",endpoint=\"127.14.3.6:18443\","
		  "locality=\"\",result=\"ok\"} 1\n");
	expect_in(text, "\nswerve_endpoint_ejected{service=\"api\","
		  "endpoint=\"127.14.3.4:18080\",locality=\"\","
		  "name=\"backend.metrics.test:18080\"} 0\n");
	expect_in(text, "\nswerve_endpoint_ejected{service=\"api\","
		  "endpoint=\"127.14.3.5:18080\",locality=\"\","
		  "name=\"backend.metrics.test:18080\"} 0\n");
	expect_in(text, "\nswerve_service_healthy_endpoints{"
		  "service=\"web\"} 1\n");
}

/* swervectl -c <config> <args...> on the world's table. */
static void ctl(struct run *r, const struct mw *w, const char *a1,
		const char *a2, const char *a3)
{
	char bin[512], sv[128];
	const char *env[] = { sv, NULL };
	const char *argv[] = { bin, "-c", w->config, a1, a2, a3, NULL };

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", w->shm);
	t_run(r, false, env, 30, argv);
}

Test(metrics, a_live_table_passes_promtool)
{
	static struct run r;
	struct mw w;

	if (!have_promtool())
		cr_skip_test(NO_PROMTOOL);
	mw_start(&w);
	traffic(&w);
	ctl(&r, &w, "metrics", NULL, NULL);
	cr_assert_eq(r.status, 0, "swervectl metrics (%d): %s", r.status,
		     r.err);
	expect_traffic(r.out);
	expect_clean(r.out);
	mw_stop(&w);
}

/*
 * Starts swervectl metrics --listen PORT on the world's table, its
 * stderr into <log>, and waits (10 s at most) for the line that says it
 * listens. Its pid.
 */
static pid_t serve(const struct mw *w, const char *log)
{
	char bin[512], sv[128];
	const char *env[] = { sv, NULL };
	const char *argv[] = { bin, "-c", w->config, "metrics", "--listen",
			       LISTEN_PORT, NULL };
	pid_t pid;
	int i;

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", w->shm);
	unlink(log);
	pid = t_spawn(false, env, log, argv);
	cr_assert(pid > 0, "swervectl metrics --listen did not start");
	for (i = 0; i < 1000; i++) {
		if (strstr(t_read(log), "serving metrics on " URL
			   "/metrics\n") != NULL)
			return pid;
		usleep(10000);
	}
	cr_assert_fail("no listening line from swervectl: %s", t_read(log));
	return pid;
}

/* curl GET <url>: "STATUS CONTENT-TYPE", the body in <*body>. */
static const char *curl(const char *url, const char **body)
{
	static struct run r;
	char path[400];
	const char *argv[] = { "curl", "-sS", "-o", path, "-w",
			       "%{http_code} %{content_type}", url, NULL };

	snprintf(path, sizeof(path), "%s/body", t_dir());
	t_run(&r, false, NULL, 30, argv);
	cr_assert_eq(r.status, 0, "curl %s (%d): %s", url, r.status, r.err);
	*body = t_read(path);
	return r.out;
}

/* Sends <sig> to the server; it must exit 0 and say why it stopped. */
static void stop_with(pid_t pid, int sig, const char *log, const char *why)
{
	char want[128];

	cr_assert_eq(kill(pid, sig), 0);
	cr_assert_eq(t_reap(pid, 10), 0, "exit after %s: %s", why,
		     t_read(log));
	snprintf(want, sizeof(want), "swervectl: %s: stopped serving "
		 "metrics\n", why);
	expect_in(t_read(log), want);
}

Test(metrics, listen_serves_the_table_anew_for_each_scrape)
{
	static struct run r;
	static char first[1 << 18];
	const char *body;
	char log[400];
	struct mw w;
	pid_t pid;

	mw_start(&w);
	traffic(&w);
	snprintf(log, sizeof(log), "%s/serve.log", t_dir());
	pid = serve(&w, log);
	cr_assert_str_eq(curl(URL "/metrics", &body),
			 "200 text/plain; version=0.0.4; charset=utf-8");
	expect_traffic(body);
	snprintf(first, sizeof(first), "%s", body);
	/* The operator's uneject shows at the next scrape. */
	ctl(&r, &w, "uneject", "web", "127.14.3.3:18080");
	cr_assert_eq(r.status, 0, "uneject: %s", r.err);
	curl(URL "/metrics", &body);
	expect_in(body, "\nswerve_endpoint_ejected{service=\"web\","
		  "endpoint=\"127.14.3.3:18080\",locality=\"\"} 0\n");
	cr_assert_str_eq(curl(URL "/", &body),
			 "404 text/plain; charset=utf-8");
	cr_assert_str_eq(curl(URL "/metrics/x", &body),
			 "404 text/plain; charset=utf-8");
	stop_with(pid, SIGTERM, log, "SIGTERM");
	/* The port is free again at once, and SIGINT stops it too. */
	pid = serve(&w, log);
	stop_with(pid, SIGINT, log, "SIGINT");
	if (have_promtool())
		expect_clean(first);
	else
		cr_log_warn("%s: the scraped text was not checked",
			    NO_PROMTOOL);
	mw_stop(&w);
}

Test(metrics, listen_refuses_an_address_beyond_loopback)
{
	static struct run r;
	struct mw w;

	memset(&w, 0, sizeof(w));
	w.config = t_write("swerve.ini", "[service db]\nhosts = db.test\n"
			   "endpoint = 127.14.3.2:5432\n");
	w.shm = t_shm();
	ctl(&r, &w, "metrics", "--listen", "0.0.0.0:" LISTEN_PORT);
	cr_assert_eq(r.status, 2, "(%d) %s", r.status, r.err);
	expect_in(r.err, "0.0.0.0:" LISTEN_PORT " is not a loopback address; "
		  "add --allow-remote");
	ctl(&r, &w, "metrics", "--listen", "[::]:" LISTEN_PORT);
	cr_assert_eq(r.status, 2, "(%d) %s", r.status, r.err);
	expect_in(r.err, "is not a loopback address");
	t_cleanup();
}
