"""A small HTTP/1.1 keep-alive server on aioloop, built on the loop's socket API.

    python examples/http_server.py [--host 127.0.0.1] [--port 8080] [--duration SECONDS]

Every request gets "Hello from aioloop" (or, for /stats, how many requests
and connections the server has handled).  It uses only what the core loop
offers (sock_accept, sock_recv, sock_sendall), one task per connection, and
stops cleanly on Ctrl-C or after --duration seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
from dataclasses import dataclass

import aioloop


@dataclass
class Stats:
    connections: int = 0
    requests: int = 0


def _response(body: bytes, keep_alive: bool) -> bytes:
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            % len(body))
    head += b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n"
    return head + body


async def handle(conn: socket.socket, stats: Stats) -> None:
    loop = asyncio.get_running_loop()
    stats.connections += 1
    buffer = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in buffer:
                try:
                    data = await loop.sock_recv(conn, 65536)
                except ConnectionError:
                    return
                if not data:
                    return
                buffer += data
            request, _, buffer = buffer.partition(b"\r\n\r\n")
            first_line = request.split(b"\r\n", 1)[0]
            path = first_line.split(b" ")[1] if first_line.count(b" ") >= 2 else b"/"
            keep_alive = b"connection: close" not in request.lower()
            stats.requests += 1
            if path == b"/stats":
                body = b"requests=%d connections=%d\n" % (stats.requests, stats.connections)
            else:
                body = b"Hello from aioloop\n"
            try:
                await loop.sock_sendall(conn, _response(body, keep_alive))
            except ConnectionError:
                return
            if not keep_alive:
                return


async def serve(host: str, port: int, duration: float | None) -> Stats:
    loop = asyncio.get_running_loop()
    stats = Stats()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    if duration:
        loop.call_later(duration, lambda: stop.done() or stop.set_result(None))
    listener = socket.create_server((host, port), reuse_port=False, backlog=1024)
    listener.setblocking(False)
    tasks: set[asyncio.Task[None]] = set()

    async def accept_forever() -> None:
        while True:
            conn, _ = await loop.sock_accept(listener)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = asyncio.create_task(handle(conn, stats))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    print(f"aioloop {aioloop.__version__} serving http://{host}:{listener.getsockname()[1]}/ "
          f"(Ctrl-C to stop)", flush=True)
    acceptor = asyncio.create_task(accept_forever())
    try:
        await stop
    finally:
        acceptor.cancel()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(acceptor, *tasks, return_exceptions=True)
        listener.close()
        loop.remove_signal_handler(signal.SIGTERM)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds (default: run until Ctrl-C)")
    args = parser.parse_args()
    try:
        stats = aioloop.run(serve(args.host, args.port, args.duration))
    except KeyboardInterrupt:
        print("stopped", flush=True)
        return
    print(f"served {stats.requests} requests on {stats.connections} connections", flush=True)


if __name__ == "__main__":
    main()
