# The two commands a fresh clone needs (see README.md):
#   make demo   run the example HTTP server on aioloop
#   make test   build and run every test (CI runs exactly this)

.PHONY: demo test services test-3.11 test-3.12 test-3.13 bench lint clean

demo:
	@py=$$(scripts/venv.sh 3.11 | tail -n1) && $$py examples/http_server.py

# 3.11: the whole suite, with CPython's test_asyncio conformance run.
# 3.12 and 3.13: the same (each full conformance run takes about 90 s).
# services: the Debian servers tests/test_services.py runs clients against.
test: services test-3.11 test-3.12 test-3.13

services:
	@scripts/services.sh

test-3.11:
	@py=$$(scripts/venv.sh 3.11 dev | tail -n1) && \
	  $$py -m ruff check src tests/*.py examples && $$py -m mypy && \
	  $$py -m pytest -p no:cacheprovider tests

test-3.12:
	@py=$$(scripts/venv.sh 3.12 | tail -n1) && $$py -m pytest -p no:cacheprovider tests

test-3.13:
	@py=$$(scripts/venv.sh 3.13 | tail -n1) && $$py -m pytest -p no:cacheprovider tests

bench:
	@py=$$(scripts/venv.sh 3.11 bench | tail -n1) && $$py -m benchmarks

lint:
	@py=$$(scripts/venv.sh 3.11 dev | tail -n1) && $$py -m ruff check src tests/*.py examples && $$py -m mypy

clean:
	rm -rf build .venv-* src/aioloop/_core/*.c src/aioloop/_core/*.so
