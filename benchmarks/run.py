"""Driver: run every case on every loop in fresh processes, interleaved, and print the report.

    python -m benchmarks [--rounds N] [--loops a,b] [--cases x,y] [--quick] [--json FILE]
    python benchmarks/run.py ...   (same thing)

Each round runs every case on every usable loop, one child process each
(``benchmarks.worker``), rotating the loop order from round to round so that
no loop always runs first. A loop that cannot be imported is noted and left
out; a run that fails or crashes is recorded as an error and the rest go on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    # Run as `python benchmarks/run.py`: make the package importable.
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.cases import CASES
from benchmarks.loops import LOOP_NAMES
from benchmarks.report import render, summarize
from benchmarks.worker import FAIRNESS

__all__ = ["main"]

CASE_NAMES: tuple[str, ...] = (*CASES, FAIRNESS)
TITLES = {name: case.title for name, case in CASES.items()} | {
    FAIRNESS: "fairness (call_soon storm + pipe reader)"
}
UNITS = {name: case.unit for name, case in CASES.items()} | {FAIRNESS: "callbacks"}

# Seconds of timed work per child process: (normal, quick).
CASE_SECONDS = (0.5, 0.05)
FAIRNESS_SECONDS = (1.5, 0.3)
DEFAULT_ROUNDS = (5, 1)
# A child gets this long before it is killed: (normal, quick) fixed part,
# plus 20x its work. Quick mode must stay under a minute even with a hang.
TIMEOUT_BASE_S = (30.0, 8.0)


def csv_choice(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    """Parse a comma-separated option whose items must come from `allowed`
    (shared by both suites' command lines); raises ArgumentTypeError."""
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        shown = ", ".join(unknown) or repr(value)
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {shown} (choose from {', '.join(allowed)})"
        )
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; see README.md for the options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Compare event loops, interleaved."
    )
    parser.add_argument("--rounds", type=int, help="rounds to run (default 5, or 1 with --quick)")
    parser.add_argument(
        "--loops",
        type=lambda v: csv_choice(v, LOOP_NAMES, "loop"),
        default=list(LOOP_NAMES),
        help=f"comma-separated loops (default {','.join(LOOP_NAMES)})",
    )
    parser.add_argument(
        "--cases",
        type=lambda v: csv_choice(v, CASE_NAMES, "case"),
        default=list(CASE_NAMES),
        help=f"comma-separated cases (default all: {','.join(CASE_NAMES)})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: short cases, 1 round (< 60 s)"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="also write all samples and the summary here"
    )
    parser.add_argument(
        "--subject",
        default="aioloop",
        choices=LOOP_NAMES,
        help="loop the ratios and targets are about (default aioloop)",
    )
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = DEFAULT_ROUNDS[1] if args.quick else DEFAULT_ROUNDS[0]
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def run_child(worker_args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``python -m benchmarks.worker ARGS`` and return its JSON line, or {"error": ...}.

    The child gets its own process group so that on timeout or Ctrl-C the
    whole group (including the fairness writer) is killed.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.worker", *worker_args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:  # timeout, or Ctrl-C in the driver
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        if sys.exc_info()[0] is subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s (not retried)", "timed_out": True}
        raise
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    if not result:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        how = (
            f"killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"exit {proc.returncode}"
        )
        result = {"error": f"{how}: {tail[0]}"}
    return result


def probe_loops(names: list[str]) -> dict[str, dict[str, Any]]:
    """Check in a child process that each loop imports and runs a coroutine."""
    return {name: run_child(["probe", name], timeout=60) for name in names}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the markdown report to stdout; progress goes to stderr."""
    args = parse_args(argv)
    mode = 1 if args.quick else 0
    loops_info = probe_loops(args.loops)
    usable = [name for name in args.loops if "error" not in loops_info[name]]
    for name in args.loops:
        if name not in usable:
            _progress(f"note: {name} is not usable, skipping it: {loops_info[name]['error']}")
    if not usable:
        _progress("no loop is usable; nothing to measure")
        return 1

    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        case: {loop: [] for loop in usable} for case in args.cases
    }
    started = time.monotonic()
    interrupted = False
    hung: set[tuple[str, str]] = set()  # (case, loop) pairs that timed out once
    try:
        for rnd in range(args.rounds):
            order = usable[rnd % len(usable) :] + usable[: rnd % len(usable)]
            for case in args.cases:
                seconds = FAIRNESS_SECONDS[mode] if case == FAIRNESS else CASE_SECONDS[mode]
                for loop in order:
                    if (case, loop) in hung:
                        continue  # a hang costs a whole timeout: do not retry it every round
                    timeout = TIMEOUT_BASE_S[mode] + 20 * seconds
                    sample = run_child(
                        ["run", loop, case, "--seconds", str(seconds)], timeout=timeout
                    )
                    if sample.get("timed_out"):
                        hung.add((case, loop))
                    results[case][loop].append(sample)
                    shown = sample.get("error") or f"{sample['ops_per_sec']:,.0f} ops/s"
                    _progress(f"[round {rnd + 1}/{args.rounds}] {case:<18} {loop:<8} {shown}")
    except KeyboardInterrupt:
        interrupted = True
        _progress("interrupted: reporting what was measured so far")

    meta = {
        "python": sys.version.replace("\n", " "),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "rounds": args.rounds,
        "mode": ("quick" if args.quick else "normal")
        + f" ({CASE_SECONDS[mode]} s per case, {FAIRNESS_SECONDS[mode]} s fairness)",
        "loops": loops_info,
        "elapsed_s": round(time.monotonic() - started, 1),
        "interrupted": interrupted,
    }
    print(render(meta, results, TITLES, UNITS, args.subject))
    _progress(f"done in {meta['elapsed_s']} s")
    if args.json is not None:
        payload: dict[str, Any] = {"meta": meta, "results": results}
        if args.subject in usable:
            payload["summary"] = summarize(results, args.subject)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 130 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
