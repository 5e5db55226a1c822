"""aioloop's public entry points behave like asyncio's."""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys

import pytest

import aioloop


def test_new_event_loop_is_an_asyncio_loop() -> None:
    loop = aioloop.new_event_loop()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert isinstance(loop, aioloop.Loop)
        assert not loop.is_running() and not loop.is_closed()
    finally:
        loop.close()
    assert loop.is_closed()


def test_run_returns_the_coroutine_result_and_running_loop_is_aioloop() -> None:
    async def main() -> type:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    assert aioloop.run(main()) is aioloop.Loop


def test_run_propagates_exceptions() -> None:
    async def main() -> None:
        raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError, match="boom"):
        aioloop.run(main())


def test_run_debug_flag_reaches_the_loop() -> None:
    async def main() -> bool:
        return asyncio.get_running_loop().get_debug()

    assert aioloop.run(main(), debug=True) is True
    assert aioloop.run(main(), debug=False) is False


def test_run_inside_running_loop_raises_runtime_error() -> None:
    async def main() -> None:
        coro = asyncio.sleep(0)
        try:
            with pytest.raises(RuntimeError, match="running event loop"):
                aioloop.run(coro)
        finally:
            coro.close()

    aioloop.run(main())


def test_runner_with_loop_factory() -> None:
    async def main() -> str:
        return type(asyncio.get_running_loop()).__name__

    with asyncio.Runner(loop_factory=aioloop.new_event_loop) as runner:
        assert runner.run(main()) == "Loop"
        assert isinstance(runner.get_loop(), aioloop.Loop)


def test_install_sets_policy_so_asyncio_run_uses_aioloop() -> None:
    old = asyncio.get_event_loop_policy()
    try:
        aioloop.install()
        assert isinstance(asyncio.get_event_loop_policy(), aioloop.EventLoopPolicy)

        async def main() -> bool:
            return isinstance(asyncio.get_running_loop(), aioloop.Loop)

        assert asyncio.run(main()) is True
        loop = asyncio.new_event_loop()
        try:
            assert isinstance(loop, aioloop.Loop)
        finally:
            loop.close()
    finally:
        asyncio.set_event_loop_policy(old)


def test_every_abstract_event_loop_method_is_present() -> None:
    names = [n for n in dir(asyncio.AbstractEventLoop) if not n.startswith("__")]
    missing = [n for n in names if not hasattr(aioloop.Loop, n)]
    assert not missing


def test_create_task_name_and_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")

    async def read() -> str:
        return var.get()

    async def main() -> tuple[str, str]:
        ctx = contextvars.copy_context()
        ctx.run(var.set, "inner")
        task = asyncio.get_running_loop().create_task(read(), name="reader", context=ctx)
        return task.get_name(), await task

    assert aioloop.run(main()) == ("reader", "inner")


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks arrived in 3.12")
def test_eager_task_factory_runs_the_first_step_synchronously() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(asyncio.eager_task_factory)
        order: list[str] = []

        async def child() -> None:
            order.append("child started")

        task = loop.create_task(child())
        order.append("after create_task")
        await task
        return order

    assert aioloop.run(main()) == ["child started", "after create_task"]


def test_task_factory_is_used_and_validated(loop: aioloop.Loop) -> None:
    made: list[object] = []

    def factory(lp: asyncio.AbstractEventLoop, coro: object) -> asyncio.Task[object]:
        task = asyncio.Task(coro, loop=lp)  # type: ignore[arg-type]
        made.append(task)
        return task

    loop.set_task_factory(factory)
    assert loop.get_task_factory() is factory
    result = loop.run_until_complete(loop.create_task(asyncio.sleep(0, "r"), name="n"))
    assert result == "r" and len(made) == 1 and made[0].get_name() == "n"  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        loop.set_task_factory(42)  # type: ignore[arg-type]


def test_ctrl_c_stops_run_cleanly_like_asyncio_run() -> None:
    # A child process runs aioloop.run(); SIGINT must cancel main (its
    # finally runs) and end the process with KeyboardInterrupt.
    code = r"""
import asyncio, os, signal, sys
import aioloop
async def main():
    try:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGINT)
        await asyncio.sleep(10)
    finally:
        print("cleanup ran", flush=True)
try:
    aioloop.run(main())
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
    sys.exit(3)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.stdout.split() == ["cleanup", "ran", "KeyboardInterrupt"], proc.stderr
    assert proc.returncode == 3


def test_clock_resolution_is_asyncios() -> None:
    # A private BaseEventLoop attribute that libraries and test helpers read.
    stock = asyncio.new_event_loop()
    ours = aioloop.new_event_loop()
    try:
        assert ours._clock_resolution == stock._clock_resolution  # type: ignore[attr-defined]
    finally:
        stock.close()
        ours.close()
