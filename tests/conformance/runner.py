"""Parent side: one worker process per module, one at a time.

A module whose worker hangs or crashes is restarted after the test that was
running, which is recorded as ``timeout`` or ``crash`` with the tail of the
worker's stderr (faulthandler's stack dump) as its traceback.  So a hang in
one test costs that test, not the module, and never the whole run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["REPO_ROOT", "ModuleRun", "list_modules", "python_version", "run_module", "sanity_check"]

REPO_ROOT = Path(__file__).resolve().parents[2]
# A loop that crashes on every test would otherwise cost one process start
# per test; past this many restarts the module is abandoned (and reported).
MAX_RESTARTS = 40
_STDERR_TAIL = 80


@dataclass
class ModuleRun:
    """What one module produced, across worker restarts."""

    module: str
    results: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    stray: list[dict[str, Any]] = field(default_factory=list)
    harness_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    restarts: int = 0


def list_modules(python: str) -> list[str]:
    """Names of the ``test_*`` modules in *python*'s ``test.test_asyncio``."""
    code = (
        "import pkgutil, test.test_asyncio as p; "
        "print('\\n'.join(sorted(m.name for m in pkgutil.iter_modules(p.__path__) "
        "if m.name.startswith('test_'))))"
    )
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.split()


def _tail(path: Path, lines: int = _STDERR_TAIL) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_module(
    module: str,
    *,
    loop: str,
    python: str,
    only: list[str],
    include_internal: bool,
    test_timeout: float,
    module_timeout: float,
    gc_each: bool = True,
    extra: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ModuleRun:
    """Run *module* to completion (restarting after hangs and crashes)."""
    run = ModuleRun(module)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"conformance-{module}-") as tmp:
        tmpdir = Path(tmp)
        out_path = tmpdir / "results.jsonl"
        skip_path = tmpdir / "skip-ids"
        done_ids: list[str] = []
        for attempt in range(MAX_RESTARTS + 1):
            skip_path.write_text("\n".join(done_ids) + "\n")
            err_path = tmpdir / f"stderr-{attempt}.txt"
            out_path.write_text("")
            cmd = [
                python,
                "-m",
                "tests.conformance.worker",
                "--loop",
                loop,
                "--module",
                module,
                "--out",
                str(out_path),
                "--skip-ids",
                str(skip_path),
                "--test-timeout",
                str(test_timeout),
            ]
            if only:
                cmd += ["--only", *only]
            if include_internal:
                cmd.append("--include-internal")
            if not gc_each:
                cmd.append("--no-gc")
            cmd += extra or []
            env = dict(os.environ)
            env.setdefault("PYTHONFAULTHANDLER", "1")
            remaining = module_timeout - (time.monotonic() - started)
            timed_out = False
            with open(err_path, "w") as err_file:
                proc = subprocess.Popen(
                    cmd,
                    cwd=REPO_ROOT,
                    env=env,
                    stdout=err_file,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                try:
                    returncode = proc.wait(timeout=max(remaining, 1.0))
                except subprocess.TimeoutExpired:
                    timed_out = True
                    # The worker runs in its own session: kill it and any
                    # child it left behind (subprocess tests spawn some).
                    try:
                        os.killpg(proc.pid, 9)
                    except ProcessLookupError:
                        pass
                    returncode = proc.wait()
            finished, running = _collect(out_path, run, done_ids)
            if finished:
                if returncode != 0:
                    run.harness_errors.append(
                        f"worker exited {returncode} after finishing:\n{_tail(err_path, 20)}"
                    )
                break
            if running is None:
                # Died before or between tests: nothing to blame, no point retrying.
                run.harness_errors.append(
                    f"worker exited {returncode} outside any test:\n{_tail(err_path)}"
                )
                break
            stderr_tail = _tail(err_path)
            status = "timeout" if (timed_out or "Timeout (" in stderr_tail) else "crash"
            run.results.append(
                {
                    "id": running["id"],
                    "scope": running["scope"],
                    "reason": running["reason"],
                    "status": status,
                    "message": (
                        "worker timed out in this test"
                        if status == "timeout"
                        else f"worker died (exit {returncode}) in this test"
                    ),
                    "traceback": stderr_tail,
                    "duration": None,
                    "loops": {},
                    "resource_warnings": [],
                    "unraisable": [],
                }
            )
            done_ids.append(running["id"])
            run.restarts += 1
            if progress:
                progress(f"  {module}: {status} in {running['id']}; restarting after it")
            if timed_out:
                run.harness_errors.append(f"module timeout ({module_timeout:.0f}s) reached")
                break
        else:
            run.harness_errors.append(f"gave up after {MAX_RESTARTS} restarts")
    run.seconds = time.monotonic() - started
    return run


def _collect(path: Path, run: ModuleRun, done_ids: list[str]) -> tuple[bool, dict[str, Any] | None]:
    """Fold one attempt's events into *run*; return (finished, id left running)."""
    running: dict[str, Any] | None = None
    finished = False
    with open(path) as f:
        for line in f:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
            kind = event.pop("event")
            if kind == "module":
                run.info = event
            elif kind == "start":
                running = event
            elif kind == "result":
                run.results.append(event)
                done_ids.append(event["id"])
                if running is not None and event["id"] == running["id"]:
                    running = None
            elif kind == "classified":  # --list
                run.results.append(event)
            elif kind == "stray":
                run.stray.append(event)
            elif kind == "done":
                finished = True
    return finished, running


def python_version(python: str) -> str:
    """``"3.11"`` for *python*."""
    if python == sys.executable:
        return f"{sys.version_info[0]}.{sys.version_info[1]}"
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


_SANITY = """
import asyncio, sys, threading
from tests.conformance import loops, substitution
substitution.install(loops.get_spec(sys.argv[1]))
loop = asyncio.new_event_loop()
fut = loop.create_future()
loop.call_later(0.01, fut.set_result, 1)
assert loop.run_until_complete(fut) == 1
threading.Thread(target=loop.call_soon_threadsafe, args=(loop.stop,)).start()
loop.run_forever()
assert loop.run_until_complete(asyncio.sleep(0.01, result=2)) == 2
loop.close()
assert asyncio.run(asyncio.sleep(0, result=3)) == 3
print(type(loop).__module__ + "." + type(loop).__qualname__)
"""


def sanity_check(python: str, loop: str) -> tuple[bool, str]:
    """Can *loop* run a timer, a thread wake-up and asyncio.run() at all?

    Returns (ok, loop class name or the failure's output).  Run before the
    modules so that a loop that crashes on everything fails in seconds with
    one clear message instead of a thousand crash records.
    """
    try:
        proc = subprocess.run(
            [python, "-X", "faulthandler", "-c", _SANITY, loop],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return False, "timed out after 60s"
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip().splitlines()
        return False, f"exit {proc.returncode}:\n" + "\n".join(out[-25:])
    return True, proc.stdout.strip()
