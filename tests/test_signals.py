"""add_signal_handler / remove_signal_handler."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

import aioloop


def test_signal_handler_runs_on_the_loop(loop: aioloop.Loop) -> None:
    got: list[tuple[str, int]] = []

    def handler(tag: str) -> None:
        got.append((tag, threading.get_ident()))
        loop.stop()

    loop.add_signal_handler(signal.SIGUSR1, handler, "usr1")
    try:
        loop.call_later(0.01, os.kill, os.getpid(), signal.SIGUSR1)
        loop.call_later(5, loop.stop)
        loop.run_forever()
        assert got == [("usr1", threading.get_ident())]
    finally:
        assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert loop.remove_signal_handler(signal.SIGUSR1) is False


def test_signal_wakes_a_loop_blocked_in_the_poller(loop: aioloop.Loop) -> None:
    loop.add_signal_handler(signal.SIGUSR2, loop.stop)
    try:
        timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR2))
        timer.start()
        guard = loop.call_later(10, loop.stop)
        loop.run_forever()
        timer.join()
        assert not guard.cancelled()
        guard.cancel()
    finally:
        loop.remove_signal_handler(signal.SIGUSR2)


def test_removing_sigint_restores_keyboard_interrupt(loop: aioloop.Loop) -> None:
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    loop.remove_signal_handler(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_bad_signal_arguments(loop: aioloop.Loop) -> None:
    with pytest.raises(TypeError):
        loop.add_signal_handler("SIGINT", print)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        loop.add_signal_handler(10_000, print)
    with pytest.raises(RuntimeError, match="cannot be caught"):
        loop.add_signal_handler(signal.SIGKILL, print)

    async def coro() -> None:
        pass

    with pytest.raises(TypeError, match="coroutines cannot be used"):
        loop.add_signal_handler(signal.SIGUSR1, coro)


def test_add_signal_handler_outside_main_thread_raises(loop: aioloop.Loop) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            loop.add_signal_handler(signal.SIGUSR1, print)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)


def test_close_removes_signal_handlers(loop: aioloop.Loop) -> None:
    loop.add_signal_handler(signal.SIGUSR1, print)
    loop.close()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert signal.set_wakeup_fd(-1) == -1


def test_cancelled_signal_handle_is_dropped(loop: aioloop.Loop) -> None:
    ran: list[int] = []
    loop.add_signal_handler(signal.SIGUSR1, ran.append, 1)
    loop._signal_handlers[signal.SIGUSR1].cancel()
    os.kill(os.getpid(), signal.SIGUSR1)
    loop.call_later(0.05, loop.stop)
    loop.run_forever()
    assert ran == [] and signal.SIGUSR1 not in loop._signal_handlers


def test_asyncio_runner_sigint_cancels_main_task() -> None:
    # asyncio.Runner's own SIGINT handling works on an aioloop loop: the
    # main task is cancelled (its cleanup runs) and run() raises
    # KeyboardInterrupt.
    cleanup: list[str] = []

    async def main() -> None:
        asyncio.get_running_loop().call_later(0.02, os.kill, os.getpid(), signal.SIGINT)
        try:
            await asyncio.sleep(5)
        finally:
            cleanup.append("ran")

    with pytest.raises(KeyboardInterrupt):
        with asyncio.Runner(loop_factory=aioloop.new_event_loop) as runner:
            runner.run(main())
    assert cleanup == ["ran"]
