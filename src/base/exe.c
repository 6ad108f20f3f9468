/*
 * exe.c: a few preads over an ELF header, its program headers and its
 * section names. Go marks its binaries with a ".note.go.buildid" note (and
 * ".go.buildinfo" since 1.18), cgo-linked ones included; statically linked
 * executables have no PT_INTERP segment. Nothing else is needed.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/exe.h"
#include "base/libc.h"

static bool read_at(int fd, void *buf, size_t len, uint64_t off)
{
	return pread(fd, buf, len, (off_t)off) == (ssize_t)len;
}

static void scan(int fd, struct swerve_exe_info *out)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	Elf64_Shdr sh, names;
	bool interp = false;
	char name[24];
	unsigned i;

	if (!read_at(fd, &eh, sizeof(eh), 0) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64)
		return;
	out->is_elf64 = true;
	for (i = 0; i < eh.e_phnum; i++) {
		if (!read_at(fd, &ph, sizeof(ph),
			     eh.e_phoff + (uint64_t)i * eh.e_phentsize))
			return;
		if (ph.p_type == PT_INTERP)
			interp = true;
	}
	out->is_static = eh.e_type == ET_EXEC && !interp;
	if (eh.e_shstrndx == SHN_UNDEF || eh.e_shstrndx >= eh.e_shnum ||
	    !read_at(fd, &names, sizeof(names),
		     eh.e_shoff + (uint64_t)eh.e_shstrndx * eh.e_shentsize))
		return;
	for (i = 0; i < eh.e_shnum; i++) {
		if (!read_at(fd, &sh, sizeof(sh),
			     eh.e_shoff + (uint64_t)i * eh.e_shentsize))
			return;
		memset(name, 0, sizeof(name));
		if (pread(fd, name, sizeof(name) - 1,
			  (off_t)(names.sh_offset + sh.sh_name)) <= 0)
			continue;
		if (strcmp(name, ".note.go.buildid") == 0 ||
		    strcmp(name, ".go.buildinfo") == 0) {
			out->is_go = true;
			return;
		}
	}
}

int swerve_exe_inspect(const char *path, struct swerve_exe_info *out)
{
	int fd;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	scan(fd, out);
	swerve_libc_close(fd);
	return 0;
}
