/* The loop's I/O system calls, without the C library's cancellation points.
 *
 * recv, send, sendmsg, writev, read, write and epoll_wait are POSIX
 * cancellation points: in a process with more than one thread (any program
 * with an executor, a logging thread, a watchdog), glibc brackets each call
 * with two atomic updates of the thread's cancellation state so that
 * pthread_cancel() can interrupt it.  CPython never cancels threads, and on
 * a server making two such calls per request the bracketing was about a
 * sixth of the user CPU the loop spent (perf, echo benchmark).  These
 * wrappers make the same system calls through syscall(), which has no
 * cancellation handling; results and errno are the same.
 */
#ifndef AIOLOOP_RAWIO_H
#define AIOLOOP_RAWIO_H

#include <stddef.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static inline ssize_t aioloop_recv(int fd, void *buf, size_t n, int flags) {
    return (ssize_t)syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
}

static inline ssize_t aioloop_send(int fd, const void *buf, size_t n, int flags) {
    return (ssize_t)syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
}

static inline ssize_t aioloop_sendmsg(int fd, const struct msghdr *msg, int flags) {
    return (ssize_t)syscall(SYS_sendmsg, fd, msg, flags);
}

static inline ssize_t aioloop_writev(int fd, const struct iovec *iov, int iovcnt) {
    return (ssize_t)syscall(SYS_writev, fd, iov, iovcnt);
}

static inline ssize_t aioloop_read(int fd, void *buf, size_t n) {
    return (ssize_t)syscall(SYS_read, fd, buf, n);
}

static inline ssize_t aioloop_write(int fd, const void *buf, size_t n) {
    return (ssize_t)syscall(SYS_write, fd, buf, n);
}

/* epoll_wait(2) as epoll_pwait(2) with no signal mask, which every
   architecture has (some lack plain epoll_wait). */
static inline int aioloop_epoll_wait(int epfd, struct epoll_event *events,
                                     int maxevents, int timeout_ms) {
    return (int)syscall(SYS_epoll_pwait, epfd, events, maxevents, timeout_ms, NULL, (size_t)(_NSIG / 8));
}

#endif
