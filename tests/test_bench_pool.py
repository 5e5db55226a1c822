"""``python -m benchmarks.net --pool``: one report over the rounds of several runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.net.run import main, pool


def _window(requests: int, user_s: float) -> dict[str, Any]:
    return {
        "requests": requests,
        "seconds": 1.0,
        "rps": float(requests),
        "p50_us": 100.0,
        "p99_us": 200.0,
        "user_s": user_s,
        "sys_s": 1.0,
        "user_us": user_s * 1e6 / requests,
        "cpu_us": (user_s + 1.0) * 1e6 / requests,
        "faults_per_req": 0.0,
    }


def _run(
    path: Path, user_us: dict[str, list[float]], loops: tuple[str, ...] = ("aioloop", "rloop")
) -> Path:
    # A --json file with one sample per round and loop for 'protocol 1 KiB'.
    per_loop = {
        loop: [
            {
                "first": _window(100_000, u * 0.1),
                "steady": _window(100_000, u * 0.1),
                "loop_class": loop,
            }
            for u in user_us[loop]
        ]
        for loop in loops
    }
    meta = {
        "python": "3.11.7",
        "platform": "Linux x86_64",
        "cpus": 2,
        "rounds": len(user_us[loops[0]]),
        "mode": "normal",
        "load": "test",
        "loops": {
            loop: {"version": "1", "loop_class": loop, "file": "x", "compiled": True}
            for loop in loops
        },
        "left_out": [],
        "elapsed_s": 1.0,
        "interrupted": False,
    }
    path.write_text(json.dumps({"meta": meta, "results": {"protocol 1 KiB": per_loop}}))
    return path


def test_pool_merges_the_rounds_of_every_run(tmp_path: Path) -> None:
    a = _run(tmp_path / "a.json", {"aioloop": [1.0, 1.0], "rloop": [2.0, 2.0]})
    b = _run(tmp_path / "b.json", {"aioloop": [3.0], "rloop": [2.0]})
    meta, results = pool([a, b])
    assert meta["rounds"] == 3
    assert "pooled from 2 runs" in meta["mode"]
    (cell,) = results
    assert cell == ("protocol", 1)
    assert [s["steady"]["user_us"] for s in results[cell]["aioloop"]] == pytest.approx(
        [1.0, 1.0, 3.0]
    )
    assert len(results[cell]["rloop"]) == 3


def test_pool_reports_the_median_over_all_rounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Medians over the pooled rounds: aioloop 1.0 (of 1, 1, 3) against
    # rloop 2.0 is 0.50x; either run alone would say 0.50x or 1.50x.
    a = _run(tmp_path / "a.json", {"aioloop": [1.0, 1.0], "rloop": [2.0, 2.0]})
    b = _run(tmp_path / "b.json", {"aioloop": [3.0], "rloop": [2.0]})
    assert main(["--pool", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "rounds: 3" in out
    assert "0.50×" in out


def test_pool_refuses_runs_of_different_loops_and_foreign_files(tmp_path: Path) -> None:
    a = _run(tmp_path / "a.json", {"aioloop": [1.0], "rloop": [2.0]})
    b = _run(tmp_path / "b.json", {"aioloop": [1.0], "uvloop": [2.0]}, loops=("aioloop", "uvloop"))
    with pytest.raises(SystemExit, match="different loops"):
        pool([a, b])
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(SystemExit, match="not a --json file"):
        pool([bad])
