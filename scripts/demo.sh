#!/usr/bin/env bash
# Quick start, part 1: set up, then run the whole pipeline on the offline
# digits demo (train with quantization-aware pruning, convert with hls4ml,
# emulate in C++, report).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -L .venv ]; then  # setup found no Python for the QKeras stack: .venv is the HGQ2 environment
    .venv/bin/qapc run specs/digits_hgq2.qap "$@"
else
    .venv/bin/qapc run specs/digits_qap.qap "$@"
fi
