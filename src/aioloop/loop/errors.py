"""The loop's exception handler API (asyncio's contract, our implementation).

Errors nobody can catch (an exception in a callback, a task that died with
an unretrieved exception) go to call_exception_handler(); the default
handler logs them through asyncio's logger, so logging set-ups made for
asyncio keep working.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any

from aioloop._core.debug import asyncio_logger
from aioloop.loop._host import LoopHost

ExceptionHandler = Callable[[Any, dict[str, Any]], object]

# 3.12 and later run a custom handler inside the failing task's or handle's
# context; 3.11 calls it directly.  We follow the interpreter we run on.
_RUN_HANDLER_IN_CONTEXT = sys.version_info >= (3, 12)


def _logger() -> Any:
    # Looked up per call: asyncio users (and CPython's tests) replace
    # asyncio_logger(), and the replacement must hear our errors.
    return asyncio_logger()


class ErrorsMixin(LoopHost):
    """set/get/default/call_exception_handler."""

    _exception_handler: ExceptionHandler | None = None

    def get_exception_handler(self) -> ExceptionHandler | None:
        """Return the custom exception handler, or None for the default."""
        return self._exception_handler

    def set_exception_handler(self, handler: ExceptionHandler | None) -> None:
        """Set handler(loop, context) as the exception handler; None restores
        the default.  Raises TypeError for a non-callable."""
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        self._exception_handler = handler

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        """Log the error described by context, with creation tracebacks in
        debug mode."""
        message = context.get("message") or "Unhandled exception in event loop"
        exception = context.get("exception")
        exc_info: Any = False
        if exception is not None:
            exc_info = (type(exception), exception, exception.__traceback__)
        current = self._current_handle
        if ("source_traceback" not in context and current is not None
                and current._source_traceback):
            context["handle_traceback"] = current._source_traceback
        lines = [message]
        for key in sorted(context):
            if key in {"message", "exception"}:
                continue
            value = context[key]
            if key == "source_traceback":
                tb = "".join(traceback.format_list(value))
                text = "Object created at (most recent call last):\n" + tb.rstrip()
            elif key == "handle_traceback":
                tb = "".join(traceback.format_list(value))
                text = "Handle created at (most recent call last):\n" + tb.rstrip()
            else:
                text = repr(value)
            lines.append(f"{key}: {text}")
        _logger().error("\n".join(lines), exc_info=exc_info)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Pass context to the exception handler; never raises, except
        SystemExit and KeyboardInterrupt."""
        handler = self._exception_handler
        if handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                _logger().error("Exception in default exception handler", exc_info=True)
            return
        try:
            ctx = None
            if _RUN_HANDLER_IN_CONTEXT:
                thing = context.get("task") or context.get("future") or context.get("handle")
                if thing is not None and hasattr(thing, "get_context"):
                    ctx = thing.get_context()
            if ctx is not None and hasattr(ctx, "run"):
                ctx.run(handler, self, context)
            else:
                handler(self, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            try:
                self.default_exception_handler({
                    "message": "Unhandled error in exception handler",
                    "exception": exc,
                    "context": context,
                })
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                _logger().error("Exception in default exception handler while handling "
                                "an unexpected error in custom exception handler",
                                exc_info=True)
