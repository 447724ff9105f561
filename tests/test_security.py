"""Nothing in a spec becomes code: every place spec text reaches, read by the program that reads it.

Each hostile string tries to create a marker file when some consumer interprets it:
Python (train.py / convert.py, including a PEP 263 `coding` cookie that once
came in through the spec's path), YAML (hls4ml_config.yml), Tcl (hls4ml's
project.tcl takes the part name), the shell and C (hls4ml's build script puts
the output folder into a C macro). For each string position of the language
(data names and files, target columns, the part, import paths, model and layer
names) and for the spec's own path and the output folder, the test checks that
`qapc check` refuses the string or that the consumers, run for real on the
generated files, never create the marker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from qapdsl.cli import main
from qapdsl.loader import load_file

MARK = "PWNED"
ROOT_SPECS = Path(__file__).resolve().parent.parent / "specs"

# Breaking out of: a Python string or comment, a YAML scalar, a Tcl word, a shell word, a C string.
PAYLOADS = [
    "x'); open('{mark}', 'w'); ('",
    'x"); open("{mark}", "w"); ("',
    'x"""\nopen("{mark}", "w")\n"""',
    "\\u000aopen('{mark}', 'w')",
    "x\nopen('{mark}', 'w')",
    "x\rimport os; os.system('touch {mark}')",
    "!!python/object/apply:os.system ['touch {mark}']",
    "x\n---\n!!python/object/apply:os.system ['touch {mark}']",
    "[exec touch {mark}]",
    '"; exec touch {mark}; set x "',
    "$(touch {mark})",
    "`touch {mark}`",
    '\\"); system("touch {mark}"); //',
    "x\u2028open('{mark}', 'w')",
    "x\x0copen('{mark}', 'w')",
]

SPEC = """model m {{
    input 4
    quant weights fixed<6,1>, activations ufixed<6,0>
    dense fc1 8 relu  # {comment}
    dense out 3 softmax
}}
train {{
    data {data}
    classes 3
    epochs 1  # {comment}
}}
target fpga {{
    part {part}
}}
"""


def _quoted(text: str) -> str:
    """`text` as a .qap string literal (the language's escapes: \\" \\\\ \\n \\t)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


@pytest.fixture
def mark_dir(tmp_path: Path) -> Iterator[Path]:
    """The folder the consumers run in: a relative marker lands here, an absolute one names it."""
    d = tmp_path / "run"
    d.mkdir()
    yield d
    assert not (d / MARK).exists(), "a hostile string was executed"


def consume(out: Path, cwd: Path) -> None:
    """Read every generated file the way its consumer does, for real."""
    for script in ("train.py", "convert.py"):
        # the module body (with the encoding Python picks for the file) runs; --help stops before the ML stack
        proc = subprocess.run([sys.executable, str(out / script), "--help"], cwd=cwd, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    text = (out / "hls4ml_config.yml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    assert isinstance(config, dict) and config["ProjectName"] == "m"
    tclsh = shutil.which("tclsh")
    assert tclsh is not None, "tclsh is needed (scripts/test.d/tcl.sh installs it)"
    # the line hls4ml 1.3.0's VivadoWriter.write_build_script writes into project.tcl
    tcl = f'set part "{config["Part"]}"\nputs -nonewline $part\n'
    proc = subprocess.run([tclsh], input=tcl, cwd=cwd, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout == config["Part"], (proc.stdout, proc.stderr)
    assert not (cwd / MARK).exists()


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("position", ["openml", "file", "target", "part", "comment", "import"])
def test_string_positions(position: str, payload: str, tmp_path: Path, mark_dir: Path) -> None:
    hostile = payload.format(mark=str(mark_dir / MARK))
    data, part, comment, extra = 'openml "jets"', '"xcu250-figd2104-2L-e"', "fine", ""
    if position == "openml":
        data = f"openml {_quoted(hostile)}"
    elif position == "file":
        data = f"file {_quoted(hostile + '.npz')}"
    elif position == "target":
        data = f'file "d.npz" target {_quoted(hostile)}'
    elif position == "part":
        part = _quoted(hostile)
    elif position == "comment":
        comment = hostile.replace("\n", " ").replace("\r", " ")  # a comment ends at the line break
    else:
        extra = f"import {_quoted(hostile + '.qap')}\n"
    spec = tmp_path / "spec.qap"
    spec.write_text(extra + SPEC.format(data=data, part=part, comment=comment), encoding="utf-8")
    loaded = load_file(spec)
    if not loaded.ok:
        assert loaded.diagnostics and all(d.span is not None for d in loaded.diagnostics)
        if position == "part":  # Tcl would substitute [ ] $ \ inside its double quotes: refused by `qapc check`
            assert any(d.code in ("E205", "E001") for d in loaded.diagnostics)  # E001: an invisible line break
        return
    out = tmp_path / "out"
    assert main(["build", str(spec), "-o", str(out)]) == 0
    consume(out, mark_dir)


@pytest.mark.parametrize(
    "folder",
    [
        "coding:raw_unicode_escape",
        "coding=latin-1",
        "-*- coding: utf-16 -*-",
        "vim: set fileencoding=raw_unicode_escape :",
        'we"ird\\N{x}',
        "line\nbreak",
    ],
)
def test_the_spec_path_decides_nothing(folder: str, tmp_path: Path, mark_dir: Path) -> None:
    """The spec's path is quoted in the headers of the generated files; no part of it may choose their encoding.

    With `coding:raw_unicode_escape` on line 2 of train.py, Python once decoded the `\\u000a`
    in a quoted spec comment as a line break, and the rest of that comment ran.
    """
    where = tmp_path / folder
    where.mkdir()
    spec = where / "spec.qap"
    attack = "\\u000aopen(" + repr(str(mark_dir / MARK)) + ", 'w')"
    text = SPEC.format(data="sklearn iris", part='"xcu250-figd2104-2L-e"', comment=attack).replace(f"relu  # {attack}", "relu")  # module level only
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["build", str(spec), "-o", str(out)]) == 0
    for name in ("train.py", "convert.py"):
        lines = (out / name).read_bytes().split(b"\n")
        assert lines[1] == b"# -*- coding: utf-8 -*-" and b"Generated by qapc" in lines[2]
    consume(out, mark_dir)
    if folder == "coding:raw_unicode_escape":
        lines = (out / "train.py").read_bytes().split(b"\n")
        (out / "old_train.py").write_bytes(b"\n".join(lines[:1] + lines[2:]))  # the spec path on line 2, as before the fix
        subprocess.run([sys.executable, str(out / "old_train.py"), "--help"], cwd=mark_dir, capture_output=True, timeout=120)
        assert (mark_dir / MARK).exists(), "the attack should work without the coding line: the test would prove nothing"
        (mark_dir / MARK).unlink()


@pytest.mark.parametrize("name", ["int", "main", "nnet", "EOF", "x" * 300, "_hidden", "a__b", "size_t", "w3"])
def test_names_refused_downstream(name: str, tmp_path: Path) -> None:
    """Names the C++ compiler, TensorFlow or the file system would refuse are refused by `qapc check`, with a caret."""
    for text in (SPEC.replace("model m {{", f"model {name} {{{{"), SPEC.replace("dense fc1 8", f"dense {name} 8")):
        spec = tmp_path / "spec.qap"
        spec.write_text(text.format(data="sklearn iris", part='"p"', comment="c"), encoding="utf-8")
        loaded = load_file(spec)
        if text.startswith("model m {"):  # the layer position: C++ keywords are fine as layer names (typedefs get suffixes)
            if name in ("int", "main", "nnet", "EOF", "size_t", "w3"):
                assert loaded.ok, loaded.diagnostics
                continue
        assert not loaded.ok and loaded.diagnostics[0].code == "E310", (name, loaded.diagnostics)
        assert loaded.diagnostics[0].span is not None and loaded.diagnostics[0].span.line in (1, 4)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40))
def test_every_part_name_check_accepts_is_literal_in_tcl(part: str) -> None:
    """Whatever `qapc check` accepts as a part, Tcl reads back as exactly that string (no substitution)."""
    from qapdsl import ast
    from qapdsl.lower.target import _part
    from qapdsl.lower.values import Bad

    try:
        _part(ast.Str(value=part, raw=_quoted(part), span=None))  # type: ignore[arg-type]
    except Bad:
        return
    tclsh = shutil.which("tclsh")
    assert tclsh is not None
    proc = subprocess.run([tclsh], input=f'set part "{part}"\nputs -nonewline $part\n', capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout == part


def test_output_folder_never_reaches_cxx_unchecked(tmp_path: Path) -> None:
    """convert.py refuses, before hls4ml writes anything, a build folder whose path would break out of the C macro."""
    spec = tmp_path / "spec.qap"
    spec.write_text(SPEC.format(data="sklearn iris", part='"p"', comment="c"), encoding="utf-8")
    good = tmp_path / "out"
    assert main(["build", str(spec), "-o", str(good)]) == 0
    bad = tmp_path / 'x"+system("touch PWNED")+"'
    shutil.copytree(good, bad)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, str(bad / "convert.py"), "--out", str(bad)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode != 0 and "hls4ml would paste" in proc.stderr
    assert not (bad / "hls_project").exists()


def test_the_parser_cache_is_private(tmp_path: Path) -> None:
    """Lark's grammar cache is a pickle: only a folder and file of this user, writable by nobody else, is ever read."""
    import pickle

    import lark

    from qapdsl import syntax

    grammar = syntax.grammar_path().read_text(encoding="utf-8")
    marker = tmp_path / MARK

    class Attack:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    def plant(folder: Path) -> Path:
        import hashlib

        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256((grammar + lark.__version__).encode()).hexdigest()[:16]
        path = folder / f"grammar-{digest}.lark"
        path.write_bytes(b"x\n" + pickle.dumps(Attack()))
        return path

    shared = tmp_path / "cache"
    planted = plant(shared / "qapc")
    env = {**os.environ, "XDG_CACHE_HOME": str(shared)}
    probe = "from qapdsl import syntax; print(syntax._cache_file(syntax.grammar_path().read_text(encoding='utf-8')))"
    for mode, owner in ((0o777, None), (0o755, 65534)):  # others may write the folder; the folder is someone else's
        os.chmod(shared / "qapc", mode)
        if owner is not None:
            os.chown(shared / "qapc", owner, -1)
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout.strip()
        assert out == "False", (mode, owner, out)
        proc = subprocess.run([sys.executable, "-m", "qapdsl.cli", "check", str(ROOT_SPECS / "jet.qap")], env=env, capture_output=True, text=True)
        assert proc.returncode == 0 and not marker.exists(), proc.stderr
    # a private folder of our own: used (the file there is what Lark wrote, or what we trust)
    os.chown(shared / "qapc", os.getuid(), -1)
    os.chmod(shared / "qapc", 0o700)
    planted.unlink()
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out.endswith(planted.name)
