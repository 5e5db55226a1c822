# The stream transport: a connected socket (TCP, Unix) or a pipe end, driven
# by the loop's readiness callbacks.  See stream.pyx; its write side and the
# state both sides share are WriteSide's (stream_write.pxd).

from aioloop._core.stream_write cimport WriteSide


cdef class StreamTransport(WriteSide):
    cdef bint _buffered          # the protocol is an asyncio.BufferedProtocol
    cdef bint _protocol_connected
    # The protocol's read callbacks, bound when it is set (None: look up at each read).
    cdef object _proto_data_received
    cdef object _proto_get_buffer
    cdef object _proto_buffer_updated
    cdef dict _extra
    cdef object _server
    cdef bint _paused            # pause_reading() in force
    cdef bint _can_read          # this end reads (not a write-only pipe)
    cdef Py_ssize_t _read_hint   # size of the next direct read, 0: none (see _read_into_protocol)
    cdef int _returned_reads     # direct-read objects the protocol let go of in a row (ditto)
    cdef object __weakref__
    # Instance attributes, as asyncio's transports have: code and tests
    # patch methods on a transport (mock.patch.object(t, "write", ...)).
    # Created on the first assignment; until then lookups skip it.
    cdef dict __dict__

    cdef int _start_reading(self) except -1
    cdef ssize_t _recv_now(self, char *buf, Py_ssize_t size) noexcept
    cdef int _on_readable(self) except -1
    cdef int _read_into_protocol(self) except -1
    cdef int _read_failed(self, int err) except -1
    cdef int _deliver(self, object data) except -1
    cdef bint _let_go(self, object data) noexcept
    cdef int _deliver_failed(self, object data, bint raised) except -1
    cdef int _read_into_buffer(self) except -1
    cdef int _on_eof(self) except -1
    cdef int _force_close(self, object exc) except -1
