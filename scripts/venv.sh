#!/usr/bin/env bash
# Make (or refresh) .venv-X.Y for CPython X.Y from pyenv, with aioloop
# installed editable (this compiles the Cython core) and the test tools.
# Prints the venv's python path on the last line.
set -euo pipefail
ver="$1"; shift
extras="${1:-test}"
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-$ver"

find_python() {
    local candidate
    if command -v pyenv >/dev/null 2>&1; then
        candidate="$(pyenv root)/versions"
        for d in $(ls -d "$candidate/$ver".* 2>/dev/null | sort -V -r); do
            if [ -x "$d/bin/python$ver" ]; then echo "$d/bin/python$ver"; return; fi
        done
    fi
    command -v "python$ver" 2>/dev/null || true
}

py="$(find_python)"
if [ -z "$py" ]; then
    echo "CPython $ver not found (pyenv or python$ver on PATH)" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install -q --upgrade pip >&2 2>/dev/null || true
"$venv/bin/python" -m pip install -q -e "$root[$extras]" >&2
echo "$venv/bin/python"
