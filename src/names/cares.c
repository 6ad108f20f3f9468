/*
 * cares.c: loads the system's libcares.so.2 privately (cares.h says why)
 * and fills the table of its functions.
 *
 * RTLD_DEEPBIND is left out in sanitizer builds: the AddressSanitizer and
 * ThreadSanitizer runtimes refuse it (they must see every call to
 * malloc), and those builds never run inside a host with its own c-ares.
 *
 * Thread-safety: loaded once under pthread_once; read-only afterwards.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/log.h"
#include "names/cares.h"

/* gcc says so with __SANITIZE_*__, clang (the fuzz build) with
 * __has_feature. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SWERVE_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
	defined(SWERVE_SANITIZED)
#define CARES_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL)
#else
#define CARES_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)
#endif

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static struct swerve_cares table;
static bool loaded;
static char why[256];

/* Looks every function up in <h>; false (and why[]) when one is missing. */
static bool find_functions(void *h)
{
#define SWERVE_CARES_FIND(name)                                              \
	table.name = (__typeof__(name) *)dlsym(h, #name);                    \
	if (table.name == NULL) {                                            \
		snprintf(why, sizeof(why), "%s has no %s",                   \
			 SWERVE_CARES_SONAME, #name);                         \
		return false;                                                \
	}
	SWERVE_CARES_FUNCTIONS(SWERVE_CARES_FIND)
#undef SWERVE_CARES_FIND
	return true;
}

static void load(void)
{
	const char *e;
	void *h;
	int st;

	h = dlopen(SWERVE_CARES_SONAME, CARES_DLOPEN_FLAGS);
	if (h == NULL) {
		e = dlerror();
		snprintf(why, sizeof(why), "c-ares: %s (install libc-ares2)",
			 e != NULL ? e : SWERVE_CARES_SONAME);
		return;
	}
	/* The handle is never closed: channels and their callbacks live
	 * as long as the process. */
	if (!find_functions(h))
		return;
	st = table.ares_library_init(ARES_LIB_INIT_ALL);
	if (st != ARES_SUCCESS) {
		snprintf(why, sizeof(why), "c-ares: %s",
			 table.ares_strerror(st));
		return;
	}
	loaded = true;
}

const struct swerve_cares *swerve_cares(char *err, size_t errlen)
{
	pthread_once(&load_once, load);
	if (loaded)
		return &table;
	swerve_log_reason(err, errlen, "%s", why);
	return NULL;
}
