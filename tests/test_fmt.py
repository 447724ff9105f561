"""`qapc fmt`: parse → fmt → parse gives the same IR, fmt is idempotent, comments survive."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from ir_support import strip_spans

from qapdsl.fmt import format_text
from qapdsl.loader import load_bytes
from qapdsl.syntax import parse

ROOT = Path(__file__).resolve().parent.parent
SPEC_FILES = sorted((ROOT / "specs").glob("*.qap")) + sorted((ROOT / "tests" / "specs").glob("*.qap"))
FILES = [p for p in SPEC_FILES if not p.name.endswith(".formatted.qap")]


def ir_of(text: str, path: Path) -> Any:
    loaded = load_bytes(text.encode("utf-8"), path.name, base_dir=path.parent)
    assert loaded.ok and loaded.spec is not None, [str(d) for d in loaded.diagnostics]
    return strip_spans(loaded.spec.model_dump(mode="json"))


def test_there_are_specs() -> None:
    names = {p.name for p in FILES}
    assert {"jet.qap", "jet_float.qap", "jet_lottery.qap", "jet_sweep.qap", "all_layers.qap", "messy.qap"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_roundtrip_same_ir(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    formatted = format_text(text, path.name)
    assert ir_of(formatted, path) == ir_of(text, path)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_idempotent_and_comments_kept(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    once = format_text(text, path.name)
    assert format_text(once, path.name) == once
    before = Counter(c.text for c in parse(text, path.name).comments)
    after = Counter(c.text for c in parse(once, path.name).comments)
    assert before and after == before


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.qap")), ids=lambda p: p.name)
def test_specs_are_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text, path.name) == text, f"run `qapc fmt {path.relative_to(ROOT)}`"


def test_messy_golden() -> None:
    messy = (ROOT / "tests" / "specs" / "messy.qap").read_text(encoding="utf-8")
    golden = (ROOT / "tests" / "specs" / "messy.formatted.qap").read_text(encoding="utf-8")
    assert format_text(messy) == golden
    # the golden output says, line by line, where each kind of comment goes
    lines = golden.splitlines()
    assert lines[:3] == ["# header comment", "", 'import "../../specs/jet.qap"  # trailing on import']
    assert "    layer fc2 { reuse 2 }  # trailing" in lines
    assert lines[-1] == "# final comment"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model m{input 16;dense out 5 softmax}", "model m {\n    input 16\n    dense out 5 softmax\n}\n"),
        ('import "a.qap"\nimport "b.qap"\nprune{}', 'import "a.qap"\nimport "b.qap"\n\nprune {\n}\n'),
        ("train { split test 20%,val 0.25 }", "train {\n    split test 20%, val 0.25\n}\n"),
        ("target fpga { clock 5 ns }  # c", "target fpga {\n    clock 5 ns\n}  # c\n"),
        ("sweep { x in [ 1 ,2 ] ; y in 1..4 }", "sweep {\n    x in [1, 2]\n    y in 1..4\n}\n"),
        ("model m { input ( 8 , ) }", "model m {\n    input (8,)\n}\n"),
        ("model m { dense a 4 { weights fixed< 6 , 1 > } }", "model m {\n    dense a 4 { weights fixed<6,1> }\n}\n"),
        ("", ""),
        ("# only a comment", "# only a comment\n"),
        (
            "prune { schedule iterative { rounds 3 # three\n rate 20% } }",
            "prune {\n    schedule iterative {\n        rounds 3  # three\n        rate 20%\n    }\n}\n",
        ),
    ],
)
def test_canonical_layout(text: str, expected: str) -> None:
    assert format_text(text) == expected
    assert format_text(expected) == expected


def test_long_nested_block_breaks() -> None:
    settings = "; ".join(f"l1 1e-{i}" for i in range(1, 20))
    out = format_text(f"model m {{ dense a 4 {{ {settings} }} }}")
    assert all(len(line) <= 100 for line in out.splitlines())
    assert "        l1 1e-19\n" in out
