"""Running and closing the loop: run_forever, run_until_complete, stop, close.

The iteration itself is compiled (aioloop._core.core); this module does what
asyncio does around it once per run: mark the loop running in this thread,
install the async-generator hooks, track coroutine origins in debug mode.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import warnings
import weakref
from asyncio import events
from collections.abc import Awaitable, Generator
from typing import Any, TypeVar

from aioloop._core.debug import asyncio_logger
from aioloop.loop._host import LoopHost

_T = TypeVar("_T")

# asyncio keeps this many frames of coroutine origin in debug mode.
_DEBUG_STACK_DEPTH = 10


def _stop_when_done(fut: asyncio.Future[Any]) -> None:
    # run_until_complete's done-callback: stop the loop the future belongs
    # to, unless the future was cancelled from a loop that is already gone.
    if not fut.cancelled():
        exc = fut.exception()
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            # The loop is about to see this exception escape; don't stop it
            # as well (asyncio's rule: the exception propagates instead).
            return
    asyncio.futures._get_loop(fut).stop()  # type: ignore[attr-defined]


class LifecycleMixin(LoopHost):
    """run_forever, run_until_complete, close and the async-generator hooks."""

    def _init_lifecycle(self) -> None:
        self._old_agen_hooks: Any = None
        self._asyncgens: weakref.WeakSet[Any] = weakref.WeakSet()
        self._asyncgens_shutdown_called = False
        self._coroutine_origin_tracking_enabled = False
        self._coroutine_origin_tracking_saved_depth: int | None = None

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} running={self.is_running()} "
                f"closed={self.is_closed()} debug={self.get_debug()}>")

    def _check_running(self) -> None:
        if self.is_running():
            raise RuntimeError("This event loop is already running")
        if events._get_running_loop() is not None:
            raise RuntimeError("Cannot run the event loop while another loop is running")

    def _run_forever_setup(self) -> None:
        if self._closed:
            raise RuntimeError("Event loop is closed")
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug_flag())
        self._old_agen_hooks = sys.get_asyncgen_hooks()
        self._thread_id = threading.get_ident()
        sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                               finalizer=self._asyncgen_finalizer_hook)
        events._set_running_loop(self)

    def _run_forever_cleanup(self) -> None:
        self._stopping = False
        self._thread_id = None
        events._set_running_loop(None)
        self._set_coroutine_origin_tracking(False)
        if self._old_agen_hooks is not None:
            sys.set_asyncgen_hooks(*self._old_agen_hooks)
            self._old_agen_hooks = None

    def run_forever(self) -> None:
        """Run until stop() is called.

        Raises RuntimeError if the loop is closed, already running, or
        another loop runs in this thread.
        """
        self._run_forever_setup()
        try:
            self._run_forever_core()
        finally:
            self._run_forever_cleanup()

    def run_until_complete(self, future: Generator[Any, None, _T] | Awaitable[_T]) -> _T:
        """Run until the future (or coroutine, wrapped in a Task) is done.

        Returns its result or raises its exception; raises RuntimeError if
        the loop stops first, is closed, or is already running.
        """
        if self._closed:
            raise RuntimeError("Event loop is closed")
        self._check_running()
        new_task = not asyncio.isfuture(future)
        fut = asyncio.ensure_future(future, loop=self)  # type: ignore[arg-type]
        if new_task:
            # The caller gets the exception from us; the task need not log
            # "Task exception was never retrieved" / "destroyed but pending".
            fut._log_destroy_pending = False  # type: ignore[attr-defined]
        fut.add_done_callback(_stop_when_done)
        try:
            self.run_forever()
        except BaseException:
            if new_task and fut.done() and not fut.cancelled():
                # The task raised a BaseException that escaped the loop; the
                # caller can't reach the task, so mark it retrieved.
                fut.exception()
            raise
        finally:
            fut.remove_done_callback(_stop_when_done)
        if not fut.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return fut.result()

    def close(self) -> None:
        """Close the loop: drop pending callbacks, release the poller.

        Does not wait for the default executor.  Raises RuntimeError if the
        loop is running; a second call does nothing.
        """
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self._closed:
            return
        if self._debug_flag():
            asyncio_logger().debug("Close %r", self)
        self._close_signals()
        self._close_core()
        self._fileobjs.clear()
        self._close_executor()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if not self.is_closed():
            _warn(f"unclosed event loop {self!r}", ResourceWarning, source=self)
            if not self.is_running():
                self.close()

    # -- async generators ---------------------------------------------------

    def _asyncgen_finalizer_hook(self, agen: Any) -> None:
        self._asyncgens.discard(agen)
        if not self.is_closed():
            self.call_soon_threadsafe(self.create_task, agen.aclose())

    def _asyncgen_firstiter_hook(self, agen: Any) -> None:
        if self._asyncgens_shutdown_called:
            warnings.warn(
                f"asynchronous generator {agen!r} was scheduled after "
                f"loop.shutdown_asyncgens() call", ResourceWarning, source=self, stacklevel=2)
        self._asyncgens.add(agen)

    async def shutdown_asyncgens(self) -> None:
        """Close every async generator still open on this loop."""
        self._asyncgens_shutdown_called = True
        if not len(self._asyncgens):
            return
        closing = list(self._asyncgens)
        self._asyncgens.clear()
        results = await asyncio.gather(*[ag.aclose() for ag in closing],
                                       return_exceptions=True)
        for result, agen in zip(results, closing, strict=True):
            if isinstance(result, Exception):
                self.call_exception_handler({
                    "message": f"an error occurred during closing of "
                               f"asynchronous generator {agen!r}",
                    "exception": result,
                    "asyncgen": agen,
                })

    # -- debug mode --------------------------------------------------------------

    def _debug_flag(self) -> bool:
        return bool(self.get_debug())

    def set_debug(self, enabled: bool) -> None:
        """Turn debug mode on or off (also while running)."""
        super().set_debug(enabled)  # type: ignore[misc]
        if self.is_running():
            self.call_soon_threadsafe(self._set_coroutine_origin_tracking, bool(enabled))

    def _set_coroutine_origin_tracking(self, enabled: bool) -> None:
        if bool(enabled) == bool(self._coroutine_origin_tracking_enabled):
            return
        if enabled:
            self._coroutine_origin_tracking_saved_depth = \
                sys.get_coroutine_origin_tracking_depth()
            sys.set_coroutine_origin_tracking_depth(_DEBUG_STACK_DEPTH)
        else:
            sys.set_coroutine_origin_tracking_depth(
                self._coroutine_origin_tracking_saved_depth or 0)
        self._coroutine_origin_tracking_enabled = enabled
