# cython: language_level=3
"""The loop core: one iteration = poll, expire timers, run the ready batch.

One iteration of ``_run_once`` (the whole scheduler fits on a screen):

1. Poll.  With nothing ready, block in the poller until the first timer is
   due (or forever).  With callbacks ready, do not block, and poll at all
   only when ``_poll_interval_ns`` has passed since the last poll: a poll is
   a system call (about 160 ns here), so polling before every callback of a
   busy chain would halve its speed, while never polling would starve I/O.
2. Move every timer whose deadline has passed to the ready queue.
3. Run the callbacks that are ready now; those they schedule run in the next
   iteration (asyncio's rule, which stop() relies on).
"""

cimport cython
from cpython.ref cimport PyObject, Py_INCREF, Py_XDECREF, Py_DECREF
from libc.errno cimport errno
from libc.stdint cimport uint64_t, int64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memset
from aioloop._core.oserror cimport raise_oserror

import os
import threading
import weakref
from asyncio import Future as _Future, Task as _Task

from aioloop._core.clock cimport monotonic_ns, seconds_to_ns_ceil
from aioloop._core.handles cimport (LoopBase, Handle, TimerHandle, IOTarget, new_handle,
                                    keep_spare_handle,
                                    new_io_handle, new_timer)
from aioloop._core.ready_queue cimport ReadyQueue
from aioloop._core.timers cimport TimerHeap
from aioloop._core.poller cimport Poller, EV_READ, EV_WRITE
from aioloop._core.epoll cimport EpollPoller
from aioloop._core.readsize cimport SMALL_DIRECT_READ
from aioloop._core import debug as _debughelp

cdef extern from "<sys/eventfd.h>" nogil:
    int eventfd(unsigned int initval, int flags)
    int EFD_NONBLOCK, EFD_CLOEXEC

cdef extern from "<unistd.h>" nogil:
    int close(int fd)

from cpython.bytes cimport PyBytes_FromStringAndSize

cdef extern from "recvbytes.h":
    void aioloop_bytes_reopen(object b, Py_ssize_t size)

from aioloop._core.rawio cimport read, write


# Default gap between polls while callbacks keep the loop busy (see module
# docstring).  A poll (epoll_wait with timeout 0) costs about 160 ns of
# system call; at 2 us a sleep(0) ping-pong spent 8% of its time polling,
# at 5 us about 3%.  3 us keeps a readable fd's median wait under a storm
# of callbacks within 1.5x uvloop's (which polls before every callback);
# at 5 us it was 1.9-2.1x (benchmarks/fairness.py).
cdef int64_t DEFAULT_POLL_INTERVAL_NS = 3000
# Bounds on the iterations between busy polls (see _run_once).
cdef Py_ssize_t MAX_POLL_EVERY = 64


cdef inline Py_ssize_t _iterations_per_interval(int64_t interval_ns, int64_t per_iteration) noexcept:
    if per_iteration <= 0:
        return MAX_POLL_EVERY
    cdef int64_t n = interval_ns // per_iteration
    if n < 1:
        return 1
    if n > MAX_POLL_EVERY:
        return MAX_POLL_EVERY
    return <Py_ssize_t>n

# Loops alive in this process, so a forked child can give each its own kernel
# state (poller, wake-up fd).
_all_loops = weakref.WeakSet()


def _after_fork_in_child():
    for loop in list(_all_loops):
        (<CoreLoop>loop)._after_fork_core()


os.register_at_fork(after_in_child=_after_fork_in_child)


cdef inline int _make_eventfd() except -1:
    cdef int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
    if fd < 0:
        raise_oserror()
    return fd


cdef inline void _forget(Handle handle) noexcept:
    # A handle that will never run (its loop is closing) lets go of what it
    # would have called, as cancel() does.
    handle._callback = None
    handle._args = None
    handle._io_target = None


cdef class CoreLoop(LoopBase):

    def __cinit__(self):
        self._ready = ReadyQueue()
        self._timers = TimerHeap()
        self._poller = EpollPoller()
        self._wake_fd = -1
        self._thread_id = None
        self._current_handle = None
        self._instrument = None
        self._slow_callback_duration = 0.1
        self._stamp = &self._stamp_local
        self._poll_interval_ns = DEFAULT_POLL_INTERVAL_NS
        self._poll_every = 1
        self._wake_fd = _make_eventfd()
        self._poller.set_interest(self._wake_fd, EV_READ)
        _all_loops.add(self)

    def __dealloc__(self):
        cdef int fd
        free(self._recv_buffer)
        self._recv_buffer = NULL
        if self._readers != NULL or self._writers != NULL:
            for fd in range(self._fd_capacity):
                Py_XDECREF(self._readers[fd])
                Py_XDECREF(self._writers[fd])
        free(self._readers)
        free(self._writers)
        if self._wake_fd >= 0:
            close(self._wake_fd)
            self._wake_fd = -1

    cdef char *recv_buffer(self) except NULL:
        if self._recv_buffer == NULL:
            self._recv_buffer = <char*>malloc(RECV_BUFFER_SIZE)
            if self._recv_buffer == NULL:
                raise MemoryError()
        return self._recv_buffer

    cdef object take_read_bytes(self, Py_ssize_t want, Py_ssize_t *cap, bint small):
        # A bytes object of `want` bytes to receive into, which nothing else
        # references: the spare one when it is large enough, else a new
        # one.  *cap is set to how many bytes its block holds.  A small
        # read (`small`, want == SMALL_DIRECT_READ) has a spare of its own,
        # so that small reads never cut down the block large ones reuse.
        cdef Py_ssize_t spare_cap
        if small:
            spare = self._small_spare
            spare_cap = SMALL_DIRECT_READ
        else:
            spare = self._spare_bytes
            spare_cap = self._spare_cap
        if spare is not None and spare_cap >= want:
            if small:
                self._small_spare = None
            else:
                self._spare_bytes = None
            aioloop_bytes_reopen(spare, want)
            cap[0] = spare_cap
            self._read_bytes_reused += 1
            return spare
        cap[0] = want
        return PyBytes_FromStringAndSize(NULL, want)

    cdef void keep_read_bytes(self, object data, Py_ssize_t cap, bint small) noexcept:
        # `data` came from take_read_bytes() and its caller holds the only
        # reference to it: nobody can see it change, so the next read may
        # reuse it instead of a malloc() and a free() per read.  (A small
        # read's block is always whole: SMALL_DIRECT_READ bytes.)
        if small:
            self._small_spare = data
        else:
            self._spare_bytes = data
            self._spare_cap = cap

    # -- the clock ---------------------------------------------------------

    def time(self):
        """Return the loop's time: time.monotonic()'s clock, in seconds."""
        return monotonic_ns() / 1e9

    # -- futures ---------------------------------------------------------------

    def create_future(self):
        """Return a new asyncio.Future bound to this loop."""
        # Here rather than in the Python layer: every awaited socket
        # operation, stream read and sleep makes one.
        return _Future(loop=self)

    def create_task(self, coro, *, name=None, context=None):
        """Wrap coro in a Task (or the task factory's object) and schedule it.

        Raises RuntimeError if the loop is closed.
        """
        if self._closed:
            raise RuntimeError('Event loop is closed')
        if self._task_factory is not None:
            return self._create_task_with_factory(coro, name, context)
        # (Compiled code has no Python frame, so a debug-mode creation
        # traceback already ends at the caller.)  Keywords that are None
        # are left out: each one passed costs the call a dict entry and
        # Task.__init__ a keyword match.
        if context is None:
            if name is None:
                return _Task(coro, loop=self)
            return _Task(coro, loop=self, name=name)
        return _Task(coro, loop=self, name=name, context=context)

    # -- scheduling ----------------------------------------------------------

    cdef int _check_closed(self) except -1:
        if self._closed:
            raise RuntimeError('Event loop is closed')
        return 0

    cdef Handle _call_soon(self, object callback, tuple args, object context):
        cdef Handle h = new_handle(callback, args, self, context)
        self._ready.push(h)
        return h

    cdef TimerHandle _call_at(self, double when, object callback, tuple args, object context):
        cdef TimerHandle t = new_timer(when, callback, args, self, context)
        self._timers.push(t)
        return t

    cdef int _timer_cancelled(self, TimerHandle timer) except -1:
        self._timers.note_cancelled()
        return 0

    def call_soon(self, callback, *args, context=None):
        """Schedule callback(*args) for the next iteration (FIFO).

        Raises RuntimeError if the loop is closed; in debug mode also
        TypeError for a coroutine or non-callable, and RuntimeError when
        called from a thread other than the loop's.
        """
        # Replaced at import by hotmethods.pyx's entry point (same behaviour); kept
        # as the readable reference and for introspection.
        if self._closed:
            raise RuntimeError('Event loop is closed')
        if self._debug:
            self._check_thread()
            self._check_callback(callback, 'call_soon')
        return self._call_soon(callback, args, context)

    def call_soon_threadsafe(self, callback, *args, context=None):
        """Like call_soon(), from any thread; wakes the loop if it sleeps."""
        if self._closed:
            raise RuntimeError('Event loop is closed')
        if self._debug:
            self._check_callback(callback, 'call_soon_threadsafe')
        h = self._call_soon(callback, args, context)
        # Both this thread and the loop hold the GIL while touching
        # _sleeping and the queue, so either the loop has not yet decided to
        # block (and will see the new handle) or it is blocked and needs the
        # wake-up write.
        if self._sleeping:
            self._write_wake()
        return h

    def call_later(self, delay, callback, *args, context=None):
        """Schedule callback(*args) after delay seconds; returns a TimerHandle."""
        if delay is None:
            raise TypeError('delay must not be None')
        if self._closed:
            raise RuntimeError('Event loop is closed')
        if self._debug:
            self._check_thread()
            self._check_callback(callback, 'call_later')
        return self._call_at(monotonic_ns() / 1e9 + delay, callback, args, context)

    def call_at(self, when, callback, *args, context=None):
        """Schedule callback(*args) at loop time `when`; returns a TimerHandle."""
        if when is None:
            raise TypeError('when cannot be None')
        if self._closed:
            raise RuntimeError('Event loop is closed')
        if self._debug:
            self._check_thread()
            self._check_callback(callback, 'call_at')
        return self._call_at(when, callback, args, context)

    def _check_thread(self):
        # asyncio's debug-mode guard against using the loop from another
        # thread (only call_soon_threadsafe may be).
        if self._thread_id is None:
            return
        if threading.get_ident() != self._thread_id:
            raise RuntimeError(
                "Non-thread-safe operation invoked on an event loop other "
                "than the current one")

    def _check_callback(self, callback, method):
        _debughelp.check_callback(callback, method)

    def _write_to_self(self):
        """Wake the loop from the poller (asyncio's name for it)."""
        self._write_wake()

    cdef int _write_wake(self) noexcept:
        cdef uint64_t one = 1
        if self._wake_fd >= 0:
            # EAGAIN means the counter is already non-zero: already woken.
            write(self._wake_fd, &one, sizeof(one))
        return 0

    cdef int _drain_wake(self) noexcept:
        cdef uint64_t value
        read(self._wake_fd, &value, sizeof(value))
        return 0

    # -- readiness I/O -------------------------------------------------------

    cdef int _ensure_fd_capacity(self, int fd) except -1:
        cdef int size = self._fd_capacity if self._fd_capacity else 64
        cdef PyObject **readers
        cdef PyObject **writers
        if fd < self._fd_capacity:
            return 0
        while size <= fd:
            size *= 2
        readers = <PyObject**>realloc(self._readers, size * sizeof(PyObject*))
        if readers == NULL:
            raise MemoryError()
        self._readers = readers
        writers = <PyObject**>realloc(self._writers, size * sizeof(PyObject*))
        if writers == NULL:
            raise MemoryError()
        self._writers = writers
        memset(&self._readers[self._fd_capacity], 0, (size - self._fd_capacity) * sizeof(PyObject*))
        memset(&self._writers[self._fd_capacity], 0, (size - self._fd_capacity) * sizeof(PyObject*))
        self._fd_capacity = size
        return 0

    cdef int _interest_of(self, int fd) noexcept:
        cdef int events = 0
        if fd < self._fd_capacity:
            if self._readers[fd] != NULL:
                events |= EV_READ
            if self._writers[fd] != NULL:
                events |= EV_WRITE
        return events

    cdef Handle _add_io(self, int fd, int kind, object callback, tuple args):
        self._check_closed()
        cdef Handle h = new_handle(callback, args, self, None)
        h._persistent = True
        h._own_context()     # runs many times: its context must be its own
        return self._install_io(fd, kind, h)

    cdef Handle _add_io_target(self, int fd, int kind, IOTarget target, int token):
        self._check_closed()
        return self._install_io(fd, kind, new_io_handle(target, token, self))

    cdef Handle _install_io(self, int fd, int kind, Handle h):
        cdef PyObject **slot
        cdef PyObject *old
        if fd < 0:
            raise ValueError(f"Invalid file descriptor: {fd}")
        self._ensure_fd_capacity(fd)
        slot = &self._readers[fd] if kind == EV_READ else &self._writers[fd]
        old = slot[0]
        if old != NULL and (<Handle>old)._parked:
            # The fd may be another file by now: let the poller register it
            # again instead of trusting its table (ADD, or MOD if the kernel
            # still has the old registration).
            self._poller.forget(fd)
        # Ask the kernel first: a bad fd or a regular file raises here and
        # leaves no half-registered state behind.
        self._poller.set_interest(fd, self._interest_of(fd) | kind)
        Py_INCREF(h)
        slot[0] = <PyObject*>h
        if old != NULL:
            (<Handle>old).cancel()
            Py_XDECREF(old)
        return h

    cdef bint _remove_io(self, int fd, int kind) except -1:
        cdef PyObject **slot
        cdef PyObject *old
        cdef bint parked
        if fd < 0 or fd >= self._fd_capacity:
            return False
        slot = &self._readers[fd] if kind == EV_READ else &self._writers[fd]
        old = slot[0]
        if old == NULL:
            return False
        slot[0] = NULL
        try:
            self._poller.set_interest(fd, self._interest_of(fd))
        finally:
            (<Handle>old).cancel()
            parked = (<Handle>old)._parked
            Py_XDECREF(old)
        # A parked registration was nobody's: report that nothing was watched.
        return not parked

    def _add_reader(self, fd, callback, *args):
        """Watch fd (an int) for reading, replacing any reader; returns the Handle."""
        return self._add_io(fd, EV_READ, callback, args)

    def _add_writer(self, fd, callback, *args):
        """Watch fd (an int) for writing, replacing any writer; returns the Handle."""
        return self._add_io(fd, EV_WRITE, callback, args)

    def _make_handle(self, callback, tuple args):
        """A reusable Handle for callback(*args) (e.g. a signal handler),
        not scheduled yet."""
        cdef Handle h = new_handle(callback, args, self, None)
        h._persistent = True
        h._own_context()
        return h

    def _add_callback(self, Handle handle):
        """Queue an existing handle for the next iteration (unless cancelled)."""
        if not handle._cancelled:
            self._ready.push(handle)

    def _add_callback_signalsafe(self, Handle handle):
        """_add_callback() and wake the loop: safe from another thread."""
        self._add_callback(handle)
        if self._sleeping:
            self._write_wake()

    def _remove_reader(self, fd):
        """Stop watching fd for reading; True if a reader was registered."""
        if self._closed:
            return False
        return self._remove_io(fd, EV_READ)

    def _remove_writer(self, fd):
        """Stop watching fd for writing; True if a writer was registered."""
        if self._closed:
            return False
        return self._remove_io(fd, EV_WRITE)

    def _get_reader(self, int fd):
        """The Handle watching fd for reading, or None."""
        if (0 <= fd < self._fd_capacity and self._readers[fd] != NULL
                and not (<Handle>self._readers[fd])._parked):
            return <object>self._readers[fd]
        return None

    def _get_writer(self, int fd):
        """The Handle watching fd for writing, or None."""
        if 0 <= fd < self._fd_capacity and self._writers[fd] != NULL:
            return <object>self._writers[fd]
        return None

    # -- running ---------------------------------------------------------------

    def stop(self):
        """Stop after the current batch of callbacks (asyncio's semantics)."""
        self._stopping = True

    def is_running(self):
        """Return True while run_forever()/run_until_complete() runs."""
        return self._thread_id is not None

    def is_closed(self):
        """Return True once close() was called."""
        return self._closed

    def get_debug(self):
        """Return True if debug mode is on."""
        return self._debug

    def set_debug(self, enabled):
        """Turn debug mode on or off."""
        self._debug = bool(enabled)

    @property
    def slow_callback_duration(self):
        """Seconds a callback may run before debug mode logs it as slow."""
        return self._slow_callback_duration

    @slow_callback_duration.setter
    def slow_callback_duration(self, value):
        self._slow_callback_duration = value

    def _set_instrument(self, instrument):
        """Install an observer with callback_start(h)/callback_end(h)/
        poll_start(timeout_s)/poll_end(nevents) methods, or None to remove it."""
        self._instrument = instrument

    def _stamp_values(self):
        """(seq, iteration_ns, poll_count, polling): the watchdog's view."""
        return (self._stamp.seq, self._stamp.iteration_ns,
                self._stamp.poll_count, self._stamp.polling)

    def _run_forever_core(self):
        """Iterate until stop(); the Python layer does the set-up around it."""
        # The first iteration of every run polls, as every asyncio iteration
        # does: run_until_complete() of a future that is already done runs a
        # single iteration, and I/O that is ready by then must be seen.
        self._iterations_since_poll = self._poll_every
        self._bound_call_soon = CoreLoop.call_soon.__get__(self, type(self))
        self._bound_get_debug = CoreLoop.get_debug.__get__(self, type(self))
        try:
            while True:
                self._run_once()
                if self._stopping:
                    break
        finally:
            # The bound methods reference the loop: dropped after each run,
            # they keep no cycle alive once it ends.
            self._bound_call_soon = None
            self._bound_get_debug = None

    cdef int _poll(self, int64_t timeout_ns) except -1:
        cdef int n
        cdef object instrument = self._instrument
        if instrument is not None:
            instrument.poll_start(timeout_ns / 1e9 if timeout_ns >= 0 else None)
        self._stamp.polling = 1
        self._stamp.poll_count += 1
        if timeout_ns != 0:
            self._sleeping = True
        try:
            n = self._poller.poll(timeout_ns)
        finally:
            self._sleeping = False
            self._stamp.polling = 0
        if instrument is not None:
            instrument.poll_end(n)
        if n:
            self._dispatch_io(n)
        return 0

    cdef int _dispatch_io(self, int n) except -1:
        cdef int i, fd, events
        cdef PyObject *h
        for i in range(n):
            fd = self._poller.ready_fd(i)
            events = self._poller.ready_events(i)
            if fd == self._wake_fd:
                self._drain_wake()
                continue
            if fd >= self._fd_capacity:
                continue
            if events & EV_READ:
                h = self._readers[fd]
                if h != NULL:
                    if (<Handle>h)._cancelled:
                        self._remove_io(fd, EV_READ)
                    else:
                        self._ready.push(<object>h)
            if events & EV_WRITE:
                h = self._writers[fd]
                if h != NULL:
                    if (<Handle>h)._cancelled:
                        self._remove_io(fd, EV_WRITE)
                    else:
                        self._ready.push(<object>h)
        return 0

    cdef int _run_once(self) except -1:
        cdef int64_t now = 0
        cdef int64_t timeout, per_iteration
        cdef double now_s, wait_s
        cdef Py_ssize_t ntodo
        cdef PyObject *item
        cdef Handle h

        if self._ready._size == 0 and not self._stopping:
            # Idle: block until I/O or the first timer.
            timeout = -1
            if self._timers._cancelled:
                self._timers.drop_cancelled_head()
            if self._timers._size:
                now = monotonic_ns()
                wait_s = self._timers.first_when() - now / 1e9
                timeout = seconds_to_ns_ceil(wait_s) if wait_s > 0 else 0
            self._poll(timeout)
            now = monotonic_ns()
            self._last_poll_ns = now
            self._iterations_since_poll = 0
        else:
            # Busy: poll without blocking once about _poll_interval_ns of
            # work has passed.  Reading the clock costs ~20 ns, as much as a
            # fifth of a short callback, so instead of reading it every
            # iteration we count iterations and re-estimate, at each poll,
            # how many iterations make an interval.  With no fd watched but
            # the wake-up eventfd, a busy poll can find nothing the loop
            # needs: call_soon_threadsafe() writes the eventfd only to a
            # sleeping loop, and a busy one sees the handle in the queue.
            self._iterations_since_poll += 1
            if self._stopping or self._iterations_since_poll >= self._poll_every:
                now = monotonic_ns()
                per_iteration = (now - self._last_poll_ns) // self._iterations_since_poll
                self._poll_every = _iterations_per_interval(self._poll_interval_ns, per_iteration)
                self._last_poll_ns = now
                self._iterations_since_poll = 0
                if self._stopping or self._poller.nwatched > 1:
                    self._poll(0)
            elif self._timers._size:
                now = monotonic_ns()

        if now:
            self._stamp.iteration_ns = now
        if self._timers._size:
            now_s = now / 1e9
            while self._timers._size and self._timers.first_when() <= now_s:
                h = self._timers.pop()
                if not h._cancelled:
                    self._ready.push(h)

        # Only the callbacks ready now: those they schedule wait for the next
        # iteration, so a stop() issued in this batch takes effect after it.
        ntodo = self._ready._size
        while ntodo > 0:
            ntodo -= 1
            item = self._ready.pop_owned()
            h = <Handle>item          # a new reference...
            Py_DECREF(h)              # ...replacing the queue's
            if h._cancelled:
                continue
            self._stamp.seq += 1
            self._current_handle = h
            if self._debug or self._instrument is not None:
                self._run_handle_slow(h)
            else:
                h._execute()
            if not h._persistent:
                # Break obj -> handle -> obj cycles (handles are not GC
                # tracked, see handles.pyx).
                h._callback = None
                h._args = None
                # Held here by `h` and _current_handle only: the next
                # call_soon() may reuse it.
                keep_spare_handle(self, h, 2)
        self._current_handle = None
        return 0

    cdef int _run_handle_slow(self, Handle handle) except -1:
        cdef int64_t t0
        cdef object instrument = self._instrument
        if instrument is not None:
            instrument.callback_start(handle)
        try:
            if self._debug:
                t0 = monotonic_ns()
                handle._execute()
                _debughelp.check_slow_callback(
                    handle, (monotonic_ns() - t0) / 1e9, self._slow_callback_duration)
            else:
                handle._execute()
        finally:
            if instrument is not None:
                instrument.callback_end(handle)
        return 0

    # -- teardown and fork -----------------------------------------------------

    def _close_core(self):
        """Drop every queued callback, timer and watched fd; free kernel state."""
        cdef int fd
        cdef PyObject *h
        cdef Handle handle
        self._closed = True
        # What never ran lets go of its callback and arguments, as a
        # cancelled handle does: handles are invisible to the cyclic GC, so
        # a timer held by the very coroutine it would wake (sleep()'s frame
        # -> handle -> future -> task -> frame) would otherwise keep that
        # task, and the loop, alive for ever, and the task could never
        # report "Task was destroyed but it is pending!".
        # The same for reader and writer registrations: a parked sock_recv
        # registration and its waiter hold each other (handle ->
        # _io_target -> _handle), and the waiter holds the loop.
        while self._ready._size:
            h = self._ready.pop_owned()
            handle = <Handle>h        # a new reference...
            Py_DECREF(handle)         # ...replacing the queue's
            _forget(handle)
        self._timers.clear()
        self._drop_context_template()
        self._spare_handle = None
        for fd in range(self._fd_capacity):
            h = self._readers[fd]
            self._readers[fd] = NULL
            if h != NULL:
                _forget(<Handle>h)
            Py_XDECREF(h)
            h = self._writers[fd]
            self._writers[fd] = NULL
            if h != NULL:
                _forget(<Handle>h)
            Py_XDECREF(h)
        self._poller.close()
        if self._wake_fd >= 0:
            close(self._wake_fd)
            self._wake_fd = -1
        _all_loops.discard(self)

    def _after_fork_core(self):
        # The child inherited the parent's epoll set and eventfd: both are
        # shared kernel objects, so using them here would steer the parent.
        # Give this loop its own, keeping the fds it watches.
        if self._closed:
            return
        if self._wake_fd >= 0:
            self._poller.forget(self._wake_fd)
            close(self._wake_fd)
            self._wake_fd = -1
        self._poller.after_fork()
        self._wake_fd = _make_eventfd()
        self._poller.set_interest(self._wake_fd, EV_READ)

    def _poller_fileno(self):
        """The poller's own fd (epoll), for diagnostics and tests."""
        return (<object>self._poller).fileno()

    def _pending_counts(self):
        """(ready callbacks, scheduled timers): for tests and the x-ray."""
        return (self._ready._size, self._timers.live())

    def _timer_heap_slots(self):
        """(slots in use, cancelled timers among them): for tests."""
        return (self._timers._size, self._timers._cancelled)


# call_soon and get_debug are replaced at import by the fast entry points in
# hotmethods.pyx (same behaviour), which asyncio's C Task and Future reach
# on every step, callback and new future.
from aioloop._core import hotmethods as _hotmethods  # noqa: E402,F401  (installs them)
