#!/usr/bin/env bash
# Set up qapc in ./.venv: the compiler, the ML stack (TensorFlow 2.14, QKeras,
# tfmot, hls4ml), the sweep and editor extras and the dev tools.
# Needs: Python 3.11 and g++. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.qapc-installed
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[ml,sweep,lsp,dev]"
    echo "$want" > "$stamp"
fi
command -v g++ >/dev/null 2>&1 || { echo "setup: g++ is needed for hls4ml's C++ emulation" >&2; exit 2; }
