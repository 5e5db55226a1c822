"""The event-loop policy that makes asyncio create aioloop loops."""

from __future__ import annotations

import asyncio

from aioloop.loop import Loop

__all__ = ["EventLoopPolicy"]


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """asyncio's default policy (one loop per thread, main-thread rules),
    with aioloop loops instead of selector loops.

    asyncio.set_event_loop_policy(aioloop.EventLoopPolicy()) makes
    asyncio.new_event_loop(), asyncio.run() and asyncio.Runner() use aioloop.
    """

    _loop_factory = Loop

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
