# cython: language_level=3
"""The datagram transport (UDP, Unix datagram sockets).

It shares closing, flow control and protocol handling with the stream
transport and replaces reading and writing: each readiness event receives
one datagram; sendto() sends at once and queues (data, address) pairs only
when the socket buffer is full.  Behaviour follows asyncio's selector
datagram transport, including its per-version rules for empty datagrams.
"""

import sys
from asyncio.constants import _SendfileMode

from aioloop._core.core cimport CoreLoop
from aioloop._core.debug import asyncio_logger
from aioloop._core.poller cimport EV_WRITE
from aioloop._core.stream cimport StreamTransport
from aioloop._core.stream_write cimport IO_WRITE

cdef enum:
    MAX_DATAGRAM = 262144
    LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5

# 3.13 sends empty datagrams and counts 8 bytes of header per queued one;
# 3.11 and 3.12 drop empty ones and count only the payload.
cdef bint SEND_EMPTY = sys.version_info >= (3, 13)
cdef Py_ssize_t HEADER_SIZE = 8 if sys.version_info >= (3, 13) else 0


from aioloop._core.stream import _face
import asyncio

# asyncio's own datagram transport is both a Transport and a DatagramTransport.
DatagramTransportFace = _face('DatagramTransport', asyncio.Transport, asyncio.DatagramTransport)


cdef class DatagramTransport(StreamTransport):
    """asyncio.DatagramTransport over a datagram socket."""

    cdef object _address

    def __init__(self, CoreLoop loop, sock, protocol, address=None, waiter=None, extra=None):
        self._address = address
        StreamTransport.__init__(self, loop, sock, protocol, waiter, extra, None)

    cdef int _on_readable(self) except -1:
        if self._conn_lost:
            return 0
        try:
            data, addr = self._sock.recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            # ICMP errors (port unreachable...) surface here; the transport
            # stays open, as in asyncio.
            self._protocol.error_received(exc)
            return 0
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal read error on datagram transport')
            return 0
        self._protocol.datagram_received(data, addr)
        return 0

    def sendto(self, data, addr=None):
        """Send one datagram to addr (or the connected peer).

        Raises TypeError for non-bytes-like data, ValueError for an address
        other than the one the endpoint is connected to.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data argument must be a bytes-like object, '
                            f'not {type(data).__name__!r}')
        if not data and not SEND_EMPTY:
            return
        if self._address:
            if addr not in (None, self._address):
                raise ValueError(f'Invalid address: must be None or {self._address}')
            addr = self._address
        if self._conn_lost and self._address:
            if self._conn_lost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                asyncio_logger().warning('socket.send() raised exception.')
            self._conn_lost += 1
            return
        if self._buffer_size == 0 and not self._buffer:
            try:
                if self._extra['peername']:
                    self._sock.send(data)
                else:
                    self._sock.sendto(data, addr)
                return
            except (BlockingIOError, InterruptedError):
                self._loop._add_io_target(self._sock_fd, EV_WRITE, self, IO_WRITE)
            except OSError as exc:
                self._protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, 'Fatal write error on datagram transport')
                return
        self._buffer.append((bytes(data), addr))
        self._buffer_size += len(data) + HEADER_SIZE
        self._maybe_pause_protocol()

    def _sendto_ready(self):
        self._on_writable()

    cdef int _on_writable(self) except -1:
        while self._buffer:
            data, addr = self._buffer.popleft()
            self._buffer_size -= len(data) + HEADER_SIZE
            try:
                if self._extra['peername']:
                    self._sock.send(data)
                else:
                    self._sock.sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                self._buffer.appendleft((data, addr))
                self._buffer_size += len(data) + HEADER_SIZE
                break
            except OSError as exc:
                self._protocol.error_received(exc)
                return 0
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, 'Fatal write error on datagram transport')
                return 0
        self._maybe_resume_protocol()
        if not self._buffer:
            self._loop._remove_io(self._sock_fd, EV_WRITE)
            if self._closing:
                self._call_connection_lost(None)
        return 0

    def close(self):
        """Close once queued datagrams are sent; connection_lost(None)
        follows."""
        if self._closing:
            return
        self._closing = True
        self._loop._remove_reader(self._sock_fd)
        if not self._buffer:
            self._conn_lost += 1
            self._loop._remove_writer(self._sock_fd)
            self._loop.call_soon(self._call_connection_lost, None)

    def write(self, data):
        raise AttributeError("'DatagramTransport' object has no attribute 'write'")

    def writelines(self, list_of_data):
        raise AttributeError("'DatagramTransport' object has no attribute 'writelines'")

    def write_eof(self):
        raise AttributeError("'DatagramTransport' object has no attribute 'write_eof'")

    def can_write_eof(self):
        raise AttributeError("'DatagramTransport' object has no attribute 'can_write_eof'")

    @property
    def __class__(self):
        # See StreamTransport.__class__.
        return DatagramTransportFace

    @property
    def _sendfile_compatible(self):
        return _SendfileMode.UNSUPPORTED
