"""Child processes for the networking suite: start them, talk to them in lines, kill them.

Every child gets its own session (so its whole process group can be killed
at once, and a Ctrl-C in the terminal reaches only the driver, which cleans
up), a stdin pipe (its EOF tells the child to exit if the driver dies), and
a stdout pipe read with a deadline, so no read can hang the suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

__all__ = ["Child", "ChildError"]

REPO_ROOT = Path(__file__).resolve().parents[2]


class ChildError(RuntimeError):
    """A child process did not answer in time, said something unreadable, or died."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class Child:
    """A child process spoken to through stdin/stdout lines; see the module docstring.

    Use it as a context manager: leaving the block kills the process group,
    whatever happened inside.
    """

    def __init__(self, argv: Sequence[str], what: str) -> None:
        self.what = what
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        # stderr goes to a file: a chatty child must never block on a full pipe.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            list(argv),
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
        )
        self._pending = b""

    @property
    def pid(self) -> int:
        """The child's process id (also its process group id)."""
        return self.proc.pid

    def send(self, line: str) -> None:
        """Write one command line to the child's stdin; raises ChildError if it is gone."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise ChildError(f"{self.what} is gone: {self.stderr_tail()}") from exc

    def read_json(self, timeout: float) -> dict[str, Any]:
        """Return the next stdout line as a JSON object.

        Raises ChildError when no full line comes within ``timeout`` seconds,
        when the child exits first, or when the line is not a JSON object.
        """
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChildError(
                    f"{self.what} did not answer within {timeout:.0f} s", timed_out=True
                )
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                self.proc.wait()
                raise ChildError(f"{self.what} exited: {self.stderr_tail()}")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ChildError(f"{self.what} said {line[:200]!r}") from exc
        if not isinstance(value, dict):
            raise ChildError(f"{self.what} said {line[:200]!r}")
        return value

    def ask(self, line: str, timeout: float) -> dict[str, Any]:
        """Send a command and return the JSON line that answers it."""
        self.send(line)
        return self.read_json(timeout)

    def stderr_tail(self) -> str:
        """The last non-empty line the child wrote to stderr, or its exit status."""
        if self._stderr.closed:
            return "closed"
        self._stderr.seek(0)
        lines = [ln for ln in self._stderr.read().decode(errors="replace").splitlines() if ln]
        status = self.proc.poll()
        if lines:
            return lines[-1].strip()
        if status is None:
            return "still running, said nothing on stderr"
        return f"killed by signal {-status}" if status < 0 else f"exit status {status}"

    def close(self, grace: float = 2.0) -> None:
        """Close stdin (the polite way to stop), then kill the group after ``grace`` s."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the child's process group and reap the child. Safe to call twice."""
        # Only while the leader is unreaped: its pid (the group id) cannot be reused then.
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        # KeyboardInterrupt, timeouts, errors: no grace period, just kill.
        if exc[0] is None:
            self.close()
        else:
            self.kill()
