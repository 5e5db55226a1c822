"""Generated twins of CPython test classes that pin asyncio's own loop.

Some test classes build their loop themselves instead of asking the policy:
``asyncio.SelectorEventLoop(selectors.EpollSelector())`` in test_events, a
``BaseEventLoop`` with a mocked selector in test_runners and test_pep492,
``test_utils.TestLoop`` (virtual time) in test_tasks and test_futures.  For
each, this module defines a twin class, named ``Conformance<Name>``, built
from the same mixins with the loop hook replaced by
:func:`substitution.make_loop`.  The stock class is then classified
``internal`` (it tests asyncio's loop) and the twin carries the loop-generic
classification.

Twins are injected into the imported test module before the loader runs, with
``__module__`` set to that module, so that their test ids read like CPython's.
"""

from __future__ import annotations

import types
import unittest
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import substitution

__all__ = ["EXCLUDED_PREFIX", "VARIANTS", "Excluded", "Variant", "inject"]

EXCLUDED_PREFIX = "[conformance-excluded] "


class Excluded(unittest.SkipTest):
    """Raised inside a test that cannot run on the loop under test.

    The worker records it as status ``excluded`` (not ``skip``), with the
    reason, so that the count of tests not exercised is explicit.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(EXCLUDED_PREFIX + reason)


VIRTUAL_TIME_REASON = (
    "needs TestLoop virtual time: calls new_test_loop(gen) whose generator "
    "asserts each timeout asyncio's BaseEventLoop._run_once computes"
)


# -- hooks: each returns the attributes that override the stock loop hook --


def _hook_create_event_loop(_: type) -> dict[str, Any]:
    def create_event_loop(self: Any) -> Any:
        return substitution.make_loop()

    return {"create_event_loop": create_event_loop}


def _hook_new_loop(_: type) -> dict[str, Any]:
    def new_loop(self: Any) -> Any:
        return substitution.make_loop()

    return {"new_loop": new_loop}


def _hook_new_test_loop(_: type) -> dict[str, Any]:
    def new_test_loop(self: Any, gen: Any = None) -> Any:
        if gen is not None:
            raise Excluded(VIRTUAL_TIME_REASON)
        loop = substitution.make_loop()
        self.set_event_loop(loop)
        return loop

    return {"new_test_loop": new_test_loop}


def _hook_gather(generated_base: type) -> dict[str, Any]:
    # GatherTestsBase._run_loop spins "while loop._ready", asyncio's private
    # ready queue.  Spinning a fixed number of iterations is the public
    # equivalent for these tests: each step they check needs at most a few
    # callbacks to run in sequence.
    def _run_loop(self: Any, loop: Any) -> None:
        from test.test_asyncio import utils as test_utils

        for _ in range(10):
            test_utils.run_briefly(loop)

    return {**_hook_new_test_loop(generated_base), "_run_loop": _run_loop}


def _hook_setup_loop(skip_setup_of: type | None) -> Callable[[type], dict[str, Any]]:
    """setUp that makes ``self.loop`` from the loop under test.

    *skip_setup_of*: a base whose own setUp builds asyncio's loop and must not
    run (test_pep492.BaseTest builds a mocked BaseEventLoop).
    """

    def hook(generated_base: type) -> dict[str, Any]:
        after: type = skip_setup_of if skip_setup_of is not None else generated_base

        def setUp(self: Any) -> None:
            super(after, self).setUp()  # type: ignore[arg-type]  # mypy: self is Any
            self.loop = substitution.make_loop()
            self.set_event_loop(self.loop)

        return {"setUp": setUp}

    return hook


def _hook_runner_loop(_: type) -> dict[str, Any]:
    # test_runners.BaseTest.tearDown asserts that asyncio.run() closed the
    # loop and ran shutdown_asyncgens(); its stock new_loop() records that by
    # assigning attributes on a mocked BaseEventLoop.  A subclass records the
    # same facts without assuming the loop instance accepts new attributes.
    def new_loop(self: Any) -> Any:
        base = substitution.spec().loop_class
        tracked = _tracked_loop_classes.get(base)
        if tracked is None:
            tracked = _make_tracked_loop_class(base)
            _tracked_loop_classes[base] = tracked
        return substitution._construct(tracked)

    return {"new_loop": new_loop}


_tracked_loop_classes: dict[type, type] = {}


def _make_tracked_loop_class(base: type) -> type:
    class TrackedLoop(base):  # type: ignore[valid-type, misc]
        shutdown_ag_run = False

        async def shutdown_asyncgens(self) -> None:
            await super().shutdown_asyncgens()
            self.shutdown_ag_run = True

    TrackedLoop.__qualname__ = TrackedLoop.__name__ = f"Tracked{base.__name__}"
    return TrackedLoop


@dataclass(frozen=True)
class Variant:
    """One generated class, or one per stock subclass of a mixin.

    ``bases`` are names resolved in the test module's namespace (dotted names
    allowed).  With ``for_each_subclass_of`` set, a twin is generated for
    every concrete TestCase in the module that derives from that mixin, with
    the stock class itself as the only base, named ``Conformance<Stock>``.
    """

    module: str
    name: str
    bases: tuple[str, ...]
    hook: str
    for_each_subclass_of: str | None = None
    skip_setup_of: str | None = None
    why: str = ""


VARIANTS: tuple[Variant, ...] = (
    Variant(
        "test_events",
        "ConformanceEventLoopTests",
        ("EventLoopTestsMixin", "SubprocessTestsMixin", "test_utils.TestCase"),
        "create_event_loop",
        why=(
            "stock EPoll/Poll/SelectEventLoopTests pin asyncio.SelectorEventLoop "
            "and attach an asyncio SafeChildWatcher (UnixEventLoopTestsMixin); "
            "the twin uses the mixins without asyncio's child-watcher setup"
        ),
    ),
    Variant(
        "test_sock_lowlevel",
        "ConformanceSockTests",
        ("BaseSockTestsMixin", "test_utils.TestCase"),
        "create_event_loop",
        why="stock classes pin asyncio.SelectorEventLoop with a given selector",
    ),
    Variant(
        "test_sendfile",
        "ConformanceSendfileTests",
        ("SendfileTestsBase", "test_utils.TestCase"),
        "create_event_loop",
        why="stock classes pin asyncio.SelectorEventLoop with a given selector",
    ),
    Variant(
        "test_buffered_proto",
        "ConformanceBufferedProtocolTests",
        ("BaseTestBufferedProtocol", "unittest.TestCase"),
        "new_loop",
        why="stock class pins asyncio.SelectorEventLoop",
    ),
    Variant(
        "test_server",
        "ConformanceStartServerTests",
        ("BaseStartServer", "unittest.TestCase"),
        "new_loop",
        why="stock class pins asyncio.SelectorEventLoop",
    ),
    Variant(
        "test_sslproto",
        "ConformanceStartTLSTests",
        ("BaseStartTLS", "unittest.TestCase"),
        "new_loop",
        why="stock class pins asyncio.SelectorEventLoop",
    ),
    Variant(
        "test_subprocess",
        "ConformanceSubprocessTests",
        ("SubprocessMixin", "test_utils.TestCase"),
        "setup_loop",
        why=(
            "stock classes pair asyncio's loop with each of asyncio's child "
            "watchers; the twin leaves child handling to the loop under test"
        ),
    ),
    Variant(
        "test_runners",
        "",
        (),
        "runner_loop",
        for_each_subclass_of="BaseTest",
        why="stock BaseTest runs asyncio.run() on a BaseEventLoop with a mocked selector",
    ),
    Variant(
        "test_pep492",
        "",
        (),
        "setup_loop",
        for_each_subclass_of="BaseTest",
        skip_setup_of="BaseTest",
        why="stock BaseTest uses a BaseEventLoop with a mocked selector",
    ),
    Variant(
        "test_tasks",
        "",
        (),
        "new_test_loop",
        for_each_subclass_of="BaseTaskTests",
        why="stock classes run on test_utils.TestLoop (virtual time)",
    ),
    Variant(
        "test_tasks",
        "",
        (),
        "gather",
        for_each_subclass_of="GatherTestsBase",
        why=(
            "stock classes run on test_utils.TestLoop (virtual time); the twin "
            "also replaces _run_loop, which reads the private loop._ready"
        ),
    ),
    Variant(
        "test_futures",
        "",
        (),
        "new_test_loop",
        for_each_subclass_of="test_utils.TestCase",
        why="stock classes run on test_utils.TestLoop (virtual time)",
    ),
)


def _resolve(module: types.ModuleType, dotted: str) -> Any:
    obj: Any = module
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _hook_attrs(variant: Variant, module: types.ModuleType, generated_base: type) -> dict[str, Any]:
    if variant.hook == "create_event_loop":
        return _hook_create_event_loop(generated_base)
    if variant.hook == "new_loop":
        return _hook_new_loop(generated_base)
    if variant.hook == "new_test_loop":
        return _hook_new_test_loop(generated_base)
    if variant.hook == "gather":
        return _hook_gather(generated_base)
    if variant.hook == "runner_loop":
        return _hook_runner_loop(generated_base)
    if variant.hook == "setup_loop":
        skip = _resolve(module, variant.skip_setup_of) if variant.skip_setup_of else None
        return _hook_setup_loop(skip)(generated_base)
    raise ValueError(f"unknown hook {variant.hook!r}")


def _make_class(
    module: types.ModuleType, name: str, bases: tuple[type, ...], variant: Variant
) -> type:
    # The hook closes over the generated class for super(); create the class
    # first, then attach the hook's methods.
    cls = type(name, bases, {"__module__": module.__name__, "__qualname__": name})
    for attr, value in _hook_attrs(variant, module, cls).items():
        value.__qualname__ = f"{name}.{attr}"
        setattr(cls, attr, value)
    return cls


def _stock_subclasses(module: types.ModuleType, mixin: type) -> list[type]:
    out = []
    for attr, obj in sorted(vars(module).items()):
        if (
            isinstance(obj, type)
            and issubclass(obj, mixin)
            and issubclass(obj, unittest.TestCase)
            and obj is not mixin
            and obj.__module__ == module.__name__
            and not attr.startswith("Conformance")
        ):
            out.append(obj)
    return out


def inject(module: types.ModuleType, short_name: str) -> list[str]:
    """Add this module's twins to *module*; return notes on what was made."""
    notes: list[str] = []
    for variant in VARIANTS:
        if variant.module != short_name:
            continue
        if variant.for_each_subclass_of:
            try:
                mixin = _resolve(module, variant.for_each_subclass_of)
            except AttributeError:
                notes.append(f"no {variant.for_each_subclass_of}: no twins generated")
                continue
            for stock in _stock_subclasses(module, mixin):
                name = "Conformance" + stock.__name__
                setattr(module, name, _make_class(module, name, (stock,), variant))
                notes.append(f"{name} <- {stock.__name__}")
            continue
        try:
            bases = tuple(_resolve(module, b) for b in variant.bases)
        except AttributeError as exc:
            notes.append(f"{variant.name} not generated: {exc}")
            continue
        setattr(module, variant.name, _make_class(module, variant.name, bases, variant))
        notes.append(f"{variant.name} <- {', '.join(variant.bases)}")
    return notes
