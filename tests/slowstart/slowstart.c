/*
 * slowstart.so: preloaded before the library into every client of the
 * integration suite by `make slowstart`, it makes each client start
 * SLOW_START_MS milliseconds late (default 400), as a sanitizer runtime
 * on a busy CI machine does. A test whose verdict depends on a window
 * that a slow client start can overrun fails here every run, not once in
 * a while on CI.
 *
 * Thread-safety: a constructor, run once before the program's main().
 */
#include <stdlib.h>
#include <time.h>

__attribute__((constructor)) static void slowstart_delay(void)
{
	const char *v = getenv("SLOW_START_MS");
	long ms = v != NULL ? strtol(v, NULL, 10) : 400;
	struct timespec ts;

	if (ms <= 0 || ms > 10000)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
}
