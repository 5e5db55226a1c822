"""Listening: create_server, the Server object (also what
create_unix_server returns) and the accept loop.

The accept loop takes up to `backlog` connections per readiness event and
builds each connection's transport on the spot (no task per connection).
When accept() runs out of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
ENOMEM) the listening socket stays readable, so watching it would spin the
loop: it is unwatched, the condition is reported once, and accepting resumes
after ACCEPT_RETRY_DELAY seconds while established connections keep being
served.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextvars
import errno
import os
import socket
import sys
import weakref
from asyncio import trsock
from typing import Any

from aioloop._core.debug import asyncio_logger
from aioloop.loop._nethost import NetHost
from aioloop.loop.network import (
    TLS_NOT_IMPLEMENTED,
    ProtocolFactory,
    bind_error_text,
    check_ssl_socket,
    ensure_resolved,
)

__all__ = ["Server", "ServerMixin"]

# Seconds between accept() attempts while the process is out of descriptors
# (asyncio's constants.ACCEPT_RETRY_DELAY).
ACCEPT_RETRY_DELAY = 1.0

# accept() errors that leave the connection queued: retrying at once would
# fail again and, the socket staying readable, spin the loop.
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

_HAS_IPV6 = hasattr(socket, "AF_INET6")


def _set_reuseport(sock: socket.socket) -> None:
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("reuse_port not supported by socket module")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:
        raise ValueError("reuse_port not supported by socket module, "
                         "SO_REUSEPORT defined but not implemented.") from None


def _unlink_if_unchanged(path: Any, inode: int) -> None:
    # Remove the socket file a closing Unix server bound, unless someone
    # removed or replaced it since (a new file has a new inode).
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        asyncio_logger().error("Unable to clean up listening UNIX socket %r: %r", path, err)


class Server(asyncio.AbstractServer):
    """A listening server: what create_server() and create_unix_server()
    return (asyncio.Server's API)."""

    def __init__(self, loop: NetHost, sockets: list[socket.socket],
                 protocol_factory: ProtocolFactory, backlog: int) -> None:
        self._loop = loop
        self._sockets: list[socket.socket] | None = sockets
        # The live connections, weakly: a transport its owner dropped
        # without closing must stay collectable (and warn).
        self._clients: weakref.WeakSet[Any] = weakref.WeakSet()
        self._anonymous_clients = 0
        # None once woken: wait_closed() returns at once from then on.
        self._waiters: list[asyncio.Future[None]] | None = []
        self._protocol_factory = protocol_factory
        self._backlog = backlog
        self._serving = False
        self._serving_forever_fut: asyncio.Future[None] | None = None
        # Unix socket files to unlink on close: socket -> (path, inode).
        self._socket_files: dict[socket.socket, tuple[Any, int]] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} sockets={self.sockets!r}>"

    # -- the transports' side --------------------------------------------------------

    def _attach(self, transport: Any = None) -> None:
        # A new connection (the stream transport calls this when built).
        # Without a transport: asyncio's 3.11/3.12 form, a bare count.
        if transport is None:
            self._anonymous_clients += 1
        else:
            self._clients.add(transport)

    def _detach(self, transport: Any = None) -> None:
        # The connection is gone (after the protocol's connection_lost).
        if transport is None:
            self._anonymous_clients -= 1
        else:
            self._clients.discard(transport)
        if not self._has_clients() and self._sockets is None:
            self._wakeup()

    def _has_clients(self) -> bool:
        return bool(self._clients) or self._anonymous_clients > 0

    def _wakeup(self) -> None:
        waiters = self._waiters
        self._waiters = None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    # -- serving -----------------------------------------------------------------------

    def _start_serving(self) -> None:
        if self._serving or self._sockets is None:
            return
        self._serving = True
        for sock in self._sockets:
            sock.listen(self._backlog)
            self._loop._start_serving(self._protocol_factory, sock, None, self, self._backlog)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        """The loop this server accepts on."""
        return self._loop

    def is_serving(self) -> bool:
        """True while the server accepts new connections."""
        return self._serving

    @property
    def sockets(self) -> tuple[trsock.TransportSocket, ...]:
        """The listening sockets (read-only wrappers); () once closed."""
        if self._sockets is None:
            return ()
        return tuple(trsock.TransportSocket(sock) for sock in self._sockets)

    def close(self) -> None:
        """Stop listening and close the listening sockets; established
        connections stay open.  A second call does nothing."""
        sockets = self._sockets
        if sockets is None:
            return
        self._sockets = None
        for sock in sockets:
            socket_file = self._socket_files.pop(sock, None)
            self._loop._stop_serving(sock)
            if socket_file is not None:
                _unlink_if_unchanged(*socket_file)
        self._serving = False
        fut = self._serving_forever_fut
        if fut is not None and not fut.done():
            fut.cancel()
            self._serving_forever_fut = None
        if not self._has_clients():
            self._wakeup()

    if sys.version_info >= (3, 13):
        def close_clients(self) -> None:
            """Close every connection this server accepted (gracefully:
            buffered data is sent first)."""
            for transport in self._clients.copy():
                transport.close()

        def abort_clients(self) -> None:
            """Close every connection this server accepted at once, dropping
            unsent data."""
            for transport in self._clients.copy():
                transport.abort()

    async def start_serving(self) -> None:
        """Start accepting (if create_server was called with
        start_serving=False); a no-op when already serving."""
        self._start_serving()
        # One iteration so the listening sockets are watched when we return.
        await asyncio.sleep(0)

    async def serve_forever(self) -> None:
        """Accept until cancelled; cancelling closes the server and waits
        for it to be closed.  Raises RuntimeError if already awaited, or
        if the server is closed."""
        if self._serving_forever_fut is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._sockets is None:
            raise RuntimeError(f"server {self!r} is closed")
        self._start_serving()
        self._serving_forever_fut = self._loop.create_future()
        try:
            await self._serving_forever_fut
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever_fut = None

    if sys.version_info >= (3, 12):
        async def wait_closed(self) -> None:
            """Wait until the server is closed and every connection it
            accepted is gone (either order); returns at once after that."""
            if self._waiters is None:
                return
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            await waiter
    else:
        async def wait_closed(self) -> None:
            """Wait until the server is closed and its connections are gone;
            like asyncio on 3.11, returns at once if close() was called."""
            if self._sockets is None or self._waiters is None:
                return
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            await waiter


class _Listener:
    """Accept-loop state of one listening socket (its fd keys loop._listeners)."""

    __slots__ = ("out_of_resources", "retry")

    def __init__(self) -> None:
        self.out_of_resources = False   # reported; cleared by the next accept
        self.retry: asyncio.TimerHandle | None = None


class ServerMixin(NetHost):
    """create_server and the accept loop (_start_serving / _stop_serving,
    as asyncio names them)."""

    # Set on first use (the mixins have no constructor of their own).
    _listeners: dict[int, _Listener]

    def _listener_table(self) -> dict[int, _Listener]:
        try:
            return self._listeners
        except AttributeError:
            self._listeners = {}
            return self._listeners

    # -- the accept loop ---------------------------------------------------------------

    def _start_serving(self, protocol_factory: ProtocolFactory, sock: socket.socket,
                       sslcontext: Any = None, server: Any = None, backlog: int = 100,
                       ssl_handshake_timeout: Any = None,
                       ssl_shutdown_timeout: Any = None) -> None:
        fd = sock.fileno()
        listener = self._listener_table().setdefault(fd, _Listener())
        if listener.retry is not None:
            listener.retry.cancel()
            listener.retry = None
        self._add_reader(fd, self._accept_connections, protocol_factory, sock, server,
                         backlog, listener)

    def _stop_serving(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        if fd >= 0:
            listener = self._listener_table().pop(fd, None)
            if listener is not None and listener.retry is not None:
                listener.retry.cancel()
            self._remove_reader(fd)
        sock.close()

    def _accept_connections(self, protocol_factory: ProtocolFactory, sock: socket.socket,
                            server: Any, backlog: int, listener: _Listener) -> None:
        # Called once per readiness event; several connections may be
        # queued, so take up to backlog of them (bpo-27906).
        for _ in range(backlog):
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return  # the queue is empty (or the peer gave up meanwhile)
            except OSError as exc:
                if exc.errno in _RESOURCE_ERRNOS:
                    self._pause_accepting(protocol_factory, sock, server, backlog,
                                          listener, exc)
                    return
                raise  # the loop reports it; the listening socket stays watched
            listener.out_of_resources = False
            if self._debug_flag():
                asyncio_logger().debug("%r got a new connection from %r: %r",
                                       server, addr, conn)
            # Each connection gets its own context copy, as asyncio's
            # per-connection task would: what the protocol factory sets in
            # a contextvar stays with that connection.
            contextvars.copy_context().run(self._accept_one, protocol_factory, conn,
                                           addr, server)

    def _accept_one(self, protocol_factory: ProtocolFactory, conn: socket.socket,
                    addr: Any, server: Any) -> None:
        protocol = transport = None
        try:
            conn.setblocking(False)
            protocol = protocol_factory()
            transport = self._make_socket_transport(conn, protocol, extra={"peername": addr},
                                                    server=server)
        except (SystemExit, KeyboardInterrupt):
            conn.close()
            raise
        except BaseException as exc:
            if transport is None:
                conn.close()
            else:
                transport.close()
            # asyncio reports a failed set-up of an incoming connection in
            # debug mode only; the listener keeps accepting either way.
            if self._debug_flag():
                context: dict[str, Any] = {
                    "message": "Error on transport creation for incoming connection",
                    "exception": exc,
                }
                if protocol is not None:
                    context["protocol"] = protocol
                if transport is not None:
                    context["transport"] = transport
                self.call_exception_handler(context)

    def _pause_accepting(self, protocol_factory: ProtocolFactory, sock: socket.socket,
                         server: Any, backlog: int, listener: _Listener, exc: OSError) -> None:
        if not listener.out_of_resources:
            # Once per episode: a process out of descriptors would otherwise
            # log every ACCEPT_RETRY_DELAY seconds until it recovers.
            listener.out_of_resources = True
            self.call_exception_handler({
                "message": "socket.accept() out of system resource",
                "exception": exc,
                "socket": trsock.TransportSocket(sock),
            })
        elif self._debug_flag():
            asyncio_logger().debug("accept() on %r still out of resources: %r", sock, exc)
        # The pending connection keeps the socket readable: unwatch it or
        # the loop spins, and look again later.
        self._remove_reader(sock.fileno())
        listener.retry = self.call_later(ACCEPT_RETRY_DELAY, self._resume_accepting,
                                         protocol_factory, sock, server, backlog, listener)

    def _resume_accepting(self, protocol_factory: ProtocolFactory, sock: socket.socket,
                          server: Any, backlog: int, listener: _Listener) -> None:
        listener.retry = None
        if sock.fileno() < 0 or (server is not None and not server.is_serving()):
            return  # closed meanwhile
        self._add_reader(sock.fileno(), self._accept_connections, protocol_factory, sock,
                         server, backlog, listener)

    # -- public API -------------------------------------------------------------------------

    async def _create_server(
            self, protocol_factory: ProtocolFactory, host: Any = None, port: Any = None, *,
            family: int = socket.AF_UNSPEC, flags: int = socket.AI_PASSIVE,
            sock: socket.socket | None = None, backlog: int = 100, ssl: Any = None,
            reuse_address: bool | None = None, reuse_port: bool | None = None,
            keep_alive: bool | None = None, ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None, start_serving: bool = True) -> Server:
        if isinstance(ssl, bool):
            raise TypeError("ssl argument must be an SSLContext or None")
        if ssl_handshake_timeout is not None and ssl is None:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if ssl_shutdown_timeout is not None and ssl is None:
            raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
        if sock is not None:
            check_ssl_socket(sock)
        if host is not None or port is not None:
            if sock is not None:
                raise ValueError("host/port and sock can not be specified at the same time")
        elif sock is None:
            raise ValueError("Neither host/port nor sock were specified")
        elif sock.type != socket.SOCK_STREAM:
            raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        if ssl is not None:
            raise NotImplementedError(TLS_NOT_IMPLEMENTED)

        if sock is None:
            sockets = await self._bind_server_sockets(host, port, family, flags,
                                                      reuse_address, reuse_port, keep_alive)
        else:
            sockets = [sock]
        for s in sockets:
            s.setblocking(False)
        server = Server(self, sockets, protocol_factory, backlog)
        if start_serving:
            server._start_serving()
            # One iteration so the listening sockets are watched when we return.
            await asyncio.sleep(0)
        if self._debug_flag():
            asyncio_logger().info("%r is serving", server)
        return server

    async def _bind_server_sockets(self, host: Any, port: Any, family: int, flags: int,
                                   reuse_address: bool | None, reuse_port: bool | None,
                                   keep_alive: bool | None) -> list[socket.socket]:
        if reuse_address is None:
            reuse_address = True  # asyncio's default on POSIX
        if host == "":
            hosts: list[Any] = [None]
        elif isinstance(host, str) or not isinstance(host, collections.abc.Iterable):
            hosts = [host]
        else:
            hosts = list(host)
        results = await asyncio.gather(*[self._server_addrinfo(h, port, family, flags)
                                         for h in hosts])
        # One socket per distinct address, in the order getaddrinfo gave them.
        infos = list(dict.fromkeys(info for result in results for info in result))

        sockets: list[socket.socket] = []
        completed = False
        try:
            for af, socktype, proto, _, sa in infos:
                try:
                    sock = socket.socket(af, socktype, proto)
                except OSError:
                    # A family/type/protocol this host does not support.
                    if self._debug_flag():
                        asyncio_logger().warning(
                            "create_server() failed to create socket.socket(%r, %r, %r)",
                            af, socktype, proto, exc_info=True)
                    continue
                sockets.append(sock)
                if reuse_address:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
                if reuse_port:
                    _set_reuseport(sock)
                if keep_alive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)
                if _HAS_IPV6 and af == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                    # One socket per family: Linux's dual-stack sockets would
                    # make the IPv6 one take the IPv4 port too.
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, True)
                try:
                    sock.bind(sa)
                except OSError as err:
                    msg = (f"error while attempting to bind on address {sa!r}: "
                           f"{bind_error_text(err)}")
                    if sys.version_info >= (3, 13) and err.errno == errno.EADDRNOTAVAIL:
                        # The family is not enabled on this host (bpo-30945).
                        sockets.pop()
                        sock.close()
                        if self._debug_flag():
                            asyncio_logger().warning(msg)
                        continue
                    raise OSError(err.errno, msg) from None
            if not sockets:
                raise OSError(f"could not bind on any address out of "
                              f"{[info[4] for info in infos]!r}")
            completed = True
        finally:
            if not completed:
                for sock in sockets:
                    sock.close()
        return sockets

    async def _server_addrinfo(self, host: Any, port: Any, family: int,
                               flags: int) -> list[Any]:
        infos = await ensure_resolved(self, (host, port), family=family,
                                      type=socket.SOCK_STREAM, flags=flags)
        if not infos:
            raise OSError(f"getaddrinfo({host!r}) returned empty list")
        return infos

    if sys.version_info >= (3, 13):
        async def create_server(  # type: ignore[override]
                self, protocol_factory: ProtocolFactory, host: Any = None, port: Any = None,
                *, family: int = socket.AF_UNSPEC, flags: int = socket.AI_PASSIVE,
                sock: socket.socket | None = None, backlog: int = 100, ssl: Any = None,
                reuse_address: bool | None = None, reuse_port: bool | None = None,
                keep_alive: bool | None = None, ssl_handshake_timeout: float | None = None,
                ssl_shutdown_timeout: float | None = None,
                start_serving: bool = True) -> Server:
            """Listen on host:port (host: a name, an address, a sequence of
            them, or None/'' for every interface; one socket per address)
            or on the bound socket sock; return the Server.

            Raises ValueError for contradictory arguments, TypeError for
            ssl=True, OSError when an address cannot be bound,
            NotImplementedError for ssl= (TLS is not implemented yet).
            """
            return await self._create_server(
                protocol_factory, host, port, family=family, flags=flags, sock=sock,
                backlog=backlog, ssl=ssl, reuse_address=reuse_address, reuse_port=reuse_port,
                keep_alive=keep_alive, ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout, start_serving=start_serving)
    else:
        async def create_server(  # type: ignore[override]
                self, protocol_factory: ProtocolFactory, host: Any = None, port: Any = None,
                *, family: int = socket.AF_UNSPEC, flags: int = socket.AI_PASSIVE,
                sock: socket.socket | None = None, backlog: int = 100, ssl: Any = None,
                reuse_address: bool | None = None, reuse_port: bool | None = None,
                ssl_handshake_timeout: float | None = None,
                ssl_shutdown_timeout: float | None = None,
                start_serving: bool = True) -> Server:
            """Listen on host:port (host: a name, an address, a sequence of
            them, or None/'' for every interface; one socket per address)
            or on the bound socket sock; return the Server.

            Raises ValueError for contradictory arguments, TypeError for
            ssl=True, OSError when an address cannot be bound,
            NotImplementedError for ssl= (TLS is not implemented yet).
            """
            return await self._create_server(
                protocol_factory, host, port, family=family, flags=flags, sock=sock,
                backlog=backlog, ssl=ssl, reuse_address=reuse_address, reuse_port=reuse_port,
                ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout, start_serving=start_serving)
