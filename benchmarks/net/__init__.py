"""Networking benchmarks: aioloop, asyncio, uvloop and rloop as TCP echo and HTTP servers.

Run with ``python -m benchmarks.net`` from the repository root; see the
"Networking" section of benchmarks/README.md. Each server runs in a fresh
process (``benchmarks.net.server``), loaded by the same C echo client or wrk
for every loop; the figure compared is the server's user CPU per request.
"""
