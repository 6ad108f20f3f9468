/*
 * runtime.c: the hook layer's process state. It loads the config on first
 * use (pthread_once, from whichever hook runs first), attaches the shared
 * table or falls back to a private one, and publishes the first
 * generation (gens.c); none means swerve is off in this process and every
 * hook passes through. It also owns the re-entrancy guard, the per-thread
 * random numbers, the cached pid refreshed after fork, and the refresh of
 * names.
 *
 * Thread-safety: init runs once under pthread_once. The guard and the
 * random state are thread-local (initial-exec: safe in signal handlers).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/exe.h"
#include "base/libc.h"
#include "base/log.h"
#include "base/swerve.h"
#include "preload/preload.h"
#include "tls/share.h"

/* Set by init when it published a generation: swerve is on. */
static atomic_bool swerve_on;
struct swerve_shm swerve_table;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* Set when init has run, whatever it found: swerve off needs no more. */
static atomic_bool init_ran;
/*
 * This process's pid, set by the constructor and refreshed in a child of
 * fork() (getpid() is a system call). A vfork() child shares this memory
 * and runs no fork handler: it sees its parent's pid here, which is how
 * swerve_runtime_foreign() tells it. 0 until the constructor ran.
 */
static pid_t self_pid;

__thread int swerve_guard __attribute__((tls_model("initial-exec")));
__thread uintptr_t swerve_guard_sp __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng_state __attribute__((tls_model("initial-exec")));

uint64_t swerve_runtime_random(void)
{
	uint64_t x = rng_state;

	if (x == 0) {
		x = swerve_now_ms() ^ ((uint64_t)(uintptr_t)&rng_state << 16) ^
		    (uint64_t)getpid() << 32 ^ 0x9e3779b97f4a7c15ull;
		if (x == 0)
			x = 1;
	}
	/* xorshift64: plenty for spreading load, no locks, no libc state. */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

/*
 * In a child of fork(): everything per process was copied from the parent.
 * The random state and the round-robin counters are drawn afresh, or every
 * worker of a prefork server would pick what its siblings pick; the
 * counts of attempts and connections start at zero, because the ones
 * copied are the parent's (their slots are freed here without counting)
 * and would never come down. Recent failures stay: they are still news.
 */
static void service_after_fork(struct svc_state *ss)
{
	unsigned i;

	atomic_store_explicit(&ss->rr, swerve_runtime_random(),
			      memory_order_relaxed);
	for (i = 0; i < ss->svc->nendpoints; i++) {
		atomic_store(&ss->pending[i], 0);
		atomic_store(&ss->pending_since[i], 0);
		atomic_store(&ss->active[i], 0);
	}
}

static void after_fork_child(void)
{
	self_pid = getpid();
	rng_state = 0;
	swerve_reload_after_fork();
	swerve_pump_after_fork();
	if (atomic_load_explicit(&swerve_on, memory_order_acquire))
		swerve_gens_foreach_service(service_after_fork);
}

pid_t swerve_runtime_pid(void)
{
	return self_pid != 0 ? self_pid : getpid();
}

/*
 * True in a vfork() child (or a child of a raw clone() that ran no fork
 * handler): it shares or copied its parent's state without being the
 * process that state describes, so it must pass every call through. One
 * system call: for the paths that change state, not for every hook.
 * Not instrumented by ThreadSanitizer: the sigaction hook asks it while
 * TSan is still starting (the Makefile's TSAN part says why).
 */
__attribute__((no_sanitize_thread)) bool swerve_runtime_foreign(void)
{
	return self_pid == 0 || getpid() != self_pid;
}

static bool is_go_program(void)
{
	struct swerve_exe_info info;

	return swerve_exe_inspect("/proc/self/exe", &info) == 0 && info.is_go;
}

/* The log settings of the environment, before the config is read: the
 * config's own errors belong in the log file too. */
static void log_from_env(void)
{
	const char *lvl = secure_getenv("SWERVE_LOG");
	enum swerve_log_level level;

	if (lvl != NULL && swerve_log_parse_level(lvl, &level) == 0)
		swerve_log_set_level(level);
	swerve_log_set_file(secure_getenv("SWERVE_LOG_FILE"));
}

static void init(void)
{
	struct swerve_config *cfg = NULL;
	struct swerve_gen *gen;
	const char *path;
	char err[512];
	int rc;
	bool explicit_path;

	swerve_libc_resolve();
	log_from_env();
	path = secure_getenv("SWERVE_CONFIG");
	explicit_path = path != NULL && path[0] != '\0';
	if (is_go_program()) {
		/* Go connects with raw system calls: a service address handed
		 * to it (cgo calls getaddrinfo) would lead nowhere. */
		if (explicit_path)
			swerve_log(SWERVE_LOG_WARN,
				   "a Go program connects behind swerve's back; "
				   "swerve stays out of its way");
		goto out;
	}
	if (!explicit_path)
		path = SWERVE_DEFAULT_CONFIG;

	/* The first error is enough for the one line a host program gets;
	 * swervectl check lists them all. */
	err[0] = '\0';
	swerve_reload_begin(path);
	rc = swerve_config_load(path, true, &cfg, NULL, NULL, err,
				sizeof(err));
	if (rc == -ENOENT && !explicit_path)
		goto out; /* no config on this host: silent pass-through */
	if (rc != 0) {
		swerve_log(SWERVE_LOG_ERROR, "%s; swerve is off in this process",
			   err[0] != '\0' ? err : strerror(-rc));
		goto out;
	}
	swerve_log_set_level(cfg->log_level);
	swerve_log_set_file(cfg->log_file);

	rc = swerve_shm_attach(cfg->shm_name, true, &swerve_table, err, sizeof(err));
	if (rc != 0) {
		/* Fail open, but keep outlier detection inside this process. */
		swerve_log(SWERVE_LOG_WARN,
			   "%s; health is not shared with other processes", err);
		if (swerve_shm_private(&swerve_table) != 0) {
			swerve_log(SWERVE_LOG_ERROR,
				   "no memory for the health table; swerve is "
				   "off in this process");
			goto fail;
		}
	}
	swerve_tls_share_table(cfg->shm_name); /* used by TLS only */
	rc = swerve_gens_setup();
	if (rc == 0)
		rc = swerve_gens_build(cfg, &gen, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "no memory for the services");
	if (rc != 0) {
		swerve_log(SWERVE_LOG_ERROR, "%s; swerve is off in this process",
			   err);
		goto fail;
	}
	if (swerve_http_init(cfg) != 0)
		swerve_log(SWERVE_LOG_WARN,
			   "no memory to follow HTTP; protocol = http services "
			   "count connect outcomes only in this process");
	swerve_log(SWERVE_LOG_INFO, "%s: %u services, locality '%s', table %s",
		   cfg->path, cfg->nservices, cfg->locality_text,
		   swerve_table.shared ? swerve_table.name : "(private)");
	swerve_reload_arm(cfg);
	swerve_gens_publish(gen);
	atomic_store_explicit(&swerve_on, true, memory_order_release);
	goto out;
fail:
	/* Nothing was published, so no other thread can be reading it. */
	swerve_config_free(cfg);
out:
	atomic_store_explicit(&init_ran, true, memory_order_release);
}

/*
 * Raising the guard from 0 notes where: signals that interrupt code below
 * that frame are held back until the guard is down again (signals.c). The
 * frame is written first: a signal between the two must not find the
 * guard up with another call's frame.
 */
static void guard_raise(void)
{
	if (swerve_guard == 0)
		swerve_guard_sp = (uintptr_t)__builtin_frame_address(0);
	atomic_signal_fence(memory_order_seq_cst);
	swerve_guard++;
}

bool swerve_runtime_enter(void)
{
	if (swerve_runtime_foreign())
		return false;
	guard_raise();
	return true;
}

void swerve_runtime_raise(void)
{
	guard_raise();
}

void swerve_runtime_leave(void)
{
	swerve_runtime_unguard();
}

void swerve_runtime_unguard(void)
{
	if (--swerve_guard == 0)
		swerve_signals_replay();
}

void swerve_runtime_reguard(void)
{
	swerve_guard++;
}

/*
 * The pid and the fork handler are set here, in the process that loaded
 * the library, so that a vfork() child can never be the one to set them.
 */
__attribute__((constructor)) static void swerve_constructor(void)
{
	swerve_libc_resolve();
	self_pid = getpid();
	pthread_atfork(NULL, NULL, after_fork_child);
}

/*
 * Whether swerve is on in this process. Init runs only where it safely
 * can: after the constructor, in the process itself (not a vfork child,
 * which would build its parent's state), and never from a signal handler
 * (it opens files and allocates, and another thread's init in progress
 * would make the handler wait). There swerve stays off until an ordinary
 * call initialises it.
 */
bool swerve_runtime_on(void)
{
	if (atomic_load_explicit(&swerve_on, memory_order_acquire))
		return true;
	/* Init ran and left swerve off: nothing more to ask (the flag is
	 * read again, as it may have been set in between). */
	if (atomic_load_explicit(&init_ran, memory_order_acquire))
		return atomic_load_explicit(&swerve_on, memory_order_acquire);
	if (swerve_runtime_foreign() || swerve_signals_in_handler())
		return false;
	/* Raised around pthread_once, not inside init: a handler that jumped
	 * out of init would leave the once in progress, and every thread
	 * that then asks for the config would wait for ever. Everything
	 * init calls passes through. */
	guard_raise();
	pthread_once(&init_once, init);
	swerve_runtime_unguard();
	return atomic_load_explicit(&swerve_on, memory_order_acquire);
}

/*
 * Brings the answers of service <s>'s names up to date when they are due
 * (bounded by the service's dns_timeout, see dnscache.h). A non-blocking
 * connect (an event loop) must not wait on DNS while a name has an answer
 * to go on with: its flags are read only when something is due. The guard
 * is lowered as for the real connect(): c-ares' sockets use libc directly,
 * and a siglongjmp out of the lookup must not leave swerve off. Never in
 * a signal handler: c-ares allocates; the last answer serves meanwhile.
 */
void swerve_runtime_refresh_names(unsigned s, int fd)
{
	enum swerve_dnscache_wait wait = SWERVE_DNSCACHE_WAIT;
	struct svc_state *ss = &swerve_services[s];
	uint64_t now;
	int fl;

	if (ss->dns == NULL || swerve_signals_in_handler())
		return;
	now = swerve_now_ms();
	if (!swerve_dnscache_due(ss->dns, ss->local, now))
		return;
	fl = fd >= 0 ? fcntl(fd, F_GETFL) : 0;
	if (fl != -1 && (fl & O_NONBLOCK) != 0)
		wait = SWERVE_DNSCACHE_NO_WAIT;
	swerve_runtime_unguard();
	swerve_dnscache_refresh(ss->dns, ss->local, now, wait);
	swerve_runtime_reguard();
}
