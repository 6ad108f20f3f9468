/*
 * cares: the system's c-ares, loaded privately on first use. The library
 * is not linked against c-ares: it dlopen()s libcares.so.2 with
 * RTLD_LOCAL | RTLD_DEEPBIND when the first resolver is made, so that
 *   - the distribution's security updates of c-ares reach swerve without
 *     a rebuild (apt upgrades the shared library);
 *   - a process whose config has no names never loads it;
 *   - a host program's own c-ares (node exports its bundled ares_
 *     symbols) neither captures swerve's calls nor c-ares' calls inside
 *     itself (DEEPBIND resolves them in libcares.so.2 first), and swerve's
 *     copy is invisible to the program (RTLD_LOCAL).
 * Every c-ares function swerve uses is reached through the table below.
 *
 * Thread-safety: swerve_cares() loads once (pthread_once) and returns a
 * table that never changes afterwards.
 */
#ifndef SWERVE_CARES_H
#define SWERVE_CARES_H

#include <ares.h>
#include <stddef.h>

/* The shared library loaded, by its soname. */
#define SWERVE_CARES_SONAME "libcares.so.2"

/* X(name): every c-ares function swerve calls. */
#define SWERVE_CARES_FUNCTIONS(X)                                            \
	X(ares_library_init)                                                 \
	X(ares_version)                                                      \
	X(ares_init_options)                                                 \
	X(ares_destroy)                                                      \
	X(ares_cancel)                                                       \
	X(ares_set_servers_ports_csv)                                        \
	X(ares_get_servers_ports)                                            \
	X(ares_set_socket_functions)                                         \
	X(ares_free_data)                                                    \
	X(ares_strerror)                                                     \
	X(ares_getsock)                                                      \
	X(ares_timeout)                                                      \
	X(ares_process_fd)                                                   \
	X(ares_getaddrinfo)                                                  \
	X(ares_freeaddrinfo)

/* One pointer per function, with the function's own type and name. */
struct swerve_cares {
#define SWERVE_CARES_FIELD(name) __typeof__(name) *name;
	SWERVE_CARES_FUNCTIONS(SWERVE_CARES_FIELD)
#undef SWERVE_CARES_FIELD
};

/*
 * The loaded c-ares, initialised (ares_library_init), or NULL with the
 * reason in <err> (may be NULL): the library is not installed, lacks a
 * function, or failed to initialise. The first call loads; later calls
 * return the same answer. Any thread.
 */
const struct swerve_cares *swerve_cares(char *err, size_t errlen);

#endif
