"""Sending files: sock_sendfile (on a socket) and sendfile (through a
transport).

The native path is os.sendfile() on the socket's fd: the kernel copies from
the page cache to the socket, nothing passes through Python.  When that is
impossible (not a regular file, a socket sendfile() refuses, a transport
without a socket) and fallback is allowed, the file is read in chunks in the
default executor and written with the socket coroutines or the transport,
with flow control.  asyncio's contract throughout: the file position ends
after the last byte sent, also on error.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import socket
import stat
from asyncio import constants
from typing import Any

from aioloop.loop._nethost import NetHost
from aioloop.loop.network import check_ssl_socket

__all__ = ["SendfileMixin"]

# Bytes per chunk of loop.sendfile()'s fallback (asyncio's figure: small
# enough that flow control sees each chunk).
_TRANSPORT_FALLBACK_CHUNK = 16384

# Largest count one sendfile(2) call takes on Linux.
_MAX_SENDFILE_CHUNK = 0x7FFFF000


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _file_fd(file: Any) -> int:
    """The fd of a regular file or a device, or SendfileNotAvailableError."""
    try:
        fileno = file.fileno()
    except (AttributeError, io.UnsupportedOperation):
        raise asyncio.SendfileNotAvailableError("not a regular file") from None
    try:
        mode = os.fstat(fileno).st_mode
    except (OSError, TypeError, ValueError):
        raise asyncio.SendfileNotAvailableError("not a regular file") from None
    if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
        # A pipe: asyncio's native path sends nothing from it (its size is
        # 0), the fallback reads it.  Devices (/dev/zero, a disk) go to
        # sendfile(2) as in asyncio; one it refuses (a tty) fails the first
        # call, and the fallback takes over.
        raise asyncio.SendfileNotAvailableError("not a regular file")
    return int(fileno)


def _seekable(file: Any) -> bool:
    # asyncio seeks whenever there is a seek() method; a pipe has one that
    # raises, so ask first (the fallback may read pipes).
    seekable = getattr(file, "seekable", None)
    if seekable is not None:
        try:
            return bool(seekable())
        except (OSError, ValueError):
            return False
    return hasattr(file, "seek")


def _check_sendfile_params(sock: Any, file: Any, offset: Any, count: Any) -> None:
    if "b" not in getattr(file, "mode", "b"):
        raise ValueError("file should be opened in binary mode")
    if not sock.type == socket.SOCK_STREAM:
        raise ValueError("only SOCK_STREAM type sockets are supported")
    if count is not None:
        if not isinstance(count, int):
            raise TypeError(f"count must be a positive integer (got {count!r})")
        if count <= 0:
            raise ValueError(f"count must be a positive integer (got {count!r})")
    if not isinstance(offset, int):
        raise TypeError(f"offset must be a non-negative integer (got {offset!r})")
    if offset < 0:
        raise ValueError(f"offset must be a non-negative integer (got {offset!r})")


def _writing_paused(transport: Any) -> bool:
    # Whether the transport told its protocol to pause writing.  asyncio's
    # transports keep the flag in _protocol_paused; otherwise infer it from
    # the buffer (paused above the high-water mark).
    paused = getattr(transport, "_protocol_paused", None)
    if paused is not None:
        return bool(paused)
    try:
        high = transport.get_write_buffer_limits()[1]
        return bool(transport.get_write_buffer_size() > high)
    except (AttributeError, NotImplementedError):
        return False


class _NativeGuard(asyncio.Protocol):
    """Stands in for the transport's protocol during a zero-copy send, only
    to hear connection_lost: when the transport is closed or aborted
    meanwhile, its fd goes with it and our writer would never fire, so the
    send fails with ConnectionError instead of waiting forever.  Everything
    is passed on to the real protocol."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._proto = transport.get_protocol()
        self.waiter: asyncio.Future[None] | None = None
        transport.set_protocol(self)

    def restore(self) -> None:
        if self._transport.get_protocol() is self:
            self._transport.set_protocol(self._proto)

    def connection_lost(self, exc: Exception | None) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            error = ConnectionError("Connection lost while sending the file")
            error.__cause__ = exc
            waiter.set_exception(error)
        self._proto.connection_lost(exc)

    # Reading is paused and write() refuses data meanwhile, so these are not
    # expected; pass them on all the same.
    def data_received(self, data: bytes) -> None:
        self._proto.data_received(data)

    def eof_received(self) -> bool | None:
        return self._proto.eof_received()  # type: ignore[no-any-return]

    def pause_writing(self) -> None:
        self._proto.pause_writing()

    def resume_writing(self) -> None:
        self._proto.resume_writing()


class _FallbackProtocol(asyncio.Protocol):
    """Stands in for the transport's protocol while loop.sendfile() writes
    chunks: it turns pause_writing/resume_writing into a future to wait on,
    and passes connection_lost on to the real protocol."""

    def __init__(self, loop: asyncio.AbstractEventLoop, transport: Any) -> None:
        self._loop = loop
        self._transport = transport
        self._proto = transport.get_protocol()
        self._should_resume_reading = transport.is_reading()
        self._should_resume_writing = _writing_paused(transport)
        transport.pause_reading()
        transport.set_protocol(self)
        self._write_ready_fut: asyncio.Future[bool] | None = (
            loop.create_future() if self._should_resume_writing else None)

    async def drain(self) -> None:
        if self._transport.is_closing():
            raise ConnectionError("Connection closed by peer")
        fut = self._write_ready_fut
        if fut is not None:
            await fut

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raise RuntimeError("Invalid state: connection should have been established already.")

    def connection_lost(self, exc: Exception | None) -> None:
        fut = self._write_ready_fut
        if fut is not None and not fut.done():
            # The whole file was not sent: for the caller that is an error
            # even if the peer closed cleanly.
            fut.set_exception(exc if exc is not None
                              else ConnectionError("Connection is closed by peer"))
        self._proto.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._write_ready_fut is None:
            self._write_ready_fut = self._loop.create_future()

    def resume_writing(self) -> None:
        fut = self._write_ready_fut
        if fut is None:
            return
        if not fut.done():
            fut.set_result(False)
        self._write_ready_fut = None

    def data_received(self, data: bytes) -> None:
        raise RuntimeError("Invalid state: reading should be paused")

    def eof_received(self) -> None:
        raise RuntimeError("Invalid state: reading should be paused")

    async def restore(self) -> None:
        self._transport.set_protocol(self._proto)
        if self._should_resume_reading:
            self._transport.resume_reading()
        fut = self._write_ready_fut
        if fut is not None:
            fut.cancel()  # nobody waits on it any more
            if fut.done() and not fut.cancelled():
                fut.exception()  # retrieved: no "never retrieved" warning
        if self._should_resume_writing:
            self._proto.resume_writing()


class SendfileMixin(NetHost):
    """sock_sendfile, sendfile."""

    # -- on a socket ---------------------------------------------------------------------

    async def sock_sendfile(  # type: ignore[override]
            self, sock: socket.socket, file: Any, offset: int = 0, count: int | None = None,
            *, fallback: bool = True) -> int:
        """Send file (a binary file object) from offset, count bytes or to
        EOF, on the connected non-blocking stream socket sock; return the
        number of bytes sent.  Uses os.sendfile(); with fallback, reads and
        sends chunks when sendfile is unusable.  The file position ends
        after the last byte sent.

        Raises ValueError (blocking or non-stream socket, text file, bad
        offset/count), TypeError (SSL socket, non-integer offset/count),
        asyncio.SendfileNotAvailableError when fallback is False and
        os.sendfile() cannot be used, OSError from the socket.
        """
        check_ssl_socket(sock)
        if sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")
        _check_sendfile_params(sock, file, offset, count)
        try:
            return await self._sock_sendfile_native(sock, file, offset, count)
        except asyncio.SendfileNotAvailableError:
            if not fallback:
                raise
        return await self._sock_sendfile_fallback(sock, file, offset, count)

    async def _sock_sendfile_native(self, sock: Any, file: Any, offset: int,
                                    count: int | None) -> int:
        fileno, blocksize = self._sendfile_source(file, count)
        if not blocksize:
            return 0  # an empty file
        return await self._sendfile_loop(sock.fileno(), fileno, offset, count, blocksize,
                                         check_owner=True, file=file)

    @staticmethod
    def _sendfile_source(file: Any, count: int | None) -> tuple[int, int]:
        if not hasattr(os, "sendfile"):
            raise asyncio.SendfileNotAvailableError("os.sendfile() is not available")
        fileno = _file_fd(file)
        return fileno, count if count else os.fstat(fileno).st_size

    async def _sendfile_loop(self, fd: int, fileno: int, offset: int, count: int | None,
                             blocksize: int, *, check_owner: bool, file: Any,
                             guard: _NativeGuard | None = None) -> int:
        """os.sendfile() until count bytes (or EOF), waiting for the socket
        to drain whenever it is full."""
        total = 0
        try:
            while True:
                if count:
                    blocksize = count - total
                    if blocksize <= 0:
                        break
                try:
                    sent = os.sendfile(fd, fileno, offset + total,
                                       min(blocksize, _MAX_SENDFILE_CHUNK))
                except (BlockingIOError, InterruptedError):
                    await self._until_writable(fd, check_owner, guard)
                    continue
                except OSError as exc:
                    if total == 0:
                        # Nothing went out: the kernel refuses this pair of
                        # fds, and the fallback may still do the job.
                        raise asyncio.SendfileNotAvailableError(
                            "os.sendfile call failed") from exc
                    if exc.errno == errno.ENOTCONN and type(exc) is not ConnectionError:
                        # The peer went away mid-transfer: say so as the
                        # other paths do.
                        raise ConnectionError(errno.ENOTCONN,
                                              "socket is not connected") from exc
                    raise
                if sent == 0:
                    break  # end of file
                total += sent
        finally:
            # Leave the file position after the last byte sent, unless the
            # caller closed the file meanwhile: its fd number may belong to
            # another file by now, and the error must not hide the one (or
            # the cancellation) on its way out.
            if total > 0 and not getattr(file, "closed", False):
                try:
                    os.lseek(fileno, offset + total, os.SEEK_SET)
                except OSError:
                    pass
        return total

    async def _until_writable(self, fd: int, check_owner: bool,
                              guard: _NativeGuard | None) -> None:
        if check_owner:
            self._ensure_fd_no_transport(fd)
        fut: asyncio.Future[None] = self.create_future()
        handle = self._add_writer(fd, _wake, fut)
        if guard is not None:
            guard.waiter = fut
        try:
            await fut
        finally:
            if guard is not None:
                guard.waiter = None
            # Unless someone replaced our writer meanwhile.
            if not handle.cancelled():
                self._remove_writer(fd)

    async def _sock_sendfile_fallback(self, sock: Any, file: Any, offset: int,
                                      count: int | None) -> int:
        if offset:
            file.seek(offset)
        # Read when called: CPython's tests shrink it.
        chunk = constants.SENDFILE_FALLBACK_READBUFFER_SIZE
        blocksize = min(count, chunk) if count else chunk
        buf = bytearray(blocksize)
        total = 0
        try:
            while True:
                if count:
                    blocksize = min(count - total, blocksize)
                    if blocksize <= 0:
                        break
                view = memoryview(buf)[:blocksize]
                # A file read may block (network file systems): not on the loop.
                read = await self.run_in_executor(None, file.readinto, view)
                if not read:
                    break  # end of file
                await self.sock_sendall(sock, view[:read])
                total += read
            return total
        finally:
            if total > 0 and _seekable(file):
                file.seek(offset + total)

    # -- through a transport ---------------------------------------------------------------

    async def sendfile(  # type: ignore[override]
            self, transport: asyncio.WriteTransport, file: Any, offset: int = 0,
            count: int | None = None, *, fallback: bool = True) -> int:
        """Send file through transport from offset, count bytes or to EOF;
        return the number of bytes sent.  Stream socket transports use
        os.sendfile() (zero-copy: the transport's buffer is flushed first,
        reading pauses, write() raises until done); otherwise, with
        fallback, chunks are written with flow control.

        Raises RuntimeError if the transport is closing or cannot send
        files (e.g. a datagram transport), or if fallback is False and the
        transport has no native path; asyncio.SendfileNotAvailableError if
        fallback is False and os.sendfile() cannot be used; ValueError or
        TypeError for bad arguments; ConnectionError if the peer goes away.
        """
        if transport.is_closing():
            raise RuntimeError("Transport is closing")
        mode = getattr(transport, "_sendfile_compatible", constants._SendfileMode.UNSUPPORTED)
        if mode is constants._SendfileMode.UNSUPPORTED:
            raise RuntimeError(f"sendfile is not supported for transport {transport!r}")
        if mode is constants._SendfileMode.TRY_NATIVE:
            try:
                # Through the attribute: CPython's tests replace it.
                return await self._sendfile_native(transport, file, offset, count)
            except asyncio.SendfileNotAvailableError:
                if not fallback:
                    raise
        if not fallback:
            raise RuntimeError("fallback is disabled and native sendfile is not "
                               f"supported for transport {transport!r}")
        return await self._sendfile_fallback(transport, file, offset, count)

    async def _sendfile_native(self, transport: Any, file: Any, offset: int,
                               count: int | None) -> int:
        sock = transport.get_extra_info("socket")
        if sock is None:
            raise asyncio.SendfileNotAvailableError(
                f"transport {transport!r} has no socket to send the file on")
        _check_sendfile_params(sock, file, offset, count)
        fileno, blocksize = self._sendfile_source(file, count)
        resume_reading = transport.is_reading()
        transport.pause_reading()
        # What write() buffered goes out first; until we reset it, the
        # waiter also makes write() refuse to interleave data with the file.
        await transport._make_empty_waiter()
        guard = None
        try:
            if transport.is_closing():
                raise ConnectionError("Connection is closed")
            if not blocksize:
                return 0
            guard = _NativeGuard(transport)
            # Our writer on the transport's fd: the transport has none while
            # its buffer is empty, and it owns the fd, so skip that check.
            return await self._sendfile_loop(sock.fileno(), fileno, offset, count, blocksize,
                                             check_owner=False, guard=guard, file=file)
        finally:
            if guard is not None:
                guard.restore()
            transport._reset_empty_waiter()
            if resume_reading:
                transport.resume_reading()

    async def _sendfile_fallback(self, transport: Any, file: Any, offset: int,
                                 count: int | None) -> int:
        if offset:
            file.seek(offset)
        blocksize = min(count, _TRANSPORT_FALLBACK_CHUNK) if count else _TRANSPORT_FALLBACK_CHUNK
        buf = bytearray(blocksize)
        total = 0
        proto = _FallbackProtocol(self, transport)
        try:
            while True:
                if count:
                    blocksize = min(count - total, blocksize)
                    if blocksize <= 0:
                        return total
                view = memoryview(buf)[:blocksize]
                read = await self.run_in_executor(None, file.readinto, view)
                if not read:
                    return total  # end of file
                await proto.drain()
                # The transport copies what it cannot send at once, so buf
                # may be refilled by the next read.
                transport.write(view[:read])
                total += read
        finally:
            if total > 0 and _seekable(file):
                file.seek(offset + total)
            await proto.restore()
