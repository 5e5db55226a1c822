"""Fairness: how late does I/O get served while callbacks keep the loop busy?

A writer process (this module run with ``--writer``) puts a CLOCK_MONOTONIC
timestamp (``time.monotonic_ns``, 8 bytes) into a pipe every millisecond.
Meanwhile the loop runs an endless call_soon chain, and a reader registered
with ``loop.add_reader`` reads the pipe and records, for every timestamp, how
long it waited: ``monotonic_ns() at read - timestamp``. Both processes read
the same clock, so the difference is the real delay.

A loop that runs its ready queue dry before polling (or polls rarely) scores
a high chain rate and a long delay; one that polls before every callback, the
reverse. Reported: delay p50/p99 in µs and chain callbacks/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["measure_fairness", "writer_main"]

_STAMP = struct.Struct("=q")
_PERIOD_NS = 1_000_000
# The writer gives up on its own after this long beyond the run, in case
# nobody kills it (the parent also kills it on every path).
_WRITER_GRACE_S = 15.0


def writer_main(fd: int, seconds: float) -> None:
    """Write a monotonic_ns timestamp to ``fd`` every millisecond for ``seconds``.

    Keeps an absolute schedule, so a late wake-up skips slots rather than
    sending a burst. Exits quietly when the reader side is closed.
    """
    stop = time.monotonic_ns() + int(seconds * 1e9)
    next_at = time.monotonic_ns()
    try:
        while True:
            now = time.monotonic_ns()
            if now >= stop:
                return
            if now < next_at:
                time.sleep((next_at - now) / 1e9)
                continue
            os.write(fd, _STAMP.pack(time.monotonic_ns()))
            next_at += _PERIOD_NS
            if next_at < now:
                next_at = now + _PERIOD_NS
    except (BrokenPipeError, OSError):
        return
    finally:
        os.close(fd)


def _start_writer(fd: int, seconds: float) -> subprocess.Popen[bytes]:
    repo_root = Path(__file__).resolve().parent.parent
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.fairness",
            "--writer",
            str(fd),
            "--seconds",
            str(seconds),
        ],
        pass_fds=(fd,),
        cwd=repo_root,
        stdin=subprocess.DEVNULL,
    )


def _percentile(sorted_values: list[int], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return float(sorted_values[index])


class _StampReader:
    """The add_reader callback: reads timestamps and keeps the delay of each one."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self.loop = loop
        self.fd = fd
        self.delays: list[int] = []
        # Only timestamps written inside [start, end] count: set when the storm starts.
        self.window = (0, -1)
        self.first: asyncio.Future[None] = loop.create_future()
        self.registered = False
        self._pending = bytearray()

    def register(self) -> None:
        self.loop.add_reader(self.fd, self.on_readable)
        self.registered = True

    def unregister(self) -> None:
        if self.registered:
            self.registered = False
            self.loop.remove_reader(self.fd)

    def on_readable(self) -> None:
        now = time.monotonic_ns()
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        if not data:  # the writer exited: nothing more will come
            self.unregister()
            return
        pending = self._pending
        pending.extend(data)
        usable = len(pending) - len(pending) % _STAMP.size
        start, end = self.window
        for (stamp,) in _STAMP.iter_unpack(bytes(pending[:usable])):
            if start <= stamp <= end:
                self.delays.append(now - stamp)
        del pending[:usable]
        if not self.first.done():
            self.first.set_result(None)


async def _call_soon_storm(reader: _StampReader, seconds: float) -> tuple[int, int]:
    """Keep the ready queue non-empty for ``seconds``; return (callbacks run, elapsed ns)."""
    loop = asyncio.get_running_loop()
    count = 0
    done: asyncio.Future[None] = loop.create_future()
    call_soon = loop.call_soon
    start_ns = time.monotonic_ns()
    end_ns = start_ns + int(seconds * 1e9)
    reader.window = (start_ns, end_ns)

    def step() -> None:
        nonlocal count
        count += 1
        # Read the clock only every 1024 callbacks: it is not free.
        if count & 1023 or time.monotonic_ns() < end_ns:
            call_soon(step)
        else:
            done.set_result(None)

    call_soon(step)
    await done
    return count, time.monotonic_ns() - start_ns


async def measure_fairness(seconds: float) -> dict[str, float]:
    """Run the call_soon storm for ``seconds`` while timing pipe reads; see the module docstring.

    Raises TimeoutError when the writer process sends nothing within 10 s, and
    RuntimeError when no timestamp was read during the storm.
    """
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    writer: subprocess.Popen[bytes] | None = None
    reader = _StampReader(loop, read_fd)
    try:
        os.set_blocking(read_fd, False)
        writer = _start_writer(write_fd, seconds + _WRITER_GRACE_S)
        os.close(write_fd)
        write_fd = -1
        reader.register()
        # Python start-up of the writer takes tens of milliseconds.
        await asyncio.wait_for(reader.first, 10.0)
        count, elapsed_ns = await _call_soon_storm(reader, seconds)
        # Give the reader one last chance at timestamps written near the end.
        await asyncio.sleep(0.005)
    finally:
        reader.unregister()
        if writer is not None:
            writer.kill()
            writer.wait()
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)

    delays = sorted(reader.delays)
    if not delays:
        raise RuntimeError("no timestamp was read while the chain ran")
    return {
        "ops": float(count),
        "seconds": elapsed_ns / 1e9,
        "ops_per_sec": count / (elapsed_ns / 1e9),
        "samples": float(len(delays)),
        "p50_us": _percentile(delays, 0.50) / 1e3,
        "p99_us": _percentile(delays, 0.99) / 1e3,
        "max_us": delays[-1] / 1e3,
        "mean_us": statistics.fmean(delays) / 1e3,
    }


def _main() -> None:
    parser = argparse.ArgumentParser(description="fairness timestamp writer (internal)")
    parser.add_argument("--writer", type=int, required=True, help="fd to write timestamps to")
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    writer_main(args.writer, args.seconds)


if __name__ == "__main__":
    _main()
