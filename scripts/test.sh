#!/usr/bin/env bash
# Quick start, part 2: set up, then run every check and the whole test suite.
# CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for hook in scripts/test.d/*.sh; do
    [ -e "$hook" ] && bash "$hook"
done
.venv/bin/ruff check qapdsl tests benchmarks
.venv/bin/mypy
.venv/bin/qapc fmt --check specs/*.qap
.venv/bin/qapc check specs/*.qap >/dev/null
.venv/bin/python -m pytest -n 2 -q -p no:cacheprovider "$@"
