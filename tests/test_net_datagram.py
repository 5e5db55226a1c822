"""create_datagram_endpoint: UDP and Unix datagram endpoints, connected or
not, socket options, error_received, argument checks."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from typing import Any

import pytest

import aioloop


class Datagrams(asyncio.DatagramProtocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.received: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()
        self.errors: asyncio.Queue[Exception] = asyncio.Queue()
        self.lost = loop.create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.put_nowait((data, addr))

    def error_received(self, exc: Exception) -> None:
        self.errors.put_nowait(exc)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.set_result(exc)


async def close(tr: Any, proto: Datagrams) -> None:
    tr.close()
    await proto.lost


def test_send_and_receive_between_two_endpoints(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a_tr, a = await loop.create_datagram_endpoint(lambda: Datagrams(loop),
                                                      local_addr=("127.0.0.1", 0))
        a_addr = a_tr.get_extra_info("sockname")
        b_tr, b = await loop.create_datagram_endpoint(lambda: Datagrams(loop),
                                                      remote_addr=a_addr)
        assert b_tr.get_extra_info("peername") == a_addr
        b_tr.sendto(b"to a")  # connected: no address needed
        data, sender = await asyncio.wait_for(a.received.get(), 5)
        assert data == b"to a" and sender == b_tr.get_extra_info("sockname")
        a_tr.sendto(b"to b", sender)
        assert (await asyncio.wait_for(b.received.get(), 5))[0] == b"to b"
        await close(a_tr, a)
        await close(b_tr, b)

    loop.run_until_complete(main())


def test_local_and_remote_together(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a_tr, a = await loop.create_datagram_endpoint(lambda: Datagrams(loop),
                                                      local_addr=("127.0.0.1", 0))
        b_tr, b = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0),
            remote_addr=a_tr.get_extra_info("sockname"))
        b_tr.sendto(b"x")
        assert (await asyncio.wait_for(a.received.get(), 5))[0] == b"x"
        await close(a_tr, a)
        await close(b_tr, b)

    loop.run_until_complete(main())


def test_error_received_for_a_refused_datagram(loop: aioloop.Loop) -> None:
    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()  # closed below: the port answers ICMP unreachable
        tr, proto = await loop.create_datagram_endpoint(lambda: Datagrams(loop),
                                                        remote_addr=dead)
        tr.sendto(b"anyone?")
        exc = await asyncio.wait_for(proto.errors.get(), 5)
        assert isinstance(exc, ConnectionRefusedError)
        assert not tr.is_closing()  # a datagram error does not close the endpoint
        await close(tr, proto)

    loop.run_until_complete(main())


def test_family_only_endpoint(loop: aioloop.Loop) -> None:
    async def main() -> None:
        tr, proto = await loop.create_datagram_endpoint(lambda: Datagrams(loop),
                                                        family=socket.AF_INET)
        assert tr.get_extra_info("socket").family == socket.AF_INET
        await close(tr, proto)

    loop.run_until_complete(main())


def test_socket_options(loop: aioloop.Loop) -> None:
    async def main() -> None:
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0), reuse_port=True,
            allow_broadcast=True)
        sock = tr.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST)
        twin_tr, twin = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=sock.getsockname(), reuse_port=True)
        await close(twin_tr, twin)
        await close(tr, proto)

    loop.run_until_complete(main())


def test_broadcast_endpoint_stays_unconnected(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a_tr, a = await loop.create_datagram_endpoint(lambda: Datagrams(loop),
                                                      local_addr=("127.0.0.1", 0))
        target = a_tr.get_extra_info("sockname")
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), remote_addr=target, allow_broadcast=True)
        assert tr.get_extra_info("peername") is None
        tr.sendto(b"b")  # to remote_addr, given explicitly by the transport
        assert (await asyncio.wait_for(a.received.get(), 5))[0] == b"b"
        await close(tr, proto)
        await close(a_tr, a)

    loop.run_until_complete(main())


def test_endpoint_on_a_given_socket(loop: aioloop.Loop) -> None:
    async def main() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        tr, proto = await loop.create_datagram_endpoint(lambda: Datagrams(loop), sock=sock)
        assert sock.gettimeout() == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.sendto(b"hello", sock.getsockname())
            assert (await asyncio.wait_for(proto.received.get(), 5))[0] == b"hello"
        await close(tr, proto)
        assert sock.fileno() == -1

    loop.run_until_complete(main())


def test_unix_datagram_endpoints(loop: aioloop.Loop) -> None:
    async def main(tmp: str) -> None:
        server_path = os.path.join(tmp, "server")
        client_path = os.path.join(tmp, "client")
        # A stale socket file at local_addr is replaced.
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        stale.bind(server_path)
        stale.close()
        s_tr, s = await loop.create_datagram_endpoint(lambda: Datagrams(loop),
                                                      local_addr=server_path,
                                                      family=socket.AF_UNIX)
        c_tr, c = await loop.create_datagram_endpoint(lambda: Datagrams(loop),
                                                      local_addr=client_path,
                                                      remote_addr=server_path,
                                                      family=socket.AF_UNIX)
        c_tr.sendto(b"unix dgram")
        data, sender = await asyncio.wait_for(s.received.get(), 5)
        assert (data, sender) == (b"unix dgram", client_path)
        await close(c_tr, c)
        await close(s_tr, s)

    with tempfile.TemporaryDirectory() as tmp:
        loop.run_until_complete(main(tmp))


# -- errors and argument checks -----------------------------------------------------------


def test_bind_error(loop: aioloop.Loop) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        with pytest.raises(OSError) as info:
            loop.run_until_complete(loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=taken.getsockname()))
    assert isinstance(info.value, OSError) and info.value.errno == 98


@pytest.mark.parametrize(("kwargs", "exc", "message"), [
    ({}, ValueError, "unexpected address family"),
    ({"local_addr": "127.0.0.1"}, TypeError, "2-tuple is expected"),
    ({"remote_addr": ("127.0.0.1", 1, 2)}, TypeError, "2-tuple is expected"),
    ({"family": socket.AF_UNIX, "local_addr": ("a", 1)}, TypeError, "string is expected"),
    ({"local_addr": ("127.0.0.1", 0), "remote_addr": ("::1", 1)}, ValueError,
     "can not get address information"),
    ({"family": socket.AF_INET, "reuse_address": True}, TypeError, "reuse_address"),
])
def test_bad_arguments(loop: aioloop.Loop, kwargs: dict[str, Any], exc: type[BaseException],
                       message: str) -> None:
    with pytest.raises(exc, match=message):
        loop.run_until_complete(loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                              **kwargs))


def test_socket_with_socket_options(loop: aioloop.Loop) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(ValueError, match=r"socket modifier keyword arguments can not be "
                                             r"used when sock is specified. "
                                             r"\(local_addr=\('127.0.0.1', 0\), "
                                             r"reuse_port=True\)"):
            loop.run_until_complete(loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, sock=sock, local_addr=("127.0.0.1", 0),
                reuse_port=True))


def test_stream_socket_is_refused(loop: aioloop.Loop) -> None:
    message = ("A datagram socket was expected" if sys.version_info >= (3, 13)
               else "A UDP Socket was expected")
    with socket.socket() as sock, pytest.raises(ValueError, match=message):
        loop.run_until_complete(loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                              sock=sock))
