"""Transport edge cases where aioloop once differed from asyncio: each was
found by running the same scenario on both loops (stop 10), and each test
here states asyncio's behaviour and checks aioloop's."""

from __future__ import annotations

import array
import asyncio
import logging
import os
import socket
import struct
from typing import Any

import pytest
from streamkit import Recorder

import aioloop


def _recv_all(sock: socket.socket, size: int) -> bytes:
    # Up to size bytes, or what came before the peer closed or went quiet
    # for 5 s (so a test that loses data fails instead of hanging).
    sock.settimeout(5)
    got = bytearray()
    while len(got) < size:
        try:
            chunk = sock.recv(size - len(got))
        except TimeoutError:
            break
        if not chunk:
            break
        got += chunk
    return bytes(got)


def _handled(loop: aioloop.Loop) -> list[dict[str, Any]]:
    contexts: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: contexts.append(ctx))
    return contexts


def test_a_read_only_buffer_from_get_buffer_ends_the_connection(loop: aioloop.Loop) -> None:
    # asyncio: recv_into() raises TypeError, reported once as a fatal read
    # error, and the transport closes.  It used to escape the read and be
    # retried on every iteration: a busy loop.
    class ReadOnly(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.calls = 0
            self.lost = loop.create_future()

        def get_buffer(self, sizehint: int) -> bytes:
            self.calls += 1
            return b"x" * 10

        def buffer_updated(self, nbytes: int) -> None:
            raise AssertionError("nothing can have been read")

        def connection_lost(self, exc: BaseException | None) -> None:
            self.lost.set_result(exc)

    contexts = _handled(loop)

    async def main() -> None:
        a, b = socket.socketpair()
        with b:
            tr, proto = await loop.connect_accepted_socket(ReadOnly, a)
            b.send(b"hello")
            exc = await asyncio.wait_for(proto.lost, 5)
            assert isinstance(exc, TypeError) and "read-write" in str(exc)
            assert proto.calls == 1
            assert tr.is_closing()

    loop.run_until_complete(main())
    assert [c["message"] for c in contexts] == ["Fatal read error on socket transport"]


def test_a_read_pipe_survives_data_received_raising(loop: aioloop.Loop) -> None:
    # asyncio's read pipes do not catch it: the exception handler gets it
    # as the callback's, and the pipe keeps reading (sockets close).
    class Raising(Recorder):
        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            raise ZeroDivisionError

    contexts = _handled(loop)

    async def main() -> None:
        rfd, wfd = os.pipe()
        tr, proto = await loop.connect_read_pipe(lambda: Raising(loop), open(rfd, "rb", 0))
        os.write(wfd, b"a")
        while not proto.data:
            await asyncio.sleep(0.01)
        assert not tr.is_closing()
        os.write(wfd, b"b")
        os.close(wfd)
        assert await asyncio.wait_for(proto.lost, 5) is None
        assert proto.data == b"ab" and proto.events.count("data") == 2

    loop.run_until_complete(main())
    assert len(contexts) == 2
    assert all(isinstance(c["exception"], ZeroDivisionError) for c in contexts)
    assert all(c["message"].startswith("Exception in callback") for c in contexts)


def test_a_read_pipe_reports_a_reset_to_the_exception_handler(loop: aioloop.Loop) -> None:
    # asyncio's read pipes report every OSError but EIO (sockets and write
    # pipes only log them in debug mode).
    contexts = _handled(loop)

    async def main() -> None:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            client = socket.create_connection(listener.getsockname())
            server_side, _ = listener.accept()
        _tr, proto = await loop.connect_read_pipe(lambda: Recorder(loop), server_side)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # RST
        exc = await asyncio.wait_for(proto.lost, 5)
        assert isinstance(exc, ConnectionResetError)

    loop.run_until_complete(main())
    assert [c["message"] for c in contexts] == ["Fatal read error on pipe transport"]
    assert isinstance(contexts[0]["exception"], ConnectionResetError)


def test_pipe_transports_have_only_their_own_direction(loop: aioloop.Loop) -> None:
    # asyncio: a read pipe's transport has no write side (AttributeError);
    # a write pipe's raises NotImplementedError for the read side.  Pausing
    # must not stop the write pipe from noticing that its reader left.
    async def main() -> None:
        a, b = socket.socketpair()
        with b:
            r_tr, _ = await loop.connect_read_pipe(lambda: Recorder(loop), a)
            for call in (lambda: r_tr.write(b"x"), lambda: r_tr.writelines([b"x"]),
                         r_tr.write_eof, r_tr.can_write_eof):
                with pytest.raises(AttributeError):
                    call()
            b.setblocking(False)
            with pytest.raises(BlockingIOError):
                b.recv(10)  # nothing went out through the read pipe
            r_tr.close()
        rfd, wfd = os.pipe()
        w_tr, writer = await loop.connect_write_pipe(lambda: Recorder(loop), open(wfd, "wb", 0))
        for call in (w_tr.pause_reading, w_tr.resume_reading, w_tr.is_reading):
            with pytest.raises(NotImplementedError):
                call()
        os.close(rfd)
        assert await asyncio.wait_for(writer.lost, 5) is None

    loop.run_until_complete(main())


def _pair_with_small_buffers() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return a, b


def test_a_partly_sent_array_is_queued_by_bytes_not_items(loop: aioloop.Loop) -> None:
    # memoryview(array('i'))[n:] counts items: queuing the rest that way
    # sent the wrong bytes (asyncio 3.11 does too; 3.12+ fail the transport).
    payload = array.array("i", range(300_000))
    expected = payload.tobytes()

    async def main() -> None:
        a, b = _pair_with_small_buffers()
        with b:
            tr, _ = await loop.connect_accepted_socket(lambda: Recorder(loop), a)
            tr.write(memoryview(payload))
            assert 0 < tr.get_write_buffer_size() < len(expected)
            got = await loop.run_in_executor(None, _recv_all, b, len(expected))
            assert got == expected
            tr.close()

    loop.run_until_complete(main())


def test_a_non_contiguous_memoryview_is_sent(loop: aioloop.Loop) -> None:
    # asyncio's send() fails on it and closes the transport; aioloop sends
    # a contiguous copy (docs/differences.md).
    async def main() -> None:
        a, b = socket.socketpair()
        with b:
            tr, _ = await loop.connect_accepted_socket(lambda: Recorder(loop), a)
            tr.write(memoryview(b"abcdef")[::2])
            tr.writelines([memoryview(b"ghijkl")[1::2]])
            assert await loop.run_in_executor(None, _recv_all, b, 6) == b"acehjl"
            assert not tr.is_closing()
            tr.close()

    loop.run_until_complete(main())


def test_writelines_is_all_or_nothing_and_keeps_order(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = _pair_with_small_buffers()
        with b:
            tr, _ = await loop.connect_accepted_socket(lambda: Recorder(loop), a)
            with pytest.raises(TypeError):
                tr.writelines([b"W1", "not bytes", b"W2"])
            b.setblocking(False)
            with pytest.raises(BlockingIOError):
                b.recv(10)  # nothing was sent
            b.setblocking(True)
            big = os.urandom(300_000)
            parts = [b"head", bytearray(b"-mid-"), memoryview(big), b"", b"tail"]
            tr.writelines(parts)  # more than the socket takes: the rest is queued
            assert tr.get_write_buffer_size() > 0
            tr.writelines([b"after", b"-more"])  # behind the queue, in order
            expected = b"head-mid-" + big + b"tailafter-more"
            assert await loop.run_in_executor(None, _recv_all, b, len(expected)) == expected
            tr.close()

    loop.run_until_complete(main())


@pytest.mark.parametrize(
    ("kwargs", "limits"),
    [
        ({"high": 1e6}, (250_000, 1_000_000)),
        ({"high": 10.5, "low": 2}, (2, 10)),
        ({"high": 2**70}, (2**63 - 1, 2**63 - 1)),
    ],
)
def test_write_buffer_limits_take_any_real_number(
    loop: aioloop.Loop, kwargs: dict[str, Any], limits: tuple[int, int]
) -> None:
    # asyncio stores what it is given; aioloop stores the floor, clamped to
    # what a byte count can reach, which compares the same way.
    async def main() -> None:
        a, b = socket.socketpair()
        with b:
            tr, _ = await loop.connect_accepted_socket(lambda: Recorder(loop), a)
            tr.set_write_buffer_limits(**kwargs)
            assert tr.get_write_buffer_limits() == limits
            with pytest.raises(ValueError):
                tr.set_write_buffer_limits(high=float("nan"))
            tr.close()

    loop.run_until_complete(main())


def test_debug_mode_logs_pipe_closes_and_fatal_errors_with_the_exception(
    loop: aioloop.Loop, caplog: pytest.LogCaptureFixture
) -> None:
    loop.set_debug(True)

    async def main() -> None:
        rfd, wfd = os.pipe()
        _r_tr, reader = await loop.connect_read_pipe(lambda: Recorder(loop), open(rfd, "rb", 0))
        os.close(wfd)
        await asyncio.wait_for(reader.lost, 5)
        with socket.create_server(("127.0.0.1", 0)) as listener:
            client = socket.create_connection(listener.getsockname())
            server_side, _ = listener.accept()
        _tr, proto = await loop.connect_accepted_socket(lambda: Recorder(loop), server_side)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        await asyncio.wait_for(proto.lost, 5)

    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        loop.run_until_complete(main())
    closed = [r for r in caplog.records if r.getMessage().endswith("was closed by peer")]
    assert [r.levelno for r in closed] == [logging.INFO]
    fatal = [r for r in caplog.records if "Fatal read error on socket transport" in r.getMessage()]
    assert len(fatal) == 1 and fatal[0].levelno == logging.DEBUG
    assert fatal[0].exc_info is not None
    assert isinstance(fatal[0].exc_info[1], ConnectionResetError)
