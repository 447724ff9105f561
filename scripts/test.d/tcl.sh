#!/usr/bin/env bash
# tclsh for tests/test_security.py: hls4ml writes the part name into Tcl, and the test
# has the real Tcl interpreter read every part name `qapc check` accepts.
set -euo pipefail
command -v tclsh >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tcl: tclsh not found; install Tcl (Debian: apt-get install tcl)" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends tcl >/dev/null
