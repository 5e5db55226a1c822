# The I/O system calls the compiled modules make, declared once: rawio.h
# calls them without glibc's cancellation-point bracketing (see there).

from libc.errno cimport EAGAIN, EINTR

cdef extern from "<sys/socket.h>" nogil:
    int MSG_NOSIGNAL

cdef extern from "<sys/uio.h>" nogil:
    cdef struct iovec:
        void *iov_base
        size_t iov_len

cdef extern from "<sys/socket.h>" nogil:
    cdef struct msghdr:
        void *msg_name
        unsigned int msg_namelen
        iovec *msg_iov
        size_t msg_iovlen
        void *msg_control
        size_t msg_controllen
        int msg_flags

cdef extern from "rawio.h" nogil:
    ssize_t send "aioloop_send"(int fd, const void *buf, size_t n, int flags)
    ssize_t recv "aioloop_recv"(int fd, void *buf, size_t n, int flags)
    ssize_t writev "aioloop_writev"(int fd, const iovec *iov, int iovcnt)
    ssize_t sendmsg "aioloop_sendmsg"(int fd, const msghdr *msg, int flags)
    ssize_t read "aioloop_read"(int fd, void *buf, size_t n)
    ssize_t write "aioloop_write"(int fd, const void *buf, size_t n)


cdef inline bint would_block(int err) noexcept:
    # Try again later: EWOULDBLOCK is EAGAIN on Linux, and EINTR comes back
    # on the next readiness event.
    return err == EAGAIN or err == EINTR
