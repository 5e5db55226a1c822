"""Run one ``test.test_asyncio`` module on one loop; write results as JSON lines.

Started by ``runner.py``, one process per module, never by hand in normal
use (but ``python -m tests.conformance.worker --help`` works, for debugging a
single module).  Each line of ``--out`` is one event: ``module`` (what was
loaded), ``start`` (a test began), ``result`` (a test ended), ``stray`` (a
warning between tests), ``done``.  A ``start`` without its ``result`` tells
the parent which test hung or crashed the process: faulthandler dumps every
thread's stack to stderr and exits when a test outlives ``--test-timeout``.
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import importlib
import json
import sys
import time
import traceback
import unittest
import warnings
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any

from . import classification, substitution, variants
from .loops import get_spec

__all__ = ["main"]

PACKAGE = "test.test_asyncio"
# What unittest passes to add*(): typeshed's OptExcInfo.
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
# faulthandler needs a real file descriptor, not the test-buffered sys.stderr.
_STDERR = sys.__stderr__ if sys.__stderr__ is not None else sys.stderr

# Worst outcome wins when a test reports more than one (subtests, errors in
# tearDown after a failure).
_RANK = {
    "pass": 0,
    "xfail": 1,
    "skip": 2,
    "excluded": 3,
    "leak": 4,
    "xpass": 5,
    "fail": 6,
    "error": 7,
}


def _short_id(test_id: str) -> str:
    prefix = PACKAGE + "."
    return test_id[len(prefix) :] if test_id.startswith(prefix) else test_id


def _iter_tests(suite: unittest.TestSuite | unittest.TestCase) -> Iterator[unittest.TestCase]:
    if isinstance(suite, unittest.TestSuite):
        for item in suite:
            yield from _iter_tests(item)
    else:
        yield suite


def _split(short_id: str) -> tuple[str, str, str]:
    module, _, rest = short_id.partition(".")
    cls, _, method = rest.rpartition(".")
    return module, cls, method


class _Recorder(unittest.TestResult):
    """Collects one record per test and writes it when the test stops."""

    def __init__(
        self,
        out: IO[str],
        version: str,
        test_timeout: float,
        gc_each: bool,
        short_timeout: float,
        short_timeout_scopes: frozenset[str],
        leaks_fail: bool,
    ) -> None:
        super().__init__()
        self.buffer = True  # test output goes into failure reports, not the log
        self._out = out
        self._version = version
        self._timeout = test_timeout
        self._short_timeout = short_timeout
        self._short_timeout_scopes = short_timeout_scopes
        self._leaks_fail = leaks_fail
        self._gc_each = gc_each
        self._rec: dict[str, Any] | None = None
        self._t0 = 0.0
        self.warnings_seen: list[str] = []
        self.unraisable_seen: list[str] = []

    # -- output ----------------------------------------------------------
    def emit(self, event: dict[str, Any]) -> None:
        self._out.write(json.dumps(event) + "\n")
        self._out.flush()

    # -- per-test lifecycle ---------------------------------------------
    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        short = _short_id(test.id())
        module, cls, method = _split(short)
        found = classification.classify(module, type(test), method, cls, self._version)
        self._rec = {
            "event": "result",
            "id": short,
            "scope": found.scope,
            "reason": found.reason,
            "status": "pass",
            "message": "",
            "traceback": "",
        }
        self._flush_stray()
        substitution.take_loop_counts()
        self.emit({"event": "start", "id": short, "scope": found.scope, "reason": found.reason})
        timeout = (
            self._short_timeout if found.scope in self._short_timeout_scopes else self._timeout
        )
        faulthandler.dump_traceback_later(timeout, exit=True, file=_STDERR)
        self._t0 = time.perf_counter()

    def stopTest(self, test: unittest.TestCase) -> None:
        duration = time.perf_counter() - self._t0
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)
        if self._gc_each:
            # Attribute ResourceWarnings from __del__ to the test that leaked.
            gc.collect()
        rec = self._rec
        if rec is None:
            return
        rec["duration"] = round(duration, 4)
        rec["loops"] = substitution.take_loop_counts()
        rec["resource_warnings"] = self.warnings_seen
        rec["unraisable"] = self.unraisable_seen
        if (
            self._leaks_fail
            and rec["status"] == "pass"
            and (self.warnings_seen or self.unraisable_seen)
        ):
            # What -W error::ResourceWarning would do, except that a warning
            # raised in __del__ cannot fail the test by itself.
            rec["status"] = "leak"
            rec["message"] = (self.warnings_seen + self.unraisable_seen)[0]
        self.warnings_seen, self.unraisable_seen = [], []
        self.emit(rec)
        self._rec = None

    def _flush_stray(self) -> None:
        if self.warnings_seen or self.unraisable_seen:
            self.emit(
                {
                    "event": "stray",
                    "resource_warnings": self.warnings_seen,
                    "unraisable": self.unraisable_seen,
                }
            )
            self.warnings_seen, self.unraisable_seen = [], []

    def _set(self, status: str, message: str = "", tb: str = "") -> None:
        rec = self._rec
        assert rec is not None
        if _RANK[status] >= _RANK[rec["status"]]:
            rec["status"] = status
            if message:
                rec["message"] = message
        if tb:
            rec["traceback"] = (rec["traceback"] + "\n" + tb).strip()

    def _describe(self, err: _ExcInfo, test: unittest.TestCase) -> tuple[str, str]:
        """(last line of the exception, unittest's formatted traceback)."""
        exc = err[1]
        lines = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()
        message = lines[-1][:500] if lines else type(exc).__name__
        # The same text unittest itself reports (its own frames elided,
        # buffered stdout/stderr appended).
        formatted: str = self._exc_info_to_string(err, test)  # type: ignore[attr-defined]
        return message, formatted

    # -- outcomes --------------------------------------------------------
    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)

    def addFailure(self, test: unittest.TestCase, err: _ExcInfo) -> None:
        super().addFailure(test, err)
        self._set("fail", *self._describe(err, test))

    def addError(self, test: unittest.TestCase, err: _ExcInfo) -> None:
        super().addError(test, err)
        if self._rec is None:
            # setUpClass/tearDownModule and friends: no startTest() came first.
            self._fixture_error(test, err)
            return
        self._set("error", *self._describe(err, test))

    def _fixture_error(self, holder: Any, err: _ExcInfo) -> None:
        message, tb = self._describe(err, holder)
        self._emit_unstarted(holder, "error", message, tb)

    def _emit_unstarted(self, test: Any, status: str, message: str, tb: str = "") -> None:
        """Record an outcome that came without startTest().

        *test* is a TestCase, or an _ErrorHolder whose description reads
        "setUpClass (test.test_asyncio.mod.Class)".
        """
        if isinstance(test, unittest.TestCase):
            short = _short_id(test.id())
            module, cls, method = _split(short)
            found = classification.classify(module, type(test), method, cls, self._version)
        else:
            desc = str(getattr(test, "description", test))
            fixture, _, where = desc.partition(" (")
            where = _short_id(where.rstrip(")"))
            module, _, cls = where.partition(".")
            short = f"{where}.<{fixture}>"
            found = classification.classify(
                module, None, f"<{fixture}>", cls or "<module>", self._version
            )
        self.emit(
            {
                "event": "result",
                "id": short,
                "scope": found.scope,
                "reason": found.reason,
                "status": status,
                "message": message,
                "traceback": tb,
                "duration": 0.0,
                "loops": {},
                "resource_warnings": [],
                "unraisable": [],
            }
        )

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        if self._rec is None:
            # 3.12+ skips a test of a skipped class without startTest(); a
            # setUpClass that raises SkipTest reports through an _ErrorHolder.
            self._emit_unstarted(test, "skip", reason)
            return
        if reason.startswith(variants.EXCLUDED_PREFIX):
            self._set("excluded", reason[len(variants.EXCLUDED_PREFIX) :])
        else:
            self._set("skip", reason)

    def addExpectedFailure(self, test: unittest.TestCase, err: _ExcInfo) -> None:
        super().addExpectedFailure(test, err)
        self._set("xfail", "stock @expectedFailure")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._set("xpass", "stock @expectedFailure passed")

    def addSubTest(
        self, test: unittest.TestCase, subtest: unittest.TestCase, err: _ExcInfo | None
    ) -> None:
        super().addSubTest(test, subtest, err)
        if err is None or err[0] is None or self._rec is None:
            return
        message, tb = self._describe(err, subtest)
        status = "fail" if issubclass(err[0], test.failureException) else "error"
        self._set(status, f"{_short_id(subtest.id())}: {message}", tb)


def _install_warning_capture(recorder: _Recorder) -> None:
    warnings.simplefilter("always", ResourceWarning)
    original_show = warnings.showwarning

    def showwarning(
        message: Any,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: Any = None,
    ) -> None:
        if issubclass(category, ResourceWarning):
            recorder.warnings_seen.append(f"{filename}:{lineno}: {message}"[:300])
            return
        original_show(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning

    def unraisablehook(unraisable: Any) -> None:
        exc = unraisable.exc_value
        what = f"{type(exc).__name__}: {exc}" if exc is not None else "?"
        recorder.unraisable_seen.append(
            f"{unraisable.err_msg or 'unraisable'}: {what} (object {unraisable.object!r})"[:400]
        )

    sys.unraisablehook = unraisablehook


def _load(module_name: str) -> tuple[Any, list[str], str | None]:
    """Import the module and inject twins; return (module, notes, skip reason)."""
    try:
        module = importlib.import_module(f"{PACKAGE}.{module_name}")
    except unittest.SkipTest as exc:
        return None, [], str(exc)
    notes = variants.inject(module, module_name)
    return module, notes, None


def _select(
    tests: list[unittest.TestCase],
    version: str,
    run_internal: bool,
    skip_ids: set[str],
    only: list[str],
) -> tuple[list[unittest.TestCase], list[dict[str, Any]]]:
    import fnmatch

    chosen, not_run = [], []
    for test in tests:
        short = _short_id(test.id())
        if short in skip_ids:
            continue
        if only and not any(fnmatch.fnmatchcase(short, p) for p in only):
            continue
        module, cls, method = _split(short)
        found = classification.classify(module, type(test), method, cls, version)
        if found.scope in classification.RUN_ON_ASYNCIO_ONLY and not run_internal:
            not_run.append(
                {
                    "event": "result",
                    "id": short,
                    "scope": found.scope,
                    "reason": found.reason,
                    "status": "excluded",
                    "message": f"{found.scope}: not run on this loop",
                    "traceback": "",
                    "duration": 0.0,
                    "loops": {},
                    "resource_warnings": [],
                    "unraisable": [],
                }
            )
            continue
        chosen.append(test)
    return chosen, not_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance.worker")
    parser.add_argument("--loop", required=True)
    parser.add_argument("--module", required=True, help="e.g. test_events")
    parser.add_argument("--out", required=True, help="JSON-lines output file (appended)")
    parser.add_argument("--skip-ids", help="file with test ids already run, one a line")
    parser.add_argument("--only", nargs="*", default=[], help="fnmatch patterns on test ids")
    parser.add_argument("--include-internal", action="store_true")
    parser.add_argument("--test-timeout", type=float, default=60.0)
    parser.add_argument(
        "--short-timeout",
        type=float,
        default=15.0,
        help="seconds per test in --short-timeout-scopes",
    )
    parser.add_argument(
        "--short-timeout-scopes",
        default="",
        help="comma-separated scopes (not gated: a hang there costs less)",
    )
    parser.add_argument("--no-gc", action="store_true", help="no gc.collect() after each test")
    parser.add_argument(
        "--allow-leaks",
        action="store_true",
        help="a passing test with a ResourceWarning or unraisable exception passes",
    )
    parser.add_argument("--list", action="store_true", help="classify only, run nothing")
    args = parser.parse_args(argv)

    faulthandler.enable(file=_STDERR, all_threads=True)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    spec = get_spec(args.loop)
    substitution.install(spec)
    run_internal = spec.is_stock or args.include_internal

    skip_ids: set[str] = set()
    if args.skip_ids:
        with open(args.skip_ids) as f:
            skip_ids = {line.strip() for line in f if line.strip()}

    with open(args.out, "a") as out:
        recorder = _Recorder(
            out,
            version,
            args.test_timeout,
            gc_each=not args.no_gc,
            short_timeout=args.short_timeout,
            short_timeout_scopes=frozenset(s for s in args.short_timeout_scopes.split(",") if s),
            leaks_fail=not args.allow_leaks,
        )
        module, notes, skip_reason = _load(args.module)
        recorder.emit(
            {
                "event": "module",
                "module": args.module,
                "python": sys.version.split()[0],
                "loop": spec.name,
                "loop_class": f"{spec.loop_class.__module__}.{spec.loop_class.__qualname__}",
                "twins": notes,
                "skipped": skip_reason,
            }
        )
        if module is None:
            recorder.emit({"event": "done"})
            return 0
        suite = unittest.defaultTestLoader.loadTestsFromModule(module)
        tests = list(_iter_tests(suite))
        if args.list:
            for test in tests:
                short = _short_id(test.id())
                mod, cls, method = _split(short)
                found = classification.classify(mod, type(test), method, cls, version)
                recorder.emit(
                    {
                        "event": "classified",
                        "id": short,
                        "scope": found.scope,
                        "reason": found.reason,
                    }
                )
            recorder.emit({"event": "done"})
            return 0
        chosen, not_run = _select(tests, version, run_internal, skip_ids, args.only)
        for rec in not_run:
            recorder.emit(rec)
        _install_warning_capture(recorder)
        unittest.TestSuite(chosen).run(recorder)
        recorder._flush_stray()
        recorder.emit({"event": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
