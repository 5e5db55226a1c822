"""How handles and callbacks describe themselves (repr, debug logs).

The text matches asyncio's (``<Handle cb(1, 2) at file.py:10>``) so that logs
and error messages read the same whichever loop produced them.
"""

from __future__ import annotations

import functools
import inspect
import reprlib
import sys
import traceback
from typing import Any

# asyncio keeps this many frames of a handle's creation stack in debug mode.
DEBUG_STACK_DEPTH = 10


def _function_source(func: Any) -> tuple[str, int] | None:
    func = inspect.unwrap(func)
    if inspect.isfunction(func):
        code = func.__code__
        return (code.co_filename, code.co_firstlineno)
    if isinstance(func, (functools.partial, functools.partialmethod)):
        return _function_source(func.func)
    return None


def _format_args(args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> str:
    items = [reprlib.repr(arg) for arg in args or ()]
    items.extend(f"{k}={reprlib.repr(v)}" for k, v in (kwargs or {}).items())
    return "({})".format(", ".join(items))


def format_callback(func: Any, args: tuple[Any, ...] | None,
                    kwargs: dict[str, Any] | None = None, suffix: str = "") -> str:
    """Describe ``func(*args)`` the way asyncio does, unwrapping partials."""
    if isinstance(func, functools.partial):
        suffix = _format_args(args, kwargs) + suffix
        return format_callback(func.func, func.args, func.keywords, suffix)
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    text = name if name else repr(func)
    return text + _format_args(args, kwargs) + suffix


def format_callback_source(func: Any, args: tuple[Any, ...] | None) -> str:
    """Like format_callback, followed by ``at file:line`` when known."""
    text = format_callback(func, args)
    source = _function_source(func)
    if source:
        text += f" at {source[0]}:{source[1]}"
    return text


def extract_stack(skip: int = 1, limit: int = DEBUG_STACK_DEPTH) -> traceback.StackSummary:
    """The caller's stack, oldest frame first, without reading source lines.

    ``skip`` frames are dropped from the top so the stack ends where user code
    called into the loop.
    """
    frame = sys._getframe(skip)
    stack = traceback.StackSummary.extract(
        traceback.walk_stack(frame), limit=limit, lookup_lines=False)
    stack.reverse()
    return stack
