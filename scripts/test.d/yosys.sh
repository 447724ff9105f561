#!/usr/bin/env bash
# Yosys for the RTL step's integration test (tests/test_rtl_integration.py): synth_xilinx of a tiny
# network takes about 20 s on the 2-core development machine (the digits network about 2 minutes).
# qapc runs without it (synthesis is skipped with the reason); CI installs Debian's `yosys` so the
# LUT/FF/CARRY/DSP counts are tested too.
set -euo pipefail
command -v yosys >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "yosys: not found; install Yosys (Debian: apt-get install yosys) to test the RTL step's synthesis" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends yosys >/dev/null
