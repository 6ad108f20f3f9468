/*
 * The client matrix: real programs (curl, wget, python, perl, nc, socat,
 * ruby, node, java, psql, redis-cli, ssh, git) dial mydb.com under the
 * library while their primary endpoint is refused, blackholed, and then
 * restarted. Servers are real too where the protocol needs it (two
 * PostgreSQL clusters, two redis-servers, two sshds, two dumb-HTTP git
 * servers); everything lives on loopback addresses 127.N.100-116.x (N in
 * 20-59, per run), which no other test uses.
 *
 * Each client has one test that runs every scenario, writes its row of the
 * table (also when it fails), stops its servers and only then asserts its
 * expectations, so a failing client still leaves a complete row behind.
 * The runner assembles build/client-matrix.txt from the rows at the end.
 *
 * What each client is expected to survive depends on what it does when its
 * first address fails; the table below says so per client, with the reason
 * from docs/clients-and-faults.md (section 1). Refusals never reach any
 * client (same-fd failover inside connect()); a blackhole costs a client
 * that tries its next address (or blocks in connect()) one connect_timeout
 * and no request, and a client that only ever tries one address at most the
 * one request that met the dead endpoint before it was known dead.
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

/* What a client does when the first address it was given fails late (a
 * timeout, seen only after connect() returned). */
enum fallback {
	NEXT,     /* tries the next getaddrinfo address */
	BLOCKING, /* blocking connect(): the library retries inside the call */
	SINGLE,   /* non-blocking and one address only: the failure shows */
};

/* The server a client talks to. */
enum kind {
	K_HTTP,  /* build/tests/httpd */
	K_PG,    /* postgres, run as user postgres */
	K_REDIS, /* redis-server */
	K_SSH,   /* sshd with a private config */
	K_GIT,   /* python3 http.server over a bare repository (dumb HTTP) */
};

#define MAXARGS 20

struct client {
	const char *name;
	const char *prog;   /* must be on PATH, else the test is skipped */
	enum kind kind;
	enum fallback fb;
	/* Seconds the client itself may add after a late failure before it
	 * tries again (curl waits 1 s before another address of the family
	 * it just failed on), on top of one connect_timeout. */
	double gap;
	const char *why;
	/* argv; "@D" is replaced by the test's private directory. */
	const char *argv[MAXARGS];
};

#define HTTP_REQ "printf 'GET / HTTP/1.0\\r\\nHost: mydb.com\\r\\n\\r\\n'"

static const char py_urllib[] =
	"import urllib.request\n"
	"print(urllib.request.urlopen('http://mydb.com/', timeout=5)"
	".read().decode())\n";

static const char py_socket[] =
	"import socket\n"
	"s = socket.create_connection(('mydb.com', 80))\n"
	"s.sendall(b'GET / HTTP/1.0\\r\\nHost: mydb.com\\r\\n\\r\\n')\n"
	"d = b''\n"
	"while True:\n"
	"    c = s.recv(4096)\n"
	"    if not c:\n"
	"        break\n"
	"    d += c\n"
	"print(d.decode())\n";

static const char py_asyncio[] =
	"import asyncio\n"
	"async def main():\n"
	"    r, w = await asyncio.wait_for("
	"asyncio.open_connection('mydb.com', 80), 10)\n"
	"    w.write(b'GET / HTTP/1.0\\r\\nHost: mydb.com\\r\\n\\r\\n')\n"
	"    print((await asyncio.wait_for(r.read(), 10)).decode())\n"
	"asyncio.run(main())\n";

static const char pl_inet[] =
	"use IO::Socket::INET;\n"
	"my $s = IO::Socket::INET->new(PeerAddr => 'mydb.com', "
	"PeerPort => 80, Proto => 'tcp', Timeout => 5)\n"
	"    or die \"connect: $@\\n\";\n"
	"print $s \"GET / HTTP/1.0\\r\\nHost: mydb.com\\r\\n\\r\\n\";\n"
	"print while <$s>;\n";

static const char pl_ip[] =
	"use IO::Socket::IP;\n"
	"my $s = IO::Socket::IP->new(PeerHost => 'mydb.com', "
	"PeerPort => 80, Timeout => 5)\n"
	"    or die \"connect: $@\\n\";\n"
	"print $s \"GET / HTTP/1.0\\r\\nHost: mydb.com\\r\\n\\r\\n\";\n"
	"print while <$s>;\n";

static const char rb_nethttp[] =
	"require 'net/http'\n"
	"h = Net::HTTP.new('mydb.com', 80)\n"
	"h.open_timeout = 5\n"
	"h.read_timeout = 5\n"
	"puts h.get('/').body\n";

static const char js_http[] =
	"const http = require('http');\n"
	"const req = http.get('http://mydb.com/', (r) => {\n"
	"  let d = '';\n"
	"  r.on('data', (c) => { d += c; });\n"
	"  r.on('end', () => { process.stdout.write(d);\n"
	"    process.exit(r.statusCode === 200 ? 0 : 1); });\n"
	"});\n"
	"req.setTimeout(10000, () => req.destroy(new Error('timeout')));\n"
	"req.on('error', (e) => { console.error(e.message);"
	" process.exit(1); });\n";

/* Written at run time and compiled once per test with javac. */
static const char java_huc[] =
	"import java.io.InputStream;\n"
	"import java.net.HttpURLConnection;\n"
	"import java.net.URL;\n"
	"public class Huc {\n"
	"  public static void main(String[] a) throws Exception {\n"
	"    HttpURLConnection c = (HttpURLConnection)\n"
	"        new URL(\"http://mydb.com/\").openConnection();\n"
	"    c.setConnectTimeout(5000);\n"
	"    c.setReadTimeout(5000);\n"
	"    try (InputStream in = c.getInputStream()) {\n"
	"      System.out.print(new String(in.readAllBytes()));\n"
	"    }\n"
	"  }\n"
	"}\n";

static const char java_hc[] =
	"import java.net.URI;\n"
	"import java.net.http.HttpClient;\n"
	"import java.net.http.HttpRequest;\n"
	"import java.net.http.HttpResponse;\n"
	"import java.time.Duration;\n"
	"public class Hc {\n"
	"  public static void main(String[] a) throws Exception {\n"
	"    HttpClient c = HttpClient.newBuilder()\n"
	"        .version(HttpClient.Version.HTTP_1_1)\n"
	"        .connectTimeout(Duration.ofSeconds(5)).build();\n"
	"    HttpResponse<String> r = c.send(HttpRequest.newBuilder(\n"
	"        URI.create(\"http://mydb.com/\"))\n"
	"        .timeout(Duration.ofSeconds(10)).build(),\n"
	"        HttpResponse.BodyHandlers.ofString());\n"
	"    System.out.print(r.body());\n"
	"    System.exit(r.statusCode() == 200 ? 0 : 1);\n"
	"  }\n"
	"}\n";

/*
 * The matrix. Order is the order of the table. The reasons quote what
 * docs/clients-and-faults.md measured for each client.
 */
static const struct client clients[] = {
	{ "curl", "curl", K_HTTP, NEXT, 1.0,
	  "non-blocking, tries the next address; 1 s gap after a late "
	  "failure within one family",
	  { "curl", "-sS", "--max-time", "10", "http://mydb.com/" } },
	{ "wget", "wget", K_HTTP, BLOCKING, 0,
	  "blocking connect (SIGALRM + siglongjmp with -T), tries the next "
	  "address",
	  { "wget", "-q", "-O", "-", "--tries=1", "-T", "5",
	    "http://mydb.com/" } },
	{ "python-urllib", "python3", K_HTTP, NEXT, 0,
	  "timeout=5 makes it non-blocking, per-address timeout, tries the "
	  "next address",
	  { "python3", "-c", py_urllib } },
	{ "python-socket", "python3", K_HTTP, BLOCKING, 0,
	  "socket.create_connection without a timeout: blocking connect",
	  { "python3", "-c", py_socket } },
	{ "python-asyncio", "python3", K_HTTP, NEXT, 0,
	  "non-blocking (epoll, SO_ERROR), tries the next address, no "
	  "per-address timeout of its own",
	  { "python3", "-c", py_asyncio } },
	{ "perl-inet", "perl", K_HTTP, SINGLE, 0,
	  "IO::Socket::INET with Timeout: non-blocking, completion by a "
	  "second connect(), first address only",
	  { "perl", "-e", pl_inet } },
	{ "perl-ip", "perl", K_HTTP, NEXT, 0,
	  "IO::Socket::IP with Timeout: non-blocking, tries the next "
	  "address (dup2 over the old fd)",
	  { "perl", "-e", pl_ip } },
	{ "nc", "nc.openbsd", K_HTTP, NEXT, 0,
	  "OpenBSD nc -w: non-blocking, select + SO_ERROR, tries the next "
	  "address",
	  { "sh", "-c", HTTP_REQ " | nc.openbsd -N -w 5 mydb.com 80" } },
	{ "socat", "socat", K_HTTP, BLOCKING, 0,
	  "blocking connect by default, one (IPv4) address only",
	  { "sh", "-c", HTTP_REQ " | socat -T 5 - TCP:mydb.com:80" } },
	{ "ruby-nethttp", "ruby", K_HTTP, NEXT, 0,
	  "Net::HTTP: non-blocking, completion by a second connect(), "
	  "tries the next address",
	  { "ruby", "-e", rb_nethttp } },
	{ "node-http", "node", K_HTTP, NEXT, 0,
	  "libuv: non-blocking, epoll + SO_ERROR, autoSelectFamily tries "
	  "the next address after 250 ms, closes with syscall(SYS_close)",
	  { "node", "-e", js_http } },
	{ "java-urlconn", "javac", K_HTTP, SINGLE, 0,
	  "HttpURLConnection with setConnectTimeout: non-blocking, first "
	  "address only",
	  { "java", "-XX:+UseSerialGC", "-cp", "@D", "Huc" } },
	{ "java-httpclient", "javac", K_HTTP, SINGLE, 0,
	  "HttpClient: non-blocking, SO_ERROR read in its selector thread, "
	  "retries the same address once, never the next",
	  { "java", "-XX:+UseSerialGC", "-cp", "@D", "Hc" } },
	{ "psql", "psql", K_PG, NEXT, 0,
	  "libpq: non-blocking, connect_timeout per address, tries the next "
	  "address",
	  { "psql", "-X", "-Atc", "select inet_server_addr()",
	    "host=mydb.com port=5432 user=postgres dbname=postgres "
	    "connect_timeout=5 sslmode=disable" } },
	{ "redis-cli", "redis-cli", K_REDIS, SINGLE, 0,
	  "hiredis: non-blocking, second connect(), AF_INET first address "
	  "only (redis-cli repeats the whole lookup once)",
	  { "redis-cli", "-h", "mydb.com", "-p", "6379", "config", "get",
	    "bind" } },
	{ "ssh", "ssh", K_SSH, NEXT, 0,
	  "ConnectTimeout makes it non-blocking, per address, tries the "
	  "next address",
	  { "ssh", "-F", "/dev/null", "-i", "@D/client_key",
	    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
	    "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
	    "-o", "LogLevel=ERROR", "root@mydb.com",
	    "set -- $SSH_CONNECTION; echo $3" } },
	{ "git-http", "git", K_GIT, NEXT, 1.0,
	  "git ls-remote over HTTP is libcurl in git-remote-http: as curl",
	  { "git", "ls-remote", "http://mydb.com/repo.git" } },
};

#define NCLIENTS (sizeof(clients) / sizeof(clients[0]))
#define REQUESTS 4          /* per scenario */
#define CONNECT_TIMEOUT 1.0 /* seconds, the configured connect_timeout */
#define SLACK 1.0           /* scheduling, a cold cache, a busy CI box */
#define RECOVER_WITHIN 6.0  /* restart to first answer from the primary */

/* One scenario's outcome. */
struct outcome {
	int ok, failed;
	double first;     /* seconds from the scenario's start to the end of
			   * its first successful request, -1 if none */
	char seq[24];     /* who answered each request: E, W, - (failed) */
	char lasterr[300];
};

/* Everything one client's test needs. */
struct bed {
	const struct client *c;
	char east[40], west[40];
	int port;          /* endpoint port */
	int svc_port;      /* the port the client dials */
	char dir[256];     /* t_dir(), for "@D" */
	char shm[64];
	char config[512];
	pid_t east_pid, west_pid;
	double base;       /* a healthy request, seconds */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool sanitized(void)
{
	const char *extra = getenv("SWERVE_PRELOAD_EXTRA");

	return extra != NULL && extra[0] != '\0';
}

/* Runs a shell command in the runner's own context (no preload): setup
 * steps such as initdb, ssh-keygen and git. */
static int sh(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* True when something answers a SYN on <addr>:<port> within 300 ms, or
 * holds it (a blackhole of another run): anything but a refusal. */
static bool listening(const char *addr, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	struct pollfd p;
	int fd, rc, soerr = 0;
	socklen_t len = sizeof(soerr);

	inet_pton(AF_INET, addr, &sin.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return false;
	rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	if (rc == -1 && errno == EINPROGRESS) {
		p.fd = fd;
		p.events = POLLOUT;
		if (poll(&p, 1, 300) != 1)
			rc = 0; /* held: someone is there */
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
				    &len) == 0 && soerr == 0)
			rc = 0;
	}
	close(fd);
	return rc == 0;
}

/*
 * Starts a real server (never preloaded) with its output in <log>, as
 * user <user> when not NULL, and waits up to 20 s for <addr>:<port> to
 * accept. The server gets <sig> if this test process dies first.
 */
static pid_t spawn_server(const char *const *argv, const char *user,
			  int sig, const char *log, const char *addr, int port)
{
	struct passwd *pw = user != NULL ? getpwnam(user) : NULL;
	double deadline;
	pid_t pid, parent = getpid();
	int fd;

	if (user != NULL && pw == NULL)
		return -1;
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		if (pw != NULL && (setgroups(0, NULL) == -1 ||
				   setgid(pw->pw_gid) == -1 ||
				   setuid(pw->pw_uid) == -1))
			_exit(126);
		/* After setuid: a change of credentials clears it. */
		prctl(PR_SET_PDEATHSIG, sig);
		if (getppid() != parent)
			_exit(0);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (deadline = now() + 20; now() < deadline;) {
		if (listening(addr, port))
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(20 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Stops a server with <sig>, then SIGKILL after 10 s; accepts 0. */
static void stop_server(pid_t pid, int sig)
{
	double deadline;

	if (pid <= 0)
		return;
	kill(pid, sig);
	for (deadline = now() + 10; now() < deadline;) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(10 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static const char *role_name(bool east)
{
	return east ? "east" : "west";
}

/* The last line of a server's log, for a failure message (the test's
 * directory is gone by the time anyone reads it). */
static const char *log_tail(const struct bed *b, bool east)
{
	static char line[200];
	char path[320], buf[200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.log", b->dir, role_name(east));
	snprintf(line, sizeof(line), "(%s: no log)", role_name(east));
	f = fopen(path, "r");
	if (f == NULL)
		return line;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (buf[0] != '\n')
			snprintf(line, sizeof(line), "%s: %.180s",
				 role_name(east), buf);
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	return line;
}

/* The text in a client's output that says which endpoint answered. */
static const char *marker(const struct bed *b, bool east, char *buf,
			  size_t cap)
{
	switch (b->c->kind) {
	case K_HTTP:
		snprintf(buf, cap, "served-by-%s", role_name(east));
		break;
	case K_GIT:
		snprintf(buf, cap, "refs/heads/%s", role_name(east));
		break;
	default:
		/* psql, redis-cli and ssh print the server's address. */
		snprintf(buf, cap, "%s\n", east ? b->east : b->west);
		break;
	}
	return buf;
}

/* Prepares what the servers of <b> need on disk (once per test). */
static bool setup_kind(struct bed *b, char *why, size_t cap)
{
	const char *d = b->dir;
	int i;

	switch (b->c->kind) {
	case K_HTTP:
		return true;
	case K_PG:
		/* initdb refuses root: the clusters belong to postgres. */
		if (chmod(d, 0711) == -1 ||
		    sh("mkdir -p %s/pg && chown postgres: %s/pg", d, d) != 0)
			goto fail;
		for (i = 0; i < 2; i++) {
			if (sh("runuser -u postgres -- initdb -A trust -U "
			       "postgres -N -D %s/pg/%s >%s/initdb.log 2>&1",
			       d, role_name(i == 0), d) != 0) {
				snprintf(why, cap, "initdb failed, see "
					 "%s/initdb.log", d);
				return false;
			}
		}
		return true;
	case K_REDIS:
		return true;
	case K_SSH:
		if (sh("mkdir -p /run/sshd && ssh-keygen -q -t ed25519 -N '' "
		       "-f %s/host_key && ssh-keygen -q -t ed25519 -N '' "
		       "-f %s/client_key && cp %s/client_key.pub "
		       "%s/authorized_keys", d, d, d, d) != 0)
			goto fail;
		for (i = 0; i < 2; i++) {
			char path[300], text[1024];
			FILE *f;

			snprintf(path, sizeof(path), "%s/sshd_%s", d,
				 role_name(i == 0));
			snprintf(text, sizeof(text),
				 "ListenAddress %s:%d\n"
				 "HostKey %s/host_key\n"
				 "PidFile none\n"
				 "AuthorizedKeysFile %s/authorized_keys\n"
				 "StrictModes no\n"
				 "PermitRootLogin prohibit-password\n"
				 "PasswordAuthentication no\n"
				 "KbdInteractiveAuthentication no\n"
				 "UsePAM no\n"
				 "UseDNS no\n",
				 i == 0 ? b->east : b->west, b->port, d, d);
			f = fopen(path, "w");
			if (f == NULL)
				goto fail;
			fputs(text, f);
			fclose(f);
		}
		return true;
	case K_GIT:
		/* Two bare repositories whose only branch names the server. */
		for (i = 0; i < 2; i++) {
			const char *r = role_name(i == 0);

			if (sh("cd %s && git -c init.defaultBranch=%s init -q "
			       "w%s && git -C w%s -c user.name=t -c "
			       "user.email=t@t commit -q --allow-empty -m %s "
			       "&& mkdir -p %s && git clone -q --bare w%s "
			       "%s/repo.git && git -C %s/repo.git "
			       "update-server-info", d, r, r, r, r, r, r, r,
			       r) != 0)
				goto fail;
		}
		return true;
	}
fail:
	snprintf(why, cap, "setup of the %s servers failed", b->c->name);
	return false;
}

/* Starts the real server of <role>; -1 when it would not start. */
static pid_t start_real(struct bed *b, bool east)
{
	const char *addr = east ? b->east : b->west;
	const char *r = role_name(east);
	char port[16], log[320], a1[320], a2[320], a3[320];

	snprintf(port, sizeof(port), "%d", b->port);
	snprintf(log, sizeof(log), "%s/%s.log", b->dir, r);
	switch (b->c->kind) {
	case K_HTTP:
		snprintf(a1, sizeof(a1), "served-by-%s", r);
		return t_server(addr, b->port, a1, "ok");
	case K_PG: {
		snprintf(a1, sizeof(a1), "%s/pg/%s", b->dir, r);
		snprintf(a2, sizeof(a2), "listen_addresses=%s", addr);
		/* Its own socket directory: both clusters use one port. */
		snprintf(a3, sizeof(a3), "unix_socket_directories=%.290s", a1);
		const char *argv[] = { "/usr/lib/postgresql/15/bin/postgres",
				       "-D", a1, "-p", port, "-c", a2, "-c",
				       a3, "-c", "fsync=off", NULL };
		char bin[128];

		/* Whatever major version is installed. */
		if (access(argv[0], X_OK) != 0) {
			FILE *p = popen("ls -d /usr/lib/postgresql/*/bin/"
					"postgres 2>/dev/null | tail -1", "r");

			if (p == NULL || fgets(bin, sizeof(bin), p) == NULL) {
				if (p != NULL)
					pclose(p);
				return -1;
			}
			pclose(p);
			bin[strcspn(bin, "\n")] = '\0';
			argv[0] = bin;
		}
		/* SIGQUIT: immediate shutdown if we die. */
		return spawn_server(argv, "postgres", SIGQUIT, log, addr,
				    b->port);
	}
	case K_REDIS: {
		snprintf(a1, sizeof(a1), "%s", b->dir);
		const char *argv[] = { "redis-server", "--bind", addr,
				       "--port", port, "--save", "",
				       "--appendonly", "no",
				       "--protected-mode", "no", "--dir", a1,
				       NULL };

		return spawn_server(argv, NULL, SIGTERM, log, addr, b->port);
	}
	case K_SSH: {
		snprintf(a1, sizeof(a1), "%s/sshd_%s", b->dir, r);
		const char *argv[] = { "/usr/sbin/sshd", "-D", "-e", "-f", a1,
				       NULL };

		return spawn_server(argv, NULL, SIGTERM, log, addr, b->port);
	}
	case K_GIT: {
		snprintf(a1, sizeof(a1), "%s/%s", b->dir, r);
		const char *argv[] = { "python3", "-m", "http.server", port,
				       "--bind", addr, "--directory", a1,
				       NULL };

		return spawn_server(argv, NULL, SIGTERM, log, addr, b->port);
	}
	}
	return -1;
}

static void stop_real(struct bed *b, pid_t pid)
{
	/* postgres: SIGINT is its fast shutdown; SIGTERM waits for
	 * clients. */
	stop_server(pid, b->c->kind == K_PG ? SIGINT : SIGTERM);
}

/* The primary as a blackhole: the same address and port, listen(0) with
 * its one queue slot taken, so SYNs go unanswered whatever the
 * protocol. */
static pid_t start_blackhole(struct bed *b)
{
	return t_server(b->east, b->port, "blackhole", "backlog");
}

static void write_config(struct bed *b, const char *base_ejection)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "[swerve]\n"
		 "locality = us-east1\n"
		 "vip_cidr = 127.79.0.0/16\n"
		 "log = warn\n"
		 "\n"
		 "[service mydb]\n"
		 "hosts     = mydb.com\n"
		 "ports     = %d\n"
		 "endpoint  = %s:%d locality=us-east1\n"
		 "endpoint  = %s:%d locality=us-west\n"
		 "consecutive_5xx_errors = 1\n"
		 "interval               = 1s\n"
		 "base_ejection_time     = %s\n"
		 "connect_timeout        = 1s\n",
		 b->svc_port, b->east, b->port, b->west, b->port,
		 base_ejection);
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

	snprintf(text, sizeof(text), "- | - | - | SKIP: %s", why);
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
 * The whole matrix row of one client. <idx> picks its addresses:
 * 127.10.(100 + idx).2 is the primary (us-east1, the client's region),
 * .3 the failover (us-west).
 */
static void run_client(size_t idx)
{
	static struct client node_before_20;
	const struct client *c = &clients[idx];
	struct bed bed, *b = &bed;
	struct outcome s1, s2, s3;
	char why[300], verdict[1200] = "", text[2000], c1[64], c2[64], c3[64];
	char err[400] = "";
	double budget, t0;
	pid_t hole = 0;
	int i;

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

	/* Node turned autoSelectFamily on by default in version 20; before
	 * that it tries only the first address (Debian 12 ships node 18). */
	if (c->kind == K_HTTP && strcmp(c->prog, "node") == 0) {
		FILE *p = popen("node -p 'process.versions.node' 2>/dev/null",
				"r");
		char ver[32] = "";

		if (p != NULL) {
			if (fgets(ver, sizeof(ver), p) == NULL)
				ver[0] = '\0';
			pclose(p);
		}
		if (atoi(ver) > 0 && atoi(ver) < 20) {
			node_before_20 = *c;
			node_before_20.fb = SINGLE;
			node_before_20.why = "node < 20: autoSelectFamily is "
					     "off, only the first address";
			c = &node_before_20;
		}
	}
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
		if (!listening(b->east, b->port) &&
		    !listening(b->west, b->port))
			break;
	}
	snprintf(b->dir, sizeof(b->dir), "%s", t_dir());
	if (strncmp(c->name, "java", 4) == 0) {
		t_write("Huc.java", java_huc);
		t_write("Hc.java", java_hc);
		if (sh("cd %s && javac Huc.java Hc.java", b->dir) != 0) {
			t_cleanup();
			cr_assert_fail("javac failed");
			return;
		}
	}
	if (!setup_kind(b, why, sizeof(why))) {
		t_cleanup();
		cr_assert_fail("%s", why);
		return;
	}

	outcome_init(&s1);
	outcome_init(&s2);
	outcome_init(&s3);
	b->east_pid = start_real(b, true);
	b->west_pid = start_real(b, false);
	if (b->east_pid <= 0 || b->west_pid <= 0) {
		snprintf(err, sizeof(err), "servers did not start: %s",
			 log_tail(b, b->east_pid <= 0));
		goto out;
	}

	/* A healthy request first: its time is the client's own cost, and
	 * if it fails the harness or the client is broken, not failover. */
	write_config(b, "1s");
	{
		struct outcome base;
		char who;

		outcome_init(&base);
		who = request(b, &base, &b->base);
		if (who != 'E') {
			snprintf(err, sizeof(err), "healthy request: %c %.300s",
				 who, base.lasterr);
			goto out;
		}
	}

	/* (1) The primary refuses: its server is gone. */
	stop_real(b, b->east_pid);
	b->east_pid = 0;
	requests(b, &s1, REQUESTS);

	/* (3) It comes back: traffic returns once the ejection is over. */
	b->east_pid = start_real(b, true);
	if (b->east_pid <= 0) {
		snprintf(err, sizeof(err), "primary did not restart");
		goto out;
	}
	t0 = now();
	for (i = 0; i < 30 && now() - t0 < RECOVER_WITHIN + 4; i++) {
		double took;
		size_t len = strlen(s3.seq);
		char who = request(b, &s3, &took);

		if (len + 1 < sizeof(s3.seq)) {
			s3.seq[len] = who;
			s3.seq[len + 1] = '\0';
		}
		if (who == '-') {
			s3.failed++;
		} else {
			s3.ok++;
			if (who == 'E' && s3.first < 0)
				s3.first = now() - t0;
		}
		if (s3.first >= 0)
			break;
		usleep(200 * 1000);
	}
	if (s3.first >= 0)
		requests(b, &s3, 2);

	/* (2) The primary is a blackhole. A fresh table, and an ejection
	 * long enough to outlast the scenario, so that what is measured is
	 * the cost of discovering it, not of rediscovering it. */
	stop_real(b, b->east_pid);
	b->east_pid = 0;
	hole = start_blackhole(b);
	if (hole <= 0) {
		snprintf(err, sizeof(err), "blackhole did not start");
		goto out;
	}
	write_config(b, "60s");
	requests(b, &s2, REQUESTS);

out:
	t_stop(hole);
	stop_real(b, b->east_pid);
	stop_real(b, b->west_pid);

	if (err[0] != '\0') {
		/* Not a verdict on the library: the test itself failed. */
		snprintf(text, sizeof(text), "- | - | - | HARNESS");
		write_row(c, text, err);
		t_cleanup();
		cr_assert_fail("%s: %s", c->name, err);
		return;
	}

	/* Expectations (see the comment at the top). */
	budget = b->base + SLACK;
	if (s1.failed != 0)
		fault(verdict, sizeof(verdict), "refused: %d failed (%s)",
		      s1.failed, s1.lasterr);
	else if (strspn(s1.seq, "W") != strlen(s1.seq))
		fault(verdict, sizeof(verdict), "refused: answered by %s",
		      s1.seq);
	else if (s1.first > budget)
		fault(verdict, sizeof(verdict),
		      "refused: first success after %.2f s (> %.2f)",
		      s1.first, budget);

	if (c->fb == SINGLE) {
		/* The first request may meet the unknown blackhole; none
		 * after it may fail. */
		if (s2.failed > 1 || (s2.failed == 1 && s2.seq[0] != '-'))
			fault(verdict, sizeof(verdict),
			      "blackhole: %s (only the first may fail: %s)",
			      s2.seq, s2.lasterr);
		budget = 2 * b->base + CONNECT_TIMEOUT + 2 * SLACK;
	} else {
		if (s2.failed != 0)
			fault(verdict, sizeof(verdict),
			      "blackhole: %d failed (%s)", s2.failed,
			      s2.lasterr);
		budget = b->base + CONNECT_TIMEOUT + c->gap + SLACK;
	}
	if (s2.failed <= 1 && s2.first > budget)
		fault(verdict, sizeof(verdict),
		      "blackhole: first success after %.2f s (> %.2f)",
		      s2.first, budget);
	if (s2.ok > 0 && strchr(s2.seq, 'E') != NULL)
		fault(verdict, sizeof(verdict), "blackhole: answered by %s",
		      s2.seq);

	if (s3.failed != 0)
		fault(verdict, sizeof(verdict), "recovery: %d failed (%s)",
		      s3.failed, s3.lasterr);
	if (s3.first < 0 || s3.first > RECOVER_WITHIN)
		fault(verdict, sizeof(verdict),
		      "recovery: primary not back within %.0f s (%s)",
		      RECOVER_WITHIN, s3.seq);
	else if (s3.seq[strlen(s3.seq) - 1] != 'E')
		fault(verdict, sizeof(verdict), "recovery: left it again (%s)",
		      s3.seq);

	cell(c1, sizeof(c1), &s1);
	cell(c2, sizeof(c2), &s2);
	cell(c3, sizeof(c3), &s3);
	snprintf(text, sizeof(text), "%s | %s | %s | %s", c1, c2, c3,
		 verdict[0] != '\0' ? "FAIL" : "ok");
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
	for (i = 0; i < NCLIENTS; i++) {
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
		"recovers | verdict |\n"
		"|---|---|---|---|---|---|\n");
	for (i = 0; i < NCLIENTS; i++) {
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
	       "answered: E primary, W failover, - failed), in %s:\n", path);
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
