"""The four echo servers, one per API style, all written the way a user would write them.

Each ``start_*`` function listens on ``host`` port 0 with the running loop and
returns the port. The server object (or listening socket and accept task) is
kept alive in ``_KEEP``; the process is killed when the benchmark is over, so
nothing here shuts down.

- protocol: ``asyncio.Protocol``; ``data_received`` writes the data back.
- streams: ``asyncio.start_server``; ``read(64 KiB)``, ``write``, ``drain``.
- buffered: ``asyncio.BufferedProtocol``; reads into one 256 KiB bytearray
  and writes back a slice of it.
- sockets: ``loop.sock_accept`` / ``sock_recv(64 KiB)`` / ``sock_sendall``,
  one task per connection.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import cast

__all__ = ["BUFFERED_SIZE", "ECHO_STARTERS", "READ_SIZE"]

READ_SIZE = 64 * 1024
# The buffer of the buffered style: the size asyncio's transports read at most.
BUFFERED_SIZE = 256 * 1024
# Servers and tasks that must outlive the coroutine that made them.
_KEEP: list[object] = []


class EchoProtocol(asyncio.Protocol):
    """Writes every chunk back as it arrives."""

    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, not isinstance: uvloop's and rloop's transports do not subclass Transport.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class EchoBufferedProtocol(asyncio.BufferedProtocol):
    """Receives into one preallocated buffer and writes back a slice of it.

    The idiom of uvloop's own echo benchmark: the slice of a bytearray is a
    copy, so a write the transport has to queue is not overwritten by the next
    read. (Writing a memoryview of the buffer instead would also avoid the
    copy, but then the buffer could not be reused while a write is queued.)
    """

    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.buffer = bytearray(BUFFERED_SIZE)

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.transport.write(self.buffer[:nbytes])


async def start_protocol(host: str) -> int:
    """Echo with ``loop.create_server`` and a plain Protocol."""
    server = await asyncio.get_running_loop().create_server(EchoProtocol, host, 0)
    _KEEP.append(server)
    return int(server.sockets[0].getsockname()[1])


async def start_buffered(host: str) -> int:
    """Echo with ``loop.create_server`` and a BufferedProtocol."""
    server = await asyncio.get_running_loop().create_server(EchoBufferedProtocol, host, 0)
    _KEEP.append(server)
    return int(server.sockets[0].getsockname()[1])


async def _stream_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(READ_SIZE):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def start_streams(host: str) -> int:
    """Echo with ``asyncio.start_server`` (StreamReader/StreamWriter)."""
    server = await asyncio.start_server(_stream_echo, host, 0)
    _KEEP.append(server)
    return int(server.sockets[0].getsockname()[1])


async def _socket_echo(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    with conn:
        try:
            while data := await loop.sock_recv(conn, READ_SIZE):
                await loop.sock_sendall(conn, data)
        except ConnectionError:
            pass


async def _accept_forever(loop: asyncio.AbstractEventLoop, listener: socket.socket) -> None:
    tasks: set[asyncio.Task[None]] = set()
    while True:
        conn, _ = await loop.sock_accept(listener)
        conn.setblocking(False)
        # The transports of the other styles set TCP_NODELAY; so does this one.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = loop.create_task(_socket_echo(loop, conn))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


async def start_sockets(host: str) -> int:
    """Echo with the loop's socket coroutines, one task per connection."""
    loop = asyncio.get_running_loop()
    listener = socket.create_server((host, 0), backlog=100)  # create_server's default
    listener.setblocking(False)
    _KEEP.append(listener)
    _KEEP.append(loop.create_task(_accept_forever(loop, listener)))
    return int(listener.getsockname()[1])


ECHO_STARTERS: dict[str, Callable[[str], Awaitable[int]]] = {
    "protocol": start_protocol,
    "streams": start_streams,
    "buffered": start_buffered,
    "sockets": start_sockets,
}
