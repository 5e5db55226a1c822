# The epoll backend of the poller interface.

from libc.stdint cimport uint32_t, uint64_t
from aioloop._core.poller cimport Poller

cdef extern from "<sys/epoll.h>" nogil:
    cdef union epoll_data:
        void *ptr
        int fd
        uint32_t u32
        uint64_t u64
    cdef struct epoll_event:
        uint32_t events
        epoll_data data


cdef class EpollPoller(Poller):
    cdef int _epfd
    cdef epoll_event *_events     # filled by epoll_wait
    cdef int _max_events
    # Per fd: the events we asked the kernel for, and the generation of the
    # registration (see epoll.pyx: stale events from a closed fd's twin).
    cdef unsigned char *_interest
    cdef uint32_t *_generation
    cdef int _table_size
    cdef uint32_t _next_generation
    cdef bint _needs_rebuild
    # poll() leaves (fd, events) pairs here, already translated to EV_*.
    cdef int *_ready_fds
    cdef int *_ready_events

    cdef int _ensure_table(self, int fd) except -1
    cdef int _ctl(self, int op, int fd, int events) noexcept
    cdef int _rebuild(self) except -1
