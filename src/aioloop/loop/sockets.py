"""The low-level socket coroutines: sock_recv, sock_sendall, sock_connect, ...

Each first tries the operation at once (the common case on a busy socket
costs no poller round trip); only on EAGAIN does it register a one-shot
reader or writer and wait on a future.  Cancelling the waiting coroutine
removes the registration.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from typing import Any

import aioloop._core.sockops as _sockops
from aioloop.loop._host import LoopHost

try:
    import ssl
    _SSLSocket: Any = ssl.SSLSocket
except ImportError:  # pragma: no cover - Python built without ssl
    _SSLSocket = ()

_Address = Any


def _check_socket(sock: socket.socket) -> None:
    # asyncio rejects SSL sockets (their recv can block on a handshake) and,
    # in debug mode, blocking sockets.  We reject blocking sockets always: a
    # blocking call here would freeze every task (docs/differences.md).
    if isinstance(sock, _SSLSocket):
        raise TypeError("Socket cannot be of type SSLSocket")
    if sock.gettimeout() != 0:
        raise ValueError("the socket must be non-blocking")


def _settle(fut: asyncio.Future[Any], op: Any, *args: Any) -> bool:
    """Run op(*args) for a waiting future; False if it would still block."""
    if fut.done():
        return True
    try:
        result = op(*args)
    except (BlockingIOError, InterruptedError):
        return False
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        fut.set_exception(exc)
        del fut     # exc's traceback holds this frame: no cycle through the future
    else:
        fut.set_result(result)
    return True


def _port_number(port: Any) -> int | None:
    """The port as asyncio's _ipaddr_info reads it: None or empty is 0, a
    number is itself (range checked later by connect()), anything else (a
    service name) is None, for getaddrinfo() to resolve."""
    if port is None or port in (b"", ""):
        return 0
    try:
        return int(port)
    except (TypeError, ValueError):
        return None


class SocketsMixin(LoopHost):
    """sock_recv, sock_recv_into, sock_recvfrom, sock_recvfrom_into,
    sock_sendall, sock_sendto, sock_connect, sock_accept."""

    # -- plumbing ----------------------------------------------------------------

    def _wait_readable(self, sock: socket.socket, op: Any, *args: Any) -> asyncio.Future[Any]:
        fut = self.create_future()
        fd = sock.fileno()
        self._ensure_fd_no_transport(fd)
        handle = self._add_reader(fd, _settle, fut, op, *args)
        fut.add_done_callback(functools.partial(self._reader_done, fd, handle))
        return fut

    def _wait_writable(self, sock: socket.socket, callback: Any, *args: Any) -> asyncio.Future[Any]:
        fut = self.create_future()
        fd = sock.fileno()
        self._ensure_fd_no_transport(fd)
        handle = self._add_writer(fd, callback, fut, *args)
        fut.add_done_callback(functools.partial(self._writer_done, fd, handle))
        return fut

    def _reader_done(self, fd: int, handle: Any, fut: asyncio.Future[Any]) -> None:
        # Remove our reader, unless someone replaced it meanwhile.
        if not handle.cancelled():
            self._remove_reader(fd)

    def _writer_done(self, fd: int, handle: Any, fut: asyncio.Future[Any]) -> None:
        if not handle.cancelled():
            self._remove_writer(fd)

    # -- receiving ---------------------------------------------------------------

    async def sock_recv(self, sock: socket.socket, nbytes: int) -> bytes:
        """Receive up to nbytes from a non-blocking socket.

        Raises TypeError for an SSL socket, ValueError for a blocking one,
        OSError from the socket.
        """
        _check_socket(sock)
        result = _sockops.recv(self, sock, nbytes)
        if result.__class__ is bytes:
            return result  # type: ignore[no-any-return]
        # Awaited here rather than in a helper coroutine: one coroutine
        # frame less per wait on the hot path.
        fut = result.fut
        try:
            return await fut  # type: ignore[no-any-return]
        except BaseException:
            result.cancel(fut)  # cancelled: stop watching the fd
            raise

    async def sock_recv_into(self, sock: socket.socket, buf: Any) -> int:
        """Receive into buf; return the number of bytes (see sock_recv)."""
        _check_socket(sock)
        result = _sockops.recv_into(self, sock, buf)
        if result.__class__ is int:
            return result  # type: ignore[no-any-return]
        fut = result.fut
        try:
            return await fut  # type: ignore[no-any-return]
        except BaseException:
            result.cancel(fut)
            raise

    async def sock_recvfrom(self, sock: socket.socket, bufsize: int) -> tuple[bytes, _Address]:
        """Receive a datagram of up to bufsize bytes: (data, address)."""
        _check_socket(sock)
        try:
            return sock.recvfrom(bufsize)
        except (BlockingIOError, InterruptedError):
            pass
        return await self._wait_readable(sock, sock.recvfrom, bufsize)

    async def sock_recvfrom_into(self, sock: socket.socket, buf: Any,
                                 nbytes: int = 0) -> tuple[int, _Address]:
        """Receive a datagram into buf: (nbytes, address)."""
        _check_socket(sock)
        if not nbytes:
            nbytes = len(buf)
        try:
            return sock.recvfrom_into(buf, nbytes)
        except (BlockingIOError, InterruptedError):
            pass
        return await self._wait_readable(sock, sock.recvfrom_into, buf, nbytes)

    # -- sending -----------------------------------------------------------------

    async def sock_sendall(self, sock: socket.socket, data: Any) -> None:
        """Send all of data; returns None once the kernel has taken it.

        On error the amount already sent is unknown (asyncio's contract).
        """
        _check_socket(sock)
        waiter = _sockops.sendall(self, sock, data)
        if waiter is None:
            return None
        try:
            return await waiter.fut  # type: ignore[no-any-return]
        except BaseException:
            waiter.cancel()
            raise

    async def sock_sendto(self, sock: socket.socket, data: Any, address: _Address) -> int:
        """Send a datagram to address; return the number of bytes sent."""
        _check_socket(sock)
        try:
            return sock.sendto(data, address)
        except (BlockingIOError, InterruptedError):
            pass
        return await self._wait_writable(sock, self._sendto_ready, sock, data, address)

    def _sendto_ready(self, fut: asyncio.Future[int], sock: socket.socket,
                      data: Any, address: _Address) -> None:
        _settle(fut, sock.sendto, data, address)

    # -- connecting and accepting ------------------------------------------------

    async def sock_connect(self, sock: socket.socket, address: _Address) -> None:
        """Connect sock to address, resolving a host name first for INET
        sockets.  Raises OSError (e.g. ConnectionRefusedError) on failure."""
        _check_socket(sock)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            address = await self._resolve_for(sock, address)
        try:
            sock.connect(address)
            return None
        except (BlockingIOError, InterruptedError):
            pass
        return await self._wait_writable(sock, self._connect_done, sock, address)

    def _connect_done(self, fut: asyncio.Future[None], sock: socket.socket,
                      address: _Address) -> None:
        if fut.done():
            return
        try:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                raise OSError(err, f"Connect call failed {address}")
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            fut.set_exception(exc)
            del fut     # as asyncio does: no cycle exc -> traceback -> frame -> fut -> exc
        else:
            fut.set_result(None)

    async def _resolve_for(self, sock: socket.socket, address: _Address) -> _Address:
        if isinstance(address, (str, bytes, bytearray)):
            # asyncio fails on it too (a TypeError from unpacking it).
            family = getattr(sock.family, "name", sock.family)
            raise TypeError(f"{family} address must be a (host, port) tuple, "
                            f"not {type(address).__name__}")
        host, port = address[:2]
        number = _port_number(port)
        infos = None
        if number is not None and host is not None:
            # A numeric host: no DNS, so no trip to the executor.  The port
            # is passed on as given, as asyncio does, so that connect()
            # rejects one out of range (getaddrinfo() would wrap it).
            try:
                infos = socket.getaddrinfo(host, None, sock.family, sock.type, sock.proto,
                                           socket.AI_NUMERICHOST)
            except (socket.gaierror, UnicodeError, TypeError):
                pass
        if infos:
            resolved: Any = (infos[0][4][0], number, *infos[0][4][2:])
        else:
            infos = await self.getaddrinfo(host, port, family=sock.family,
                                           type=sock.type, proto=sock.proto)
            if not infos:
                raise OSError(f"getaddrinfo({host!r}) returned empty list") from None
            resolved = infos[0][4]
        if sock.family == socket.AF_INET6 and len(address) > 2:
            # Keep the caller's flowinfo / scope id.
            resolved = (resolved[0], resolved[1], *address[2:])
        return resolved

    async def sock_accept(self, sock: socket.socket) -> tuple[socket.socket, _Address]:
        """Accept a connection: (non-blocking socket, address)."""
        _check_socket(sock)
        try:
            return self._accept_now(sock)
        except (BlockingIOError, InterruptedError):
            pass
        return await self._wait_readable(sock, self._accept_now, sock)

    @staticmethod
    def _accept_now(sock: socket.socket) -> tuple[socket.socket, _Address]:
        conn, address = sock.accept()
        conn.setblocking(False)
        return conn, address
