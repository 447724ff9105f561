#!/usr/bin/env bash
# The VS Code extension (editors/vscode): its TextMate grammar against the scope-annotated syntax
# tests (vscode-tmgrammar-test), its client code and theme colours (node --test test/), and the
# .vsix that `vsce package` builds (non-interactively; written to editors/vscode/qap.vsix).
set -euo pipefail
cd "$(dirname "$0")/../../editors/vscode"
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    else
        echo "vscode: npm is needed to test the VS Code extension (install Node.js 20+)" >&2
        exit 2
    fi
fi
npm ci --no-audit --no-fund --loglevel=error
QAPC="$PWD/../../.venv/bin/qapc" npm test
npm run -s package </dev/null >/dev/null
test -s qap.vsix
echo "vscode: grammar, client and theme tests passed; packaged $(du -k qap.vsix | cut -f1) KB qap.vsix"
