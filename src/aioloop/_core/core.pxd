# The loop core: ready queue, timers and poller, and the iteration that
# drives them.  Everything else a loop does (lifecycle around the run,
# exception handling, executors, signals, socket helpers) is plain Python in
# aioloop/loop/ and calls into this through the methods below.

from cpython.ref cimport PyObject
from libc.stdint cimport uint64_t, int64_t

from aioloop._core.handles cimport LoopBase, Handle, TimerHandle, IOTarget
from aioloop._core.ready_queue cimport ReadyQueue
from aioloop._core.timers cimport TimerHeap
from aioloop._core.poller cimport Poller


# What a watchdog (the x-ray) reads to tell that the loop is stuck in one
# callback: `seq` moves on at every callback start; `iteration_ns` is the
# last time the loop read its clock (at least every poll, and every
# iteration while timers are pending); `poll_count` moves on at every poll;
# `polling` is 1 while the loop waits in the poller (idle, not blocked).  Plain stores, no locks: a reader
# in another thread or process may see a torn pair and simply looks again.
# Size of the per-loop receive buffer: asyncio's max_size per recv().
cdef enum:
    RECV_BUFFER_SIZE = 262144


cdef struct LoopStamp:
    uint64_t seq
    int64_t iteration_ns
    uint64_t poll_count
    int polling


cdef class CoreLoop(LoopBase):
    cdef ReadyQueue _ready
    cdef TimerHeap _timers
    cdef Poller _poller

    # fd -> reader / writer Handle (owned references, NULL when none).
    cdef PyObject **_readers
    cdef PyObject **_writers
    cdef int _fd_capacity

    cdef public bint _closed
    cdef public bint _stopping
    cdef public object _thread_id        # set while running (asyncio's name)
    cdef readonly Handle _current_handle

    # Fairness: while callbacks are ready the loop does not block in the
    # poller, but it still polls (timeout 0) once this much time has passed
    # since the last poll, so I/O is never starved by a busy ready queue.
    cdef int64_t _poll_interval_ns
    cdef int64_t _last_poll_ns
    cdef Py_ssize_t _iterations_since_poll
    cdef Py_ssize_t _poll_every          # busy iterations between polls (adaptive)

    # Cross-thread wake-up: an eventfd that call_soon_threadsafe writes when
    # the loop sleeps in the poller.
    cdef int _wake_fd
    cdef bint _sleeping

    cdef LoopStamp _stamp_local
    cdef LoopStamp *_stamp

    # One receive buffer per loop, shared by its transports: a small read
    # goes into it and the protocol gets an exact-size bytes copy, so no
    # connection ever allocates a fresh 256 KiB buffer per read (larger
    # reads go straight into a bytes object: see stream.pyx).
    cdef char *_recv_buffer
    # The bytes object of the last direct read, kept for the next one when
    # the protocol let go of it (see take_read_bytes): _spare_cap is how
    # many bytes its block holds.
    cdef object _spare_bytes
    cdef Py_ssize_t _spare_cap
    # The same for small direct reads: its block holds SMALL_DIRECT_READ.
    cdef object _small_spare
    cdef readonly Py_ssize_t _read_bytes_reused

    # While the loop runs: its bound call_soon and get_debug, which
    # asyncio's C Task and Future look up on every step, callback and new
    # future (see hotmethods.pyx).  _hot_patched: an instance
    # attribute shadows one of them (unittest.mock.patch.object).
    cdef object _bound_call_soon
    cdef object _bound_get_debug
    cdef bint _hot_patched

    # Optional observer (x-ray, profilers); None costs one pointer test per
    # callback.
    cdef object _instrument
    cdef object _slow_callback_duration

    cdef char *recv_buffer(self) except NULL
    cdef object take_read_bytes(self, Py_ssize_t want, Py_ssize_t *cap, bint small)
    cdef void keep_read_bytes(self, object data, Py_ssize_t cap, bint small) noexcept
    cdef int _check_closed(self) except -1
    cdef Handle _call_soon(self, object callback, tuple args, object context)
    cdef TimerHandle _call_at(self, double when, object callback, tuple args, object context)
    cdef int _ensure_fd_capacity(self, int fd) except -1
    cdef Handle _add_io(self, int fd, int kind, object callback, tuple args)
    cdef Handle _add_io_target(self, int fd, int kind, IOTarget target, int token)
    cdef Handle _install_io(self, int fd, int kind, Handle h)
    cdef bint _remove_io(self, int fd, int kind) except -1
    cdef int _interest_of(self, int fd) noexcept
    cdef int _run_once(self) except -1
    cdef int _poll(self, int64_t timeout_ns) except -1
    cdef int _dispatch_io(self, int n) except -1
    cdef int _run_handle_slow(self, Handle handle) except -1
    cdef int _write_wake(self) noexcept
    cdef int _drain_wake(self) noexcept
