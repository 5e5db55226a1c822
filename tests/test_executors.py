"""run_in_executor, the default executor, getaddrinfo/getnameinfo."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading

import pytest

import aioloop


def test_run_in_executor_runs_in_a_worker_thread(loop: aioloop.Loop) -> None:
    main = threading.get_ident()
    result = loop.run_until_complete(loop.run_in_executor(None, threading.get_ident))
    assert result != main


def test_run_in_executor_propagates_exceptions(loop: aioloop.Loop) -> None:
    def fail() -> None:
        raise ValueError("from thread")

    with pytest.raises(ValueError, match="from thread"):
        loop.run_until_complete(loop.run_in_executor(None, fail))


def test_custom_and_default_executor(loop: aioloop.Loop) -> None:
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mine") as pool:
        name = loop.run_until_complete(
            loop.run_in_executor(pool, lambda: threading.current_thread().name))
        assert name.startswith("mine")
        loop.set_default_executor(pool)
        name = loop.run_until_complete(
            loop.run_in_executor(None, lambda: threading.current_thread().name))
        assert name.startswith("mine")
    with pytest.raises(TypeError):
        loop.set_default_executor(object())  # type: ignore[arg-type]


def test_shutdown_default_executor_joins_threads_and_blocks_new_work(loop: aioloop.Loop) -> None:
    loop.run_until_complete(loop.run_in_executor(None, lambda: None))
    threads = [t for t in threading.enumerate() if t.name.startswith("asyncio")]
    assert threads
    loop.run_until_complete(loop.shutdown_default_executor())
    assert not any(t.is_alive() for t in threads)
    with pytest.raises(RuntimeError, match="shutdown"):
        loop.run_in_executor(None, print)


def test_getaddrinfo_and_getnameinfo(loop: aioloop.Loop) -> None:
    infos = loop.run_until_complete(loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM))
    assert infos[0][4] == ("127.0.0.1", 80)
    host, port = loop.run_until_complete(
        loop.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV))
    assert (host, port) == ("127.0.0.1", "80")
    with pytest.raises(socket.gaierror):
        loop.run_until_complete(loop.getaddrinfo("no-such-host.invalid", 80))


def test_asyncio_to_thread_works(loop: aioloop.Loop) -> None:
    assert loop.run_until_complete(asyncio.to_thread(sum, [1, 2, 3])) == 6
