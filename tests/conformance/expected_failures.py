"""Gated tests known to fail on a loop, each with its reason.

An entry's ``pattern`` is matched (fnmatch) against the test id,
``<module>.<Class>.<method>``.  ``loops`` and ``versions`` narrow it
(``versions`` empty: every Python version).  The gate fails on a gated test
that fails and matches no entry; it reports an entry whose tests now pass, so
the list shrinks as the loop improves (``--strict`` fails on those too).

Keep entries specific (one test, or one test across the C/Py twins) and the
reason concrete: what the loop does wrong, or why the test can never pass on
it.  Failures of whole scopes not implemented yet (network, tls, subprocess)
do not belong here: classification.GATED_SCOPES leaves them out of the gate.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXPECTED_FAILURES", "XFail", "lookup"]


@dataclass(frozen=True)
class XFail:
    pattern: str
    reason: str
    loops: tuple[str, ...] = ("aioloop",)
    versions: tuple[str, ...] = ()
    # May pass or fail (timing): never reported as "now passes".
    flaky: bool = False


EXPECTED_FAILURES: tuple[XFail, ...] = ()


def lookup(test_id: str, loop: str, version: str) -> XFail | None:
    """The first entry that expects *test_id* to fail on *loop*/*version*."""
    import fnmatch

    for entry in EXPECTED_FAILURES:
        if loop not in entry.loops:
            continue
        if entry.versions and version not in entry.versions:
            continue
        if fnmatch.fnmatchcase(test_id, entry.pattern):
            return entry
    return None
