/*
 * signals.c: the application's signal handlers, as swerve sees them.
 * sigaction() and signal() install the application's handler behind a
 * trampoline of swerve's, for two reasons:
 *
 *  - The hooks must know when they run inside a handler. init opens files
 *    and allocates, and a due DNS lookup runs c-ares, which allocates: a
 *    handler that interrupted malloc() would deadlock or corrupt the heap
 *    there, and one that interrupted another thread's init would wait for
 *    it. In a handler swerve uses what is already set up and starts
 *    nothing (swerve_signals_in_handler()).
 *  - A signal that arrives while this thread runs swerve's own code (the
 *    guard is raised) is held back and raised again the moment swerve
 *    leaves that code. A handler that jumps out with siglongjmp (wget's
 *    connect timeout does) then never leaves a routing plan counted as
 *    read, a slot busy or the guard raised behind it; and a handler that
 *    connects is routed like anyone, instead of passing through because
 *    it found the guard up. Faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 *    SIGTRAP, SIGSYS from the CPU) are never held.
 *
 * The trampoline calls the handler with the kernel's three arguments
 * whether or not the application asked for SA_SIGINFO, which is what the
 * kernel itself does on x86-64 and what every Linux calling convention
 * allows (extra register arguments are ignored). sigaction() reports the
 * application's own handler and flags back, never the trampoline. SA_
 * RESETHAND is done here when the handler is really called, so that a
 * held signal is not lost to the default action. Handlers installed
 * otherwise (a raw rt_sigaction system call, sigset(), bsd_signal())
 * are not seen: for them swerve behaves as before, passing calls through
 * while its guard is up.
 *
 * Thread-safety: the table is written under a spin lock taken with every
 * signal blocked in the writing thread; the trampoline reads the handler
 * and flags with atomic loads. The records of running handlers and the
 * held signals are per thread (initial-exec TLS: safe in handlers).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "base/libc.h"
#include "base/swerve.h"
#include "preload/preload.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))

/* The application's action for one signal. */
struct app_action {
	_Atomic(uintptr_t) fn;   /* its handler; 0 when it has none */
	_Atomic int flags;       /* its sa_flags */
	struct sigaction act;    /* as given, for sigaction()'s old value */
};

static struct app_action actions[NSIG];
static atomic_flag writing = ATOMIC_FLAG_INIT;

/* A handler running in this thread, as the trampoline entered it. */
struct frame {
	int sig;
	bool altstack;           /* on the alternate signal stack */
	bool nodefer;            /* SA_NODEFER: its signal is not blocked */
	uintptr_t sp;            /* the trampoline's frame */
};

#define MAX_FRAMES 8
#define MAX_HELD 8
/* Slack above the guard's frame that still counts as swerve's code. */
#define GUARD_SLACK 256

static TLS unsigned depth;
static TLS struct frame frames[MAX_FRAMES];
static TLS unsigned nheld;
static TLS siginfo_t held[MAX_HELD];

static void trampoline(int sig, siginfo_t *info, void *uc);

/* The stack pointer of the code a signal interrupted; 0 when unknown. */
static uintptr_t interrupted_sp(const void *uc)
{
	const ucontext_t *u = uc;

#if defined(__x86_64__)
	return (uintptr_t)u->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	return (uintptr_t)u->uc_mcontext.sp;
#else
	(void)u;
	return 0;
#endif
}

/* Whether a standard signal <sig> is held already (they do not queue). */
static bool held_already(int sig)
{
	unsigned k;

	if (sig >= SIGRTMIN)
		return false;
	for (k = 0; k < nheld; k++)
		if (held[k].si_signo == sig)
			return true;
	return false;
}

/*
 * Whether a signal that interrupted this thread should wait until swerve
 * has left its code: the guard is up, the interrupted code lies below the
 * frame that raised it (a guard left up by a handler swerve does not see
 * is not trusted), and the signal is not a fault.
 */
static bool must_hold(int sig, const siginfo_t *info, const void *uc)
{
	uintptr_t sp;

	if (swerve_guard <= 0)
		return false;
	if ((sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
	     sig == SIGFPE || sig == SIGTRAP || sig == SIGSYS) &&
	    info->si_code > 0)
		return false;
	sp = interrupted_sp(uc);
	return sp != 0 && sp <= swerve_guard_sp + GUARD_SLACK;
}

/* SA_RESETHAND, done when the handler is really called. */
static void reset_to_default(int sig)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	swerve_libc_sigaction(sig, &dfl, NULL);
	atomic_store(&actions[sig].fn, 0);
}

static void trampoline(int sig, siginfo_t *info, void *uc)
{
	int saved = errno, flags;
	uintptr_t fn;
	const ucontext_t *u = uc;

	if (sig <= 0 || sig >= NSIG)
		return;
	if (must_hold(sig, info, uc)) {
		/* A standard signal held already is one signal, as the kernel
		 * counts it; only a full list lets one through at once. */
		if (held_already(sig))
			return;
		if (nheld < MAX_HELD) {
			held[nheld++] = *info;
			return;
		}
	}
	fn = atomic_load(&actions[sig].fn);
	flags = atomic_load(&actions[sig].flags);
	if (fn == 0)
		return; /* the action changed under way: nothing to call */
	if (flags & SA_RESETHAND)
		reset_to_default(sig);
	if (depth < MAX_FRAMES) {
		struct frame *f = &frames[depth];
		uintptr_t here = (uintptr_t)__builtin_frame_address(0);
		uintptr_t base = (uintptr_t)u->uc_stack.ss_sp;

		f->sig = sig;
		f->nodefer = (flags & SA_NODEFER) != 0;
		f->altstack = u->uc_stack.ss_size > 0 && here >= base &&
			      here < base + u->uc_stack.ss_size;
		f->sp = here;
	}
	depth++;
	errno = saved;
	((void (*)(int, siginfo_t *, void *))fn)(sig, info, uc);
	depth--;
}

/* Whether the handler recorded in <f> is still running. */
static bool frame_live(const struct frame *f)
{
	if (f->altstack) {
		stack_t ss;

		return sigaltstack(NULL, &ss) == 0 &&
		       (ss.ss_flags & SS_ONSTACK);
	}
	if (!f->nodefer) {
		sigset_t cur;

		/* A handler left by siglongjmp had its mask put back. */
		return pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 &&
		       sigismember(&cur, f->sig) == 1;
	}
	return (uintptr_t)__builtin_frame_address(0) < f->sp;
}

bool swerve_signals_in_handler(void)
{
	int saved;
	bool live = false;

	if (depth == 0)
		return false;
	if (depth > MAX_FRAMES)
		return true;
	saved = errno;
	while (depth > 0 && !(live = frame_live(&frames[depth - 1])))
		depth--;
	errno = saved;
	return live;
}

unsigned swerve_signals_depth(void)
{
	if (depth == 0)
		return 0;
	if (!swerve_signals_in_handler())
		return 0;
	return depth;
}

/* Raises the held signals, the guard being down (replay's slow part). */
static __attribute__((noinline)) void replay_held(void)
{
	siginfo_t info;
	int saved;

	saved = errno;
	while (nheld > 0 && swerve_guard == 0) {
		/* Taken off first: the handler may jump away from here. */
		info = held[0];
		nheld--;
		memmove(&held[0], &held[1], nheld * sizeof(held[0]));
		/* Back to this thread with its own siginfo, which the kernel
		 * allows a process to send to itself. */
		if (syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(),
			    info.si_signo, &info) == -1)
			syscall(SYS_tgkill, getpid(), gettid(), info.si_signo);
	}
	errno = saved;
}

void swerve_signals_replay(void)
{
	/* Every hook that raised the guard comes here: a load or two when
	 * nothing is held. */
	if (nheld != 0 && swerve_guard == 0)
		replay_held();
}

/* The table's lock, with every signal blocked in this thread meanwhile. */
static void lock(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
	while (atomic_flag_test_and_set_explicit(&writing,
						 memory_order_acquire))
		;
}

static void unlock(const sigset_t *old)
{
	atomic_flag_clear_explicit(&writing, memory_order_release);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* What sigaction() reports: the application's action for the trampoline. */
static void report(const struct sigaction *kernel,
		   const struct sigaction *app, struct sigaction *old)
{
	if (old == NULL)
		return;
	if (kernel->sa_sigaction == trampoline)
		*old = *app;
	else
		*old = *kernel;
}

/* Installs <act> (not NULL) for <sig> behind the trampoline. */
static int install(int sig, const struct sigaction *act,
		   struct sigaction *old)
{
	struct sigaction want = *act, kernel, prev;
	sigset_t mask;
	uintptr_t was_fn;
	int rc, was_flags;

	lock(&mask);
	prev = actions[sig].act;
	was_fn = atomic_load(&actions[sig].fn);
	was_flags = atomic_load(&actions[sig].flags);
	actions[sig].act = want;
	atomic_store(&actions[sig].flags, want.sa_flags);
	atomic_store(&actions[sig].fn, (uintptr_t)want.sa_sigaction);
	want.sa_sigaction = trampoline;
	want.sa_flags = (want.sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
	rc = swerve_libc_sigaction(sig, &want, &kernel);
	if (rc != 0) {
		actions[sig].act = prev;
		atomic_store(&actions[sig].flags, was_flags);
		atomic_store(&actions[sig].fn, was_fn);
	}
	unlock(&mask);
	if (rc == 0)
		report(&kernel, &prev, old);
	return rc;
}

/* Sets SIG_DFL or SIG_IGN for <sig>, or only reads (<act> NULL). */
static int plain(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction kernel, prev;
	sigset_t mask;
	int rc;

	lock(&mask);
	prev = actions[sig].act;
	rc = swerve_libc_sigaction(sig, act, &kernel);
	if (rc == 0 && act != NULL)
		atomic_store(&actions[sig].fn, 0);
	unlock(&mask);
	if (rc == 0)
		report(&kernel, &prev, old);
	return rc;
}

/*
 * A vfork() child shares the table with its parent but not the kernel's
 * actions: what it sets before exec is its own, and must not change what
 * the parent's trampoline calls. Before the constructor ran, the pid that
 * tells is not known yet: those handlers stay unseen.
 */
static int hooked_sigaction(int sig, const struct sigaction *act,
			    struct sigaction *old)
{
	if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP ||
	    swerve_runtime_foreign())
		return swerve_libc_sigaction(sig, act, old);
	if (act == NULL || act->sa_handler == SIG_DFL ||
	    act->sa_handler == SIG_IGN)
		return plain(sig, act, old);
	return install(sig, act, old);
}

SWERVE_EXPORT int sigaction(int sig, const struct sigaction *act,
			    struct sigaction *old)
{
	return hooked_sigaction(sig, act, old);
}

/* glibc's signal(): BSD semantics, the signal blocked in its handler. */
SWERVE_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction sa, old;

	if (handler == SIG_ERR || sig <= 0 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, sig);
	sa.sa_flags = SA_RESTART;
	if (hooked_sigaction(sig, &sa, &old) == -1)
		return SIG_ERR;
	return old.sa_handler;
}
