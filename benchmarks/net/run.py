"""Driver: every (case, size) on every loop, a fresh server process each, interleaved.

    python -m benchmarks.net [--quick] [--rounds N] [--loops a,b] [--cases x,y]
                             [--sizes 1,10,100] [--connections N] [--json FILE]

Each round measures every cell on every usable loop, rotating the loop order
from round to round. A loop that cannot be imported is left out with a note;
a loop whose server API raises NotImplementedError is shown as "not supported
yet" for that case and not retried; a failed or hung run is recorded and the
rest go on. Ctrl-C kills the running children and reports what was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.loops import LOOP_NAMES
from benchmarks.net.cases import CASES, SIZES_KIB, Cell, cell_label, cells
from benchmarks.net.clients import ToolError, build_echo_client, find_wrk
from benchmarks.net.measure import Plan, Tools, measure
from benchmarks.net.procs import Child, ChildError
from benchmarks.net.report import render, summarize
from benchmarks.run import csv_choice

__all__ = ["main"]

FIRST_S = 1  # the warm-up window: the first second of load
STEADY_S = (5, 1)  # (normal, quick); see benchmarks/README.md, "User time is sampled"
DEFAULT_ROUNDS = (3, 1)
QUICK_SIZES_KIB = [1]
DEFAULT_CONNECTIONS = 50


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        sizes = []
    if not sizes or not all(1 <= size <= 1024 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes are KiB from 1 to 1024, like 1,10,100: {value!r}")
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; see README.md for the options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.net", description="Compare event loops as TCP/HTTP servers."
    )
    parser.add_argument("--rounds", type=int, help="rounds (default 3, or 1 with --quick)")
    parser.add_argument(
        "--loops",
        type=lambda v: csv_choice(v, LOOP_NAMES, "loop"),
        default=list(LOOP_NAMES),
        help=f"comma-separated loops (default {','.join(LOOP_NAMES)})",
    )
    parser.add_argument(
        "--cases",
        type=lambda v: csv_choice(v, tuple(CASES), "case"),
        default=list(CASES),
        help=f"comma-separated cases (default all: {','.join(CASES)})",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        help="echo message sizes in KiB (default 1,10,100, or 1 with --quick)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=DEFAULT_CONNECTIONS,
        help=f"connections of the echo client and of wrk (default {DEFAULT_CONNECTIONS})",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run, well under 90 s")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write samples as JSON")
    parser.add_argument(
        "--pool",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="measure nothing: report on the samples of earlier --json runs, pooled",
    )
    parser.add_argument(
        "--subject",
        default="aioloop",
        choices=LOOP_NAMES,
        help="loop the ratios and targets are about (default aioloop)",
    )
    args = parser.parse_args(argv)
    mode = 1 if args.quick else 0
    if args.rounds is None:
        args.rounds = DEFAULT_ROUNDS[mode]
    if args.sizes is None:
        args.sizes = QUICK_SIZES_KIB if args.quick else list(SIZES_KIB)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not 1 <= args.connections <= 1000:
        parser.error("--connections must be between 1 and 1000")
    return args


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def probe_loops(names: list[str]) -> dict[str, dict[str, Any]]:
    """Check in a child process that each loop imports and runs a coroutine; describe it."""
    found: dict[str, dict[str, Any]] = {}
    for name in names:
        argv = [sys.executable, "-m", "benchmarks.worker", "probe", name]
        try:
            with Child(argv, f"{name} probe") as child:
                found[name] = child.read_json(60)
        except ChildError as exc:
            found[name] = {"error": str(exc)}
    return found


def find_tools(case_names: list[str]) -> tuple[Tools, list[str], list[str]]:
    """Build/find the load generators the cases need.

    Returns the tools, the cases that can run, and a note for each case left out.
    """
    echo_cases = [c for c in case_names if CASES[c].sized]
    echo_client = wrk = None
    notes: list[str] = []
    runnable = list(case_names)
    if echo_cases:
        try:
            echo_client = build_echo_client()
        except ToolError as exc:
            notes.append(f"{', '.join(echo_cases)}: {exc}")
            runnable = [c for c in runnable if c not in echo_cases]
    if "http" in case_names:
        try:
            wrk = find_wrk()
        except ToolError as exc:
            notes.append(f"http: {exc}")
            runnable.remove("http")
    return Tools(echo_client, wrk), runnable, notes


def _shown(sample: dict[str, Any]) -> str:
    if "error" in sample:
        return "not supported yet" if sample.get("unsupported") else f"error: {sample['error']}"
    first, steady = sample["first"], sample["steady"]
    return (
        f"{steady['rps'] / 1e3:6.1f}k req/s, user {steady['user_us']:.2f} µs/req"
        f" (first 1 s: {first['user_us']:.2f}), user+sys {steady['cpu_us']:.2f}"
    )


def run_rounds(
    args: argparse.Namespace, usable: list[str], todo: list[Cell], tools: Tools
) -> tuple[dict[Cell, dict[str, list[dict[str, Any]]]], bool]:
    """Measure every cell on every loop for every round; returns (results, interrupted)."""
    steady = STEADY_S[1 if args.quick else 0]
    results: dict[Cell, dict[str, list[dict[str, Any]]]] = {
        cell: {loop: [] for loop in usable} for cell in todo
    }
    skip: set[tuple[str, str]] = set()  # (case, loop): unsupported or hung, not retried
    try:
        for rnd in range(args.rounds):
            order = usable[rnd % len(usable) :] + usable[: rnd % len(usable)]
            for cell in todo:
                case, size_kib = cell
                for loop in order:
                    if (case, loop) in skip:
                        continue
                    plan = Plan(loop, case, size_kib * 1024, FIRST_S, steady, args.connections)
                    sample = measure(plan, tools)
                    if sample.get("unsupported") or sample.get("timed_out"):
                        skip.add((case, loop))
                    results[cell][loop].append(sample)
                    label = f"[round {rnd + 1}/{args.rounds}] {cell_label(cell):<16} {loop:<8}"
                    _progress(f"{label} {_shown(sample)}")
    except KeyboardInterrupt:
        _progress("interrupted: reporting what was measured so far")
        return results, True
    return results, False


def pool(paths: list[Path]) -> tuple[dict[str, Any], dict[Cell, dict[str, list[dict[str, Any]]]]]:
    """Merge the samples of several --json files: one report over all their rounds.

    The user CPU figures move by 10-20% from round to round on a shared
    machine; pooling two or three runs narrows the medians.  The runs must
    have measured the same loops (the first run's loop details are shown).
    """
    by_label = {cell_label(c): c for c in cells(list(CASES), list(range(1, 1025)))}
    results: dict[Cell, dict[str, list[dict[str, Any]]]] = {}
    metas: list[dict[str, Any]] = []
    for path in paths:
        try:
            payload = json.loads(path.read_text())
            metas.append(payload["meta"])
            runs = payload["results"].items()
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SystemExit(
                f"--pool: {path} is not a --json file of this benchmark: {exc}"
            ) from exc
        for label, per_loop in runs:
            if label not in by_label:
                raise SystemExit(f"--pool: {path}: unknown case {label!r}")
            merged = results.setdefault(by_label[label], {})
            for loop, samples in per_loop.items():
                merged.setdefault(loop, []).extend(samples)
    if len({tuple(sorted(m["loops"])) for m in metas}) > 1:
        raise SystemExit("--pool: the runs measured different loops")
    meta = dict(metas[0])
    meta["rounds"] = sum(int(m["rounds"]) for m in metas)
    meta["mode"] = f"{meta['mode']}; pooled from {len(paths)} runs ({', '.join(map(str, paths))})"
    meta["interrupted"] = any(m.get("interrupted") for m in metas)
    meta["left_out"] = sorted({note for m in metas for note in m.get("left_out", [])})
    order = {c: i for i, c in enumerate(by_label.values())}
    return meta, dict(sorted(results.items(), key=lambda item: order[item[0]]))


def main(argv: list[str] | None = None) -> int:
    """Run the networking benchmarks; the markdown report goes to stdout, progress to stderr."""
    args = parse_args(argv)
    if args.pool:
        meta, pooled = pool(args.pool)
        print(render(meta, pooled, args.subject))
        return 0
    started = time.monotonic()
    tools, runnable, left_out = find_tools(args.cases)
    for note in left_out:
        _progress(f"note: leaving out {note}")
    loops_info = probe_loops(args.loops)
    usable = [name for name in args.loops if "error" not in loops_info[name]]
    for name in args.loops:
        if name not in usable:
            _progress(f"note: {name} is not usable, skipping it: {loops_info[name]['error']}")
    todo = cells(runnable, args.sizes)
    if not usable or not todo:
        _progress("nothing to measure: no usable loop or no runnable case")
        return 1

    results, interrupted = run_rounds(args, usable, todo, tools)
    steady = STEADY_S[1 if args.quick else 0]
    meta: dict[str, Any] = {
        "python": sys.version.replace("\n", " "),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "rounds": args.rounds,
        "mode": ("quick" if args.quick else "normal")
        + f": per server, a first window of {FIRST_S} s, then a steady window of {steady} s",
        "load": f"{args.connections} connections on 127.0.0.1; echo: request/response"
        " ping-pong from a C epoll client; http: wrk -t1 --latency",
        "loops": loops_info,
        "left_out": left_out,
        "elapsed_s": round(time.monotonic() - started, 1),
        "interrupted": interrupted,
    }
    print(render(meta, results, args.subject))
    _progress(f"done in {meta['elapsed_s']} s")
    if args.json is not None:
        payload: dict[str, Any] = {
            "meta": meta,
            "results": {cell_label(c): per_loop for c, per_loop in results.items()},
        }
        if args.subject in usable:
            payload["summary"] = summarize(results, args.subject)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 130 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
