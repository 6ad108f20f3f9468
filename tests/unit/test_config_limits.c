/*
 * Unit tests of config's bounds: what the loader refuses to read (a FIFO,
 * a device, a file past the size cap), the longest duration, the endpoint
 * cap counted as the library counts it (a name is SWERVE_DNS_MAX_ADDRS
 * endpoints), every error reported after a section that cannot be opened,
 * and the log_file key.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/config.h"
#include "test_config_support.h"

static int load_path(const char *path, struct swerve_config **cfg,
		     struct reports *r)
{
	memset(r, 0, sizeof(*r));
	return swerve_config_load(path, false, cfg, collect, r, NULL, 0);
}

/* A fresh directory <dir> (a mkdtemp template) and <path>, swerve.ini in
 * it; remove_both() takes them away again. */
static void fresh_path(char *dir, char *path)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, PATH_MAX, "%s/swerve.ini", dir);
}

static void remove_both(const char *dir, const char *path)
{
	unlink(path);
	rmdir(dir);
}

/*
 * A FIFO without a writer blocks open(2), and one with a writer that never
 * closes blocks read(2): either would hold every thread waiting for init.
 * The writer here keeps the FIFO open for the whole test.
 */
Test(config_limits, refuses_a_fifo_without_blocking, .timeout = 10)
{
	char dir[] = "/tmp/swerve-fifo-XXXXXX", path[PATH_MAX];
	struct swerve_config *cfg = NULL;
	struct reports r;
	int wfd;

	fresh_path(dir, path);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(load_path(path, &cfg, &r), -EINVAL);
	cr_assert_null(cfg);
	expect_error(&r, path, 0, "not a regular file");
	/* With a writer that sends a valid file and never closes. */
	wfd = open(path, O_RDWR | O_NONBLOCK);
	cr_assert_geq(wfd, 0);
	cr_assert_eq(write(wfd, "[swerve]\n", 9), 9);
	cr_assert_eq(load_path(path, &cfg, &r), -EINVAL);
	expect_error(&r, path, 0, "not a regular file");
	close(wfd);
	remove_both(dir, path);
}

/* /dev/zero never ends: reading it would spin in init forever. */
Test(config_limits, refuses_a_device, .timeout = 10)
{
	struct swerve_config *cfg = NULL;
	struct reports r;

	cr_assert_eq(load_path("/dev/zero", &cfg, &r), -EINVAL);
	expect_error(&r, "/dev/zero", 0, "not a regular file");
	cr_assert_eq(r.nerrors, 1);
}

Test(config_limits, refuses_a_file_past_the_size_cap, .timeout = 10)
{
	char dir[] = "/tmp/swerve-big-XXXXXX", path[PATH_MAX];
	struct swerve_config *cfg = NULL;
	struct reports r;
	int fd;

	fresh_path(dir, path);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	/* Sparse: no disk, and a comment line of zeros as far as inih
	 * would care. */
	cr_assert_eq(ftruncate(fd, (off_t)SWERVE_MAX_CONFIG_BYTES + 1), 0);
	close(fd);
	cr_assert_eq(load_path(path, &cfg, &r), -EFBIG);
	expect_error(&r, path, 0, "larger than 64 MiB");
	cr_assert_eq(r.nerrors, 1);
	remove_both(dir, path);
}

/* Every duration key stops at a day: a deadline is now plus a duration. */
Test(config_limits, caps_durations_at_a_day)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[defaults]\n"
			       "interval = 25h\n"
			       "dns_timeout = 18446744073709551615ms\n"
			       "connect_timeout = 86400001ms\n",
			       path, sizeof(path), &cfg, &r),
		     -EINVAL);
	cr_assert_eq(r.nerrors, 3);
	expect_error(&r, path, 2, "interval must be at most 24h (a day), "
				  "not '25h'");
	expect_error(&r, path, 3, "dns_timeout must be at most 24h");
	expect_error(&r, path, 4, "connect_timeout must be at most 24h");
	cr_assert_eq(load_text("[defaults]\n"
			       "base_ejection_time = 24h\n"
			       "max_ejection_time = 1440m\n"
			       "[service a]\n"
			       "hosts = a.test\n"
			       "endpoint = 127.0.0.2:80\n",
			       path, sizeof(path), &cfg, &r),
		     0);
	cr_assert_eq(cfg->services[0].outlier.base_ejection_ms,
		     SWERVE_MAX_DURATION_MS);
	swerve_config_free(cfg);
}

/* <n> endpoints given as names, one a line, after the service header. */
static const char *names_service(unsigned n)
{
	static char text[8192];
	size_t len;
	unsigned i;

	len = (size_t)snprintf(text, sizeof(text),
			       "[service a]\nhosts = a.test\n"
			       "resolution = dns\n");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"endpoint = n%u.a.test:80\n", i);
	return text;
}

/*
 * The library routes a name as SWERVE_DNS_MAX_ADDRS endpoints: 64 names
 * fill a service's 1,024, the 65th is refused at its line (check used to
 * pass it, and then every process turned swerve off).
 */
Test(config_limits, counts_a_name_as_the_addresses_it_may_take)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	unsigned full = SWERVE_MAX_ENDPOINTS / SWERVE_DNS_MAX_ADDRS;

	cr_assert_eq(load_text(names_service(full), path, sizeof(path), &cfg,
			       &r),
		     0);
	cr_assert_eq(cfg->services[0].nendpoints, full);
	swerve_config_free(cfg);
	cr_assert_eq(load_text(names_service(full + 1), path, sizeof(path),
			       &cfg, &r),
		     -EINVAL);
	cr_assert_eq(r.nerrors, 1);
	expect_error(&r, path, 3 + (int)full + 1,
		     "service a has more than 1024 endpoints once each name "
		     "counts as the 16 addresses it may resolve to");
}

/*
 * A header without ']' is read as if it had one, so the keys below it are
 * still checked where they belong; and keys of a section that cannot be
 * opened at all are still checked, against the section where each key
 * belongs. Every error of the file is reported.
 */
Test(config_limits, reports_every_error_after_a_broken_header)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char all[4096];

	cr_assert_eq(load_text("[service a\n"
			       "hosts = a.test\n"
			       "endpoint = 127.0.0.2:99999\n"
			       "lb = fastest\n"
			       "[servce b]\n"
			       "endpoint = 127.0.0.300\n"
			       "interval = 10\n"
			       "log = loud\n"
			       "[service a]\n"
			       "lb = slowest\n"
			       "[service bad name]\n"
			       "foo = bar\n",
			       path, sizeof(path), &cfg, &r),
		     -EINVAL);
	dump(&r, all, sizeof(all));
	expect_error(&r, path, 1, "section header without ']'");
	expect_error(&r, path, 3, "port must be 0 to 65535, not '99999'");
	expect_error(&r, path, 4, "lb must be round_robin");
	expect_error(&r, path, 5, "unknown section [servce b]");
	expect_error(&r, path, 6, "'127.0.0.300' is not an IPv4 or IPv6");
	expect_error(&r, path, 7, "interval = 10 needs a unit");
	expect_error(&r, path, 8, "log must be error, warn, info or debug");
	expect_error(&r, path, 9, "[service a] appears twice");
	expect_error(&r, path, 10, "lb must be round_robin");
	expect_error(&r, path, 11, "bad service name 'bad name'");
	expect_error(&r, path, 12, "unknown key 'foo' in [service bad name]");
	/* And service a, which never got an endpoint. */
	expect_error(&r, path, 1, "has no endpoint");
	cr_assert_eq(r.nerrors, 12, "%s", all);
}

Test(config_limits, takes_an_absolute_log_file)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[swerve]\nlog_file = /var/log/swerve.log\n",
			       path, sizeof(path), &cfg, &r),
		     0);
	cr_assert_str_eq(cfg->log_file, "/var/log/swerve.log");
	swerve_config_free(cfg);
	cr_assert_eq(load_text("[swerve]\n", path, sizeof(path), &cfg, &r), 0);
	cr_assert_str_eq(cfg->log_file, "");
	swerve_config_free(cfg);
	cr_assert_eq(load_text("[swerve]\nlog_file = swerve.log\n", path,
			       sizeof(path), &cfg, &r),
		     -EINVAL);
	expect_error(&r, path, 2, "log_file 'swerve.log' must be an absolute "
				  "path");
	cr_assert_eq(load_text("[service a]\nlog_file = /tmp/x\n", path,
			       sizeof(path), &cfg, &r),
		     -EINVAL);
	expect_error(&r, path, 2, "key 'log_file' belongs in [swerve]");
}

Test(config_limits, takes_log_file_from_the_environment)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	build_fixture_path(path, sizeof(path), "good.ini");
	setenv("SWERVE_LOG_FILE", "/run/swerve.log", 1);
	memset(&r, 0, sizeof(r));
	cr_assert_eq(swerve_config_load(path, true, &cfg, collect, &r, NULL, 0),
		     0);
	cr_assert_str_eq(cfg->log_file, "/run/swerve.log");
	swerve_config_free(cfg);
	setenv("SWERVE_LOG_FILE", "relative.log", 1);
	cr_assert_eq(swerve_config_load(path, true, &cfg, collect, &r, NULL, 0),
		     -EINVAL);
	unsetenv("SWERVE_LOG_FILE");
}

/*
 * What an endpoint keeps is sized to what its line wrote: names, locality
 * texts and labels live in the config's own storage, and the struct no
 * longer carries the largest of each (it cost 1.9 KB per endpoint, about
 * 500 MB for 256 services of 1,024 endpoints in every process).
 */
Test(config_limits, keeps_endpoint_strings_at_their_size)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_endpoint *ep;

	cr_assert_lt(sizeof(struct swerve_endpoint), 512);
	cr_assert_eq(load_text("[service a]\nhosts = a.test\n"
			       "resolution = dns\n"
			       "endpoint = db.a.test:80 locality=us/z1 "
			       "label.tier=gold label.rack=r7\n"
			       "endpoint = 127.0.0.2:80\n",
			       path, sizeof(path), &cfg, &r),
		     0);
	ep = &cfg->services[0].endpoints[0];
	cr_assert_str_eq(ep->name, "db.a.test");
	cr_assert_str_eq(ep->locality_text, "us/z1");
	cr_assert_eq(ep->nlabels, 2);
	cr_assert_str_eq(ep->labels[0].key, "tier");
	cr_assert_str_eq(ep->labels[1].value, "r7");
	ep = &cfg->services[0].endpoints[1];
	cr_assert_str_eq(ep->name, "");
	cr_assert_str_eq(ep->locality_text, "");
	cr_assert_eq(ep->nlabels, 0);
	swerve_config_free(cfg);
}
