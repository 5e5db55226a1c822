# cython: language_level=3
"""The abstract poller (see poller.pxd for the contract)."""


cdef class Poller:

    cdef int set_interest(self, int fd, int events) except -1:
        raise NotImplementedError

    cdef int forget(self, int fd) except -1:
        raise NotImplementedError

    cdef int poll(self, long long timeout_ns) except -1:
        raise NotImplementedError

    cdef int ready_fd(self, int i) noexcept:
        return -1

    cdef int ready_events(self, int i) noexcept:
        return 0

    cdef int after_fork(self) except -1:
        raise NotImplementedError

    cdef int close(self) except -1:
        return 0
