"""HTTP/1.1 keep-alive server on ``httptools``, protocol style, for the wrk case.

The parser runs in ``data_received``; every complete request gets the same
small fixed response. A request asking to close the connection (or HTTP/1.0
without keep-alive) gets its response and then the connection is closed.
"""

from __future__ import annotations

import asyncio
from typing import cast

import httptools

__all__ = ["RESPONSE", "start_http"]

_BODY = b"Hello, world!\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n"
    b"\r\n" + _BODY
)
_KEEP: list[object] = []


class HttpProtocol(asyncio.Protocol):
    """One connection: feeds bytes to the parser, answers each complete request."""

    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, not isinstance: uvloop's and rloop's transports do not subclass Transport.
        self.transport = cast(asyncio.Transport, transport)
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    # Called by the parser from inside feed_data.
    def on_message_complete(self) -> None:
        self.transport.write(RESPONSE)
        if not self.parser.should_keep_alive():
            self.transport.close()


async def start_http(host: str) -> int:
    """Listen on ``host`` port 0 with ``loop.create_server``; return the port."""
    server = await asyncio.get_running_loop().create_server(HttpProtocol, host, 0)
    _KEEP.append(server)
    return int(server.sockets[0].getsockname()[1])
