"""One measurement: a fresh server process for (loop, case, size), loaded in two windows.

1. Start ``python -m benchmarks.net.server LOOP CASE`` and wait for its port.
2. Read the server's CPU usage, load it for the first window (1 s), read the
   usage again, load it for the steady window, read it a third time.
3. Kill everything: the server, the echo client (wrk exits by itself).

Echo cases use one echo-client process for both windows, and the HTTP case
runs wrk once per window. Either way every window opens its own connections
(and the steady window starts by closing the first window's), so both pay the
same set-up cost. The first window is the first load the process ever sees:
no connection has closed yet, which matters for loops whose memory behaviour
changes after the first large free (see README.md, "Warm-up").

The load stops at the end of each window and the replies in flight are
collected before the usage is read, so the server is idle when it answers
and the window's CPU time belongs to exactly the requests counted in it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.net.clients import ToolError, run_wrk
from benchmarks.net.procs import Child, ChildError
from benchmarks.net.server import HTTP

__all__ = ["HOST", "Plan", "Tools", "measure"]

HOST = "127.0.0.1"  # loopback only
SERVER_START_TIMEOUT_S = 30.0
USAGE_TIMEOUT_S = 10.0
# Replies still in flight at the end of a window get this long (the C client
# itself gives up after 10 s).
WINDOW_SLACK_S = 20.0

Sample = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """What to measure: loop, case, message size (bytes; 0 for HTTP), windows, connections."""

    loop: str
    case: str
    size: int
    first_s: int
    steady_s: int
    connections: int


@dataclass(frozen=True)
class Tools:
    """Paths of the load generators (None when unavailable)."""

    echo_client: Path | None
    wrk: Path | None


def _window(load: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> Sample:
    """Combine the client's figures for one window with the server's usage delta."""
    requests = int(load["requests"])
    if requests <= 0:
        raise RuntimeError("no request completed in the window")
    user = float(after["utime"]) - float(before["utime"])
    system = float(after["stime"]) - float(before["stime"])
    return {
        "requests": requests,
        "seconds": float(load["seconds"]),
        "rps": requests / float(load["seconds"]),
        "p50_us": float(load["p50_us"]),
        "p99_us": float(load["p99_us"]),
        "user_s": user,
        "sys_s": system,
        "user_us": user * 1e6 / requests,
        "cpu_us": (user + system) * 1e6 / requests,
        "faults_per_req": (float(after["minflt"]) - float(before["minflt"])) / requests,
    }


def _windows(loads: list[dict[str, Any]], usage: list[dict[str, Any]]) -> list[Sample]:
    """One window per load, between the usage read before it and the one after it."""
    return [_window(load, a, b) for load, a, b in zip(loads, usage, usage[1:], strict=False)]


def _check(load: dict[str, Any]) -> dict[str, Any]:
    if "error" in load:
        raise RuntimeError(f"client: {load['error']}")
    if int(load.get("errors", 0)):
        raise RuntimeError(f"client saw {load['errors']} errors, first: {load.get('first_error')}")
    return load


def _server_argv(plan: Plan) -> list[str]:
    budget = plan.first_s + plan.steady_s + 2 * WINDOW_SLACK_S + SERVER_START_TIMEOUT_S
    return [
        sys.executable,
        "-m",
        "benchmarks.net.server",
        plan.loop,
        plan.case,
        "--host",
        HOST,
        "--max-seconds",
        str(budget),
    ]


def _load_windows(plan: Plan, tools: Tools, server: Child, port: int) -> list[Sample]:
    usage = [server.ask("usage", USAGE_TIMEOUT_S)]
    loads: list[dict[str, Any]] = []
    if plan.case == HTTP:
        if tools.wrk is None:
            raise ToolError("wrk is missing")
        url = f"http://{HOST}:{port}/"
        for seconds in (plan.first_s, plan.steady_s):
            result = run_wrk(tools.wrk, url, plan.connections, seconds)
            loads.append(_check(vars(result)))
            usage.append(server.ask("usage", USAGE_TIMEOUT_S))
        return _windows(loads, usage)
    if tools.echo_client is None:
        raise ToolError("the echo client is missing")
    argv = [str(tools.echo_client), HOST, str(port), str(plan.connections), str(plan.size)]
    with Child(argv, "echo client") as client:
        for seconds in (plan.first_s, plan.steady_s):
            loads.append(_check(client.ask(f"run {seconds}", seconds + WINDOW_SLACK_S)))
            usage.append(server.ask("usage", USAGE_TIMEOUT_S))
    return _windows(loads, usage)


def measure(plan: Plan, tools: Tools) -> Sample:
    """Run one measurement; see the module docstring.

    Returns ``{"first": window, "steady": window, "loop_class": ...}``, or
    ``{"error": ..., "unsupported": True}`` when the loop lacks the server API,
    or ``{"error": ...}`` (with ``"timed_out": True`` for a hang) for a failure.
    KeyboardInterrupt propagates, after every child has been killed.
    """
    try:
        with Child(_server_argv(plan), f"{plan.loop} {plan.case} server") as server:
            hello = server.read_json(SERVER_START_TIMEOUT_S)
            if "error" in hello:
                return {"error": str(hello["error"]), "unsupported": bool(hello.get("unsupported"))}
            try:
                first, steady = _load_windows(plan, tools, server, int(hello["port"]))
            except (ToolError, RuntimeError) as exc:
                # The server's last complaint usually says what went wrong; a
                # NotImplementedError there means a part of the API the style
                # needs is missing (raised only once connections arrive).
                tail = server.stderr_tail()
                return {
                    "error": f"{type(exc).__name__}: {exc} [server: {tail}]",
                    "timed_out": isinstance(exc, ChildError) and exc.timed_out,
                    "unsupported": "NotImplementedError" in tail,
                }
            if server.proc.poll() is not None:
                raise ChildError(f"server died: {server.stderr_tail()}")
            return {"first": first, "steady": steady, "loop_class": hello["loop"]["loop_class"]}
    except ChildError as exc:
        return {"error": str(exc), "timed_out": exc.timed_out}
    except (ToolError, RuntimeError, OSError, KeyError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
