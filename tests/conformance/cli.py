"""Command line: ``python -m tests.conformance --help``."""

from __future__ import annotations

import argparse
import json
import sys
import time

from . import checks, classification, report, runner
from .loops import LOOP_NAMES

__all__ = ["SMOKE_MODULES", "main"]

# A few minutes' worth of the core scope, for 3.12/3.13 in CI.
SMOKE_MODULES = (
    "test_eager_task_factory",  # 3.12+
    "test_events",
    "test_futures",
    "test_locks",
    "test_queues",
    "test_runners",
    "test_sock_lowlevel",
    "test_taskgroups",
    "test_tasks",
    "test_threads",
    "test_timeouts",
    "test_waitfor",
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tests.conformance",
        description="Run CPython's test.test_asyncio on a substituted event loop "
        "and gate on new failures.",
    )
    p.add_argument("--loop", choices=LOOP_NAMES, default="aioloop")
    p.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter whose test.test_asyncio runs (default: this one)",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--modules", nargs="+", metavar="MODULE", help="e.g. test_tasks test_events")
    which.add_argument("--smoke", action="store_true", help="only: " + " ".join(SMOKE_MODULES))
    p.add_argument(
        "--tests",
        nargs="+",
        default=[],
        metavar="PATTERN",
        help="fnmatch patterns on test ids, e.g. 'test_tasks.ConformanceCTask*'",
    )
    p.add_argument(
        "--include-internal",
        action="store_true",
        help="also run 'internal' tests on a loop other than asyncio",
    )
    p.add_argument(
        "--gate",
        default=",".join(sorted(classification.GATED_SCOPES)),
        help="comma-separated scopes that fail the gate (default: %(default)s)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="also fail when an expected failure now passes or matches no test",
    )
    p.add_argument("--json", metavar="PATH", help="write every result here")
    p.add_argument("--list", action="store_true", help="print the classification; run nothing")
    p.add_argument(
        "--check",
        action="store_true",
        help="check the classification and expected-failure lists; run nothing",
    )
    p.add_argument(
        "--print-modules",
        action="store_true",
        help="print the modules that would run, one a line; run nothing",
    )
    p.add_argument(
        "--no-sanity", action="store_true", help="skip the loop sanity check before the modules"
    )
    p.add_argument("--test-timeout", type=float, default=60.0, help="seconds per test (default 60)")
    p.add_argument(
        "--module-timeout", type=float, default=600.0, help="seconds per module (default 600)"
    )
    p.add_argument(
        "--no-gc",
        action="store_true",
        help="skip gc.collect() after each test "
        "(faster; ResourceWarnings less precisely attributed)",
    )
    p.add_argument(
        "--allow-leaks",
        action="store_true",
        help="do not fail a passing test that leaves a ResourceWarning or unraisable exception",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="tracebacks of new failures")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    all_modules = runner.list_modules(args.python)
    if args.modules:
        unknown = sorted(set(args.modules) - set(all_modules))
        if unknown:
            print(f"unknown modules: {' '.join(unknown)}", file=sys.stderr)
            return 2
        modules = args.modules
    elif args.smoke:
        modules = [m for m in SMOKE_MODULES if m in all_modules]
    else:
        modules = all_modules
    version = runner.python_version(args.python)
    gate = frozenset(s for s in args.gate.split(",") if s)
    bad = gate - set(classification.SCOPES)
    if bad:
        print(f"unknown scopes in --gate: {' '.join(sorted(bad))}", file=sys.stderr)
        return 2

    if args.check:
        problems = checks.check_lists()
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problems")
        return 1 if problems else 0
    if args.print_modules:
        print("\n".join(modules))
        return 0
    if args.list:
        return _list(modules, args)

    started = time.monotonic()
    ok, what = (
        (True, "sanity check skipped")
        if args.no_sanity
        else runner.sanity_check(args.python, args.loop)
    )
    if not ok:
        print(
            f"conformance: loop={args.loop} python={version}: the loop fails a 10-line "
            f"sanity check (timer, thread wake-up, asyncio.run); not running the suite.\n{what}"
        )
        return 1
    print(
        f"conformance: loop={args.loop} ({what}) python={version} ({args.python}) "
        f"modules={len(modules)}",
        flush=True,
    )
    is_stock = args.loop == "asyncio"
    extra = ["--allow-leaks"] if args.allow_leaks else []
    # Scopes outside the gate hang more often (a server thread waiting for a
    # client the loop cannot create): give them a shorter per-test timeout.
    short_scopes = "" if is_stock else ",".join(sorted(set(classification.SCOPES) - gate))
    runs = []
    for module in modules:
        run = runner.run_module(
            module,
            loop=args.loop,
            python=args.python,
            only=args.tests,
            include_internal=args.include_internal,
            test_timeout=args.test_timeout,
            module_timeout=args.module_timeout,
            gc_each=not args.no_gc,
            extra=extra + (["--short-timeout-scopes", short_scopes] if short_scopes else []),
            progress=lambda msg: print(msg, flush=True),
        )
        bad_count = sum(1 for r in run.results if r["status"] in report.BAD)
        print(
            f"  {module:<26} {len(run.results):>5} tests  {bad_count:>4} failed  "
            f"{run.seconds:6.1f}s",
            flush=True,
        )
        runs.append(run)
    verdict = report.evaluate(
        runs, args.loop, version, is_stock=is_stock, gate_scopes=gate, filtered=bool(args.tests)
    )
    report.print_report(runs, verdict, sys.stdout, strict=args.strict, verbose=args.verbose)
    print(f"total time {time.monotonic() - started:.1f}s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report.to_json(runs, verdict, strict=args.strict), f, indent=1)
    return 0 if verdict.ok(args.strict) else 1


def _list(modules: list[str], args: argparse.Namespace) -> int:
    unclassified = 0
    for module in modules:
        run = runner.run_module(
            module,
            loop="asyncio",
            python=args.python,
            only=[],
            include_internal=True,
            test_timeout=60,
            module_timeout=120,
            extra=["--list"],
        )
        if run.info.get("skipped"):
            print(f"{module}: module skipped on this platform ({run.info['skipped']})")
        for err in run.harness_errors:
            print(f"{module}: HARNESS ERROR {err}")
        for res in run.results:
            unclassified += res["scope"] == "unclassified"
            print(f"{res['id']}\t{res['scope']}\t{res['reason']}")
    print(f"# {unclassified} unclassified", file=sys.stderr)
    return 1 if unclassified else 0
