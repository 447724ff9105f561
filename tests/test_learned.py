"""Learned bit widths (issue 18): the syntax, its checks, the generated HGQ2 code and the heterogeneous BOPs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from qapdsl import fmt, learned, metrics, report
from qapdsl.backends import render
from qapdsl.loader import load_text

SPEC = """model m {{
    input 64
    quant inputs fixed<8,3>, weights {weights}, activations ufixed<6,2>
    dense fc1 16 relu
    dense out 10 softmax {{ weights fixed<6,1> }}
}}
train {{
    data sklearn digits
    dialect {dialect}
}}
"""


def _load(weights: str, dialect: str = "hgq2"):  # type: ignore[no-untyped-def]
    return load_text(SPEC.format(weights=weights, dialect=dialect), "spec.qap", base_dir=Path.cwd())


def _errors(weights: str, dialect: str = "hgq2") -> list[tuple[str, int, int, str | None]]:
    loaded = _load(weights, dialect)
    return [(d.code, d.span.line if d.span else 0, d.span.column if d.span else 0, d.hint) for d in loaded.diagnostics if d.severity == "error"]


def test_learned_quantizer_in_the_ir() -> None:
    loaded = _load("learned fixed<8,3> per channel beta 1e-6..1e-4")
    assert loaded.ok, loaded.diagnostics
    assert loaded.spec is not None
    q = loaded.spec.model.quant.weights
    assert q is not None and q.learned is not None
    assert (q.kind, q.width, q.integer, q.signed) == ("fixed", 8, 3, True)
    assert (q.learned.granularity, q.learned.beta, q.learned.beta_end) == ("channel", 1e-6, 1e-4)
    assert q.learned.span is not None and (q.learned.span.line, q.learned.span.column) == (3, 38)


def test_defaults_and_bits_spelling() -> None:
    loaded = _load("learned 6 bits int 2")
    assert loaded.ok and loaded.spec is not None
    q = loaded.spec.model.quant.weights
    assert q is not None and q.learned is not None
    assert (q.kind, q.width, q.integer) == ("bits", 6, 2)
    assert (q.learned.granularity, q.learned.beta, q.learned.beta_end) == ("weight", learned.DEFAULT_BETA, None)


def test_fixed_width_quantizers_serialise_as_before() -> None:
    loaded = _load("fixed<6,1>")
    assert loaded.spec is not None
    assert "learned" not in loaded.spec.model_dump_json()
    with_learned = _load("learned fixed<6,1>")
    assert with_learned.spec is not None
    assert type(with_learned.spec).model_validate_json(with_learned.spec.model_dump_json()) == with_learned.spec


def test_qkeras_dialect_refuses_learned_widths_at_the_word() -> None:
    assert _errors("learned fixed<8,3>", "qkeras") == [
        ("E406", 3, 38, "write `dialect hgq2` in the train section (HGQ2 trains the widths), or a fixed type without `learned`")
    ]


@pytest.mark.parametrize(
    ("weights", "code", "column"),
    [
        ("learned", "E202", 38),
        ("learned po2 4 bits", "E403", 46),
        ("learned binary", "E403", 46),
        ("learned fixed<8,3> per neuron", "E204", 61),
        ("learned fixed<8,3> per", "E202", 57),
        ("learned fixed<8,3> beta 2", "E205", 62),
        ("learned fixed<8,3> beta 0..1e-4", "E205", 62),
        ("learned fixed<8,3> beta big", "E203", 62),
        ("learned fixed<8,3> beta 1e-5 beta 1e-6", "E104", 57),
        ("learned per weight fixed<8,3>", "E206", 46),
        ("learned fixed<8,3> alpha auto", "E403", 46),
    ],
)
def test_bad_learned_quantizers(weights: str, code: str, column: int) -> None:
    errors = _errors(weights)
    assert errors and errors[0][:3] == (code, 3, column), errors
    assert errors[0][3], "every error has a hint"


def test_learned_activations_are_refused_for_now() -> None:
    loaded = load_text(SPEC.format(weights="fixed<6,1>", dialect="hgq2").replace("activations ufixed<6,2>", "activations learned ufixed<6,2>"), "spec.qap")
    codes = [(d.code, d.span.column if d.span else 0) for d in loaded.diagnostics if d.severity == "error"]
    assert codes == [("E406", 62)]


def test_two_betas_on_one_layer() -> None:
    text = SPEC.format(weights="learned fixed<8,3> beta 1e-5", dialect="hgq2").replace("dense fc1 16 relu", "dense fc1 16 relu { bias learned fixed<8,3> beta 1e-6 }")
    loaded = load_text(text, "spec.qap")
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    assert [e.code for e in errors] == ["E406"] and errors[0].span is not None and errors[0].span.line == 4


def test_fmt_spaces_a_learned_quantizer_and_keeps_its_meaning() -> None:
    text = SPEC.format(weights="learned   fixed<8,3>  beta 1e-6 .. 1e-4 per  layer", dialect="hgq2")
    out = fmt.format_text(text)
    assert "weights learned fixed<8,3> beta 1e-6..1e-4 per layer," in out
    assert fmt.format_text(out) == out
    a, b = load_text(text, "spec.qap").spec, load_text(out, "spec.qap").spec
    assert a is not None and b is not None
    assert a.model.quant.weights is not None and b.model.quant.weights is not None
    assert a.model.quant.weights.learned is not None and b.model.quant.weights.learned is not None
    assert a.model.quant.weights.learned.model_dump(exclude={"span", "spans"}) == b.model.quant.weights.learned.model_dump(exclude={"span", "spans"})


def _train_py(weights: str) -> str:
    loaded = _load(weights)
    assert loaded.ok and loaded.spec is not None, loaded.diagnostics
    return render(loaded.spec, Path("/tmp/qapc-learned-test"), spec_path="spec.qap")["train.py"].decode()


def test_generated_train_py_learns_only_what_the_spec_says() -> None:
    text = _train_py("learned fixed<8,3> per channel beta 1e-6..1e-4")
    assert "kq_conf=learned(8, 3, 'weight', per='channel')" in text
    assert "iq_conf=fixed(8, 3),\n            enable_iq=True,\n            enable_ebops=True,\n            beta0=1e-06," in text
    assert "LEARNED = ('fc1',)" in text  # out has fixed widths
    assert "BETA_SCHEDULES = {'fc1': (1e-06, 0.0001)}" in text
    assert "def beta_schedule(" in text and "def learned_widths(" in text and "trace_minmax(" in text
    assert 'metrics["learned"] = widths' in text
    fixed_beta = _train_py("learned fixed<8,3> beta 1e-5")
    assert "BETA_SCHEDULES" not in fixed_beta and "def beta_schedule(" not in fixed_beta
    plain = _train_py("fixed<8,3>")
    assert "learned" not in plain and "trace_minmax" not in plain and "enable_ebops=True" not in plain
    compile(text, "train.py", "exec")


def test_a_learned_layer_needs_a_quantized_input() -> None:
    text = SPEC.format(weights="fixed<6,1>", dialect="hgq2").replace("quant inputs fixed<8,3>, ", "quant ").replace(
        "dense out 10 softmax { weights fixed<6,1> }", "dense out 10 softmax { weights learned fixed<6,1> }"
    ).replace("activations ufixed<6,2>", "activations float")
    loaded = load_text(text, "spec.qap")
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    assert errors and errors[0].code == "E406", loaded.diagnostics


# -- heterogeneous BOPs --------------------------------------------------------------------------


def test_heterogeneous_bops_by_hand() -> None:
    # two inputs of 4 and 6 bits, two outputs; weights (k, j): 2 and 0 bits from input 0, 3 and 4 from input 1.
    # Σ_j Σ_k (a_k·b_kj + a_k + b_max + log2 n) with b_max = 4, log2 2 = 1:
    #   (4·2 + 4 + 5) + (4·0 + 4 + 5) + (6·3 + 6 + 5) + (6·4 + 6 + 5) = 17 + 9 + 29 + 35 = 90
    assert learned.bops([[2, 0], [3, 4]], [4, 6]) == 90.0
    # a conv kernel applied at 3 positions costs three times as much
    assert learned.bops([[2, 0], [3, 4]], [4, 6], positions=3) == 270.0


def test_heterogeneous_bops_reduce_to_the_papers_formula() -> None:
    n, m, b_w, b_a = 4, 3, 6, 8
    kept = [[b_w if (k + j) % 2 == 0 else 0 for j in range(m)] for k in range(n)]  # 6 of 12 weights kept
    p = sum(1 for row in kept for b in row if b) / (n * m)
    assert math.isclose(learned.bops(kept, b_a), metrics.bops(n, m, b_w, b_a, p))
    full = [[b_w] * m for _ in range(n)]
    assert math.isclose(learned.bops(full, b_a), metrics.bops(n, m, b_w, b_a, 1.0))
    with pytest.raises(ValueError):
        learned.bops([[1, 2], [3]], 4)


def test_report_uses_the_trained_widths() -> None:
    loaded = _load("learned fixed<8,3>")
    assert loaded.spec is not None
    kernel = [[0 if (k + j) % 3 == 0 else 5 for j in range(16)] for k in range(64)]
    run = {"metrics": {"accuracy": 0.9, "sparsity": {"layers": {"fc1": 0.0, "out": 0.0}, "total": 0.0}, "learned": {"ebops": 1234.0, "layers": {"fc1": {"kernel_bits": kernel, "bias_bits": 40}}}}}
    rep = report.build(loaded.spec, run)
    fc1 = next(layer for layer in rep.layers if layer["name"] == "fc1")
    assert fc1["bops_measured"] == learned.bops(kernel, 8)  # the input is fixed<8,3>
    out = next(layer for layer in rep.layers if layer["name"] == "out")
    assert out["bops_measured"] == metrics.bops(16, 10, 6, 6, 1.0)  # fixed widths: the paper's formula
    assert rep.totals["bops_measured"] == fc1["bops_measured"] + out["bops_measured"]
    assert rep.totals["ebops_measured"] == 1234.0
    assert fc1["memory_bits_measured"] == sum(map(sum, kernel)) + 40  # the trained widths, not the starting ones
    assert any("learned widths" in note for note in rep.notes)


def test_study_axes_switch_learned_widths_and_set_beta() -> None:
    from qapdsl import paths

    loaded = _load("learned fixed<6,1> beta 1e-6..1e-4")
    assert loaded.spec is not None
    off = paths.apply(loaded.spec, "quant.learned", "off")
    assert not learned.uses_learned(off)
    assert off.model.quant.weights is not None and (off.model.quant.weights.kind, off.model.quant.weights.width) == ("fixed", 6)
    on = paths.apply(off, "quant.learned", "on")
    assert on.model.quant.weights is not None and on.model.quant.weights.learned is not None
    beta = paths.apply(loaded.spec, "quant.beta", 3e-5)
    w = beta.model.quant.weights
    assert w is not None and w.learned is not None and (w.learned.beta, w.learned.beta_end) == (3e-5, None)
    assert paths.apply(off, "quant.beta", 3e-5) == off  # nothing learns: nothing to weigh
    wider = paths.apply(loaded.spec, "quant.bits", 8)  # the starting width
    assert wider.model.quant.weights is not None and wider.model.quant.weights.width == 8 and wider.model.quant.weights.learned is not None
    with pytest.raises(paths.PathError):
        paths.apply(loaded.spec, "quant.learned", "maybe")
    with pytest.raises(paths.PathError):
        paths.apply(loaded.spec, "quant.beta", 2.0)


def test_the_learned_search_spec_checks() -> None:
    from qapdsl.loader import load_file

    loaded = load_file(Path(__file__).resolve().parents[1] / "specs" / "digits_learned_search.qap")
    assert loaded.ok, [d.message for d in loaded.diagnostics]
    assert loaded.spec is not None and loaded.spec.search is not None
    assert {"quant.learned", "quant.beta", "quant.bits"} <= {a.path for a in loaded.spec.search.axes}


def test_editor_completion_and_hover_know_learned_quantizers() -> None:
    from qapdsl.lsp import analysis, completion, cursor
    from qapdsl.lsp import hover as hovers

    base = SPEC.format(weights="learned fixed<8,3> per channel beta 1e-5", dialect="hgq2")

    def at(text: str, needle: str, offset: int) -> tuple[int, int]:
        index = text.index(needle) + offset
        return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1

    def complete(text: str, needle: str, offset: int) -> list[str]:
        return [i.label for i in completion.completions(analysis.analyse(base, None), text, *at(text, needle, offset))]

    assert set(complete(base.replace("per channel beta 1e-5", "").replace("learned fixed<8,3>", "learned "), "learned  ,", 8)) == {"fixed", "ufixed", "bits"}
    assert complete(base.replace("per channel beta 1e-5", "per "), "per ,", 4) == ["weight", "channel", "layer"]
    assert complete(base.replace("per channel beta 1e-5", "per channel "), "channel ,", 8) == ["beta"]
    hit = cursor.word_at(base, *at(base, "channel", 1))
    assert hit is not None
    shown = hovers.hover(hovers.Analyses(analysis.analyse(base, None), None), base, hit)
    assert shown is not None and "output channel" in shown
    hit = cursor.word_at(base, *at(base, "learned", 1))
    assert hit is not None
    shown = hovers.hover(hovers.Analyses(analysis.analyse(base, None), None), base, hit)
    assert shown is not None and "EBOPs" in shown
