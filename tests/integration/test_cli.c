/*
 * swervectl, run as operators run it: the built binary under a config
 * written into a temporary directory and a shared table of its own per test
 * (SWERVE_SHM), checking exit codes, stdout and stderr.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* What one run of swervectl came to. */
struct run_result {
	int status;      /* exit code, or -1 when killed by a signal */
	char out[16384];
	char err[16384];
};

/*
 * Per-test fixture state. Criterion runs each test in its own process, so
 * these are written by setup() and read by that one test only.
 */
static char tmpdir[256];
static char good_path[512];
static char shm_name[64];
static char ctl_path[512];

/* Outlier detection on, so the two endpoints are in different tiers. */
static const char good_ini[] =
	"[swerve]\n"
	"locality = us-east1/us-east1-b\n"
	"\n"
	"[service mydb]\n"
	"hosts = mydb.com\n"
	"endpoint = 127.0.0.2:18080 locality=us-east1/us-east1-b\n"
	"endpoint = 127.0.0.3:18080 locality=europe-west1/europe-west1-b\n"
	"consecutive_5xx_errors = 3\n"
	"base_ejection_time = 30s\n"
	"interval = 1s\n";

/* Line 7 holds a key no one knows. */
static const char bad_ini[] =
	"[swerve]\n"
	"locality = us-east1/us-east1-b\n"
	"\n"
	"[service mydb]\n"
	"hosts = mydb.com\n"
	"endpoint = 127.0.0.2:18080 locality=us-east1/us-east1-b\n"
	"no_such_key = 1\n";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
}

static void setup(void)
{
	static unsigned counter;
	const char *build = getenv("SWERVE_BUILD");

	cr_assert_not_null(build, "SWERVE_BUILD must name the build directory");
	snprintf(ctl_path, sizeof(ctl_path), "%s/swervectl", build);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/swerve-clitest-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	snprintf(good_path, sizeof(good_path), "%s/good.ini", tmpdir);
	write_file(good_path, good_ini);
	snprintf(shm_name, sizeof(shm_name), "/swerve-clitest-%ld-%u",
		 (long)getpid(), counter++);
	/* The child inherits this environment: nothing from the caller's. */
	setenv("SWERVE_SHM", shm_name, 1);
	setenv("SWERVE_CONFIG", good_path, 1);
	unsetenv("SWERVE_LOCALITY");
	unsetenv("SWERVE_LOG");
}

static void teardown(void)
{
	char path[600];

	shm_unlink(shm_name);
	snprintf(path, sizeof(path), "%s/good.ini", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/bad.ini", tmpdir);
	unlink(path);
	rmdir(tmpdir);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 30);

static void append(char *buf, size_t cap, size_t *len, int fd, bool *open)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	size_t take;

	if (n <= 0) {
		*open = false;
		return;
	}
	take = (size_t)n;
	if (take > cap - 1 - *len)
		take = cap - 1 - *len;
	memcpy(buf + *len, tmp, take);
	*len += take;
	buf[*len] = '\0';
}

/*
 * Runs swervectl with <args> (NULL-terminated, without argv[0]) and
 * collects its exit code, stdout and stderr. Both pipes are drained
 * together so a chatty child can never block on a full one.
 */
static void run_capture(struct run_result *r, const char *const *args)
{
	posix_spawn_file_actions_t fa;
	char *argv[16];
	int out[2], err[2];
	size_t olen = 0, elen = 0, n = 0;
	bool oopen = true, eopen = true;
	pid_t pid;
	int st;

	memset(r, 0, sizeof(*r));
	argv[n++] = ctl_path;
	while (*args != NULL && n < 15)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
	cr_assert_eq(posix_spawn(&pid, ctl_path, &fa, NULL, argv, environ), 0,
		     "cannot run %s", ctl_path);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	while (oopen || eopen) {
		struct pollfd p[2] = {
			{ .fd = oopen ? out[0] : -1, .events = POLLIN },
			{ .fd = eopen ? err[0] : -1, .events = POLLIN },
		};

		if (poll(p, 2, -1) == -1) {
			cr_assert_eq(errno, EINTR);
			continue;
		}
		if (p[0].revents != 0)
			append(r->out, sizeof(r->out), &olen, out[0], &oopen);
		if (p[1].revents != 0)
			append(r->err, sizeof(r->err), &elen, err[0], &eopen);
	}
	close(out[0]);
	close(err[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The JSON object line for <endpoint> in `endpoints --json` output. */
static const char *find_json_row(const char *json, const char *endpoint)
{
	char needle[128];
	const char *p;

	snprintf(needle, sizeof(needle), "\"endpoint\": \"%s\"", endpoint);
	p = strstr(json, needle);
	cr_assert_not_null(p, "no %s in:\n%s", endpoint, json);
	while (p > json && p[-1] != '\n')
		p--;
	return p;
}

/* An unsigned field of a one-line JSON object, or -1 when absent. */
static long long json_field(const char *row, const char *key)
{
	char needle[96];
	const char *p, *eol = strchr(row, '\n');

	snprintf(needle, sizeof(needle), "\"%s\": ", key);
	p = strstr(row, needle);
	if (p == NULL || (eol != NULL && p > eol))
		return -1;
	return strtoll(p + strlen(needle), NULL, 10);
}

static bool json_has(const char *row, const char *text)
{
	const char *p = strstr(row, text), *eol = strchr(row, '\n');

	return p != NULL && (eol == NULL || p < eol);
}

/* The text-table line that lists <endpoint>. */
static void table_line(const char *table, const char *endpoint, char *line,
		       size_t len)
{
	const char *p = strstr(table, endpoint), *end;

	cr_assert_not_null(p, "no %s in:\n%s", endpoint, table);
	while (p > table && p[-1] != '\n')
		p--;
	end = strchr(p, '\n');
	if (end == NULL)
		end = p + strlen(p);
	snprintf(line, len, "%.*s", (int)(end - p), p);
}

Test(cli, check_accepts_a_good_file)
{
	struct run_result r;
	const char *args[] = { "check", good_path, NULL };

	run_capture(&r, args);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_not_null(strstr(r.out, "ok"), "stdout: %s", r.out);
	cr_assert_not_null(strstr(r.out, good_path));
}

Test(cli, check_reports_file_and_line_of_each_problem)
{
	struct run_result r;
	char bad[512], where[600];
	const char *args[] = { "check", bad, NULL };

	snprintf(bad, sizeof(bad), "%s/bad.ini", tmpdir);
	write_file(bad, bad_ini);
	run_capture(&r, args);
	cr_assert_eq(r.status, 1, "stdout: %s stderr: %s", r.out, r.err);
	snprintf(where, sizeof(where), "%s:7:", bad);
	cr_assert_not_null(strstr(r.err, where), "stderr: %s", r.err);
	cr_assert_null(strstr(r.out, "ok"));
}

Test(cli, check_of_a_missing_file_fails)
{
	struct run_result r;
	char missing[512];
	const char *args[] = { "check", missing, NULL };

	snprintf(missing, sizeof(missing), "%s/missing.ini", tmpdir);
	run_capture(&r, args);
	cr_assert_eq(r.status, 1);
	cr_assert_neq(r.err[0], '\0');
}

Test(cli, endpoints_json_shows_every_endpoint_healthy_before_any_run)
{
	struct run_result r;
	const char *args[] = { "endpoints", "--json", NULL };
	const char *row;

	run_capture(&r, args);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_eq(r.out[0], '[', "stdout: %s", r.out);
	/* No table yet: said once on stderr, not an error. */
	cr_assert_not_null(strstr(r.err, "does not exist"), "%s", r.err);
	row = find_json_row(r.out, "127.0.0.2:18080");
	cr_assert(json_has(row, "\"service\": \"mydb\""), "%s", row);
	cr_assert(json_has(row, "\"status\": \"healthy\""), "%s", row);
	cr_assert_eq(json_field(row, "priority"), 0);
	cr_assert_eq(json_field(row, "ejected_remaining_ms"), 0);
	cr_assert_eq(json_field(row, "consecutive_failures"), 0);
	cr_assert_eq(json_field(row, "connects_ok"), 0);
	row = find_json_row(r.out, "127.0.0.3:18080");
	cr_assert(json_has(row, "\"status\": \"healthy\""), "%s", row);
	cr_assert(json_field(row, "priority") > 0, "%s", row);
}

Test(cli, eject_for_a_minute_shows_ejected_then_uneject_returns_it)
{
	struct run_result r;
	const char *eject[] = { "eject", "mydb", "127.0.0.2:18080", "--for",
				"1m", NULL };
	const char *json[] = { "endpoints", "--json", NULL };
	const char *table[] = { "endpoints", NULL };
	const char *uneject[] = { "uneject", "mydb", "127.0.0.2:18080", NULL };
	const char *row;
	char line[512];
	long long left;

	run_capture(&r, eject);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);

	run_capture(&r, json);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	row = find_json_row(r.out, "127.0.0.2:18080");
	cr_assert(json_has(row, "\"status\": \"ejected\""), "%s", row);
	left = json_field(row, "ejected_remaining_ms");
	cr_assert(left > 0 && left <= 60000, "remaining %lld", left);
	cr_assert_eq(json_field(row, "ejections"), 1, "%s", row);
	row = find_json_row(r.out, "127.0.0.3:18080");
	cr_assert(json_has(row, "\"status\": \"healthy\""), "%s", row);

	run_capture(&r, table);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_not_null(strstr(r.out, "SERVICE"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "EJECTED FOR"), "%s", r.out);
	table_line(r.out, "127.0.0.2:18080", line, sizeof(line));
	cr_assert_not_null(strstr(line, "EJECTED"), "%s", line);
	cr_assert_not_null(strstr(line, "FAILED"), "%s", line);
	table_line(r.out, "127.0.0.3:18080", line, sizeof(line));
	cr_assert_not_null(strstr(line, "HEALTHY"), "%s", line);

	run_capture(&r, uneject);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_capture(&r, json);
	row = find_json_row(r.out, "127.0.0.2:18080");
	cr_assert(json_has(row, "\"status\": \"healthy\""), "%s", row);
	cr_assert_eq(json_field(row, "ejected_remaining_ms"), 0);
}

/* Every duration swerve takes, in the file or here, is at most a day. */
Test(cli, eject_for_more_than_a_day_is_refused)
{
	struct run_result r;
	const char *eject[] = { "eject", "mydb", "127.0.0.2:18080", "--for",
				"25h", NULL };
	const char *json[] = { "endpoints", "--json", NULL };

	run_capture(&r, eject);
	cr_assert_eq(r.status, 2, "status %d, stderr: %s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "at most 24h"), "%s", r.err);
	run_capture(&r, json);
	cr_assert(json_has(find_json_row(r.out, "127.0.0.2:18080"),
			   "\"status\": \"healthy\""), "%s", r.out);
}

Test(cli, eject_without_for_uses_base_ejection_time)
{
	struct run_result r;
	const char *eject[] = { "eject", "mydb", "127.0.0.3:18080", NULL };
	const char *json[] = { "endpoints", "--json", NULL };
	const char *row;
	long long left;

	run_capture(&r, eject);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_capture(&r, json);
	row = find_json_row(r.out, "127.0.0.3:18080");
	left = json_field(row, "ejected_remaining_ms");
	cr_assert(left > 0 && left <= 30000, "remaining %lld", left);
}

Test(cli, explain_names_the_same_zone_endpoint_as_next_pick)
{
	struct run_result r;
	const char *args[] = { "explain", "mydb.com", NULL };
	const char *p;

	run_capture(&r, args);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	p = strstr(r.out, "next connect:");
	cr_assert_not_null(p, "%s", r.out);
	cr_assert_not_null(strstr(p, "127.0.0.2:18080"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "us-east1/us-east1-b"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "mydb"));
}

Test(cli, explain_moves_to_the_other_region_when_local_is_ejected)
{
	struct run_result r;
	const char *eject[] = { "eject", "mydb", "127.0.0.2:18080", "--for",
				"1m", NULL };
	const char *args[] = { "explain", "mydb.com", NULL };
	const char *p;

	run_capture(&r, eject);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_capture(&r, args);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	p = strstr(r.out, "next connect:");
	cr_assert_not_null(p, "%s", r.out);
	cr_assert_not_null(strstr(p, "127.0.0.3:18080"), "%s", r.out);
}

Test(cli, explain_of_an_unserved_name_fails)
{
	struct run_result r;
	const char *args[] = { "explain", "example.org", NULL };

	run_capture(&r, args);
	cr_assert_eq(r.status, 1);
	cr_assert_not_null(strstr(r.err, "example.org"), "%s", r.err);
}

Test(cli, unknown_service_or_endpoint_fails)
{
	struct run_result r;
	const char *svc[] = { "eject", "nope", "127.0.0.2:18080", NULL };
	const char *ep[] = { "eject", "mydb", "127.0.0.9:1", NULL };

	run_capture(&r, svc);
	cr_assert_eq(r.status, 1, "stderr: %s", r.err);
	run_capture(&r, ep);
	cr_assert_eq(r.status, 1, "stderr: %s", r.err);
	cr_assert_not_null(strstr(r.err, "127.0.0.2:18080"), "%s", r.err);
}

Test(cli, reset_removes_the_table)
{
	struct run_result r;
	const char *eject[] = { "eject", "mydb", "127.0.0.2:18080", NULL };
	const char *reset[] = { "reset", NULL };
	const char *json[] = { "endpoints", "--json", NULL };
	const char *row;

	run_capture(&r, eject);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_capture(&r, reset);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_capture(&r, json);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	row = find_json_row(r.out, "127.0.0.2:18080");
	cr_assert(json_has(row, "\"status\": \"healthy\""), "%s", row);
}

Test(cli, reset_of_one_endpoint_clears_its_ejection)
{
	struct run_result r;
	const char *eject[] = { "eject", "mydb", "127.0.0.2:18080", NULL };
	const char *reset[] = { "reset", "mydb", "127.0.0.2:18080", NULL };
	const char *json[] = { "endpoints", "--json", NULL };
	const char *row;

	run_capture(&r, eject);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_capture(&r, reset);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_capture(&r, json);
	row = find_json_row(r.out, "127.0.0.2:18080");
	cr_assert(json_has(row, "\"status\": \"healthy\""), "%s", row);
	cr_assert_eq(json_field(row, "ejections"), 0, "%s", row);
}

Test(cli, help_prints_usage_on_stdout)
{
	struct run_result r;
	const char *args[] = { "--help", NULL };

	run_capture(&r, args);
	cr_assert_eq(r.status, 0);
	cr_assert_not_null(strstr(r.out, "usage:"), "%s", r.out);
}

Test(cli, usage_errors_exit_2)
{
	static const char *const cases[][6] = {
		{ NULL },
		{ "frobnicate", NULL },
		{ "endpoints", "--bogus", NULL },
		{ "eject", "mydb", NULL },
		{ "eject", "mydb", "127.0.0.2:18080", "--for", "soon", NULL },
		{ "explain", NULL },
		{ "events", "extra", NULL },
		{ "events", "--for", "1s", NULL },
		{ "-c", NULL },
	};
	struct run_result r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_capture(&r, cases[i]);
		cr_assert_eq(r.status, 2, "case %zu: status %d", i, r.status);
		cr_assert_not_null(strstr(r.err, "usage:"), "case %zu: %s", i,
				   r.err);
	}
}

Test(cli, events_without_a_table_is_empty)
{
	struct run_result r;
	const char *args[] = { "events", NULL };
	const char *json[] = { "events", "--json", NULL };

	run_capture(&r, args);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_not_null(strstr(r.out, "no events"), "%s", r.out);
	run_capture(&r, json);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_str_eq(r.out, "{\"lost\": 0, \"events\": []}\n");
}

Test(cli, events_show_operator_ejections_by_name)
{
	struct run_result r;
	const char *eject[] = { "eject", "mydb", "127.0.0.3:18080", "--for",
				"1m", NULL };
	const char *uneject[] = { "uneject", "mydb", "127.0.0.3:18080",
				  NULL };
	const char *table[] = { "events", NULL };
	const char *json[] = { "events", "--json", NULL };
	const char *p;

	run_capture(&r, eject);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_capture(&r, uneject);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);

	run_capture(&r, table);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	p = strstr(r.out, "eject ");
	cr_assert_not_null(p, "%s", r.out);
	cr_assert_not_null(strstr(r.out, "mydb 127.0.0.3:18080"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "operator"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "for 1m0s, ejection 1"), "%s",
			   r.out);
	cr_assert_not_null(strstr(p, "uneject"), "oldest first: %s", r.out);

	run_capture(&r, json);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_not_null(strstr(r.out, "\"type\": \"eject\", \"service\": "
				  "\"mydb\", \"endpoint\": "
				  "\"127.0.0.3:18080\""), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "\"duration_ms\": 60000"), "%s",
			   r.out);
	cr_assert_not_null(strstr(r.out, "\"type\": \"uneject\""), "%s",
			   r.out);
	cr_assert_null(strstr(r.out, "127.0.0.3\","), "no bare address");
}

Test(cli, check_notes_tiers_without_outlier_detection)
{
	static const char ini[] =
		"[service mydb]\n"
		"hosts = mydb.com\n"
		"endpoint = 127.0.0.2:18080 locality=us-east1/a\n"
		"endpoint = 127.0.0.3:18080 locality=europe-west1/b\n"
		"failover = us-east1 -> europe-west1\n";
	struct run_result r;
	char path[512], where[600];
	const char *args[] = { "check", path, NULL };

	snprintf(path, sizeof(path), "%s/bad.ini", tmpdir);
	write_file(path, ini);
	run_capture(&r, args);
	cr_assert_eq(r.status, 0, "notes do not fail: %s", r.err);
	snprintf(where, sizeof(where), "%s:1: note: service mydb has "
		 "endpoints in several localities but no outlier detection",
		 path);
	cr_assert_not_null(strstr(r.err, where), "stderr: %s", r.err);
	snprintf(where, sizeof(where), "%s:5: note: service mydb has "
		 "failover rules but no outlier detection", path);
	cr_assert_not_null(strstr(r.err, where), "stderr: %s", r.err);
}

Test(cli, explain_shows_failover_rules_and_locality_weights)
{
	static const char ini[] =
		"[swerve]\n"
		"locality = us-east1/a\n"
		"[service mydb]\n"
		"hosts = mydb.com\n"
		"endpoint = 127.0.0.2:18080 locality=us-east1/a\n"
		"endpoint = 127.0.0.3:18080 locality=us-east1/a\n"
		"endpoint = 127.0.0.4:18080 locality=europe-west1/b\n"
		"endpoint = 127.0.0.5:18080 locality=asia/c\n"
		"failover = us-east1 -> europe-west1\n"
		"consecutive_5xx_errors = 1\n";
	struct run_result r;
	char path[512];
	const char *eject[] = { "-c", path, "eject", "mydb",
				"127.0.0.2:18080", NULL };
	const char *args[] = { "-c", path, "explain", "mydb.com", NULL };

	snprintf(path, sizeof(path), "%s/bad.ini", tmpdir);
	write_file(path, ini);
	run_capture(&r, eject);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_capture(&r, args);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_not_null(strstr(r.out, "failover:           us-east1 -> "
				  "europe-west1 (line 9), applies to this "
				  "host"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "locality weighting: on"), "%s",
			   r.out);
	/* europe-west1 is the failover target (priority 1), asia after it */
	cr_assert_not_null(strstr(r.out, "priority 0: 1/2 healthy, health "
				  "70%, load 70%"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "priority 1: 1/1 healthy, health "
				  "100%, load 30%"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "locality us-east1/a"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "1/2 healthy, effective weight "
				  "1.40 of 2"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "priority 2: 1/1 healthy"), "%s",
			   r.out);
}
