"""The networking cases, the message sizes, and the targets aioloop is held to.

A *cell* is one (case, size) pair: every echo case runs at every selected
size; the HTTP case has no size (0).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CASES", "SIZES_KIB", "WARMUP_LIMIT", "Cell", "NetCase", "cell_label", "cells"]


@dataclass(frozen=True)
class NetCase:
    """One server style: its report title, whether it takes a message size, its target.

    ``cpu_vs_rloop`` is the most that aioloop's user CPU per request may be,
    as a multiple of rloop's in the same run.
    """

    title: str
    sized: bool
    cpu_vs_rloop: float


# From the issue: user CPU per request at most 0.8x rloop's for protocol,
# buffered, sockets and HTTP; streams no worse than rloop.
CASES: dict[str, NetCase] = {
    "protocol": NetCase("echo, Protocol: data_received → transport.write", True, 0.8),
    "streams": NetCase("echo, streams: start_server, read(64 KiB) → write → drain", True, 1.0),
    "buffered": NetCase("echo, BufferedProtocol: get_buffer / buffer_updated → write", True, 0.8),
    "sockets": NetCase("echo, sockets: sock_accept, sock_recv → sock_sendall", True, 0.8),
    "http": NetCase("HTTP/1.1 keep-alive, httptools in data_received, wrk", False, 0.8),
}
SIZES_KIB: tuple[int, ...] = (1, 10, 100)
# The issue: aioloop's first second of load within 10% of its steady state.
WARMUP_LIMIT = 1.10

Cell = tuple[str, int]  # (case, size in KiB; 0 for HTTP)


def cells(case_names: list[str], sizes_kib: list[int]) -> list[Cell]:
    """Every (case, size) pair to measure, in report order."""
    out: list[Cell] = []
    for name in case_names:
        if CASES[name].sized:
            out += [(name, size) for size in sizes_kib]
        else:
            out.append((name, 0))
    return out


def cell_label(cell: Cell) -> str:
    """'protocol 1 KiB', or just 'http' for the unsized case."""
    name, size = cell
    return f"{name} {size} KiB" if size else name
