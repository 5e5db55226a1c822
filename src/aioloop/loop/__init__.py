"""aioloop.Loop: the compiled core plus asyncio's remaining contract.

The class is assembled from one mixin per concern, each in its own module,
over the compiled CoreLoop (scheduling, timers, readiness I/O, the run
iteration).  Every mixin is flat (no mixin calls up a chain of others), so
one behaviour lives in one file.
"""

from __future__ import annotations

import asyncio
import time

from aioloop._core.core import CoreLoop
from aioloop.loop.datagram import DatagramMixin
from aioloop.loop.errors import ErrorsMixin
from aioloop.loop.executors import ExecutorsMixin
from aioloop.loop.fdio import FdIOMixin
from aioloop.loop.lifecycle import LifecycleMixin
from aioloop.loop.network import NetworkMixin
from aioloop.loop.pipes import PipesMixin
from aioloop.loop.sendfile import SendfileMixin
from aioloop.loop.server import ServerMixin
from aioloop.loop.signals import SignalsMixin
from aioloop.loop.sockets import SocketsMixin
from aioloop.loop.tasks import TasksMixin
from aioloop.loop.transports import TransportsMixin
from aioloop.loop.unix import UnixMixin

__all__ = ["Loop"]


class Loop(CoreLoop,
           LifecycleMixin,
           TasksMixin,
           ErrorsMixin,
           ExecutorsMixin,
           FdIOMixin,
           SignalsMixin,
           SocketsMixin,
           TransportsMixin,
           NetworkMixin,
           ServerMixin,
           UnixMixin,
           DatagramMixin,
           PipesMixin,
           SendfileMixin,
           asyncio.AbstractEventLoop):
    """An asyncio event loop with a compiled core, for Linux.

    Create one with aioloop.new_event_loop(); it implements
    asyncio.AbstractEventLoop and runs asyncio's own Future and Task.
    """

    # asyncio's BaseEventLoop attribute of the same name (private, but
    # libraries and test helpers read it): the clock's resolution.
    _clock_resolution = time.get_clock_info("monotonic").resolution

    def __init__(self) -> None:
        self._init_lifecycle()
        self._init_fdio()
        self._init_signals()
        self._exception_handler = None
        self._task_factory = None
        self._default_executor = None
        self._executor_shutdown_called = False
        # Debug mode follows PYTHONASYNCIODEBUG / -X dev, like asyncio.
        self.set_debug(asyncio.coroutines._is_debug_mode())  # type: ignore[attr-defined]

    def _after_fork_core(self) -> None:
        super()._after_fork_core()
        self._after_fork_signals()
