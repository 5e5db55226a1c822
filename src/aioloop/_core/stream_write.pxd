# The write side of a stream transport, and the state both sides share:
# StreamTransport (stream.pxd) derives from WriteSide.  See stream_write.pyx.

from aioloop._core.core cimport CoreLoop
from aioloop._core.handles cimport IOTarget

# What a readiness callback is for (the token the loop hands back).
cdef enum:
    IO_READ = 0
    IO_WRITE = 1
    IO_PIPE_READER_GONE = 2


cdef class WriteSide(IOTarget):
    cdef CoreLoop _loop
    cdef object _sock            # the socket or pipe object we own (closed with us)
    cdef readonly int _sock_fd
    cdef object _protocol
    cdef int _conn_lost          # >0 once connection_lost is scheduled
    cdef bint _closing
    cdef bint _eof               # write_eof() called
    cdef readonly bint _protocol_paused   # pause_writing() sent to the protocol
    cdef bint _can_write         # this end writes (not a read-only pipe)
    cdef bint _is_socket         # send()/recv() rather than write()/read()
    cdef Py_ssize_t _high_water
    cdef Py_ssize_t _low_water
    # Pending output: a deque of bytes objects, and its total size.
    cdef object _buffer
    cdef Py_ssize_t _buffer_size
    cdef object _empty_waiter    # sendfile's "buffer drained" future

    cdef int _write_other(self, object data) except -1
    cdef bint _drops_writes(self) noexcept
    cdef int _queue_unsent(self, object data, ssize_t n, int err) except -1
    cdef int _queue(self, object data) except -1
    cdef ssize_t _send_now(self, const char *buf, Py_ssize_t size, int *err) noexcept
    cdef int _on_writable(self) except -1
    cdef int _write_pending(self) except -1
    cdef int _drop_sent(self, Py_ssize_t n) except -1
    cdef int _maybe_pause_protocol(self) except -1
    cdef int _maybe_resume_protocol(self) except -1
    cdef int _tell_protocol(self, str method) except -1
    cdef str _what_failed(self, str kind)
    # Report and close at once: implemented by StreamTransport.
    cdef int _fatal_error(self, object exc, str message) except -1
