"""How the compiled stream transport reads: direct reads sized from the reads
before them, the reuse of a read's bytes object that the protocol let go
of, and in-place cuts (stream.pyx, readsize.pxd)."""

from __future__ import annotations

import asyncio
import functools
import os
import socket

import pytest
from streamkit import Recorder, make_transport, pair

import aioloop


def _size_recording_protocol(loop: aioloop.Loop) -> tuple[Recorder, list[int]]:
    proto = Recorder(loop)
    sizes: list[int] = []
    original = proto.data_received

    def record(data: bytes) -> None:
        sizes.append(len(data))
        original(data)

    proto.data_received = record  # type: ignore[method-assign]
    return proto, sizes


def test_large_messages_arrive_intact_through_direct_reads(loop: aioloop.Loop) -> None:
    # Once a read is large, the transport receives straight into the bytes
    # it hands the protocol (no copy); the bytes must still be exactly what
    # was sent, in order, across both read paths.
    async def main() -> None:
        a, b = pair()
        proto, sizes = _size_recording_protocol(loop)
        await make_transport(loop, a, proto)
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


@pytest.mark.parametrize("size", [8192, 100])
@pytest.mark.parametrize("keep", [False, True])
def test_read_bytes_are_reused_only_when_nobody_holds_them(
    loop: aioloop.Loop, keep: bool, size: int
) -> None:
    # A direct read's bytes object goes back to the loop for the next read
    # only when the protocol kept no reference to it.  A protocol that keeps
    # every object must find each one unchanged; one that keeps none lets
    # the loop reuse them, for large reads and (once it has let go of a few
    # in a row) for small ones.
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
        a, b = pair()
        proto = Proto(loop)
        await make_transport(loop, a, proto)
        sent = bytearray()
        before = loop._read_bytes_reused
        for i in range(60):
            msg = bytes([i]) * size
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


@pytest.mark.parametrize(("released", "kept"), [(16384, 6000), (100, 100)])
def test_in_place_cuts_stop_as_soon_as_the_protocol_keeps_data(
    loop: aioloop.Loop, released: int, kept: int
) -> None:
    # A protocol that has let go of what it got several times in a row gets
    # objects cut to size in place (their block's tail unused), for large
    # reads and for small ones (read into a 16 KiB block).  Once it keeps
    # one, cuts are exact again, so what it keeps costs about its size in
    # memory, not the size of the block it was read into.  The kept objects
    # must also stay intact.
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
        a, b = pair()
        proto = Proto()
        await make_transport(loop, a, proto)
        for i in range(30):                     # let go of 30: trusted
            await send_and_wait(b, proto, bytes([i]) * released)
        messages = [bytes([i]) * kept for i in range(60)]
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
        # 60 messages kept; in-place cuts of blocks sized for the 16 KiB
        # reads (or of small reads' 16 KiB blocks) would hold 60 x 16 KiB.
        size = sum(map(len, messages))
        assert held < size * 1.2 + 40_000, (held, size)
        b.close()
        await proto.lost

    loop.run_until_complete(main())


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
            a, b = pair()
            await make_transport(loop, a, proto)
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


def test_a_burst_after_small_reads_arrives_whole_and_resizes_the_reads(loop: aioloop.Loop) -> None:
    # Once a protocol has let go of several small reads, small reads go
    # into a 16 KiB bytes object.  A burst larger than that is read in
    # pieces, and the first piece that fills the object switches to sized
    # direct reads: the burst arrives intact and in order, in few calls.
    async def main() -> None:
        proto, sizes = _size_recording_protocol(loop)
        a, b = pair()
        await make_transport(loop, a, proto)
        sent = bytearray()
        for i in range(20):
            msg = bytes([i]) * 50
            sent += msg
            await loop.sock_sendall(b, msg)
            while len(proto.data) < len(sent):
                await asyncio.sleep(0.001)
        burst = os.urandom(200_000)
        sent += burst
        before = len(sizes)
        await loop.sock_sendall(b, burst)
        while len(proto.data) < len(sent):
            await asyncio.sleep(0.001)
        assert bytes(proto.data) == bytes(sent)
        pieces = sizes[before:]
        assert sum(pieces) == len(burst)
        assert max(pieces) > 16384, pieces
        b.close()
        await proto.lost

    loop.run_until_complete(main())
