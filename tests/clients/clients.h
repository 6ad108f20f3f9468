/*
 * clients: what the files of the client matrix share: the description of
 * a client (matrix.c holds the table of them), the test bed of one
 * client's test with its real servers (servers.c), and one scenario's
 * outcome (test_clients.c runs them). Single-threaded, like each test.
 */
#ifndef SWERVE_TEST_CLIENTS_H
#define SWERVE_TEST_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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

/* What a client's later requests do when the primary of an http service
 * answers 503 (the "503" column): swerve sees a status only when the
 * application reads it. */
enum on503 {
	FAILS_OVER, /* reads the status: the primary is ejected, and every
		     * later request goes to the failover */
	NOT_HTTP,   /* another protocol: the column does not apply */
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
	enum on503 on503;
	const char *why503; /* what it does with the 503 answer */
	/* argv; "@D" is replaced by the test's private directory. */
	const char *argv[MAXARGS];
};

#define REQUESTS 4          /* per scenario */
#define CONNECT_TIMEOUT 1.0 /* seconds, the configured connect_timeout */
#define SLACK 1.0           /* scheduling, a cold cache, a busy CI box */
#define RECOVER_WITHIN 6.0  /* restart to first answer from the primary */
#define TLS_PORT 18443      /* the TLS servers of the TLS column */
#define NAMES_PORT 15600    /* the dnsd that names them, on its own address */

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
	char names[40];    /* the dnsd of the TLS column */
	int port;          /* endpoint port */
	int svc_port;      /* the port the client dials */
	char dir[256];     /* t_dir(), for "@D" */
	char shm[64];
	char config[512];
	pid_t east_pid, west_pid;
	double base;       /* a healthy request, seconds */
};

/* The matrix, in the order of the table, and the Java programs that
 * java-urlconn and java-httpclient compile at run time. */
extern const struct client clients[];
extern const size_t nclients;
extern const char java_huc[];
extern const char java_hc[];

/* CLOCK_MONOTONIC in seconds. */
double now(void);

/* Runs a shell command in the runner's own context (no preload): setup
 * steps such as initdb, ssh-keygen and git. */
int sh(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* True when something answers a SYN on <addr>:<port> within 300 ms, or
 * holds it (a blackhole of another run): anything but a refusal. */
bool listening(const char *addr, int port);

/* The last line of a server's log, for a failure message (the test's
 * directory is gone by the time anyone reads it). */
const char *log_tail(const struct bed *b, bool east);

/* The text in a client's output that says which endpoint answered. */
const char *marker(const struct bed *b, bool east, char *buf, size_t cap);

/* Prepares what the servers of <b> need on disk (once per test). */
bool setup_kind(struct bed *b, char *why, size_t cap);

/* Starts the real server of <role>; -1 when it would not start. */
pid_t start_real(struct bed *b, bool east);
void stop_real(struct bed *b, pid_t pid);

/* The primary as a blackhole: the same address and port, listen(0) with
 * its one queue slot taken, so SYNs go unanswered whatever the
 * protocol. */
pid_t start_blackhole(struct bed *b);

/* The TLS column's servers, on TLS_PORT with the certificates of the
 * build (east.mydb.test, west.mydb.test): tlsserve for the HTTP clients,
 * redis-server with a TLS port only for redis-cli; -1 when it would not
 * start. */
pid_t start_tls(struct bed *b, bool east);

/* A dnsd on <b->names>:NAMES_PORT that names east.mydb.test and
 * west.mydb.test; -1 when it would not start. */
pid_t start_names(struct bed *b);

/* The directory of the build's test certificates (scripts/tls-certs.sh). */
const char *tls_certs(void);

#endif
