"""editors/vim in Vim 9 and in Neovim (the PyPI wheel of the dev extra): indentation and the colours of ranges."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "editors" / "vim"


def _editors() -> list[object]:
    nvim = Path(sys.executable).with_name("nvim")
    found = {"vim": shutil.which("vim"), "nvim": str(nvim) if nvim.exists() else shutil.which("nvim")}
    return [
        pytest.param(path, id=name) if path else pytest.param(None, id=name, marks=pytest.mark.skip(reason=f"{name} is not installed"))
        for name, path in found.items()
    ]


EDITORS = _editors()


def run(editor: str, path: Path, *commands: str) -> None:
    """Open `path` in the editor with editors/vim on its runtime path, run the Ex commands, quit."""
    argv = [editor, "-N", "-u", "NONE", "-i", "NONE", "-Es", "--cmd", f"set rtp^={RUNTIME}", "-c", "filetype plugin indent on", "-c", "syntax on"]
    argv += ["-c", f"edit {path}"]
    for c in commands:
        argv += ["-c", c]
    argv += ["-c", "qa!"]
    done = subprocess.run(argv, capture_output=True, timeout=60, check=False, env={**os.environ, "HOME": str(path.parent)})
    assert done.returncode == 0, done.stderr.decode(errors="replace")


SPECS = sorted((ROOT / "specs").glob("*.qap")) + [ROOT / "tests" / "specs" / "all_layers.qap"]


@pytest.mark.parametrize("editor", EDITORS)
def test_indenting_a_flattened_spec_gives_back_what_qapc_fmt_writes(editor: str, tmp_path: Path) -> None:
    for spec in SPECS:
        text = spec.read_text(encoding="utf-8")
        flat = tmp_path / spec.name
        flat.write_text("\n".join(line.lstrip() for line in text.split("\n")), encoding="utf-8")
        run(editor, flat, "normal! gg=G", "write")
        assert flat.read_text(encoding="utf-8") == text, spec.name


@pytest.mark.parametrize("editor", EDITORS)
def test_typing_a_block_indents_it(editor: str, tmp_path: Path) -> None:
    path = tmp_path / "typed.qap"
    path.write_text("")
    # typed in insert mode: each new line takes its indent from the brackets before it
    typed = [
        "model m {",
        "input 4",
        "dense fc1 8 relu { batchnorm }",
        "quant.bits in [4,",
        "8]",
        "}",
        '# "{" in a comment',
        "train {",
        'data file "x{.npz"',
        "}",
    ]
    keys = "\\r".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in typed)
    run(editor, path, f'execute "normal! i{keys}\\<Esc>"', "write")
    assert path.read_text() == (
        "model m {\n    input 4\n    dense fc1 8 relu { batchnorm }\n    quant.bits in [4,\n        8]\n}\n"
        '# "{" in a comment\ntrain {\n    data file "x{.npz"\n}\n'
    )


@pytest.mark.parametrize("editor", EDITORS)
def test_ranges_are_numbers(editor: str, tmp_path: Path) -> None:
    path = tmp_path / "ranges.qap"
    lines = ["search {", "    c1.units in 8..64", "    train.lr in 1e-4..1e-2", "    fc1.rate in 0.1..0.5", "}"]
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "groups.txt"
    dump = (
        "let rows = [] | for l in range(1, line('$')) | let r = [] | for c in range(1, len(getline(l)))"
        " | call add(r, synIDattr(synID(l, c, 1), 'name')) | endfor | call add(rows, join(r, ',')) | endfor"
        f" | call writefile(rows, '{out}')"
    )
    run(editor, path, dump)
    rows = [r.split(",") for r in out.read_text().split("\n")]
    for lnum, text in enumerate(lines):
        if " in " not in text:
            continue
        rng = text.split(" in ")[1]
        start = text.index(rng)
        lo = rng.split("..")[0]
        groups = rows[lnum]
        assert set(groups[start : start + len(lo)]) == {"qapRangeBound"}, (text, groups)
        assert set(groups[start + len(lo) : start + len(lo) + 2]) == {"qapRangeDots"}, (text, groups)
        assert set(groups[start + len(lo) + 2 : start + len(rng)]) == {"qapRangeBound"}, (text, groups)
    syntax = (RUNTIME / "syntax" / "qap.vim").read_text()
    assert "highlight default link qapRangeBound Number" in syntax and "highlight default link qapRangeDots Operator" in syntax
