/*
 * io.c: close(), getsockopt() and the read/write family. They pass through
 * to libc and, on an fd whose attempt is pending, learn how it ended: the
 * application reading SO_ERROR, its first read or write, or its close.
 * Everything else on every other fd costs one load.
 *
 * Thread-safety: see fdtrack.c; the slot is claimed before it changes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/libc.h"
#include "base/swerve.h"
#include "preload/preload.h"

SWERVE_EXPORT int getsockopt(int fd, int level, int opt, void *val,
			     socklen_t *len)
{
	struct fd_slot *sl;
	int rc, saved, so_err;
	uint64_t ino;

	rc = swerve_libc_getsockopt(fd, level, opt, val, len);
	if (rc != 0 || level != SOL_SOCKET || opt != SO_ERROR || swerve_guard ||
	    fd < 0 || fd >= FD_SLOTS || val == NULL || len == NULL ||
	    *len < sizeof(int))
		return rc;
	sl = &swerve_fd_slots[fd];
	if (atomic_load_explicit(&sl->state, memory_order_acquire) !=
	    SLOT_PENDING)
		return rc;
	saved = errno;
	if (!swerve_runtime_enter())
		return rc;
	memcpy(&so_err, val, sizeof(so_err));
	sl = swerve_fdtrack_current(fd, &ino);
	if (sl != NULL && atomic_load(&sl->state) == SLOT_PENDING) {
		if (so_err != 0) {
			/* The application sees the error and moves on; the
			 * endpoint is charged, and avoided by the next try. */
			swerve_fdtrack_conclude(fd, sl, ino, so_err, 0);
		} else if (swerve_fdtrack_tcp_state(fd) == TCP_ESTABLISHED) {
			swerve_fdtrack_conclude(fd, sl, ino, 0, 0);
		}
		/* 0 while still in SYN_SENT: ruby asks before polling. */
	}
	swerve_runtime_leave();
	errno = saved;
	return rc;
}

SWERVE_EXPORT int close(int fd)
{
	uint32_t st;

	if (swerve_guard || fd < 0 || fd >= FD_SLOTS)
		return swerve_libc_close(fd);
	st = atomic_load_explicit(&swerve_fd_slots[fd].state,
				  memory_order_relaxed);
	if (st != SLOT_FREE) {
		int saved = errno;

		if (swerve_runtime_enter()) {
			swerve_fdtrack_settle(fd, &swerve_fd_slots[fd]);
			swerve_runtime_leave();
		}
		errno = saved;
	}
	return swerve_libc_close(fd);
}

/*
 * Some clients learn that a non-blocking connect finished by writing or
 * reading straight away. The first I/O on a socket whose attempt is pending
 * settles it: data moved or the socket is established means connected (and
 * TCP_USER_TIMEOUT goes back to the application's 0); an endpoint error
 * means it failed. Everything else on every other fd costs one load.
 */
static inline bool io_pending(int fd)
{
	return fd >= 0 && fd < FD_SLOTS && !swerve_guard &&
	       atomic_load_explicit(&swerve_fd_slots[fd].state,
				    memory_order_relaxed) == SLOT_PENDING;
}

static void io_observe(int fd, ssize_t rc, int err)
{
	struct fd_slot *sl;
	uint64_t ino;

	if (!swerve_runtime_enter()) {
		errno = err;
		return;
	}
	sl = swerve_fdtrack_current(fd, &ino);
	if (sl != NULL && atomic_load(&sl->state) == SLOT_PENDING) {
		if (rc > 0 || swerve_fdtrack_tcp_state(fd) == TCP_ESTABLISHED)
			swerve_fdtrack_conclude(fd, sl, ino, 0, 0);
		else if (rc == -1 && swerve_fdtrack_is_failure(err))
			swerve_fdtrack_conclude(fd, sl, ino, err, 0);
	}
	swerve_runtime_leave();
	errno = err;
}

/* Calls the real <fn>, then settles a pending attempt on <fd>. */
#define IO_HOOK(fd, call)                                                  \
	do {                                                               \
		ssize_t rc_;                                               \
		bool pending_ = io_pending(fd);                            \
									   \
		rc_ = (call);                                              \
		if (__builtin_expect(pending_, 0))                         \
			io_observe((fd), rc_, errno);                      \
		return rc_;                                                \
	} while (0)

SWERVE_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	IO_HOOK(fd, swerve_libc_read(fd, buf, len));
}

SWERVE_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	IO_HOOK(fd, swerve_libc_write(fd, buf, len));
}

SWERVE_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	IO_HOOK(fd, swerve_libc_recv(fd, buf, len, flags));
}

SWERVE_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	IO_HOOK(fd, swerve_libc_send(fd, buf, len, flags));
}

SWERVE_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
			       struct sockaddr *sa, socklen_t *salen)
{
	IO_HOOK(fd, swerve_libc_recvfrom(fd, buf, len, flags, sa, salen));
}

SWERVE_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			     const struct sockaddr *sa, socklen_t salen)
{
	IO_HOOK(fd, swerve_libc_sendto(fd, buf, len, flags, sa, salen));
}

SWERVE_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	IO_HOOK(fd, swerve_libc_recvmsg(fd, msg, flags));
}

SWERVE_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	IO_HOOK(fd, swerve_libc_sendmsg(fd, msg, flags));
}
