#!/usr/bin/env bash
# Quick start, part 2: set up, then run every check and the whole test suite. CI (.ci/run) calls exactly this.
#   Python 3.11 (.venv, the QKeras stack): everything but the HGQ2 integration tests;
#   Python 3.13 (.venv-hgq2, the HGQ2 stack): the core suite and the HGQ2 integration tests;
#   Python 3.11 (.venv-brevitas, the Brevitas stack): the Brevitas tests (marker `brevitas`);
#   Python 3.10 and 3.12 (.venv-3.10, .venv-3.12, no ML stack): the core suite (scripts/pythons.sh).
# Every step runs even when one before it failed; one summary at the end names each step's outcome,
# and the exit status is non-zero when any failed. With arguments (`bash scripts/test.sh -k sweep`),
# only the Python 3.11 run, with them.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

declare -a NAMES=() OUTCOMES=()
FAILED=0 PASSED_TOTAL=0 FAILED_TOTAL=0 SKIPPED_TOTAL=0
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

# step NAME CMD...: run CMD, remember whether it passed; for a pytest run, add its counts to the totals.
step() {
    local name=$1 log
    shift
    log="$LOGS/${#NAMES[@]}.log"
    echo "test: $name" >&2
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local counts
    counts=$(tail -n 3 "$log" | grep -E '^=*\s*[0-9]+ (passed|failed|error)' | tail -n 1 || true)
    local p f e s
    p=$(grep -oE '[0-9]+ passed' <<<"$counts" | cut -d' ' -f1)
    f=$(grep -oE '[0-9]+ failed' <<<"$counts" | cut -d' ' -f1)
    e=$(grep -oE '[0-9]+ errors?' <<<"$counts" | cut -d' ' -f1)
    s=$(grep -oE '[0-9]+ skipped' <<<"$counts" | cut -d' ' -f1)
    PASSED_TOTAL=$((PASSED_TOTAL + ${p:-0}))
    FAILED_TOTAL=$((FAILED_TOTAL + ${f:-0} + ${e:-0}))
    SKIPPED_TOTAL=$((SKIPPED_TOTAL + ${s:-0}))
    NAMES+=("$name")
    if [ "$rc" -eq 0 ]; then
        OUTCOMES+=("ok")
    else
        OUTCOMES+=("FAILED (exit $rc)${counts:+: $counts}")
        FAILED=1
        [ -n "$counts" ] || FAILED_TOTAL=$((FAILED_TOTAL + 1))  # a failed check that is not a test run counts as one
    fi
}

for hook in scripts/test.d/*.sh; do
    [ -e "$hook" ] && step "hook $(basename "$hook")" bash "$hook"
done
step "ruff" .venv/bin/ruff check qapdsl tests benchmarks
step "mypy" .venv/bin/mypy
step "qapc fmt --check specs/*.qap" .venv/bin/qapc fmt --check specs/*.qap
step "qapc check specs/*.qap" bash -c '.venv/bin/qapc check specs/*.qap >/dev/null'
if [ $# -gt 0 ]; then
    step "pytest $* (.venv)" .venv/bin/python -m pytest -n 2 -q -p no:cacheprovider -m "not hgq2 and not brevitas" "$@"
else
    step "Python 3.11 (.venv): the core suite and the QKeras integration tests" \
        .venv/bin/python -m pytest -n 2 -q -p no:cacheprovider -m "not hgq2 and not brevitas"
    if [ -x .venv-hgq2/bin/python ]; then
        step "$(.venv-hgq2/bin/python -V) (.venv-hgq2): the core suite and the HGQ2 integration tests" \
            .venv-hgq2/bin/python -m pytest -n 2 -q -p no:cacheprovider -m "(not integration or hgq2) and not brevitas"
    else
        echo "test: no .venv-hgq2 (QAPC_DIALECTS=${QAPC_DIALECTS:-}): the HGQ2 tests are skipped" >&2
        if [ "${CI:-}" = true ]; then
            NAMES+=("HGQ2 suite") OUTCOMES+=("FAILED: no .venv-hgq2 under CI")
            FAILED=1
        fi
    fi
    if [ -x .venv-brevitas/bin/python ]; then
        step "$(.venv-brevitas/bin/python -V) (.venv-brevitas): the Brevitas tests" \
            .venv-brevitas/bin/python -m pytest -q -p no:cacheprovider -m brevitas  # serial: the trainings are module fixtures its tests share
    else
        echo "test: no .venv-brevitas (no Python 3.11, or QAPC_DIALECTS=${QAPC_DIALECTS:-}): the Brevitas tests are skipped" >&2
        if [ "${CI:-}" = true ]; then
            NAMES+=("Brevitas tests") OUTCOMES+=("FAILED: no .venv-brevitas under CI")
            FAILED=1
        fi
    fi
    for v in ${QAPC_CORE_PYTHONS:-3.10 3.12}; do
        step "Python $v: the core suite" env QAPC_CORE_PYTHONS="$v" bash scripts/pythons.sh
    done
fi

echo >&2
echo "test: summary" >&2
for i in "${!NAMES[@]}"; do
    printf 'test:   %-80s %s\n' "${NAMES[$i]}" "${OUTCOMES[$i]}" >&2
done
echo "total: $PASSED_TOTAL passed, $FAILED_TOTAL failed, $SKIPPED_TOTAL skipped"
exit "$FAILED"
