"""Unix stream sockets: create_unix_connection and create_unix_server
(socket files, stale ones replaced, removed on close from 3.13, and the
abstract namespace)."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import stat
import sys
from typing import Any

from aioloop._core.debug import asyncio_logger
from aioloop.loop._nethost import NetHost
from aioloop.loop.network import (
    TLS_NOT_IMPLEMENTED,
    ProtocolFactory,
    check_ssl_timeouts,
    connection_transport,
)
from aioloop.loop.server import Server

__all__ = ["UnixMixin"]


def is_abstract(path: Any) -> bool:
    """True for a Unix address in the abstract namespace (a leading NUL, or
    the empty autobind address): there is no file to manage."""
    return not path or path[0] in (0, "\x00")


def remove_stale_socket_file(path: Any) -> None:
    """Remove path if it is a socket file (left behind by a process that
    died without unlinking it, it would make bind() fail); never remove
    anything else."""
    if is_abstract(path):
        return
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        # The directory may allow creating the socket but not stat().
        asyncio_logger().error("Unable to check or remove stale UNIX socket %r: %r", path, err)


def _bind_unix_path(path: Any) -> socket.socket:
    """A stream socket bound to path (a stale socket file there is replaced)."""
    remove_stale_socket_file(path)      # before the socket: nothing to close if it raises
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(errno.EADDRINUSE,
                          f"Address {path!r} is already in use") from None
        raise
    except BaseException:
        sock.close()
        raise
    return sock



def _check_path_or_sock(path: Any, sock: socket.socket | None, missing: str) -> None:
    """Exactly one of path and sock, and sock a Unix stream socket; raises
    ValueError with asyncio's messages (``missing`` when neither is given)."""
    if path is not None:
        if sock is not None:
            raise ValueError("path and sock can not be specified at the same time")
    elif sock is None:
        raise ValueError(missing)
    elif sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        raise ValueError(f"A UNIX Domain Stream Socket was expected, got {sock!r}")


class UnixMixin(NetHost):
    """create_unix_connection, create_unix_server."""

    async def create_unix_connection(  # type: ignore[override]
            self, protocol_factory: ProtocolFactory, path: Any = None, *, ssl: Any = None,
            sock: socket.socket | None = None, server_hostname: str | None = None,
            ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None,
    ) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
        """Connect to the Unix stream socket at path (str, bytes, path-like;
        a leading NUL names an abstract socket) or wrap sock; return
        (transport, protocol).

        Raises ValueError for contradictory arguments or a socket that is
        not AF_UNIX/SOCK_STREAM, OSError (FileNotFoundError,
        ConnectionRefusedError, ...) when the connection fails, and
        NotImplementedError for ssl=.
        """
        if server_hostname is not None and not isinstance(server_hostname, str):
            raise TypeError(f"server_hostname must be a str, got {server_hostname!r}")
        if ssl:
            if server_hostname is None:
                raise ValueError("you have to pass server_hostname when using ssl")
        else:
            if server_hostname is not None:
                raise ValueError("server_hostname is only meaningful with ssl")
            check_ssl_timeouts(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        _check_path_or_sock(path, sock, "no path and sock were specified")
        if ssl:
            raise NotImplementedError(TLS_NOT_IMPLEMENTED)

        made_here = sock is None
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
            try:
                sock.setblocking(False)
                await self.sock_connect(sock, os.fspath(path))
            except BaseException:
                sock.close()
                raise
        return await connection_transport(self, sock, protocol_factory,
                                          close_on_failure=made_here)

    async def _create_unix_server(
            self, protocol_factory: ProtocolFactory, path: Any = None, *,
            sock: socket.socket | None = None, backlog: int = 100, ssl: Any = None,
            ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None, start_serving: bool = True,
            cleanup_socket: bool = False) -> Server:
        if isinstance(ssl, bool):
            raise TypeError("ssl argument must be an SSLContext or None")
        check_ssl_timeouts(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        _check_path_or_sock(path, sock, "path was not specified, and no sock specified")
        if ssl:
            raise NotImplementedError(TLS_NOT_IMPLEMENTED)

        if sock is None:
            sock = _bind_unix_path(os.fspath(path))
        sock.setblocking(False)
        server = Server(self, [sock], protocol_factory, backlog)
        if cleanup_socket:
            bound = sock.getsockname()
            if not is_abstract(bound):
                try:
                    # The inode tells, at close, whether the file is still ours.
                    server._socket_files[sock] = (bound, os.stat(bound).st_ino)
                except FileNotFoundError:
                    pass
        if start_serving:
            server._start_serving()
            await asyncio.sleep(0)
        return server

    if sys.version_info >= (3, 13):
        async def create_unix_server(  # type: ignore[override]
                self, protocol_factory: ProtocolFactory, path: Any = None, *,
                sock: socket.socket | None = None, backlog: int = 100, ssl: Any = None,
                ssl_handshake_timeout: float | None = None,
                ssl_shutdown_timeout: float | None = None, start_serving: bool = True,
                cleanup_socket: bool = True) -> Server:
            """Listen on the Unix stream socket at path (a stale socket file
            there is replaced; a leading NUL names an abstract socket) or on
            the bound AF_UNIX socket sock; return the Server.  With
            cleanup_socket, closing the server unlinks the socket file if it
            is still the one it bound.

            Raises ValueError for contradictory arguments, OSError
            ("Address ... is already in use") when path exists and is not
            a socket, NotImplementedError for ssl=.
            """
            return await self._create_unix_server(
                protocol_factory, path, sock=sock, backlog=backlog, ssl=ssl,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout, start_serving=start_serving,
                cleanup_socket=cleanup_socket)
    else:
        async def create_unix_server(  # type: ignore[override]
                self, protocol_factory: ProtocolFactory, path: Any = None, *,
                sock: socket.socket | None = None, backlog: int = 100, ssl: Any = None,
                ssl_handshake_timeout: float | None = None,
                ssl_shutdown_timeout: float | None = None,
                start_serving: bool = True) -> Server:
            """Listen on the Unix stream socket at path (a stale socket file
            there is replaced; a leading NUL names an abstract socket) or on
            the bound AF_UNIX socket sock; return the Server.  Like asyncio
            before 3.13, the socket file stays after close.

            Raises ValueError for contradictory arguments, OSError
            ("Address ... is already in use") when path exists and is not
            a socket, NotImplementedError for ssl=.
            """
            return await self._create_unix_server(
                protocol_factory, path, sock=sock, backlog=backlog, ssl=ssl,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout, start_serving=start_serving)
