"""create_unix_server and create_unix_connection: paths, abstract names,
stale socket files, clean-up on close (3.13), argument checks."""

from __future__ import annotations

import asyncio
import gc
import os
import pathlib
import socket
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

import aioloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class Collect(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.data = bytearray()
        self.lost = loop.create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.set_result(exc)


@pytest.fixture
def path() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield os.path.join(tmp, "sock")


async def round_trip(loop: Any, address: Any, **kw: Any) -> bytes:
    tr, proto = await loop.create_unix_connection(lambda: Collect(loop), address, **kw)
    tr.write(b"over unix")
    while len(proto.data) < 9:
        await asyncio.sleep(0.001)
    tr.close()
    await proto.lost
    return bytes(proto.data)


def test_unix_server_and_connection(loop: aioloop.Loop, path: str) -> None:
    async def main() -> None:
        server = await loop.create_unix_server(Echo, path)
        assert server.sockets[0].getsockname() == path
        assert await round_trip(loop, path) == b"over unix"
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_pathlike_and_bytes_paths(loop: aioloop.Loop, path: str) -> None:
    async def main() -> None:
        server = await loop.create_unix_server(Echo, pathlib.Path(path))
        assert await round_trip(loop, pathlib.Path(path)) == b"over unix"
        assert await round_trip(loop, os.fsencode(path)) == b"over unix"
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_abstract_namespace(loop: aioloop.Loop) -> None:
    name = f"\0aioloop-test-{os.getpid()}"

    async def main() -> None:
        server = await loop.create_unix_server(Echo, name)
        assert server.sockets[0].getsockname() == name.encode()
        assert await round_trip(loop, name) == b"over unix"
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_stale_socket_file_is_replaced(loop: aioloop.Loop, path: str) -> None:
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(path)
    dead.close()  # leaves the file behind, as a crashed server would
    assert os.path.exists(path)

    async def main() -> None:
        server = await loop.create_unix_server(Echo, path)
        assert await round_trip(loop, path) == b"over unix"
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_a_regular_file_is_never_removed(loop: aioloop.Loop, path: str) -> None:
    with open(path, "wb") as f:
        f.write(b"precious")
    with pytest.raises(OSError, match=r"Address '.*sock' is already in use"):
        loop.run_until_complete(loop.create_unix_server(Echo, path))
    with open(path, "rb") as f:
        assert f.read() == b"precious"


def test_server_on_a_bound_socket(loop: aioloop.Loop, path: str) -> None:
    async def main() -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        sock.bind(path)
        server = await loop.create_unix_server(Echo, sock=sock)
        assert await round_trip(loop, path) == b"over unix"
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_connection_on_a_given_socket(loop: aioloop.Loop, path: str) -> None:
    async def main() -> None:
        server = await loop.create_unix_server(Echo, path)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        tr, proto = await loop.create_unix_connection(lambda: Collect(loop), sock=sock)
        assert sock.gettimeout() == 0
        tr.write(b"x")
        while not proto.data:
            await asyncio.sleep(0.001)
        tr.close()
        await proto.lost
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_open_unix_connection_and_start_unix_server(loop: aioloop.Loop, path: str) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readline())[::-1])
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server = await asyncio.start_unix_server(handle, path)
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b"abc\n")
        assert await reader.read() == b"\ncba"
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_connection_to_a_missing_path(loop: aioloop.Loop, path: str) -> None:
    with pytest.raises(FileNotFoundError):
        loop.run_until_complete(loop.create_unix_connection(asyncio.Protocol, path))


def test_connection_refused_by_a_dead_socket_file(loop: aioloop.Loop, path: str) -> None:
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(path)
    dead.close()
    with pytest.raises(ConnectionRefusedError):
        loop.run_until_complete(loop.create_unix_connection(asyncio.Protocol, path))


# -- clean-up of the socket file on close (3.13's cleanup_socket) ------------------------


@pytest.mark.skipif(sys.version_info < (3, 13), reason="cleanup_socket is new in 3.13")
def test_close_removes_the_socket_file(loop: aioloop.Loop, path: str) -> None:
    async def main() -> None:
        server = await loop.create_unix_server(Echo, path)
        server.close()
        assert not os.path.exists(path)
        await server.wait_closed()
        # Also for a socket bound by the caller.
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path)
        server = await loop.create_unix_server(Echo, sock=sock)
        server.close()
        assert not os.path.exists(path)
        await server.wait_closed()

    loop.run_until_complete(main())


@pytest.mark.skipif(sys.version_info < (3, 13), reason="cleanup_socket is new in 3.13")
def test_close_leaves_a_replaced_file_or_when_told(loop: aioloop.Loop, path: str) -> None:
    async def main() -> None:
        server = await loop.create_unix_server(Echo, path)
        os.unlink(path)
        with socket.socket(socket.AF_UNIX) as other:
            other.bind(path)  # someone else's socket now
            server.close()
            assert os.path.exists(path)
        await server.wait_closed()
        os.unlink(path)

        server = await loop.create_unix_server(Echo, path, cleanup_socket=False)
        server.close()
        assert os.path.exists(path)
        await server.wait_closed()

        server = await loop.create_unix_server(Echo, path)
        os.unlink(path)  # already gone: close() does not mind
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="3.13 removes the file")
def test_close_keeps_the_socket_file_before_3_13(loop: aioloop.Loop, path: str) -> None:
    async def main() -> None:
        server = await loop.create_unix_server(Echo, path)
        server.close()
        assert os.path.exists(path)
        await server.wait_closed()
        with pytest.raises(TypeError):
            await loop.create_unix_server(Echo, path, cleanup_socket=True)

    loop.run_until_complete(main())


# -- argument checks ----------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "exc", "message"), [
    ({"path": "spam", "ssl": True}, TypeError, "ssl argument must be an SSLContext"),
    ({"path": None}, ValueError, "path was not specified, and no sock specified"),
    ({"path": "spam", "ssl_handshake_timeout": 1}, ValueError,
     "ssl_handshake_timeout is only meaningful with ssl"),
    ({"path": "spam", "ssl": object()}, NotImplementedError, "TLS"),
])
def test_server_bad_arguments(loop: aioloop.Loop, kwargs: dict[str, Any],
                              exc: type[BaseException], message: str) -> None:
    with pytest.raises(exc, match=message):
        loop.run_until_complete(loop.create_unix_server(Echo, **kwargs))


@pytest.mark.parametrize(("family", "type_"), [
    (socket.AF_INET, socket.SOCK_STREAM), (socket.AF_UNIX, socket.SOCK_DGRAM)])
def test_server_and_connection_refuse_other_sockets(loop: aioloop.Loop, family: int,
                                                    type_: int) -> None:
    with socket.socket(family, type_) as sock:
        with pytest.raises(ValueError, match="A UNIX Domain Stream Socket was expected"):
            loop.run_until_complete(loop.create_unix_server(Echo, sock=sock))
        with pytest.raises(ValueError, match="A UNIX Domain Stream Socket was expected"):
            loop.run_until_complete(loop.create_unix_connection(Echo, sock=sock))


@pytest.mark.parametrize(("kwargs", "exc", "message"), [
    ({"path": os.devnull, "sock": object()}, ValueError, "path and sock can not be"),
    ({"path": None}, ValueError, "no path and sock were specified"),
    ({"path": os.devnull, "server_hostname": "spam"}, ValueError,
     "server_hostname is only meaningful with ssl"),
    ({"path": os.devnull, "ssl": True}, ValueError,
     "you have to pass server_hostname when using ssl"),
    ({"path": "spam", "ssl_handshake_timeout": 1}, ValueError,
     "ssl_handshake_timeout is only meaningful with ssl"),
    ({"path": "spam", "ssl": True, "server_hostname": "h"}, NotImplementedError, "TLS"),
])
def test_connection_bad_arguments(loop: aioloop.Loop, kwargs: dict[str, Any],
                                  exc: type[BaseException], message: str) -> None:
    with pytest.raises(exc, match=message):
        loop.run_until_complete(loop.create_unix_connection(Echo, **kwargs))


def test_a_path_that_cannot_be_checked_fails_before_any_socket_exists(loop: aioloop.Loop) -> None:
    # os.stat() refuses an embedded NUL with ValueError; asyncio checks the
    # path before it makes the socket, so nothing is left to close (a leak
    # would fail this test as a ResourceWarning).
    with pytest.raises(ValueError):
        loop.run_until_complete(loop.create_unix_server(asyncio.Protocol, "bad\0path"))
    gc.collect()
