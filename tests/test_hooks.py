"""The hooks the x-ray builds on: the callback stamp and the instrument."""

from __future__ import annotations

import threading
import time
from typing import Any

import aioloop


def test_stamp_seq_counts_callbacks_and_shows_polling(loop: aioloop.Loop) -> None:
    seq0 = loop._stamp_values()[0]
    for _ in range(10):
        loop.call_soon(lambda: None)
    loop.call_soon(loop.stop)
    loop.run_forever()
    seq1, iteration_ns, _, polling = loop._stamp_values()
    assert seq1 - seq0 == 11
    assert iteration_ns > 0 and polling == 0


def test_watchdog_thread_sees_a_blocked_loop(loop: aioloop.Loop) -> None:
    # What the x-ray will do: sample the stamp from another thread; a seq
    # that does not move while the loop is not polling means one callback
    # is blocking, and _current_handle names it.
    samples: list[tuple[int, int, str]] = []
    done = threading.Event()

    def watchdog() -> None:
        while not done.is_set():
            seq, _, _, polling = loop._stamp_values()
            samples.append((seq, polling, repr(loop._current_handle)))
            time.sleep(0.005)

    def blocker() -> None:
        time.sleep(0.1)

    t = threading.Thread(target=watchdog)
    t.start()
    try:
        loop.call_later(0.02, blocker)
        loop.call_later(0.15, loop.stop)
        loop.run_forever()
    finally:
        done.set()
        t.join()
    blocked = [s for s in samples if s[1] == 0 and "blocker" in s[2]]
    assert len(blocked) >= 5  # ~100 ms of 5 ms samples, all on one seq
    assert len({s[0] for s in blocked}) == 1
    assert any(s[1] == 1 for s in samples)  # idle waits show as polling


def test_instrument_sees_every_callback_and_poll(loop: aioloop.Loop) -> None:
    events: list[tuple[str, Any]] = []

    class Recorder:
        def callback_start(self, handle: Any) -> None:
            events.append(("start", handle))

        def callback_end(self, handle: Any) -> None:
            events.append(("end", handle))

        def poll_start(self, timeout: float | None) -> None:
            events.append(("poll", timeout))

        def poll_end(self, nevents: int) -> None:
            events.append(("polled", nevents))

    loop._set_instrument(Recorder())
    h = loop.call_later(0.01, lambda: None)
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    loop._set_instrument(None)
    starts = [e[1] for e in events if e[0] == "start"]
    ends = [e[1] for e in events if e[0] == "end"]
    assert h in starts and starts == ends
    polls = [e[1] for e in events if e[0] == "poll"]
    assert any(t is not None and t > 0 for t in polls)  # a blocking wait for the timer
    n = len(events)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert len(events) == n  # removed: nothing more recorded


def test_exception_in_callback_still_ends_the_instrumented_callback(loop: aioloop.Loop) -> None:
    ends: list[Any] = []

    class Recorder:
        def callback_start(self, handle: Any) -> None:
            pass

        def callback_end(self, handle: Any) -> None:
            ends.append(handle)

        def poll_start(self, timeout: float | None) -> None:
            pass

        def poll_end(self, nevents: int) -> None:
            pass

    loop.set_exception_handler(lambda lp, ctx: None)
    loop._set_instrument(Recorder())

    def bad() -> None:
        raise ValueError

    h = loop.call_soon(bad)
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop._set_instrument(None)
    assert h in ends
