/*
 * servers.c: the real servers of the client matrix (httpd, two PostgreSQL
 * clusters, redis-servers, sshds, dumb-HTTP git servers) on the loopback
 * addresses of one client's test, set up, started and stopped, the
 * blackhole that stands in for a dead primary, and the TLS column's
 * servers (tlsserve, or redis-server with a TLS port) with the dnsd that
 * names them. Single-threaded.
 */
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

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int sh(const char *fmt, ...)
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

bool listening(const char *addr, int port)
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

const char *log_tail(const struct bed *b, bool east)
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

const char *marker(const struct bed *b, bool east, char *buf,
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

bool setup_kind(struct bed *b, char *why, size_t cap)
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

pid_t start_real(struct bed *b, bool east)
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

void stop_real(struct bed *b, pid_t pid)
{
	/* postgres: SIGINT is its fast shutdown; SIGTERM waits for
	 * clients. */
	stop_server(pid, b->c->kind == K_PG ? SIGINT : SIGTERM);
}

pid_t start_blackhole(struct bed *b)
{
	return t_server(b->east, b->port, "blackhole", "backlog");
}

const char *tls_certs(void)
{
	static char dir[400];

	snprintf(dir, sizeof(dir), "%s/tests/tls-certs", t_build());
	return dir;
}

pid_t start_tls(struct bed *b, bool east)
{
	const char *addr = east ? b->east : b->west;
	const char *r = role_name(east);
	char port[16], log[320], cert[450], key[450], ca[450], name[80];
	char listen[64];

	snprintf(port, sizeof(port), "%d", TLS_PORT);
	snprintf(log, sizeof(log), "%s/tls-%s.log", b->dir, r);
	snprintf(cert, sizeof(cert), "%s/%s.pem", tls_certs(), r);
	snprintf(key, sizeof(key), "%s/%s.key", tls_certs(), r);
	snprintf(ca, sizeof(ca), "%s/ca.pem", tls_certs());
	if (b->c->kind == K_REDIS) {
		/* A TLS port only: a plaintext byte never gets an answer. */
		const char *argv[] = { "redis-server", "--bind", addr,
				       "--port", "0", "--tls-port", port,
				       "--tls-cert-file", cert,
				       "--tls-key-file", key,
				       "--tls-ca-cert-file", ca,
				       "--tls-auth-clients", "no",
				       "--save", "", "--appendonly", "no",
				       "--protected-mode", "no",
				       "--dir", b->dir, NULL };

		return spawn_server(argv, NULL, SIGTERM, log, addr, TLS_PORT);
	}
	/* The body names the server the way marker() expects: for git, an
	 * info/refs line (git ls-remote prints it; the request for HEAD gets
	 * the same body, which git ignores). */
	if (b->c->kind == K_GIT)
		snprintf(name, sizeof(name), "%040d\trefs/heads/%s", 1, r);
	else
		snprintf(name, sizeof(name), "served-by-%s", r);
	snprintf(listen, sizeof(listen), "%s:%d", addr, TLS_PORT);
	{
		char *argv[] = { (char *)"tlsserve", (char *)"--listen",
				 listen, (char *)"--cert", cert,
				 (char *)"--key", key, (char *)"--name", name,
				 (char *)"--log", log, NULL };

		return t_start(argv);
	}
}

pid_t start_names(struct bed *b)
{
	char zone[200], port[16];
	char *argv[] = { (char *)"dnsd", b->names, port, NULL, NULL };

	snprintf(zone, sizeof(zone),
		 "east.mydb.test 30 A %s\nwest.mydb.test 30 A %s\n", b->east,
		 b->west);
	snprintf(port, sizeof(port), "%d", NAMES_PORT);
	argv[3] = t_write("zone", zone);
	return t_start(argv);
}
