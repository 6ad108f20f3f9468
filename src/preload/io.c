/*
 * io.c: close(), getsockopt() and the read/write family. They pass through
 * to libc and, on an fd whose attempt is pending, learn how it ended: the
 * application reading SO_ERROR, its first read or write, or its close. On
 * a connection to a protocol = http service they hand what each call moved
 * to its tracker (http.c): read, recv, recvfrom, recvmsg, readv and the
 * fortified __read_chk, __recv_chk and __recvfrom_chk; write, send,
 * sendto, sendmsg and writev; sendfile and splice, whose bytes swerve does
 * not see, make the tracker give up. Everything else on every other fd,
 * plain tcp connections included, costs one load.
 *
 * Thread-safety: see fdtrack.c; the slot is claimed before it changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
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
	if (swerve_pump.pid != 0)
		swerve_pump_closing(fd);
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
 * The state of <fd>'s slot as the hooks' fast path sees it: one relaxed
 * load, SLOT_FREE for the fds swerve does not track and for its own calls.
 */
static inline uint32_t io_state(int fd)
{
	if (fd < 0 || fd >= FD_SLOTS || swerve_guard)
		return SLOT_FREE;
	return atomic_load_explicit(&swerve_fd_slots[fd].state,
				    memory_order_relaxed);
}

/*
 * Whether a call on a slot in state <st> needs a look afterwards: an
 * attempt is pending, an http connection is followed, or another thread
 * is changing the slot (it may be either). Plain connections pass.
 */
static inline bool io_watched(uint32_t st)
{
	return st != SLOT_FREE && st != SLOT_ESTABLISHED;
}

/* True when the slot of <fd> now holds a followed http connection, or is
 * being changed (http.c waits for it). */
static bool io_http(int fd)
{
	uint32_t st = atomic_load_explicit(&swerve_fd_slots[fd].state,
					   memory_order_acquire);

	return st == SLOT_HTTP || st == SLOT_BUSY;
}

/*
 * After a call on <fd> that returned <rc> with errno <err>, the slot
 * having been <st> before it. Some clients learn that a non-blocking
 * connect finished by writing or reading straight away: the first I/O on
 * a socket whose attempt is pending settles it (data moved or the socket
 * is established means connected, and TCP_USER_TIMEOUT goes back to the
 * application's 0; an endpoint error means it failed). Then, on an http
 * connection (maybe established just now), the tracker gets what moved.
 */
static void io_observe(int fd, uint32_t st, ssize_t rc, int err,
		       const struct swerve_http_io *io)
{
	struct fd_slot *sl;
	uint64_t ino;

	if (!swerve_runtime_enter()) {
		errno = err;
		return;
	}
	if (st == SLOT_PENDING) {
		sl = swerve_fdtrack_current(fd, &ino);
		if (sl != NULL && atomic_load(&sl->state) == SLOT_PENDING) {
			if (rc > 0 ||
			    swerve_fdtrack_tcp_state(fd) == TCP_ESTABLISHED)
				swerve_fdtrack_conclude(fd, sl, ino, 0, 0);
			else if (rc == -1 && swerve_fdtrack_is_failure(err))
				swerve_fdtrack_conclude(fd, sl, ino, err, 0);
		}
	}
	if (io_http(fd))
		swerve_http_io(fd, io, rc, err);
	swerve_runtime_leave();
	errno = err;
}

/*
 * After a call on <fd> that returned <rc> with errno <err>, its slot
 * holding a followed http connection before it: the hot path, which
 * raises the guard without enter's getpid() (http.c says why). The stamp
 * of a write (<wrote>) goes once its bytes are fed.
 */
static void io_follow(int fd, ssize_t rc, int err,
		      const struct swerve_http_io *io, bool wrote)
{
	swerve_runtime_raise();
	swerve_http_io(fd, io, rc, err);
	swerve_runtime_leave();
	if (wrote)
		swerve_http_writing(fd, false);
	errno = err;
}

/*
 * Calls the real function (<call>), then observes it when the slot asks
 * for it; <iov> and <cnt> describe the application's buffers. A write on
 * an http connection is announced before the call (http.c says why).
 */
#define IO_HOOK(fd, in, flags, iov, cnt, call)                             \
	do {                                                               \
		uint32_t st_ = io_state(fd);                               \
		bool wr_ = !(in) && st_ == SLOT_HTTP;                      \
		ssize_t rc_;                                               \
									   \
		if (__builtin_expect(wr_, 0))                              \
			swerve_http_writing((fd), true);                   \
		rc_ = (call);                                              \
		if (__builtin_expect(io_watched(st_), 0)) {                \
			struct swerve_http_io io_ = { (in), (flags), (iov), \
						      (cnt) };             \
									   \
			if (st_ == SLOT_HTTP)                              \
				io_follow((fd), rc_, errno, &io_, wr_);    \
			else                                               \
				io_observe((fd), st_, rc_, errno, &io_);   \
		}                                                          \
		return rc_;                                                \
	} while (0)

/* IO_HOOK for one buffer. */
#define IO_FLAT(fd, in, flags, buf, len, call)                             \
	do {                                                               \
		struct iovec v_ = { (void *)(buf), (len) };                \
									   \
		IO_HOOK(fd, in, flags, &v_, 1, call);                      \
	} while (0)

/* The buffers of a msghdr, for IO_HOOK (none when it is NULL: the call
 * failed with EFAULT). */
#define MSG_IOV(msg) ((msg) != NULL ? (msg)->msg_iov : NULL)
#define MSG_CNT(msg)                                                       \
	((msg) != NULL ? (int)((msg)->msg_iovlen < 1024 ? (msg)->msg_iovlen \
							 : 1024)            \
		       : 0)

/* Bytes moved on <fd> behind swerve's eyes: its tracker gives up. */
static void io_unseen(int fd, int err)
{
	if (swerve_runtime_enter()) {
		if (io_http(fd))
			swerve_http_unseen(fd);
		swerve_runtime_leave();
	}
	errno = err;
}

SWERVE_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	IO_FLAT(fd, true, 0, buf, len, swerve_libc_read(fd, buf, len));
}

SWERVE_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	IO_FLAT(fd, false, 0, buf, len, swerve_libc_write(fd, buf, len));
}

SWERVE_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	IO_FLAT(fd, true, flags, buf, len,
		swerve_libc_recv(fd, buf, len, flags));
}

SWERVE_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	IO_FLAT(fd, false, flags, buf, len,
		swerve_libc_send(fd, buf, len, flags));
}

SWERVE_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
			       struct sockaddr *sa, socklen_t *salen)
{
	IO_FLAT(fd, true, flags, buf, len,
		swerve_libc_recvfrom(fd, buf, len, flags, sa, salen));
}

SWERVE_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			     const struct sockaddr *sa, socklen_t salen)
{
	IO_FLAT(fd, false, flags, buf, len,
		swerve_libc_sendto(fd, buf, len, flags, sa, salen));
}

SWERVE_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	IO_HOOK(fd, true, flags, MSG_IOV(msg), MSG_CNT(msg),
		swerve_libc_recvmsg(fd, msg, flags));
}

SWERVE_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	IO_HOOK(fd, false, flags, MSG_IOV(msg), MSG_CNT(msg),
		swerve_libc_sendmsg(fd, msg, flags));
}

SWERVE_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	IO_HOOK(fd, true, 0, iov, iovcnt, swerve_libc_readv(fd, iov, iovcnt));
}

SWERVE_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	IO_HOOK(fd, false, 0, iov, iovcnt,
		swerve_libc_writev(fd, iov, iovcnt));
}

/*
 * The fortified reads that programs built with _FORTIFY_SOURCE call when
 * the compiler knows the buffer's size (glibc's own read() reaches the
 * kernel without passing through read()). Declared here too: glibc
 * declares them only for fortified builds.
 */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
		       int flags, struct sockaddr *sa, socklen_t *salen);

SWERVE_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len,
				 size_t buflen)
{
	IO_FLAT(fd, true, 0, buf, len,
		swerve_libc___read_chk(fd, buf, len, buflen));
}

SWERVE_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len,
				 size_t buflen, int flags)
{
	IO_FLAT(fd, true, flags, buf, len,
		swerve_libc___recv_chk(fd, buf, len, buflen, flags));
}

SWERVE_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len,
				     size_t buflen, int flags,
				     struct sockaddr *sa, socklen_t *salen)
{
	IO_FLAT(fd, true, flags, buf, len,
		swerve_libc___recvfrom_chk(fd, buf, len, buflen, flags, sa,
					   salen));
}

/*
 * The kernel moves these bytes between the socket and a file or a pipe
 * without the application's buffers: on a followed connection the tracker
 * gives up (copy_file_range, tee and vmsplice never take a socket).
 */
/* After such a call on <fd>, whose slot was <st> before it: <rc>. */
static inline ssize_t io_moved_unseen(int fd, uint32_t st, ssize_t rc)
{
	if (__builtin_expect(rc > 0 && io_watched(st), 0))
		io_unseen(fd, errno);
	return rc;
}

SWERVE_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t len)
{
	uint32_t st = io_state(out);

	return io_moved_unseen(out, st,
			       swerve_libc_sendfile(out, in, off, len));
}

SWERVE_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t len)
{
	uint32_t st = io_state(out);

	return io_moved_unseen(out, st,
			       swerve_libc_sendfile64(out, in, off, len));
}

SWERVE_EXPORT ssize_t splice(int in, off64_t *in_off, int out,
			     off64_t *out_off, size_t len, unsigned int flags)
{
	uint32_t st_in = io_state(in), st_out = io_state(out);
	ssize_t rc = swerve_libc_splice(in, in_off, out, out_off, len, flags);

	io_moved_unseen(in, st_in, rc);
	return io_moved_unseen(out, st_out, rc);
}
