"""aioloop: a fast, observable, drop-in asyncio event loop for Linux.

    import aioloop
    aioloop.run(main())                                   # like asyncio.run
    asyncio.Runner(loop_factory=aioloop.new_event_loop)   # or any Runner
    aioloop.install()                                     # make it the default
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from aioloop.loop import Loop
from aioloop.policy import EventLoopPolicy

__all__ = ["EventLoopPolicy", "Loop", "install", "new_event_loop", "run"]
__version__ = "0.1.0.dev0"

_T = TypeVar("_T")


def new_event_loop() -> Loop:
    """Return a new aioloop event loop (not set as the current loop)."""
    return Loop()


def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T:
    """Run coroutine main on a new aioloop loop and return its result.

    Behaves as asyncio.run(): raises RuntimeError when called from a running
    loop; Ctrl-C cancels main and raises KeyboardInterrupt; async
    generators and the default executor are shut down before the loop closes.
    """
    if asyncio.events._get_running_loop() is not None:
        # Fail before creating a loop, with asyncio.run()'s message.
        raise RuntimeError("aioloop.run() cannot be called from a running event loop")
    with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)


def install() -> None:
    """Make aioloop the loop asyncio creates by default (sets the policy)."""
    asyncio.set_event_loop_policy(EventLoopPolicy())
