"""The event loops under comparison: how to create each one and describe it."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["LOOP_NAMES", "describe", "loop_factory"]

# Order matters: it is the column/row order of every report.
LOOP_NAMES: tuple[str, ...] = ("aioloop", "asyncio", "uvloop", "rloop")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """Return a zero-argument callable creating a new loop of kind ``name``.

    Raises ValueError for an unknown name and ImportError (or whatever the
    module raises on import) when the loop's package cannot be imported.
    """
    if name == "asyncio":
        # The default loop of the platform: the selector loop on Linux.
        return asyncio.new_event_loop
    if name not in LOOP_NAMES:
        raise ValueError(f"unknown loop {name!r}; choose from {', '.join(LOOP_NAMES)}")
    module = importlib.import_module(name)
    factory: Callable[[], asyncio.AbstractEventLoop] = module.new_event_loop
    return factory


def describe(name: str, loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    """Say which version and which file a loop came from.

    The file matters for aioloop: a pure-Python twin and a compiled module
    have very different speeds, and the report should show which one ran.
    """
    cls = type(loop)
    impl = sys.modules.get(cls.__module__)
    if name == "asyncio":
        version = sys.version.split()[0]
    else:
        version = str(getattr(sys.modules[name], "__version__", "?"))
    files = [
        str(getattr(sys.modules.get(c.__module__), "__file__", None) or "") for c in cls.__mro__
    ]
    return {
        "version": version,
        "loop_class": f"{cls.__module__}.{cls.__qualname__}",
        "file": str(getattr(impl, "__file__", None) or "?"),
        # True when some class in the loop's MRO lives in an extension module.
        "compiled": any(f.endswith((".so", ".pyd")) for f in files),
    }
