"""Datagram endpoints: create_datagram_endpoint (UDP and Unix datagram
sockets), set up here and driven by the loop's compiled datagram transport
(``_make_datagram_transport``)."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable
from typing import Any

from aioloop._core.debug import asyncio_logger
from aioloop.loop._nethost import NetHost
from aioloop.loop.network import ensure_resolved
from aioloop.loop.server import _set_reuseport
from aioloop.loop.unix import remove_stale_socket_file

__all__ = ["DatagramMixin"]

DatagramProtocolFactory = Callable[[], asyncio.BaseProtocol]

# (family, proto) -> [local address, remote address]
_AddrPairs = list[tuple[tuple[int, int], tuple[Any, Any]]]


def _check_given_socket(sock: socket.socket, local_addr: Any, remote_addr: Any, family: int,
                        proto: int, flags: int, reuse_port: Any, allow_broadcast: Any) -> None:
    if sys.version_info >= (3, 13):
        if sock.type == socket.SOCK_STREAM:
            raise ValueError(f"A datagram socket was expected, got {sock!r}")
    elif sock.type != socket.SOCK_DGRAM:
        raise ValueError(f"A UDP Socket was expected, got {sock!r}")
    options = {"local_addr": local_addr, "remote_addr": remote_addr, "family": family,
               "proto": proto, "flags": flags, "reuse_port": reuse_port,
               "allow_broadcast": allow_broadcast}
    problems = ", ".join(f"{name}={value}" for name, value in options.items() if value)
    if problems:
        raise ValueError("socket modifier keyword arguments can not be used "
                         f"when sock is specified. ({problems})")


class DatagramMixin(NetHost):
    """create_datagram_endpoint."""

    async def _datagram_addr_pairs(self, local_addr: Any, remote_addr: Any, family: int,
                                   proto: int, flags: int) -> _AddrPairs:
        """Resolve both addresses and pair them by (family, proto): each
        pair is one socket we may try."""
        if not (local_addr or remote_addr):
            if family == 0:
                raise ValueError("unexpected address family")
            return [((family, proto), (None, None))]
        if family == socket.AF_UNIX:
            for addr in (local_addr, remote_addr):
                if addr is not None and not isinstance(addr, str):
                    raise TypeError("string is expected")
            if local_addr:
                remove_stale_socket_file(local_addr)
            return [((family, proto), (local_addr, remote_addr))]

        by_key: dict[tuple[int, int], list[Any]] = {}   # insertion-ordered
        for index, addr in ((0, local_addr), (1, remote_addr)):
            if addr is None:
                continue
            if not (isinstance(addr, tuple) and len(addr) == 2):
                raise TypeError("2-tuple is expected")
            infos = await ensure_resolved(self, addr, family=family, type=socket.SOCK_DGRAM,
                                          proto=proto, flags=flags)
            if not infos:
                raise OSError("getaddrinfo() returned empty list")
            for fam, _, pro, _, address in infos:
                by_key.setdefault((fam, pro), [None, None])[index] = address
        # Every address asked for must exist in the pair's family.
        pairs: _AddrPairs = [
            (key, (pair[0], pair[1])) for key, pair in by_key.items()
            if not ((local_addr and pair[0] is None) or (remote_addr and pair[1] is None))]
        if not pairs:
            raise ValueError("can not get address information")
        return pairs

    async def create_datagram_endpoint(  # type: ignore[override]
            self, protocol_factory: DatagramProtocolFactory, local_addr: Any = None,
            remote_addr: Any = None, *, family: int = 0, proto: int = 0, flags: int = 0,
            reuse_port: bool | None = None, allow_broadcast: bool | None = None,
            sock: socket.socket | None = None) -> tuple[asyncio.DatagramTransport, Any]:
        """Create a datagram endpoint bound to local_addr and/or connected to
        remote_addr (UDP; family=AF_UNIX takes path strings), or over the
        datagram socket sock; return (transport, protocol).

        Raises ValueError for contradictory arguments (sock with socket
        options, no address and no family, addresses of no common family),
        TypeError for an address of the wrong shape, OSError when every
        candidate socket fails to bind or connect (the first error).
        asyncio's reuse_address argument is gone since 3.11 (TypeError).
        """
        remote: Any = None
        made_here = sock is None
        if sock is not None:
            _check_given_socket(sock, local_addr, remote_addr, family, proto, flags,
                                reuse_port, allow_broadcast)
            sock.setblocking(False)
        else:
            pairs = await self._datagram_addr_pairs(local_addr, remote_addr, family,
                                                    proto, flags)
            errors: list[OSError] = []
            for (pair_family, pair_proto), (local, remote_address) in pairs:
                candidate = None
                remote = None
                try:
                    candidate = socket.socket(family=pair_family, type=socket.SOCK_DGRAM,
                                              proto=pair_proto)
                    if reuse_port:
                        _set_reuseport(candidate)
                    if allow_broadcast:
                        candidate.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                    candidate.setblocking(False)
                    if local_addr:
                        candidate.bind(local)
                    if remote_addr:
                        # A broadcast endpoint stays unconnected: it sends
                        # to the remote address explicitly.
                        if not allow_broadcast:
                            await self.sock_connect(candidate, remote_address)
                        remote = remote_address
                except OSError as exc:
                    if candidate is not None:
                        candidate.close()
                    errors.append(exc)
                    continue
                except BaseException:
                    if candidate is not None:
                        candidate.close()
                    raise
                sock = candidate
                break
            else:
                try:
                    raise errors[0]
                finally:
                    errors.clear()

        assert sock is not None
        try:
            protocol = protocol_factory()
            waiter = self.create_future()
            transport = self._make_datagram_transport(sock, protocol, remote, waiter)
        except BaseException:
            if made_here:
                sock.close()
            raise
        if self._debug_flag():
            if local_addr:
                asyncio_logger().info("Datagram endpoint local_addr=%r remote_addr=%r "
                                      "created: (%r, %r)",
                                      local_addr, remote_addr, transport, protocol)
            else:
                asyncio_logger().debug("Datagram endpoint remote_addr=%r created: (%r, %r)",
                                       remote_addr, transport, protocol)
        try:
            await waiter
        except BaseException:
            transport.close()
            raise
        return transport, protocol
