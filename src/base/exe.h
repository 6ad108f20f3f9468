/*
 * exe: what kind of program a file is, as far as preloading goes: statically
 * linked (no PT_INTERP: the loader never reads LD_PRELOAD) or built by Go
 * (it resolves and connects with raw system calls). Used by the `swerve`
 * wrapper to warn, and by the library to stay out of Go programs' way.
 *
 * Thread-safety: no state; reads the file with pread only.
 */
#ifndef SWERVE_EXE_H
#define SWERVE_EXE_H

#include <stdbool.h>

struct swerve_exe_info {
	bool is_elf64;  /* a 64-bit ELF file we could read */
	bool is_static; /* an executable without a program interpreter */
	bool is_go;     /* has Go's build-id note or build-info section */
};

/*
 * Inspects the ELF file at <path>. Returns 0 and fills <out> (all false for
 * a script or a 32-bit file), or -errno when the file cannot be opened.
 * Never allocates: safe in a library constructor.
 */
int swerve_exe_inspect(const char *path, struct swerve_exe_info *out);

#endif
