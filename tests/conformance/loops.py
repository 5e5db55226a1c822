"""The loops the harness can substitute for asyncio's, by name.

A spec names three things: the policy class that replaces
``asyncio.DefaultEventLoopPolicy``, a factory for one loop, and the class a
test may subclass when it needs to hook a method (test_runners does).
Everything is imported lazily, inside the worker process, so that the parent
process never imports the loop under test.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LOOP_NAMES", "LoopSpec", "get_spec"]


@dataclass(frozen=True)
class LoopSpec:
    """How to obtain one loop implementation."""

    name: str
    policy_class: type[asyncio.AbstractEventLoopPolicy]
    new_loop: Callable[[], asyncio.AbstractEventLoop]
    loop_class: type[asyncio.AbstractEventLoop]
    # True only for asyncio itself: its loops are BaseEventLoop instances, so
    # "a stock loop was created" is not a substitution leak.
    is_stock: bool = False


def _asyncio_spec() -> LoopSpec:
    # What DefaultEventLoopPolicy was before any substitution: captured here,
    # at import of this module, before substitution.install() runs.
    return LoopSpec(
        name="asyncio",
        policy_class=_STOCK_POLICY,
        new_loop=lambda: _STOCK_POLICY().new_event_loop(),
        loop_class=asyncio.SelectorEventLoop,
        is_stock=True,
    )


def _module_spec(name: str, module: str, loop_class_attr: str) -> LoopSpec:
    mod = importlib.import_module(module)
    return LoopSpec(
        name=name,
        policy_class=mod.EventLoopPolicy,
        new_loop=mod.new_event_loop,
        loop_class=getattr(mod, loop_class_attr),
    )


_STOCK_POLICY: type[asyncio.AbstractEventLoopPolicy] = asyncio.DefaultEventLoopPolicy

# aioloop is the loop this repository builds.  uvloop and rloop are peers;
# running them is a cheap way to check that the harness makes no assumption
# that only asyncio's own loop satisfies.
_SPECS: dict[str, Callable[[], LoopSpec]] = {
    "asyncio": _asyncio_spec,
    "aioloop": lambda: _module_spec("aioloop", "aioloop", "Loop"),
    "uvloop": lambda: _module_spec("uvloop", "uvloop", "Loop"),
    "rloop": lambda: _module_spec("rloop", "rloop", "RLoop"),
}

LOOP_NAMES: tuple[str, ...] = tuple(_SPECS)


def get_spec(name: str) -> LoopSpec:
    """Return the spec for loop *name*; raises KeyError or ImportError."""
    return _SPECS[name]()
