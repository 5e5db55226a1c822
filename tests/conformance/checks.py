"""Static checks of the hand-written lists (``--check``); no test runs."""

from __future__ import annotations

import re

from . import classification, variants
from .expected_failures import EXPECTED_FAILURES
from .loops import LOOP_NAMES

__all__ = ["check_lists"]

_MODULE_RE = re.compile(r"^test_\w+$")
_VERSION_RE = re.compile(r"^3\.\d+$")


def check_lists() -> list[str]:
    """Return one message per problem in the classification and xfail lists."""
    problems: list[str] = []
    for module, rules in classification.MODULES.items():
        if not _MODULE_RE.match(module):
            problems.append(f"classification: bad module name {module!r}")
        if not rules:
            problems.append(f"classification: {module} has no rules")
        for rule in rules:
            if rule.scope not in classification.SCOPES:
                problems.append(
                    f"classification: {module} {rule.pattern!r}: unknown scope {rule.scope!r}"
                )
            if len(rule.reason.strip()) < 10:
                problems.append(f"classification: {module} {rule.pattern!r}: give a reason")
            for v in rule.versions:
                if not _VERSION_RE.match(v):
                    problems.append(f"classification: {module} {rule.pattern!r}: bad version {v!r}")
    seen = set()
    for entry in EXPECTED_FAILURES:
        where = f"expected_failures: {entry.pattern!r}"
        module = entry.pattern.split(".", 1)[0]
        if not _MODULE_RE.match(module):
            problems.append(f"{where}: must start with a literal module name (test_xxx.)")
        elif module not in classification.MODULES:
            problems.append(f"{where}: module {module} is not in classification.MODULES")
        if len(entry.reason.strip()) < 10:
            problems.append(f"{where}: give a reason")
        for loop in entry.loops:
            if loop not in LOOP_NAMES:
                problems.append(f"{where}: unknown loop {loop!r}")
        for v in entry.versions:
            if not _VERSION_RE.match(v):
                problems.append(f"{where}: bad version {v!r}")
        key = (entry.pattern, entry.loops, entry.versions)
        if key in seen:
            problems.append(f"{where}: duplicate entry")
        seen.add(key)
    for variant in variants.VARIANTS:
        if variant.module not in classification.MODULES:
            problems.append(f"variants: {variant.module} is not in classification.MODULES")
        if not variant.why:
            problems.append(
                f"variants: {variant.module} "
                f"{variant.name or variant.for_each_subclass_of}: say why"
            )
    return problems
