#!/usr/bin/env bash
# Set up qapc in two environments, one per training dialect (their ML stacks cannot share one):
#   .venv       Python 3.11 (or 3.10): the compiler, QKeras 0.9 / TensorFlow 2.14 / tfmot / hls4ml,
#               the sweep and editor extras and the dev tools. `qapc` is .venv/bin/qapc.
#   .venv-hgq2  Python 3.13 (or 3.12, 3.11): the compiler and HGQ2 0.2 / Keras 3 / JAX / hls4ml, the
#               same extras. `qapc run` finds it for specs with `dialect hgq2`; the tests run on it too.
# Needs: those Pythons and g++. Idempotent: a second run only checks.
# QAPC_DIALECTS="qkeras" (or "hgq2") sets up one of them only. PYTHON / PYTHON_HGQ2 pick the interpreters.
set -euo pipefail
cd "$(dirname "$0")/.."
DIALECTS=${QAPC_DIALECTS:-"qkeras hgq2"}

say() { echo "setup: $*" >&2; }

source scripts/find-python.sh

# make_env DIR EXTRAS PYTHON LABEL: a virtual environment with qapc (editable) and EXTRAS.
make_env() {
    local dir=$1 extras=$2 py=$3 label=$4
    if [ ! -x "$dir/bin/python" ]; then
        say "creating $dir ($("$py" -c 'import platform; print("Python " + platform.python_version())'))"
        "$py" -m venv "$dir"
    fi
    local stamp="$dir/.qapc-installed" want
    want=$( (cat pyproject.toml; echo "$extras") | sha256sum | cut -c1-16)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        say "installing qapc and $label into $dir (the first time takes a few minutes)"
        "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
        "$dir/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]"
        echo "$want" > "$stamp"
    fi
}

for dialect in $DIALECTS; do
    case $dialect in
    qkeras)
        py=${PYTHON:-$(find_python 3.11 3.10 || true)}
        [ -n "$py" ] || { say "the QKeras stack (TensorFlow 2.14) needs Python 3.10 or 3.11; set PYTHON=/path/to/python3.11"; exit 2; }
        make_env .venv "qkeras,sweep,lsp,dev" "$py" "the QKeras stack (TensorFlow 2.14)"
        ;;
    hgq2)
        py=${PYTHON_HGQ2:-$(find_python 3.13 3.12 3.11 || true)}
        [ -n "$py" ] || { say "the HGQ2 stack (Keras 3, JAX 0.10) needs Python 3.11-3.13; set PYTHON_HGQ2=/path/to/python3.13"; exit 2; }
        make_env .venv-hgq2 "hgq2,sweep,lsp,dev" "$py" "the HGQ2 stack (Keras 3, JAX)"
        ;;
    *)
        say "unknown dialect '$dialect' in QAPC_DIALECTS (qkeras, hgq2)"
        exit 2
        ;;
    esac
done
command -v g++ >/dev/null 2>&1 || { say "g++ is needed for hls4ml's C++ emulation (Debian/Ubuntu: apt-get install g++)"; exit 2; }
