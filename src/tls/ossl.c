/*
 * ossl.c: loads the system's libssl.so.3 privately (ossl.h says why) and
 * fills the table of its functions.
 *
 * RTLD_DEEPBIND is left out in sanitizer builds: the AddressSanitizer and
 * ThreadSanitizer runtimes refuse it (they must see every call to malloc,
 * and a deep-bound library would reach libc's instead), and those builds
 * never run inside a host with its own OpenSSL symbols.
 *
 * Thread-safety: loaded once under pthread_once; read-only afterwards.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "tls/ossl.h"

/* gcc says so with __SANITIZE_*__, clang (the fuzz build) with
 * __has_feature. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SWERVE_OSSL_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
	defined(SWERVE_OSSL_SANITIZED)
#define OSSL_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL)
#else
#define OSSL_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)
#endif

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static struct swerve_ossl table;
static int status = -ENOENT;
static char why[256];

/* Looks every function up in <h>; false (and why[]) when one is missing. */
static bool find_functions(void *h)
{
#define SWERVE_OSSL_FIND(name)                                               \
	table.name = (__typeof__(name) *)dlsym(h, #name);                    \
	if (table.name == NULL) {                                            \
		snprintf(why, sizeof(why), "OpenSSL: %s has no %s",          \
			 SWERVE_OSSL_SONAME, #name);                          \
		return false;                                                \
	}
	SWERVE_OSSL_FUNCTIONS(SWERVE_OSSL_FIND)
#undef SWERVE_OSSL_FIND
	return true;
}

static void load(void)
{
	const char *e;
	void *h;

	h = dlopen(SWERVE_OSSL_SONAME, OSSL_DLOPEN_FLAGS);
	if (h == NULL) {
		e = dlerror();
		snprintf(why, sizeof(why), "OpenSSL: %s (install libssl3)",
			 e != NULL ? e : SWERVE_OSSL_SONAME);
		status = -ENOENT;
		return;
	}
	/* The handle is never closed: sessions and contexts may live as
	 * long as the process. */
	if (!find_functions(h)) {
		status = -ENOSYS;
		return;
	}
	/* No atexit handler: OpenSSL's cleanup at the host's exit() would
	 * free what a thread of swerve may still be using. Where the host
	 * initialised OpenSSL first, its choice stands. The error strings
	 * (half a millisecond) wait for the first error. */
	if (table.OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, NULL) != 1) {
		snprintf(why, sizeof(why), "OpenSSL: %s failed to initialise",
			 SWERVE_OSSL_SONAME);
		status = -ENOSYS;
		return;
	}
	status = 0;
}

int swerve_ossl_load(char *err, size_t errlen)
{
	pthread_once(&load_once, load);
	if (status != 0)
		swerve_log_reason(err, errlen, "%s", why);
	return status;
}

const struct swerve_ossl *swerve_ossl(void)
{
	return status == 0 ? &table : NULL;
}

int swerve_ossl_error(char *err, size_t errlen, const char *fallback)
{
	unsigned long first = table.ERR_get_error();
	const char *reason;

	if (first == 0) {
		swerve_log_reason(err, errlen, "%s", fallback);
		return 0;
	}
	table.ERR_clear_error();
	table.OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
				       OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
			       NULL);
	/* A system error (a file that cannot be opened) carries errno as
	 * its reason; OpenSSL's own text for it is only "system lib". */
	if (ERR_SYSTEM_ERROR(first)) {
		swerve_log_reason(err, errlen, "%s",
				  strerror(ERR_GET_REASON(first)));
		return ERR_GET_REASON(first);
	}
	reason = table.ERR_reason_error_string(first);
	if (reason != NULL)
		swerve_log_reason(err, errlen, "%s", reason);
	else if (err != NULL && errlen > 0)
		table.ERR_error_string_n(first, err, errlen);
	return 0;
}
