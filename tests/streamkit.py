"""Helpers shared by the stream transport tests: a recording protocol and a
transport over one end of a socket pair."""

from __future__ import annotations

import asyncio
import socket
from typing import Any


class Recorder(asyncio.Protocol):
    """Records every protocol callback, in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, eof_keeps_open: bool = False) -> None:
        self.events: list[Any] = []
        self.data = bytearray()
        self.transport: Any = None
        self.lost = loop.create_future()
        self.eof_keeps_open = eof_keeps_open

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.events.append("data")
        self.data += data

    def eof_received(self) -> bool:
        self.events.append("eof")
        return self.eof_keeps_open

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: BaseException | None) -> None:
        self.events.append(("lost", exc))
        if not self.lost.done():
            self.lost.set_result(exc)


def pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


async def make_transport(loop: Any, sock: socket.socket, proto: Any) -> Any:
    waiter = loop.create_future()
    tr = loop._make_socket_transport(sock, proto, waiter)
    await waiter
    return tr
