"""Outgoing stream connections: create_connection and
connect_accepted_socket, and the address handling and connection set-up the
server, Unix and datagram modules share with them.

This layer only sets connections up: it resolves names, races connection
attempts (happy eyeballs), binds local addresses, and hands the connected
socket to the loop's compiled stream transport (``_make_socket_transport``).
TLS is not implemented yet: its arguments are checked as asyncio checks
them, then NotImplementedError says so.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import socket
import sys
from collections.abc import Callable, Iterable
from typing import Any

from aioloop._core.debug import asyncio_logger
from aioloop.loop._nethost import NetHost

try:
    import ssl as _ssl_module
    _SSLSocket: Any = _ssl_module.SSLSocket
except ImportError:  # pragma: no cover - Python built without ssl
    _SSLSocket = ()

__all__ = ["NetworkMixin", "connection_transport", "ensure_resolved"]

AddrInfo = tuple[Any, Any, int, str, Any]   # (family, type, proto, canonname, sockaddr)
ProtocolFactory = Callable[[], asyncio.BaseProtocol]

TLS_NOT_IMPLEMENTED = ("TLS (ssl=) is not implemented by aioloop yet; "
                       "use asyncio's own event loop for TLS connections")

_HAS_IPV6 = hasattr(socket, "AF_INET6")


# -- argument checks shared by the connection-setup modules ------------------------------------

def check_ssl_socket(sock: Any) -> None:
    """Raise TypeError for an ssl.SSLSocket (asyncio's rule: the loop wraps
    plain sockets itself)."""
    if isinstance(sock, _SSLSocket):
        raise TypeError("Socket cannot be of type SSLSocket")


def check_ssl_timeouts(ssl: Any, handshake_timeout: Any, shutdown_timeout: Any) -> None:
    """The timeouts only make sense with TLS: ValueError otherwise."""
    if handshake_timeout is not None and not ssl:
        raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
    if shutdown_timeout is not None and not ssl:
        raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")


def bind_error_text(exc: OSError) -> str:
    # The text asyncio puts after "error while attempting to bind on address
    # ...": the lowered strerror up to 3.12, the whole lowered str() from 3.13.
    if sys.version_info >= (3, 13):
        return str(exc).lower()
    return (exc.strerror or str(exc)).lower()


# -- address resolution -------------------------------------------------------------------------

def ipaddr_info(host: Any, port: Any, family: int, type: int, proto: int,
                flowinfo: int = 0, scopeid: int = 0) -> AddrInfo | None:
    """The getaddrinfo() entry for a host that is already a numeric IP
    address, or None when a real look-up is needed.

    Resolving a literal address through the executor costs a thread round
    trip for nothing; most servers and clients pass literals.
    """
    if host is None or proto not in (0, socket.IPPROTO_TCP, socket.IPPROTO_UDP):
        return None
    if type == socket.SOCK_STREAM:
        proto = socket.IPPROTO_TCP
    elif type == socket.SOCK_DGRAM:
        proto = socket.IPPROTO_UDP
    else:
        return None
    if port is None or port == "" or port == b"":
        port = 0
    else:
        try:
            port = int(port)
        except (TypeError, ValueError):
            return None  # a service name such as "http": getaddrinfo knows it
    if isinstance(host, bytes):
        host = host.decode("idna")
    if not isinstance(host, str) or "%" in host:
        # inet_pton() does not take an IPv6 zone ("fe80::1%eth0").
        return None
    families: list[int]
    if family == socket.AF_UNSPEC:
        families = [socket.AF_INET, socket.AF_INET6] if _HAS_IPV6 else [socket.AF_INET]
    else:
        families = [family]
    for af in families:
        try:
            socket.inet_pton(af, host)
        except (OSError, ValueError):
            continue
        if _HAS_IPV6 and af == socket.AF_INET6:
            return af, type, proto, "", (host, port, flowinfo, scopeid)
        return af, type, proto, "", (host, port)
    return None


async def ensure_resolved(loop: asyncio.AbstractEventLoop, address: Any, *, family: int = 0,
                          type: int = socket.SOCK_STREAM, proto: int = 0,
                          flags: int = 0) -> list[AddrInfo]:
    """getaddrinfo() entries for (host, port[, flowinfo, scopeid]), without a
    look-up when host is a numeric address.  Raises socket.gaierror."""
    host, port = address[:2]
    info = ipaddr_info(host, port, family, type, proto, *address[2:])
    if info is not None:
        return [info]
    # Through the loop's method: callers (and CPython's tests) may replace it.
    return await loop.getaddrinfo(host, port, family=family, type=type,
                                  proto=proto, flags=flags)


def interleave_addrinfos(infos: Iterable[AddrInfo],
                         first_family_count: int = 1) -> list[AddrInfo]:
    """Reorder infos so that families alternate (RFC 8305 section 4): the
    first family's first `first_family_count` addresses, then one of each
    family in turn."""
    by_family: dict[Any, list[AddrInfo]] = collections.OrderedDict()
    for info in infos:
        by_family.setdefault(info[0], []).append(info)
    groups = list(by_family.values())
    if not groups:
        return []
    ordered: list[AddrInfo] = []
    if first_family_count > 1:
        ordered.extend(groups[0][:first_family_count - 1])
        del groups[0][:first_family_count - 1]
    for batch in itertools.zip_longest(*groups):
        ordered.extend(info for info in batch if info is not None)
    return ordered


def connect_error(errors: list[OSError], all_errors: bool) -> BaseException:
    """The exception create_connection() raises when every attempt failed:
    the single error, one of several identical ones, or a summary."""
    if all_errors:
        return ExceptionGroup("create_connection failed", errors)
    if not errors:  # pragma: no cover - every attempt records its error
        return OSError("create_connection failed: no address was tried")
    if len(errors) == 1:
        return errors[0]
    first = str(errors[0])
    if all(str(exc) == first for exc in errors):
        return errors[0]
    return OSError("Multiple exceptions: {}".format(", ".join(str(exc) for exc in errors)))


def _close_late_winner(keep: socket.socket | None, task: asyncio.Task[socket.socket]) -> None:
    if task.cancelled() or task.exception() is not None:
        return
    sock = task.result()
    if sock is not keep:
        sock.close()


async def connection_transport(
        loop: NetHost, sock: socket.socket, protocol_factory: ProtocolFactory, *,
        close_on_failure: bool) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
    """Build the loop's stream transport over a connected socket and wait
    until the protocol's connection_made() has run."""
    try:
        sock.setblocking(False)
        protocol = protocol_factory()
        waiter = loop.create_future()
        transport = loop._make_socket_transport(sock, protocol, waiter)
    except BaseException:
        # The transport never took the socket; it is ours to close if we made it.
        if close_on_failure:
            sock.close()
        raise
    try:
        await waiter
    except BaseException:
        transport.close()
        raise
    return transport, protocol


class NetworkMixin(NetHost):
    """create_connection, connect_accepted_socket."""

    # -- the connection itself ------------------------------------------------------------

    async def _connect_sock(self, errors: list[OSError], info: AddrInfo,
                            local_infos: list[AddrInfo] | None) -> socket.socket:
        """Create, bind (to the first local address of its family that
        works) and connect one socket.  Every OSError met is appended to
        errors; the socket is closed on any failure."""
        family, type_, proto, _, address = info
        sock = None
        try:
            sock = socket.socket(family=family, type=type_, proto=proto)
            sock.setblocking(False)
            if local_infos is not None:
                self._bind_local(sock, family, local_infos, errors)
            await self.sock_connect(sock, address)
            return sock
        except OSError as exc:
            errors.append(exc)
            if sock is not None:
                sock.close()
            raise
        except BaseException:
            if sock is not None:
                sock.close()
            raise

    @staticmethod
    def _bind_local(sock: socket.socket, family: Any, local_infos: list[AddrInfo],
                    errors: list[OSError]) -> None:
        last: OSError | None = None
        for lfamily, _, _, _, laddr in local_infos:
            if lfamily != family:
                continue
            try:
                sock.bind(laddr)
                return
            except OSError as exc:
                if last is not None:
                    errors.append(last)
                last = OSError(exc.errno, f"error while attempting to bind on "
                                         f"address {laddr!r}: {bind_error_text(exc)}")
        if last is not None:
            raise last  # recorded by _connect_sock
        raise OSError(f"no matching local address with {family=} found")

    async def _connect_in_turn(self, infos: list[AddrInfo], local_infos: list[AddrInfo] | None,
                               errors: list[OSError]) -> socket.socket | None:
        # One address after the other, each until it connects or fails.
        for info in infos:
            try:
                return await self._connect_sock(errors, info, local_infos)
            except OSError:
                continue
        return None

    async def _connect_staggered(self, infos: list[AddrInfo],
                                 local_infos: list[AddrInfo] | None, delay: float,
                                 errors: list[OSError]) -> socket.socket | None:
        """Happy eyeballs (RFC 8305): start the first attempt; start the next
        one when the latest fails or `delay` seconds after it started; the
        first socket to connect wins and every other attempt is cancelled.

        Errors are reported in the order the attempts started, so the
        summary reads like the sequential one.
        """
        per_attempt: list[list[OSError]] = []
        remaining = iter(infos)
        running: dict[asyncio.Task[socket.socket], int] = {}
        winner: socket.socket | None = None
        latest = -1          # index of the most recently started attempt
        next_start = 0.0     # when the next attempt starts, failing a failure

        def start_next() -> bool:
            nonlocal latest, next_start
            info = next(remaining, None)
            if info is None:
                return False
            attempt_errors: list[OSError] = []
            per_attempt.append(attempt_errors)
            latest += 1
            task = self.create_task(self._connect_sock(attempt_errors, info, local_infos))
            running[task] = latest
            next_start = self.time() + delay
            return True

        more = start_next()
        try:
            while running:
                timeout = max(0.0, next_start - self.time()) if more else None
                done, _ = await asyncio.wait(running, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    more = start_next()  # the latest attempt is taking too long
                    continue
                latest_failed = False
                for task in done:
                    index = running.pop(task)
                    exc = task.exception()
                    if exc is None:
                        if winner is None:
                            winner = task.result()
                        else:
                            task.result().close()  # connected at the same moment
                    elif isinstance(exc, OSError):
                        latest_failed = latest_failed or index == latest
                    else:
                        raise exc
                if winner is not None:
                    return winner
                if latest_failed and more:
                    more = start_next()
            return None
        except BaseException:
            if winner is not None:
                winner.close()  # a sibling attempt failed unexpectedly
            raise
        finally:
            for task in running:
                # An attempt may still connect after we stop listening (we
                # were cancelled, or another won): close what it returns.
                task.add_done_callback(functools.partial(_close_late_winner, winner))
                task.cancel()
            if running:
                # Let the cancelled attempts close their sockets before we return.
                await asyncio.wait(running)
            errors.extend(itertools.chain.from_iterable(per_attempt))

    # -- public API -------------------------------------------------------------------------

    async def _create_connection(
            self, protocol_factory: ProtocolFactory, host: Any = None, port: Any = None, *,
            ssl: Any = None, family: int = 0, proto: int = 0, flags: int = 0,
            sock: socket.socket | None = None, local_addr: Any = None,
            server_hostname: str | None = None, ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None, happy_eyeballs_delay: float | None = None,
            interleave: int | None = None,
            all_errors: bool = False) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
        if server_hostname is not None and not ssl:
            raise ValueError("server_hostname is only meaningful with ssl")
        if server_hostname is None and ssl:
            # The certificate is checked against host unless told otherwise;
            # server_hostname='' skips the check.
            if not host:
                raise ValueError("You must set server_hostname when using ssl without a host")
            server_hostname = host
        check_ssl_timeouts(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        if sock is not None:
            check_ssl_socket(sock)
        if happy_eyeballs_delay is not None and interleave is None:
            interleave = 1  # happy eyeballs alternates families by default

        if host is not None or port is not None:
            if sock is not None:
                raise ValueError("host/port and sock can not be specified at the same time")
        elif sock is None:
            raise ValueError("host and port was not specified and no sock specified")
        elif sock.type != socket.SOCK_STREAM:
            # AF_UNIX stream sockets are welcome too (asyncio accepts them).
            raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        if ssl:
            raise NotImplementedError(TLS_NOT_IMPLEMENTED)

        made_here = sock is None
        if sock is None:
            infos = await ensure_resolved(self, (host, port), family=family,
                                          type=socket.SOCK_STREAM, proto=proto, flags=flags)
            if not infos:
                raise OSError("getaddrinfo() returned empty list")
            local_infos = None
            if local_addr is not None:
                local_infos = await ensure_resolved(self, local_addr, family=family,
                                                    type=socket.SOCK_STREAM, proto=proto,
                                                    flags=flags)
                if not local_infos:
                    raise OSError("getaddrinfo() returned empty list")
            if interleave:
                infos = interleave_addrinfos(infos, interleave)
            errors: list[OSError] = []
            if happy_eyeballs_delay is None:
                sock = await self._connect_in_turn(infos, local_infos, errors)
            else:
                sock = await self._connect_staggered(infos, local_infos,
                                                     happy_eyeballs_delay, errors)
            if sock is None:
                error = connect_error(errors, all_errors)
                # Break the cycle errors -> tracebacks -> this frame -> errors.
                errors.clear()
                try:
                    raise error
                finally:
                    del error

        transport, protocol = await connection_transport(
            self, sock, protocol_factory, close_on_failure=made_here)
        if self._debug_flag():
            asyncio_logger().debug("%r connected to %s:%r: (%r, %r)",
                                   transport.get_extra_info("socket"), host, port,
                                   transport, protocol)
        return transport, protocol

    if sys.version_info >= (3, 12):
        async def create_connection(  # type: ignore[override]
                self, protocol_factory: ProtocolFactory, host: Any = None, port: Any = None, *,
                ssl: Any = None, family: int = 0, proto: int = 0, flags: int = 0,
                sock: socket.socket | None = None, local_addr: Any = None,
                server_hostname: str | None = None, ssl_handshake_timeout: float | None = None,
                ssl_shutdown_timeout: float | None = None,
                happy_eyeballs_delay: float | None = None, interleave: int | None = None,
                all_errors: bool = False) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
            """Open a TCP connection to host:port (every address getaddrinfo
            gives, in turn, or raced with happy_eyeballs_delay) or wrap the
            connected stream socket sock; return (transport, protocol).

            Raises ValueError for contradictory arguments, OSError (e.g.
            ConnectionRefusedError) when no address connects (an
            ExceptionGroup of every error with all_errors=True),
            socket.gaierror when the name does not resolve, and
            NotImplementedError for ssl= (TLS is not implemented yet).
            """
            return await self._create_connection(
                protocol_factory, host, port, ssl=ssl, family=family, proto=proto,
                flags=flags, sock=sock, local_addr=local_addr,
                server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout,
                happy_eyeballs_delay=happy_eyeballs_delay, interleave=interleave,
                all_errors=all_errors)
    else:
        async def create_connection(  # type: ignore[override]
                self, protocol_factory: ProtocolFactory, host: Any = None, port: Any = None, *,
                ssl: Any = None, family: int = 0, proto: int = 0, flags: int = 0,
                sock: socket.socket | None = None, local_addr: Any = None,
                server_hostname: str | None = None, ssl_handshake_timeout: float | None = None,
                ssl_shutdown_timeout: float | None = None,
                happy_eyeballs_delay: float | None = None,
                interleave: int | None = None) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
            """Open a TCP connection to host:port (every address getaddrinfo
            gives, in turn, or raced with happy_eyeballs_delay) or wrap the
            connected stream socket sock; return (transport, protocol).

            Raises ValueError for contradictory arguments, OSError (e.g.
            ConnectionRefusedError) when no address connects,
            socket.gaierror when the name does not resolve, and
            NotImplementedError for ssl= (TLS is not implemented yet).
            """
            return await self._create_connection(
                protocol_factory, host, port, ssl=ssl, family=family, proto=proto,
                flags=flags, sock=sock, local_addr=local_addr,
                server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout,
                happy_eyeballs_delay=happy_eyeballs_delay, interleave=interleave)

    async def start_tls(  # type: ignore[override]
            self, transport: asyncio.BaseTransport, protocol: asyncio.BaseProtocol,
            sslcontext: Any, **kwargs: Any) -> asyncio.Transport | None:
        """Not implemented yet (TLS): raises NotImplementedError with a message."""
        raise NotImplementedError(TLS_NOT_IMPLEMENTED)

    async def connect_accepted_socket(  # type: ignore[override]
            self, protocol_factory: ProtocolFactory, sock: socket.socket, *, ssl: Any = None,
            ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None,
    ) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
        """Wrap a connection accepted outside the loop (a connected stream
        socket) in a transport; return (transport, protocol).

        Raises ValueError for a non-stream socket or TLS-only arguments
        without ssl, TypeError for an ssl.SSLSocket, NotImplementedError for
        ssl=.
        """
        if sock.type != socket.SOCK_STREAM:
            raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        check_ssl_timeouts(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        check_ssl_socket(sock)
        if ssl:
            raise NotImplementedError(TLS_NOT_IMPLEMENTED)
        transport, protocol = await connection_transport(
            self, sock, protocol_factory, close_on_failure=False)
        if self._debug_flag():
            asyncio_logger().debug("%r handled: (%r, %r)", transport.get_extra_info("socket"),
                                   transport, protocol)
        return transport, protocol
