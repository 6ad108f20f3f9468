/*
 * log.c: stderr lines for a library that lives in someone else's process.
 * Formatting goes to a stack buffer and out with a single write(2), so a
 * line is never interleaved with another thread's and nothing is allocated.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/libc.h"
#include "base/log.h"

/* Set at init (or by swervectl); read by every hook. */
static _Atomic int log_level = SWERVE_LOG_WARN;

void swerve_log_set_level(enum swerve_log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

int swerve_log_enabled(enum swerve_log_level level)
{
	return (int)level <=
	       atomic_load_explicit(&log_level, memory_order_relaxed);
}

void swerve_log(enum swerve_log_level level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int saved_errno = errno;
	int n;
	ssize_t w;

	if (!swerve_log_enabled(level))
		return;
	memcpy(buf, "swerve: ", 8);
	va_start(ap, fmt);
	n = vsnprintf(buf + 8, sizeof(buf) - 9, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	n += 8;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	w = swerve_libc_write(STDERR_FILENO, buf, (size_t)n);
	(void)w; /* nothing sensible to do when stderr is gone */
	errno = saved_errno;
}

void swerve_log_reason(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int swerve_log_parse_level(const char *s, enum swerve_log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum swerve_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}
