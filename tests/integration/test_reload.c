/*
 * Live reload: a running client (tests/helpers/follow, under the library,
 * resolving and connecting once per round) follows edits of its config
 * file, made in place or by an atomic rename, within 2 s of the edit; a
 * broken edit is refused with one line naming file:line, and the client
 * keeps routing by the last good config; a service that keeps its name
 * keeps its health rows (an ejection made before the edit holds after
 * it); `reload = false` stops following; and threads that resolve and
 * connect while the file flips under them never fail.
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
	const char *p = t_read(out);
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
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

static void servers(pid_t *one, pid_t *two)
{
	*one = t_server(ONE, PORT, "one", "ok");
	*two = t_server(TWO, PORT, "two", "ok");
	cr_assert(*one > 0 && *two > 0);
}

/* Edits the config from ONE to TWO with <edit>, and checks that the
 * client follows within 2 s, and only goes to TWO after that. */
static void follows_an_edit(void (*edit)(const char *, const char *))
{
	const char *shm = t_shm();
	char config[600], out[600];
	long long t0, t1;
	bool mixed;
	pid_t one, two, c;

	servers(&one, &two);
	snprintf(config, sizeof(config), "%s",
		 t_write("swerve.ini", config_text(ONE, "", "")));
	snprintf(out, sizeof(out), "%s/follow.out", t_dir());
	c = follow(config, shm, out, "160", "25", "1");
	wait_lines(out, " one", 3);
	t0 = wall_ms();
	edit(config, config_text(TWO, "", ""));
	wait_lines(out, " two", 3);
	t1 = first_answer(out, "two", t0, &mixed);
	cr_assert_geq(t1, t0);
	/* 2 s, plus one round of the client (25 ms pause). */
	cr_assert_leq(t1 - t0, 2100, "followed after %lld ms:\n%s", t1 - t0,
		      t_read(out));
	cr_assert(!mixed, "back to the old endpoint after the reload:\n%s",
		  t_read(out));
	cr_assert_eq(count_lines(out, " FAILED"), 0, "%s", t_read(out));
	cr_assert_eq(t_reap(c, 30), 0);
	t_stop(one);
	t_stop(two);
	t_cleanup();
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
	const char *shm = t_shm();
	char config[600], out[600], where[700];
	long long t0, t1;
	bool mixed;
	pid_t one, two, c;

	servers(&one, &two);
	snprintf(config, sizeof(config), "%s",
		 t_write("swerve.ini", config_text(ONE, "", "")));
	snprintf(out, sizeof(out), "%s/follow.out", t_dir());
	c = follow(config, shm, out, "200", "25", "1");
	wait_lines(out, " one", 3);
	/* Line 8: an unknown key, after the endpoint moved to TWO. */
	edit_in_place(config, config_text(TWO, "", "no_such_key = 1\n"));
	/* Three checks' worth: refused once, said once, still ONE. */
	usleep(3200 * 1000);
	snprintf(where, sizeof(where), "%s:8:", config);
	cr_assert_eq(count_lines(out, where), 1, "want one line with %s:\n%s",
		     where, t_read(out));
	cr_assert_eq(count_lines(out, " two"), 0, "%s", t_read(out));
	/* Mended: followed again. */
	t0 = wall_ms();
	edit_in_place(config, config_text(TWO, "", ""));
	wait_lines(out, " two", 3);
	t1 = first_answer(out, "two", t0, &mixed);
	cr_assert_leq(t1 - t0, 2100, "followed after %lld ms", t1 - t0);
	cr_assert_eq(count_lines(out, " FAILED"), 0, "%s", t_read(out));
	cr_assert_eq(t_reap(c, 30), 0);
	t_stop(one);
	t_stop(two);
	t_cleanup();
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
	const char *shm = t_shm();
	char config[600], out[600];
	long long t0, t1;
	bool mixed;
	pid_t one, two, c;
	FILE *f;
	int i;

	servers(&one, &two);
	snprintf(config, sizeof(config), "%s",
		 t_write("swerve.ini", config_text(ONE, "", "")));
	snprintf(out, sizeof(out), "%s/follow.out", t_dir());
	c = follow(config, shm, out, "200", "25", "1");
	wait_lines(out, " one", 3);
	f = fopen(config, "r+");
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
	wait_lines(out, " two", 3);
	t1 = first_answer(out, "two", t0, &mixed);
	cr_assert_leq(t1 - t0, 2100, "followed after %lld ms", t1 - t0);
	cr_assert_eq(count_lines(out, "reloaded: 0 services"), 0, "%s",
		     other_lines(out));
	cr_assert_eq(count_lines(out, " FAILED"), 0, "%s", other_lines(out));
	cr_assert_eq(t_reap(c, 30), 0);
	t_stop(one);
	t_stop(two);
	t_cleanup();
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
	const char *shm = t_shm();
	const char *two_ep = "endpoint = " TWO ":18280 locality=us-west\n"
			     "consecutive_5xx_errors = 5\n"
			     "base_ejection_time = 10m\n";
	char config[600], out[600], ep1[64], ep2[64], extra[256];
	long long ok2;
	pid_t one, two, c;
	int before;

	snprintf(ep1, sizeof(ep1), "%s:%d", ONE, PORT);
	snprintf(ep2, sizeof(ep2), "%s:%d", TWO, PORT);
	servers(&one, &two);
	snprintf(config, sizeof(config), "%s",
		 t_write("swerve.ini", config_text(ONE, "", two_ep)));
	snprintf(out, sizeof(out), "%s/follow.out", t_dir());
	ctl_eject(config, shm, ep1);
	c = follow(config, shm, out, "160", "25", "1");
	wait_lines(out, " two", 5);
	ok2 = t_endpoint_field(config, shm, ep2, "connects_ok");
	cr_assert_geq(ok2, 5);
	/* Another setting of the same service, and a service more. */
	snprintf(extra, sizeof(extra), "%sconnect_timeout = 3s\n"
		 "[service other]\nhosts = other.test\nendpoint = %s:%d\n",
		 two_ep, TWO, PORT);
	edit_by_rename(config, config_text(ONE, "", extra));
	wait_lines(out, "reloaded", 1);
	before = count_lines(out, " two");
	wait_lines(out, " two", before + 5);
	/* The ejection made before the reload holds after it, and the
	 * rows' counts went on from where they were. */
	cr_assert_eq(count_lines(out, " one"), 0, "%s", t_read(out));
	cr_assert(t_endpoint_ejected(config, shm, ep1));
	cr_assert_geq(t_endpoint_field(config, shm, ep2, "connects_ok"),
		      ok2 + 5);
	cr_assert_eq(t_reap(c, 30), 0);
	t_stop(one);
	t_stop(two);
	t_cleanup();
}

/*
 * An endpoint given as a name keeps its last answer across a reload while
 * DNS is silent: the new generation takes the old one's answers instead of
 * starting without any (a blocking connect would wait dns_timeout and then
 * find no address).
 */
Test(reload, names_keep_their_answers_while_dns_is_down, .timeout = 60)
{
	const char *shm = t_shm();
	char config[600], out[600], text[1024];
	pid_t one, two, dnsd, c;
	int before;

	servers(&one, &two);
	dnsd = t_dnsd(15811, t_write("zone", "east.reload.test 1 A " ONE "\n"),
		      NULL);
	cr_assert_gt(dnsd, 0);
	snprintf(text, sizeof(text),
		 "[swerve]\nvip_cidr = 127.81.0.0/16\n"
		 "dns_servers = 127.0.0.1:15811\n"
		 "[service mydb]\nhosts = mydb.com\nports = 80\n"
		 "resolution = dns\nendpoint = east.reload.test:%d\n"
		 "dns_min_ttl = 1s\ndns_timeout = 300ms\n", PORT);
	snprintf(config, sizeof(config), "%s", t_write("swerve.ini", text));
	snprintf(out, sizeof(out), "%s/follow.out", t_dir());
	c = follow(config, shm, out, "200", "25", "1");
	wait_lines(out, " one", 3);
	/* DNS falls silent; the answer goes past its TTL and stays. */
	kill(dnsd, SIGUSR1);
	usleep(1500 * 1000);
	strcat(text, "connect_timeout = 3s\n");
	edit_by_rename(config, text);
	wait_lines(out, "reloaded", 1);
	before = count_lines(out, " one");
	wait_lines(out, " one", before + 5);
	cr_assert_eq(count_lines(out, " FAILED"), 0, "%s", t_read(out));
	kill(c, SIGTERM);
	t_reap(c, 10);
	t_stop(dnsd);
	t_stop(one);
	t_stop(two);
	t_cleanup();
}

Test(reload, reload_false_keeps_the_config_loaded_at_start, .timeout = 60)
{
	const char *shm = t_shm();
	char config[600], out[600];
	pid_t one, two, c;

	servers(&one, &two);
	snprintf(config, sizeof(config), "%s",
		 t_write("swerve.ini",
			 config_text(ONE, "reload = false\n", "")));
	snprintf(out, sizeof(out), "%s/follow.out", t_dir());
	c = follow(config, shm, out, "200", "25", "1");
	wait_lines(out, " one", 3);
	edit_by_rename(config, config_text(TWO, "reload = false\n", ""));
	usleep(3000 * 1000);
	cr_assert_eq(count_lines(out, " two"), 0, "%s", t_read(out));
	cr_assert_eq(count_lines(out, "reloaded"), 0, "%s", t_read(out));
	kill(c, SIGTERM);
	t_reap(c, 10);
	t_stop(one);
	t_stop(two);
	t_cleanup();
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
	const char *shm = t_shm();
	char config[600], out[600];
	pid_t one, two, c;
	int i;

	servers(&one, &two);
	snprintf(config, sizeof(config), "%s",
		 t_write("swerve.ini", config_text(ONE, "", "")));
	snprintf(out, sizeof(out), "%s/follow.out", t_dir());
	/* At least 15 s of rounds (the pauses alone), past the flips. */
	c = follow(config, shm, out, "1500", "10", "4");
	wait_lines(out, " one", 4);
	for (i = 0; i < 18; i++) {
		const char *text = config_text(i % 2 == 0 ? TWO : ONE, "", "");

		if (i % 4 < 2)
			edit_in_place(config, text);
		else
			edit_by_rename(config, text);
		usleep(700 * 1000);
	}
	cr_assert_eq(t_reap(c, 90), 0, "%s", t_read(out));
	cr_assert_eq(count_lines(out, " FAILED"), 0, "%s", t_read(out));
	cr_assert_gt(count_lines(out, " one"), 0, "%s", other_lines(out));
	cr_assert_gt(count_lines(out, " two"), 0, "%d answers; %s",
		     count_lines(out, "T "), other_lines(out));
	/* More reloads than generations kept: old ones were freed. */
	cr_assert_geq(count_lines(out, "reloaded"), 9, "%s", other_lines(out));
	cr_assert_eq(count_lines(out, "not reloaded yet"), 0, "%s",
		     other_lines(out));
	t_stop(one);
	t_stop(two);
	t_cleanup();
}
