# The poller interface: the only thing the loop core knows about readiness I/O.
#
# A backend (epoll today; io_uring or kqueue later) keeps the interest set
# (which fds, read and/or write) and, on poll(), reports which of them are
# ready.  The loop never sees a backend's own structures, so a new backend is
# one new subclass and one line in the factory (aioloop._core.backends).

cdef enum:
    EV_READ = 1
    EV_WRITE = 2


cdef class Poller:
    # Number of (fd, events) pairs the last poll() reported.
    cdef int nready
    # Number of fds watched for any event.
    cdef int nwatched

    # Set the events fd is watched for; 0 stops watching it.  Errors the
    # caller should see (bad fd, a regular file) raise OSError like asyncio's
    # selectors do.
    cdef int set_interest(self, int fd, int events) except -1
    # Forget fd without telling the kernel (it was closed already).
    cdef int forget(self, int fd) except -1
    # Wait up to timeout_ns (-1: no limit, 0: do not block) and fill the ready
    # list; returns the count.  Releases the GIL while blocked.
    cdef int poll(self, long long timeout_ns) except -1
    cdef int ready_fd(self, int i) noexcept
    cdef int ready_events(self, int i) noexcept
    # In a child after fork(): stop sharing kernel state with the parent.
    cdef int after_fork(self) except -1
    cdef int close(self) except -1
