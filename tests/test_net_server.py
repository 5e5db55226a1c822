"""create_server, the Server object and the accept loop (including running
out of file descriptors)."""

from __future__ import annotations

import asyncio
import errno
import os
import resource
import socket
import sys
import time
from typing import Any

import pytest

import aioloop
import aioloop.loop.server as server_module

HAS_IPV6 = socket.has_ipv6
try:
    with socket.socket(socket.AF_INET6) as _s:
        _s.bind(("::1", 0))
except OSError:
    HAS_IPV6 = False


class Echo(asyncio.Protocol):
    def __init__(self, conns: list[Any] | None = None) -> None:
        self.conns = conns

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        if self.conns is not None:
            self.conns.append(transport)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


async def echo_once(loop: Any, sock: socket.socket, data: bytes = b"ping") -> bytes:
    await loop.sock_sendall(sock, data)
    got = b""
    while len(got) < len(data):
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 100), 5)
        if not chunk:
            break
        got += chunk
    return got


async def client(loop: Any, address: Any, family: int = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


async def server_side_closed(conns: list[Any]) -> None:
    """Wait until every server-side transport saw its client's EOF and lost
    its connection: 3.11's Server.wait_closed() does not wait for live
    connections, and a transport still open when the loop closes warns."""
    while not all(t.is_closing() for t in conns):
        await asyncio.sleep(0.001)
    await asyncio.sleep(0)


def port_of(server: Any) -> int:
    return int(server.sockets[0].getsockname()[1])


# -- serving ------------------------------------------------------------------------------


def test_server_echoes_and_reports_peername(loop: aioloop.Loop) -> None:
    async def main() -> None:
        conns: list[Any] = []
        server = await loop.create_server(lambda: Echo(conns), "127.0.0.1", 0)
        assert server.is_serving() and server.get_loop() is loop
        sock = await client(loop, ("127.0.0.1", port_of(server)))
        assert await echo_once(loop, sock) == b"ping"
        assert conns[0].get_extra_info("peername") == sock.getsockname()
        sock.close()
        await server_side_closed(conns)
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_server_accepts_a_burst_of_connections(loop: aioloop.Loop) -> None:
    async def main() -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0, backlog=5)
        address = ("127.0.0.1", port_of(server))
        socks = [await client(loop, address) for _ in range(50)]
        replies = await asyncio.gather(*[echo_once(loop, s, b"%d" % i)
                                         for i, s in enumerate(socks)])
        assert replies == [b"%d" % i for i in range(50)]
        for s in socks:
            s.close()
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


@pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 loopback")
def test_server_on_several_hosts(loop: aioloop.Loop) -> None:
    async def main() -> None:
        conns: list[Any] = []
        server = await loop.create_server(lambda: Echo(conns),
                                          ["127.0.0.1", "::1", "127.0.0.1"], 0)
        families = sorted(s.family for s in server.sockets)
        assert families == [socket.AF_INET, socket.AF_INET6]  # duplicates bound once
        v6 = next(s for s in server.sockets if s.family == socket.AF_INET6)
        assert v6.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
        for s in server.sockets:
            sock = await client(loop, s.getsockname(), s.family)
            assert await echo_once(loop, sock) == b"ping"
            sock.close()
        await server_side_closed(conns)
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_server_on_a_name(loop: aioloop.Loop) -> None:
    async def main() -> None:
        server = await loop.create_server(Echo, "localhost", 0, family=socket.AF_INET)
        assert server.sockets[0].getsockname()[0] == "127.0.0.1"
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_server_options(loop: aioloop.Loop) -> None:
    async def main() -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0, reuse_port=True)
        sock = server.sockets[0]
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)  # the default
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
        # A second server may share the port.
        twin = await loop.create_server(Echo, "127.0.0.1", port_of(server), reuse_port=True)
        plain = await loop.create_server(Echo, "127.0.0.1", 0, reuse_address=False)
        assert not plain.sockets[0].getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        for s in (server, twin, plain):
            s.close()
            await s.wait_closed()

    loop.run_until_complete(main())


@pytest.mark.skipif(sys.version_info < (3, 13), reason="keep_alive is new in 3.13")
def test_server_keep_alive(loop: aioloop.Loop) -> None:
    async def main() -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0, keep_alive=True)
        assert server.sockets[0].getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="keep_alive exists from 3.13")
def test_server_keep_alive_is_rejected_before_3_13(loop: aioloop.Loop) -> None:
    with pytest.raises(TypeError):
        loop.run_until_complete(loop.create_server(Echo, "127.0.0.1", 0, keep_alive=True))


def test_server_on_a_given_socket(loop: aioloop.Loop) -> None:
    async def main() -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        conns: list[Any] = []
        server = await loop.create_server(lambda: Echo(conns), sock=sock)
        assert sock.gettimeout() == 0
        c = await client(loop, sock.getsockname())
        assert await echo_once(loop, c) == b"ping"
        c.close()
        await server_side_closed(conns)
        server.close()
        await server.wait_closed()
        assert sock.fileno() == -1  # the server owns and closes it

    loop.run_until_complete(main())


def test_address_in_use(loop: aioloop.Loop) -> None:
    async def main() -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0, reuse_address=False)
        port = port_of(server)
        with pytest.raises(OSError) as info:
            await loop.create_server(Echo, "127.0.0.1", port, reuse_address=False)
        assert info.value.errno == errno.EADDRINUSE
        detail = ("[errno 98] address already in use" if sys.version_info >= (3, 13)
                  else "address already in use")
        assert str(info.value) == ("[Errno 98] error while attempting to bind on address "
                                   f"('127.0.0.1', {port}): {detail}")
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_protocol_factory_error_drops_only_that_connection(loop: aioloop.Loop) -> None:
    seen: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(ctx))
    calls = 0

    def factory() -> asyncio.Protocol:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ZeroDivisionError
        return Echo()

    async def main() -> None:
        loop.set_debug(True)  # asyncio reports it in debug mode only
        server = await loop.create_server(factory, "127.0.0.1", 0)
        address = ("127.0.0.1", port_of(server))
        first = await client(loop, address)
        assert await asyncio.wait_for(loop.sock_recv(first, 10), 5) == b""  # closed
        second = await client(loop, address)
        assert await echo_once(loop, second) == b"ping"
        first.close()
        second.close()
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())
    loop.set_debug(False)
    assert [type(c["exception"]) for c in seen] == [ZeroDivisionError]
    assert seen[0]["message"] == "Error on transport creation for incoming connection"


# -- the Server object --------------------------------------------------------------------


def test_start_serving_later(loop: aioloop.Loop) -> None:
    async def main() -> None:
        conns: list[Any] = []
        server = await loop.create_server(lambda: Echo(conns), "127.0.0.1", 0,
                                          start_serving=False)
        assert not server.is_serving()
        address = ("127.0.0.1", port_of(server))
        await server.start_serving()
        assert server.is_serving()
        await server.start_serving()  # again: nothing happens
        c = await client(loop, address)
        assert await echo_once(loop, c) == b"ping"
        c.close()
        await server_side_closed(conns)
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_close_is_idempotent_and_clears_state(loop: aioloop.Loop) -> None:
    async def main() -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        listening = server._sockets[0]
        server.close()
        server.close()
        assert not server.is_serving()
        assert server.sockets == ()
        assert server._sockets is None
        assert listening.fileno() == -1
        await server.wait_closed()
        assert server._waiters is None
        assert repr(server) == "<Server sockets=()>"

    loop.run_until_complete(main())


def test_serve_forever_until_cancelled(loop: aioloop.Loop) -> None:
    async def main() -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0, start_serving=False)
        address = ("127.0.0.1", port_of(server))
        task = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0.01)
        assert server.is_serving()
        with pytest.raises(RuntimeError, match="is already being awaited on serve_forever"):
            await server.serve_forever()
        c = await client(loop, address)
        assert await echo_once(loop, c) == b"ping"
        c.close()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not server.is_serving() and server.sockets == ()
        with pytest.raises(RuntimeError, match="is closed"):
            await server.serve_forever()

    loop.run_until_complete(main())


def test_serve_forever_ends_when_closed(loop: aioloop.Loop) -> None:
    async def main() -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        task = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0)
        loop.call_later(0.01, server.close)
        with pytest.raises(asyncio.CancelledError):
            await task

    loop.run_until_complete(main())


def test_async_with_closes_the_server(loop: aioloop.Loop) -> None:
    async def main() -> None:
        async with await loop.create_server(Echo, "127.0.0.1", 0) as server:
            assert server.is_serving()
        assert not server.is_serving() and server._sockets is None

    loop.run_until_complete(main())


@pytest.mark.skipif(sys.version_info < (3, 12), reason="3.12.1 semantics")
def test_wait_closed_waits_for_close_and_for_connections(loop: aioloop.Loop) -> None:
    async def main() -> None:
        conns: list[Any] = []
        server = await loop.create_server(lambda: Echo(conns), "127.0.0.1", 0)
        waiting = asyncio.ensure_future(server.wait_closed())
        await asyncio.sleep(0.01)
        assert not waiting.done()  # open, no connection
        c = await client(loop, ("127.0.0.1", port_of(server)))
        await echo_once(loop, c)
        server.close()
        await asyncio.sleep(0.01)
        assert not waiting.done()  # closed, one connection left
        c.close()
        await asyncio.wait_for(waiting, 5)  # the server sees EOF and closes it
        await server.wait_closed()  # at once now

    loop.run_until_complete(main())


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.11 semantics")
def test_wait_closed_on_3_11_returns_once_closed(loop: aioloop.Loop) -> None:
    async def main() -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        c = await client(loop, ("127.0.0.1", port_of(server)))
        await echo_once(loop, c)
        waiting = asyncio.ensure_future(server.wait_closed())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        server.close()
        await asyncio.wait_for(server.wait_closed(), 1)  # as asyncio 3.11 does
        c.close()
        await asyncio.wait_for(waiting, 5)

    loop.run_until_complete(main())


@pytest.mark.skipif(sys.version_info < (3, 13), reason="new in 3.13")
@pytest.mark.parametrize("how", ["close_clients", "abort_clients"])
def test_close_and_abort_clients(loop: aioloop.Loop, how: str) -> None:
    async def main() -> None:
        conns: list[Any] = []
        server = await loop.create_server(lambda: Echo(conns), "127.0.0.1", 0)
        c = await client(loop, ("127.0.0.1", port_of(server)))
        await echo_once(loop, c)
        waiting = asyncio.ensure_future(server.wait_closed())
        server.close()
        getattr(server, how)()
        await asyncio.wait_for(waiting, 5)
        assert conns[0].is_closing()
        if how == "close_clients":
            assert await asyncio.wait_for(loop.sock_recv(c, 10), 5) == b""
        c.close()

    loop.run_until_complete(main())


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="exists from 3.13")
def test_no_close_clients_before_3_13(loop: aioloop.Loop) -> None:
    async def main() -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        assert not hasattr(server, "close_clients")
        assert not hasattr(server, "abort_clients")
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


# -- argument checks ----------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "exc", "message"), [
    ({"host": "127.0.0.1", "port": 0, "ssl": True}, TypeError,
     "ssl argument must be an SSLContext or None"),
    ({"host": "127.0.0.1", "port": 0, "ssl_handshake_timeout": 1}, ValueError,
     "ssl_handshake_timeout is only meaningful with ssl"),
    ({"host": "127.0.0.1", "port": 0, "ssl_shutdown_timeout": 1}, ValueError,
     "ssl_shutdown_timeout is only meaningful with ssl"),
    ({}, ValueError, "Neither host/port nor sock were specified"),
    ({"host": "127.0.0.1", "port": 0, "reuse_port": True, "ssl": object()},
     NotImplementedError, "TLS"),
])
def test_bad_arguments(loop: aioloop.Loop, kwargs: dict[str, Any], exc: type[BaseException],
                       message: str) -> None:
    with pytest.raises(exc, match=message):
        loop.run_until_complete(loop.create_server(Echo, **kwargs))


def test_sock_with_host_or_of_the_wrong_type(loop: aioloop.Loop) -> None:
    with socket.socket() as sock, \
            pytest.raises(ValueError, match="host/port and sock can not be specified"):
        loop.run_until_complete(loop.create_server(Echo, "127.0.0.1", 0, sock=sock))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, \
            pytest.raises(ValueError, match="A Stream Socket was expected"):
        loop.run_until_complete(loop.create_server(Echo, sock=sock))


# -- out of file descriptors --------------------------------------------------------------


def test_accept_out_of_fds_reports_once_keeps_serving_and_recovers(
        loop: aioloop.Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "ACCEPT_RETRY_DELAY", 0.1)
    reports: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda lp, ctx: reports.append(ctx))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    async def main() -> None:
        conns: list[Any] = []
        server = await loop.create_server(lambda: Echo(conns), "127.0.0.1", 0)
        address = ("127.0.0.1", port_of(server))
        old = await client(loop, address)
        assert await echo_once(loop, old) == b"ping"
        new = socket.socket()  # its fd exists before we run out
        fillers: list[int] = []
        try:
            highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
            resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 16, hard))
            try:
                while True:
                    fillers.append(os.open(os.devnull, os.O_RDONLY))
            except OSError as exc:
                assert exc.errno == errno.EMFILE
            new.connect(address)  # queued by the kernel; accept() will fail
            new.setblocking(False)
            cpu0, t0 = time.process_time(), time.monotonic()
            await asyncio.sleep(0.5)  # several retry periods
            cpu = time.process_time() - cpu0
            wall = time.monotonic() - t0
            # Reported once, not once per retry, and the loop did not spin.
            assert [c["message"] for c in reports] == ["socket.accept() out of system resource"]
            assert reports[0]["exception"].errno == errno.EMFILE
            assert cpu < wall / 4, (cpu, wall)
            # The established connection is still served meanwhile.
            assert await echo_once(loop, old, b"still here") == b"still here"
        finally:
            for fd in fillers:
                os.close(fd)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        # Descriptors are back: the queued connection is accepted.
        assert await echo_once(loop, new, b"in at last") == b"in at last"
        assert len(reports) == 1
        old.close()
        new.close()
        await server_side_closed(conns)
        server.close()
        await server.wait_closed()

    try:
        loop.run_until_complete(main())
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_close_while_out_of_fds_cancels_the_retry(loop: aioloop.Loop,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "ACCEPT_RETRY_DELAY", 0.05)
    loop.set_exception_handler(lambda lp, ctx: None)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    async def main() -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        new = socket.socket()
        fillers: list[int] = []
        try:
            highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
            resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 16, hard))
            try:
                while True:
                    fillers.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
            new.connect(("127.0.0.1", port_of(server)))
            await asyncio.sleep(0.02)
            listening = server._sockets[0].fileno()
            server.close()
        finally:
            for fd in fillers:
                os.close(fd)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        await asyncio.sleep(0.15)  # past the retry: nothing watches the old fd
        assert loop._get_reader(listening) is None
        new.close()
        await server.wait_closed()

    try:
        loop.run_until_complete(main())
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
