"""scripts/setup.sh talks: a line per phase with its seconds, the log's tail when a phase fails, and the
next commands; one line when everything is up to date. (A first run is measured in the README.)"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

SETUP = ROOT / "scripts" / "setup.sh"


def _phase_script(tmp_path: Path, body: str) -> Path:
    """A script with setup.sh's own `say` and `phase` functions, then `body`."""
    text = SETUP.read_text()
    functions = re.search(r"^say\(\) \{.*?\}\n", text, re.M | re.S)
    phase = re.search(r"^phase\(\) \{\n.*?^\}\n", text, re.M | re.S)
    assert functions and phase, "setup.sh lost its say/phase functions"
    script = tmp_path / "phases.sh"
    script.write_text("set -euo pipefail\n" + functions.group(0) + phase.group(0) + body)
    return script


def test_phase_lines_with_seconds_and_the_log_tail_on_failure(tmp_path: Path) -> None:
    log = tmp_path / "pip.log"
    script = _phase_script(
        tmp_path,
        f'phase 1 2 "installing things" {log} bash -c "echo noise from pip"\n'
        f'phase 2 2 "failing to install" {log} bash -c "echo ERROR: No matching distribution found for tensorflow==9; exit 3"\n'
        'echo "not reached"\n',
    )
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == "setup: [1/2] installing things ..."
    assert re.fullmatch(r"setup: \[1/2\] done in \d+ s", lines[1])
    assert lines[2] == "setup: [2/2] failing to install ..."
    assert re.fullmatch(rf"setup: \[2/2\] FAILED after \d+ s\. The last lines of {re.escape(str(log))}:", lines[3])
    assert "    ERROR: No matching distribution found for tensorflow==9" in lines
    assert "noise from pip" not in proc.stderr.split("FAILED")[0]  # pip's output is in the log, not on screen
    assert "not reached" not in proc.stdout


def _stamp(extras: str) -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + (extras + "\n").encode()).hexdigest()[:16]


def test_second_run_is_one_line_and_the_next_commands() -> None:
    wanted = {".venv": "qkeras,sweep,lsp,dev", ".venv-hgq2": "hgq2,sweep,lsp,dev", ".venv-brevitas": "brevitas,dev"}
    for env, extras in wanted.items():
        stamp = ROOT / env / ".qapc-installed"
        if not stamp.is_file() or stamp.read_text().strip() != _stamp(extras):
            pytest.skip(f"{env} is not set up for this pyproject.toml: the script would install, not check")
    env = {k: v for k, v in os.environ.items() if k not in ("QAPC_DIALECTS", "PYTHON", "PYTHON_HGQ2", "PYTHON_BREVITAS")}
    proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, lines
    assert re.fullmatch(r"setup: up to date in \d+ s: \.venv \(QKeras stack\), \.venv-hgq2 \(HGQ2 stack\), \.venv-brevitas \(Brevitas stack\); g\+\+ \S+", lines[0])
    assert lines[1] == "setup: next: .venv/bin/qapc doctor · .venv/bin/qapc run specs/digits_qap.qap · or `source .venv/bin/activate` and call qapc"


def test_a_python_tensorflow_2_14_cannot_use_is_refused_before_anything_is_installed(tmp_path: Path) -> None:
    py312 = subprocess.run(["bash", "-c", "source scripts/find-python.sh; find_python 3.12"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    if not py312:
        pytest.skip("no Python 3.12 here")
    env = {k: v for k, v in os.environ.items() if k != "QAPC_DIALECTS"} | {"PYTHON": py312}
    proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False, env=env)
    assert proc.returncode == 2
    assert f"setup: PYTHON={py312} is not Python 3.10 or 3.11, which TensorFlow 2.14 (the QKeras stack) needs" in proc.stderr
    assert "installing" not in proc.stderr
