# cython: language_level=3
"""The stream transport: asyncio.Transport over a socket or a pipe end.

Behaviour follows asyncio's selector transports (selector_events.py and
unix_events.py): the same callbacks in the same order, the same errors, the
same flow control.  What differs is how the bytes move:

* Small reads go straight to ``recv()``/``read()`` into the loop's shared
  256 KiB buffer, and the protocol gets an exact-size ``bytes`` copy.
  asyncio calls ``sock.recv(262144)``, which allocates 256 KiB per read;
  glibc serves that with mmap/munmap until its threshold adapts, so a fresh
  server runs its first connections several times slower.  Here the buffer
  is allocated once per loop.  After a read of 512 bytes or more, reads go
  into the ``bytes`` object the protocol gets, sized from the reads before
  (_next_read_hint) and reused when the protocol lets go of it
  (_read_into_protocol); once the protocol has let go of several in a row,
  small reads too go into a reused 16 KiB ``bytes`` object.
  BufferedProtocol reads go directly into the protocol's buffer.
* Writes try ``send()``/``write()`` at once from the caller's buffer, with
  no copy; only what the kernel does not take is queued, and the queue is
  flushed with one ``writev()`` of up to 64 buffers.  That side, and the
  state both sides share, is the base class's: WriteSide, stream_write.pyx.
"""

cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_REFCNT
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_WRITABLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.errno cimport errno, EIO as errno_EIO

import collections
import socket
import warnings

import asyncio
import os
from asyncio import BufferedProtocol, trsock
from asyncio.constants import _SendfileMode

from aioloop._core.core cimport CoreLoop
from aioloop._core.stream_write cimport WriteSide, IO_READ, IO_WRITE, IO_PIPE_READER_GONE
from aioloop._core.debug import asyncio_logger
from aioloop._core.oserror cimport raise_oserror
from aioloop._core.poller cimport EV_READ, EV_WRITE
from aioloop._core.readsize cimport SMALL_DIRECT_READ, _next_read_hint
from aioloop._core.rawio cimport recv, read, would_block

cdef extern from "pycall.h":
    int aioloop_call_one(object callable, object arg) noexcept
    int aioloop_pending_error() except -1

cdef extern from "recvbytes.h":
    object aioloop_bytes_cut(PyObject *b, Py_ssize_t *cap, Py_ssize_t n, Py_ssize_t keep)
    enum: AIOLOOP_SHRINK_IN_PLACE

cdef enum:
    RECV_SIZE = 262144          # asyncio's max_size per read
    # A direct read's bytes object is cut to size in place, leaving the
    # rest of its block unused, once the protocol has let go of this many
    # in a row (see _read_into_protocol); one it keeps sets the count back
    # so that KEPT_READ_PENALTY more must come back first.
    RETURNED_READS_TRUSTED = 8
    KEPT_READ_PENALTY = 64
    # Only blocks up to this size are cut in place (so a kept one wastes at
    # most this much): larger ones, kept whole, made glibc grow and trim the
    # heap every few reads (page faults in a 100 KiB streams echo).
    IN_PLACE_CUT_MAX = 131072


def _face(name, *bases):
    # What isinstance() sees (see StreamTransport.__class__).
    face = type(name, bases, {'__slots__': (), '__module__': __name__})
    face.__doc__ = (f"isinstance() face of aioloop's compiled {name}: its instances "
                    f"count as {', '.join(b.__qualname__ for b in bases)}.")
    return face


StreamTransportFace = _face('StreamTransport', asyncio.Transport)


def _set_result_unless_cancelled(fut, result):
    if not fut.cancelled():
        fut.set_result(result)


@cython.no_gc_clear
cdef class StreamTransport:
    """A transport for a connected stream socket or a pipe end."""

    def __init__(self, CoreLoop loop, sock, protocol, waiter=None, extra=None,
                 server=None, *, bint is_socket=True, bint can_read=True,
                 bint can_write=True, bint watch_peer_close=False):
        self._loop = loop
        self._sock = sock
        self._sock_fd = sock.fileno()
        self._extra = {} if extra is None else dict(extra)
        self._is_socket = is_socket
        self._can_read = can_read
        self._can_write = can_write
        if is_socket:
            self._extra['socket'] = trsock.TransportSocket(sock)
            try:
                self._extra['sockname'] = sock.getsockname()
            except OSError:
                self._extra['sockname'] = None
            if 'peername' not in self._extra:
                try:
                    self._extra['peername'] = sock.getpeername()
                except OSError:
                    self._extra['peername'] = None
            if (sock.family in (socket.AF_INET, socket.AF_INET6)
                    and sock.type == socket.SOCK_STREAM
                    and sock.proto == socket.IPPROTO_TCP):
                # Small writes go out at once instead of waiting for an ACK
                # (asyncio does the same).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            self._extra['pipe'] = sock
        self._buffer = collections.deque()
        self._high_water = 64 * 1024
        self._low_water = 16 * 1024
        self.set_protocol(protocol)
        self._server = server
        if server is not None:
            server._attach(self)
        loop._transports[self._sock_fd] = self
        loop.call_soon(protocol.connection_made, self)
        if can_read:
            # Only start reading once connection_made() has run.
            loop.call_soon(self._resume_after_connect)
        elif watch_peer_close:
            loop.call_soon(self._watch_pipe_reader)
        if waiter is not None:
            loop.call_soon(_set_result_unless_cancelled, waiter, None)

    def _watch_pipe_reader(self):
        if not self._closing:
            self._loop._add_io_target(self._sock_fd, EV_READ, self, IO_PIPE_READER_GONE)

    def _resume_after_connect(self):
        if not self._closing and not self._paused:
            self._start_reading()

    cdef int _start_reading(self) except -1:
        self._loop._add_io_target(self._sock_fd, EV_READ, self, IO_READ)
        return 0

    cdef int _io_ready(self, int token) except -1:
        # Called by the loop's handle from C (see handles.IOTarget).
        if token == IO_READ:
            return self._on_readable()
        if token == IO_WRITE:
            return self._on_writable()
        self._pipe_reader_gone()
        return 0

    # -- protocol and info ---------------------------------------------------

    def set_protocol(self, protocol):
        """Switch the protocol that receives data and events."""
        self._protocol = protocol
        self._buffered = isinstance(protocol, BufferedProtocol)
        self._protocol_connected = True
        # Looked up once here rather than at every read, as uvloop does
        # (see docs/differences.md).  A protocol without them gets None,
        # and the read looks them up then, failing as asyncio does.
        if self._buffered:
            self._proto_data_received = None
            self._proto_get_buffer = getattr(protocol, 'get_buffer', None)
            self._proto_buffer_updated = getattr(protocol, 'buffer_updated', None)
        else:
            self._proto_data_received = getattr(protocol, 'data_received', None)
            self._proto_get_buffer = self._proto_buffer_updated = None

    def get_protocol(self):
        """Return the current protocol."""
        return self._protocol

    def get_extra_info(self, name, default=None):
        """Return 'socket', 'sockname', 'peername' (sockets) or 'pipe'."""
        return self._extra.get(name, default)

    def is_closing(self):
        """Return True once close() or abort() was called, or the
        connection was lost."""
        return self._closing

    def __repr__(self):
        info = [type(self).__name__]
        if self._sock is None:
            info.append('closed')
        elif self._closing:
            info.append('closing')
        info.append(f'fd={self._sock_fd}')
        if self._loop is not None and not self._loop._closed and self._sock is not None:
            info.append('read=polling' if self._loop._get_reader(self._sock_fd) is not None
                        else 'read=idle')
            state = 'polling' if self._loop._get_writer(self._sock_fd) is not None else 'idle'
            info.append(f'write=<{state}, bufsize={self._buffer_size}>')
        elif self._sock is not None:
            info.append('open')   # the loop is gone but we still hold the fd
        return '<{}>'.format(' '.join(info))

    @property
    def _pipe(self):
        """The pipe object of a pipe transport (asyncio's attribute name)."""
        return None if self._is_socket else self._sock

    @_pipe.setter
    def _pipe(self, value):
        # asyncio's tests drop a pipe this way to silence the "unclosed
        # transport" warning after closing the pipe themselves.
        if self._is_socket:
            raise AttributeError("_pipe is only defined for pipe transports")
        self._sock = value

    def __del__(self):
        if self._sock is not None:
            warnings.warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._sock.close()
            self._sock = None
            if self._server is not None:
                self._server._detach(self)
                self._server = None

    # -- reading ---------------------------------------------------------------

    def is_reading(self):
        """Return True if the transport is receiving."""
        if not self._can_read:
            raise NotImplementedError   # a write pipe, as asyncio's
        return not self._closing and not self._paused

    def pause_reading(self):
        """Stop calling the protocol with received data until resumed."""
        if not self._can_read:
            # A write pipe: its read interest watches for the reader going
            # away, which pausing must not stop.  asyncio's raises too.
            raise NotImplementedError
        if self._closing or self._paused:
            return
        self._paused = True
        self._loop._remove_io(self._sock_fd, EV_READ)
        if self._loop._debug:
            asyncio_logger().debug("%r pauses reading", self)

    def resume_reading(self):
        """Resume receiving after pause_reading()."""
        if not self._can_read:
            raise NotImplementedError
        if self._closing or not self._paused:
            return
        self._paused = False
        self._start_reading()
        if self._loop._debug:
            asyncio_logger().debug("%r resumes reading", self)

    def _read_ready(self):
        self._on_readable()

    cdef int _on_readable(self) except -1:
        if self._conn_lost:
            return 0
        if self._buffered:
            return self._read_into_buffer()
        return self._read_into_protocol()

    cdef int _read_into_protocol(self) except -1:
        cdef char *buf
        cdef ssize_t n
        cdef Py_ssize_t want = self._read_hint
        cdef Py_ssize_t cap
        cdef PyObject *raw
        cdef CoreLoop loop
        cdef int err = 0
        cdef Py_ssize_t hint = want
        cdef bint small = False
        if not want and self._returned_reads >= RETURNED_READS_TRUSTED:
            # Small reads, and the protocol lets go of what it gets: read
            # straight into a bytes object too (the loop's small spare,
            # which comes back for the next read) instead of copying out
            # of the loop's buffer into a new object, which costs a
            # malloc(), a memcpy() and a free() per read.  Up to
            # SMALL_DIRECT_READ bytes: a read that fills it switches to
            # sized direct reads for the rest.
            small = True
            want = SMALL_DIRECT_READ
        if want:
            # Recent reads were large: receive straight into the bytes
            # object the protocol gets, sized from them, and cut it to what
            # came.  That saves a copy of every byte (a 100 KiB message
            # otherwise costs a 100 KiB memcpy) without asking the kernel
            # how much is waiting first.  The object is the loop's spare
            # when the last one read came back unreferenced.
            loop = self._loop
            data = loop.take_read_bytes(want, &cap, small)
            n = self._recv_now(PyBytes_AS_STRING(data), want)
            if n <= 0:
                err = errno
                loop.keep_read_bytes(data, cap, small)
                data = None
                if n == 0:
                    return self._on_eof()
                return self._read_failed(err)
            # Cutting to size frees the rest of the block with realloc(),
            # and the next read allocates a block again.  A protocol that
            # lets go of what it gets (an echo, a parser that copies) gives
            # the object back at once, so once it has done so a few times
            # in a row the cut is made in place and the block, whole, is
            # reused.  If it keeps one after all, that object holds its
            # whole block (at most IN_PLACE_CUT_MAX, or SMALL_DIRECT_READ
            # for a small read) and exact cuts resume.
            raw = <PyObject *>data
            Py_INCREF(data)          # for aioloop_bytes_cut() to steal
            data = None
            data = aioloop_bytes_cut(
                raw, &cap, n,
                IN_PLACE_CUT_MAX if self._returned_reads >= RETURNED_READS_TRUSTED
                and cap <= IN_PLACE_CUT_MAX else AIOLOOP_SHRINK_IN_PLACE)
            self._read_hint = _next_read_hint(hint, n)
            self._deliver(data)
            if self._let_go(data):
                # The protocol kept no reference: reuse it next time.
                loop.keep_read_bytes(data, cap, small)
            return 0
        buf = self._loop.recv_buffer()
        n = self._recv_now(buf, RECV_SIZE)
        if n < 0:
            return self._read_failed(errno)
        if n == 0:
            return self._on_eof()
        self._read_hint = _next_read_hint(0, n)
        data = PyBytes_FromStringAndSize(buf, n)
        self._deliver(data)
        # Counted here too: once the protocol has let go of
        # RETURNED_READS_TRUSTED in a row, small reads go direct.
        self._let_go(data)
        return 0

    cdef inline bint _let_go(self, object data) noexcept:
        # Whether the protocol let go of what it was just given (the caller
        # holds the only reference), counted towards trusting it with
        # in-place cuts and small direct reads; one it keeps sets the count
        # back by KEPT_READ_PENALTY.
        if Py_REFCNT(data) == 1:
            if self._returned_reads < RETURNED_READS_TRUSTED:
                self._returned_reads += 1
            return True
        self._returned_reads = RETURNED_READS_TRUSTED - KEPT_READ_PENALTY
        return False

    cdef ssize_t _recv_now(self, char *buf, Py_ssize_t size) noexcept:
        # One read of up to size bytes (errno set when it fails).
        if self._is_socket:
            return recv(self._sock_fd, buf, size, 0)
        return read(self._sock_fd, buf, size)

    cdef int _read_failed(self, int err) except -1:
        if would_block(err):
            return 0
        self._fatal_error(OSError(err, os.strerror(err)), self._what_failed('read'))
        return 0

    cdef int _deliver(self, object data) except -1:
        cdef object callback = self._proto_data_received
        if callback is None:
            return self._deliver_failed(data, False)
        if aioloop_call_one(callback, data) < 0:
            return self._deliver_failed(data, True)
        return 0

    cdef int _deliver_failed(self, object data, bint raised) except -1:
        # The protocol's data_received() raised (`raised`: the exception is
        # pending), or was not bound at set_protocol(): look it up now,
        # as asyncio does for every call, and report what that raises.
        try:
            if raised:
                aioloop_pending_error()
            else:
                self._protocol.data_received(data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            if not self._is_socket:
                # asyncio's read pipes do not catch it: it goes to the
                # exception handler as the callback's, and the pipe stays open.
                raise
            self._fatal_error(exc, 'Fatal error: protocol.data_received() call failed.')
        return 0

    cdef int _read_into_buffer(self) except -1:
        cdef Py_buffer view
        cdef ssize_t n
        try:
            if self._proto_get_buffer is not None:
                buf = self._proto_get_buffer(-1)
            else:
                buf = self._protocol.get_buffer(-1)
            if not len(buf):
                raise RuntimeError('get_buffer() returned an empty buffer')
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error: protocol.get_buffer() call failed.')
            return 0
        try:
            PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE)
        except (BufferError, TypeError):
            # What asyncio's sock.recv_into(buf) raises for a read-only or
            # non-contiguous buffer, ending the connection the same way.
            self._fatal_error(TypeError(f'recv_into() argument 1 must be read-write '
                                        f'bytes-like object, not {type(buf).__name__}'),
                              self._what_failed('read'))
            return 0
        try:
            n = self._recv_now(<char *>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)
        if n < 0:
            if would_block(errno):
                return 0
            try:
                raise_oserror()
            except OSError as exc:
                self._fatal_error(exc, self._what_failed('read'))
            return 0
        if n == 0:
            return self._on_eof()
        try:
            if self._proto_buffer_updated is not None:
                self._proto_buffer_updated(n)
            else:
                self._protocol.buffer_updated(n)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error: protocol.buffer_updated() call failed.')
        return 0

    cdef int _on_eof(self) except -1:
        if self._loop._debug:
            if self._is_socket:
                asyncio_logger().debug("%r received EOF", self)
            else:
                asyncio_logger().info("%r was closed by peer", self)
        if not self._is_socket:
            # A read pipe at EOF is finished: asyncio tells the protocol and
            # closes without asking (unix_events' read pipe transport).
            self._closing = True
            self._loop._remove_io(self._sock_fd, EV_READ)
            self._loop.call_soon(self._protocol.eof_received)
            self._conn_lost += 1
            self._loop.call_soon(self._call_connection_lost, None)
            return 0
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error: protocol.eof_received() call failed.')
            return 0
        if keep_open:
            # Half-closed: the protocol may still write, nothing more to read.
            self._loop._remove_io(self._sock_fd, EV_READ)
        else:
            self.close()
        return 0

    # -- closing ---------------------------------------------------------------

    def close(self):
        """Close after the buffered data is sent; connection_lost(None)
        follows."""
        if self._closing:
            return
        self._closing = True
        self._loop._remove_io(self._sock_fd, EV_READ)
        if self._buffer_size == 0:
            self._conn_lost += 1
            self._loop._remove_io(self._sock_fd, EV_WRITE)
            self._loop.call_soon(self._call_connection_lost, None)

    def abort(self):
        """Close at once, dropping buffered data; connection_lost(None)
        follows."""
        self._force_close(None)

    cdef int _fatal_error(self, object exc, str message) except -1:
        if isinstance(exc, OSError) and (self._is_socket or not self._can_read
                                         or exc.errno == errno_EIO):
            # Peer resets and the like are routine; asyncio logs them only
            # in debug mode.  Its read pipes report every OSError but EIO
            # (a pty whose other side closed) to the exception handler.
            if self._loop._debug:
                asyncio_logger().debug("%r: %s", self, message, exc_info=exc)
        else:
            self._loop.call_exception_handler({
                'message': message,
                'exception': exc,
                'transport': self,
                'protocol': self._protocol,
            })
        self._force_close(exc)
        return 0

    cdef int _force_close(self, object exc) except -1:
        if self._conn_lost:
            return 0
        if self._buffer_size:
            self._buffer.clear()
            self._buffer_size = 0
            self._loop._remove_io(self._sock_fd, EV_WRITE)
        if not self._closing:
            self._closing = True
            self._loop._remove_io(self._sock_fd, EV_READ)
        self._conn_lost += 1
        self._loop.call_soon(self._call_connection_lost, exc)
        return 0

    def _call_connection_lost(self, exc):
        if self._sock is None:
            return
        try:
            if self._protocol_connected:
                self._protocol.connection_lost(exc)
        finally:
            loop = self._loop
            if loop is not None and loop._transports.get(self._sock_fd) is self:
                del loop._transports[self._sock_fd]
            self._sock.close()
            self._sock = None
            self._protocol = None
            self._proto_data_received = None
            self._proto_get_buffer = self._proto_buffer_updated = None
            self._loop = None
            server = self._server
            if server is not None:
                server._detach(self)
                self._server = None
            if self._empty_waiter is not None and not self._empty_waiter.done():
                self._empty_waiter.set_exception(
                    ConnectionError("Connection is closed by peer"))

    # -- attributes asyncio code looks for ---------------------------------------

    @property
    def __class__(self):
        # A compiled class cannot inherit from asyncio.Transport (a Python
        # class with an instance slot), yet code checks
        # isinstance(transport, asyncio.Transport).  isinstance() falls back
        # to __class__ when the real type does not match, so we present a
        # Python subclass of asyncio.Transport with our name; type(t) stays
        # the compiled class, whose methods are the ones that run.
        return StreamTransportFace

    @property
    def _sendfile_compatible(self):
        # loop.sendfile() may use the socket directly (zero-copy); a pipe
        # end is not a socket, and asyncio's pipe transports don't offer it.
        return _SendfileMode.TRY_NATIVE if self._is_socket else _SendfileMode.UNSUPPORTED

    # loop.start_tls() may wrap this transport.
    _start_tls_compatible = True

    def _pipe_reader_gone(self):
        # Write pipes watch their own fd for readability: on Linux a pipe's
        # write end becomes readable (EPOLLERR) when the read end closes.
        if self._loop._debug:
            asyncio_logger().info("%r was closed by peer", self)
        if self._buffer_size:
            self._force_close(BrokenPipeError())
        else:
            self._force_close(None)
