/*
 * fuzz.h: what the libFuzzer targets of tests/fuzz share: the entry point
 * libFuzzer calls, and how a target stops on a broken contract.
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

#endif
