"""Entry point for ``python -m benchmarks.net``."""

from benchmarks.net.run import main

if __name__ == "__main__":
    raise SystemExit(main())
