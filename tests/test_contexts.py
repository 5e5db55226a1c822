"""contextvars semantics of callbacks scheduled without context=.

asyncio gives each such callback its own copy of the current context.
aioloop shares one Context between handles scheduled while the variables
are unchanged and resets it around each run (src/aioloop/_core/ctxshare.h);
these tests pin down that nothing of that is visible.
"""

from __future__ import annotations

import contextvars
import os
import socket
import threading

import aioloop

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
other: contextvars.ContextVar[int] = contextvars.ContextVar("other", default=0)


def _run_scheduled(loop: aioloop.Loop) -> None:
    loop.call_soon(loop.stop)
    loop.run_forever()


def test_a_variable_set_by_one_callback_is_not_seen_by_the_next(loop: aioloop.Loop) -> None:
    seen: list[tuple[str, int]] = []

    def setter(n: int) -> None:
        seen.append((var.get(), other.get()))
        var.set(f"set by {n}")
        other.set(n)
        seen.append((var.get(), other.get()))

    for n in range(1, 4):
        loop.call_soon(setter, n)
    _run_scheduled(loop)
    assert seen == [
        ("unset", 0), ("set by 1", 1),
        ("unset", 0), ("set by 2", 2),
        ("unset", 0), ("set by 3", 3),
    ]
    assert var.get() == "unset"


def test_each_callback_sees_the_variables_as_they_were_when_scheduled(loop: aioloop.Loop) -> None:
    seen: list[str] = []
    token = var.set("first")
    try:
        loop.call_soon(lambda: seen.append(var.get()))
        loop.call_soon(lambda: seen.append(var.get()))
        var.set("second")
        loop.call_soon(lambda: seen.append(var.get()))
        loop.call_later(0.001, lambda: seen.append(var.get()))
    finally:
        var.reset(token)
    loop.call_soon(lambda: seen.append(var.get()))
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert seen == ["first", "first", "second", "unset", "second"]


def test_a_callback_that_raises_after_setting_does_not_leak_its_value(loop: aioloop.Loop) -> None:
    seen: list[str] = []
    errors: list[BaseException] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx["exception"]))

    def bad() -> None:
        var.set("leaked?")
        raise ValueError("boom")

    loop.call_soon(bad)
    loop.call_soon(lambda: seen.append(var.get()))
    _run_scheduled(loop)
    assert seen == ["unset"]
    assert [type(e) for e in errors] == [ValueError]


def test_scheduling_from_a_callback_captures_what_that_callback_set(loop: aioloop.Loop) -> None:
    seen: list[str] = []

    def parent() -> None:
        loop.call_soon(lambda: seen.append(var.get()))   # before the set
        var.set("parent's")
        loop.call_soon(lambda: seen.append(var.get()))   # after it

    loop.call_soon(parent)
    loop.call_soon(lambda: seen.append(var.get()))       # a sibling: unaffected
    loop.call_later(0.001, loop.stop)
    loop.run_forever()
    assert seen == ["unset", "unset", "parent's"]


def test_get_context_is_the_context_the_callback_runs_in(loop: aioloop.Loop) -> None:
    var.set("scheduled")
    try:
        handles = [loop.call_soon(var.set, f"ran {i}") for i in range(3)]
        contexts = [h.get_context() for h in handles]
    finally:
        var.set("unset")
    assert len({id(c) for c in contexts}) == 3          # one each, as in asyncio
    assert all(h.get_context() is c for h, c in zip(handles, contexts, strict=True))
    assert handles[0]._context is contexts[0]
    assert [c[var] for c in contexts] == ["scheduled"] * 3
    _run_scheduled(loop)
    # Each ran in its own context object: each holds what its callback set.
    assert [c[var] for c in contexts] == ["ran 0", "ran 1", "ran 2"]


def test_running_another_handle_from_inside_a_callback(loop: aioloop.Loop) -> None:
    # Handle._run() of a handle scheduled in the same context, from inside a
    # callback: the context object cannot be entered twice, so the inner run
    # must get its own (asyncio's handles never share one).
    seen: list[str] = []
    inner = loop.call_later(3600, lambda: seen.append("inner " + var.get()))

    def outer() -> None:
        var.set("outer's")
        inner._run()
        seen.append("outer " + var.get())

    loop.call_soon(outer)
    _run_scheduled(loop)
    inner.cancel()
    assert seen == ["inner unset", "outer outer's"]


def test_a_reader_keeps_one_context_across_its_runs(loop: aioloop.Loop) -> None:
    # add_reader's callback runs in the same Context every time (asyncio
    # creates its Handle once), so what it sets persists between runs.
    r, w = socket.socketpair()
    seen: list[int] = []
    try:
        def on_readable() -> None:
            r.recv(1)
            seen.append(other.get())
            other.set(other.get() + 1)
            if len(seen) == 3:
                loop.stop()
            else:
                w.send(b"x")

        loop.add_reader(r.fileno(), on_readable)
        w.send(b"x")
        loop.run_forever()
        loop.remove_reader(r.fileno())
    finally:
        r.close()
        w.close()
    assert seen == [0, 1, 2]


def test_call_soon_threadsafe_captures_the_calling_threads_context(loop: aioloop.Loop) -> None:
    seen: list[str] = []
    loop.call_soon(lambda: seen.append(var.get()))

    def other_thread() -> None:
        var.set("from thread")
        loop.call_soon_threadsafe(lambda: seen.append(var.get()))

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    loop.call_soon(lambda: seen.append(var.get()))
    _run_scheduled(loop)
    assert seen == ["unset", "from thread", "unset"]


def test_many_callbacks_each_isolated(loop: aioloop.Loop) -> None:
    # A burst like the benchmarks': every callback sets, none sees another's.
    bad: list[int] = []

    def cb(i: int) -> None:
        if other.get() != 0:
            bad.append(i)
        other.set(i + 1)

    for i in range(10_000):
        loop.call_soon(cb, i)
    _run_scheduled(loop)
    assert bad == []


def test_sharing_is_on_for_this_interpreter() -> None:
    # The layout check in ctxshare.h passes on 3.11-3.13; if it ever fails,
    # every handle silently falls back to a private copy, which is correct
    # but slow: this test says so instead.
    from aioloop._core import handles

    assert handles._context_sharing() is True, os.environ.get("PYTHON_VERSION", "")


def test_the_exception_handler_sees_the_context_the_callback_left(loop: aioloop.Loop) -> None:
    # asyncio 3.12+ runs the handler in the failed handle's context
    # (gh-96704); sharing must not reset it before the handler runs.
    import sys

    seen: list[str] = []
    loop.set_exception_handler(lambda _loop, ctx: seen.append(var.get()))

    def callback() -> None:
        var.set("bar")
        raise ZeroDivisionError

    loop.call_soon(callback)
    loop.call_soon(lambda: seen.append("next " + var.get()))
    _run_scheduled(loop)
    handler_sees = "bar" if sys.version_info >= (3, 12) else "unset"
    assert seen == [handler_sees, "next unset"]


def test_loops_in_two_threads_keep_their_callbacks_isolated() -> None:
    # Each loop shares contexts only among its own handles; two loops busy
    # in two threads at once must not see each other's variables or fail
    # to enter a context.
    results: dict[str, list[str]] = {}

    def run(name: str) -> None:
        lp = aioloop.new_event_loop()
        bad: list[str] = []
        errors: list[object] = []
        lp.set_exception_handler(lambda _l, ctx: errors.append(ctx))

        def cb(i: int) -> None:
            if var.get() != "unset":
                bad.append(var.get())
            var.set(f"{name} {i}")
            sum(range(50))   # give the other thread a chance to switch in

        try:
            for i in range(5000):
                lp.call_soon(cb, i)
            lp.call_soon(lp.stop)
            lp.run_forever()
        finally:
            lp.close()
        results[name] = bad + [repr(e) for e in errors]

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {"a": [], "b": []}
