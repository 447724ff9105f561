#!/usr/bin/env bash
# The VS Code TextMate grammar against its scope-annotated syntax tests
# (editors/vscode/tests/*.qap), with the real vscode-tmgrammar-test tool.
set -euo pipefail
cd "$(dirname "$0")/../../editors/vscode"
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    else
        echo "tmgrammar: npm is needed to test the TextMate grammar (install Node.js 18+)" >&2
        exit 2
    fi
fi
if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi
npx --no-install vscode-tmgrammar-test -g syntaxes/qap.tmLanguage.json "tests/*.qap"
