"""Which of CPython's asyncio tests say something about the loop under test.

Every test id (``<module>.<Class>.<method>``, module relative to
``test.test_asyncio``) gets one *scope* and a reason, from the first rule of
its module that matches.  A test no rule matches is reported as
``unclassified`` and fails the gate, so a new CPython module or class cannot
slip through unreviewed.  ``python -m tests.conformance --list`` prints the
classification of every test for review.

Scopes:

``core``
    Loop-generic behaviour aioloop implements now.  Gated: must pass, or be
    listed in ``expected_failures.py`` with a reason.
``independent``
    Tests asyncio's own public classes without the loop under test (mock
    loops, abstract base classes).  Gated: a failure means the harness broke
    something.
``network``, ``subprocess``, ``tls``
    Loop-generic, but needs transports aioloop does not have yet (issue 3).
    Run and reported; not gated until listed in ``GATED_SCOPES``.
``internal``
    Tests asyncio's private implementation (TestLoop virtual time, mocked
    selectors, private attributes, the selector/proactor loops themselves).
    Run only when the loop under test is asyncio.

Rules with ``scan`` set match only when a scan of the test's source (and of
the ``self._helpers`` it calls) finds what the scan looks for; the finding is
appended to the reason.  They let one rule cover a class whose tests mix
scheduling with TCP, TLS or private state, across CPython versions.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
import textwrap
import unittest
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GATED_SCOPES",
    "MODULES",
    "RUN_ON_ASYNCIO_ONLY",
    "SCOPES",
    "Classification",
    "Rule",
    "classify",
]

Scope = Literal["core", "independent", "network", "subprocess", "tls", "internal"]
SCOPES: tuple[Scope, ...] = ("core", "independent", "network", "subprocess", "tls", "internal")

# Scopes whose failures fail the gate on a loop other than asyncio.  Add
# "tls" and "subprocess" when those transports land.  On asyncio itself
# every scope is gated: the harness must reproduce stock results.
GATED_SCOPES: frozenset[str] = frozenset({"core", "independent", "network"})

# Scopes not run at all on a loop other than asyncio: asyncio's internals,
# and the transports aioloop does not have yet (TLS, subprocesses).  Those
# tests only failed with NotImplementedError, and the TLS ones hung until the
# per-test timeout (about two minutes per run); --include-internal runs them
# anyway.  Remove "tls"/"subprocess" here when they land, and gate them.
RUN_ON_ASYNCIO_ONLY: frozenset[str] = frozenset({"internal", "tls", "subprocess"})

ScanKind = Literal["private", "tls", "subprocess", "network"]


@dataclass(frozen=True)
class Rule:
    """``pattern`` is matched (fnmatch) against ``Class.method``."""

    pattern: str
    scope: Scope
    reason: str
    scan: ScanKind | None = None
    versions: tuple[str, ...] = ()  # e.g. ("3.12", "3.13"); empty: all


@dataclass(frozen=True)
class Classification:
    scope: Scope | Literal["unclassified"]
    reason: str


# -- source scans ------------------------------------------------------------

# Private state of a loop object (loop._ready, self.loop._run_once, ...), or
# a mock.patch of a global inside one of asyncio's implementation modules.
# Except asyncio.base_events.logger: tests patch it to see what the loop logs
# (unretrieved exceptions, tasks destroyed pending), a loop can honour it by
# logging through asyncio's logger looked up at call time (aioloop does), and
# it is how the suite checks those messages at all.
_PRIVATE_RE = re.compile(
    r"loop\._[a-z]\w*"
    r"|patch(?:\.object)?\(\s*['\"]asyncio\.(?:base_events|selector_events|"
    r"unix_events|proactor_events|base_subprocess|sslproto)\.(?!logger\b)\w+"
)
_TLS_RE = re.compile(r"ssl|start_tls")
_SUBPROCESS_RE = re.compile(r"subprocess_exec|subprocess_shell|create_subprocess")
_NETWORK_RE = re.compile(
    r"create_(?:unix_)?connection|create_(?:unix_)?server|create_datagram_endpoint"
    r"|open_(?:unix_)?connection|start_(?:unix_)?server|connect_(?:read|write)_pipe"
    r"|connect_accepted_socket|sendfile"
)
# Not scanned for: test_utils.run_test_server() and run_udp_echo_server() are
# threaded servers outside the loop; test_sock_lowlevel talks to them with
# sock_* coroutines, which are core.
_SCANS: dict[str, re.Pattern[str]] = {
    "private": _PRIVATE_RE,
    "tls": _TLS_RE,
    "subprocess": _SUBPROCESS_RE,
    "network": _NETWORK_RE,
}
_HELPER_RE = re.compile(r"self\.(_\w+|\w+_helper|check_\w+)\(")


def _source(cls: type, name: str) -> str:
    func = getattr(cls, name, None)
    if func is None:
        return ""
    try:
        return textwrap.dedent(inspect.getsource(inspect.unwrap(func)))
    except (OSError, TypeError):
        return ""


def _test_source(cls: type, method: str) -> str:
    """The method's source plus that of the ``self._helper()``s it calls."""
    seen = {method}
    todo = [method]
    parts = []
    while todo and len(seen) < 20:
        name = todo.pop()
        src = _source(cls, name)
        parts.append(src)
        for helper in _HELPER_RE.findall(src):
            if helper not in seen and not hasattr(unittest.TestCase, helper):
                seen.add(helper)
                todo.append(helper)
    return "\n".join(parts)


def _scan(kind: str, cls: type, method: str) -> str | None:
    found = sorted({" ".join(f.split()) for f in _SCANS[kind].findall(_test_source(cls, method))})
    return ", ".join(found) if found else None


def _twin(pattern: str, core_reason: str) -> tuple[Rule, ...]:
    """Rules for a class that mixes scopes: private, tls, subprocess, network, core."""
    return (
        Rule(pattern, "internal", "reads or patches asyncio-private state", scan="private"),
        Rule(pattern, "tls", "needs TLS transports (issue 3)", scan="tls"),
        Rule(pattern, "subprocess", "needs subprocess transports (issue 3)", scan="subprocess"),
        Rule(pattern, "network", "needs socket/pipe transports (issue 3)", scan="network"),
        Rule(pattern, "core", core_reason),
    )


_TESTLOOP = (
    "runs on test_utils.TestLoop, asyncio's virtual-time BaseEventLoop; "
    "its Conformance twin runs the same tests on the loop under test"
)
_SELECTOR_PINNED = (
    "pins asyncio.SelectorEventLoop; the Conformance twin runs the same "
    "mixin on the loop under test"
)

MODULES: dict[str, tuple[Rule, ...]] = {
    "test_base_events": (
        Rule("RunningLoopTests.*", "core", "nested run_until_complete on a policy loop"),
        Rule(
            "*",
            "internal",
            "BaseEventLoop's own implementation: mocked selector, private helpers and attributes",
        ),
    ),
    "test_buffered_proto": (
        Rule("Conformance*", "network", "BufferedProtocol over TCP needs transports (issue 3)"),
        Rule("*", "internal", _SELECTOR_PINNED),
    ),
    "test_context": (
        Rule("*", "core", "decimal context isolation across tasks under asyncio.run"),
    ),
    "test_eager_task_factory": _twin(
        "*", "eager task factory and Task(eager_start=) on a policy loop"
    ),
    "test_events": (
        # Plain TCP; "ssl" in its source is a keyword argument set to None.
        Rule(
            "ConformanceEventLoopTests.test_connect_accepted_socket",
            "network",
            "connect_accepted_socket over TCP (issue 3)",
        ),
        Rule(
            "ConformanceEventLoopTests.test_create_server_multiple_hosts_ipv*",
            "internal",
            "its helper patches asyncio.base_events.socket and replaces "
            "loop._start_serving: asyncio's create_server internals",
        ),
        *_twin(
            "ConformanceEventLoopTests.*",
            "scheduling, readers/writers, signals, executor, close() on the loop under test",
        ),
        Rule("EPollEventLoopTests.*", "internal", _SELECTOR_PINNED),
        Rule("PollEventLoopTests.*", "internal", _SELECTOR_PINNED),
        Rule("SelectEventLoopTests.*", "internal", _SELECTOR_PINNED),
        Rule("KqueueEventLoopTests.*", "internal", _SELECTOR_PINNED),
        Rule("ProactorEventLoopTests.*", "internal", "Windows proactor loop"),
        Rule("HandleTests.*", "independent", "asyncio.Handle with a mock loop"),
        Rule("TimerTests.*", "independent", "asyncio.TimerHandle with a mock loop"),
        Rule(
            "AbstractEventLoopTests.*",
            "independent",
            "AbstractEventLoop raises NotImplementedError",
        ),
        Rule("TestAbstractServer.*", "independent", "AbstractServer raises NotImplementedError"),
        Rule("TestServer.*", "network", "create_server (issue 3)"),
        Rule(
            "PolicyTests.*",
            "core",
            "DefaultEventLoopPolicy is replaced by the loop's policy, which must behave alike",
        ),
        Rule(
            "Test*GetEventLoop.*",
            "core",
            "get_event_loop/get_running_loop with policy loops (Py and C twins)",
        ),
    ),
    "test_futures": (
        Rule("Conformance*", "internal", "reads or patches asyncio-private state", scan="private"),
        Rule("Conformance*", "core", "Future (C and Python) on the loop under test"),
        Rule("*", "internal", _TESTLOOP),
    ),
    "test_futures2": (
        Rule("*", "core", "Future tracebacks and repr under IsolatedAsyncioTestCase"),
    ),
    "test_locks": (
        Rule(
            "*",
            "core",
            "locks, events, conditions, semaphores, barriers under IsolatedAsyncioTestCase",
        ),
    ),
    "test_pep492": (
        Rule("Conformance*", "internal", "reads or patches asyncio-private state", scan="private"),
        Rule("Conformance*", "core", "async with/for, coroutine wrappers on the loop under test"),
        Rule(
            "*",
            "internal",
            "runs on a BaseEventLoop with a mocked selector; the Conformance twin does not",
        ),
    ),
    "test_proactor_events": (
        Rule("*", "internal", "Windows proactor loop and its transports, with mocks"),
    ),
    "test_protocols": (Rule("*", "independent", "abstract protocol classes"),),
    "test_queues": (Rule("*", "core", "queues under IsolatedAsyncioTestCase"),),
    "test_runners": (
        Rule(
            "*.test_loop_factory_default_event_loop",
            "internal",
            "checks that asyncio.EventLoop is asyncio's own SelectorEventLoop (3.13)",
        ),
        Rule("Conformance*", "internal", "reads or patches asyncio-private state", scan="private"),
        Rule("Conformance*", "core", "asyncio.run and asyncio.Runner on the loop under test"),
        Rule(
            "*",
            "internal",
            "runs asyncio.run on a BaseEventLoop with a mocked selector; "
            "the Conformance twin does not",
        ),
    ),
    "test_selector_events": (
        Rule("*", "internal", "asyncio's selector loop and transports, with mocks"),
    ),
    "test_sendfile": (
        Rule("Conformance*.test_sendfile_ssl*", "tls", "sendfile over a TLS transport"),
        Rule("Conformance*", "network", "sendfile over transports (issue 3)"),
        Rule("*", "internal", _SELECTOR_PINNED),
    ),
    "test_server": (
        Rule("Conformance*", "network", "create_server/start_server (issue 3)"),
        Rule(
            "TestServer2.*",
            "network",
            "Server lifecycle under IsolatedAsyncioTestCase, on the policy's loop",
        ),
        Rule(
            "UnixServerCleanupTests.*",
            "network",
            "create_unix_server socket-file cleanup, on the policy's loop",
        ),
        Rule("*", "internal", _SELECTOR_PINNED),
    ),
    "test_sock_lowlevel": (
        *_twin("ConformanceSockTests.*", "sock_* coroutines on non-blocking sockets"),
        Rule("*", "internal", _SELECTOR_PINNED),
    ),
    "test_ssl": (Rule("*", "tls", "TLS over transports (issue 3)"),),
    "test_sslproto": (
        Rule("Conformance*", "tls", "start_tls and TLS servers (issue 3)"),
        Rule(
            "SslProtoHandshakeTests.*",
            "internal",
            "asyncio.sslproto.SSLProtocol with a mocked transport",
        ),
        Rule("*", "internal", _SELECTOR_PINNED),
    ),
    "test_staggered": _twin("*", "staggered_race scheduling under IsolatedAsyncioTestCase"),
    "test_streams": _twin("*", "StreamReader/StreamWriter logic without a transport"),
    "test_subprocess": (
        Rule("Conformance*", "subprocess", "subprocess transports (issue 3)"),
        Rule("*", "internal", "asyncio's child watchers or BaseSubprocessTransport with TestLoop"),
    ),
    "test_taskgroups": (Rule("*", "core", "TaskGroup under IsolatedAsyncioTestCase"),),
    "test_tasks": (
        Rule("Conformance*", "internal", "reads or patches asyncio-private state", scan="private"),
        Rule("Conformance*", "core", "Task (C and Python), gather on the loop under test"),
        Rule("*IntrospectionTests.*", "independent", "task registry functions with mock loops"),
        Rule("GenericTaskTests.*", "independent", "Task class and _asyncio import checks"),
        Rule("CTask_Future_Tests.*", "core", "C Task awaiting a Future subclass on a policy loop"),
        Rule("*CurrentLoopTests.*", "core", "current_task on a policy loop"),
        Rule("RunCoroutineThreadsafeTests.*", "core", "run_coroutine_threadsafe on a policy loop"),
        Rule("SleepTests.*", "core", "sleep(0) ordering on a policy loop"),
        Rule("CompatibilityTests.*", "core", "yield from / await bridging on a policy loop"),
        Rule("*", "internal", _TESTLOOP),
    ),
    "test_threads": (
        Rule("*", "core", "asyncio.to_thread (default executor) under IsolatedAsyncioTestCase"),
    ),
    "test_timeouts": (Rule("*", "core", "asyncio.timeout under IsolatedAsyncioTestCase"),),
    "test_transports": (Rule("*", "independent", "abstract transport classes"),),
    "test_unix_events": (
        *_twin("TestFunctional.*", "add_reader/add_writer argument checking on a policy loop"),
        Rule(
            "*",
            "internal",
            "asyncio's Unix selector loop, pipe transports, child watchers and policy, with mocks",
        ),
    ),
    "test_waitfor": (Rule("*", "core", "asyncio.wait_for under IsolatedAsyncioTestCase"),),
    "test_windows_events": (Rule("*", "internal", "Windows proactor loop (skipped off Windows)"),),
    "test_windows_utils": (Rule("*", "internal", "Windows pipe helpers (skipped off Windows)"),),
}


def classify(
    module: str, cls: type | None, method: str, class_name: str, version: str
) -> Classification:
    """Classify ``module.class_name.method``; *cls* is used for source scans.

    *version* is ``"3.11"``-style.  Never raises for an unknown module or
    test: returns scope ``"unclassified"`` instead.
    """
    rules = MODULES.get(module)
    if rules is None:
        return Classification("unclassified", f"module {module} has no rules in classification.py")
    key = f"{class_name}.{method}"
    for rule in rules:
        if rule.versions and version not in rule.versions:
            continue
        if not fnmatch.fnmatchcase(key, rule.pattern):
            continue
        if rule.scan is not None:
            if cls is None:
                continue
            found = _scan(rule.scan, cls, method)
            if found is None:
                continue
            return Classification(rule.scope, f"{rule.reason} (source scan: {found})")
        return Classification(rule.scope, rule.reason)
    return Classification("unclassified", f"no rule in {module} matches {key}")
