"""The transport factories asyncio's connection code calls (_make_*_transport).

The transports themselves are compiled (aioloop._core.stream,
aioloop._core.datagram); these methods check what they are handed and build
them, with asyncio's signatures, so code written against asyncio's internal
factory contract works unchanged.
"""

from __future__ import annotations

import os
import socket
import stat
from typing import Any

from aioloop._core.datagram import DatagramTransport
from aioloop._core.stream import StreamTransport
from aioloop.loop._host import LoopHost


def _check_pipe(pipe: Any, *, write: bool) -> int:
    """The pipe's fd, made non-blocking; its mode must be a FIFO, socket or
    character device (asyncio's rule).  Raises ValueError otherwise, in
    asyncio's words for each direction."""
    fd = pipe.fileno()
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        raise ValueError("Pipe transport is only for pipes, sockets and character devices"
                         if write else "Pipe transport is for pipes/sockets only.")
    os.set_blocking(fd, False)
    return fd


def _reports_reader_gone(fd: int) -> bool:
    # The write end of a FIFO or socket turns readable (EPOLLERR/HUP) when
    # the other end closes; a terminal does not, and watching it would read
    # the terminal's input as "closed".
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class TransportsMixin(LoopHost):
    """_make_socket_transport, _make_read_pipe_transport,
    _make_write_pipe_transport, _make_datagram_transport."""

    def _make_socket_transport(self, sock: socket.socket, protocol: Any, waiter: Any = None, *,
                               extra: dict[str, Any] | None = None,
                               server: Any = None) -> StreamTransport:
        return StreamTransport(self, sock, protocol, waiter, extra, server)

    def _make_datagram_transport(self, sock: socket.socket, protocol: Any, address: Any = None,
                                 waiter: Any = None,
                                 extra: dict[str, Any] | None = None) -> DatagramTransport:
        return DatagramTransport(self, sock, protocol, address, waiter, extra)

    def _make_read_pipe_transport(self, pipe: Any, protocol: Any, waiter: Any = None,
                                  extra: dict[str, Any] | None = None) -> StreamTransport:
        fd = _check_pipe(pipe, write=False)
        self._ensure_fd_no_transport(fd)
        return StreamTransport(self, pipe, protocol, waiter, extra, None,
                               is_socket=False, can_read=True, can_write=False)

    def _make_write_pipe_transport(self, pipe: Any, protocol: Any, waiter: Any = None,
                                   extra: dict[str, Any] | None = None) -> StreamTransport:
        fd = _check_pipe(pipe, write=True)
        self._ensure_fd_no_transport(fd)
        return StreamTransport(self, pipe, protocol, waiter, extra, None,
                               is_socket=False, can_read=False, can_write=True,
                               watch_peer_close=_reports_reader_gone(fd))
