/*
 * Live reload: a running client (tests/helpers/follow, under the library,
 * resolving and connecting once per round) follows edits of its config
 * file, made in place or by an atomic rename, within 2 s of the edit; a
 * broken edit is refused with one line naming file:line, and the client
 * keeps routing by the last good config; a service that keeps its name
 * keeps its health rows (an ejection made before the edit holds after
 * it); `reload = false` stops following; threads that resolve and
 * connect while the file flips under them never fail; and a TLS service's
 * mended CA is used by the running process's next connections.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"
#include "tls_world.h"

#define ONE "127.12.0.2"
#define TWO "127.12.0.3"
#define PORT 18280

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The config text: service mydb on endpoint <ip>, then <extra> lines. */
static const char *config_text(const char *ip, const char *swerve_extra,
			       const char *extra)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "[swerve]\n"
		 "locality = us-east1\n"
		 "vip_cidr = 127.81.0.0/16\n"
		 "%s"
		 "[service mydb]\n"
		 "hosts = mydb.com\n"
		 "ports = 80\n"
		 "endpoint = %s:%d locality=us-east1\n"
		 "%s",
		 swerve_extra, ip, PORT, extra);
	return buf;
}

/* Rewrites <path> in place: same inode, new contents. */
static void edit_in_place(const char *path, const char *text)
{
	FILE *f = fopen(path, "r+");

	cr_assert_not_null(f);
	cr_assert_eq(ftruncate(fileno(f), 0), 0);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* Writes <path>.new and renames it over <path>, as config managers do. */
static void edit_by_rename(const char *path, const char *text)
{
	char tmp[600];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, path), 0);
}

/* Starts follow under the library: <rounds> rounds, <pause> ms apart,
 * <threads> threads; its output (and swerve's lines) in <out>. */
static pid_t follow(const char *config, const char *shm, const char *out,
		    const char *rounds, const char *pause, const char *threads)
{
	char bin[512], cv[600], sv[128];
	const char *env[] = { cv, sv, "SWERVE_LOG=info", NULL };
	const char *argv[] = { bin, "mydb.com", "80", rounds, pause, threads,
			       NULL };
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/tests/follow", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	pid = t_spawn(true, env, out, argv);
	cr_assert_gt(pid, 0);
	return pid;
}

/* How many lines of <out> contain <needle>. */
static int count_lines(const char *out, const char *needle)
{
	return count(t_read(out), needle);
}

/* Waits (10 s at most) until <out> has <n> lines with <needle>. */
static void wait_lines(const char *out, const char *needle, int n)
{
	int i;

	for (i = 0; i < 500 && count_lines(out, needle) < n; i++)
		usleep(20 * 1000);
	cr_assert_geq(count_lines(out, needle), n, "no %d x '%s' in:\n%s", n,
		      needle, t_read(out));
}

/*
 * The time of the first answer " <word>" at or after <since> in <out>,
 * and whether any answer other than <word> came after it (<mixed>).
 */
static long long first_answer(const char *out, const char *word,
			      long long since, bool *mixed)
{
	const char *p = t_read(out), *line;
	long long t, first = -1;
	char w[64];

	*mixed = false;
	for (line = p; line != NULL && *line != '\0';
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (sscanf(line, "T %lld %63s", &t, w) != 2 || t < since)
			continue;
		if (strcmp(w, word) == 0 && first < 0)
			first = t;
		else if (strcmp(w, word) != 0 && first >= 0)
			*mixed = true;
	}
	return first;
}

/* The lines of <out> that are not the client's answers: swerve's own,
 * in static storage (cut at 4 KiB). */
static const char *other_lines(const char *out)
{
	static char buf[4096];
	const char *line = t_read(out), *nl;
	size_t n = 0, len;

	buf[0] = '\0';
	for (; line != NULL && *line != '\0'; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) + 1 : strlen(line);
		if (strncmp(line, "T ", 2) == 0 || n + len + 1 > sizeof(buf))
			continue;
		memcpy(buf + n, line, len);
		n += len;
		buf[n] = '\0';
	}
	return buf;
}

/* One test's world: the servers "one" and "two", the config, and the
 * client with its output. */
struct scene {
	const char *shm;
	char config[600], out[600];
	pid_t one, two, c;
};

/* Starts the servers and writes the config <text>. */
static void scene_start(struct scene *sc, const char *text)
{
	sc->shm = t_shm();
	sc->one = t_server(ONE, PORT, "one", "ok");
	sc->two = t_server(TWO, PORT, "two", "ok");
	cr_assert(sc->one > 0 && sc->two > 0);
	snprintf(sc->config, sizeof(sc->config), "%s",
		 t_write("swerve.ini", text));
	snprintf(sc->out, sizeof(sc->out), "%s/follow.out", t_dir());
}

/* Starts the client (see follow()). */
static void scene_follow(struct scene *sc, const char *rounds,
			 const char *pause, const char *threads)
{
	sc->c = follow(sc->config, sc->shm, sc->out, rounds, pause, threads);
}

static void scene_stop(struct scene *sc)
{
	t_stop(sc->one);
	t_stop(sc->two);
	t_cleanup();
}

/* Edits the config from ONE to TWO with <edit>, and checks that the
 * client follows within 2 s, and only goes to TWO after that. */
static void follows_an_edit(void (*edit)(const char *, const char *))
{
	struct scene sc;
	long long t0, t1;
	bool mixed;

	scene_start(&sc, config_text(ONE, "", ""));
	scene_follow(&sc, "160", "25", "1");
	wait_lines(sc.out, " one", 3);
	t0 = wall_ms();
	edit(sc.config, config_text(TWO, "", ""));
	wait_lines(sc.out, " two", 3);
	t1 = first_answer(sc.out, "two", t0, &mixed);
	cr_assert_geq(t1, t0);
	/* 2 s, plus one round of the client (25 ms pause). */
	cr_assert_leq(t1 - t0, 2100, "followed after %lld ms:\n%s", t1 - t0,
		      t_read(sc.out));
	cr_assert(!mixed, "back to the old endpoint after the reload:\n%s",
		  t_read(sc.out));
	cr_assert_eq(count_lines(sc.out, " FAILED"), 0, "%s", t_read(sc.out));
	cr_assert_eq(t_reap(sc.c, 30), 0);
	scene_stop(&sc);
}

Test(reload, an_edit_in_place_is_followed_within_2_s, .timeout = 60)
{
	follows_an_edit(edit_in_place);
}

Test(reload, an_atomic_rename_is_followed_within_2_s, .timeout = 60)
{
	follows_an_edit(edit_by_rename);
}

Test(reload, a_broken_config_is_refused_with_one_line, .timeout = 60)
{
	struct scene sc;
	char where[700];
	long long t0, t1;
	bool mixed;

	scene_start(&sc, config_text(ONE, "", ""));
	scene_follow(&sc, "200", "25", "1");
	wait_lines(sc.out, " one", 3);
	/* Line 8: an unknown key, after the endpoint moved to TWO. */
	edit_in_place(sc.config, config_text(TWO, "", "no_such_key = 1\n"));
	/* Three checks' worth: refused once, said once, still ONE. */
	usleep(3200 * 1000);
	snprintf(where, sizeof(where), "%s:8:", sc.config);
	cr_assert_eq(count_lines(sc.out, where), 1,
		     "want one line with %s:\n%s", where, t_read(sc.out));
	cr_assert_eq(count_lines(sc.out, " two"), 0, "%s", t_read(sc.out));
	/* Mended: followed again. */
	t0 = wall_ms();
	edit_in_place(sc.config, config_text(TWO, "", ""));
	wait_lines(sc.out, " two", 3);
	t1 = first_answer(sc.out, "two", t0, &mixed);
	cr_assert_leq(t1 - t0, 2100, "followed after %lld ms", t1 - t0);
	cr_assert_eq(count_lines(sc.out, " FAILED"), 0, "%s", t_read(sc.out));
	cr_assert_eq(t_reap(sc.c, 30), 0);
	scene_stop(&sc);
}

/*
 * A file still being written is not loaded half written: here the writer
 * truncates the file, writes a first part that is a valid config on its
 * own (no service at all), keeps writing (its mtime moves) for 2.5 s, and
 * then writes the rest. The half is never loaded; the whole is, within
 * 2 s of its last write.
 */
Test(reload, a_file_being_written_is_not_loaded_half_written, .timeout = 60)
{
	struct scene sc;
	long long t0, t1;
	bool mixed;
	FILE *f;
	int i;

	scene_start(&sc, config_text(ONE, "", ""));
	scene_follow(&sc, "200", "25", "1");
	wait_lines(sc.out, " one", 3);
	f = fopen(sc.config, "r+");
	cr_assert_not_null(f);
	cr_assert_eq(ftruncate(fileno(f), 0), 0);
	fputs("[swerve]\n", f);
	fflush(f);
	for (i = 0; i < 25; i++) {
		usleep(100 * 1000);
		cr_assert_eq(futimens(fileno(f), NULL), 0);
	}
	fputs(strchr(config_text(TWO, "", ""), '\n') + 1, f);
	cr_assert_eq(fclose(f), 0);
	t0 = wall_ms();
	wait_lines(sc.out, " two", 3);
	t1 = first_answer(sc.out, "two", t0, &mixed);
	cr_assert_leq(t1 - t0, 2100, "followed after %lld ms", t1 - t0);
	cr_assert_eq(count_lines(sc.out, "reloaded: 0 services"), 0, "%s",
		     other_lines(sc.out));
	cr_assert_eq(count_lines(sc.out, " FAILED"), 0, "%s",
		     other_lines(sc.out));
	cr_assert_eq(t_reap(sc.c, 30), 0);
	scene_stop(&sc);
}

static void ctl_eject(const char *config, const char *shm, const char *ep)
{
	char bin[512], cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, "eject", "mydb", ep, NULL };
	struct run r;

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(&r, false, env, 30, argv);
	cr_assert_eq(r.status, 0, "swervectl eject: %s", r.err);
}

Test(reload, a_service_that_keeps_its_name_keeps_its_rows, .timeout = 60)
{
	const char *two_ep = "endpoint = " TWO ":18280 locality=us-west\n"
			     "consecutive_5xx_errors = 5\n"
			     "base_ejection_time = 10m\n";
	char ep1[64], ep2[64], extra[256];
	struct scene sc;
	long long ok2;
	int before;

	snprintf(ep1, sizeof(ep1), "%s:%d", ONE, PORT);
	snprintf(ep2, sizeof(ep2), "%s:%d", TWO, PORT);
	scene_start(&sc, config_text(ONE, "", two_ep));
	ctl_eject(sc.config, sc.shm, ep1);
	scene_follow(&sc, "160", "25", "1");
	wait_lines(sc.out, " two", 5);
	ok2 = t_endpoint_field(sc.config, sc.shm, ep2, "connects_ok");
	cr_assert_geq(ok2, 5);
	/* Another setting of the same service, and a service more. */
	snprintf(extra, sizeof(extra), "%sconnect_timeout = 3s\n"
		 "[service other]\nhosts = other.test\nendpoint = %s:%d\n",
		 two_ep, TWO, PORT);
	edit_by_rename(sc.config, config_text(ONE, "", extra));
	wait_lines(sc.out, "reloaded", 1);
	before = count_lines(sc.out, " two");
	wait_lines(sc.out, " two", before + 5);
	/* The ejection made before the reload holds after it, and the
	 * rows' counts went on from where they were. */
	cr_assert_eq(count_lines(sc.out, " one"), 0, "%s", t_read(sc.out));
	cr_assert(t_endpoint_ejected(sc.config, sc.shm, ep1));
	cr_assert_geq(t_endpoint_field(sc.config, sc.shm, ep2, "connects_ok"),
		      ok2 + 5);
	cr_assert_eq(t_reap(sc.c, 30), 0);
	scene_stop(&sc);
}

/*
 * An endpoint given as a name keeps its last answer across a reload while
 * DNS is silent: the new generation takes the old one's answers instead of
 * starting without any (a blocking connect would wait dns_timeout and then
 * find no address).
 */
Test(reload, names_keep_their_answers_while_dns_is_down, .timeout = 60)
{
	char text[1024];
	struct scene sc;
	pid_t dnsd;
	int before;

	dnsd = t_dnsd(15811, t_write("zone", "east.reload.test 1 A " ONE "\n"),
		      NULL);
	cr_assert_gt(dnsd, 0);
	snprintf(text, sizeof(text),
		 "[swerve]\nvip_cidr = 127.81.0.0/16\n"
		 "dns_servers = 127.0.0.1:15811\n"
		 "[service mydb]\nhosts = mydb.com\nports = 80\n"
		 "resolution = dns\nendpoint = east.reload.test:%d\n"
		 "dns_min_ttl = 1s\ndns_timeout = 300ms\n", PORT);
	scene_start(&sc, text);
	scene_follow(&sc, "200", "25", "1");
	wait_lines(sc.out, " one", 3);
	/* DNS falls silent; the answer goes past its TTL and stays. */
	kill(dnsd, SIGUSR1);
	usleep(1500 * 1000);
	strcat(text, "connect_timeout = 3s\n");
	edit_by_rename(sc.config, text);
	wait_lines(sc.out, "reloaded", 1);
	before = count_lines(sc.out, " one");
	wait_lines(sc.out, " one", before + 5);
	cr_assert_eq(count_lines(sc.out, " FAILED"), 0, "%s", t_read(sc.out));
	kill(sc.c, SIGTERM);
	t_reap(sc.c, 10);
	t_stop(dnsd);
	scene_stop(&sc);
}

Test(reload, reload_false_keeps_the_config_loaded_at_start, .timeout = 60)
{
	struct scene sc;

	scene_start(&sc, config_text(ONE, "reload = false\n", ""));
	scene_follow(&sc, "200", "25", "1");
	wait_lines(sc.out, " one", 3);
	edit_by_rename(sc.config, config_text(TWO, "reload = false\n", ""));
	usleep(3000 * 1000);
	cr_assert_eq(count_lines(sc.out, " two"), 0, "%s", t_read(sc.out));
	cr_assert_eq(count_lines(sc.out, "reloaded"), 0, "%s", t_read(sc.out));
	kill(sc.c, SIGTERM);
	t_reap(sc.c, 10);
	scene_stop(&sc);
}

/*
 * Four threads resolve and connect while the file flips between ONE and
 * TWO every 700 ms for 12.6 s, in place and by rename in turn (not a
 * divisor of the second between checks, which would find the same
 * contents each time): more
 * generations are made than a process keeps at once (8), so old ones must
 * be freed under calls in progress and open connections. Nothing fails,
 * nothing crashes (make asan and make tsan run this too), both are seen.
 */
Test(reload, threads_never_fail_while_the_file_flips, .timeout = 120)
{
	struct scene sc;
	int i;

	scene_start(&sc, config_text(ONE, "", ""));
	/* At least 15 s of rounds (the pauses alone), past the flips. */
	scene_follow(&sc, "1500", "10", "4");
	wait_lines(sc.out, " one", 4);
	for (i = 0; i < 18; i++) {
		const char *text = config_text(i % 2 == 0 ? TWO : ONE, "", "");

		if (i % 4 < 2)
			edit_in_place(sc.config, text);
		else
			edit_by_rename(sc.config, text);
		usleep(700 * 1000);
	}
	cr_assert_eq(t_reap(sc.c, 90), 0, "%s", t_read(sc.out));
	cr_assert_eq(count_lines(sc.out, " FAILED"), 0, "%s", t_read(sc.out));
	cr_assert_gt(count_lines(sc.out, " one"), 0, "%s",
		     other_lines(sc.out));
	cr_assert_gt(count_lines(sc.out, " two"), 0, "%d answers; %s",
		     count_lines(sc.out, "T "), other_lines(sc.out));
	/* More reloads than generations kept: old ones were freed. */
	cr_assert_geq(count_lines(sc.out, "reloaded"), 9, "%s",
		      other_lines(sc.out));
	cr_assert_eq(count_lines(sc.out, "not reloaded yet"), 0, "%s",
		     other_lines(sc.out));
	scene_stop(&sc);
}

/*
 * Live reload and TLS origination: a running client whose TLS service
 * verifies the endpoints against the wrong CA gets swerve's 503 (no
 * endpoint passes verification); the config is mended in place to the
 * right CA, and within 2 s the same process's next connections are
 * relayed over verified TLS, by TLS contexts built from the new
 * configuration, while the pump's connections of the old one end.
 */
Test(reload_tls, a_mended_ca_is_used_within_2_s_by_a_running_process,
     .timeout = 90)
{
	char tls[700], out[600], *good, *p;
	long long t0, t1;
	bool mixed;
	struct tw t;
	pid_t c;
	int i;

	snprintf(tls, sizeof(tls), "tls = simple\ntls_ca_certificates = "
		 "%s/certs/wrong-ca.pem", t_dir());
	/* No ejection: health must not be what keeps the endpoints out. */
	tw_config_at(&t, "127.12.2", 15813, tls,
		     "protocol = http\nconsecutive_5xx_errors = 0\n");
	tw_start(&t, (const char *const[]){ "--name", "east", NULL });
	good = strdup(t_read(t.config));
	cr_assert_not_null(good);
	p = strstr(good, "wrong-ca.pem");
	cr_assert_not_null(p);
	/* "wrong-ca.pem" -> "ca.pem" and the rest moved up. */
	memmove(p, p + 6, strlen(p + 6) + 1);
	snprintf(out, sizeof(out), "%s/follow.out", t_dir());
	c = follow(t.config, t.shm, out, "200", "25", "1");
	/* Swerve's 503 "no healthy upstream" while no endpoint verifies. */
	for (i = 0; i < 500 && first_answer(out, "no", 0, &mixed) < 0; i++)
		usleep(20 * 1000);
	cr_assert_geq(first_answer(out, "no", 0, &mixed), 0, "%s",
		      t_read(out));
	t0 = wall_ms();
	edit_in_place(t.config, good);
	for (i = 0; i < 500 && first_answer(out, "east", t0, &mixed) < 0; i++)
		usleep(20 * 1000);
	t1 = first_answer(out, "east", t0, &mixed);
	cr_assert_geq(t1, t0, "%s", t_read(out));
	cr_assert_leq(t1 - t0, 2100, "followed after %lld ms", t1 - t0);
	cr_assert_eq(count_lines(out, " FAILED"), 0, "%s", t_read(out));
	kill(c, SIGTERM);
	t_reap(c, 10);
	cr_assert_geq(log_count(t.elog, "sni=east.mydb.test", 1), 1, "%s",
		      t_read(t.elog));
	free(good);
	tw_stop(&t);
}
