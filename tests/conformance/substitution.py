"""Put the loop under test wherever CPython's asyncio tests make a loop.

Three mechanisms, each for one way the tests obtain a loop:

* ``asyncio.new_event_loop()``, ``asyncio.run()``, ``asyncio.Runner`` and
  ``IsolatedAsyncioTestCase`` all go through the event loop policy.  When no
  policy is set, ``asyncio.events._init_event_loop_policy()`` runs
  ``from . import DefaultEventLoopPolicy`` *at call time* (3.11, 3.12 and
  3.13 alike), so replacing the package attribute makes every later default
  policy ours - including after a test module's ``tearDownModule`` resets the
  policy with ``set_event_loop_policy(None)``.
* Classes that pin a loop class (``asyncio.SelectorEventLoop(...)``, a mocked
  ``BaseEventLoop``, ``TestLoop``) get a generated twin in ``variants.py``
  whose hook calls :func:`make_loop`.
* ``test.test_asyncio.utils.TestCase.close_loop`` reads the private
  ``loop._default_executor``; it is wrapped so that loops without that
  attribute are closed through the public API only.

Every loop made by the first two mechanisms is counted, per test, and so is
every ``BaseEventLoop`` made any other way; the worker records both, so a test
that silently ran on asyncio's loop instead of the one under test shows up.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from asyncio import base_events
from typing import Any

from .loops import LoopSpec

__all__ = ["install", "make_loop", "spec", "take_loop_counts"]

_spec: LoopSpec | None = None
_counts: collections.Counter[str] = collections.Counter()
_lock = threading.Lock()
# Set while the loop under test is being constructed, so that asyncio's own
# constructor (when asyncio *is* the loop under test) is not also counted as
# a stock loop.
_constructing = threading.local()


def spec() -> LoopSpec:
    """The installed spec; raises RuntimeError before :func:`install`."""
    if _spec is None:
        raise RuntimeError("substitution.install() has not run")
    return _spec


def _record(key: str) -> None:
    with _lock:
        _counts[key] += 1


def take_loop_counts() -> dict[str, int]:
    """Return and reset the loops created since the last call.

    Keys are ``"under_test"`` and ``"stock:<class name>"``.
    """
    with _lock:
        out = dict(_counts)
        _counts.clear()
    return out


def make_loop() -> asyncio.AbstractEventLoop:
    """Create one loop under test (used by the generated test classes)."""
    return _construct(spec().new_loop)


def _construct(factory: Any) -> asyncio.AbstractEventLoop:
    _constructing.active = getattr(_constructing, "active", 0) + 1
    try:
        loop = factory()
    finally:
        _constructing.active -= 1
    _record("under_test")
    return loop


def _make_policy_class(base: type[asyncio.AbstractEventLoopPolicy]) -> type:
    # A subclass rather than a wrapper: tests subclass DefaultEventLoopPolicy
    # themselves (test_events.TestPyGetEventLoop) and check isinstance.
    class ConformancePolicy(base):  # type: ignore[valid-type, misc]
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            return _construct(super().new_event_loop)

    ConformancePolicy.__name__ = ConformancePolicy.__qualname__ = f"{base.__name__}UnderTest"
    ConformancePolicy.__module__ = base.__module__
    return ConformancePolicy


def _hook_base_event_loop_init() -> None:
    original = base_events.BaseEventLoop.__init__

    def __init__(self: base_events.BaseEventLoop, *args: Any, **kw: Any) -> None:
        if not getattr(_constructing, "active", 0):
            _record(f"stock:{type(self).__name__}")
        original(self, *args, **kw)

    base_events.BaseEventLoop.__init__ = __init__  # type: ignore[method-assign, assignment]


def _patch_close_loop() -> None:
    from test.test_asyncio import utils as test_utils

    original = test_utils.TestCase.close_loop

    def close_loop(loop: asyncio.AbstractEventLoop) -> None:
        if hasattr(loop, "_default_executor"):
            # BaseEventLoop, and loops that keep its attribute (aioloop does).
            original(loop)
            return
        # Same effect as the original, through public methods only.  The
        # original schedules nothing when no executor was ever made; here
        # that is unknowable, so shutdown_default_executor() always runs,
        # except on a loop whose scheduling a test has monkeypatched
        # (test_tasks.test_error_in_call_soon leaves loop.call_soon raising).
        patched = {"call_soon", "create_task"} & set(getattr(loop, "__dict__", ()))
        if not loop.is_closed() and not patched:
            loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()

    test_utils.TestCase.close_loop = staticmethod(close_loop)  # type: ignore[assignment]


def install(loop_spec: LoopSpec) -> None:
    """Make *loop_spec*'s loop the default everywhere; call once per process."""
    global _spec
    if _spec is not None:
        raise RuntimeError("substitution.install() called twice")
    _spec = loop_spec
    asyncio.DefaultEventLoopPolicy = _make_policy_class(loop_spec.policy_class)  # type: ignore[misc, assignment]
    asyncio.set_event_loop_policy(None)
    _hook_base_event_loop_init()
    _patch_close_loop()
