"""Pipes: connect_read_pipe and connect_write_pipe over the loop's compiled
pipe transports (``_make_read_pipe_transport`` / ``_make_write_pipe_transport``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aioloop._core.debug import asyncio_logger
from aioloop.loop._nethost import NetHost

__all__ = ["PipesMixin"]


SUBPROCESS_NOT_IMPLEMENTED = (
    "subprocesses are not implemented by aioloop yet; use asyncio's own event "
    "loop for subprocess_exec/subprocess_shell (asyncio.create_subprocess_*)")


class PipesMixin(NetHost):
    """connect_read_pipe, connect_write_pipe; the subprocess methods say
    that they are not implemented yet."""

    async def _connect_pipe(self, make: Callable[..., Any], what: str,
                            protocol_factory: Callable[[], asyncio.BaseProtocol],
                            pipe: Any) -> tuple[Any, asyncio.BaseProtocol]:
        protocol = protocol_factory()
        waiter = self.create_future()
        transport = make(pipe, protocol, waiter)
        try:
            await waiter
        except BaseException:
            transport.close()
            raise
        if self._debug_flag():
            asyncio_logger().debug("%s pipe %r connected: (%r, %r)",
                                   what, pipe.fileno(), transport, protocol)
        return transport, protocol

    async def connect_read_pipe(  # type: ignore[override]
            self, protocol_factory: Callable[[], asyncio.BaseProtocol],
            pipe: Any) -> tuple[asyncio.ReadTransport, asyncio.BaseProtocol]:
        """Read from pipe (a file object over a pipe, socket or character
        device; made non-blocking) through a transport; return
        (transport, protocol).  The transport owns the pipe: closing it
        closes the pipe.

        Raises ValueError for a regular file (it is always readable, so it
        cannot be polled), RuntimeError if a transport already owns the fd.
        """
        return await self._connect_pipe(self._make_read_pipe_transport, "Read",
                                        protocol_factory, pipe)

    async def connect_write_pipe(  # type: ignore[override]
            self, protocol_factory: Callable[[], asyncio.BaseProtocol],
            pipe: Any) -> tuple[asyncio.WriteTransport, asyncio.BaseProtocol]:
        """Write to pipe through a transport with flow control; return
        (transport, protocol).  The transport owns the pipe; it sees the
        reading end close (connection_lost, BrokenPipeError if data was
        still buffered).

        Raises ValueError for a regular file, RuntimeError if a transport
        already owns the fd.
        """
        return await self._connect_pipe(self._make_write_pipe_transport, "Write",
                                        protocol_factory, pipe)

    async def subprocess_exec(  # type: ignore[override]
            self, protocol_factory: Callable[[], asyncio.SubprocessProtocol],
            *args: Any, **kwargs: Any) -> tuple[asyncio.SubprocessTransport, Any]:
        """Not implemented yet: raises NotImplementedError with a message."""
        raise NotImplementedError(SUBPROCESS_NOT_IMPLEMENTED)

    async def subprocess_shell(  # type: ignore[override]
            self, protocol_factory: Callable[[], asyncio.SubprocessProtocol],
            cmd: bytes | str, **kwargs: Any) -> tuple[asyncio.SubprocessTransport, Any]:
        """Not implemented yet: raises NotImplementedError with a message."""
        raise NotImplementedError(SUBPROCESS_NOT_IMPLEMENTED)
