"""Shared fixtures: a fresh aioloop loop per test, closed on every path."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterator

import pytest

import aioloop


def _open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


@pytest.fixture
def loop() -> Iterator[aioloop.Loop]:
    """A new aioloop loop; the test fails if the loop leaks an fd."""
    before = _open_fds()
    lp = aioloop.new_event_loop()
    try:
        yield lp
    finally:
        if not lp.is_closed():
            if lp.is_running():  # pragma: no cover - a test bug
                lp.stop()
            lp.run_until_complete(lp.shutdown_default_executor())
            lp.close()
        asyncio.set_event_loop(None)
        del lp
        gc.collect()
    leaked = _open_fds() - before
    assert not leaked, f"fds leaked by the loop: {sorted(leaked)}"


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, object]:
    """pytest-asyncio runs the suite's asyncio tests (test_frameworks.py) on aioloop."""
    return {"aioloop": aioloop.new_event_loop}
