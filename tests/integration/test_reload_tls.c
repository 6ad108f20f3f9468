/*
 * Live reload and TLS origination: a running client whose TLS service
 * verifies the endpoints against the wrong CA gets swerve's 503 (no
 * endpoint passes verification); the config is mended in place to the
 * right CA, and within 2 s the same process's next connections are
 * relayed over verified TLS, by TLS contexts built from the new
 * configuration, while the pump's connections of the old one end.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support.h"
#include "tls_world.h"

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Rewrites <path> in place with <text>. */
static void rewrite(const char *path, const char *text)
{
	FILE *f = fopen(path, "r+");

	cr_assert_not_null(f);
	cr_assert_eq(ftruncate(fileno(f), 0), 0);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* The time of the first line "T MS <word>" at or after <since>; -1. */
static long long first_word(const char *text, const char *word,
			    long long since)
{
	const char *line;
	long long t;
	char w[64];

	for (line = text; line != NULL && *line != '\0';
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (sscanf(line, "T %lld %63s", &t, w) == 2 && t >= since &&
		    strcmp(w, word) == 0)
			return t;
	return -1;
}

Test(reload_tls, a_mended_ca_is_used_within_2_s_by_a_running_process,
     .timeout = 90)
{
	char tls[700], out[600], bin[600], cv[700], sv[128], wrong[600];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, "mydb.com", "80", "200", "25", "1", NULL };
	char *good, *bad;
	long long t0, t1;
	struct tw t;
	pid_t c;
	int i;

	snprintf(wrong, sizeof(wrong), "%s/certs/wrong-ca.pem", t_dir());
	snprintf(tls, sizeof(tls), "tls = simple\ntls_ca_certificates = %s",
		 wrong);
	/* No ejection: health must not be what keeps the endpoints out. */
	tw_config_at(&t, "127.12.2", 15813, tls,
		     "protocol = http\nconsecutive_5xx_errors = 0\n");
	tw_start(&t, (const char *const[]){ "--name", "east", NULL });
	bad = strdup(t_read(t.config));
	good = strdup(bad);
	cr_assert(bad != NULL && good != NULL);
	{
		char *p = strstr(good, "wrong-ca.pem");

		cr_assert_not_null(p);
		/* "wrong-ca.pem" -> "ca.pem" and the rest moved up. */
		memmove(p, p + 6, strlen(p + 6) + 1);
	}
	snprintf(out, sizeof(out), "%s/follow.out", t_dir());
	snprintf(bin, sizeof(bin), "%s/tests/follow", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", t.config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", t.shm);
	c = t_spawn(true, env, out, argv);
	cr_assert_gt(c, 0);
	/* Swerve's 503 "no healthy upstream" while no endpoint verifies. */
	for (i = 0; i < 500 && first_word(t_read(out), "no", 0) < 0; i++)
		usleep(20 * 1000);
	cr_assert_geq(first_word(t_read(out), "no", 0), 0, "%s",
		      t_read(out));
	t0 = wall_ms();
	rewrite(t.config, good);
	for (i = 0; i < 500 && first_word(t_read(out), "east", t0) < 0; i++)
		usleep(20 * 1000);
	t1 = first_word(t_read(out), "east", t0);
	cr_assert_geq(t1, t0, "%s", t_read(out));
	cr_assert_leq(t1 - t0, 2100, "followed after %lld ms", t1 - t0);
	cr_assert_eq(count(t_read(out), " FAILED"), 0, "%s", t_read(out));
	kill(c, SIGTERM);
	t_reap(c, 10);
	cr_assert_geq(log_count(t.elog, "sni=east.mydb.test", 1), 1, "%s",
		      t_read(t.elog));
	free(good);
	free(bad);
	tw_stop(&t);
}
