#!/usr/bin/env bash
# Quick start, part 2: set up, then run every check and the whole test suite. CI (.ci/run) calls exactly this.
#   Python 3.11 (.venv, the QKeras stack): everything but the HGQ2 integration tests;
#   Python 3.13 (.venv-hgq2, the HGQ2 stack): the core suite and the HGQ2 integration tests;
#   Python 3.10 and 3.12 (.venv-3.10, .venv-3.12, no ML stack): the core suite (scripts/pythons.sh).
# With arguments (`bash scripts/test.sh -k sweep`), only the first run, with them.
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
if [ $# -gt 0 ]; then
    exec .venv/bin/python -m pytest -n 2 -q -p no:cacheprovider -m "not hgq2" "$@"
fi
echo "test: Python 3.11 (.venv): the core suite and the QKeras integration tests" >&2
.venv/bin/python -m pytest -n 2 -q -p no:cacheprovider -m "not hgq2"
if [ -x .venv-hgq2/bin/python ]; then
    echo "test: $(.venv-hgq2/bin/python -V) (.venv-hgq2): the core suite and the HGQ2 integration tests" >&2
    .venv-hgq2/bin/python -m pytest -n 2 -q -p no:cacheprovider -m "not integration or hgq2"
else
    echo "test: no .venv-hgq2 (QAPC_DIALECTS=${QAPC_DIALECTS:-}): the HGQ2 tests are skipped" >&2
    [ "${CI:-}" = true ] && exit 2
fi
bash scripts/pythons.sh
