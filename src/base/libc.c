/*
 * libc.c: the real-libc table behind swerve_libc_<name>() (libc.h says why
 * every module goes through it). One pointer per hooked name, filled by
 * dlsym(RTLD_NEXT) so that swerve composes with other interposers loaded
 * after it.
 *
 * Thread-safety: each pointer is written with the same value by whoever
 * resolves it first (relaxed atomics, so a racing reader sees NULL or the
 * final value, never a torn one); nothing is ever freed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/libc.h"

#define FIELD(ret, name, params, args, fallback)                              \
	ret(*_Atomic name) params;
static struct {
	SWERVE_LIBC_HOOKED(FIELD)
} libc;
#undef FIELD

void swerve_libc_resolve(void)
{
	/* glibc >= 2.34 has dlsym in libc itself. */
#define RESOLVE(ret, name, params, args, fallback)                            \
	if (atomic_load_explicit(&libc.name, memory_order_relaxed) == NULL)   \
		atomic_store_explicit(&libc.name, dlsym(RTLD_NEXT, #name),    \
				      memory_order_relaxed);
	SWERVE_LIBC_HOOKED(RESOLVE)
#undef RESOLVE
}

/* For names without a system call: look them up now, else fail like a
 * libc without them. */
#define RESOLVED_OR(name, args, error)                                        \
	(swerve_libc_resolve(),                                               \
	 atomic_load_explicit(&libc.name, memory_order_relaxed) != NULL       \
		 ? atomic_load_explicit(&libc.name, memory_order_relaxed) args \
		 : (error))

#define WRAPPER(ret, name, params, args, fallback)                            \
	ret swerve_libc_##name params                                         \
	{                                                                     \
		ret(*fn) params = atomic_load_explicit(&libc.name,            \
						       memory_order_relaxed); \
									      \
		if (__builtin_expect(fn == NULL, 0))                          \
			return fallback;                                      \
		return fn args;                                               \
	}
SWERVE_LIBC_HOOKED(WRAPPER)
#undef WRAPPER
