"""Debug-mode checks and reports, kept out of the compiled hot path.

They only run when the loop's debug flag is on, and log through
``asyncio.base_events.logger`` looked up at call time, so the logger asyncio
users configure (and CPython's tests patch) is the one that speaks.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import inspect
import logging
from typing import Any


def asyncio_logger() -> logging.Logger:
    """asyncio's logger, looked up per call (see the module docstring)."""
    return asyncio.base_events.logger  # type: ignore[attr-defined, no-any-return]


def check_callback(callback: Any, method: str) -> None:
    """Raise TypeError, as asyncio does, for a coroutine or non-callable."""
    if asyncio.iscoroutine(callback) or inspect.iscoroutinefunction(callback) \
            or asyncio.iscoroutinefunction(callback):
        raise TypeError(f"coroutines cannot be used with {method}()")
    if not callable(callback):
        raise TypeError(
            f"a callable object was expected by {method}(), got {callback!r}")


def format_handle(handle: Any) -> str:
    """Name a slow handle: the task it steps, if any, else the handle."""
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        return repr(owner)
    return str(handle)


def check_slow_callback(handle: Any, seconds: float, limit: float) -> None:
    """Log 'Executing <handle> took N seconds' when over the limit."""
    if seconds >= limit:
        asyncio_logger().warning(
            "Executing %s took %.3f seconds", format_handle(handle), seconds)
