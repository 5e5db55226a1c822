"""sock_sendfile and loop.sendfile: the zero-copy path, the fallback, the
file position, argument checks and when each path is (not) allowed."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

import aioloop

DATA = os.urandom(1024 * 1024 + 17)  # several socket buffers, an odd size


@pytest.fixture
def datafile() -> Iterator[Any]:
    with tempfile.TemporaryFile() as f:
        f.write(DATA)
        f.seek(0)
        yield f


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


async def read_all(loop: Any, sock: socket.socket, expected: int) -> bytes:
    chunks = []
    got = 0
    while got < expected:
        chunk = await loop.sock_recv(sock, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def count_sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.sendfile

    def sendfile(out_fd: int, in_fd: int, offset: int, count: int) -> int:
        calls.append(count)
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", sendfile)
    return calls


# -- sock_sendfile ------------------------------------------------------------------------


def test_sock_sendfile_native(loop: aioloop.Loop, pair: Any, datafile: Any,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_sendfile_calls(monkeypatch)
    a, b = pair

    async def main() -> tuple[int, bytes]:
        receiver = asyncio.ensure_future(read_all(loop, b, len(DATA)))
        sent = await loop.sock_sendfile(a, datafile)
        return sent, await receiver

    sent, received = loop.run_until_complete(main())
    assert sent == len(DATA) and received == DATA
    assert calls  # the zero-copy path did the work
    assert datafile.tell() == len(DATA)


def test_sock_sendfile_offset_and_count(loop: aioloop.Loop, pair: Any, datafile: Any) -> None:
    a, b = pair

    async def main() -> tuple[int, bytes]:
        sent = await loop.sock_sendfile(a, datafile, 1000, 5000)
        return sent, await read_all(loop, b, 5000)

    assert loop.run_until_complete(main()) == (5000, DATA[1000:6000])
    assert datafile.tell() == 6000


def test_sock_sendfile_empty_file(loop: aioloop.Loop, pair: Any) -> None:
    with tempfile.TemporaryFile() as empty:
        assert loop.run_until_complete(loop.sock_sendfile(pair[0], empty)) == 0
        assert empty.tell() == 0


def test_sock_sendfile_falls_back_for_a_non_file(loop: aioloop.Loop, pair: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_sendfile_calls(monkeypatch)
    a, b = pair
    buf = io.BytesIO(DATA)

    async def main() -> tuple[int, bytes]:
        receiver = asyncio.ensure_future(read_all(loop, b, len(DATA) - 10))
        sent = await loop.sock_sendfile(a, buf, 10)
        return sent, await receiver

    assert loop.run_until_complete(main()) == (len(DATA) - 10, DATA[10:])
    assert calls == []
    assert buf.tell() == len(DATA)


def test_sock_sendfile_falls_back_for_a_pipe(loop: aioloop.Loop, pair: Any) -> None:
    a, b = pair
    rfd, wfd = os.pipe()
    os.write(wfd, b"from a pipe")
    os.close(wfd)
    with open(rfd, "rb", 0) as pipe:
        sent = loop.run_until_complete(loop.sock_sendfile(a, pipe))
    assert sent == 11
    assert loop.run_until_complete(read_all(loop, b, 11)) == b"from a pipe"


def test_sock_sendfile_sends_from_a_device_natively(loop: aioloop.Loop, pair: Any) -> None:
    # asyncio hands a character device to os.sendfile() too: /dev/zero with
    # a count goes out without the fallback (which reading /dev/zero through
    # a buffered file would leave at a meaningless position).
    a, b = pair
    with open("/dev/zero", "rb") as zero:
        sent = loop.run_until_complete(loop.sock_sendfile(a, zero, 0, 300, fallback=False))
    assert sent == 300
    assert loop.run_until_complete(read_all(loop, b, 300)) == bytes(300)


def test_a_cancelled_sock_sendfile_whose_file_was_closed_raises_cancelled(
    loop: aioloop.Loop, pair: Any
) -> None:
    # Putting the file position back after a cancelled send used to fail
    # with EBADF once the caller had closed the file, and that OSError hid
    # the cancellation (or, with the fd number reused, moved another file).
    a, _b = pair  # _b never reads: the send waits

    async def main() -> None:
        with tempfile.TemporaryFile() as f:
            f.write(b"z" * (8 << 20))
            f.seek(0)
            task = loop.create_task(loop.sock_sendfile(a, f))
            await asyncio.sleep(0.02)
            assert not task.done()
        # the file is closed now
        with tempfile.TemporaryFile() as other:  # may take the old fd number
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert other.tell() == 0

    loop.run_until_complete(main())


def test_sock_sendfile_without_fallback(loop: aioloop.Loop, pair: Any) -> None:
    with pytest.raises(asyncio.SendfileNotAvailableError, match="not a regular file"):
        loop.run_until_complete(loop.sock_sendfile(pair[0], io.BytesIO(b"x"),
                                                   fallback=False))


def test_sock_sendfile_kernel_refusal_falls_back(loop: aioloop.Loop, pair: Any, datafile: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> int:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "sendfile", refuse)
    a, b = pair
    with pytest.raises(asyncio.SendfileNotAvailableError, match=r"os\.sendfile call failed"):
        loop.run_until_complete(loop.sock_sendfile(a, datafile, fallback=False))
    assert datafile.tell() == 0

    async def main() -> tuple[int, bytes]:
        receiver = asyncio.ensure_future(read_all(loop, b, 100))
        return await loop.sock_sendfile(a, datafile, 0, 100), await receiver

    assert loop.run_until_complete(main()) == (100, DATA[:100])


def test_sock_sendfile_peer_gone_midway(loop: aioloop.Loop, datafile: Any) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)

    async def main() -> None:
        await asyncio.sleep(0)
        loop.call_later(0.02, b.close)  # the buffer fills long before that
        with pytest.raises(ConnectionError):
            await loop.sock_sendfile(a, datafile)

    try:
        loop.run_until_complete(main())
    finally:
        a.close()
        b.close()
    assert 0 < datafile.tell() < len(DATA)  # what did go out


def test_sock_sendfile_cancelled_keeps_the_position(loop: aioloop.Loop, pair: Any,
                                                    datafile: Any) -> None:
    a, _b = pair

    async def main() -> None:
        task = asyncio.ensure_future(loop.sock_sendfile(a, datafile))
        await asyncio.sleep(0.02)  # blocked on a full socket buffer
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    loop.run_until_complete(main())
    assert 0 < datafile.tell() < len(DATA)
    assert loop._get_writer(a.fileno()) is None


@pytest.mark.parametrize(("args", "exc", "message"), [
    ((0, 0), ValueError, "count must be a positive integer \\(got 0\\)"),
    ((0, 1.5), TypeError, "count must be a positive integer"),
    ((-1, None), ValueError, "offset must be a non-negative integer \\(got -1\\)"),
    (("0", None), TypeError, "offset must be a non-negative integer"),
])
def test_sock_sendfile_bad_offset_or_count(loop: aioloop.Loop, pair: Any, datafile: Any,
                                           args: tuple[Any, Any], exc: type[BaseException],
                                           message: str) -> None:
    with pytest.raises(exc, match=message):
        loop.run_until_complete(loop.sock_sendfile(pair[0], datafile, *args))


def test_sock_sendfile_bad_socket_or_file(loop: aioloop.Loop, pair: Any, datafile: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dgram:
        dgram.setblocking(False)
        with pytest.raises(ValueError, match="only SOCK_STREAM type sockets are supported"):
            loop.run_until_complete(loop.sock_sendfile(dgram, datafile))
    with socket.socket() as blocking, \
            pytest.raises(ValueError, match="the socket must be non-blocking"):
        loop.run_until_complete(loop.sock_sendfile(blocking, datafile))
    with tempfile.TemporaryFile("w+") as text, \
            pytest.raises(ValueError, match="file should be opened in binary mode"):
        loop.run_until_complete(loop.sock_sendfile(pair[0], text))


# -- loop.sendfile through a transport ----------------------------------------------------


class Sink(asyncio.Protocol):
    """The receiving end: collects everything until the connection closes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, close_after: int = 0) -> None:
        self.data = bytearray()
        self.done = loop.create_future()
        self.close_after = close_after

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data
        if self.close_after and len(self.data) >= self.close_after:
            self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.done.set_result(None)


class Source(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.lost = loop.create_future()
        self.events: list[str] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


async def connected(loop: Any, close_after: int = 0) -> tuple[Any, Sink, Any, Source]:
    sink = Sink(loop, close_after)
    server = await loop.create_server(lambda: sink, "127.0.0.1", 0)
    tr, source = await loop.create_connection(lambda: Source(loop), "127.0.0.1",
                                              server.sockets[0].getsockname()[1])
    tr.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    tr.set_write_buffer_limits(high=4096)
    while not hasattr(sink, "transport"):
        await asyncio.sleep(0.001)
    return server, sink, tr, source


async def finish(server: Any, sink: Sink, tr: Any, source: Source) -> None:
    tr.close()
    await sink.done
    await source.lost
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("native", [True, False])
def test_sendfile_with_data_before_and_after(loop: aioloop.Loop, datafile: Any,
                                             monkeypatch: pytest.MonkeyPatch,
                                             native: bool) -> None:
    calls = count_sendfile_calls(monkeypatch)

    async def no_native(*args: Any) -> int:
        raise asyncio.SendfileNotAvailableError("forced")

    if not native:
        loop._sendfile_native = no_native  # type: ignore[method-assign]

    async def main() -> None:
        server, sink, tr, source = await connected(loop)
        tr.write(b"HEAD")
        sent = await loop.sendfile(tr, datafile)
        tr.write(b"TAIL")
        await finish(server, sink, tr, source)
        assert sent == len(DATA)
        assert bytes(sink.data) == b"HEAD" + DATA + b"TAIL"
        assert datafile.tell() == len(DATA)
        assert tr.is_closing()

    loop.run_until_complete(main())
    assert bool(calls) == native


@pytest.mark.parametrize("native", [True, False])
def test_sendfile_partial(loop: aioloop.Loop, datafile: Any, native: bool) -> None:
    async def no_native(*args: Any) -> int:
        raise asyncio.SendfileNotAvailableError("forced")

    if not native:
        loop._sendfile_native = no_native  # type: ignore[method-assign]

    async def main() -> None:
        server, sink, tr, source = await connected(loop)
        assert await loop.sendfile(tr, datafile, 1000, 100000) == 100000
        await finish(server, sink, tr, source)
        assert bytes(sink.data) == DATA[1000:101000]
        assert datafile.tell() == 101000

    loop.run_until_complete(main())


def test_sendfile_blocks_writes_while_native(loop: aioloop.Loop, datafile: Any) -> None:
    async def main() -> None:
        server, sink, tr, source = await connected(loop)
        task = asyncio.ensure_future(loop.sendfile(tr, datafile))
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="sendfile is in progress"):
            tr.write(b"interleaved")
        assert await task == len(DATA)
        await finish(server, sink, tr, source)
        assert bytes(sink.data) == DATA

    loop.run_until_complete(main())


def test_sendfile_fallback_keeps_flow_control(loop: aioloop.Loop) -> None:
    # A pipe's read end is no regular file: the fallback reads it in chunks
    # and waits for the transport to drain between them.
    async def main() -> None:
        server, sink, tr, source = await connected(loop)
        rfd, wfd = os.pipe()
        payload = DATA[:200000]

        def feed() -> None:
            with open(wfd, "wb") as w:
                w.write(payload)

        feeder = loop.run_in_executor(None, feed)
        with open(rfd, "rb") as pipe:
            sent = await loop.sendfile(tr, pipe)
        await feeder
        assert sent == len(payload)
        assert tr.get_protocol() is source  # restored
        await finish(server, sink, tr, source)
        assert bytes(sink.data) == payload
        assert source.events == []  # the stand-in protocol took the pauses

    loop.run_until_complete(main())


@pytest.mark.parametrize("native", [True, False])
def test_sendfile_peer_closes_midway(loop: aioloop.Loop, datafile: Any, native: bool) -> None:
    async def no_native(*args: Any) -> int:
        raise asyncio.SendfileNotAvailableError("forced")

    if not native:
        loop._sendfile_native = no_native  # type: ignore[method-assign]

    async def main() -> None:
        server, sink, tr, source = await connected(loop, close_after=1024)
        with pytest.raises(ConnectionError):
            await loop.sendfile(tr, datafile)
        await sink.done
        assert 1024 <= datafile.tell() < len(DATA)
        tr.close()
        await source.lost
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())


def test_sendfile_without_fallback(loop: aioloop.Loop, datafile: Any) -> None:
    async def main() -> None:
        server, sink, tr, source = await connected(loop)
        with pytest.raises(asyncio.SendfileNotAvailableError):
            await loop.sendfile(tr, io.BytesIO(b"no fd"), fallback=False)
        await finish(server, sink, tr, source)
        assert sink.data == b""

    loop.run_until_complete(main())


def test_sendfile_refusals(loop: aioloop.Loop, datafile: Any) -> None:
    async def main() -> None:
        server, sink, tr, _source = await connected(loop)
        tr.close()
        with pytest.raises(RuntimeError, match="Transport is closing"):
            await loop.sendfile(tr, datafile)
        await sink.done
        server.close()
        await server.wait_closed()

        udp, _proto = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                         family=socket.AF_INET)
        with pytest.raises(RuntimeError, match="not supported"):
            await loop.sendfile(udp, datafile)
        udp.close()
        await asyncio.sleep(0)
        assert datafile.tell() == 0

        class FallbackOnly:
            _sendfile_compatible = asyncio.constants._SendfileMode.FALLBACK

            def is_closing(self) -> bool:
                return False

        with pytest.raises(RuntimeError, match="fallback is disabled"):
            await loop.sendfile(FallbackOnly(), datafile, fallback=False)  # type: ignore[arg-type]

    loop.run_until_complete(main())


@pytest.mark.parametrize("how", ["close", "abort"])
def test_sendfile_transport_closed_midway_does_not_hang(loop: aioloop.Loop, datafile: Any,
                                                        how: str) -> None:
    # The transport's fd goes away under the zero-copy send: it must fail,
    # not wait forever for the fd to become writable.
    async def main() -> None:
        with socket.socket() as srv:
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            srv.bind(("127.0.0.1", 0))
            srv.listen()
            tr, source = await loop.create_connection(lambda: Source(loop),
                                                      *srv.getsockname())
            conn, _ = srv.accept()  # never reads: the send blocks
            try:
                tr.get_extra_info("socket").setsockopt(socket.SOL_SOCKET,
                                                       socket.SO_SNDBUF, 4096)
                task = asyncio.ensure_future(loop.sendfile(tr, datafile))
                await asyncio.sleep(0.05)
                assert not task.done()
                getattr(tr, how)()
                with pytest.raises(ConnectionError):
                    await asyncio.wait_for(task, 5)
                assert await source.lost is None  # the real protocol heard it
                assert 0 < datafile.tell() < len(DATA)
            finally:
                tr.close()
                conn.close()
                await asyncio.sleep(0)

    loop.run_until_complete(main())
