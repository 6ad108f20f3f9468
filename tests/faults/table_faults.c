/*
 * table_faults.c: what the shared table's fault cases share (see
 * table_faults.h). Everything runs on 127.10.200.0/21 and service
 * addresses in 127.91.0.0/16, which no other test uses.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../integration/support.h"
#include "base/swerve.h"
#include "table_faults.h"

/* Every process a case started, killed by f_cleanup() whatever happened. */
static pid_t started[64];
static unsigned nstarted;

void f_track(pid_t pid)
{
	if (pid > 0 && nstarted < SWERVE_ARRAY_LEN(started))
		started[nstarted++] = pid;
}

int f_reap(pid_t pid, double timeout_s)
{
	unsigned i;

	/* Reaped, its pid may be anybody's: forget it first. */
	for (i = 0; i < nstarted; i++)
		if (started[i] == pid)
			started[i] = started[--nstarted];
	return t_reap(pid, timeout_s);
}

void f_cleanup(void)
{
	unsigned i;

	for (i = 0; i < nstarted; i++)
		if (kill(started[i], SIGKILL) == 0)
			waitpid(started[i], NULL, 0);
	nstarted = 0;
	t_cleanup();
}

const char *f_config(const char *prefix, unsigned threshold,
		     const char *extra)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "[swerve]\n"
		 "vip_cidr = 127.91.0.0/16\n"
		 "log = warn\n"
		 "\n"
		 "[service svc]\n"
		 "hosts = " F_HOST "\n"
		 "ports = 80\n"
		 "endpoint = %s.2:18080\n"
		 "endpoint = %s.3:18080\n"
		 "lb = round_robin\n"
		 "consecutive_5xx_errors = %u\n"
		 "max_ejection_percent = 50\n"
		 "connect_timeout = 2s\n"
		 "%s",
		 prefix, prefix, threshold, extra != NULL ? extra : "");
	return t_write("swerve.ini", text);
}

uint64_t f_key(const char *prefix, int host)
{
	char ep[64];

	snprintf(ep, sizeof(ep), "%s.%d:18080", prefix, host);
	return swerve_shm_endpoint_key("svc", ep);
}

static const char *out_path(const char *tag)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s.out", t_dir(), tag);
	return path;
}

const char *f_output(const char *tag)
{
	return t_read(out_path(tag));
}

pid_t f_client(const char *config, const char *shm, int rounds,
	       const char *counters, int slot, const char *tag)
{
	char bin[512], cv[600], sv[128], rv[16], slotv[16];
	const char *env[] = { cv, shm != NULL ? sv : NULL, NULL };
	const char *argv[] = { bin, F_HOST, "80", rv, counters,
			       counters != NULL ? slotv : NULL, NULL };
	pid_t pid;
	int i;

	snprintf(bin, sizeof(bin), "%s/tests/faultloop", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm != NULL ? shm : "");
	snprintf(rv, sizeof(rv), "%d", rounds);
	snprintf(slotv, sizeof(slotv), "%d", slot);
	unlink(out_path(tag));
	pid = t_spawn(true, env, out_path(tag), argv);
	cr_assert_gt(pid, 0, "cannot start %s", bin);
	f_track(pid);
	for (i = 0; i < 5000 && strstr(f_output(tag), "ready") == NULL; i++)
		usleep(1000);
	return pid;
}

int f_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	return f_reap(pid, 10);
}

double f_max_ms(const char *tag)
{
	const char *p = strstr(f_output(tag), "max_ms ");

	return p != NULL ? strtod(p + 7, NULL) : -1;
}

int f_count(const char *text, const char *needle)
{
	const char *p = text;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

void f_attach(const char *shm, struct swerve_shm *tab)
{
	char err[256];

	cr_assert_eq(swerve_shm_attach(shm, true, tab, err, sizeof(err)), 0,
		     "%s", err);
}

void f_private_dev_shm(unsigned kib)
{
	char opts[64];

	if (geteuid() != 0)
		cr_skip_test("needs root to mount a small /dev/shm");
	cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare: %s", strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	snprintf(opts, sizeof(opts), "size=%uk,mode=1777", kib);
	cr_assert_eq(mount("tmpfs", "/dev/shm", "tmpfs", 0, opts), 0,
		     "mount: %s", strerror(errno));
}

void f_fill_dev_shm(void)
{
	char page[4096];
	int fd;

	memset(page, 1, sizeof(page));
	fd = open("/dev/shm/filler", O_RDWR | O_CREAT, 0600);
	cr_assert_neq(fd, -1);
	while (write(fd, page, sizeof(page)) == (ssize_t)sizeof(page))
		;
	close(fd);
}
