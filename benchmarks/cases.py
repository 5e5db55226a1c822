"""The micro-benchmark cases: each is one fixed unit of work on the running loop.

A case is an ``async`` function that does a fixed amount of work on the loop
it runs on and returns how many operations that was. ``measure`` runs one
unit as a warm-up, then repeats units until a time budget is spent, so that a
loop ten times faster than another still runs long enough to be measured, and
reports operations per second over the timed units.

The fairness case lives in ``benchmarks.fairness``: it needs a second process.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["CASES", "Case", "measure"]

CaseFn = Callable[[asyncio.AbstractEventLoop], Awaitable[int]]


@dataclass(frozen=True)
class Case:
    """A named unit of work and the unit its operations are counted in."""

    name: str
    title: str
    unit: str
    fn: CaseFn


async def call_soon_chain(loop: asyncio.AbstractEventLoop) -> int:
    """Each callback schedules the next with call_soon: a queue never longer than 1."""
    total = 100_000
    remaining = total
    done = loop.create_future()
    call_soon = loop.call_soon

    def step() -> None:
        nonlocal remaining
        remaining -= 1
        if remaining:
            call_soon(step)
        else:
            done.set_result(None)

    call_soon(step)
    await done
    return total


async def call_soon_batch(loop: asyncio.AbstractEventLoop) -> int:
    """Schedule 10,000 callbacks at once, then let the loop run them all."""
    batch, batches = 10_000, 10
    count = 0

    def bump() -> None:
        nonlocal count
        count += 1

    call_soon = loop.call_soon
    for _ in range(batches):
        done = loop.create_future()
        for _ in range(batch):
            call_soon(bump)
        # call_soon is documented FIFO, so this runs after the whole batch.
        call_soon(done.set_result, None)
        await done
    if count != batch * batches:
        raise AssertionError(f"ran {count} callbacks, expected {batch * batches}")
    return count


async def call_later_timers(loop: asyncio.AbstractEventLoop) -> int:
    """Schedule 50,000 timers with scattered deadlines under 1 ms; run until all fired.

    The deadlines are deterministic but out of order, so the timer structure
    must really sort them; the wait after the last one is at most 1 ms, small
    beside the tens of milliseconds that scheduling 50,000 timers takes.
    """
    total = 50_000
    fired = 0
    done = loop.create_future()

    def fire() -> None:
        nonlocal fired
        fired += 1
        if fired == total:
            done.set_result(None)

    call_later = loop.call_later
    for i in range(total):
        call_later((i * 7919 % 1000) * 1e-6, fire)
    await done
    return total


def _never() -> None:
    raise AssertionError("a cancelled timer fired")


async def call_later_cancel(loop: asyncio.AbstractEventLoop) -> int:
    """Schedule timers 1-1.1 s ahead and cancel them, like timeouts that never expire.

    The loop gets one iteration after every 1,000 so that it can drop the
    cancelled timers, as it would in a server where timeouts are set and
    cleared between I/O events.
    """
    per_batch, batches = 1_000, 50
    call_later = loop.call_later
    for _ in range(batches):
        handles = [call_later(1.0 + (i % 100) * 1e-3, _never) for i in range(per_batch)]
        for handle in handles:
            handle.cancel()
        await asyncio.sleep(0)
    return per_batch * batches


async def future_await(loop: asyncio.AbstractEventLoop) -> int:
    """A task awaits a fresh loop.create_future() that call_soon completes."""
    total = 20_000
    create_future, call_soon = loop.create_future, loop.call_soon
    for _ in range(total):
        fut = create_future()
        call_soon(fut.set_result, None)
        await fut
    return total


async def future_chain(loop: asyncio.AbstractEventLoop) -> int:
    """Futures linked by done-callbacks: each completed future creates and completes the next.

    Every link costs a future, an add_done_callback, a set_result and the
    call_soon through which the future runs its callbacks.
    """
    total = 20_000
    remaining = total
    done: asyncio.Future[int] = loop.create_future()

    def link(prev: asyncio.Future[int]) -> None:
        nonlocal remaining
        remaining -= 1
        if remaining:
            nxt: asyncio.Future[int] = loop.create_future()
            nxt.add_done_callback(link)
            nxt.set_result(prev.result() + 1)
        else:
            done.set_result(prev.result())

    first: asyncio.Future[int] = loop.create_future()
    first.add_done_callback(link)
    first.set_result(0)
    last = await done
    if last != total - 1:
        raise AssertionError(f"chain ended at {last}, expected {total - 1}")
    return total


async def _small(i: int) -> int:
    return i


async def create_task_gather(loop: asyncio.AbstractEventLoop) -> int:
    """Create 1,000 small tasks and gather them, 20 times."""
    per_batch, batches = 1_000, 20
    create_task = loop.create_task
    for _ in range(batches):
        results = await asyncio.gather(*[create_task(_small(i)) for i in range(per_batch)])
        if len(results) != per_batch:
            raise AssertionError("gather lost results")
    return per_batch * batches


async def sleep0_pingpong(loop: asyncio.AbstractEventLoop) -> int:
    """Two tasks alternate through asyncio.sleep(0); counts the switches actually seen."""
    rounds = 30_000
    last = -1
    switches = 0

    async def bouncer(me: int) -> None:
        nonlocal last, switches
        for _ in range(rounds):
            await asyncio.sleep(0)
            if last != me:
                switches += 1
                last = me

    await asyncio.gather(loop.create_task(bouncer(0)), loop.create_task(bouncer(1)))
    return switches


async def queue_producer_consumer(loop: asyncio.AbstractEventLoop) -> int:
    """A producer puts 20,000 items into a bounded asyncio.Queue(64); a consumer gets them."""
    total = 20_000
    queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=64)

    async def producer() -> None:
        for i in range(total):
            await queue.put(i)
        await queue.put(None)

    task = loop.create_task(producer())
    got = 0
    while (await queue.get()) is not None:
        got += 1
    await task
    if got != total:
        raise AssertionError(f"consumed {got} items, expected {total}")
    return got


async def socketpair_pingpong(loop: asyncio.AbstractEventLoop) -> int:
    """64-byte round trips over a non-blocking socketpair with sock_sendall/sock_recv."""
    total = 3_000
    message = b"x" * 64
    a, b = socket.socketpair()
    echo: asyncio.Task[None] | None = None
    try:
        a.setblocking(False)
        b.setblocking(False)

        async def echo_back() -> None:
            while data := await loop.sock_recv(b, 4096):
                await loop.sock_sendall(b, data)

        echo = loop.create_task(echo_back())
        for _ in range(total):
            await loop.sock_sendall(a, message)
            got = 0
            # A stream may split a message; count bytes, not reads.
            while got < len(message):
                chunk = await loop.sock_recv(a, 4096)
                if not chunk:
                    raise ConnectionError("echo side closed early")
                got += len(chunk)
        a.shutdown(socket.SHUT_WR)  # EOF ends echo_back cleanly
        await echo
    finally:
        if echo is not None and not echo.done():
            echo.cancel()
            await asyncio.gather(echo, return_exceptions=True)
        a.close()
        b.close()
    return total


def _noop() -> None:
    return None


async def run_in_executor(loop: asyncio.AbstractEventLoop) -> int:
    """Submit a trivial function to the default executor, 100 calls in flight at a time."""
    in_flight, batches = 100, 20
    for _ in range(batches):
        futures = [loop.run_in_executor(None, _noop) for _ in range(in_flight)]
        for fut in futures:
            await fut
    return in_flight * batches


_ALL = [
    Case("call_soon_chain", "call_soon chain", "callbacks", call_soon_chain),
    Case("call_soon_batch", "call_soon batch (10k at once)", "callbacks", call_soon_batch),
    Case("call_later", "call_later timers", "timers", call_later_timers),
    Case("call_later_cancel", "call_later + cancel", "timers", call_later_cancel),
    Case("future_await", "future await", "awaits", future_await),
    Case("future_chain", "future chain (done callbacks)", "futures", future_chain),
    Case("task_gather", "create_task + gather", "tasks", create_task_gather),
    Case("sleep0", "sleep(0) ping-pong", "switches", sleep0_pingpong),
    Case("queue", "asyncio.Queue producer/consumer", "items", queue_producer_consumer),
    Case("sock_pingpong", "socketpair sock_sendall/sock_recv", "round trips", socketpair_pingpong),
    Case("executor", "run_in_executor (default executor)", "calls", run_in_executor),
]
CASES: dict[str, Case] = {case.name: case for case in _ALL}


async def measure(case: Case, min_seconds: float) -> dict[str, float]:
    """Run ``case`` once to warm up, then repeat it until ``min_seconds`` of timed work.

    Returns the operations, seconds and units timed and their ops/s. Only the
    time inside the units counts, not the gaps between them.
    """
    loop = asyncio.get_running_loop()
    await case.fn(loop)
    gc.collect()
    ops = 0
    elapsed = 0.0
    units = 0
    while units == 0 or elapsed < min_seconds:
        start = time.perf_counter()
        ops += await case.fn(loop)
        elapsed += time.perf_counter() - start
        units += 1
    return {"ops": ops, "seconds": elapsed, "units": units, "ops_per_sec": ops / elapsed}
