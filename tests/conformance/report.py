"""Judge a run against the classification and the expected failures; print it."""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from . import classification
from .expected_failures import EXPECTED_FAILURES, XFail, lookup
from .runner import ModuleRun

__all__ = ["BAD", "Verdict", "evaluate", "print_report", "to_json"]

# Outcomes that count as a failure of the loop.
# "leak": passed, but left a ResourceWarning or an unraisable exception.
BAD = frozenset({"fail", "error", "timeout", "crash", "xpass", "leak"})
STATUSES = (
    "pass",
    "fail",
    "error",
    "timeout",
    "crash",
    "leak",
    "skip",
    "excluded",
    "xfail",
    "xpass",
)


@dataclass
class Verdict:
    loop: str
    version: str
    gated_scopes: frozenset[str]
    new_failures: list[dict[str, Any]] = field(default_factory=list)
    expected: list[tuple[dict[str, Any], XFail]] = field(default_factory=list)
    now_passing: list[tuple[dict[str, Any], XFail]] = field(default_factory=list)
    unclassified: list[dict[str, Any]] = field(default_factory=list)
    out_of_scope: list[dict[str, Any]] = field(default_factory=list)
    leaks: list[dict[str, Any]] = field(default_factory=list)
    resource_warnings: list[dict[str, Any]] = field(default_factory=list)
    harness_errors: list[str] = field(default_factory=list)
    stale_entries: list[XFail] = field(default_factory=list)
    by_scope: dict[str, collections.Counter[str]] = field(default_factory=dict)

    def ok(self, strict: bool = False) -> bool:
        """True when the gate passes."""
        if self.new_failures or self.unclassified or self.harness_errors:
            return False
        return not (strict and (self.now_passing or self.stale_entries))


def evaluate(
    runs: Iterable[ModuleRun],
    loop: str,
    version: str,
    *,
    is_stock: bool,
    gate_scopes: frozenset[str],
    filtered: bool,
) -> Verdict:
    """Sort every result into the verdict's buckets."""
    # On asyncio every scope is gated: the harness must not break stock tests.
    gated_scopes = frozenset(classification.SCOPES) if is_stock else gate_scopes
    verdict = Verdict(loop, version, gated_scopes)
    matched_entries: set[XFail] = set()
    modules_run: set[str] = set()
    for run in runs:
        modules_run.add(run.module)
        verdict.harness_errors += [f"{run.module}: {e}" for e in run.harness_errors]
        for res in run.results:
            scope = res.get("scope") or "unclassified"
            status = res["status"]
            verdict.by_scope.setdefault(scope, collections.Counter())[status] += 1
            if scope == "unclassified":
                verdict.unclassified.append(res)
                continue
            if res.get("resource_warnings") or res.get("unraisable"):
                verdict.resource_warnings.append(res)
            stock_loops = [
                k for k in res.get("loops", {}) if k.startswith("stock:") and k != "stock:TestLoop"
            ]
            if not is_stock and stock_loops and scope != "internal":
                verdict.leaks.append(res)
            entry = lookup(res["id"], loop, version)
            if entry is not None:
                matched_entries.add(entry)
            if status in BAD:
                if entry is not None:
                    verdict.expected.append((res, entry))
                elif scope in gated_scopes:
                    verdict.new_failures.append(res)
                else:
                    verdict.out_of_scope.append(res)
            elif status == "pass" and entry is not None and not entry.flaky:
                verdict.now_passing.append((res, entry))
    if not filtered:
        # An entry names its module first (checked by --check), so a run of
        # some modules can tell which of their entries matched nothing.
        verdict.stale_entries = [
            e
            for e in EXPECTED_FAILURES
            if loop in e.loops
            and (not e.versions or version in e.versions)
            and e.pattern.split(".", 1)[0] in modules_run
            and e not in matched_entries
        ]
    return verdict


def _first_line(res: dict[str, Any]) -> str:
    msg = (res.get("message") or "").strip().splitlines()
    return msg[0][:160] if msg else ""


def print_report(
    runs: list[ModuleRun], verdict: Verdict, out: TextIO, *, strict: bool, verbose: bool
) -> None:
    """Human-readable summary: modules, scopes, then what needs attention."""
    w = out.write
    w(
        f"\n{'module':<26}{'run':>6}{'pass':>6}{'fail':>6}{'err':>6}{'skip':>6}{'excl':>6}"
        f"{'t/o':>5}{'leak':>5}{'time':>8}\n"
    )
    for run in runs:
        c = collections.Counter(r["status"] for r in run.results)
        ran = sum(v for k, v in c.items() if k != "excluded")
        note = " (module skipped)" if run.info.get("skipped") else ""
        w(
            f"{run.module:<26}{ran:>6}{c['pass'] + c['xfail']:>6}{c['fail'] + c['xpass']:>6}"
            f"{c['error']:>6}{c['skip']:>6}{c['excluded']:>6}{c['timeout'] + c['crash']:>5}"
            f"{c['leak']:>5}{run.seconds:>7.1f}s{note}\n"
        )
    w(f"\n{'scope':<14}{'gated':>6}" + "".join(f"{s:>9}" for s in STATUSES) + "\n")
    total: collections.Counter[str] = collections.Counter()
    for scope in (*classification.SCOPES, "unclassified"):
        counts = verdict.by_scope.get(scope)
        if not counts:
            continue
        total.update(counts)
        gated = "yes" if scope in verdict.gated_scopes else "no"
        w(f"{scope:<14}{gated:>6}" + "".join(f"{counts[s]:>9}" for s in STATUSES) + "\n")
    w(f"{'total':<14}{'':>6}" + "".join(f"{total[s]:>9}" for s in STATUSES) + "\n")

    if verdict.harness_errors:
        w(f"\nHARNESS ERRORS ({len(verdict.harness_errors)}):\n")
        for err in verdict.harness_errors:
            w("  " + err.replace("\n", "\n    ") + "\n")
    if verdict.unclassified:
        w(f"\nUNCLASSIFIED ({len(verdict.unclassified)}): add rules to classification.py\n")
        for res in verdict.unclassified[:50]:
            w(f"  {res['id']}\n")
    if verdict.new_failures:
        w(f"\nNEW FAILURES ({len(verdict.new_failures)}): gated, not in expected_failures.py\n")
        for res in verdict.new_failures:
            w(f"  {res['id']} [{res['scope']}] {res['status']}: {_first_line(res)}\n")
            if verbose and res.get("traceback"):
                w("    " + res["traceback"].strip().replace("\n", "\n    ") + "\n")
    if verdict.now_passing:
        w(
            f"\nNOW PASSING ({len(verdict.now_passing)}): "
            "listed in expected_failures.py; prune the entries\n"
        )
        for res, entry in verdict.now_passing:
            w(f"  {res['id']}  (entry {entry.pattern!r})\n")
    if verdict.stale_entries:
        w(f"\nSTALE ENTRIES ({len(verdict.stale_entries)}): match no test of the modules run\n")
        for entry in verdict.stale_entries:
            w(f"  {entry.pattern!r}: {entry.reason}\n")
    if verdict.expected:
        w(f"\nexpected failures still failing: {len(verdict.expected)}\n")
    if verdict.out_of_scope:
        by: collections.Counter[str] = collections.Counter(r["scope"] for r in verdict.out_of_scope)
        w(
            "failures in scopes not gated: "
            + ", ".join(f"{k} {v}" for k, v in sorted(by.items()))
            + "\n"
        )
    if verdict.leaks:
        w(f"tests that also ran on an asyncio loop (substitution leak?): {len(verdict.leaks)}\n")
        for res in verdict.leaks[:20]:
            w(f"  {res['id']} {res['loops']}\n")
    if verdict.resource_warnings:
        w(
            f"tests with ResourceWarning or unraisable exceptions: {len(verdict.resource_warnings)}"
            " (details in --json; a passing one has status 'leak')\n"
        )
    stray = sum(
        len(s["resource_warnings"]) + len(s["unraisable"]) for run in runs for s in run.stray
    )
    if stray:
        w(f"ResourceWarnings or unraisable exceptions between tests: {stray} (see --json)\n")
    w(
        f"\nGATE: {'PASSED' if verdict.ok(strict) else 'FAILED'} "
        f"(loop={verdict.loop}, python={verdict.version}, gated scopes: "
        f"{', '.join(sorted(verdict.gated_scopes))})\n"
    )


def to_json(runs: list[ModuleRun], verdict: Verdict, *, strict: bool) -> dict[str, Any]:
    """Everything, for tooling and for the triage."""
    return {
        "loop": verdict.loop,
        "python": verdict.version,
        "gate": {
            "passed": verdict.ok(strict),
            "gated_scopes": sorted(verdict.gated_scopes),
            "new_failures": [r["id"] for r in verdict.new_failures],
            "now_passing": [r["id"] for r, _ in verdict.now_passing],
            "unclassified": [r["id"] for r in verdict.unclassified],
            "harness_errors": verdict.harness_errors,
            "stale_entries": [e.pattern for e in verdict.stale_entries],
        },
        "by_scope": {k: dict(v) for k, v in verdict.by_scope.items()},
        "modules": {
            run.module: {
                "seconds": round(run.seconds, 2),
                "restarts": run.restarts,
                "harness_errors": run.harness_errors,
                "info": run.info,
                "stray": run.stray,
            }
            for run in runs
        },
        "tests": [r for run in runs for r in run.results],
    }
