"""Benchmark suite comparing aioloop with asyncio, uvloop and rloop.

Run it with ``python -m benchmarks`` from the repository root; see README.md.
Every measurement runs in a fresh child process (``benchmarks.worker``), and the
driver (``benchmarks.run``) interleaves the loops so that they share the same
machine noise.
"""
