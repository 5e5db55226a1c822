"""CPython's ``test.test_asyncio`` on aioloop, gated on new failures.

One pytest test per ``test.test_asyncio`` module of the running interpreter,
each running ``python -m tests.conformance`` for that module in a subprocess
(which itself runs the module in a worker process); see
``tests/conformance/README.md``.

Select with ``-m conformance``, or leave out with ``-m "not conformance"``.
Environment:

``AIOLOOP_CONFORMANCE``
    ``full`` (default): every module; ``smoke``: a few core modules (for
    3.12/3.13); ``off``: skip.
``AIOLOOP_CONFORMANCE_LOOP``
    ``aioloop`` (default); ``asyncio`` checks that the harness reproduces
    stock results.
``AIOLOOP_CONFORMANCE_STRICT``
    ``1``: also fail when a listed expected failure passes or is stale.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MODE = os.environ.get("AIOLOOP_CONFORMANCE", "full").strip().lower()
LOOP = os.environ.get("AIOLOOP_CONFORMANCE_LOOP", "aioloop").strip()
STRICT = os.environ.get("AIOLOOP_CONFORMANCE_STRICT", "") not in ("", "0")
OFF = MODE in ("off", "0", "no", "false")

pytestmark = [
    pytest.mark.conformance,
    pytest.mark.skipif(OFF, reason="AIOLOOP_CONFORMANCE=off"),
]


def _harness(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.conformance", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _modules() -> list[str]:
    if OFF:
        return []
    proc = _harness("--print-modules", *(["--smoke"] if MODE == "smoke" else []), timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"cannot list test.test_asyncio modules:\n{proc.stdout}{proc.stderr}")
    return proc.stdout.split()


@pytest.fixture(scope="module")
def sane_loop() -> None:
    """Fail fast, once, when the loop cannot run a timer or asyncio.run()."""
    proc = _harness("--loop", LOOP, "--modules", "test_protocols", timeout=120)
    if "sanity check" in proc.stdout and proc.returncode != 0:
        pytest.fail(proc.stdout[-4000:], pytrace=False)


def test_lists_are_well_formed() -> None:
    proc = _harness("--check", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_test_is_classified() -> None:
    proc = _harness("--list", *(["--smoke"] if MODE == "smoke" else []), timeout=300)
    unclassified = [line for line in proc.stdout.splitlines() if "\tunclassified\t" in line]
    assert proc.returncode == 0 and not unclassified, (
        "add rules to tests/conformance/classification.py for:\n"
        + "\n".join(unclassified[:50])
        + proc.stderr[-2000:]
    )


@pytest.mark.parametrize("module", _modules())
def test_module(module: str, sane_loop: None, tmp_path: Path) -> None:
    out = tmp_path / f"{module}.json"
    args = ["--loop", LOOP, "--modules", module, "--json", str(out), "--no-sanity"]
    if STRICT:
        args.append("--strict")
    proc = _harness(*args)
    report = (
        proc.stdout[proc.stdout.find("\nmodule ") :] if "\nmodule " in proc.stdout else proc.stdout
    )
    if proc.returncode != 0:
        pytest.fail(f"{module} on {LOOP}:\n{report[-12000:]}\n{proc.stderr[-2000:]}", pytrace=False)
    gate = json.loads(out.read_text())["gate"]
    if gate["now_passing"] or gate["stale_entries"]:
        warnings.warn(
            f"{module}: prune tests/conformance/expected_failures.py: now passing "
            f"{gate['now_passing']}, stale {gate['stale_entries']}",
            stacklevel=1,
        )
