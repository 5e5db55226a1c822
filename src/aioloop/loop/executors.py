"""Thread-pool work: run_in_executor, the default executor, DNS look-ups."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

from aioloop._core.debug import asyncio_logger, check_callback
from aioloop.loop._host import LoopHost
from aioloop.loop.threadpool import LoopThreadPool


class ExecutorsMixin(LoopHost):
    """run_in_executor, set_default_executor, shutdown_default_executor,
    getaddrinfo and getnameinfo."""

    _default_executor: concurrent.futures.Executor | None = None
    _executor_shutdown_called = False

    def run_in_executor(  # type: ignore[override]
            self, executor: concurrent.futures.Executor | None,
                        func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run func(*args) in executor (None: the default thread pool) and
        return an asyncio Future for its result.

        Raises RuntimeError if the loop is closed or the default executor
        was shut down.
        """
        if self._closed:
            raise RuntimeError("Event loop is closed")
        if self._debug_flag():
            check_callback(func, "run_in_executor")
        if executor is None:
            if self._executor_shutdown_called:
                raise RuntimeError("Executor shutdown has been called")
            executor = self._default_executor
            if executor is None:
                executor = LoopThreadPool(self)
                self._default_executor = executor
            if isinstance(executor, LoopThreadPool):
                return executor.run(func, args)
        return asyncio.wrap_future(executor.submit(func, *args), loop=self)

    def set_default_executor(self, executor: concurrent.futures.Executor) -> None:
        """Use executor for run_in_executor(None, ...).

        Raises TypeError unless it is a ThreadPoolExecutor (asyncio's rule).
        """
        if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            raise TypeError("executor must be ThreadPoolExecutor instance")
        self._default_executor = executor

    async def shutdown_default_executor(self, timeout: float | None = None) -> None:
        """Shut the default executor down, waiting for its threads to join
        (up to timeout seconds, then a RuntimeWarning and no more waiting)."""
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is None:
            return
        future = self.create_future()
        thread = threading.Thread(target=self._join_executor, args=(executor, future))
        thread.start()
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            warnings.warn("The executor did not finishing joining "
                          f"its threads within {timeout} seconds.",
                          RuntimeWarning, stacklevel=2)
            executor.shutdown(wait=False)
        else:
            thread.join()

    def _join_executor(self, executor: concurrent.futures.Executor,
                       future: asyncio.Future[None]) -> None:
        # Runs in a helper thread so the loop keeps running while the pool's
        # threads finish their work.
        try:
            executor.shutdown(wait=True)
            if not self.is_closed():
                self.call_soon_threadsafe(_set_result_unless_cancelled, future, None)
        except Exception as ex:
            if not self.is_closed():
                self.call_soon_threadsafe(_set_exception_unless_cancelled, future, ex)

    def _close_executor(self) -> None:
        # close(): stop the pool without waiting (asyncio's behaviour).
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is not None:
            self._default_executor = None
            executor.shutdown(wait=False)

    async def getaddrinfo(self, host: Any, port: Any, *, family: int = 0, type: int = 0,
                          proto: int = 0, flags: int = 0) -> list[Any]:
        """socket.getaddrinfo() in the default executor."""
        func = self._getaddrinfo_debug if self._debug_flag() else socket.getaddrinfo
        return await self.run_in_executor(None, func, host, port, family, type, proto, flags)

    async def getnameinfo(self, sockaddr: Any, flags: int = 0) -> tuple[str, str]:
        """socket.getnameinfo() in the default executor."""
        return await self.run_in_executor(None, socket.getnameinfo, sockaddr, flags)

    def _getaddrinfo_debug(self, host: Any, port: Any, family: int, type: int,
                           proto: int, flags: int) -> list[Any]:
        # Debug mode: log each look-up and how long it took.
        logger = asyncio_logger()
        parts = [f"{host}:{port!r}"]
        for label, value in (("family", family), ("type", type),
                             ("proto", proto), ("flags", flags)):
            if value:
                parts.append(f"{label}={value!r}")
        what = ", ".join(parts)
        logger.debug("Get address info %s", what)
        t0 = self.time()
        info = socket.getaddrinfo(host, port, family, type, proto, flags)
        dt = self.time() - t0
        msg = f"Getting address info {what} took {dt * 1e3:.3f}ms: {info!r}"
        if dt >= self.slow_callback_duration:
            logger.info(msg)
        else:
            logger.debug(msg)
        return info


def _set_result_unless_cancelled(fut: asyncio.Future[Any], result: Any) -> None:
    if not fut.cancelled():
        fut.set_result(result)


def _set_exception_unless_cancelled(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.cancelled():
        fut.set_exception(exc)


if sys.version_info < (3, 12):
    # 3.11's shutdown_default_executor() takes no timeout; keep the
    # signature the interpreter's asyncio has.
    _shutdown_3_12 = ExecutorsMixin.shutdown_default_executor

    async def _shutdown_3_11(self: Any) -> None:
        """Shut the default executor down, waiting for its threads to join."""
        await _shutdown_3_12(self)

    ExecutorsMixin.shutdown_default_executor = _shutdown_3_11  # type: ignore[method-assign, assignment]
