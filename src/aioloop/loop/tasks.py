"""Futures and tasks: asyncio's own C Future and Task, created on this loop."""

from __future__ import annotations

import asyncio
import sys
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from aioloop.loop._host import LoopHost

TaskFactory = Callable[..., "asyncio.Future[Any]"]


def _name_task(task: Any, name: str | None) -> None:
    # What asyncio does to a task made by a custom factory.
    if name is None:
        return
    try:
        set_name = task.set_name
    except AttributeError:
        if sys.version_info < (3, 13):
            warnings.warn("Task.set_name() was added in Python 3.8, the method support "
                          "will be mandatory for third-party task implementations since 3.13.",
                          DeprecationWarning, stacklevel=3)
            return
        raise
    set_name(name)


class TasksMixin(LoopHost):
    """create_future, create_task and the task factory."""

    _task_factory: TaskFactory | None = None

    # create_task() itself is compiled (CoreLoop); a task factory goes here.
    def _create_task_with_factory(self, coro: Coroutine[Any, Any, Any], name: str | None,
                                  context: Any) -> asyncio.Future[Any]:
        factory = self._task_factory
        assert factory is not None
        if context is None:
            made = factory(self, coro)
        else:
            made = factory(self, coro, context=context)
        _name_task(made, name)
        return made

    def set_task_factory(self, factory: TaskFactory | None) -> None:
        """Use factory(loop, coro[, context=]) for create_task(); None restores
        the default.  Raises TypeError for a non-callable."""
        if factory is not None and not callable(factory):
            raise TypeError("task factory must be a callable or None")
        self._task_factory = factory

    def get_task_factory(self) -> TaskFactory | None:
        """Return the task factory, or None when the default is in use."""
        return self._task_factory
