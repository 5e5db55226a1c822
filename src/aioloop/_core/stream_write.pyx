# cython: language_level=3
"""The write side of a stream transport (see stream.pyx for the whole).

StreamTransport (stream.pyx) derives from WriteSide, which holds what both
sides share (the loop, the socket or pipe, the protocol, the closing state)
and everything about sending: write() tries ``send()``/``write()`` at once
from the caller's buffer, with no copy; only what the kernel does not take
is queued (as immutable bytes), and the queue is flushed with one
``sendmsg()``/``writev()`` of up to 64 buffers when the fd turns writable.
Flow control (pause_writing/resume_writing at the water marks) and
sendfile's "buffer drained" waiter live here too.  Behaviour follows
asyncio's selector and pipe transports.
"""

cimport cython
from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_CheckExact, PyBytes_GET_SIZE, PyBytes_AS_STRING
from libc.errno cimport errno
from libc.string cimport memset

import os
import socket
import sys

from aioloop._core.debug import asyncio_logger
from aioloop._core.poller cimport EV_WRITE
from aioloop._core.rawio cimport (MSG_NOSIGNAL, iovec, msghdr, send, writev, sendmsg,
                                   write, would_block)

cdef enum:
    WRITEV_MAX = 64             # buffers per writev() call
    LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5


def _no_write_side(transport, str name):
    # A read pipe's transport has no write side: asyncio's has no such
    # method at all, so the same AttributeError (the method exists here,
    # the compiled class being shared, but fails when called).
    raise AttributeError(f"{type(transport).__name__!r} object for a read pipe "
                         f"has no attribute {name!r}")


cdef Py_ssize_t _water_mark(value) except? -1:
    if value >= PY_SSIZE_T_MAX:
        return PY_SSIZE_T_MAX
    return int(value // 1)


def _writelines_type_error(int i, data):
    # asyncio's words: 3.11 joins the items, 3.12+ takes a memoryview of each.
    if sys.version_info >= (3, 12):
        return f"memoryview: a bytes-like object is required, not '{type(data).__name__}'"
    return f"sequence item {i}: expected a bytes-like object, {type(data).__name__} found"


@cython.no_gc_clear
cdef class WriteSide:
    """The shared state and the write side of StreamTransport (stream.pyx)."""

    # -- writing ---------------------------------------------------------------

    def write(self, data):
        """Send data (bytes-like) without blocking; what the kernel does not
        take at once is buffered and sent as the socket drains.

        Raises TypeError for a non-bytes-like object, RuntimeError after
        write_eof() or while sendfile() runs.
        """
        cdef ssize_t n
        cdef Py_ssize_t size
        cdef int err
        # The common case, kept small: bytes, nothing queued, an open
        # transport.  bytes is read in place, without the buffer protocol.
        if (PyBytes_CheckExact(data) and self._buffer_size == 0
                and not (self._conn_lost or self._closing or self._eof)
                and self._empty_waiter is None and self._can_write):
            size = PyBytes_GET_SIZE(data)
            if size:
                n = self._send_now(PyBytes_AS_STRING(data), size, &err)
                if n != size:
                    self._queue_unsent(data, n, err)
            return
        self._write_other(data)

    cdef int _write_other(self, object data) except -1:
        # write() of anything but bytes to an open, drained transport.
        cdef Py_buffer view
        cdef ssize_t n
        cdef Py_ssize_t size
        cdef int err
        if not self._can_write:
            _no_write_side(self, 'write')
        cdef bint exact = PyBytes_CheckExact(data)
        if not exact and not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data argument must be a bytes-like object, '
                            f'not {type(data).__name__!r}')
        if self._eof:
            raise RuntimeError('Cannot call write() after write_eof()')
        if self._empty_waiter is not None:
            raise RuntimeError('unable to write; sendfile is in progress')
        if (PyBytes_GET_SIZE(data) == 0) if exact else not data:
            return 0
        if self._drops_writes():
            # Only drops after the loss are counted towards the warning:
            # _conn_lost also says "stop writing", and a closing pipe still
            # flushes.
            if self._conn_lost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                asyncio_logger().warning(
                    'socket.send() raised exception.' if self._is_socket else
                    'pipe closed by peer or os.write(pipe, data) raised exception.')
            if self._conn_lost:
                self._conn_lost += 1
            return 0
        if self._buffer_size == 0:
            if exact:
                size = PyBytes_GET_SIZE(data)
                n = self._send_now(PyBytes_AS_STRING(data), size, &err)
            else:
                if type(data) is memoryview and not data.contiguous:
                    # Send a contiguous copy (asyncio's send() fails on a
                    # non-contiguous view and closes the transport).
                    data = bytes(data)
                PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
                size = view.len
                n = self._send_now(<const char *>view.buf, size, &err)
                PyBuffer_Release(&view)
            if n != size:
                self._queue_unsent(data, n, err)
            return 0
        return self._queue(data)

    cdef inline bint _drops_writes(self) noexcept:
        # Whether what is written now is dropped, as asyncio does: a
        # socket's once the connection is lost, a pipe's as soon as it is
        # closing (asyncio's socket transports still queue what is written
        # after close() while their buffer drains; its pipe transports do not).
        return self._conn_lost or (self._closing and not self._is_socket)

    cdef int _queue_unsent(self, object data, ssize_t n, int err) except -1:
        # data went to the kernel first, which took n bytes (n < 0: failed
        # with err): queue the rest and watch for the socket to drain.
        if n < 0:
            if not would_block(err):
                self._fatal_error(OSError(err, os.strerror(err)),
                                  self._what_failed('write'))
                return 0
            n = 0
        self._loop._add_io_target(self._sock_fd, EV_WRITE, self, IO_WRITE)
        # Sliced in bytes: an array's memoryview counts items.
        return self._queue(memoryview(data).cast('B')[n:])

    cdef int _queue(self, object data) except -1:
        # Queue an immutable copy: the caller may reuse a bytearray or a
        # memoryview's memory as soon as write() returns.
        if not isinstance(data, bytes):
            data = bytes(data)
        self._buffer.append(data)
        self._buffer_size += len(data)
        return self._maybe_pause_protocol()

    cdef ssize_t _send_now(self, const char *buf, Py_ssize_t size, int *err) noexcept:
        cdef ssize_t n
        if self._is_socket:
            n = send(self._sock_fd, buf, size, MSG_NOSIGNAL)
        else:
            n = write(self._sock_fd, buf, size)
        err[0] = errno
        return n

    def writelines(self, list_of_data):
        """Write every bytes-like object of the iterable, in order."""
        if not self._can_write:
            _no_write_side(self, 'writelines')
        if self._eof:
            raise RuntimeError('Cannot call writelines() after write_eof()')
        if self._empty_waiter is not None:
            raise RuntimeError('unable to writelines; sendfile is in progress')
        # All or nothing, as asyncio: every item is checked before any is
        # sent.  Then one sendmsg()/writev() for them all, not one per item.
        cdef bint was_empty = self._buffer_size == 0
        items = []
        for i, data in enumerate(list_of_data):
            if not PyBytes_CheckExact(data):
                if not isinstance(data, (bytes, bytearray, memoryview)):
                    raise TypeError(_writelines_type_error(i, data))
                data = bytes(data)      # immutable, and sized in bytes
            if PyBytes_GET_SIZE(data):
                items.append(data)
        if len(items) < 2 or self._drops_writes():
            # Nothing to batch, or dropped: write() does that.
            if items:
                self.write(items[0] if len(items) == 1 else b''.join(items))
            return
        self._buffer.extend(items)
        for data in items:
            self._buffer_size += PyBytes_GET_SIZE(data)
        if was_empty:
            self._write_pending()
            if self._buffer_size:
                self._loop._add_io_target(self._sock_fd, EV_WRITE, self, IO_WRITE)
        self._maybe_pause_protocol()

    def _write_ready(self):
        self._on_writable()

    cdef int _on_writable(self) except -1:
        if self._conn_lost or self._buffer_size == 0:
            return 0
        return self._write_pending()

    cdef int _write_pending(self) except -1:
        cdef iovec iov[WRITEV_MAX]
        cdef Py_buffer views[WRITEV_MAX]
        cdef int count = 0
        cdef int i
        cdef ssize_t n
        cdef int err
        cdef msghdr msg
        for item in self._buffer:
            if count == WRITEV_MAX:
                break
            PyObject_GetBuffer(item, &views[count], PyBUF_SIMPLE)
            iov[count].iov_base = views[count].buf
            iov[count].iov_len = views[count].len
            count += 1
        if self._is_socket:
            # sendmsg() rather than writev(): MSG_NOSIGNAL turns a write to a
            # reset peer into EPIPE even where SIGPIPE is not ignored.
            memset(&msg, 0, sizeof(msg))
            msg.msg_iov = iov
            msg.msg_iovlen = count
            n = sendmsg(self._sock_fd, &msg, MSG_NOSIGNAL)
        else:
            n = writev(self._sock_fd, iov, count)
        err = errno
        for i in range(count):
            PyBuffer_Release(&views[i])
        if n < 0:
            if would_block(err):
                return 0
            self._loop._remove_io(self._sock_fd, EV_WRITE)
            self._buffer.clear()
            self._buffer_size = 0
            exc = OSError(err, os.strerror(err))
            self._fatal_error(exc, self._what_failed('write'))
            if self._empty_waiter is not None:
                self._empty_waiter.set_exception(exc)
            return 0
        self._drop_sent(n)
        self._maybe_resume_protocol()   # may write more
        if self._buffer_size == 0:
            self._loop._remove_io(self._sock_fd, EV_WRITE)
            if self._empty_waiter is not None:
                self._empty_waiter.set_result(None)
            if self._closing:
                self._call_connection_lost(None)
            elif self._eof:
                self._sock.shutdown(socket.SHUT_WR)
        return 0

    cdef int _drop_sent(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t size
        self._buffer_size -= n
        while n:
            item = self._buffer.popleft()
            size = len(item)
            if size <= n:
                n -= size
            else:
                self._buffer.appendleft(memoryview(item)[n:])
                break
        return 0

    def write_eof(self):
        """Close the write side once the buffer is flushed (half-close).

        A pipe has no half-close: on a pipe this is close(), as in asyncio.
        """
        if not self._can_write:
            _no_write_side(self, 'write_eof')
        if self._closing or self._eof:
            return
        if not self._is_socket:
            self.close()
            return
        self._eof = True
        if self._buffer_size == 0:
            self._sock.shutdown(socket.SHUT_WR)

    def can_write_eof(self):
        """Stream sockets and write pipes can half-close: always True."""
        if not self._can_write:
            _no_write_side(self, 'can_write_eof')
        return True

    def get_write_buffer_size(self):
        """Bytes queued and not yet taken by the kernel."""
        return self._buffer_size

    def get_write_buffer_limits(self):
        """(low, high) water marks for pause_writing/resume_writing."""
        return (self._low_water, self._high_water)

    def set_write_buffer_limits(self, high=None, low=None):
        """Set the water marks (default high 64 KiB, low high // 4).

        Raises ValueError unless high >= low >= 0.
        """
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f'high ({high!r}) must be >= low ({low!r}) must be >= 0')
        # Any real number, as asyncio takes; the buffer's size is a whole
        # number of bytes, so the floor compares the same way.
        self._high_water = _water_mark(high)
        self._low_water = _water_mark(low)
        self._maybe_pause_protocol()

    cdef int _maybe_pause_protocol(self) except -1:
        if self._buffer_size <= self._high_water or self._protocol_paused:
            return 0
        self._protocol_paused = True
        return self._tell_protocol('pause_writing')

    cdef int _maybe_resume_protocol(self) except -1:
        if not self._protocol_paused or self._buffer_size > self._low_water:
            return 0
        self._protocol_paused = False
        return self._tell_protocol('resume_writing')

    cdef int _tell_protocol(self, str method) except -1:
        # A failing pause_writing()/resume_writing() is reported, and the
        # transport carries on (asyncio's flow-control contract).
        try:
            getattr(self._protocol, method)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({
                'message': f'protocol.{method}() failed',
                'exception': exc,
                'transport': self,
                'protocol': self._protocol,
            })
        return 0

    # -- sendfile support (loop.sendfile's native path) ----------------------------

    def _make_empty_waiter(self):
        if self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        self._empty_waiter = self._loop.create_future()
        if self._buffer_size == 0:
            self._empty_waiter.set_result(None)
        return self._empty_waiter

    def _reset_empty_waiter(self):
        self._empty_waiter = None

    # -- errors ----------------------------------------------------------------

    cdef str _what_failed(self, str kind):
        # The message of a fatal error, asyncio's words for each kind.
        return f"Fatal {kind} error on {'socket' if self._is_socket else 'pipe'} transport"

    cdef int _fatal_error(self, object exc, str message) except -1:
        # Reports exc and closes at once: StreamTransport's (stream.pyx).
        raise NotImplementedError

