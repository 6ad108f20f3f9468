/*
 * The client matrix: real programs (curl, wget, python, perl, nc, socat,
 * ruby, node, java, psql, redis-cli, ssh, git) dial mydb.com under the
 * library while their primary endpoint is refused, blackholed, restarted,
 * and then answers 503. Servers are real too where the protocol needs it
 * (two PostgreSQL clusters, two redis-servers, two sshds, two dumb-HTTP git
 * servers); everything lives on loopback addresses 127.N.100-116.x (N in
 * 20-59, per run), which no other test uses.
 *
 * Each client has one test that runs every scenario, writes its row of the
 * table (also when it fails), stops its servers and only then asserts its
 * expectations, so a failing client still leaves a complete row behind.
 * The runner assembles build/client-matrix.txt from the rows at the end.
 *
 * What each client is expected to survive depends on what it does when its
 * first address fails; the table in matrix.c says so per client, with the
 * reason measured for it. Refusals never reach any client (same-fd
 * failover inside connect()); a blackhole costs a client that tries its
 * next address (or blocks in connect()) one connect_timeout and no
 * request, and a client that only ever tries one address at most the one
 * request that met the dead endpoint before it was known dead.
 *
 * A fourth scenario makes the service protocol = http with a primary that
 * answers 503: the HTTP clients read that status, so the first request
 * meets the 503 and swerve ejects the primary for every later one (psql,
 * redis-cli and ssh speak other protocols: n/a).
 *
 * The last one is TLS origination: the client still speaks plaintext to
 * mydb.com, and swerve's relay thread originates verified TLS to two TLS
 * servers named by a dnsd (tlsserve; redis-server with a TLS port for
 * redis-cli). The primary answers once, is killed, and every later
 * request is answered by the failover: the relay fails over before the
 * first byte, so no client loses one (psql and ssh: n/a).
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../integration/support.h"
#include "clients.h"

static bool sanitized(void)
{
	const char *extra = getenv("SWERVE_PRELOAD_EXTRA");

	return extra != NULL && extra[0] != '\0';
}

/*
 * The service mydb: endpoints east (us-east1) and west (us-west) at their
 * addresses, or with <tls> as the names east.mydb.test and west.mydb.test
 * (the dnsd of start_names()) on TLS_PORT, with TLS originated by swerve
 * and verified against the build's test CA.
 */
static void write_config(struct bed *b, const char *base_ejection,
			 bool http, bool tls)
{
	char text[2048], names[80] = "", tls_lines[600] = "";
	char east[64], west[64];

	if (tls) {
		snprintf(names, sizeof(names), "dns_servers = %s:%d\n",
			 b->names, NAMES_PORT);
		snprintf(east, sizeof(east), "east.mydb.test:%d", TLS_PORT);
		snprintf(west, sizeof(west), "west.mydb.test:%d", TLS_PORT);
		snprintf(tls_lines, sizeof(tls_lines),
			 "resolution             = dns\n"
			 "tls                    = simple\n"
			 "tls_ca_certificates    = %s/ca.pem\n", tls_certs());
	} else {
		snprintf(east, sizeof(east), "%s:%d", b->east, b->port);
		snprintf(west, sizeof(west), "%s:%d", b->west, b->port);
	}
	snprintf(text, sizeof(text),
		 "[swerve]\n"
		 "locality = us-east1\n"
		 "vip_cidr = 127.79.0.0/16\n"
		 "log = warn\n"
		 "%s"
		 "\n"
		 "[service mydb]\n"
		 "hosts     = mydb.com\n"
		 "ports     = %d\n"
		 "endpoint  = %s locality=us-east1\n"
		 "endpoint  = %s locality=us-west\n"
		 "consecutive_5xx_errors = 1\n"
		 "interval               = 1s\n"
		 "base_ejection_time     = %s\n"
		 "connect_timeout        = 1s\n"
		 "protocol               = %s\n"
		 "%s",
		 names, b->svc_port, east, west, base_ejection,
		 http ? "http" : "tcp", tls_lines);
	snprintf(b->config, sizeof(b->config), "%s",
		 t_write("swerve.ini", text));
	snprintf(b->shm, sizeof(b->shm), "%s", t_shm());
}

/* One request; returns 'E', 'W', or '-' (failed, reason in <o>). */
static char request(struct bed *b, struct outcome *o, double *took)
{
	static struct run r;
	char cv[600], sv[128], buf[128];
	char args[MAXARGS][400];
	const char *env[] = { cv, sv, NULL };
	const char *argv[MAXARGS + 1];
	size_t i;

	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", b->config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", b->shm);
	for (i = 0; i < MAXARGS && b->c->argv[i] != NULL; i++) {
		const char *a = b->c->argv[i], *at = strstr(a, "@D");

		if (at == NULL) {
			argv[i] = a;
			continue;
		}
		snprintf(args[i], sizeof(args[i]), "%.*s%s%s", (int)(at - a),
			 a, b->dir, at + 2);
		argv[i] = args[i];
	}
	argv[i] = NULL;
	t_run(&r, true, env, 20, argv);
	*took = r.seconds;
	if (r.status == 0 && strstr(r.out, marker(b, true, buf,
						  sizeof(buf))) != NULL)
		return 'E';
	if (r.status == 0 && strstr(r.out, marker(b, false, buf,
						  sizeof(buf))) != NULL)
		return 'W';
	snprintf(o->lasterr, sizeof(o->lasterr), "exit %d after %.2f s: %.240s",
		 r.status, r.seconds, r.err[0] != '\0' ? r.err : r.out);
	for (i = 0; o->lasterr[i] != '\0'; i++)
		if (o->lasterr[i] == '\n' || o->lasterr[i] == '|')
			o->lasterr[i] = ' ';
	return '-';
}

/* <n> requests, recorded in <o>. */
static void requests(struct bed *b, struct outcome *o, int n)
{
	double start = now(), took;
	size_t len = strlen(o->seq);
	int i;

	for (i = 0; i < n && len + 1 < sizeof(o->seq); i++) {
		char who = request(b, o, &took);

		o->seq[len++] = who;
		o->seq[len] = '\0';
		if (who == '-') {
			o->failed++;
			continue;
		}
		o->ok++;
		if (o->first < 0)
			o->first = now() - start;
	}
}

static void outcome_init(struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->first = -1;
}

static void cell(char *buf, size_t cap, const struct outcome *o)
{
	if (o->first >= 0)
		snprintf(buf, cap, "%d/%d %.2fs %s", o->ok, o->failed,
			 o->first, o->seq);
	else
		snprintf(buf, cap, "%d/%d - %s", o->ok, o->failed, o->seq);
}

static const char *fallback_name(enum fallback fb)
{
	return fb == NEXT ? "next" : fb == BLOCKING ? "blocking" : "single";
}

/* Why the TLS column does not apply to <c>, or NULL when it does: HTTP,
 * and redis, whose TLS port speaks TLS from the first byte. */
static const char *tls_na(const struct client *c)
{
	switch (c->kind) {
	case K_PG:
		return "not covered: PostgreSQL asks for TLS inside its "
		       "protocol, STARTTLS";
	case K_SSH:
		return "SSH has no TLS";
	default:
		return NULL;
	}
}

static char rows_dir[512];

static const char *rows(void)
{
	snprintf(rows_dir, sizeof(rows_dir), "%s/clients", t_build());
	return rows_dir;
}

/* Writes the client's line of the table, and what went wrong if
 * <detail> is not empty: one file per client, so that tests running in
 * parallel workers never share a file. */
static void write_row(const struct client *c, const char *text,
		      const char *detail)
{
	char path[700];
	FILE *f;

	mkdir(rows(), 0755);
	snprintf(path, sizeof(path), "%s/%s.row", rows(), c->name);
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fprintf(f, "| %s | %s | %s |\n", c->name, fallback_name(c->fb),
		text);
	if (detail[0] != '\0')
		fprintf(f, "* %s (%s): %s\n", c->name, c->why, detail);
	fclose(f);
}

static void skip(const struct client *c, const char *why)
{
	char text[400];

	snprintf(text, sizeof(text), "- | - | - | - | - | SKIP: %s", why);
	write_row(c, text, "");
	/* Criterion reports skips only when verbose: say it anyway. */
	fprintf(stderr, "[SKIP] clients::%s: %s\n", c->name, why);
	cr_skip_test("%s", why);
}

/* Appends "<what>; " to the verdict. */
static void fault(char *verdict, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fault(char *verdict, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(verdict);
	va_list ap;

	if (len + 3 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(verdict + len, cap - len - 2, fmt, ap);
	va_end(ap);
	strcat(verdict, "; ");
}

/*
 * The client to run for clients[<idx>], after skipping the test when the
 * client or its servers are not installed. Node before version 20 tries
 * only the first address (autoSelectFamily became its default in 20;
 * Debian 12 ships node 18), so it is judged as such.
 */
static const struct client *runnable(size_t idx)
{
	static struct client node_before_20;
	const struct client *c = &clients[idx];
	char why[300], ver[32] = "";
	FILE *p;

	if (sanitized())
		skip(c, "timing matrix: not run under sanitizers");
	if (!t_have(c->prog)) {
		snprintf(why, sizeof(why), "%s is not installed", c->prog);
		skip(c, why);
	}
	if (c->kind == K_PG && (geteuid() != 0 || getpwnam("postgres") == NULL
				|| !t_have("runuser")))
		skip(c, "needs root and a postgres user to run the servers");
	if (c->kind == K_REDIS && !t_have("redis-server"))
		skip(c, "redis-server is not installed");
	if (c->kind == K_SSH && (geteuid() != 0 ||
				 access("/usr/sbin/sshd", X_OK) != 0))
		skip(c, "needs root and /usr/sbin/sshd (openssh-server)");
	if (c->kind == K_GIT && !t_have("python3"))
		skip(c, "the git server is python3 -m http.server");
	if (c->kind != K_HTTP || strcmp(c->prog, "node") != 0)
		return c;
	p = popen("node -p 'process.versions.node' 2>/dev/null", "r");
	if (p != NULL) {
		if (fgets(ver, sizeof(ver), p) == NULL)
			ver[0] = '\0';
		pclose(p);
	}
	if (atoi(ver) > 0 && atoi(ver) < 20) {
		node_before_20 = *c;
		node_before_20.fb = SINGLE;
		node_before_20.why = "node < 20: autoSelectFamily is off, only "
				     "the first address";
		c = &node_before_20;
	}
	return c;
}

/*
 * The ports and addresses of <c>'s test: 127.N.(100 + idx).2 is the
 * primary (us-east1, the client's region), .3 the failover (us-west), .4
 * the dnsd of the TLS column.
 */
static void place(struct bed *b, const struct client *c, size_t idx)
{
	int i;

	memset(b, 0, sizeof(*b));
	b->c = c;
	switch (c->kind) {
	case K_PG:    b->port = 15432; b->svc_port = 5432; break;
	case K_REDIS: b->port = 16379; b->svc_port = 6379; break;
	case K_SSH:   b->port = 12222; b->svc_port = 22;   break;
	default:      b->port = 18080; b->svc_port = 80;   break;
	}
	/* Other sessions on this host may run the matrix at the same time:
	 * the second octet follows the runner (our parent), and moves on
	 * while someone else is on those addresses. */
	for (i = 0; i < 40; i++) {
		unsigned int octet = 20 + ((unsigned int)getppid() + i) % 40;

		snprintf(b->east, sizeof(b->east), "127.%u.%zu.2", octet,
			 100 + idx);
		snprintf(b->west, sizeof(b->west), "127.%u.%zu.3", octet,
			 100 + idx);
		snprintf(b->names, sizeof(b->names), "127.%u.%zu.4", octet,
			 100 + idx);
		if (!listening(b->east, b->port) &&
		    !listening(b->west, b->port) &&
		    !listening(b->east, TLS_PORT) &&
		    !listening(b->west, TLS_PORT))
			break;
	}
	snprintf(b->dir, sizeof(b->dir), "%s", t_dir());
}

/* What the servers of <b> and the Java clients need on disk; false with
 * the reason in <why>. */
static bool prepare(struct bed *b, char *why, size_t cap)
{
	char ca[450];

	snprintf(ca, sizeof(ca), "%s/ca.pem", tls_certs());
	if (tls_na(b->c) == NULL && access(ca, R_OK) != 0) {
		snprintf(why, cap, "no %.250s: make clients makes it", ca);
		return false;
	}
	if (strncmp(b->c->name, "java", 4) == 0) {
		t_write("Huc.java", java_huc);
		t_write("Hc.java", java_hc);
		if (sh("cd %s && javac Huc.java Hc.java", b->dir) != 0) {
			snprintf(why, cap, "javac failed");
			return false;
		}
	}
	return setup_kind(b, why, cap);
}

/*
 * (3) The primary is back: requests 200 ms apart until it answers (within
 * RECOVER_WITHIN, with a margin to see how late), then two more.
 */
static void recover(struct bed *b, struct outcome *s3)
{
	double t0 = now(), took;
	int i;

	for (i = 0; i < 30 && now() - t0 < RECOVER_WITHIN + 4; i++) {
		size_t len = strlen(s3->seq);
		char who = request(b, s3, &took);

		if (len + 1 < sizeof(s3->seq)) {
			s3->seq[len] = who;
			s3->seq[len + 1] = '\0';
		}
		if (who == '-') {
			s3->failed++;
		} else {
			s3->ok++;
			if (who == 'E' && s3->first < 0)
				s3->first = now() - t0;
		}
		if (s3->first >= 0)
			break;
		usleep(200 * 1000);
	}
	if (s3->first >= 0)
		requests(b, s3, 2);
}

/* Connections the 503 primary has accepted: the lines "conn" of its log.
 * Counted at the server, because a client that fails on a 503 need not
 * print anything that says who answered (wget -q prints nothing). */
static int east_conns(const struct bed *b)
{
	char path[320], line[300];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/east503.log", b->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strcmp(line, "conn\n") == 0;
	fclose(f);
	return n;
}

/*
 * (4) An http service whose primary answers every request with a 503 and
 * Connection: close (httpscript, which logs each connection it accepts),
 * in a fresh table: requests one after another, each recorded as '5' when
 * it reached the primary, else as request() saw it. The 503 reaches the
 * application (swerve only observes, it never retries a request), and
 * ejects the primary for the requests after it, for 60 s: the scenario's
 * length.
 */
static void answers_503(struct bed *b, struct outcome *o, char *err,
			size_t cap)
{
	char log[320];
	size_t len = 0;
	pid_t east;

	snprintf(log, sizeof(log), "%s/east503.log", b->dir);
	east = t_httpscript(b->east, b->port, log, "503/close");
	if (east <= 0) {
		snprintf(err, cap, "the 503 primary did not start");
		return;
	}
	write_config(b, "60s", true, false);
	while (len < REQUESTS) {
		struct outcome one;
		int before = east_conns(b);
		double took;
		char who;

		outcome_init(&one);
		who = request(b, &one, &took);
		if (east_conns(b) > before)
			who = '5';
		else if (who == '-')
			snprintf(o->lasterr, sizeof(o->lasterr), "%s",
				 one.lasterr);
		o->failed += who == '-';
		o->ok += who == 'W';
		o->seq[len++] = who;
		o->seq[len] = '\0';
	}
	t_stop(east);
}

/*
 * (5) TLS origination: a tls = simple service (protocol = http, tcp for
 * redis) whose endpoints are the names east.mydb.test and west.mydb.test,
 * each a TLS server with a certificate for its name, in a fresh table.
 * The client speaks plaintext to mydb.com; swerve's relay originates TLS.
 * One request while the primary lives, then the primary is killed
 * (SIGKILL: its port refuses) and REQUESTS more, each of which the relay
 * fails over before its first byte. The time is from the kill.
 */
static void tls_dead_primary(struct bed *b, struct outcome *o, char *err,
			     size_t cap)
{
	pid_t dns, east = 0, west = 0;

	dns = start_names(b);
	if (dns > 0) {
		east = start_tls(b, true);
		west = start_tls(b, false);
	}
	if (dns <= 0 || east <= 0 || west <= 0) {
		snprintf(err, cap, "TLS column: %s did not start (see %s)",
			 dns <= 0 ? "dnsd" : east <= 0 ? "east" : "west",
			 b->dir);
		goto out;
	}
	write_config(b, "60s", b->c->on503 != NOT_HTTP, true);
	requests(b, o, 1);
	o->first = -1;
	kill(east, SIGKILL);
	waitpid(east, NULL, 0);
	east = 0;
	requests(b, o, REQUESTS);
out:
	stop_real(b, east);
	stop_real(b, west);
	t_stop(dns);
}

/*
 * Runs the scenarios of <b> into <s> (refused, blackholed, recovered,
 * answers 503, TLS with a dead primary) and stops every server. A failure of the harness itself, not a verdict on
 * the library, goes to <err>.
 */
static void scenarios(struct bed *b, struct outcome *s, char *err,
		      size_t cap)
{
	struct outcome base;
	pid_t hole = 0;
	char who;

	b->east_pid = start_real(b, true);
	b->west_pid = start_real(b, false);
	if (b->east_pid <= 0 || b->west_pid <= 0) {
		snprintf(err, cap, "servers did not start: %s",
			 log_tail(b, b->east_pid <= 0));
		goto out;
	}
	/* A healthy request first: its time is the client's own cost, and
	 * if it fails the harness or the client is broken, not failover. */
	write_config(b, "1s", false, false);
	outcome_init(&base);
	who = request(b, &base, &b->base);
	if (who != 'E') {
		snprintf(err, cap, "healthy request: %c %.300s", who,
			 base.lasterr);
		goto out;
	}
	/* (1) The primary refuses: its server is gone. */
	stop_real(b, b->east_pid);
	b->east_pid = 0;
	requests(b, &s[0], REQUESTS);
	/* (3) It comes back: traffic returns once the ejection is over. */
	b->east_pid = start_real(b, true);
	if (b->east_pid <= 0) {
		snprintf(err, cap, "primary did not restart");
		goto out;
	}
	recover(b, &s[2]);
	/* (2) The primary is a blackhole. A fresh table, and an ejection
	 * long enough to outlast the scenario, so that what is measured is
	 * the cost of discovering it, not of rediscovering it. */
	stop_real(b, b->east_pid);
	b->east_pid = 0;
	hole = start_blackhole(b);
	if (hole <= 0) {
		snprintf(err, cap, "blackhole did not start");
		goto out;
	}
	write_config(b, "60s", false, false);
	requests(b, &s[1], REQUESTS);
	t_stop(hole);
	hole = 0;
	if (b->c->on503 != NOT_HTTP)
		answers_503(b, &s[3], err, cap);
	if (err[0] == '\0' && tls_na(b->c) == NULL)
		tls_dead_primary(b, &s[4], err, cap);
out:
	t_stop(hole);
	stop_real(b, b->east_pid);
	stop_real(b, b->west_pid);
}

/* The expectations of the file comment, for the outcomes <s> of <b>. */
static void judge(const struct bed *b, const struct outcome *s,
		  char *verdict, size_t cap)
{
	const struct outcome *s1 = &s[0], *s2 = &s[1], *s3 = &s[2];
	double budget = b->base + SLACK;

	if (s1->failed != 0)
		fault(verdict, cap, "refused: %d failed (%s)", s1->failed,
		      s1->lasterr);
	else if (strspn(s1->seq, "W") != strlen(s1->seq))
		fault(verdict, cap, "refused: answered by %s", s1->seq);
	else if (s1->first > budget)
		fault(verdict, cap, "refused: first success after %.2f s "
		      "(> %.2f)", s1->first, budget);
	if (b->c->fb == SINGLE) {
		/* The first request may meet the unknown blackhole; none
		 * after it may fail. */
		if (s2->failed > 1 || (s2->failed == 1 && s2->seq[0] != '-'))
			fault(verdict, cap, "blackhole: %s (only the first may "
			      "fail: %s)", s2->seq, s2->lasterr);
		budget = 2 * b->base + CONNECT_TIMEOUT + 2 * SLACK;
	} else {
		if (s2->failed != 0)
			fault(verdict, cap, "blackhole: %d failed (%s)",
			      s2->failed, s2->lasterr);
		budget = b->base + CONNECT_TIMEOUT + b->c->gap + SLACK;
	}
	if (s2->failed <= 1 && s2->first > budget)
		fault(verdict, cap, "blackhole: first success after %.2f s "
		      "(> %.2f)", s2->first, budget);
	if (s2->ok > 0 && strchr(s2->seq, 'E') != NULL)
		fault(verdict, cap, "blackhole: answered by %s", s2->seq);
	if (s3->failed != 0)
		fault(verdict, cap, "recovery: %d failed (%s)", s3->failed,
		      s3->lasterr);
	if (s3->first < 0 || s3->first > RECOVER_WITHIN)
		fault(verdict, cap, "recovery: primary not back within %.0f s "
		      "(%s)", RECOVER_WITHIN, s3->seq);
	else if (s3->seq[strlen(s3->seq) - 1] != 'E')
		fault(verdict, cap, "recovery: left it again (%s)", s3->seq);
}

/* The 503 column: the first request meets the primary's 503, which the
 * application reads, and every later one goes to the failover. */
static void judge_503(const struct bed *b, const struct outcome *s4,
		      char *verdict, size_t cap)
{
	if (b->c->on503 == NOT_HTTP)
		return;
	if (s4->seq[0] != '5')
		fault(verdict, cap, "503: the first request did not meet the "
		      "primary's 503 (%s)", s4->seq);
	if (strlen(s4->seq) != REQUESTS ||
	    strspn(s4->seq + 1, "W") != REQUESTS - 1)
		fault(verdict, cap, "503: later requests not all answered by "
		      "the failover: %s%s%s", s4->seq,
		      s4->failed != 0 ? ", " : "",
		      s4->failed != 0 ? s4->lasterr : "");
}

static void cell_503(char *buf, size_t cap, const struct client *c,
		     const struct outcome *o)
{
	if (c->on503 == NOT_HTTP)
		snprintf(buf, cap, "n/a (%s)", c->why503);
	else
		snprintf(buf, cap, "%s", o->seq);
}

/* The TLS column: the primary answers over TLS while it lives, and once
 * it is dead every request is answered by the failover. */
static void judge_tls(const struct bed *b, const struct outcome *s5,
		      char *verdict, size_t cap)
{
	if (tls_na(b->c) != NULL)
		return;
	if (s5->failed != 0)
		fault(verdict, cap, "TLS: %d failed (%s): %s", s5->failed,
		      s5->seq, s5->lasterr);
	else if (strcmp(s5->seq, "EWWWW") != 0)
		fault(verdict, cap, "TLS: answered by %s, not EWWWW",
		      s5->seq);
}

static void cell_tls(char *buf, size_t cap, const struct client *c,
		     const struct outcome *o)
{
	if (tls_na(c) != NULL)
		snprintf(buf, cap, "n/a (%s)", tls_na(c));
	else
		cell(buf, cap, o);
}

/* The whole matrix row of clients[<idx>]. */
static void run_client(size_t idx)
{
	const struct client *c = runnable(idx);
	struct bed bed, *b = &bed;
	struct outcome s[5];
	char why[300], verdict[1200] = "", text[2000], c1[64], c2[64], c3[64];
	char c4[128], c5[128];
	char err[400] = "";
	int i;

	place(b, c, idx);
	if (!prepare(b, why, sizeof(why))) {
		t_cleanup();
		cr_assert_fail("%s", why);
		return;
	}
	for (i = 0; i < 5; i++)
		outcome_init(&s[i]);
	scenarios(b, s, err, sizeof(err));
	if (err[0] != '\0') {
		/* Not a verdict on the library: the test itself failed. */
		snprintf(text, sizeof(text), "- | - | - | - | - | HARNESS");
		write_row(c, text, err);
		t_cleanup();
		cr_assert_fail("%s: %s", c->name, err);
		return;
	}
	judge(b, s, verdict, sizeof(verdict));
	judge_503(b, &s[3], verdict, sizeof(verdict));
	judge_tls(b, &s[4], verdict, sizeof(verdict));
	cell(c1, sizeof(c1), &s[0]);
	cell(c2, sizeof(c2), &s[1]);
	cell(c3, sizeof(c3), &s[2]);
	cell_503(c4, sizeof(c4), c, &s[3]);
	cell_tls(c5, sizeof(c5), c, &s[4]);
	snprintf(text, sizeof(text), "%s | %s | %s | %s | %s | %s", c1, c2, c3,
		 c4, c5, verdict[0] != '\0' ? "FAIL" : "ok");
	write_row(c, text, verdict);
	t_cleanup();
	cr_assert(verdict[0] == '\0', "%s (%s, base %.2f s): %s", c->name,
		  c->why, b->base, verdict);
}

/* The assembled table, in the order of clients[]; rows of this run only. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	char path[700];
	size_t i;

	(void)set;
	for (i = 0; i < nclients; i++) {
		snprintf(path, sizeof(path), "%s/%s.row", rows(),
			 clients[i].name);
		unlink(path);
	}
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	char path[700], line[2048], notes[8192] = "";
	FILE *out, *in;
	size_t i;

	(void)stats;
	snprintf(path, sizeof(path), "%s/client-matrix.txt", t_build());
	out = fopen(path, "w");
	if (out == NULL)
		return;
	fprintf(out,
		"| client | on a late failure | refused | blackholed | "
		"recovers | 503 (http) | TLS (dead primary) | verdict |\n"
		"|---|---|---|---|---|---|---|---|\n");
	for (i = 0; i < nclients; i++) {
		snprintf(path, sizeof(path), "%s/%s.row", rows(),
			 clients[i].name);
		in = fopen(path, "r");
		if (in == NULL)
			continue;
		while (fgets(line, sizeof(line), in) != NULL) {
			if (line[0] == '|')
				fputs(line, out);
			else if (strlen(notes) + strlen(line) + 1 <
				 sizeof(notes))
				strcat(notes, line);
		}
		fclose(in);
	}
	if (notes[0] != '\0')
		fprintf(out, "\nFailures:\n\n%s", notes);
	fclose(out);
	snprintf(path, sizeof(path), "%s/client-matrix.txt", t_build());
	in = fopen(path, "r");
	if (in == NULL)
		return;
	printf("\nclient matrix (ok/failed, time to first success, who "
	       "answered: E primary, W failover, 5 the primary's 503, "
	       "- failed; TLS: the primary killed after the E), in %s:\n",
	       path);
	while (fgets(line, sizeof(line), in) != NULL)
		fputs(line, stdout);
	fclose(in);
	fflush(stdout);
}

#define CLIENT_TEST(id, n) \
	Test(clients, id, .timeout = 240) { run_client(n); }

CLIENT_TEST(curl, 0)
CLIENT_TEST(wget, 1)
CLIENT_TEST(python_urllib, 2)
CLIENT_TEST(python_socket, 3)
CLIENT_TEST(python_asyncio, 4)
CLIENT_TEST(perl_inet, 5)
CLIENT_TEST(perl_ip, 6)
CLIENT_TEST(nc, 7)
CLIENT_TEST(socat, 8)
CLIENT_TEST(ruby_nethttp, 9)
CLIENT_TEST(node_http, 10)
CLIENT_TEST(java_urlconn, 11)
CLIENT_TEST(java_httpclient, 12)
CLIENT_TEST(psql, 13)
CLIENT_TEST(redis_cli, 14)
CLIENT_TEST(ssh, 15)
CLIENT_TEST(git_http, 16)
