"""The low-level socket coroutines (sock_recv, sock_sendall, ...)."""

from __future__ import annotations

import asyncio
import errno
import gc
import os
import socket
import weakref

import pytest

import aioloop


@pytest.fixture
def pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def test_sendall_and_recv_round_trip(loop: aioloop.Loop,
                                     pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair

    async def main() -> bytes:
        reader = asyncio.ensure_future(loop.sock_recv(b, 100))
        await asyncio.sleep(0.01)  # make the reader wait in the poller
        await loop.sock_sendall(a, b"ping")
        return await reader

    assert loop.run_until_complete(main()) == b"ping"
    assert loop._get_reader(b.fileno()) is None


def test_sendall_of_more_than_the_socket_buffer(loop: aioloop.Loop,
                                                pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    payload = bytes(range(256)) * 40_000  # ~10 MB, far over the buffer

    async def drain() -> bytes:
        chunks = []
        total = 0
        while total < len(payload):
            chunk = await loop.sock_recv(b, 1 << 16)
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)

    async def main() -> bytes:
        receiver = asyncio.ensure_future(drain())
        await loop.sock_sendall(a, payload)
        return await receiver

    assert loop.run_until_complete(main()) == payload


def test_recv_into_and_eof(loop: aioloop.Loop, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    buf = bytearray(10)

    async def main() -> tuple[int, bytes]:
        await loop.sock_sendall(a, b"abc")
        n = await loop.sock_recv_into(b, buf)
        a.shutdown(socket.SHUT_WR)
        return n, await loop.sock_recv(b, 10)

    assert loop.run_until_complete(main()) == (3, b"")
    assert bytes(buf[:3]) == b"abc"


def test_udp_sendto_recvfrom(loop: aioloop.Loop) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s1, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s2:
        s1.setblocking(False)
        s2.setblocking(False)
        s1.bind(("127.0.0.1", 0))
        s2.bind(("127.0.0.1", 0))

        async def main() -> tuple[bytes, object, int, object]:
            waiter = asyncio.ensure_future(loop.sock_recvfrom(s1, 100))
            await asyncio.sleep(0)
            sent = await loop.sock_sendto(s2, b"dgram", s1.getsockname())
            data, addr = await waiter
            buf = bytearray(100)
            await loop.sock_sendto(s2, b"two", s1.getsockname())
            n, addr2 = await loop.sock_recvfrom_into(s1, buf)
            assert sent == 5 and bytes(buf[:n]) == b"two"
            return data, addr, n, addr2

        data, addr, n, addr2 = loop.run_until_complete(main())
        assert data == b"dgram" and addr == s2.getsockname() == addr2 and n == 3


def test_connect_accept_and_host_name_resolution(loop: aioloop.Loop) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]

        async def main() -> bytes:
            client = socket.socket()
            client.setblocking(False)
            try:
                accept = asyncio.ensure_future(loop.sock_accept(server))
                await loop.sock_connect(client, ("localhost", port))
                conn, _ = await accept
                with conn:
                    assert conn.gettimeout() == 0  # accepted sockets are non-blocking
                    await loop.sock_sendall(client, b"hi")
                    return await loop.sock_recv(conn, 10)
            finally:
                client.close()

        assert loop.run_until_complete(main()) == b"hi"


def test_connect_checks_the_port_and_the_address_shape(loop: aioloop.Loop) -> None:
    # asyncio passes a numeric host's port on to connect(), which rejects
    # one out of range; resolving it with getaddrinfo() wrapped it modulo
    # 65536 and connected to another port.  A "host:port" string is a
    # TypeError on both.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        for address in [("127.0.0.1", port + 65536), ("127.0.0.1", -1)]:
            with socket.socket() as client:
                client.setblocking(False)
                with pytest.raises(OverflowError):
                    loop.run_until_complete(loop.sock_connect(client, address))
        with socket.socket() as client:
            client.setblocking(False)
            with pytest.raises(TypeError):
                loop.run_until_complete(loop.sock_connect(client, f"127.0.0.1:{port}"))
        with socket.socket() as client:  # a port given as a string still works
            client.setblocking(False)
            loop.run_until_complete(loop.sock_connect(client, ("127.0.0.1", str(port))))
            assert client.getpeername() == ("127.0.0.1", port)


def test_connect_refused_raises_connection_refused(loop: aioloop.Loop) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening
        with socket.socket() as client:
            client.setblocking(False)
            with pytest.raises(ConnectionRefusedError):
                loop.run_until_complete(loop.sock_connect(client, ("127.0.0.1", port)))
            assert loop._get_writer(client.fileno()) is None


def test_a_failed_connect_or_recv_leaves_no_reference_cycle(loop: aioloop.Loop) -> None:
    # exc -> traceback -> frame -> future -> exc would keep every failed
    # operation's exception alive until the cyclic GC (anyio checks this
    # for its happy eyeballs); asyncio breaks the cycle, so must we.
    async def refused() -> BaseException:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]  # bound but not listening
            with socket.socket() as client:
                client.setblocking(False)
                try:
                    await loop.sock_connect(client, ("127.0.0.1", port))
                except ConnectionRefusedError as exc:
                    return exc
        raise AssertionError("connected to a port nobody listens on")

    gc.disable()
    try:
        exc = loop.run_until_complete(refused())
        # The task that returned exc holds it as its result (and on 3.12+
        # outlives this call); what must not is the future sock_connect
        # waited on.
        kept = [r for r in gc.get_referrers(exc)
                if isinstance(r, asyncio.Future) and not isinstance(r, asyncio.Task)]
        assert kept == []
    finally:
        gc.enable()


def test_blocking_socket_is_rejected(loop: aioloop.Loop) -> None:
    a, b = socket.socketpair()
    with a, b:
        coro = loop.sock_recv(a, 1)
        with pytest.raises(ValueError, match="non-blocking"):
            loop.run_until_complete(coro)


def test_cancelled_recv_unregisters_its_reader(loop: aioloop.Loop,
                                               pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair

    async def main() -> None:
        task = asyncio.ensure_future(loop.sock_recv(b, 10))
        await asyncio.sleep(0.01)
        assert loop._get_reader(b.fileno()) is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert loop._get_reader(b.fileno()) is None
        # Data sent afterwards is still there for the next reader: nothing
        # was consumed by the cancelled one.
        await loop.sock_sendall(a, b"kept")
        assert await loop.sock_recv(b, 10) == b"kept"

    loop.run_until_complete(main())


def test_reset_peer_surfaces_as_connection_error(loop: aioloop.Loop) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)

        async def main() -> None:
            client = socket.socket()
            client.setblocking(False)
            try:
                accept = asyncio.ensure_future(loop.sock_accept(server))
                await loop.sock_connect(client, server.getsockname())
                conn, _ = await accept
                # RST instead of FIN: SO_LINGER with a zero timeout.
                import struct
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                with pytest.raises(ConnectionResetError):
                    await loop.sock_recv(client, 10)
            finally:
                client.close()

        loop.run_until_complete(main())


def test_cancelled_recv_does_not_unregister_the_next_readers_wait(
        loop: aioloop.Loop, pair: tuple[socket.socket, socket.socket]) -> None:
    # Cancel a waiting sock_recv and start another before the cancellation
    # is delivered: the first one's clean-up must not remove the second's
    # registration (it would then wait forever).
    a, b = pair

    async def main() -> bytes:
        first = asyncio.ensure_future(loop.sock_recv(b, 10))
        await asyncio.sleep(0)
        first.cancel()
        second = asyncio.ensure_future(loop.sock_recv(b, 10))
        await asyncio.sleep(0)
        await loop.sock_sendall(a, b"for second")
        return await asyncio.wait_for(second, 5)

    assert loop.run_until_complete(main()) == b"for second"


def test_sendall_accepts_bytearray_and_memoryview(
        loop: aioloop.Loop, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair

    async def main() -> bytes:
        await loop.sock_sendall(a, bytearray(b"ab"))
        await loop.sock_sendall(a, memoryview(b"cd"))
        await loop.sock_sendall(a, b"")
        return await loop.sock_recv(b, 10)

    assert loop.run_until_complete(main()) == b"abcd"


def test_sendall_holds_its_buffer_while_it_waits(
    loop: aioloop.Loop, pair: tuple[socket.socket, socket.socket]
) -> None:
    # asyncio holds a memoryview of the data while the send waits, so a
    # bytearray cannot be resized under it.  aioloop held only the object
    # and took a fresh view per send: shrinking it made the next send read
    # past its end (freed memory went to the peer).
    a, b = pair
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    data = bytearray(b"A" * 1_000_000)

    async def main() -> bytes:
        task = loop.create_task(loop.sock_sendall(a, data))
        await asyncio.sleep(0.01)
        assert not task.done()
        with pytest.raises(BufferError):
            del data[:]
        got = bytearray()
        while len(got) < 1_000_000:
            got += await loop.sock_recv(b, 1 << 20)
        await task
        data.clear()  # released once the send is done
        return bytes(got)

    assert loop.run_until_complete(main()) == b"A" * 1_000_000


def test_socket_argument_errors_are_asyncios(
    loop: aioloop.Loop, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _b = pair
    with pytest.raises(TypeError, match="read-write bytes-like object, not bytes"):
        loop.run_until_complete(loop.sock_recv_into(a, b"immutable"))
    with pytest.raises(TypeError, match=r"^a bytes-like object is required, not 'str'$"):
        loop.run_until_complete(loop.sock_sendall(a, "text"))
    with pytest.raises(BufferError):
        loop.run_until_complete(loop.sock_sendall(a, memoryview(b"abcdef")[::2]))
    closed = socket.socket()
    closed.setblocking(False)
    closed.close()
    with pytest.raises(OSError) as info:
        loop.run_until_complete(loop.sock_sendall(closed, b""))
    assert info.value.errno == errno.EBADF


def test_a_loop_with_a_parked_receive_is_freed_after_close() -> None:
    # A receive that waited leaves its reader registration parked for the
    # next one; the registration and its waiter hold each other, and the
    # waiter holds the loop.  close() now empties what it drops, so the loop
    # is freed (it was kept alive for ever).
    loop = aioloop.new_event_loop()
    a, b = socket.socketpair()
    a.setblocking(False)

    async def main() -> bytes:
        running = asyncio.get_running_loop()
        task = running.create_task(running.sock_recv(a, 100))
        await asyncio.sleep(0.001)  # the receive has to wait
        b.send(b"hi")
        return await task

    with a, b:
        assert loop.run_until_complete(main()) == b"hi"
    loop.close()
    ref = weakref.ref(loop)
    del loop
    gc.collect()
    assert ref() is None


def test_recv_sizes_across_the_copy_and_direct_paths(
        loop: aioloop.Loop, pair: tuple[socket.socket, socket.socket]) -> None:
    # Small requests copy out of the loop's buffer, large ones receive into
    # the returned bytes directly (sized by the request, or beyond 128 KiB
    # by what is waiting): every size must return exactly the bytes sent.
    a, b = pair
    payload = os.urandom(3 * 1024 * 1024)

    async def main() -> bytes:
        sender = asyncio.ensure_future(loop.sock_sendall(a, payload))
        got = bytearray()
        sizes = [1, 100, 4096, 32768, 65536, 131072, 1 << 20, 5 << 20]
        i = 0
        while len(got) < len(payload):
            chunk = await loop.sock_recv(b, sizes[i % len(sizes)])
            assert 0 < len(chunk) <= sizes[i % len(sizes)]
            got += chunk
            i += 1
        await sender
        return bytes(got)

    assert loop.run_until_complete(main()) == payload


# -- parked reader registrations (sockops.pyx) -------------------------------

def _epoll_watched_fds(loop: aioloop.Loop) -> set[int]:
    with open(f"/proc/self/fdinfo/{loop._poller_fileno()}") as f:
        return {int(line.split()[1]) for line in f if line.startswith("tfd:")}


def test_a_finished_recv_leaves_no_visible_reader(
        loop: aioloop.Loop, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair

    async def main() -> bytes:
        loop.call_later(0.01, b.send, b"hi")
        return await loop.sock_recv(a, 100)

    assert loop.run_until_complete(main()) == b"hi"
    # The registration is kept for the next receive, but it is nobody's
    # reader: asyncio would have removed it.
    assert loop._get_reader(a.fileno()) is None
    assert loop.remove_reader(a) is False
    assert a.fileno() not in _epoll_watched_fds(loop)


def test_consecutive_recvs_reuse_one_registration(
        loop: aioloop.Loop, pair: tuple[socket.socket, socket.socket]) -> None:
    from aioloop._core import sockops

    a, b = pair

    async def main() -> None:
        first = sockops.recv(loop, a, 100)
        old_fut = first.fut
        b.send(b"1")
        assert await old_fut == b"1"
        assert first.fut is None                      # parked: holds no result
        second = sockops.recv(loop, a, 100)          # nothing waiting yet
        assert second is first and second.fut is not old_fut
        first.cancel(old_fut)                         # a late cancel of the first call...
        b.send(b"2")
        assert await asyncio.wait_for(second.fut, 5) == b"2"   # ...does not undo the second

    loop.run_until_complete(main())


def test_data_arriving_while_nobody_waits_drops_the_parked_registration(
        loop: aioloop.Loop, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair

    async def main() -> None:
        loop.call_later(0.005, b.send, b"x")
        assert await loop.sock_recv(a, 100) == b"x"
        assert a.fileno() in _epoll_watched_fds(loop)      # parked
        b.send(b"y")                                        # nobody receiving
        await asyncio.sleep(0.02)
        assert a.fileno() not in _epoll_watched_fds(loop)   # dropped, no spin
        assert await loop.sock_recv(a, 100) == b"y"

    loop.run_until_complete(main())


def test_a_new_socket_on_a_parked_fd_number_is_watched_afresh(loop: aioloop.Loop) -> None:
    # Close a socket whose reader registration is parked; the next socket
    # gets the same fd number.  Its sock_recv(), add_reader() and transport
    # must all really be registered with the kernel.
    def parked_pair() -> int:
        a, b = socket.socketpair()
        a.setblocking(False)

        async def once() -> None:
            loop.call_later(0.002, b.send, b"x")
            assert await loop.sock_recv(a, 10) == b"x"

        loop.run_until_complete(once())
        fd = a.fileno()
        a.close()
        b.close()
        return fd

    async def recv_on(sock: socket.socket, peer: socket.socket) -> bytes:
        loop.call_later(0.005, peer.send, b"new")
        return await asyncio.wait_for(loop.sock_recv(sock, 10), 5)

    fd = parked_pair()
    c, d = socket.socketpair()
    try:
        assert fd in (c.fileno(), d.fileno())
        mine, peer = (c, d) if c.fileno() == fd else (d, c)
        mine.setblocking(False)
        assert loop.run_until_complete(recv_on(mine, peer)) == b"new"
    finally:
        c.close()
        d.close()

    fd = parked_pair()
    c, d = socket.socketpair()
    try:
        mine, peer = (c, d) if c.fileno() == fd else (d, c)
        assert mine.fileno() == fd
        got = loop.create_future()
        loop.add_reader(mine, lambda: got.done() or got.set_result(mine.recv(10)))
        peer.send(b"reader")
        assert loop.run_until_complete(asyncio.wait_for(got, 5)) == b"reader"
        assert loop.remove_reader(mine) is True
    finally:
        c.close()
        d.close()


def test_a_socket_like_object_without_weakrefs_is_served_unparked(
        loop: aioloop.Loop, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair

    class Wrapper:
        __slots__ = ("sock",)

        def __init__(self, sock: socket.socket) -> None:
            self.sock = sock

        def fileno(self) -> int:
            return self.sock.fileno()

        def gettimeout(self) -> float:
            return 0.0

    async def main() -> bytes:
        loop.call_later(0.005, b.send, b"w")
        return await loop.sock_recv(Wrapper(a), 10)  # type: ignore[arg-type]

    assert loop.run_until_complete(main()) == b"w"
    assert a.fileno() not in _epoll_watched_fds(loop)
