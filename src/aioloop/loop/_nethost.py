"""What the networking mixins use of the assembled loop, for the type checker.

Like aioloop.loop._host.LoopHost (which this extends): plain ``object`` at
run time; under a type checker it declares the transport factories (the
compiled transports, aioloop.loop.transports) and the hooks the networking
mixins offer each other, so each networking mixin is checked against the loop
it will live in.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from aioloop.loop._host import LoopHost

if TYPE_CHECKING:
    class NetHost(LoopHost):
        # the transport factories (asyncio's internal contract)
        def _make_socket_transport(self, sock: socket.socket, protocol: Any,
                                   waiter: Any = None, *, extra: dict[str, Any] | None = None,
                                   server: Any = None) -> Any: ...
        def _make_datagram_transport(self, sock: socket.socket, protocol: Any,
                                     address: Any = None, waiter: Any = None,
                                     extra: dict[str, Any] | None = None) -> Any: ...
        def _make_read_pipe_transport(self, pipe: Any, protocol: Any, waiter: Any = None,
                                      extra: dict[str, Any] | None = None) -> Any: ...
        def _make_write_pipe_transport(self, pipe: Any, protocol: Any, waiter: Any = None,
                                       extra: dict[str, Any] | None = None) -> Any: ...

        # aioloop.loop.server.ServerMixin: what Server calls on its loop
        def _start_serving(self, protocol_factory: Any, sock: socket.socket,
                           sslcontext: Any = None, server: Any = None, backlog: int = 100,
                           ssl_handshake_timeout: Any = None,
                           ssl_shutdown_timeout: Any = None) -> None: ...
        def _stop_serving(self, sock: socket.socket) -> None: ...

        # aioloop.loop.sendfile.SendfileMixin: the hooks loop.sendfile() goes
        # through (asyncio's names; CPython's tests replace them)
        async def _sendfile_native(self, transport: Any, file: Any, offset: int,
                                   count: int | None) -> int: ...
        async def _sendfile_fallback(self, transport: Any, file: Any, offset: int,
                                     count: int | None) -> int: ...
        async def _sock_sendfile_native(self, sock: Any, file: Any, offset: int,
                                        count: int | None) -> int: ...
        async def _sock_sendfile_fallback(self, sock: Any, file: Any, offset: int,
                                          count: int | None) -> int: ...
else:
    NetHost = LoopHost
