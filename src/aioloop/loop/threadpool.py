"""The loop's default executor: a thread pool that completes asyncio futures.

``run_in_executor(None, fn)`` on asyncio goes through a
``concurrent.futures.ThreadPoolExecutor``: every call makes a
``concurrent.futures.Future`` (with its own condition variable), chains it
to an asyncio future with two done-callbacks, takes and gives back the
pool's idle semaphore (Python code around a condition variable), and every
completion is a separate ``call_soon_threadsafe``.  This pool keeps what the
caller sees (an asyncio future, worker threads named ``asyncio_N``, at most
``min(32, cpus + 4)`` of them, started on demand, idle ones reused first,
``shutdown(wait, cancel_futures)``) and drops the rest:

- the loop thread queues ``(future, fn, args)`` on a ``queue.SimpleQueue``;
- a worker runs ``fn(*args)`` unless the future was cancelled meanwhile,
  appends the outcome to a deque, and wakes the loop only if no drain is
  already pending, so a burst of completions costs one wake-up;
- the loop drains the deque and sets the futures' results.

It is also a ``concurrent.futures.Executor``: ``submit()`` returns a
``concurrent.futures.Future`` for code that uses ``loop._default_executor``
directly.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import itertools
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["LoopThreadPool"]

_cpu_count: Callable[[], int | None] = getattr(os, "process_cpu_count", os.cpu_count)

# Every live pool, so that interpreter exit and fork can reach their workers.
_pools: weakref.WeakSet[LoopThreadPool] = weakref.WeakSet()
_interpreter_exiting = False


def _wake_all_at_exit() -> None:
    # Runs before the interpreter joins non-daemon threads: idle workers
    # block in get() and would hold up exit, as ThreadPoolExecutor's would
    # without its own hook.
    global _interpreter_exiting
    _interpreter_exiting = True
    for pool in list(_pools):
        pool.shutdown(wait=False)


def _after_fork_in_child() -> None:
    # The workers did not survive the fork; a lock one of them held would.
    for pool in list(_pools):
        pool._reset_after_fork()


_register_atexit: Callable[[Callable[[], None]], None] | None = getattr(
    threading, "_register_atexit", None)
if _register_atexit is not None:
    _register_atexit(_wake_all_at_exit)
os.register_at_fork(after_in_child=_after_fork_in_child)


def _as_asyncio_exception(exc: BaseException) -> BaseException:
    # What asyncio.wrap_future() does to an executor's exceptions:
    # concurrent.futures' own CancelledError and InvalidStateError become
    # asyncio's (an awaiter of a cancelled call sees asyncio.CancelledError).
    kind = type(exc)
    if kind is concurrent.futures.CancelledError:
        return asyncio.CancelledError(*exc.args)
    if kind is concurrent.futures.InvalidStateError:
        return asyncio.InvalidStateError(*exc.args)
    return exc


class _SubmittedWork:
    """A submit() call: runs fn and completes a concurrent.futures.Future."""

    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(self, future: concurrent.futures.Future[Any], fn: Callable[..., Any],
                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def __call__(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:
            self.future.set_exception(exc)
            del self    # as concurrent.futures does: no cycle through the work item
        else:
            self.future.set_result(result)


class LoopThreadPool(concurrent.futures.Executor):
    """A thread pool bound to one event loop (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_workers: int | None = None,
                 thread_name_prefix: str = "asyncio") -> None:
        if max_workers is None:
            max_workers = min(32, (_cpu_count() or 1) + 4)
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        self._loop = loop
        self._max_workers = max_workers
        self._thread_name_prefix = thread_name_prefix
        self._names = itertools.count()
        self._shutdown = False
        self._reset_after_fork()
        _pools.add(self)

    def _reset_after_fork(self) -> None:
        # The workers' state, fresh: at creation, and in a forked child
        # (where the workers are gone and a lock one of them held is not).
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._idle = 0
        self._done: collections.deque[tuple[asyncio.Future[Any], Any, BaseException | None]] = (
            collections.deque())
        self._drain_pending = False

    # -- the loop's side ----------------------------------------------------

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> asyncio.Future[Any]:
        """Queue fn(*args) and return an asyncio future for its outcome.

        Call from the loop's thread.  Raises RuntimeError after shutdown.
        """
        future = self._loop.create_future()
        self._put((future, fn, args))
        return future

    def _put(self, item: tuple[Any, Any, Any]) -> None:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if _interpreter_exiting:
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            self._queue.put(item)
            if self._idle:
                # An idle worker will take it (or a busy one, which then
                # leaves the idle one for the next item: the count holds).
                self._idle -= 1
            elif len(self._threads) < self._max_workers:
                self._start_worker()

    def _start_worker(self) -> None:
        name = f"{self._thread_name_prefix}_{next(self._names)}"
        thread = threading.Thread(target=_work, name=name,
                                  args=(weakref.ref(self), self._queue))
        thread.start()
        self._threads.add(thread)

    def _drain(self) -> None:
        # On the loop: complete every future a worker has finished.
        self._drain_pending = False
        done = self._done
        while done:
            future, result, exc = done.popleft()
            if future.cancelled():
                continue
            if exc is None:
                future.set_result(result)
            else:
                try:
                    future.set_exception(_as_asyncio_exception(exc))
                except TypeError as err:
                    # StopIteration cannot be a future's exception; asyncio's
                    # chaining would log this and leave the future pending.
                    future.set_exception(err)

    # -- the workers' side --------------------------------------------------

    def _deliver(self, future: asyncio.Future[Any], result: Any,
                 exc: BaseException | None) -> None:
        self._done.append((future, result, exc))
        if not self._drain_pending:
            self._drain_pending = True
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:
                # The loop is closed: nobody is waiting for the result.
                self._done.clear()

    # -- concurrent.futures.Executor ----------------------------------------

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Run fn(*args, **kwargs) in a worker; a concurrent.futures.Future."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._put((None, _SubmittedWork(future, fn, args, kwargs), ()))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers once the queued work is done (or cancelled)."""
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                self._cancel_queued()
            threads = list(self._threads)
            for _ in threads:
                self._queue.put(None)
        if wait:
            current = threading.current_thread()
            for thread in threads:
                if thread is not current:
                    thread.join()

    def _cancel_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is None:
                continue
            future, work, _ = item
            if future is None:
                work.future.cancel()
            elif not self._loop.is_closed():
                self._loop.call_soon_threadsafe(future.cancel)


def _work(pool_ref: weakref.ref[LoopThreadPool], work_queue: Any) -> None:
    # A worker thread: take items until the None that shutdown() queues.
    get = work_queue.get
    while True:
        item = get()
        if item is None:
            return
        future, fn, args = item
        item = None
        exc: BaseException | None = None
        result = None
        if future is None:
            fn()
        elif not future.cancelled():
            try:
                result = fn(*args)
            except BaseException as e:
                exc = e
        fn = args = None
        pool = pool_ref()
        if pool is None:
            return
        # Idle again before the loop hears of the result: a caller that
        # awaits one call and submits the next finds this thread free
        # instead of starting another.
        with pool._lock:
            pool._idle += 1
        if future is not None and not future.cancelled():
            pool._deliver(future, result, exc)
        future = result = exc = pool = None
