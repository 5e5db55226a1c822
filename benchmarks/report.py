"""Turn the collected samples into markdown: one table per case and a summary with targets.

Samples are the JSON dicts printed by ``benchmarks.worker``; a failed run is a
dict with an ``"error"`` key. Every figure shown for a loop is the median over
the rounds in which it succeeded; spread is min-max over those rounds.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TARGETS", "Target", "render", "summarize"]

Sample = dict[str, Any]
Results = dict[str, dict[str, list[Sample]]]  # case -> loop -> one sample per round

FAIRNESS = "fairness"
# Typographic marks, spelled as escapes so that linters do not take them for typos.
TIMES = "\u00d7"  # multiplication sign
DASH = "\u2013"  # en dash


@dataclass(frozen=True)
class Target:
    """Minimum speed ratios of the subject over asyncio and rloop for one case."""

    vs_asyncio: float = 2.0
    vs_rloop: float = 1.0


# From the issue: every case at least 2x asyncio and 1x rloop; call_soon,
# call_later timers and sleep(0) at least 1.2x rloop.
TARGETS: dict[str, Target] = {
    "call_soon_chain": Target(vs_rloop=1.2),
    "call_soon_batch": Target(vs_rloop=1.2),
    "call_later": Target(vs_rloop=1.2),
    "sleep0": Target(vs_rloop=1.2),
}
DEFAULT_TARGET = Target()
# Fairness: the subject's p50 and p99 I/O delay at most this many times uvloop's.
FAIRNESS_DELAY_LIMIT = 2.0


def _ok(samples: Sequence[Sample]) -> list[Sample]:
    return [s for s in samples if "error" not in s]


def _median(samples: Sequence[Sample], key: str) -> float | None:
    values = [float(s[key]) for s in _ok(samples)]
    return statistics.median(values) if values else None


def fmt_rate(value: float | None) -> str:
    """1234567 -> '1.23M', 45600 -> '45.6k'."""
    if value is None:
        return DASH
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def fmt_ratio(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}{TIMES}"


def fmt_us(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _spread(samples: Sequence[Sample]) -> str:
    values = [float(s["ops_per_sec"]) for s in _ok(samples)]
    if not values:
        return DASH
    return f"{fmt_rate(min(values))} {DASH} {fmt_rate(max(values))}"


def _failures(samples: Sequence[Sample]) -> list[str]:
    return [str(s["error"]) for s in samples if "error" in s]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _case_table(
    case: str, title: str, unit: str, per_loop: dict[str, list[Sample]], subject: str
) -> list[str]:
    base = _median(per_loop.get("asyncio", []), "ops_per_sec")
    mine = _median(per_loop.get(subject, []), "ops_per_sec")
    fair = case == FAIRNESS
    header = ["loop", f"{unit}/s (median)", f"min {DASH} max"]
    if fair:
        header += ["I/O delay p50 µs", "p99 µs", "max µs"]
    header += [f"{TIMES} asyncio"]
    show_subject = subject in per_loop
    if show_subject:
        header += [f"{subject} ÷ loop"]
    rows: list[list[str]] = []
    notes: list[str] = []
    for loop, samples in per_loop.items():
        rate = _median(samples, "ops_per_sec")
        failures = _failures(samples)
        if failures:
            notes.append(f"- {loop}: {len(failures)} of {len(samples)} runs failed: {failures[-1]}")
        row = [loop, fmt_rate(rate) if rate is not None else "error", _spread(samples)]
        if fair:
            row += [fmt_us(_median(samples, key)) for key in ("p50_us", "p99_us", "max_us")]
        row += [fmt_ratio(_ratio(rate, base))]
        if show_subject:
            row += [fmt_ratio(_ratio(mine, rate))]
        rows.append(row)
    lines = [f"### {title}", "", *_table(header, rows)]
    if notes:
        lines += ["", *notes]
    return [*lines, ""]


def _verdict(checks: Sequence[tuple[str, float | None, float, bool]], subject_failed: bool) -> str:
    """checks: (label, ratio, limit, higher_is_better). PASS / MISS (...) / n/a.

    A subject that ran and failed every round misses the target outright.
    """
    if subject_failed:
        return "MISS (failed)"
    missed = []
    unknown = []
    for label, ratio, limit, higher in checks:
        if ratio is None:
            unknown.append(label)
        elif (ratio < limit) if higher else (ratio > limit):
            missed.append(label)
    not_run = "; unmeasured: " + ", ".join(unknown) if unknown else ""
    if missed:
        return "MISS (" + ", ".join(missed) + not_run + ")"
    if len(unknown) == len(checks):
        return "n/a"
    return "PASS" + (f" ({not_run[2:]})" if unknown else "")


def summarize(results: Results, subject: str) -> list[dict[str, Any]]:
    """Per case, the subject's ratios against each peer and the target verdict."""
    rows: list[dict[str, Any]] = []
    for case, per_loop in results.items():
        mine = _median(per_loop.get(subject, []), "ops_per_sec")
        failed = bool(per_loop.get(subject)) and mine is None
        ratios = {
            peer: _ratio(mine, _median(samples, "ops_per_sec"))
            for peer, samples in per_loop.items()
            if peer != subject
        }
        target = TARGETS.get(case, DEFAULT_TARGET)
        checks = [
            (
                f"≥{target.vs_asyncio:g}{TIMES} asyncio",
                ratios.get("asyncio"),
                target.vs_asyncio,
                True,
            ),
            (f"≥{target.vs_rloop:g}{TIMES} rloop", ratios.get("rloop"), target.vs_rloop, True),
        ]
        rows.append(
            {
                "case": case,
                "metric": "ops/s",
                "ratios": ratios,
                "target": " and ".join(label for label, *_ in checks),
                "verdict": _verdict(checks, failed),
            }
        )
        if case == FAIRNESS:
            uv = per_loop.get("uvloop", [])
            delays = {
                key: _ratio(_median(per_loop.get(subject, []), key), _median(uv, key))
                for key in ("p50_us", "p99_us")
            }
            limit = FAIRNESS_DELAY_LIMIT
            rows.append(
                {
                    "case": case,
                    "metric": "I/O delay vs uvloop",
                    "ratios": {"uvloop": delays},
                    "target": f"p50 and p99 ≤{limit:g}{TIMES} uvloop",
                    "verdict": _verdict(
                        [
                            (f"p50 ≤{limit:g}{TIMES} uvloop", delays["p50_us"], limit, False),
                            (f"p99 ≤{limit:g}{TIMES} uvloop", delays["p99_us"], limit, False),
                        ],
                        failed,
                    ),
                }
            )
    return rows


def _summary_table(
    summary: list[dict[str, Any]], subject: str, peers: Sequence[str], titles: dict[str, str]
) -> list[str]:
    header = ["case", *(f"{subject} ÷ {peer}" for peer in peers), "target", "result"]
    rows = []
    for row in summary:
        cells = [titles.get(row["case"], row["case"])]
        if row["metric"] == "ops/s":
            cells += [fmt_ratio(row["ratios"].get(peer)) for peer in peers]
        else:
            cells[0] += " — I/O delay (lower is better)"
            delays = row["ratios"]["uvloop"]
            text = f"p50 {fmt_ratio(delays['p50_us'])}, p99 {fmt_ratio(delays['p99_us'])}"
            cells += [text if peer == "uvloop" else "" for peer in peers]
        cells += [row["target"], f"**{row['verdict']}**"]
        rows.append(cells)
    return [f"## {subject} ratio vs {' / '.join(peers)}", "", *_table(header, rows), ""]


def render(
    meta: dict[str, Any],
    results: Results,
    titles: dict[str, str],
    units: dict[str, str],
    subject: str,
) -> str:
    """The whole markdown report: header, one table per case, summary with PASS/MISS."""
    lines = [
        "# aioloop benchmarks",
        "",
        f"- Python {meta['python']}",
        f"- {meta['platform']}, {meta['cpus']} CPUs",
        f"- rounds: {meta['rounds']} (median over rounds; loops interleaved in every round)",
        f"- mode: {meta['mode']}",
        "- Absolute numbers on a shared machine are noisy: read the ratios.",
    ]
    if meta.get("interrupted"):
        lines.append("- **Interrupted**: partial results, some rounds are missing.")
    lines += [
        "",
        "Loops:",
        "",
    ]
    for name, info in meta["loops"].items():
        if "error" in info:
            lines.append(f"- {name}: **skipped**, not usable: {info['error']}")
        else:
            compiled = "compiled" if info.get("compiled") else "pure Python"
            lines.append(
                f"- {name} {info['version']}: `{info['loop_class']}` ({compiled}, {info['file']})"
            )
    lines.append("")
    for case, per_loop in results.items():
        lines += _case_table(
            case, titles.get(case, case), units.get(case, "ops"), per_loop, subject
        )

    peers = [
        loop for loop in meta["loops"] if loop != subject and "error" not in meta["loops"][loop]
    ]
    if subject not in meta["loops"] or "error" in meta["loops"][subject]:
        lines += [
            f"## {subject} ratios",
            "",
            f"{subject} did not run, so there are no ratios to report.",
            "",
        ]
    else:
        lines += _summary_table(summarize(results, subject), subject, peers, titles)
    return "\n".join(lines)
