"""The compiled stream transport over socket pairs and pipes.

These drive loop._make_socket_transport / _make_*_pipe_transport directly, so
they pin the transport's behaviour independently of the connection-setup
code (create_connection, create_server).
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import struct
from typing import Any
from unittest import mock

import pytest
from streamkit import Recorder, make_transport, pair

import aioloop


def test_data_flows_both_ways_and_close_reports_connection_lost(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        assert proto.events == ["made"] and proto.transport is tr
        b.send(b"hello")
        await asyncio.sleep(0.01)
        assert bytes(proto.data) == b"hello"
        tr.write(b"world")
        assert await loop.sock_recv(b, 100) == b"world"
        assert tr.get_extra_info("sockname") == a.getsockname()
        assert tr.get_extra_info("socket").fileno() == a.fileno()
        assert tr.get_extra_info("nope", 42) == 42
        tr.close()
        assert tr.is_closing()
        assert await proto.lost is None
        assert proto.events[-1] == ("lost", None)
        assert await loop.sock_recv(b, 100) == b""  # the socket was closed
        b.close()

    loop.run_until_complete(main())


def test_a_transport_method_can_be_patched_on_the_instance(loop: aioloop.Loop) -> None:
    # asyncio's transports are plain Python objects, and tests (aiohttp's
    # heartbeat tests) patch their methods: mock.patch.object(t, "write").
    async def main() -> None:
        a, b = pair()
        tr = await make_transport(loop, a, Recorder(loop))
        with mock.patch.object(tr, "write", side_effect=ConnectionResetError) as patched:
            with pytest.raises(ConnectionResetError):
                tr.write(b"x")
            assert patched.call_count == 1
        tr.write(b"real")                       # restored
        assert await loop.sock_recv(b, 100) == b"real"
        tr.note = "anything"  # type: ignore[attr-defined]
        assert tr.note == "anything"  # type: ignore[attr-defined]
        tr.close()
        b.close()

    loop.run_until_complete(main())


def test_peer_eof_calls_eof_received_then_closes(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        await make_transport(loop, a, proto)
        b.shutdown(socket.SHUT_WR)
        assert await proto.lost is None
        assert proto.events == ["made", "eof", ("lost", None)]
        b.close()

    loop.run_until_complete(main())


def test_half_close_keeps_writing_when_eof_received_returns_true(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop, eof_keeps_open=True)
        tr = await make_transport(loop, a, proto)
        b.shutdown(socket.SHUT_WR)
        await asyncio.sleep(0.01)
        assert proto.events == ["made", "eof"] and not tr.is_closing()
        tr.write(b"still here")
        assert await loop.sock_recv(b, 100) == b"still here"
        tr.write_eof()
        assert await loop.sock_recv(b, 100) == b""
        tr.close()
        await proto.lost
        b.close()

    loop.run_until_complete(main())


def test_write_to_a_peer_that_never_reads_pauses_and_resumes_the_protocol(
        loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        tr.set_write_buffer_limits(high=64 * 1024)
        assert tr.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
        chunk = b"x" * 65536
        while "pause" not in proto.events:
            tr.write(chunk)
        assert tr.get_write_buffer_size() > 64 * 1024
        buffered = tr.get_write_buffer_size()
        # Drain from the peer: the transport flushes and resumes the protocol.
        total = 0
        while "resume" not in proto.events:
            total += len(await loop.sock_recv(b, 1 << 20))
        assert tr.get_write_buffer_size() <= 16 * 1024
        assert total + tr.get_write_buffer_size() >= buffered
        tr.abort()
        await proto.lost
        b.close()

    loop.run_until_complete(main())


def test_bad_write_buffer_limits_raise_value_error(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        with pytest.raises(ValueError):
            tr.set_write_buffer_limits(high=1, low=2)
        with pytest.raises(ValueError):
            tr.set_write_buffer_limits(high=-1)
        tr.close()
        await proto.lost
        b.close()

    loop.run_until_complete(main())


def test_close_flushes_buffered_data_before_connection_lost(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        payload = os.urandom(4 * 1024 * 1024)
        tr.write(payload)
        assert tr.get_write_buffer_size() > 0
        tr.close()
        received = bytearray()
        while True:
            chunk = await loop.sock_recv(b, 1 << 20)
            if not chunk:
                break
            received += chunk
        assert bytes(received) == payload
        assert await proto.lost is None
        b.close()

    loop.run_until_complete(main())


def test_abort_drops_buffered_data(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        tr.write(b"y" * (8 * 1024 * 1024))
        tr.abort()
        assert tr.get_write_buffer_size() == 0
        assert await proto.lost is None
        b.close()

    loop.run_until_complete(main())


def test_peer_reset_reports_connection_lost_with_the_error(loop: aioloop.Loop) -> None:
    async def main() -> None:
        server = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
        server.close()
        conn.setblocking(False)
        proto = Recorder(loop)
        tr = await make_transport(loop, conn, proto)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # RST
        exc = await proto.lost
        assert isinstance(exc, ConnectionResetError)
        assert tr.is_closing()

    loop.run_until_complete(main())


def test_writes_after_the_connection_is_lost_are_dropped_and_then_logged(
        loop: aioloop.Loop, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        tr.abort()
        await proto.lost
        for _ in range(6):
            tr.write(b"late")
        b.close()

    import logging
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.run_until_complete(main())
    assert any("socket.send() raised exception." in r.getMessage() for r in caplog.records)


def test_write_type_errors_and_write_after_eof(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        with pytest.raises(TypeError, match="bytes-like"):
            tr.write("text")
        tr.write(b"")  # nothing happens
        tr.write(bytearray(b"ba"))
        tr.write(memoryview(b"mv"))
        tr.writelines([b"a", bytearray(b"b"), memoryview(b"c")])
        assert await loop.sock_recv(b, 100) == b"bamvabc"
        assert tr.can_write_eof()
        tr.write_eof()
        with pytest.raises(RuntimeError, match="write_eof"):
            tr.write(b"x")
        tr.close()
        await proto.lost
        b.close()

    loop.run_until_complete(main())


def test_buffered_bytes_are_a_snapshot_of_a_mutable_buffer(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        filler = b"f" * (8 * 1024 * 1024)
        tr.write(filler)  # fills the socket: what follows is queued
        data = bytearray(b"original")
        tr.write(data)
        data[:] = b"mutated!"
        received = bytearray()
        while len(received) < len(filler) + 8:
            received += await loop.sock_recv(b, 1 << 20)
        assert bytes(received[-8:]) == b"original"
        tr.close()
        await proto.lost
        b.close()

    loop.run_until_complete(main())


def test_pause_and_resume_reading(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        assert tr.is_reading()
        tr.pause_reading()
        tr.pause_reading()  # idempotent
        assert not tr.is_reading()
        b.send(b"held")
        await asyncio.sleep(0.02)
        assert proto.data == b""
        tr.resume_reading()
        await asyncio.sleep(0.02)
        assert proto.data == b"held"
        tr.close()
        await proto.lost
        b.close()

    loop.run_until_complete(main())


class Buffered(asyncio.BufferedProtocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.buf = bytearray(size)
        self.received = bytearray()
        self.sizes: list[int] = []
        self.lost = loop.create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> bytearray:
        self.sizes.append(sizehint)
        return self.buf

    def buffer_updated(self, nbytes: int) -> None:
        self.received += self.buf[:nbytes]

    def eof_received(self) -> None:
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.set_result(exc)


def test_buffered_protocol_receives_into_its_own_buffer(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Buffered(loop, 1000)
        await make_transport(loop, a, proto)
        payload = os.urandom(100_000)
        await loop.sock_sendall(b, payload)
        b.shutdown(socket.SHUT_WR)
        assert await proto.lost is None
        assert bytes(proto.received) == payload
        assert len(proto.sizes) >= 100  # 1000-byte buffer: many reads
        b.close()

    loop.run_until_complete(main())


def test_set_protocol_switches_the_receiver(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        first, second = Recorder(loop), Recorder(loop)
        tr = await make_transport(loop, a, first)
        tr.set_protocol(second)
        assert tr.get_protocol() is second
        b.send(b"to second")
        await asyncio.sleep(0.01)
        assert second.data == b"to second" and first.data == b""
        tr.close()
        await second.lost
        b.close()

    loop.run_until_complete(main())


def test_set_protocol_switches_between_buffered_and_plain(loop: aioloop.Loop) -> None:
    # The transport binds the protocol's read callbacks when the protocol is
    # set: switching kinds must switch the callbacks used.
    async def main() -> None:
        a, b = pair()
        plain = Recorder(loop)
        buffered = Buffered(loop, 64)
        tr = await make_transport(loop, a, plain)
        b.send(b"one")
        await asyncio.sleep(0.01)
        tr.set_protocol(buffered)
        b.send(b"two")
        await asyncio.sleep(0.01)
        tr.set_protocol(plain)
        b.send(b"three")
        await asyncio.sleep(0.01)
        assert plain.data == b"onethree" and bytes(buffered.received) == b"two"
        tr.close()
        await plain.lost
        b.close()

    loop.run_until_complete(main())


@pytest.mark.parametrize("kind", ["raises", "missing"])
def test_failing_data_received_is_reported_and_closes(loop: aioloop.Loop, kind: str) -> None:
    # A data_received() that raises, or a protocol that has none (binding
    # the read callback up front must not change when that fails: at the
    # first data, as in asyncio), is a fatal protocol error.
    contexts: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    class Broken(Recorder):
        def data_received(self, data: bytes) -> None:
            raise ValueError("protocol bug")

    class NoData:
        def __init__(self) -> None:
            self.lost = loop.create_future()

        def connection_made(self, transport: Any) -> None:
            pass

        def connection_lost(self, exc: BaseException | None) -> None:
            self.lost.set_result(exc)

    async def main() -> None:
        a, b = pair()
        proto: Any = Broken(loop) if kind == "raises" else NoData()
        await make_transport(loop, a, proto)
        b.send(b"x")
        exc = await proto.lost
        assert isinstance(exc, ValueError if kind == "raises" else AttributeError)
        b.close()

    loop.run_until_complete(main())
    assert contexts and "data_received() call failed" in contexts[0]["message"]


def test_write_accepts_bytes_subclasses_and_skips_empty(loop: aioloop.Loop) -> None:
    class Tagged(bytes):
        pass

    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        tr.write(b"")
        tr.write(Tagged(b""))
        tr.write(Tagged(b"sub"))
        tr.write(b"exact")
        with pytest.raises(TypeError):
            tr.write("text")
        assert tr.get_write_buffer_size() == 0
        await asyncio.sleep(0.01)
        assert b.recv(100) == b"subexact"
        tr.close()
        await proto.lost
        b.close()

    loop.run_until_complete(main())


def test_repr_shows_state(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        assert repr(tr) == f"<StreamTransport fd={a.fileno()} read=polling write=<idle, bufsize=0>>"
        tr.close()
        assert "closing" in repr(tr)
        await proto.lost
        assert "closed" in repr(tr)
        b.close()

    loop.run_until_complete(main())


def test_fd_owned_by_a_transport_cannot_be_taken_by_add_reader(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        with pytest.raises(RuntimeError, match="is used by transport"):
            loop.add_reader(a.fileno(), print)
        tr.close()
        await proto.lost
        b.close()

    loop.run_until_complete(main())


def test_unclosed_transport_warns(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        proto = Recorder(loop)
        tr = await make_transport(loop, a, proto)
        tr.pause_reading()  # no registration keeps it alive
        proto.transport = None
        with pytest.warns(ResourceWarning, match="unclosed transport"):
            del tr
            gc.collect()
        b.close()

    loop.run_until_complete(main())


def test_pipes_read_and_write_transports(loop: aioloop.Loop) -> None:
    async def main() -> None:
        rfd, wfd = os.pipe()
        rpipe = open(rfd, "rb", buffering=0)
        wpipe = open(wfd, "wb", buffering=0)
        reader = Recorder(loop)
        writer = Recorder(loop)
        w1, w2 = loop.create_future(), loop.create_future()
        rt = loop._make_read_pipe_transport(rpipe, reader, w1)
        wt = loop._make_write_pipe_transport(wpipe, writer, w2)
        await w1
        await w2
        assert rt.get_extra_info("pipe") is rpipe
        wt.write(b"through the pipe")
        await asyncio.sleep(0.01)
        assert bytes(reader.data) == b"through the pipe"
        wt.write_eof()  # a pipe has no half-close: closes the write end
        assert await writer.lost is None
        assert await reader.lost is None
        assert reader.events[-2:] == ["eof", ("lost", None)]

    loop.run_until_complete(main())


def test_write_pipe_notices_its_reader_closing(loop: aioloop.Loop) -> None:
    async def main() -> None:
        rfd, wfd = os.pipe()
        wpipe = open(wfd, "wb", buffering=0)
        writer = Recorder(loop)
        waiter = loop.create_future()
        loop._make_write_pipe_transport(wpipe, writer, waiter)
        await waiter
        os.close(rfd)
        assert await writer.lost is None

    loop.run_until_complete(main())


def test_pipe_transport_rejects_regular_files(loop: aioloop.Loop, tmp_path: Any) -> None:
    # asyncio's words differ by direction.
    with open(tmp_path / "f", "wb") as f:
        with pytest.raises(ValueError, match="only for pipes, sockets and character devices"):
            loop._make_write_pipe_transport(f, Recorder(loop))
        with pytest.raises(ValueError, match="pipes/sockets only"):
            loop._make_read_pipe_transport(f, Recorder(loop))


def test_write_pipe_on_a_terminal_does_not_mistake_input_for_closing(loop: aioloop.Loop) -> None:
    # A pty's slave side is readable when the terminal has input; only FIFOs
    # and sockets say "reader gone" that way.
    async def main() -> None:
        master, slave = os.openpty()
        try:
            writer = Recorder(loop)
            wt, _ = await loop.connect_write_pipe(lambda: writer, open(slave, "wb", 0))
            os.write(master, b"typed\n")
            await asyncio.sleep(0.05)
            assert not wt.is_closing()
            wt.write(b"out")
            await asyncio.sleep(0.01)
            assert os.read(master, 100).endswith(b"out")
            wt.close()
            await writer.lost
        finally:
            os.close(master)

    loop.run_until_complete(main())


def test_transports_are_instances_of_asyncios_transport_classes(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = pair()
        tr, _ = await loop.create_connection(asyncio.Protocol, sock=a)
        assert isinstance(tr, asyncio.Transport)
        assert isinstance(tr, (asyncio.ReadTransport, asyncio.WriteTransport))
        assert not isinstance(tr, asyncio.DatagramTransport)
        assert tr.__class__.__name__ == type(tr).__name__ == "StreamTransport"
        tr.close()
        b.close()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        dt, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, sock=udp)
        assert isinstance(dt, asyncio.DatagramTransport)
        assert isinstance(dt, asyncio.Transport)  # as asyncio's own is
        dt.close()
        await asyncio.sleep(0.01)

    loop.run_until_complete(main())


# A transport whose only owner is its own reader handle: the protocol keeps
# no reference to it.  When the transport closes itself from inside that
# handle's callback (EOF, reset), cancelling the handle drops those last
# references; the handle must keep the transport alive until the callback
# returns.  Run in a child under PYTHONMALLOC=debug, where a use of freed
# memory crashes at once instead of corrupting quietly.
_NO_OWNER_SCRIPT = r"""
import asyncio, gc, socket, struct, sys
import aioloop

class Forgetful(asyncio.Protocol):
    lost = 0
    def connection_made(self, transport):
        pass                       # no reference kept
    def data_received(self, data):
        pass
    def connection_lost(self, exc):
        Forgetful.lost += 1

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Forgetful, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for i in range(200):
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"x" * 100)
        if i % 2:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()                  # even: EOF; odd: reset
        await asyncio.sleep(0.001)
        if i % 10 == 0:
            gc.collect()
    for _ in range(200):
        if Forgetful.lost == 200:
            break
        await asyncio.sleep(0.01)
    server.close()
    await server.wait_closed()
    print(Forgetful.lost)

aioloop.run(main())
"""


def test_a_transport_nobody_else_holds_survives_closing_itself() -> None:
    import subprocess
    import sys

    env = dict(os.environ, PYTHONMALLOC="debug", PYTHONFAULTHANDLER="1")
    proc = subprocess.run([sys.executable, "-c", _NO_OWNER_SCRIPT], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "200"
