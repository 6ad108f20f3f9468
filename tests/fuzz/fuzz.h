/*
 * fuzz.h: what the libFuzzer targets of tests/fuzz share: the entry point
 * libFuzzer calls, how a target stops on a broken contract, and the SysV
 * segment of an input.
 *
 * Thread-safety: fuzz_broken() may be called from any thread; it ends the
 * process.
 */
#ifndef SWERVE_FUZZ_H
#define SWERVE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sanitizer/common_interface_defs.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Reports that <what> (about <detail>, may be NULL) broke a contract and
 * aborts, so that libFuzzer keeps the input. The summary also goes to the
 * sanitizers' report descriptor, which -close_fd_mask=2 keeps open when
 * the target's own stderr is closed (scripts/fuzz.sh).
 */
static inline void __attribute__((noreturn))
fuzz_broken(const char *target, const char *what, const char *detail)
{
	char line[512];

	snprintf(line, sizeof(line), "%s: contract broken: %s%s%s", target,
		 what, detail != NULL ? ": " : "",
		 detail != NULL ? detail : "");
	fprintf(stderr, "%s\n", line);
	__sanitizer_report_error_summary(line);
	abort();
}

/*
 * A SysV segment of <size> bytes (IPC_PRIVATE, mode 0600) that begins with
 * the <len> bytes at <bytes> (at most <size> of them), mapped, and marked
 * removed at once: Linux still lets swerve attach it, and it is gone once
 * both detach, so not even a crash leaves it behind. Its id in *<id>;
 * <target> names the harness in a failure, which ends the process.
 */
static inline void *fuzz_segment(const char *target, size_t size,
				 const void *bytes, size_t len, int *id)
{
	void *map;

	*id = shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | 0600);
	if (*id == -1) {
		fprintf(stderr, "%s: shmget failed\n", target);
		exit(1);
	}
	map = shmat(*id, NULL, 0);
	if (map == (void *)-1) {
		fprintf(stderr, "%s: shmat failed\n", target);
		shmctl(*id, IPC_RMID, NULL);
		exit(1);
	}
	shmctl(*id, IPC_RMID, NULL);
	memcpy(map, bytes, len < size ? len : size);
	return map;
}

#endif
