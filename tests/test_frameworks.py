"""Real asyncio frameworks run unchanged on aioloop.

aiohttp (server and client, WebSocket, streaming), uvicorn behind httpx (its
httptools and h11 protocols), anyio's asyncio backend and pytest-asyncio:
each drives aioloop through the public asyncio API only, the way a user's
program would.  (Redis and PostgreSQL clients: test_services.py.)
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import anyio.abc
import httpx
import pytest
import pytest_asyncio
import uvicorn
from aiohttp import web

import aioloop


def _on_aioloop() -> None:
    assert isinstance(asyncio.get_running_loop(), aioloop.Loop)


# -- aiohttp -----------------------------------------------------------------


async def _aiohttp_round_trip() -> None:
    _on_aioloop()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi " + request.match_info["name"])

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for i in range(100):
            await resp.write(bytes([i]) * 10_000)
        await resp.write_eof()
        return resp

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        async for msg in sock:
            await sock.send_str("echo:" + msg.data)
        return sock

    app = web.Application()
    app.add_routes([web.get("/hello/{name}", hello), web.post("/echo", echo),
                    web.get("/stream", stream), web.get("/ws", ws)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        assert runner.addresses
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/hello/bob") as r:
                assert r.status == 200 and await r.text() == "hi bob"
            big = os.urandom(1_000_000)
            async with session.post(f"{base}/echo", data=big) as r:
                assert await r.read() == big
            async with session.get(f"{base}/stream") as r:
                assert await r.read() == b"".join(bytes([i]) * 10_000 for i in range(100))
            async with session.ws_connect(f"{base}/ws") as sock:
                for word in ("a", "bb", "ccc"):
                    await sock.send_str(word)
                    assert (await sock.receive()).data == "echo:" + word

            async def get(i: int) -> str:
                async with session.get(f"{base}/hello/{i}") as r:
                    return await r.text()

            assert await asyncio.gather(*[get(i) for i in range(200)]) == [
                f"hi {i}" for i in range(200)]
    finally:
        await runner.cleanup()


def test_aiohttp_server_and_client() -> None:
    aioloop.run(_aiohttp_round_trip())


# -- uvicorn + httpx -----------------------------------------------------------


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body",
                "body": f"{scope['method']} {scope['path']} {len(body)}".encode()})


async def _uvicorn_round_trip(http: str) -> None:
    _on_aioloop()
    server = uvicorn.Server(uvicorn.Config(_asgi_app, http=http, log_level="warning",
                                           lifespan="on"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if serving.done():
                    serving.result()        # raises what stopped it
                    raise AssertionError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient() as client:
                r = await client.get(f"{base}/a/b")
                assert r.status_code == 200 and r.text == "GET /a/b 0"
                r = await client.post(f"{base}/upload", content=b"z" * 300_000)
                assert r.text == "POST /upload 300000"
                replies = await asyncio.gather(*[client.get(f"{base}/{i}") for i in range(100)])
                assert [r.text for r in replies] == [f"GET /{i} 0" for i in range(100)]
        finally:
            server.should_exit = True
            await asyncio.gather(serving, return_exceptions=True)


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_uvicorn_serves_httpx(http: str) -> None:
    aioloop.run(_uvicorn_round_trip(http))


# -- anyio -------------------------------------------------------------------------


async def _anyio_tour() -> None:
    _on_aioloop()

    async def echo(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            async for chunk in stream:
                await stream.send(chunk)

    with tempfile.TemporaryDirectory() as tmp:
        tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
        unix = await anyio.create_unix_listener(os.path.join(tmp, "s"))
        async with tcp, unix, anyio.create_task_group() as tg:
            tg.start_soon(tcp.serve, echo)
            tg.start_soon(unix.serve, echo)
            port = tcp.extra(anyio.abc.SocketAttribute.local_port)
            async with await anyio.connect_tcp("127.0.0.1", port) as s:
                await s.send(b"hello")
                assert await s.receive() == b"hello"
            async with await anyio.connect_unix(os.path.join(tmp, "s")) as s:
                await s.send(b"unix")
                assert await s.receive() == b"unix"
            async with await anyio.create_udp_socket(local_host="127.0.0.1") as a, \
                    await anyio.create_udp_socket(local_host="127.0.0.1") as b:
                await a.sendto(b"dgram", "127.0.0.1", b.extra(anyio.abc.SocketAttribute.local_port))
                data, _ = await b.receive()
                assert data == b"dgram"
            worker = await anyio.to_thread.run_sync(lambda: threading.current_thread().name)
            assert worker != threading.current_thread().name
            with anyio.move_on_after(0.05) as scope:
                await anyio.sleep(10)
            assert scope.cancelled_caught
            tg.cancel_scope.cancel()


def test_anyio_asyncio_backend() -> None:
    anyio.run(_anyio_tour, backend="asyncio",
              backend_options={"loop_factory": aioloop.new_event_loop})


# -- pytest-asyncio ----------------------------------------------------------------
# (conftest.py's pytest_asyncio_loop_factories hook puts these on aioloop.)


@pytest_asyncio.fixture
async def echo_server() -> AsyncIterator[asyncio.Server]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server
    server.close()
    await server.wait_closed()


@pytest.mark.asyncio
async def test_pytest_asyncio_runs_tests_and_fixtures_on_aioloop(
        echo_server: asyncio.Server) -> None:
    _on_aioloop()
    port = echo_server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"abc" * 1000)
    writer.write_eof()
    assert await reader.read() == b"abc" * 1000
    writer.close()
    await writer.wait_closed()
