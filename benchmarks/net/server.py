"""Server child process: one server of one style on one loop, plus a CPU-usage reporter.

    python -m benchmarks.net.server LOOP CASE [--host 127.0.0.1] [--max-seconds S]

Prints one JSON line once listening: ``{"port": ..., "pid": ..., "loop": {...}}``,
or ``{"error": ..., "unsupported": true}`` when the loop does not implement
the API the style needs (NotImplementedError while starting), or
``{"error": ...}`` for any other failure.

Then a control thread reads commands from stdin, one per line:
``usage`` prints ``{"utime": s, "stime": s, "minflt": n, "t": monotonic}``
from ``getrusage(RUSAGE_SELF)``. The driver asks between load windows, when
the server is idle, so the answer does not wait for the GIL. EOF on stdin (the
driver closed it or died) ends the process at once, and so does
``--max-seconds``, so a server never outlives its benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.loops import LOOP_NAMES, describe, loop_factory
from benchmarks.net.echo_servers import ECHO_STARTERS

__all__ = ["HTTP", "SERVER_CASES", "main"]

HTTP = "http"
SERVER_CASES: tuple[str, ...] = (*ECHO_STARTERS, HTTP)


def _say(payload: dict[str, Any]) -> None:
    # One write per line: the main thread and the control thread both print.
    os.write(1, json.dumps(payload).encode() + b"\n")


def usage() -> dict[str, float]:
    """This process's CPU time so far (all threads), minor page faults, and the clock."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "utime": ru.ru_utime,
        "stime": ru.ru_stime,
        "minflt": float(ru.ru_minflt),
        "t": time.monotonic(),
    }


def _control() -> None:
    for line in sys.stdin.buffer:
        if line.strip() != b"usage":
            break
        _say(usage())
    os._exit(0)  # the driver is done (or gone): no cleanup needed, the kernel closes all


def _starter(case: str) -> Callable[[str], Awaitable[int]]:
    if case == HTTP:
        # Imported here: httptools is only needed for this case.
        from benchmarks.net.http_server import start_http

        return start_http
    return ECHO_STARTERS[case]


async def _serve(loop_name: str, case: str, host: str) -> None:
    loop = asyncio.get_running_loop()
    try:
        port = await _starter(case)(host)
    except NotImplementedError as exc:
        _say({"error": f"NotImplementedError: {exc}".rstrip(": "), "unsupported": True})
        return
    threading.Thread(target=_control, name="control", daemon=True).start()
    _say({"port": port, "pid": os.getpid(), "loop": describe(loop_name, loop)})
    await loop.create_future()  # serve until the process is ended


def main(argv: list[str] | None = None) -> int:
    """Run the server until stdin closes; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("loop", choices=LOOP_NAMES)
    parser.add_argument("case", choices=SERVER_CASES)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    watchdog = threading.Timer(args.max_seconds, os._exit, args=(3,))
    watchdog.daemon = True
    watchdog.start()
    try:
        with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
            runner.run(_serve(args.loop, args.case, args.host))
    except BaseException as exc:  # the driver wants a reason for any failure
        traceback.print_exc(file=sys.stderr)
        _say({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
