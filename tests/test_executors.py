"""run_in_executor, the default executor, getaddrinfo/getnameinfo."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import socket
import sys
import threading
import weakref

import pytest

import aioloop


def test_run_in_executor_runs_in_a_worker_thread(loop: aioloop.Loop) -> None:
    main = threading.get_ident()
    result = loop.run_until_complete(loop.run_in_executor(None, threading.get_ident))
    assert result != main


def test_run_in_executor_propagates_exceptions(loop: aioloop.Loop) -> None:
    def fail() -> None:
        raise ValueError("from thread")

    with pytest.raises(ValueError, match="from thread"):
        loop.run_until_complete(loop.run_in_executor(None, fail))


def test_custom_and_default_executor(loop: aioloop.Loop) -> None:
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mine") as pool:
        name = loop.run_until_complete(
            loop.run_in_executor(pool, lambda: threading.current_thread().name))
        assert name.startswith("mine")
        loop.set_default_executor(pool)
        name = loop.run_until_complete(
            loop.run_in_executor(None, lambda: threading.current_thread().name))
        assert name.startswith("mine")
    with pytest.raises(TypeError):
        loop.set_default_executor(object())  # type: ignore[arg-type]


def test_shutdown_default_executor_joins_threads_and_blocks_new_work(loop: aioloop.Loop) -> None:
    loop.run_until_complete(loop.run_in_executor(None, lambda: None))
    threads = [t for t in threading.enumerate() if t.name.startswith("asyncio")]
    assert threads
    loop.run_until_complete(loop.shutdown_default_executor())
    assert not any(t.is_alive() for t in threads)
    with pytest.raises(RuntimeError, match="shutdown"):
        loop.run_in_executor(None, print)


def test_getaddrinfo_and_getnameinfo(loop: aioloop.Loop) -> None:
    infos = loop.run_until_complete(loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM))
    assert infos[0][4] == ("127.0.0.1", 80)
    host, port = loop.run_until_complete(
        loop.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV))
    assert (host, port) == ("127.0.0.1", "80")
    with pytest.raises(socket.gaierror):
        loop.run_until_complete(loop.getaddrinfo("no-such-host.invalid", 80))


def test_asyncio_to_thread_works(loop: aioloop.Loop) -> None:
    assert loop.run_until_complete(asyncio.to_thread(sum, [1, 2, 3])) == 6


# -- the default pool (aioloop.loop.threadpool) ------------------------------

from aioloop.loop.threadpool import LoopThreadPool  # noqa: E402


def _pool_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("asyncio_")}


def test_default_executor_is_the_loop_pool_and_reuses_idle_threads(loop: aioloop.Loop) -> None:
    before = _pool_threads()

    async def main() -> set[int]:
        idents = set()
        for _ in range(200):   # one at a time: one worker is enough
            idents.add(await loop.run_in_executor(None, threading.get_ident))
        return idents

    idents = loop.run_until_complete(main())
    assert isinstance(loop._default_executor, LoopThreadPool)
    assert len(idents) == 1
    assert len(_pool_threads() - before) == 1


def test_pool_never_runs_more_threads_than_max_workers(loop: aioloop.Loop) -> None:
    pool = LoopThreadPool(loop, max_workers=3)
    running = 0
    peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threading.Event().wait(0.002)
        with lock:
            running -= 1

    async def main() -> None:
        await asyncio.gather(*[pool.run(work, ()) for _ in range(30)])

    try:
        loop.run_until_complete(main())
        assert peak == 3 and len(pool._threads) == 3
    finally:
        pool.shutdown(wait=True)


def test_pool_work_that_waits_for_later_work_does_not_deadlock(loop: aioloop.Loop) -> None:
    # Item i waits for item i+1: with enough workers every item gets a
    # thread; an idle count that drifted would leave the last one queued.
    pool = LoopThreadPool(loop, max_workers=8)
    events = [threading.Event() for _ in range(8)]

    def link(i: int) -> int:
        if i + 1 < len(events):
            assert events[i + 1].wait(5), f"item {i + 1} never ran"
        events[i].set()
        return i

    async def main() -> list[int]:
        # Warm some threads up and let them go idle first.
        await asyncio.gather(*[pool.run(int, ()) for _ in range(4)])
        return list(await asyncio.gather(*[pool.run(link, (i,)) for i in range(8)]))

    try:
        assert loop.run_until_complete(main()) == list(range(8))
    finally:
        pool.shutdown(wait=True)


def test_a_cancelled_call_that_has_not_started_never_runs(loop: aioloop.Loop) -> None:
    pool = LoopThreadPool(loop, max_workers=1)
    gate = threading.Event()
    ran: list[str] = []

    async def main() -> None:
        first = pool.run(gate.wait, (5,))
        second = pool.run(ran.append, ("second",))
        second.cancel()
        gate.set()
        assert await first is True
        assert second.cancelled()

    try:
        loop.run_until_complete(main())
    finally:
        pool.shutdown(wait=True)
    assert ran == []


def test_pool_exceptions_including_base_exceptions_reach_the_awaiter(loop: aioloop.Loop) -> None:
    class Stop(BaseException):
        pass

    def raise_(exc: BaseException) -> None:
        raise exc

    async def main() -> None:
        with pytest.raises(Stop):
            await loop.run_in_executor(None, raise_, Stop())
        # 3.13's Future turns StopIteration into RuntimeError itself; before,
        # set_exception() refused it with TypeError, which asyncio's chaining
        # logged, leaving the future pending: we hand the TypeError over.
        expected = RuntimeError if sys.version_info >= (3, 13) else TypeError
        with pytest.raises(expected, match="StopIteration"):
            await loop.run_in_executor(None, raise_, StopIteration())

    loop.run_until_complete(main())


def test_pool_submit_and_shutdown_cancel_futures(loop: aioloop.Loop) -> None:
    pool = LoopThreadPool(loop, max_workers=1)
    gate = threading.Event()
    running = pool.submit(gate.wait, 5)
    assert isinstance(running, concurrent.futures.Future)
    queued = pool.submit(int, "7")

    async def queued_async() -> asyncio.Future[int]:
        return pool.run(int, ("8",))

    queued_asyncio = loop.run_until_complete(queued_async())
    pool.shutdown(wait=False, cancel_futures=True)
    gate.set()
    assert running.result(5) is True
    assert queued.cancelled()
    loop.run_until_complete(asyncio.sleep(0.01))
    assert queued_asyncio.cancelled()
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.submit(int)
    for t in list(pool._threads):
        t.join(5)
        assert not t.is_alive()


def test_closing_the_loop_while_work_runs_is_quiet(loop: aioloop.Loop) -> None:
    errors: list[object] = []
    old_hook = threading.excepthook
    threading.excepthook = errors.append
    gate = threading.Event()
    try:
        fut = loop.run_in_executor(None, gate.wait, 5)
        pool = loop._default_executor
        assert isinstance(pool, LoopThreadPool)
        threads = list(pool._threads)
        loop.close()          # does not wait for the pool (asyncio's rule)
        gate.set()
        for t in threads:
            t.join(5)
            assert not t.is_alive()
    finally:
        threading.excepthook = old_hook
    assert errors == []
    assert not fut.done()     # nobody is left to complete it


def test_interpreter_exits_without_the_loop_being_closed() -> None:
    import subprocess

    code = ("import aioloop\n"
            "loop = aioloop.new_event_loop()\n"
            "print(loop.run_until_complete(loop.run_in_executor(None, int, '5')))\n")
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "5"


def test_concurrent_futures_exceptions_become_asyncio_ones(loop: aioloop.Loop) -> None:
    # As asyncio.wrap_future() converts them for the default executor.
    def raise_(exc: BaseException) -> None:
        raise exc

    async def main() -> None:
        with pytest.raises(asyncio.CancelledError):
            await loop.run_in_executor(None, raise_, concurrent.futures.CancelledError())
        with pytest.raises(asyncio.InvalidStateError):
            await loop.run_in_executor(None, raise_, concurrent.futures.InvalidStateError())

    loop.run_until_complete(main())


def test_a_failed_submit_leaves_no_reference_cycle(loop: aioloop.Loop) -> None:
    # exc -> traceback -> worker frame -> work item -> future -> exc would
    # keep the exception (and what its frames hold) until the cyclic GC;
    # concurrent.futures breaks that cycle, and so must LoopThreadPool.
    class Boom(Exception):
        pass

    def fail() -> None:
        raise Boom()

    pool = LoopThreadPool(loop, max_workers=1)
    gc.disable()
    try:
        future = pool.submit(fail)
        exc = future.exception(5)
        assert isinstance(exc, Boom)
        ref = weakref.ref(exc)
        del exc, future
        assert ref() is None
    finally:
        gc.enable()
        pool.shutdown(wait=True)
