"""Database clients on aioloop against real servers: redis-py and asyncpg.

Each test starts its own throwaway server (Debian's redis-server and
PostgreSQL, which `make test` installs through scripts/services.sh) on a
free loopback port and a Unix socket in a temporary directory, and stops it
afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest
import redis.asyncio as redis

import aioloop

REDIS_SERVER = shutil.which("redis-server")
PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), None)


@dataclass
class Service:
    port: int
    socket_dir: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on port {port}")


@contextlib.contextmanager
def _running(command: list[str], port: int, what: str) -> Iterator[None]:
    """Start a server, wait until it listens on port, and stop it afterwards."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc, what)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def redis_server() -> Iterator[Service]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (scripts/services.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        with _running([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--dir", tmp,
                       "--unixsocket", os.path.join(tmp, "redis.sock")], port, "redis-server"):
            yield Service(port, tmp)


@pytest.fixture
def postgres_server() -> Iterator[Service]:
    if PG_BIN is None or not os.path.exists(os.path.join(PG_BIN, "postgres")):
        pytest.skip("the PostgreSQL server is not installed (scripts/services.sh installs it)")
    # PostgreSQL refuses to run as root: run it as the package's postgres user then.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o777)
        data = os.path.join(tmp, "data")
        subprocess.run([*as_user, os.path.join(PG_BIN, "initdb"), "-D", data, "-A", "trust",
                        "-U", "postgres", "--no-sync"],
                       check=True, capture_output=True)
        port = _free_port()
        with _running([*as_user, os.path.join(PG_BIN, "postgres"), "-D", data, "-p", str(port),
                       "-k", tmp, "-h", "127.0.0.1", "-c", "fsync=off"], port, "postgres"):
            yield Service(port, tmp)


async def _redis_session(server: Service) -> None:
    assert isinstance(asyncio.get_running_loop(), aioloop.Loop)
    client = redis.Redis(host="127.0.0.1", port=server.port, max_connections=1000)
    try:
        await client.set("k", "v")
        assert await client.get("k") == b"v"
        big = os.urandom(3_000_000)             # one reply of many reads
        await client.set("big", big)
        assert await client.get("big") == big
        async with client.pipeline() as pipe:
            for i in range(1000):
                pipe.set(f"k{i}", i)
            await pipe.execute()
        values = await asyncio.gather(*[client.get(f"k{i}") for i in range(500)])
        assert values == [str(i).encode() for i in range(500)]
        pubsub = client.pubsub()
        await pubsub.subscribe("channel")
        await client.publish("channel", "news")
        for _ in range(20):
            message = await pubsub.get_message(timeout=1.0)
            if message is not None and message["type"] == "message":
                assert message["data"] == b"news"
                break
        else:
            raise AssertionError("the published message never arrived")
        await pubsub.aclose()
    finally:
        await client.aclose()
    over_unix = redis.Redis(unix_socket_path=os.path.join(server.socket_dir, "redis.sock"))
    try:
        assert await over_unix.get("k") == b"v"
    finally:
        await over_unix.aclose()


def test_redis_py_against_redis_server(redis_server: Service) -> None:
    aioloop.run(_redis_session(redis_server))


async def _postgres_session(server: Service) -> None:
    assert isinstance(asyncio.get_running_loop(), aioloop.Loop)
    conn = await asyncpg.connect(host="127.0.0.1", port=server.port, user="postgres",
                                 ssl=False)
    try:
        assert await conn.fetchval("select 1") == 1
        await conn.execute("create table t(id int primary key, v text)")
        await conn.executemany("insert into t values($1, $2)",
                               [(i, str(i) * 10) for i in range(5000)])
        rows = await conn.fetch("select * from t order by id")
        assert len(rows) == 5000 and rows[42]["v"] == "42" * 10
        async with conn.transaction():
            await conn.execute("update t set v = 'x' where id = 1")
        await conn.copy_records_to_table("t", records=[(i, "c") for i in range(5000, 6000)])
        assert await conn.fetchval("select count(*) from t") == 6000
        # A query cancelled by a timeout leaves the connection usable.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(conn.execute("select pg_sleep(10)"), 0.2)
        assert await conn.fetchval("select 2") == 2
        pool = await asyncpg.create_pool(host="127.0.0.1", port=server.port, user="postgres",
                                         ssl=False, min_size=2, max_size=10)
        try:
            got = await asyncio.gather(*[pool.fetchval("select $1::int + 1", i)
                                         for i in range(200)])
            assert got == [i + 1 for i in range(200)]
        finally:
            await pool.close()
    finally:
        await conn.close()
    over_unix = await asyncpg.connect(host=server.socket_dir, port=server.port, user="postgres")
    try:
        assert await over_unix.fetchval("select 3") == 3
    finally:
        await over_unix.close()


def test_asyncpg_against_postgresql(postgres_server: Service) -> None:
    aioloop.run(_postgres_session(postgres_server))
