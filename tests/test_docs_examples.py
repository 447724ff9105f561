"""docs/language.md and specs/ say what the language does: hold them to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qapdsl import metrics
from qapdsl.fmt import format_text
from qapdsl.loader import load_file, load_text
from qapdsl.syntax import parse

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```qap\n(.*?)```", DOC, re.S)


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("text", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_doc_examples_parse_and_are_formatted(text: str) -> None:
    parse(text)
    assert format_text(format_text(text)) == format_text(text)


def test_first_doc_example_is_a_clean_spec() -> None:
    loaded = load_text(EXAMPLES[0])
    assert loaded.ok, [str(d) for d in loaded.diagnostics]


def test_jet_float_is_the_papers_bops_reference() -> None:
    spec = load_file(ROOT / "specs" / "jet_float.qap").spec
    assert spec is not None and spec.prune is None
    assert [(layer.name, layer.units) for layer in spec.model.layers] == [("fc1", 64), ("fc2", 32), ("fc3", 32), ("out", 5)]
    assert metrics.total_bops(spec) == 4_652_832


def test_jet_lottery_rewinds_to_init() -> None:
    spec = load_file(ROOT / "specs" / "jet_lottery.qap").spec
    assert spec is not None and spec.prune is not None and spec.model.base == "jet_tagger"
    s = spec.prune.schedule
    assert (s.kind, s.rounds, s.rate, s.rewind) == ("iterative", 11, 0.2, "init")


def test_jet_sweep_axes() -> None:
    spec = load_file(ROOT / "specs" / "jet_sweep.qap").spec
    assert spec is not None and spec.sweep is not None
    assert [(a.path, a.values) for a in spec.sweep.axes] == [("quant.bits", (4, 6, 8, 12, 16, 32)), ("prune.rounds", (0, 4, 8, 11))]
