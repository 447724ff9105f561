#!/usr/bin/env bash
# Quick start, part 1: set up, then run the whole pipeline on the offline
# digits demo (train with quantization-aware pruning, convert with hls4ml,
# emulate in C++, report).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/qapc run specs/digits_qap.qap "$@"
