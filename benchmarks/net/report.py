"""Markdown for the networking suite: one table per case, a warm-up view, and the targets.

A sample is what ``measure.measure`` returns: two windows (``first``,
``steady``) or an ``error`` (with ``unsupported`` when the loop lacks the
server API). Every figure is the median over the rounds that succeeded.
The figure that separates loops is the server's user CPU per request: on a
2-core machine the kernel bounds requests/s, and system time is mostly the
kernel's TCP work, the same for every loop.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from benchmarks.net.cases import CASES, WARMUP_LIMIT, Cell, cell_label

__all__ = ["render", "summarize"]

Sample = dict[str, Any]
Results = dict[Cell, dict[str, list[Sample]]]  # cell -> loop -> one sample per round

TIMES = "\u00d7"  # multiplication sign
DASH = "\u2013"  # en dash
UNSUPPORTED = "not supported yet"


def _ok(samples: Sequence[Sample]) -> list[Sample]:
    return [s for s in samples if "error" not in s]


def _median(samples: Sequence[Sample], window: str, key: str) -> float | None:
    values = [float(s[window][key]) for s in _ok(samples)]
    return statistics.median(values) if values else None


def _unsupported(samples: Sequence[Sample]) -> bool:
    return bool(samples) and all(s.get("unsupported") for s in samples)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _rate(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value / 1e3:.1f}k" if value >= 1e3 else f"{value:.0f}"


def _num(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def _times(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}{TIMES}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _warmup(samples: Sequence[Sample]) -> float | None:
    """First window ÷ steady window, on total (user+sys) CPU per request."""
    return _ratio(_median(samples, "first", "cpu_us"), _median(samples, "steady", "cpu_us"))


def _loop_row(
    size: str, loop: str, samples: list[Sample], subject_cpu: float | None, subject: str
) -> list[str]:
    if _unsupported(samples):
        return [size, loop, UNSUPPORTED, *[DASH] * 8]
    cpu = _median(samples, "steady", "user_us")
    values = [float(s["steady"]["user_us"]) for s in _ok(samples)]
    spread = f"{min(values):.2f} {DASH} {max(values):.2f}" if values else DASH
    return [
        size,
        loop,
        _rate(_median(samples, "steady", "rps")) if values else "error",
        _num(_median(samples, "steady", "p50_us"), 0),
        _num(_median(samples, "steady", "p99_us"), 0),
        f"**{_num(cpu)}**" if loop == subject and cpu is not None else _num(cpu),
        spread,
        _num(_median(samples, "steady", "cpu_us")),
        _num(_median(samples, "first", "user_us")),
        _times(_warmup(samples)),
        _times(_ratio(subject_cpu, cpu)),
    ]


def _case_table(case: str, results: Results, subject: str) -> list[str]:
    header = [
        "size",
        "loop",
        "requests/s",
        "p50 µs",
        "p99 µs",
        "user CPU µs/req",
        f"min {DASH} max",
        "user+sys µs/req",
        "first 1 s: user µs/req",
        "first ÷ steady (user+sys)",
        f"{subject} ÷ loop (user)",
    ]
    rows: list[list[str]] = []
    notes: list[str] = []
    for (name, size_kib), per_loop in results.items():
        if name != case:
            continue
        size = f"{size_kib} KiB" if size_kib else DASH
        subject_cpu = _median(per_loop.get(subject, []), "steady", "user_us")
        for loop, samples in per_loop.items():
            rows.append(_loop_row(size, loop, samples, subject_cpu, subject))
            failures = [str(s["error"]) for s in samples if "error" in s]
            if failures and not _unsupported(samples):
                where = f"{size} " if size_kib else ""
                notes.append(
                    f"- {where}{loop}: {len(failures)} of {len(samples)} runs failed: "
                    f"{failures[-1]}"
                )
    if not rows:
        return []
    lines = [f"### {case}: {CASES[case].title}", "", *_table(header, rows)]
    return [*lines, *(["", *notes] if notes else []), ""]


def _verdict(samples: list[Sample], checks: list[tuple[str, float | None, float]]) -> str:
    """checks: (label, value, upper limit). PASS, MISS (...), n/a, or not supported yet."""
    if _unsupported(samples):
        return UNSUPPORTED
    if samples and not _ok(samples):
        return "MISS (failed)"
    missed = [label for label, value, limit in checks if value is not None and value > limit]
    unknown = [label for label, value, _ in checks if value is None]
    not_run = "; unmeasured: " + ", ".join(unknown) if unknown else ""
    if missed:
        return "MISS (" + ", ".join(missed) + not_run + ")"
    if len(unknown) == len(checks):
        return "n/a"
    return "PASS" + (f" ({not_run[2:]})" if unknown else "")


def summarize(results: Results, subject: str) -> list[dict[str, Any]]:
    """Per cell: the subject's user-CPU ratios over each peer, its warm-up, the verdict."""
    rows: list[dict[str, Any]] = []
    for cell, per_loop in results.items():
        mine = per_loop.get(subject, [])
        cpu = _median(mine, "steady", "user_us")
        ratios = {
            peer: _ratio(cpu, _median(samples, "steady", "user_us"))
            for peer, samples in per_loop.items()
            if peer != subject
        }
        limit = CASES[cell[0]].cpu_vs_rloop
        warmup = _warmup(mine)
        checks = [
            (f"≤{limit:g}{TIMES} rloop", ratios.get("rloop"), limit),
            (f"first s ≤{WARMUP_LIMIT:g}{TIMES} steady", warmup, WARMUP_LIMIT),
        ]
        rows.append(
            {
                "cell": cell_label(cell),
                "ratios": ratios,
                "warmup": warmup,
                "target": " and ".join(label for label, *_ in checks),
                "verdict": _verdict(mine, checks),
            }
        )
    return rows


def _summary_table(results: Results, subject: str, peers: Sequence[str]) -> list[str]:
    header = [
        "case",
        *(f"÷ {peer}" for peer in peers),
        "first ÷ steady",
        "target",
        "result",
    ]
    rows = [
        [
            row["cell"],
            *(_times(row["ratios"].get(peer)) for peer in peers),
            _times(row["warmup"]),
            row["target"],
            f"**{row['verdict']}**",
        ]
        for row in summarize(results, subject)
    ]
    return [
        f"## {subject}: user CPU per request ÷ each loop's (lower is better)",
        "",
        *_table(header, rows),
        "",
    ]


def _header(meta: dict[str, Any]) -> list[str]:
    lines = [
        "# aioloop networking benchmarks",
        "",
        f"- Python {meta['python']}",
        f"- {meta['platform']}, {meta['cpus']} CPUs",
        f"- rounds: {meta['rounds']} (median over rounds; loops interleaved in every round)",
        f"- mode: {meta['mode']}",
        f"- load: {meta['load']}",
        "- CPU figures are the server process's, per request served. User time is sampled "
        "by the kernel's tick: expect ±10% per round; read the medians and ratios.",
    ]
    if meta.get("interrupted"):
        lines.append("- **Interrupted**: partial results, some rounds are missing.")
    lines += [f"- **Left out**: {note}" for note in meta.get("left_out", [])]
    lines += ["", "Loops:", ""]
    for name, info in meta["loops"].items():
        if "error" in info:
            lines.append(f"- {name}: **skipped**, not usable: {info['error']}")
        else:
            compiled = "compiled" if info.get("compiled") else "pure Python"
            lines.append(
                f"- {name} {info['version']}: `{info['loop_class']}` ({compiled}, {info['file']})"
            )
    return [*lines, ""]


def render(meta: dict[str, Any], results: Results, subject: str) -> str:
    """The whole markdown report: header, a table per case, the summary with PASS/MISS."""
    lines = _header(meta)
    for case in CASES:
        lines += _case_table(case, results, subject)
    usable = [name for name, info in meta["loops"].items() if "error" not in info]
    if subject in usable and results:
        lines += _summary_table(results, subject, [p for p in usable if p != subject])
    else:
        lines += [f"## {subject}", "", f"{subject} did not run, so there are no ratios.", ""]
    return "\n".join(lines)
