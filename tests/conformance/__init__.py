"""Conformance harness: CPython's ``test.test_asyncio`` run on the loop under test.

The test modules are imported from the interpreter that runs the harness
(never copied into this repository).  Each module runs in its own worker
process; see ``README.md`` for the command line and the file map.
"""

from __future__ import annotations

__all__: list[str] = []
