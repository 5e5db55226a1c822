# cython: language_level=3
"""Readiness polling with Linux epoll (level-triggered).

Why generations: epoll registers a (fd number, open file) pair and keeps it
while any descriptor still refers to that file.  If a program closes an fd
that is still registered while a dup of it lives on (a forked child, a
socket.dup()), the kernel keeps reporting events for a number we no longer
know, and since close() already happened, EPOLL_CTL_DEL on that number can't
remove it: loops that ignore this spin at 100% CPU or deliver the old file's
events to whatever reuses the number.  Each registration here carries a
generation in the event's data; an event whose generation is not the fd's
current one comes from such a ghost, and the poller rebuilds its epoll set
from its own table, which drops the ghost for good.
"""

from libc.errno cimport errno, EINTR, ENOENT, EEXIST, EBADF
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport calloc, realloc, free
from libc.string cimport memset
from cpython.exc cimport PyErr_CheckSignals
from aioloop._core.oserror cimport raise_oserror

from aioloop._core.poller cimport Poller, EV_READ, EV_WRITE

cdef extern from "<sys/epoll.h>" nogil:
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event *event)
    int EPOLL_CLOEXEC
    int EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL
    uint32_t EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP

cdef extern from "<unistd.h>" nogil:
    int close(int fd)

cdef extern from "epoll_compat.h" nogil:
    int aioloop_epoll_wait_ns(int epfd, epoll_event *events, int maxevents,
                              long long timeout_ns)

cdef enum:
    MAX_EVENTS = 1024


cdef inline uint32_t _to_epoll(int events) noexcept:
    cdef uint32_t mask = 0
    if events & EV_READ:
        mask |= EPOLLIN
    if events & EV_WRITE:
        mask |= EPOLLOUT
    return mask


cdef class EpollPoller(Poller):

    def __cinit__(self):
        self._epfd = epoll_create1(EPOLL_CLOEXEC)
        if self._epfd < 0:
            raise_oserror()
        self._max_events = MAX_EVENTS
        self._events = <epoll_event*>calloc(MAX_EVENTS, sizeof(epoll_event))
        self._ready_fds = <int*>calloc(MAX_EVENTS, sizeof(int))
        self._ready_events = <int*>calloc(MAX_EVENTS, sizeof(int))
        if self._events == NULL or self._ready_fds == NULL or self._ready_events == NULL:
            raise MemoryError()
        self._next_generation = 1

    def __dealloc__(self):
        if self._epfd >= 0:
            close(self._epfd)
            self._epfd = -1
        free(self._events)
        free(self._ready_fds)
        free(self._ready_events)
        free(self._interest)
        free(self._generation)

    def fileno(self):
        """The epoll fd (for tests and diagnostics)."""
        return self._epfd

    cdef int _ensure_table(self, int fd) except -1:
        cdef int size = self._table_size if self._table_size else 64
        cdef unsigned char *interest
        cdef uint32_t *generation
        if fd < self._table_size:
            return 0
        while size <= fd:
            size *= 2
        interest = <unsigned char*>realloc(self._interest, size * sizeof(unsigned char))
        if interest == NULL:
            raise MemoryError()
        self._interest = interest
        generation = <uint32_t*>realloc(self._generation, size * sizeof(uint32_t))
        if generation == NULL:
            raise MemoryError()
        self._generation = generation
        memset(&self._interest[self._table_size], 0, (size - self._table_size) * sizeof(unsigned char))
        memset(&self._generation[self._table_size], 0, (size - self._table_size) * sizeof(uint32_t))
        self._table_size = size
        return 0

    cdef int _ctl(self, int op, int fd, int events) noexcept:
        cdef epoll_event ev
        ev.events = _to_epoll(events)
        ev.data.u64 = (<uint64_t>self._generation[fd] << 32) | <uint32_t>fd
        return epoll_ctl(self._epfd, op, fd, &ev)

    cdef int set_interest(self, int fd, int events) except -1:
        cdef int old
        cdef int rc
        if fd < 0:
            raise ValueError(f"Invalid file descriptor: {fd}")
        self._ensure_table(fd)
        old = self._interest[fd]
        if old == events:
            return 0
        if events == 0:
            # The fd may be closed already (EBADF) or closed and reused
            # (ENOENT); either way the kernel holds nothing for us to remove.
            self._interest[fd] = 0
            self.nwatched -= 1
            if self._epfd >= 0 and self._ctl(EPOLL_CTL_DEL, fd, 0) < 0:
                if errno != EBADF and errno != ENOENT:
                    raise_oserror()
                # If a dup of the old file lives on, the kernel still holds
                # its registration; a new generation marks any event from it
                # as a ghost (see poll()).
                self._generation[fd] = self._next_generation
                self._next_generation += 1
            return 0
        if old == 0:
            self._generation[fd] = self._next_generation
            self._next_generation += 1
            rc = self._ctl(EPOLL_CTL_ADD, fd, events)
            if rc < 0 and errno == EEXIST:
                # Registered by a previous owner of this fd number that we
                # were told was gone; take the registration over.
                rc = self._ctl(EPOLL_CTL_MOD, fd, events)
        else:
            rc = self._ctl(EPOLL_CTL_MOD, fd, events)
            if rc < 0 and errno == ENOENT:
                # Closed and reused behind our back: the kernel dropped the
                # old registration when the old file closed.
                self._generation[fd] = self._next_generation
                self._next_generation += 1
                rc = self._ctl(EPOLL_CTL_ADD, fd, events)
        if rc < 0:
            raise_oserror()
        if old == 0:
            self.nwatched += 1
        self._interest[fd] = events
        return 0

    cdef int forget(self, int fd) except -1:
        if 0 <= fd < self._table_size:
            if self._interest[fd]:
                self.nwatched -= 1
            self._interest[fd] = 0
            self._generation[fd] = self._next_generation
            self._next_generation += 1
        return 0

    cdef int _rebuild(self) except -1:
        # A fresh epoll set holding exactly what our table says; fds that are
        # no longer open are dropped from it.
        cdef int fd
        cdef int epfd = epoll_create1(EPOLL_CLOEXEC)
        if epfd < 0:
            raise_oserror()
        if self._epfd >= 0:
            close(self._epfd)
        self._epfd = epfd
        self._needs_rebuild = False
        for fd in range(self._table_size):
            if self._interest[fd]:
                self._generation[fd] = self._next_generation
                self._next_generation += 1
                if self._ctl(EPOLL_CTL_ADD, fd, self._interest[fd]) < 0:
                    self._interest[fd] = 0
                    self.nwatched -= 1
        return 0

    cdef int poll(self, long long timeout_ns) except -1:
        cdef int n, i, j, fd, events
        cdef uint32_t mask
        cdef uint64_t data
        if self._needs_rebuild:
            self._rebuild()
        if timeout_ns == 0:
            n = aioloop_epoll_wait_ns(self._epfd, self._events, self._max_events, 0)
            # A busy loop whose callbacks run no Python code (C futures,
            # C callbacks) would otherwise never run Python-level signal
            # handlers: Ctrl-C could not stop it.
            PyErr_CheckSignals()
        else:
            with nogil:
                n = aioloop_epoll_wait_ns(self._epfd, self._events, self._max_events, timeout_ns)
        if n < 0:
            self.nready = 0
            if errno == EINTR:
                # A signal: run Python-level handlers now (a default SIGINT
                # raises KeyboardInterrupt here, as asyncio's selector does).
                PyErr_CheckSignals()
                return 0
            raise_oserror()
        j = 0
        for i in range(n):
            data = self._events[i].data.u64
            fd = <int>(data & 0xffffffffu)
            if fd >= self._table_size or <uint32_t>(data >> 32) != self._generation[fd]:
                # A ghost (see the module docstring): rebuild before the next
                # wait, which drops it.
                self._needs_rebuild = True
                continue
            mask = self._events[i].events
            events = 0
            if mask & (EPOLLIN | EPOLLERR | EPOLLHUP):
                events |= EV_READ
            if mask & (EPOLLOUT | EPOLLERR | EPOLLHUP):
                events |= EV_WRITE
            events &= self._interest[fd]
            if events:
                self._ready_fds[j] = fd
                self._ready_events[j] = events
                j += 1
        self.nready = j
        return j

    cdef int ready_fd(self, int i) noexcept:
        return self._ready_fds[i]

    cdef int ready_events(self, int i) noexcept:
        return self._ready_events[i]

    cdef int after_fork(self) except -1:
        # The child's copy of the epoll fd is the parent's epoll set: a
        # change made here would change the parent's.  Build our own.
        self._rebuild()
        return 0

    cdef int close(self) except -1:
        if self._epfd >= 0:
            close(self._epfd)
            self._epfd = -1
        return 0
