"""add_reader / add_writer on sockets, pipes and raw fds, including misuse."""

from __future__ import annotations

import os
import socket
import tempfile

import pytest

import aioloop


def test_reader_fires_when_data_arrives_and_not_before(loop: aioloop.Loop) -> None:
    r, w = socket.socketpair()
    try:
        got: list[bytes] = []

        def on_read() -> None:
            got.append(r.recv(100))
            loop.stop()

        loop.add_reader(r, on_read)
        loop.call_later(0.02, w.send, b"hello")
        loop.run_forever()
        assert got == [b"hello"]
        assert loop.remove_reader(r) is True
        assert loop.remove_reader(r) is False
    finally:
        r.close()
        w.close()


def test_writer_fires_on_writable_pipe_and_reader_on_raw_fd(loop: aioloop.Loop) -> None:
    rfd, wfd = os.pipe()
    try:
        os.set_blocking(rfd, False)
        os.set_blocking(wfd, False)
        got: list[bytes] = []

        def on_writable() -> None:
            os.write(wfd, b"ping")
            loop.remove_writer(wfd)

        def on_readable() -> None:
            got.append(os.read(rfd, 10))
            loop.remove_reader(rfd)
            loop.stop()

        loop.add_writer(wfd, on_writable)
        loop.add_reader(rfd, on_readable)
        loop.run_forever()
        assert got == [b"ping"]
    finally:
        os.close(rfd)
        os.close(wfd)


def test_reader_and_writer_on_one_fd_are_independent(loop: aioloop.Loop) -> None:
    a, b = socket.socketpair()
    try:
        events: list[str] = []

        def on_write() -> None:
            events.append("w")
            loop.remove_writer(a)
            b.send(b"x")

        def on_read() -> None:
            events.append("r")
            a.recv(1)
            loop.remove_reader(a)
            loop.stop()

        loop.add_reader(a, on_read)
        loop.add_writer(a, on_write)
        loop.run_forever()
        assert events == ["w", "r"]
    finally:
        a.close()
        b.close()


def test_add_reader_replaces_the_previous_callback(loop: aioloop.Loop) -> None:
    r, w = socket.socketpair()
    try:
        got: list[str] = []
        loop.add_reader(r, got.append, "old")
        loop.add_reader(r, lambda: (got.append("new"), r.recv(1), loop.stop()))
        w.send(b"x")
        loop.run_forever()
        assert got == ["new"]
        loop.remove_reader(r)
    finally:
        r.close()
        w.close()


def test_bad_file_objects_raise_value_error(loop: aioloop.Loop) -> None:
    with pytest.raises(ValueError, match="Invalid file object"):
        loop.add_reader("not a file", print)
    with pytest.raises(ValueError, match="Invalid file descriptor"):
        loop.add_reader(-1, print)
    with pytest.raises(ValueError):
        loop.remove_writer(object())


def test_closed_fd_raises_oserror_and_regular_file_permissionerror(loop: aioloop.Loop) -> None:
    rfd, wfd = os.pipe()
    os.close(rfd)
    os.close(wfd)
    with pytest.raises(OSError):
        loop.add_reader(rfd, print)
    with tempfile.TemporaryFile() as f:
        # epoll refuses regular files, as asyncio's selector does.
        with pytest.raises(PermissionError):
            loop.add_reader(f.fileno(), print)
    assert loop._get_reader(rfd) is None


def test_fd_closed_behind_the_loops_back_does_not_spin_or_crash(loop: aioloop.Loop) -> None:
    # Close a registered socket while a dup keeps its file open, then
    # remove_reader(): the kernel keeps the old registration (it can no
    # longer be deleted by number) and reports it readable forever.  The loop
    # must neither busy-loop on that ghost nor hand its events to the fd
    # number's next owner.
    import time

    a, b = socket.socketpair()
    dup = a.dup()
    try:
        fd = a.fileno()
        loop.add_reader(fd, lambda: None)
        a.close()
        assert loop.remove_reader(fd) is True
        b.send(b"data")  # the orphaned file is now readable
        cpu0, wall0 = time.process_time(), time.monotonic()
        loop.call_later(0.2, loop.stop)
        loop.run_forever()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        assert cpu < wall / 2, f"loop spun: {cpu:.3f}s CPU in {wall:.3f}s"
        # A new socket that gets the same fd number works normally and sees
        # only its own data.
        c, d = socket.socketpair()
        try:
            got: list[bytes] = []
            loop.add_reader(c, lambda: (got.append(c.recv(10)), loop.stop()))
            d.send(b"new")
            loop.call_later(1, loop.stop)
            loop.run_forever()
            assert got == [b"new"]
            loop.remove_reader(c)
        finally:
            c.close()
            d.close()
    finally:
        dup.close()
        b.close()


def test_remove_reader_after_fd_was_closed_is_safe(loop: aioloop.Loop) -> None:
    r, w = socket.socketpair()
    loop.add_reader(r, print)
    fd = r.fileno()
    r.close()
    w.close()
    assert loop.remove_reader(fd) is True
    loop.call_soon(loop.stop)
    loop.run_forever()


def test_a_closed_socket_is_still_found_by_remove_reader_and_remove_writer(
        loop: aioloop.Loop) -> None:
    # asyncio's selector finds a registration by the file object itself
    # once its fileno() is -1; anyio closes a socket before removing its
    # reader.  The fd number must then be free for the next socket.
    a, b = socket.socketpair()
    loop.add_reader(a, print)
    a.close()
    assert loop.remove_reader(a) is True
    with pytest.raises(ValueError):             # as asyncio: forgotten once removed
        loop.remove_reader(a)
    # Watched both ways, the poller cannot keep the other half of a closed
    # fd: asyncio raises EBADF and drops the whole registration.
    e, f = socket.socketpair()
    loop.add_reader(e, print)
    loop.add_writer(e, print)
    e_fd = e.fileno()
    e.close()
    with pytest.raises(OSError):
        loop.remove_reader(e)
    assert loop._get_writer(e_fd) is None
    with pytest.raises(ValueError):
        loop.remove_writer(e)
    f.close()
    c, d = socket.socketpair()
    fired: list[bytes] = []
    try:
        loop.add_reader(c, lambda: fired.append(c.recv(10)) or loop.stop())
        d.send(b"x")
        loop.call_later(5, loop.stop)
        loop.run_forever()
        assert fired == [b"x"]          # a stale registration would swallow this
        assert loop.remove_reader(c) is True
    finally:
        for s in (b, c, d):
            s.close()
    with socket.socket() as never_registered:
        pass
    with pytest.raises(ValueError):     # as asyncio: nothing to find it by
        loop.remove_reader(never_registered)


def test_reader_removed_while_its_event_is_queued_does_not_run(loop: aioloop.Loop) -> None:
    # Both fds become ready in one poll; whichever callback runs first
    # removes the other's reader, whose already-queued callback must not run.
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    try:
        ran: list[str] = []

        def on_a() -> None:
            ran.append("a")
            loop.remove_reader(a)
            loop.remove_reader(c)

        def on_c() -> None:
            ran.append("c")
            loop.remove_reader(a)
            loop.remove_reader(c)

        loop.add_reader(a, on_a)
        loop.add_reader(c, on_c)
        b.send(b"x")
        d.send(b"x")
        loop.call_later(0.05, loop.stop)
        loop.run_forever()
        assert ran in (["a"], ["c"])
    finally:
        for s_ in (a, b, c, d):
            s_.close()


def test_many_fds_beyond_the_initial_table(loop: aioloop.Loop) -> None:
    pairs = [socket.socketpair() for _ in range(200)]
    try:
        hits: set[int] = set()

        def on_read(sock: socket.socket) -> None:
            sock.recv(1)
            hits.add(sock.fileno())
            loop.remove_reader(sock)
            if len(hits) == len(pairs):
                loop.stop()

        for r, w in pairs:
            loop.add_reader(r, on_read, r)
            w.send(b"x")
        loop.call_later(5, loop.stop)
        loop.run_forever()
        assert len(hits) == len(pairs)
    finally:
        for r, w in pairs:
            r.close()
            w.close()


def test_every_run_polls_at_least_once(loop: aioloop.Loop) -> None:
    # run_until_complete() of a future that is already done runs a single
    # iteration; I/O that is ready by then must be seen in it, as asyncio
    # sees it (each of its iterations polls).
    r, w = socket.socketpair()
    try:
        got: list[bytes] = []
        loop.add_reader(r, lambda: got.append(r.recv(10)))
        done = loop.create_future()
        done.set_result(None)
        for i in range(50):  # many busy runs: each must poll
            w.send(b"%d" % i)
            loop.run_until_complete(done)
            assert got and got[-1] == b"%d" % i, (i, got)
        loop.remove_reader(r)
    finally:
        r.close()
        w.close()


def _polls_during_storm(loop: aioloop.Loop, callbacks: int) -> int:
    # Polls the loop makes while a chain of call_soon callbacks keeps it busy.
    left = [callbacks]
    done = loop.create_future()

    def step() -> None:
        left[0] -= 1
        if left[0]:
            loop.call_soon(step)
        else:
            done.set_result(None)

    loop.call_soon(step)
    before = loop._stamp_values()[2]
    loop.run_until_complete(done)
    return loop._stamp_values()[2] - before


def test_busy_polls_happen_only_while_some_fd_is_watched(loop: aioloop.Loop) -> None:
    # With nothing watched but the loop's own wake-up fd, a busy poll can
    # find nothing (call_soon_threadsafe wakes only a sleeping loop), so a
    # storm of callbacks runs without system calls.  Once an fd is watched
    # the storm polls again, and stops again when the fd is removed, also
    # when it was closed behind the loop's back.
    assert _polls_during_storm(loop, 200_000) <= 3
    r, w = socket.socketpair()
    try:
        loop.add_reader(r, lambda: None)
        assert _polls_during_storm(loop, 200_000) > 20
        loop.add_writer(w, lambda: None)
        loop.remove_writer(w)
        assert _polls_during_storm(loop, 200_000) > 20
        loop.remove_reader(r)
        assert _polls_during_storm(loop, 200_000) <= 3
        loop.add_reader(r, lambda: None)
        fd = r.fileno()
    finally:
        r.close()
        w.close()
    loop.remove_reader(fd)   # closed behind the loop's back
    assert _polls_during_storm(loop, 200_000) <= 3


def test_a_storm_still_sees_a_reader_added_during_it(loop: aioloop.Loop) -> None:
    r, w = socket.socketpair()
    try:
        got: list[int] = []
        left = [300_000]
        done = loop.create_future()

        def step() -> None:
            left[0] -= 1
            if left[0] == 200_000:
                loop.add_reader(r, lambda: got.append(left[0]) or r.recv(10))
                w.send(b"x")
            if left[0] and not got:
                loop.call_soon(step)
            elif not done.done():
                done.set_result(None)

        loop.call_soon(step)
        loop.run_until_complete(done)
        loop.remove_reader(r)
        # Seen within a few microseconds of callbacks, long before the
        # storm ran out.
        assert got and got[0] > 190_000
    finally:
        r.close()
        w.close()
