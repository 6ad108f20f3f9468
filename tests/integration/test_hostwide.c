/*
 * Host-wide mode (README "Host-wide mode"): /etc/ld.so.preload names the
 * library and /etc/swerve/swerve.ini is the config, and no program is given
 * an environment variable. Each test enters mount and IPC namespaces of its
 * own: an overlay over /etc, whose writable half is a tmpfs of the test,
 * gives the two files a place to be bind-mounted where the loader and the
 * library look for them; a tmpfs over /dev/shm and the private IPC
 * namespace hold the tables. The machine's own /etc, /dev/shm and SysV
 * segments are never touched, and each test checks /etc and /dev/shm
 * afterwards through descriptors opened before the mounts.
 *
 * Root only (mounts, setuid files); skipped under sanitizers, whose runtime
 * must come first in every program. Endpoints on 127.14.6.0/24, ports
 * 21460 to 21462, service addresses in 127.146.0.0/16 and 127.147.0.0/16.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

#define SUID_OWNER "4321" /* owns the setuid copy of probe */
#define INVOKER "1234"    /* the user who runs it */

/* The system config: a dead primary in this host's region, a live
 * failover elsewhere, so a steered connect shows in the answer. */
static const char system_ini[] =
	"[swerve]\n"
	"locality = r1\n"
	"vip_cidr = 127.146.0.0/16\n"
	"\n"
	"[service hw]\n"
	"hosts = hw.test\n"
	"ports = 21460\n"
	"endpoint = 127.14.6.1:21461 locality=r1\n"
	"endpoint = 127.14.6.2:21461 locality=r2\n"
	"consecutive_5xx_errors = 1\n"
	"base_ejection_time = 1m\n";

/* What an ordinary user hands a setuid program in SWERVE_CONFIG. */
static const char user_ini[] =
	"[swerve]\n"
	"vip_cidr = 127.147.0.0/16\n"
	"\n"
	"[service mine]\n"
	"hosts = useronly.test\n"
	"ports = 21460\n"
	"endpoint = 127.14.6.2:21461\n";

/* The state of one name in the machine's own /etc or /dev/shm. */
struct seen {
	bool exists;
	struct stat st;
};

static struct {
	char root[512];  /* the test's tmpfs: library, configs, copies */
	char lib[600];   /* the library's copy there */
	bool entered;    /* in the test's own namespaces */
	int etc_fd;      /* the machine's /etc, opened before the mounts */
	int shm_fd;      /* the machine's /dev/shm, likewise */
	struct seen preload, swerve_dir, shm_suid, shm_user;
	pid_t west, plain;
} hw = { .etc_fd = -1, .shm_fd = -1 };

static void look(int dirfd, const char *name, struct seen *s)
{
	s->exists = fstatat(dirfd, name, &s->st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void same_as_before(int dirfd, const char *name,
			   const struct seen *before)
{
	struct seen now;

	look(dirfd, name, &now);
	cr_assert_eq(now.exists, before->exists,
		     "the machine's %s %s", name,
		     now.exists ? "appeared" : "vanished");
	if (!now.exists)
		return;
	cr_assert(now.st.st_ino == before->st.st_ino &&
		  now.st.st_size == before->st.st_size &&
		  now.st.st_mtim.tv_sec == before->st.st_mtim.tv_sec &&
		  now.st.st_mtim.tv_nsec == before->st.st_mtim.tv_nsec,
		  "the machine's %s changed", name);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	cr_assert(in >= 0 && out >= 0, "copy %s: %s", from, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n);
	cr_assert_eq(n, 0);
	close(in);
	cr_assert_eq(fchmod(out, mode), 0); /* past the umask */
	close(out);
}

static void put(const char *name, const char *text, mode_t mode)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", hw.root, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, mode), 0);
}

static bool mkdir_in(const char *name)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", hw.root, name);
	return mkdir(path, 0755) == 0;
}

static void bind_over(const char *name, const char *target)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", hw.root, name);
	cr_assert_eq(mount(path, target, NULL, MS_BIND, NULL), 0,
		     "bind %s over %s: %s", path, target, strerror(errno));
}

/* Servers first, in the machine's namespaces: they are not under test. */
static void setup(void)
{
	if (geteuid() != 0)
		cr_skip_test("host-wide mode needs root: mounts, setuid files");
	if (t_sanitized())
		cr_skip_test("a sanitizer runtime must come first in every "
			     "program: /etc/ld.so.preload cannot put it there");
	hw.west = t_server("127.14.6.2", 21461, "hostwide-west", "ok");
	hw.plain = t_server("127.14.6.3", 21462, "plain", "ok");
	cr_assert(hw.west > 0 && hw.plain > 0);
	hw.etc_fd = open("/etc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	hw.shm_fd = open("/dev/shm", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert(hw.etc_fd >= 0 && hw.shm_fd >= 0);
	look(hw.etc_fd, "ld.so.preload", &hw.preload);
	look(hw.etc_fd, "swerve", &hw.swerve_dir);
	look(hw.shm_fd, "swerve." SUID_OWNER, &hw.shm_suid);
	look(hw.shm_fd, "swerve-hw-user", &hw.shm_user);
	snprintf(hw.root, sizeof(hw.root), "%s/root", t_dir());
}

/*
 * A namespace that differs from the machine only where the test needs it:
 * the library and both configs in a tmpfs that every user can read (the
 * setuid test runs programs as two other users), a private /dev/shm, and
 * an overlay over /etc whose writable half holds the mount points of the
 * two files (empty, which is host-wide mode off: nothing is created in the
 * machine's /etc, not even a name) and a hosts file that answers the
 * test's names with an address nobody listens on, so that a name swerve
 * does not steer fails at once and no DNS server is ever asked.
 */
static void enter_namespace(void)
{
	char path[600], hosts[8192], opts[1400];
	int fd;
	ssize_t n;

	fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, hosts, sizeof(hosts) - 100) : 0;
	if (fd >= 0)
		close(fd);
	snprintf(hosts + (n > 0 ? n : 0), 100,
		 "\n127.14.6.9 hw.test useronly.test\n");
	cr_assert_eq(chmod(t_dir(), 0755), 0);
	cr_assert_eq(unshare(CLONE_NEWNS | CLONE_NEWIPC), 0, "unshare: %s",
		     strerror(errno));
	hw.entered = true;
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	cr_assert_eq(mkdir(hw.root, 0755), 0);
	cr_assert_eq(mount("tmpfs", hw.root, "tmpfs", 0, "size=64m,mode=0755"),
		     0, "mount: %s", strerror(errno));
	cr_assert_eq(mount("tmpfs", "/dev/shm", "tmpfs", 0,
			   "size=16m,mode=1777"), 0);

	snprintf(path, sizeof(path), "%s/libswerve.so", t_build());
	snprintf(hw.lib, sizeof(hw.lib), "%s/libswerve.so", hw.root);
	copy_file(path, hw.lib, 0755);
	put("swerve.ini", system_ini, 0644);
	put("user.ini", user_ini, 0644);
	cr_assert(mkdir_in("upper") && mkdir_in("work") &&
		  mkdir_in("upper/swerve"));
	put("upper/ld.so.preload", "", 0644);
	put("upper/swerve/swerve.ini", "", 0644);
	put("upper/hosts", hosts, 0644);
	snprintf(opts, sizeof(opts),
		 "lowerdir=/etc,upperdir=%s/upper,workdir=%s/work", hw.root,
		 hw.root);
	if (mount("overlay", "/etc", "overlay", 0, opts) != 0)
		cr_skip_test("no overlayfs to give /etc a private layer: %s",
			     strerror(errno));
}

/* Host-wide mode on: the two files bind-mounted where they belong. */
static void turn_on(void)
{
	char line[700];

	snprintf(line, sizeof(line), "%s\n", hw.lib);
	put("ld.so.preload", line, 0644);
	bind_over("ld.so.preload", "/etc/ld.so.preload");
	bind_over("swerve.ini", "/etc/swerve/swerve.ini");
}

/* The mounts go with the namespace when the test process ends; they are
 * detached now so that t_cleanup() can remove the test's directory. */
static void teardown(void)
{
	if (hw.entered) {
		umount2("/etc", MNT_DETACH);
		umount2(hw.root, MNT_DETACH);
	}
	if (hw.etc_fd >= 0) {
		same_as_before(hw.etc_fd, "ld.so.preload", &hw.preload);
		same_as_before(hw.etc_fd, "swerve", &hw.swerve_dir);
		same_as_before(hw.shm_fd, "swerve." SUID_OWNER, &hw.shm_suid);
		same_as_before(hw.shm_fd, "swerve-hw-user", &hw.shm_user);
	}
	t_stop(hw.west);
	t_stop(hw.plain);
	t_cleanup();
}

TestSuite(hostwide, .init = setup, .fini = teardown, .timeout = 120);

static void run(struct run *r, const char *const *env,
		const char *const *argv)
{
	t_run(r, false, env, 30, argv);
}

static void probe(struct run *r, const char *name)
{
	char bin[512];
	const char *argv[] = { bin, name, "21460", NULL };

	snprintf(bin, sizeof(bin), "%s/tests/probe", t_build());
	run(r, NULL, argv);
}

/* Value of "key": in <json>'s object for <endpoint>; -1 when absent. */
static long long field(const char *json, const char *endpoint,
		       const char *key)
{
	char needle[128];
	const char *p, *end;

	snprintf(needle, sizeof(needle), "\"endpoint\": \"%s\"", endpoint);
	p = strstr(json, needle);
	end = p != NULL ? strchr(p, '}') : NULL;
	if (end == NULL)
		return -1;
	snprintf(needle, sizeof(needle), "\"%s\": ", key);
	p = strstr(p, needle);
	if (p == NULL || p > end)
		return -1;
	return strtoll(p + strlen(needle), NULL, 10);
}

/*
 * With no variable at all, a program resolves a configured name to a
 * service address, its connect is steered (the dead primary of its own
 * region is passed over for the failover, inside the call), and the
 * outcome lands in root's default table, which swervectl, also with no
 * option, reads through the system config. Before host-wide mode the same
 * program cannot even resolve the name.
 */
Test(hostwide, every_program_gets_swerve_without_a_variable)
{
	static struct run r;
	const char *getent[] = { "getent", "ahostsv4", "hw.test", NULL };
	const char *curl[] = { "curl", "-sS", "http://hw.test:21460/", NULL };
	char ctl[512];
	const char *endpoints[] = { ctl, "endpoints", "--json", NULL };

	enter_namespace();
	run(&r, NULL, getent);
	cr_assert(strncmp(r.out, "127.14.6.9 ", 11) == 0, "getent: %s", r.out);
	probe(&r, "hw.test");
	cr_assert_neq(r.status, 0, "hw.test reached before host-wide mode");

	turn_on();
	run(&r, NULL, getent);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strncmp(r.out, "127.146.", 8) == 0, "getent: %s", r.out);
	probe(&r, "hw.test");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "hostwide-west\n");
	if (t_have("curl")) {
		run(&r, NULL, curl);
		cr_assert_eq(r.status, 0, "%s", r.err);
		cr_assert_str_eq(r.out, "hostwide-west\n");
	}

	snprintf(ctl, sizeof(ctl), "%s/swervectl", t_build());
	run(&r, NULL, endpoints);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_geq(field(r.out, "127.14.6.2:21461", "connects_ok"), 1,
		      "%s", r.out);
	cr_assert_geq(field(r.out, "127.14.6.1:21461", "connects_failed"), 1,
		      "%s", r.out);
}

/* The programs compared with and without host-wide mode. */
static const char *const common[][8] = {
	{ "ls", "-ln", "/usr/share/common-licenses", NULL },
	{ "ls", "/nonexistent-swerve-hostwide", NULL },
	{ "sh", "-c", "echo $((6 * 7)); echo to-stderr >&2; exit 3", NULL },
	{ "sort", "-r", "@lines", NULL },
	{ "getent", "hosts", "localhost", NULL },
	{ "python3", "-c",
	  "import socket, sys, urllib.request\n"
	  "print(socket.getaddrinfo('localhost', 80, socket.AF_INET,"
	  " socket.SOCK_STREAM)[0][4])\n"
	  "print(urllib.request.urlopen('http://127.14.6.3:21462/')"
	  ".read().decode(), end='')\n"
	  "sys.exit(4)", NULL },
	{ "curl", "-sS", "-w", "%{http_code}\\n",
	  "http://127.14.6.3:21462/", NULL },
	{ "ssh", "-V", NULL },
	{ "@gai_dump", "matrix", NULL },
};
#define NCOMMON (sizeof(common) / sizeof(common[0]))

static struct run before[NCOMMON], after[NCOMMON];

/* "@lines" is a file of the test, "@NAME" a helper of the build. */
static void run_common(size_t i, struct run *r)
{
	static char lines[600], helper[512];
	const char *argv[8];
	size_t k;

	for (k = 0; k < 8; k++) {
		argv[k] = common[i][k];
		if (argv[k] != NULL && strcmp(argv[k], "@lines") == 0)
			argv[k] = lines;
		else if (argv[k] != NULL && argv[k][0] == '@') {
			snprintf(helper, sizeof(helper), "%s/tests/%s",
				 t_build(), argv[k] + 1);
			argv[k] = helper;
		}
	}
	if (lines[0] == '\0')
		snprintf(lines, sizeof(lines), "%s",
			 t_write("lines", "pear\napple\nfig\n"));
	run(r, NULL, argv);
}

/*
 * Common programs print the same bytes on stdout and stderr and exit with
 * the same status with and without host-wide mode, while the library is
 * in them (the shell finds it in its own memory map).
 */
Test(hostwide, common_programs_behave_exactly_as_without_it)
{
	static struct run r;
	const char *maps[] = { "sh", "-c", "grep -c libswerve /proc/$$/maps",
			       NULL };
	size_t i;

	enter_namespace();
	for (i = 0; i < NCOMMON; i++)
		if (common[i][0][0] == '@' || t_have(common[i][0]))
			run_common(i, &before[i]);
	run(&r, NULL, maps);
	cr_assert_str_eq(r.out, "0\n");

	turn_on();
	run(&r, NULL, maps);
	cr_assert_neq(strcmp(r.out, "0\n"), 0, "no library in sh: %s",
		      r.err);
	for (i = 0; i < NCOMMON; i++) {
		if (common[i][0][0] != '@' && !t_have(common[i][0]))
			continue;
		run_common(i, &after[i]);
		cr_assert_eq(after[i].status, before[i].status,
			     "%s: status %d, %d without swerve: %s",
			     common[i][0], after[i].status, before[i].status,
			     after[i].err);
		cr_assert_str_eq(after[i].out, before[i].out, "%s: stdout",
				 common[i][0]);
		cr_assert_str_eq(after[i].err, before[i].err, "%s: stderr",
				 common[i][0]);
	}
	/* Sanity: the comparisons compared something. */
	cr_assert_eq(before[2].status, 3);
	cr_assert(strlen(before[NCOMMON - 1].out) > 1000);
}

/* Runs argv (after the setpriv words) as <uid>, with <env>. */
static void run_as(struct run *r, const char *uid, const char *const *env,
		   const char *const *argv)
{
	char reuid[32], regid[32];
	const char *full[12] = { "setpriv", reuid, regid, "--clear-groups" };
	int n = 4;

	snprintf(reuid, sizeof(reuid), "--reuid=%s", uid);
	snprintf(regid, sizeof(regid), "--regid=%s", uid);
	while (*argv != NULL && n < 11)
		full[n++] = *argv++;
	full[n] = NULL;
	run(r, env, full);
}

static void owned_by(const char *path, uid_t uid)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(st.st_uid, uid, "%s belongs to %u", path,
		     (unsigned)st.st_uid);
}

/*
 * A setuid program (a copy of probe owned by SUID_OWNER, mode 4755, run by
 * INVOKER through setpriv) reads only the system config and keeps its own
 * table, /swerve.<euid>: the SWERVE_CONFIG and SWERVE_SHM its invoker
 * hands it are ignored (secure_getenv). The same copy without the setuid
 * bit, same user, same variables, follows them: that is what the test
 * tells apart.
 */
Test(hostwide, setuid_programs_use_the_system_config_and_their_own_table)
{
	static struct run r;
	char plain[600], suid[600], ctl[600], cfg[700];
	const char *env[] = { cfg, "SWERVE_SHM=/swerve-hw-user", NULL };
	const char *endpoints[] = { ctl, "endpoints", "--json", NULL };
	char bin[512];

	if (!t_have("setpriv"))
		cr_skip_test("no setpriv(1) to run a program as another user");
	enter_namespace();
	turn_on();
	snprintf(bin, sizeof(bin), "%s/tests/probe", t_build());
	snprintf(plain, sizeof(plain), "%s/probe-plain", hw.root);
	snprintf(suid, sizeof(suid), "%s/probe-suid", hw.root);
	snprintf(ctl, sizeof(ctl), "%s/swervectl", hw.root);
	snprintf(cfg, sizeof(cfg), "SWERVE_CONFIG=%s/user.ini", hw.root);
	copy_file(bin, plain, 0755);
	copy_file(bin, suid, 0755);
	cr_assert_eq(chown(suid, atoi(SUID_OWNER), atoi(SUID_OWNER)), 0);
	cr_assert_eq(chmod(suid, 04755), 0); /* chown cleared the bit */
	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	copy_file(bin, ctl, 0755);

	run_as(&r, INVOKER, env,
	       (const char *[]){ plain, "useronly.test", "21460", NULL });
	cr_assert_eq(r.status, 0, "not setuid, the user's config: %s", r.err);
	cr_assert_str_eq(r.out, "hostwide-west\n");
	run_as(&r, INVOKER, env,
	       (const char *[]){ plain, "hw.test", "21460", NULL });
	cr_assert_neq(r.status, 0, "not setuid, yet the system config");
	owned_by("/dev/shm/swerve-hw-user", atoi(INVOKER));

	run_as(&r, INVOKER, env,
	       (const char *[]){ suid, "useronly.test", "21460", NULL });
	cr_assert_neq(r.status, 0, "setuid, yet the invoker's config");
	run_as(&r, INVOKER, env,
	       (const char *[]){ suid, "hw.test", "21460", NULL });
	cr_assert_eq(r.status, 0, "setuid, the system config: %s", r.err);
	cr_assert_str_eq(r.out, "hostwide-west\n");
	owned_by("/dev/shm/swerve." SUID_OWNER, atoi(SUID_OWNER));
	cr_assert_neq(access("/dev/shm/swerve." INVOKER, F_OK), 0,
		      "the invoker's default table was made");

	/* The table of the setuid program's user holds its one connect. */
	run_as(&r, SUID_OWNER, NULL, endpoints);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(field(r.out, "127.14.6.2:21461", "connects_ok"), 1,
		     "%s", r.out);
}

/*
 * A program that only talks to local sockets (syslog, nscd, D-Bus) gets
 * nothing of swerve's in host-wide mode: no config read, no table made for
 * its user. Only an IPv4 or IPv6 connect, or a name lookup, sets swerve up.
 */
Test(hostwide, a_program_that_connects_only_unix_sockets_makes_no_table)
{
	static struct run r;
	const char *argv[] = {
		"/usr/bin/python3", "-c", /* not a shim in root's home */
		"import socket\n"
		"l = socket.socket(socket.AF_UNIX)\n"
		"l.bind('\\0swerve-hw-unix')\n"
		"l.listen(1)\n"
		"c = socket.socket(socket.AF_UNIX)\n"
		"c.connect('\\0swerve-hw-unix')\n"
		"print('ok')\n",
		NULL
	};

	if (!t_have("setpriv"))
		cr_skip_test("no setpriv(1) to run a program as another user");
	enter_namespace();
	turn_on();
	run_as(&r, INVOKER, NULL, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "ok\n");
	cr_assert_neq(access("/dev/shm/swerve." INVOKER, F_OK), 0,
		      "an AF_UNIX connect made the user's table");
}
