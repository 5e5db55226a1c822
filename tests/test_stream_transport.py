"""The compiled stream transport over socket pairs and pipes.

These drive loop._make_socket_transport / _make_*_pipe_transport directly, so
they pin the transport's behaviour independently of the connection-setup
code (create_connection, create_server).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import socket
import struct
from typing import Any

import pytest

import aioloop


class Recorder(asyncio.Protocol):
    """Records every protocol callback, in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, eof_keeps_open: bool = False) -> None:
        self.events: list[Any] = []
        self.data = bytearray()
        self.transport: Any = None
        self.lost = loop.create_future()
        self.eof_keeps_open = eof_keeps_open

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.events.append("data")
        self.data += data

    def eof_received(self) -> bool:
        self.events.append("eof")
        return self.eof_keeps_open

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: BaseException | None) -> None:
        self.events.append(("lost", exc))
        if not self.lost.done():
            self.lost.set_result(exc)


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


async def _transport(loop: Any, sock: socket.socket, proto: Any) -> Any:
    waiter = loop.create_future()
    tr = loop._make_socket_transport(sock, proto, waiter)
    await waiter
    return tr


def test_data_flows_both_ways_and_close_reports_connection_lost(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
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


def test_peer_eof_calls_eof_received_then_closes(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = _pair()
        proto = Recorder(loop)
        await _transport(loop, a, proto)
        b.shutdown(socket.SHUT_WR)
        assert await proto.lost is None
        assert proto.events == ["made", "eof", ("lost", None)]
        b.close()

    loop.run_until_complete(main())


def test_half_close_keeps_writing_when_eof_received_returns_true(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = _pair()
        proto = Recorder(loop, eof_keeps_open=True)
        tr = await _transport(loop, a, proto)
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
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
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
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
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
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
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
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
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
        tr = await _transport(loop, conn, proto)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # RST
        exc = await proto.lost
        assert isinstance(exc, ConnectionResetError)
        assert tr.is_closing()

    loop.run_until_complete(main())


def test_writes_after_the_connection_is_lost_are_dropped_and_then_logged(
        loop: aioloop.Loop, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
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
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
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
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
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
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
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
        a, b = _pair()
        proto = Buffered(loop, 1000)
        await _transport(loop, a, proto)
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
        a, b = _pair()
        first, second = Recorder(loop), Recorder(loop)
        tr = await _transport(loop, a, first)
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
        a, b = _pair()
        plain = Recorder(loop)
        buffered = Buffered(loop, 64)
        tr = await _transport(loop, a, plain)
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
        a, b = _pair()
        proto: Any = Broken(loop) if kind == "raises" else NoData()
        await _transport(loop, a, proto)
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
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
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
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
        assert repr(tr) == f"<StreamTransport fd={a.fileno()} read=polling write=<idle, bufsize=0>>"
        tr.close()
        assert "closing" in repr(tr)
        await proto.lost
        assert "closed" in repr(tr)
        b.close()

    loop.run_until_complete(main())


def test_fd_owned_by_a_transport_cannot_be_taken_by_add_reader(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
        with pytest.raises(RuntimeError, match="is used by transport"):
            loop.add_reader(a.fileno(), print)
        tr.close()
        await proto.lost
        b.close()

    loop.run_until_complete(main())


def test_unclosed_transport_warns(loop: aioloop.Loop) -> None:
    async def main() -> None:
        a, b = _pair()
        proto = Recorder(loop)
        tr = await _transport(loop, a, proto)
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
    with open(tmp_path / "f", "wb") as f:
        with pytest.raises(ValueError, match="pipes/sockets only"):
            loop._make_write_pipe_transport(f, Recorder(loop))


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
        a, b = _pair()
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


def test_large_messages_arrive_intact_through_direct_reads(loop: aioloop.Loop) -> None:
    # Once a read is large, the transport receives straight into the bytes
    # it hands the protocol (no copy); the bytes must still be exactly what
    # was sent, in order, across both read paths.
    async def main() -> None:
        a, b = _pair()
        proto = Recorder(loop)
        sizes: list[int] = []
        original = proto.data_received

        def record(data: bytes) -> None:
            sizes.append(len(data))
            original(data)

        proto.data_received = record  # type: ignore[method-assign]
        await _transport(loop, a, proto)
        payload = os.urandom(8 * 1024 * 1024)
        for i in range(0, len(payload), 300_000):
            await loop.sock_sendall(b, payload[i:i + 300_000])
            await asyncio.sleep(0)
        b.shutdown(socket.SHUT_WR)
        await proto.lost
        assert bytes(proto.data) == payload
        assert max(sizes) > 262144 or sum(s >= 32768 for s in sizes) > 1
        b.close()

    loop.run_until_complete(main())


@pytest.mark.parametrize("keep", [False, True])
def test_read_bytes_are_reused_only_when_nobody_holds_them(loop: aioloop.Loop, keep: bool) -> None:
    # A direct read's bytes object goes back to the loop for the next read
    # only when the protocol kept no reference to it.  A protocol that keeps
    # every object must find each one unchanged; one that keeps none lets
    # the loop reuse them.
    kept: list[bytes] = []
    digests: list[int] = []
    fresh_hash_ok: list[bool] = []

    class Proto(Recorder):
        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            digests.append(hash(data))       # caches the hash in the object
            # A reused object must not carry the last content's hash.
            fresh_hash_ok.append(digests[-1] == hash(bytes(bytearray(data))))
            if keep:
                kept.append(data)

    async def main() -> None:
        a, b = _pair()
        proto = Proto(loop)
        await _transport(loop, a, proto)
        sent = bytearray()
        before = loop._read_bytes_reused
        for i in range(60):
            msg = bytes([i]) * 8192
            sent += msg
            await loop.sock_sendall(b, msg)
            while len(proto.data) < len(sent):
                await asyncio.sleep(0.001)
        reused = loop._read_bytes_reused - before
        assert bytes(proto.data) == bytes(sent)
        assert fresh_hash_ok and all(fresh_hash_ok)
        if keep:
            assert reused == 0
            assert b"".join(kept) == bytes(sent)
            assert [hash(d) for d in kept] == digests
        else:
            assert reused >= 50
        b.close()
        await proto.lost

    loop.run_until_complete(main())


def test_in_place_cuts_stop_as_soon_as_the_protocol_keeps_data(loop: aioloop.Loop) -> None:
    # A protocol that has let go of what it got several times in a row gets
    # objects cut to size in place (their block's tail unused).  Once it
    # keeps one, cuts are exact again, so what it keeps costs about its
    # size in memory, not the size of the reads before it.  The kept
    # objects must also stay intact.
    import tracemalloc

    class Proto(asyncio.Protocol):
        def __init__(self) -> None:
            self.received = 0
            self.keeping = False
            self.kept: list[bytes] = []
            self.lost = loop.create_future()

        def data_received(self, data: bytes) -> None:
            self.received += len(data)
            if self.keeping:
                self.kept.append(data)

        def connection_lost(self, exc: BaseException | None) -> None:
            self.lost.set_result(exc)

    async def send_and_wait(b: socket.socket, proto: Proto, msg: bytes) -> None:
        goal = proto.received + len(msg)
        await loop.sock_sendall(b, msg)
        while proto.received < goal:
            await asyncio.sleep(0.001)

    async def main() -> None:
        a, b = _pair()
        proto = Proto()
        await _transport(loop, a, proto)
        for i in range(30):                     # let go of 30: trusted
            await send_and_wait(b, proto, bytes([i]) * 16384)
        messages = [bytes([i]) * 6000 for i in range(60)]
        proto.kept = [b""] * 60
        proto.kept.clear()                      # its list is allocated already
        proto.keeping = True
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for msg in messages:                # smaller messages, all kept
                await send_and_wait(b, proto, msg)
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert proto.kept == messages
        # 60 x 6000 bytes kept; in-place cuts of blocks sized for the
        # 16 KiB reads would hold about 60 x 16 KiB.
        size = sum(map(len, messages))
        assert held < size * 1.2 + 40_000, (held, size)
        b.close()
        await proto.lost

    loop.run_until_complete(main())


def _size_recording_protocol(loop: aioloop.Loop) -> tuple[Recorder, list[int]]:
    proto = Recorder(loop)
    sizes: list[int] = []
    original = proto.data_received

    def record(data: bytes) -> None:
        sizes.append(len(data))
        original(data)

    proto.data_received = record  # type: ignore[method-assign]
    return proto, sizes


@pytest.mark.parametrize("kind", ["socket", "pipe"])
def test_direct_reads_follow_changing_message_sizes(loop: aioloop.Loop, kind: str) -> None:
    # Direct reads are sized from the reads before them.  Whatever the
    # sizes do (steady, growing past the size, shrinking to small, growing
    # again), every byte arrives once and in order; and a steady stream of
    # equal messages, each sent once the last has arrived, reads each one
    # whole, in one data_received() call.
    phases = [(40, 10240), (3, 100_000), (30, 1000), (10, 60_000), (40, 10240)]

    async def main() -> None:
        proto, sizes = _size_recording_protocol(loop)
        if kind == "socket":
            a, b = _pair()
            await _transport(loop, a, proto)
            send = functools.partial(loop.sock_sendall, b)
        else:
            r, w = os.pipe()
            rf = open(r, "rb", buffering=0)
            await loop.connect_read_pipe(lambda: proto, rf)
            wt, _ = await loop.connect_write_pipe(asyncio.Protocol, open(w, "wb", buffering=0))

            async def send(data: bytes) -> None:
                wt.write(data)
                while wt.get_write_buffer_size():
                    await asyncio.sleep(0.001)

        sent = bytearray()
        steady: list[int] = []
        for count, size in phases:
            steady = []
            for _ in range(count):
                msg = os.urandom(size)
                sent += msg
                before = len(sizes)
                await send(msg)
                for _ in range(2000):
                    if len(proto.data) == len(sent):
                        break
                    await asyncio.sleep(0.001)
                assert len(proto.data) == len(sent)
                steady.append(len(sizes) - before)
        assert bytes(proto.data) == bytes(sent)
        # The last phase: after the first couple of messages re-size the
        # reads, every 10 KiB message came in one call.
        assert steady[3:] == [1] * (len(steady) - 3)
        assert sizes[-10:] == [10240] * 10
        if kind == "socket":
            b.close()
        else:
            wt.close()
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
