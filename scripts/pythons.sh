#!/usr/bin/env bash
# The core test suite (no ML stack: parser, checks, code generation, runner, sweeps, editors) on the
# Pythons the package declares besides those of the two ML environments (.venv: 3.11, .venv-hgq2:
# 3.13): each in .venv-X.Y with qapc and its pure-Python extras. Called by scripts/test.sh.
#   QAPC_CORE_PYTHONS="3.10 3.12" (default) picks the versions; a version not found on PATH or in
#   pyenv is skipped with a message, or fails the run under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/find-python.sh
for v in ${QAPC_CORE_PYTHONS:-3.10 3.12}; do
    py=$(find_python "$v" || true)
    if [ -z "$py" ]; then
        echo "pythons: Python $v not found (PATH, pyenv): its core tests are skipped" >&2
        [ "${CI:-}" = true ] && exit 2
        continue
    fi
    dir=.venv-$v
    stamp="$dir/.qapc-installed"
    want=$(sha256sum pyproject.toml | cut -c1-16)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "pythons: installing qapc (core, sweep, lsp, dev) for Python $v into $dir (pip's output: $dir/qapc-setup.log)" >&2
        [ -x "$dir/bin/python" ] || "$py" -m venv "$dir"
        if ! { "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip &&
            "$dir/bin/python" -m pip install -q --disable-pip-version-check -e ".[sweep,lsp,dev]"; } >"$dir/qapc-setup.log" 2>&1; then
            echo "pythons: installing into $dir FAILED; the last lines of $dir/qapc-setup.log:" >&2
            tail -n 20 "$dir/qapc-setup.log" | sed 's/^/    /' >&2
            exit 1
        fi
        echo "$want" > "$stamp"
    fi
    echo "pythons: the core test suite on $("$dir/bin/python" -V)" >&2
    "$dir/bin/python" -m pytest -n 2 -q -p no:cacheprovider -m "not integration"
done
