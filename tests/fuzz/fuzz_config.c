/*
 * fuzz_config: libFuzzer target for the config loader. Each input is the
 * whole content of a config file, loaded with swerve_config_load() exactly
 * as the library and swervectl load theirs, with the environment left out
 * (use_env false), so an input means the same in every run.
 *
 * Besides the sanitizers (address, undefined behaviour), it checks the
 * loader's contract, and aborts when one is broken:
 *   - every problem is well formed: a message, and the text that is
 *     printed naming the file (and the line, when it has one);
 *   - the load fails exactly when an error was reported, and the first
 *     error's text is what <err> holds;
 *   - a loaded config answers for itself: each host it serves matches a
 *     service, and each service address matches its own service.
 *
 * The file is a memfd (a regular file, reached by its /proc/self/fd path),
 * rewritten for every input: no file system is touched.
 *
 * Thread-safety: libFuzzer calls the target from one thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "policy/config.h"
#include "fuzz.h"

#define broken(what, detail) fuzz_broken("fuzz_config", what, detail)

struct seen {
	const char *path;
	int errors;
	char first_error[PATH_MAX + 600];
};

static int file_fd = -1;
static char file_path[64];

static void on_problem(void *ctx, const struct swerve_config_problem *p)
{
	struct seen *seen = ctx;
	char where[64];

	if (p == NULL || p->msg == NULL || p->text == NULL || p->file == NULL)
		broken("problem with a NULL field", p != NULL ? p->text : NULL);
	if (strcmp(p->file, seen->path) != 0)
		broken("problem names another file", p->file);
	if (p->line < 0)
		broken("negative line", p->text);
	if (p->env != NULL)
		broken("environment problem with use_env false", p->text);
	if (strchr(p->text, '\n') != NULL)
		broken("newline in a problem's text", p->text);
	if (strstr(p->text, p->msg) == NULL)
		broken("text lacks the message", p->text);
	if (p->line > 0) {
		snprintf(where, sizeof(where), "%s:%d: ", seen->path, p->line);
		if (strncmp(p->text, where, strlen(where)) != 0)
			broken("text does not start with file:line", p->text);
	} else if (strncmp(p->text, seen->path, strlen(seen->path)) != 0) {
		broken("text does not start with the file", p->text);
	}
	if (p->is_error && seen->errors++ == 0)
		snprintf(seen->first_error, sizeof(seen->first_error), "%s",
			 p->text);
}

/* What a loaded config must answer about itself. */
static void check_loaded(const struct swerve_config *cfg)
{
	const struct swerve_service *svc, *got;
	unsigned s, h, v, index;

	for (s = 0; s < cfg->nservices; s++) {
		svc = &cfg->services[s];
		for (h = 0; h < svc->nhosts; h++)
			if (swerve_config_match_name(cfg, svc->hosts[h]) ==
			    NULL)
				broken("a served host matches no service",
				       svc->hosts[h]);
		for (v = 0; v < SWERVE_VIPS_PER_SERVICE; v++) {
			got = swerve_config_match_vip(cfg, svc->vips[v],
						      &index);
			if (got != svc || index != v)
				broken("a service address is not its own",
				       svc->name);
		}
	}
}

static void open_file(void)
{
	file_fd = memfd_create("fuzz_config.ini", MFD_CLOEXEC);
	if (file_fd == -1) {
		perror("fuzz_config: memfd_create");
		exit(1);
	}
	snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
}

static void write_file(const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t w;

	if (ftruncate(file_fd, 0) == -1) {
		perror("fuzz_config: ftruncate");
		exit(1);
	}
	while (off < size) {
		w = pwrite(file_fd, data + off, size - off, (off_t)off);
		if (w <= 0) {
			perror("fuzz_config: pwrite");
			exit(1);
		}
		off += (size_t)w;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct swerve_config *cfg = NULL;
	struct seen seen = { .errors = 0 };
	char err[PATH_MAX + 600];
	int rc;

	if (file_fd == -1)
		open_file();
	write_file(data, size);
	seen.path = file_path;
	err[0] = '\0';
	rc = swerve_config_load(file_path, false, &cfg, on_problem, &seen, err,
				sizeof(err));
	if (rc == 0) {
		if (cfg == NULL)
			broken("loaded without a config", file_path);
		if (seen.errors != 0)
			broken("loaded despite an error", seen.first_error);
		check_loaded(cfg);
	} else {
		if (cfg != NULL)
			broken("failed but set a config", file_path);
		if (rc != -EINVAL)
			broken("a bad file is not -EINVAL", strerror(-rc));
		if (seen.errors == 0)
			broken("failed without reporting an error", err);
		if (strcmp(err, seen.first_error) != 0)
			broken("err is not the first error", err);
	}
	swerve_config_free(cfg);
	return 0;
}
