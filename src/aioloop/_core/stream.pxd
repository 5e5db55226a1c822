# The stream transport: a connected socket (TCP, Unix) or a pipe end, driven
# by the loop's readiness callbacks.  See stream.pyx.

from aioloop._core.core cimport CoreLoop
from aioloop._core.handles cimport IOTarget

# What a readiness callback is for (the token the loop hands back).
cdef enum:
    IO_READ = 0
    IO_WRITE = 1
    IO_PIPE_READER_GONE = 2


cdef class StreamTransport(IOTarget):
    cdef CoreLoop _loop
    cdef object _sock            # the socket or pipe object we own (closed with us)
    cdef readonly int _sock_fd
    cdef object _protocol
    cdef bint _buffered          # the protocol is an asyncio.BufferedProtocol
    cdef bint _protocol_connected
    # The protocol's read callbacks, bound when it is set (None: look up at each read).
    cdef object _proto_data_received
    cdef object _proto_get_buffer
    cdef object _proto_buffer_updated
    cdef dict _extra
    cdef object _server
    cdef int _conn_lost          # >0 once connection_lost is scheduled
    cdef bint _closing
    cdef bint _paused            # pause_reading() in force
    cdef bint _eof               # write_eof() called
    cdef readonly bint _protocol_paused   # pause_writing() sent to the protocol
    cdef bint _can_read          # this end reads (not a write-only pipe)
    cdef bint _can_write         # this end writes (not a read-only pipe)
    cdef bint _is_socket         # send()/recv() rather than write()/read()
    cdef Py_ssize_t _read_hint   # size of the next direct read, 0: none (see _read_into_protocol)
    cdef int _returned_reads     # direct-read objects the protocol let go of in a row (ditto)
    cdef Py_ssize_t _high_water
    cdef Py_ssize_t _low_water
    # Pending output: a deque of bytes-like objects, and its total size.
    cdef object _buffer
    cdef Py_ssize_t _buffer_size
    cdef object _empty_waiter    # sendfile's "buffer drained" future
    cdef object __weakref__
    # Instance attributes, as asyncio's transports have: code and tests
    # patch methods on a transport (mock.patch.object(t, "write", ...)).
    # Created on the first assignment; until then lookups skip it.
    cdef dict __dict__

    cdef int _start_reading(self) except -1
    cdef int _write_other(self, object data) except -1
    cdef int _queue_unsent(self, object data, ssize_t n, int err) except -1
    cdef int _queue(self, object data) except -1
    cdef ssize_t _send_now(self, const char *buf, Py_ssize_t size, int *err) noexcept
    cdef ssize_t _recv_now(self, char *buf, Py_ssize_t size) noexcept
    cdef int _on_readable(self) except -1
    cdef int _on_writable(self) except -1
    cdef int _read_into_protocol(self) except -1
    cdef int _read_failed(self, int err) except -1
    cdef int _deliver(self, object data) except -1
    cdef bint _let_go(self, object data) noexcept
    cdef int _deliver_failed(self, object data, bint raised) except -1
    cdef int _read_into_buffer(self) except -1
    cdef int _on_eof(self) except -1
    cdef int _write_pending(self) except -1
    cdef int _drop_sent(self, Py_ssize_t n) except -1
    cdef int _maybe_pause_protocol(self) except -1
    cdef int _maybe_resume_protocol(self) except -1
    cdef int _tell_protocol(self, str method) except -1
    cdef str _what_failed(self, str kind)
    cdef int _fatal_error(self, object exc, str message) except -1
    cdef int _force_close(self, object exc) except -1
