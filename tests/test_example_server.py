"""The README's example server serves HTTP/1.1 keep-alive requests."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "http_server.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_example_server_answers_keep_alive_requests_and_stops_on_sigterm() -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert "serving" in proc.stdout.readline()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for _ in range(20):  # one connection, many requests
                conn.request("GET", "/")
                resp = conn.getresponse()
                assert resp.status == 200 and resp.read() == b"Hello from aioloop\n"
            conn.request("GET", "/stats")
            assert conn.getresponse().read() == b"requests=21 connections=1\n"
        finally:
            conn.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "served 21 requests on 1 connections" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
