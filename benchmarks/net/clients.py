"""The load generators: the C echo client (built here with gcc) and wrk for HTTP.

Neither uses any Python event loop, so every loop under test is loaded by
exactly the same client. Both are checked for before the run starts; when one
is missing the suite says how to get it and leaves its cases out.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "WRK_INSTALL_HINT",
    "ToolError",
    "WrkResult",
    "build_echo_client",
    "find_wrk",
    "run_wrk",
]

ECHO_CLIENT_SOURCE = Path(__file__).with_name("echo_client.c")
WRK_INSTALL_HINT = "install it with: apt-get update && apt-get install -y wrk"


class ToolError(RuntimeError):
    """A load generator is missing, failed to build, or failed to run."""


def build_echo_client(cc: str = "gcc") -> Path:
    """Compile echo_client.c once per source version; return the executable's path.

    The binary is cached in the temporary directory under the source's hash.
    Raises ToolError when there is no compiler or the build fails.
    """
    source = ECHO_CLIENT_SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"aioloop-bench-echo-client-{digest}"
    if target.exists():
        return target
    compiler = shutil.which(cc)
    if compiler is None:
        raise ToolError(f"no C compiler ({cc}) for the echo client; aioloop's build needs one too")
    partial = target.with_suffix(".partial")
    done = subprocess.run(
        [compiler, "-O2", "-Wall", "-o", str(partial), str(ECHO_CLIENT_SOURCE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise ToolError(f"building the echo client failed: {done.stderr.strip()[-500:]}")
    partial.replace(target)  # atomic: a concurrent run never sees half a binary
    return target


def find_wrk() -> Path:
    """Return wrk's path; raises ToolError (with the install command) when it is missing."""
    found = shutil.which("wrk")
    if found is None:
        raise ToolError(f"wrk is not installed; {WRK_INSTALL_HINT}")
    return Path(found)


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reports: requests completed, its duration, latency percentiles."""

    requests: int
    seconds: float
    p50_us: float
    p99_us: float
    errors: int
    first_error: str


_UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}
_DONE = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", re.M)
_PCT = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_SOCKET_ERRORS = re.compile(r"Socket errors: (.*)$", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def parse_wrk(text: str) -> WrkResult:
    """Parse ``wrk --latency`` output; raises ToolError when the totals are missing."""
    done = _DONE.search(text)
    pcts = {m.group(1): float(m.group(2)) * _UNIT_US[m.group(3)] for m in _PCT.finditer(text)}
    if done is None or set(pcts) != {"50", "99"}:
        raise ToolError(f"unexpected wrk output: {text.strip()[-300:]!r}")
    errors = 0
    reasons = []
    sock = _SOCKET_ERRORS.search(text)
    if sock:
        counts = [int(n) for n in re.findall(r"\d+", sock.group(1))]
        errors += sum(counts)
        if any(counts):
            reasons.append(f"socket errors: {sock.group(1).strip()}")
    bad = _NON_2XX.search(text)
    if bad:
        errors += int(bad.group(1))
        reasons.append(f"{bad.group(1)} non-2xx responses")
    return WrkResult(
        requests=int(done.group(1)),
        seconds=float(done.group(2)) * _UNIT_US[done.group(3)] / 1e6,
        p50_us=pcts["50"],
        p99_us=pcts["99"],
        errors=errors,
        first_error="; ".join(reasons),
    )


def run_wrk(wrk: Path, url: str, connections: int, seconds: int) -> WrkResult:
    """Run ``wrk -t1 -cN -dSs --latency URL`` and parse it.

    wrk takes whole seconds. Raises ToolError when wrk fails or hangs; the
    child is killed on every path (subprocess.run kills it on any exception,
    Ctrl-C included).
    """
    argv = [str(wrk), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    try:
        done = subprocess.run(
            [*argv, url],
            capture_output=True,
            text=True,
            timeout=seconds + 20,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"wrk did not finish within {seconds + 20} s") from exc
    if done.returncode != 0:
        raise ToolError(f"wrk failed: {(done.stderr or done.stdout).strip()[-300:]}")
    return parse_wrk(done.stdout)
