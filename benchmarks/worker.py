"""Child-process side: run one case on one loop and print one JSON line.

    python -m benchmarks.worker probe LOOP
    python -m benchmarks.worker run LOOP CASE --seconds S

The driver starts a fresh process for every measurement, so no loop inherits
another's warmed caches, threads or garbage. The last line of stdout is the
JSON result; a failure prints ``{"error": ...}`` and exits 1, and a crash
(e.g. a segfault in a compiled loop) leaves no JSON, which the driver reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import traceback
from typing import Any

from benchmarks.cases import CASES, measure
from benchmarks.fairness import measure_fairness
from benchmarks.loops import describe, loop_factory

__all__ = ["main"]

FAIRNESS = "fairness"


async def _probe_body() -> str:
    await asyncio.sleep(0)
    return "ok"


def probe(loop_name: str) -> dict[str, Any]:
    """Import ``loop_name``, run a trivial coroutine on it, and describe it."""
    with asyncio.Runner(loop_factory=loop_factory(loop_name)) as runner:
        if runner.run(_probe_body()) != "ok":
            raise RuntimeError("trivial coroutine returned the wrong value")
        return describe(loop_name, runner.get_loop())


def run_case(loop_name: str, case_name: str, seconds: float) -> dict[str, Any]:
    """Measure ``case_name`` on a new ``loop_name`` loop; closes the loop afterwards."""
    with asyncio.Runner(loop_factory=loop_factory(loop_name)) as runner:
        if case_name == FAIRNESS:
            result: dict[str, Any] = dict(runner.run(measure_fairness(seconds)))
        else:
            result = dict(runner.run(measure(CASES[case_name], seconds)))
        result["loop_class"] = describe(loop_name, runner.get_loop())["loop_class"]
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the probe or the case, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    p_probe = sub.add_parser("probe")
    p_probe.add_argument("loop")
    p_run = sub.add_parser("run")
    p_run.add_argument("loop")
    p_run.add_argument("case", choices=[*CASES, FAIRNESS])
    p_run.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "probe":
            result = probe(args.loop)
        else:
            result = run_case(args.loop, args.case, args.seconds)
    except BaseException as exc:  # noqa: BLE001 - the driver wants a reason for any failure
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
