"""connect_read_pipe and connect_write_pipe: data both ways, EOF, the reader
going away, what is not a pipe."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import tempfile
from typing import Any

import pytest

import aioloop


class Reader(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.data = bytearray()
        self.eof = False
        self.lost = loop.create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> None:
        self.eof = True

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.set_result(exc)


class Writer(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.lost = loop.create_future()
        self.paused = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def pause_writing(self) -> None:
        self.paused += 1

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.set_result(exc)


def test_pipe_both_ways(loop: aioloop.Loop) -> None:
    async def main() -> None:
        rfd, wfd = os.pipe()
        rpipe, wpipe = open(rfd, "rb", 0), open(wfd, "wb", 0)
        r_tr, reader = await loop.connect_read_pipe(lambda: Reader(loop), rpipe)
        w_tr, writer = await loop.connect_write_pipe(lambda: Writer(loop), wpipe)
        assert r_tr.get_extra_info("pipe") is rpipe
        assert w_tr.get_extra_info("pipe") is wpipe
        payload = os.urandom(1 << 20)  # far over the pipe's 64 KiB: flow control
        w_tr.write(payload)
        assert writer.paused == 1
        w_tr.close()  # after the buffer drains
        assert await writer.lost is None
        assert await reader.lost is None
        assert reader.eof and bytes(reader.data) == payload
        assert rpipe.closed and wpipe.closed

    loop.run_until_complete(main())


def test_read_pipe_pause_and_resume(loop: aioloop.Loop) -> None:
    async def main() -> None:
        rfd, wfd = os.pipe()
        r_tr, reader = await loop.connect_read_pipe(lambda: Reader(loop), open(rfd, "rb", 0))
        r_tr.pause_reading()
        os.write(wfd, b"later")
        await asyncio.sleep(0.02)
        assert reader.data == b""
        r_tr.resume_reading()
        while reader.data != b"later":
            await asyncio.sleep(0.001)
        os.close(wfd)
        await reader.lost

    loop.run_until_complete(main())


def test_write_pipe_sees_the_reader_go(loop: aioloop.Loop) -> None:
    async def main() -> None:
        rfd, wfd = os.pipe()
        w_tr, writer = await loop.connect_write_pipe(lambda: Writer(loop), open(wfd, "wb", 0))
        os.close(rfd)
        assert await asyncio.wait_for(writer.lost, 5) is None
        assert w_tr.is_closing()

    loop.run_until_complete(main())


@pytest.mark.parametrize("how", ["close", "write_eof"])
def test_closing_a_write_pipe_flushes_its_buffer_and_drops_later_writes(
    loop: aioloop.Loop, how: str
) -> None:
    # asyncio's pipe transports: write_eof() is close(); what was written
    # before is still delivered, what is written after is dropped (a
    # socket transport would queue it while its buffer drains).
    async def main() -> None:
        rfd, wfd = os.pipe()
        w_tr, writer = await loop.connect_write_pipe(lambda: Writer(loop), open(wfd, "wb", 0))
        _r_tr, reader = await loop.connect_read_pipe(lambda: Reader(loop), open(rfd, "rb", 0))
        payload = os.urandom(200_000)  # more than the pipe holds: some is queued
        w_tr.write(payload)
        assert w_tr.get_write_buffer_size() > 0
        getattr(w_tr, how)()
        assert w_tr.is_closing()
        w_tr.write(b"after")
        w_tr.writelines([b"after"])
        assert await asyncio.wait_for(writer.lost, 5) is None
        assert await asyncio.wait_for(reader.lost, 5) is None
        assert reader.eof
        assert bytes(reader.data) == payload

    loop.run_until_complete(main())


def test_a_full_disk_ends_the_write_pipe_with_enospc(
    loop: aioloop.Loop, caplog: pytest.LogCaptureFixture
) -> None:
    # /dev/full is a character device, which connect_write_pipe accepts,
    # and every write to it fails with ENOSPC.  As asyncio's pipe transport
    # does: the OSError goes to connection_lost (not to the exception
    # handler), the transport closes, and later writes are dropped, with a
    # warning once they reach the fifth.
    handled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: handled.append(ctx))

    async def main() -> None:
        with open("/dev/full", "wb", 0) as full:
            w_tr, writer = await loop.connect_write_pipe(lambda: Writer(loop), full)
            w_tr.write(b"no room for this")
            assert w_tr.is_closing()
            assert w_tr.get_write_buffer_size() == 0
            exc = await asyncio.wait_for(writer.lost, 5)
            assert isinstance(exc, OSError) and exc.errno == errno.ENOSPC
            with caplog.at_level("WARNING", logger="asyncio"):
                for _ in range(5):
                    w_tr.write(b"dropped")
            assert "os.write(pipe, data) raised exception" in caplog.text

    loop.run_until_complete(main())
    assert handled == []


def test_pipes_over_a_socket_pair(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = socket.socketpair()
        _r_tr, reader = await loop.connect_read_pipe(lambda: Reader(loop), a)
        w_tr, writer = await loop.connect_write_pipe(lambda: Writer(loop), b)
        w_tr.write(b"through a socket")
        w_tr.close()
        await writer.lost
        await reader.lost
        assert bytes(reader.data) == b"through a socket"

    loop.run_until_complete(main())


def test_a_regular_file_is_not_a_pipe(loop: aioloop.Loop) -> None:
    with tempfile.TemporaryFile() as f:
        with pytest.raises(ValueError, match="Pipe transport is"):
            loop.run_until_complete(loop.connect_read_pipe(asyncio.Protocol, f))
        with pytest.raises(ValueError, match="Pipe transport is"):
            loop.run_until_complete(loop.connect_write_pipe(asyncio.Protocol, f))


def test_subprocess_style_stream_reader_on_a_pipe(loop: aioloop.Loop) -> None:
    async def main() -> bytes:
        rfd, wfd = os.pipe()
        reader = asyncio.StreamReader()
        tr, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                             open(rfd, "rb", 0))
        os.write(wfd, b"line one\nline two\n")
        os.close(wfd)
        lines = [await reader.readline(), await reader.readline(), await reader.readline()]
        tr.close()
        return b"|".join(lines)

    assert loop.run_until_complete(main()) == b"line one\n|line two\n|"
