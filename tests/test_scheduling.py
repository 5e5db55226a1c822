"""call_soon / call_soon_threadsafe / call_later / call_at and the run cycle."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import math
import threading
import time
import weakref
from unittest import mock

import pytest

import aioloop


def test_call_soon_runs_callbacks_in_fifo_order_with_args(loop: aioloop.Loop) -> None:
    seen: list[int] = []
    for i in range(5):
        loop.call_soon(seen.append, i)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [0, 1, 2, 3, 4]


def test_callbacks_scheduled_by_a_callback_run_in_the_next_iteration(loop: aioloop.Loop) -> None:
    # stop() finishes the current batch; what the batch schedules waits
    # for the next run (asyncio's documented stop semantics).
    seen: list[str] = []

    def first() -> None:
        seen.append("first")
        loop.call_soon(seen.append, "later")
        loop.stop()

    loop.call_soon(first)
    loop.call_soon(seen.append, "same batch")
    loop.run_forever()
    assert seen == ["first", "same batch"]
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["first", "same batch", "later"]


def test_cancelled_handle_does_not_run(loop: aioloop.Loop) -> None:
    seen: list[int] = []
    h = loop.call_soon(seen.append, 1)
    assert not h.cancelled()
    h.cancel()
    h.cancel()  # idempotent
    assert h.cancelled()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == []


def test_handle_repr_names_the_callback(loop: aioloop.Loop) -> None:
    def my_callback(x: int) -> None:
        pass

    h = loop.call_soon(my_callback, 7)
    assert "my_callback(7)" in repr(h) and repr(h).startswith("<Handle")
    h.cancel()
    assert "cancelled" in repr(h)
    t = loop.call_later(10, my_callback, 1)
    assert repr(t).startswith("<TimerHandle when=") and "my_callback(1)" in repr(t)
    t.cancel()


def test_handle_context_is_used_and_exposed(loop: aioloop.Loop) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="default")
    ctx = contextvars.copy_context()
    ctx.run(var.set, "in ctx")
    seen: list[str] = []
    h = loop.call_soon(lambda: seen.append(var.get()), context=ctx)
    assert h.get_context() is ctx
    loop.call_soon(lambda: seen.append(var.get()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["in ctx", "default"]


def test_call_soon_keyword_checks_match_asyncio(loop: aioloop.Loop) -> None:
    # call_soon's hand-written entry point remembers the last 'context'
    # string object it saw; any other string object spelling 'context' must
    # still work, and any other keyword must still be refused.
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    seen: list[str] = []
    ctx = contextvars.copy_context()
    ctx.run(var.set, "in ctx")

    def cb() -> None:
        seen.append(var.get("unset"))

    async def task_step() -> None:  # a C Task passes its own 'context' string
        await asyncio.sleep(0)

    loop.run_until_complete(task_step())
    built = "".join(["con", "text"])          # a different, equal string object
    literal = "context"
    assert built == literal and built is not literal
    loop.call_soon(cb, **{built: ctx})
    loop.call_soon(cb, context=ctx)
    loop.run_until_complete(task_step())
    assert seen == ["in ctx", "in ctx"]
    with pytest.raises(TypeError, match="unexpected keyword argument 'contxt'"):
        loop.call_soon(cb, contxt=ctx)
    with pytest.raises(TypeError, match="unexpected keyword argument 'other'"):
        loop.call_soon(cb, context=ctx, other=1)
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        loop.call_soon(context=ctx)


def test_a_handle_someone_holds_is_never_reused(loop: aioloop.Loop) -> None:
    # The loop reuses a one-shot handle that has run for the next
    # call_soon(), but only when nothing else can see it: a handle the
    # caller kept, or one with a weak reference, stays what it was.  Each
    # run ends with the handle under test (the last to run is the one
    # the loop would keep).
    def last() -> None:
        loop.stop()

    def other() -> None:
        pass

    kept = loop.call_soon(last)
    loop.run_forever()
    fresh = loop.call_soon(other)
    assert fresh is not kept
    assert "other" not in repr(kept) and not kept.cancelled()
    kept.cancel()          # a no-op on a handle that ran; must not touch the new one
    assert not fresh.cancelled()

    weakly = weakref.ref(loop.call_soon(last))
    loop.run_forever()
    fresh = loop.call_soon(other)
    assert weakly() is None           # freed as usual, not recycled
    loop.call_soon(loop.stop)
    loop.run_forever()


def test_a_handle_kept_for_reuse_keeps_nothing_alive(loop: aioloop.Loop) -> None:
    # A handle that has run, emptied for reuse, must not hold its
    # callback, its arguments or its Context (and what the Context holds).
    class Payload:
        pass

    var: contextvars.ContextVar[Payload] = contextvars.ContextVar("var")
    payload, arg = Payload(), Payload()
    ctx = contextvars.copy_context()
    ctx.run(var.set, payload)
    refs = [weakref.ref(payload), weakref.ref(arg)]

    seen: list[bool] = []

    class Callback:
        def __call__(self, a: Payload) -> None:
            seen.append(var.get() is refs[0]() and a is refs[1]())
            loop.stop()    # so that this handle is the last to run, and kept

    callback = Callback()
    refs.append(weakref.ref(callback))
    loop.call_soon(callback, arg, context=ctx)
    del payload, arg, ctx, callback
    loop.run_forever()
    gc.collect()
    assert seen == [True]
    assert [r() for r in refs] == [None, None, None]


def test_callback_sees_its_own_context_copy(loop: aioloop.Loop) -> None:
    var: contextvars.ContextVar[int] = contextvars.ContextVar("var", default=0)
    var.set(1)
    seen: list[int] = []

    def cb() -> None:
        seen.append(var.get())
        var.set(99)  # must not leak out of the callback's context copy

    loop.call_soon(cb)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [1] and var.get() == 1


def test_call_later_fires_in_deadline_order_and_never_early(loop: aioloop.Loop) -> None:
    fired: list[tuple[str, float]] = []
    start = loop.time()
    for name, delay in (("c", 0.03), ("a", 0.01), ("b", 0.02)):
        loop.call_later(delay, lambda n=name, d=delay: fired.append((n, loop.time() - start - d)))
    loop.call_later(0.04, loop.stop)
    loop.run_forever()
    assert [n for n, _ in fired] == ["a", "b", "c"]
    assert all(late >= 0 for _, late in fired), fired


def test_timers_with_equal_deadlines_fire_in_scheduling_order(loop: aioloop.Loop) -> None:
    when = loop.time() + 0.01
    seen: list[int] = []
    for i in range(50):
        loop.call_at(when, seen.append, i)
    loop.call_at(when + 0.001, loop.stop)
    loop.run_forever()
    assert seen == list(range(50))


def test_sub_millisecond_timer_is_not_rounded_up_to_a_millisecond(loop: aioloop.Loop) -> None:
    # epoll_wait takes milliseconds; the loop uses epoll_pwait2's ns timeout.
    lateness: list[float] = []

    def tick(n: int, due: float) -> None:
        lateness.append(loop.time() - due)
        if n:
            loop.call_at(loop.time() + 0.0002, tick, n - 1, loop.time() + 0.0002)
        else:
            loop.stop()

    loop.call_later(0.0002, tick, 20, loop.time() + 0.0002)
    loop.run_forever()
    lateness.sort()
    assert min(lateness) >= 0
    # The median wake-up is well under the 1 ms a millisecond timeout gives.
    assert lateness[len(lateness) // 2] < 0.0008, lateness


def test_cancelled_timers_stop_counting_at_once_and_the_heap_is_rebuilt(loop: aioloop.Loop) -> None:
    handles = [loop.call_later(100, lambda: None) for _ in range(1000)]
    assert loop._pending_counts() == (0, 1000)
    for h in handles[::2]:
        h.cancel()
    assert loop._pending_counts() == (0, 500)
    # Cancellation is lazy (as in asyncio), but once more than half of the
    # heap is cancelled it is rebuilt without them.
    slots, cancelled = loop._timer_heap_slots()
    assert cancelled <= slots // 2 + 1 and slots <= 1000
    for h in handles[1::2]:
        h.cancel()
    assert loop._pending_counts() == (0, 0)
    assert loop._timer_heap_slots()[0] < 100


def test_timeouts_set_and_cancelled_all_day_keep_the_heap_bounded(loop: aioloop.Loop) -> None:
    # A server sets a timeout per request and cancels it when the reply is
    # sent: 100,000 of them, with 50 live at any time, must not pile up.
    live: list[asyncio.TimerHandle] = []
    peak = 0

    async def main() -> None:
        nonlocal peak
        for i in range(100_000):
            live.append(loop.call_later(60 + (i % 97), lambda: None))
            if len(live) > 50:
                live.pop(0).cancel()
            if i % 1000 == 0:
                await asyncio.sleep(0)
                peak = max(peak, loop._timer_heap_slots()[0])

    loop.run_until_complete(main())
    assert loop._pending_counts() == (0, 50)
    assert peak <= 2 * 50 + 100 + 1000, peak
    for h in live:
        h.cancel()


def test_a_cancelled_first_timer_does_not_set_the_poll_timeout(loop: aioloop.Loop) -> None:
    timeouts: list[float | None] = []

    class Recorder:
        def callback_start(self, handle: object) -> None: ...
        def callback_end(self, handle: object) -> None: ...
        def poll_start(self, timeout: float | None) -> None:
            timeouts.append(timeout)
        def poll_end(self, nevents: int) -> None: ...

    early = loop.call_later(0.005, lambda: None)
    loop.call_later(0.05, loop.stop)
    early.cancel()
    loop._set_instrument(Recorder())
    try:
        loop.run_forever()
    finally:
        loop._set_instrument(None)
    blocking = [t for t in timeouts if t]
    assert blocking and blocking[0] > 0.02, timeouts


def test_timer_handle_when_and_ordering(loop: aioloop.Loop) -> None:
    a = loop.call_at(100.0, lambda: None)
    b = loop.call_at(200.0, lambda: None)
    assert a.when() == 100.0 and a < b and b > a and a <= a and a == a and a != b
    assert hash(a) == hash(100.0)
    a.cancel()
    b.cancel()


def test_call_later_and_call_at_reject_none(loop: aioloop.Loop) -> None:
    with pytest.raises(TypeError):
        loop.call_later(None, lambda: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        loop.call_at(None, lambda: None)  # type: ignore[arg-type]


def test_nan_and_infinite_delays_behave_as_in_asyncio(loop: aioloop.Loop) -> None:
    # asyncio's "not yet due" test is false for NaN, so a NaN timer runs at
    # once; an infinite one never runs.  A NaN deadline used to stay "not
    # due" at the top of the heap: no timer ran again and the loop spun.
    fired: list[str] = []
    nan = loop.call_later(float("nan"), fired.append, "nan")
    inf = loop.call_later(float("inf"), fired.append, "inf")
    loop.call_at(-float("inf"), fired.append, "-inf")
    loop.call_later(0.01, fired.append, "later")
    loop.call_later(0.05, loop.stop)
    started = time.process_time()
    loop.run_forever()
    assert sorted(fired[:2]) == ["-inf", "nan"] and fired[2:] == ["later"]
    assert math.isnan(nan.when()) and inf.when() == float("inf")
    assert time.process_time() - started < 1.0  # waited, did not spin
    inf.cancel()


def test_closing_frees_a_task_that_waits_on_a_timer() -> None:
    # Handles are invisible to the cyclic GC, so the cycle sleep()'s frame
    # -> timer handle -> future -> task -> frame kept the task and the loop
    # alive after close(), and asyncio's "Task was destroyed but it is
    # pending!" never came.  close() now empties what it drops.
    loop = aioloop.new_event_loop()
    reports: list[str] = []
    loop.set_exception_handler(lambda _loop, ctx: reports.append(ctx["message"]))

    class Marker:
        pass

    async def sleeper() -> None:
        await asyncio.sleep(10)

    task = loop.create_task(sleeper())
    loop.run_until_complete(asyncio.sleep(0.01))
    marker = Marker()
    loop.call_soon(print, marker)  # a ready callback left at close()
    loop.close()
    refs = [weakref.ref(task), weakref.ref(marker), weakref.ref(loop)]
    del task, marker, loop
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
    assert reports == ["Task was destroyed but it is pending!"]


def test_loop_time_is_time_monotonic(loop: aioloop.Loop) -> None:
    a = time.monotonic()
    t = loop.time()
    b = time.monotonic()
    assert a <= t <= b


def test_call_soon_threadsafe_wakes_a_sleeping_loop(loop: aioloop.Loop) -> None:
    # The loop blocks in the poller with nothing scheduled; only the
    # wake-up fd can end the wait.
    result: list[str] = []

    def from_thread() -> None:
        time.sleep(0.05)
        loop.call_soon_threadsafe(result.append, "woken")
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=from_thread)
    t.start()
    start = time.monotonic()
    loop.run_forever()
    t.join()
    assert result == ["woken"]
    assert time.monotonic() - start < 5


def test_closed_loop_refuses_new_callbacks(loop: aioloop.Loop) -> None:
    loop.close()
    for call in (lambda: loop.call_soon(print), lambda: loop.call_soon_threadsafe(print),
                 lambda: loop.call_later(1, print), lambda: loop.call_at(1, print),
                 lambda: loop.run_forever(), lambda: loop.add_reader(0, print)):
        with pytest.raises(RuntimeError, match="closed"):
            call()
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="closed"):
        loop.create_task(coro)
    coro.close()
    assert loop.remove_reader(0) is False
    loop.close()  # a second close is a no-op


def test_closing_drops_pending_callbacks_and_timers(loop: aioloop.Loop) -> None:
    loop.call_soon(lambda: None)
    loop.call_later(10, lambda: None)
    assert loop._pending_counts() == (1, 1)
    loop.close()
    assert loop._pending_counts() == (0, 0)


def test_run_until_complete_result_and_errors(loop: aioloop.Loop) -> None:
    assert loop.run_until_complete(asyncio.sleep(0, "done")) == "done"
    fut = loop.create_future()
    loop.call_soon(loop.stop)
    with pytest.raises(RuntimeError, match="stopped before Future completed"):
        loop.run_until_complete(fut)
    fut.cancel()


def test_nested_run_raises(loop: aioloop.Loop) -> None:
    async def nested() -> None:
        with pytest.raises(RuntimeError, match="already running"):
            loop.run_forever()
        coro = asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already running"):
            loop.run_until_complete(coro)
        coro.close()

    loop.run_until_complete(nested())


def test_other_loop_cannot_run_inside_a_running_loop(loop: aioloop.Loop) -> None:
    async def main() -> None:
        other = aioloop.new_event_loop()
        try:
            with pytest.raises(RuntimeError, match="another loop is running"):
                other.run_forever()
        finally:
            other.close()

    loop.run_until_complete(main())


def test_close_while_running_raises(loop: aioloop.Loop) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="running event loop"):
            loop.close()

    loop.run_until_complete(main())


def test_get_running_loop_inside_and_outside(loop: aioloop.Loop) -> None:
    async def main() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    assert loop.run_until_complete(main()) is loop
    assert not loop.is_running()
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_keyboard_interrupt_in_callback_escapes_and_loop_stays_usable(loop: aioloop.Loop) -> None:
    def boom() -> None:
        raise KeyboardInterrupt

    loop.call_soon(boom)
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    assert not loop.is_running()
    assert loop.run_until_complete(asyncio.sleep(0, 5)) == 5


def test_busy_ready_queue_does_not_starve_io(loop: aioloop.Loop) -> None:
    # A callback chain that never empties the ready queue must still let a
    # readable fd's callback run promptly (the fairness poll).
    import socket

    r, w = socket.socketpair()
    try:
        got: list[float] = []
        chain_runs = 0

        def chain() -> None:
            nonlocal chain_runs
            chain_runs += 1
            if not got:
                loop.call_soon(chain)

        def on_readable() -> None:
            r.recv(10)
            got.append(time.monotonic())
            loop.remove_reader(r)
            loop.stop()

        loop.add_reader(r, on_readable)
        loop.call_soon(chain)
        loop.call_later(0.01, w.send, b"x")
        loop.run_forever()
        assert got and chain_runs > 10
    finally:
        r.close()
        w.close()


def test_timer_heap_order_under_random_schedule_and_cancel(loop: aioloop.Loop) -> None:
    # Property check of the indexed 4-ary heap: whatever mix of deadlines
    # and cancellations, the survivors fire sorted by (deadline, schedule
    # order) and the cancelled never fire.
    import random

    rng = random.Random(1234)
    base = loop.time() + 0.01
    fired: list[int] = []
    handles = []
    expected = []
    for i in range(3000):
        when = base + rng.choice([0.0, 0.001, 0.002]) + rng.random() * 0.01
        h = loop.call_at(when, fired.append, i)
        handles.append((when, i, h))
    for when, i, h in handles:
        if rng.random() < 0.4:
            h.cancel()
        else:
            expected.append((when, i))
    # Cancel some more while the loop runs, from inside a callback.
    late_cancel = [h for _, _, h in handles[::7] if not h.cancelled()]

    def cancel_some() -> None:
        for h in late_cancel:
            h.cancel()

    loop.call_at(base - 0.005, cancel_some)
    cancelled_late = {id(h) for h in late_cancel}
    expected = [(w, i) for w, i in expected if id(handles[i][2]) not in cancelled_late]
    loop.call_at(base + 0.05, loop.stop)
    loop.run_forever()
    assert fired == [i for _, i in sorted(expected)]
    assert loop._pending_counts() == (0, 0)


def test_call_soon_and_get_debug_can_be_patched_on_a_loop_while_it_runs(loop: aioloop.Loop) -> None:
    # asyncio's C Task and Future find call_soon and get_debug on the loop
    # by name; aioloop answers those lookups from the bound methods it keeps
    # while running.  An instance attribute must still win, as it does for
    # asyncio's own loop (unittest.mock.patch.object, test doubles).
    loop.set_debug(False)    # the real get_debug() answers False below (PYTHONASYNCIODEBUG)
    steps: list[object] = []
    real_call_soon = loop.call_soon

    def counting_call_soon(callback, *args, context=None):  # type: ignore[no-untyped-def]
        steps.append(callback)
        return real_call_soon(callback, *args, context=context)

    async def sleeper() -> str:
        await asyncio.sleep(0)
        return "done"

    async def main() -> tuple[str, bool, bool]:
        with mock.patch.object(loop, "call_soon", counting_call_soon):
            result = await asyncio.create_task(sleeper())   # steps go through the patch
        patched_debug = mock.Mock(return_value=True)
        loop.get_debug = patched_debug  # type: ignore[method-assign]
        loop.create_future()             # a C Future asks get_debug at birth
        debug_seen = patched_debug.called
        del loop.get_debug
        return result, debug_seen, loop.get_debug()

    result, debug_seen, debug_after = loop.run_until_complete(main())
    assert result == "done"
    assert len(steps) >= 2          # the task's first step and its wake-up after sleep(0)
    assert debug_seen and debug_after is False
    assert "call_soon" not in vars(loop) and "get_debug" not in vars(loop)
    # Restored: the loop's own methods again, running or not.
    assert loop.call_soon.__name__ == "call_soon"
    assert loop.run_until_complete(sleeper()) == "done"
    with pytest.raises(AttributeError):
        del loop.call_soon
    assert type(loop).call_soon(loop, steps.clear) is not None   # the class attribute is the method


def test_a_finished_run_leaves_no_reference_cycle_through_the_loop() -> None:
    # While it runs, the loop keeps bound methods of itself; they must go
    # when the run ends, or an unclosed loop would live until the cyclic GC.
    lp = aioloop.new_event_loop()
    lp.run_until_complete(asyncio.sleep(0))
    lp.close()
    ref = weakref.ref(lp)
    gc.disable()
    try:
        del lp
        assert ref() is None
    finally:
        gc.enable()
