"""Exception handlers and debug mode."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

import pytest

import aioloop


def test_exception_in_callback_is_reported_and_loop_keeps_running(loop: aioloop.Loop) -> None:
    contexts: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    seen: list[str] = []

    def bad() -> None:
        raise ValueError("oops")

    loop.call_soon(bad)
    loop.call_soon(seen.append, "after")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["after"]
    (ctx,) = contexts
    assert isinstance(ctx["exception"], ValueError)
    assert ctx["message"].startswith("Exception in callback") and "bad" in ctx["message"]
    assert ctx["handle"] is not None


def test_default_handler_logs_through_asyncio_logger(loop: aioloop.Loop,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    def bad() -> None:
        raise RuntimeError("logged")

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_soon(bad)
        loop.call_soon(loop.stop)
        loop.run_forever()
    assert any("Exception in callback" in r.getMessage() and r.exc_info
               and r.exc_info[0] is RuntimeError for r in caplog.records)


def test_broken_custom_handler_falls_back_to_default(loop: aioloop.Loop,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    def handler(lp: Any, ctx: dict[str, Any]) -> None:
        raise KeyError("handler bug")

    loop.set_exception_handler(handler)
    assert loop.get_exception_handler() is handler
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_exception_handler({"message": "first"})
    assert any("Unhandled error in exception handler" in r.getMessage() for r in caplog.records)
    with pytest.raises(TypeError):
        loop.set_exception_handler("nope")  # type: ignore[arg-type]
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None


def test_unretrieved_task_exception_reaches_the_handler(loop: aioloop.Loop) -> None:
    contexts: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    async def fail() -> None:
        raise ValueError("never retrieved")

    task = loop.create_task(fail())
    loop.run_until_complete(asyncio.sleep(0.01))
    del task
    gc.collect()
    assert any(isinstance(c.get("exception"), ValueError) for c in contexts)


def test_debug_mode_logs_slow_callbacks_by_name(loop: aioloop.Loop,
                                                caplog: pytest.LogCaptureFixture) -> None:
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01

    def sluggish_callback() -> None:
        time.sleep(0.03)

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.call_soon(sluggish_callback)
        loop.call_soon(loop.stop)
        loop.run_forever()
    msgs = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Executing <Handle ") and "sluggish_callback()" in m
               and m.endswith("seconds") for m in msgs), msgs


def test_debug_mode_names_the_slow_task(loop: aioloop.Loop,
                                       caplog: pytest.LogCaptureFixture) -> None:
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01

    async def slow_coroutine() -> None:
        time.sleep(0.03)

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.run_until_complete(slow_coroutine())
    assert any("Executing <Task" in r.getMessage() and "slow_coroutine" in r.getMessage()
               for r in caplog.records)


def test_debug_mode_rejects_coroutines_and_non_callables(loop: aioloop.Loop) -> None:
    loop.set_debug(True)

    async def coro_fn() -> None:
        pass

    with pytest.raises(TypeError, match="coroutines cannot be used with call_soon"):
        loop.call_soon(coro_fn)
    with pytest.raises(TypeError, match="a callable object was expected"):
        loop.call_later(1, 42)  # type: ignore[arg-type]


def test_debug_mode_records_where_a_handle_was_created(loop: aioloop.Loop) -> None:
    loop.set_debug(True)
    h = loop.call_soon(print)
    assert h._source_traceback and h._source_traceback[-1].name == \
        "test_debug_mode_records_where_a_handle_was_created"
    assert "created at" in repr(h)
    h.cancel()


def test_debug_mode_detects_calls_from_another_thread(loop: aioloop.Loop) -> None:
    import threading

    loop.set_debug(True)
    errors: list[BaseException] = []

    async def main() -> None:
        def worker() -> None:
            try:
                loop.call_soon(print)
            except RuntimeError as exc:
                errors.append(exc)

        t = threading.Thread(target=worker)
        t.start()
        await loop.run_in_executor(None, t.join)

    loop.run_until_complete(main())
    assert errors and "Non-thread-safe operation" in str(errors[0])


def test_never_awaited_coroutine_warns_with_origin_in_debug(loop: aioloop.Loop) -> None:
    loop.set_debug(True)

    async def forgotten() -> None:
        pass

    async def main() -> None:
        forgotten()  # never awaited

    with pytest.warns(RuntimeWarning, match="was never awaited"):
        loop.run_until_complete(main())
        gc.collect()


def test_pythonasynciodebug_env_turns_on_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", "import aioloop; l = aioloop.new_event_loop(); "
                               "print(l.get_debug()); l.close()"],
        env={**__import__("os").environ, "PYTHONASYNCIODEBUG": "1"},
        capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "True", out.stderr


def test_debug_task_creation_traceback_ends_at_the_caller(loop: aioloop.Loop) -> None:
    import sys

    loop.set_debug(True)

    async def nothing() -> None:
        return None

    task = loop.create_task(nothing())
    line = sys._getframe().f_lineno - 1
    tb = task._source_traceback  # type: ignore[attr-defined]
    assert tb
    assert (tb[-1].lineno, tb[-1].name) == (
        line, "test_debug_task_creation_traceback_ends_at_the_caller")
    future = loop.create_future()
    assert future.get_loop() is loop
    loop.run_until_complete(task)
