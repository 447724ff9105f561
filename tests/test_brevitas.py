"""The brevitas dialect without its stack: what `qapc check` refuses (E406/E407, with a caret and a hint),
and what the generated train.py / convert.py / hls4ml_config.yml hold. The runs are in
tests/test_brevitas_integration.py (markers `integration` and `brevitas`)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qapdsl import quant
from qapdsl.backends import render
from qapdsl.loader import load_bytes

ROOT = Path(__file__).resolve().parent.parent

SPEC = """model m {
    input 64
    quant inputs fixed<8,3>, weights fixed<6,1>, activations ufixed<6,2>
    dense fc1 8 relu
    dense out 10 softmax
}
train {
    data sklearn digits
    dialect brevitas
}
"""


def diagnostics(text: str) -> list[tuple[str, int, int, str, str]]:
    loaded = load_bytes(text.encode(), "spec.qap", base_dir=Path.cwd())
    return [(d.code, d.span.line if d.span else 0, d.span.column if d.span else 0, d.message, d.hint or "") for d in loaded.diagnostics]


def test_the_spec_is_clean() -> None:
    assert diagnostics(SPEC) == []


@pytest.mark.parametrize(
    ("edit", "code", "line", "column", "says", "hint"),
    [
        # a float model: every tensor would convert through hls4ml's default precision
        (lambda s: s.replace("    quant inputs fixed<8,3>, weights fixed<6,1>, activations ufixed<6,2>\n", ""), "E406", 8, 5, "a float model", "quantize the model"),
        # Brevitas' float bias (bias_quant=None): 0 of 360 rows exact
        (lambda s: s.replace("dense fc1 8 relu", "dense fc1 8 relu { bias float }"), "E406", 4, 29, "a float tensor", "use fixed<W,I>"),
        # a learned / per-channel scale (QKeras' alpha): scale nodes, or a converter crash
        (lambda s: s.replace("weights fixed<6,1>", "weights fixed<6,1> alpha auto"), "E406", 3, 38, "no `alpha` scale", "use fixed<W,I>"),
        (lambda s: s.replace("weights fixed<6,1>", "weights po2 4 bits"), "E406", 3, 38, "cannot express po2", ""),
        (lambda s: s.replace("dense fc1 8 relu", "dense fc1 8 tanh"), "E406", 4, 17, "the tanh of 'fc1'", "use relu or linear"),
        (lambda s: s.replace("dense fc1 8 relu", "dense fc1 8 relu { batchnorm }"), "E406", 4, 11, "batch norm", "remove `batchnorm`"),
        (lambda s: s.replace("dense fc1 8 relu", "dense fc1 8 relu\n    dropout d 0.1"), "E406", 5, 13, "dropout layer 'd'", "use dense layers"),
        (lambda s: s.replace("dense fc1 8 relu", "dense fc1 8 relu { accum fixed<24,8> }"), "E406", 4, 24, "`accum` of 'fc1'", "remove `accum`"),
        (lambda s: s + "prune {\n    bias on\n    schedule iterative { rounds 2; rate 20% }\n}\n", "E406", 12, 5, "prunes weights only", "remove `bias on`"),
        (lambda s: s + "prune {\n    schedule iterative { rounds 2; rate 20%; rewind init }\n}\n", "E406", 12, 5, "rewind to the init", "rewind none"),
        (lambda s: s + "target fpga {\n    rtl verilog\n}\n", "E407", 12, 9, "RTL step is not wired to the brevitas dialect", "remove `rtl`"),
    ],
)
def test_what_cannot_be_exact_is_refused_with_a_caret(edit, code: str, line: int, column: int, says: str, hint: str) -> None:  # type: ignore[no-untyped-def]
    got = diagnostics(edit(SPEC))
    assert got, "no diagnostic"
    first = got[0]
    assert first[:3] == (code, line, column), got
    assert says in first[3], first[3]
    assert hint in first[4], first[4]


def test_check_exits_non_zero_with_file_line_column(tmp_path: Path) -> None:
    spec = tmp_path / "spec.qap"
    spec.write_text(SPEC.replace("dense fc1 8 relu", "dense fc1 8 relu { bias float }"), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "qapdsl.cli", "check", str(spec)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{spec}:4:29: error[E406]" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def _build(text: str = SPEC) -> dict[str, str]:
    loaded = load_bytes(text.encode(), "spec.qap", base_dir=Path.cwd())
    assert loaded.ok and loaded.spec is not None
    return {k: v.decode() for k, v in render(loaded.spec, Path("build/m"), spec_path="spec.qap", sources=loaded.sources).items()}


def test_quantizers_are_pinned_to_the_spec_types() -> None:
    train = _build()["train.py"]
    assert "('input_q', qnn.QuantIdentity(act_quant=act_quant(8, 3), return_quant_tensor=True))" in train
    assert "qnn.QuantLinear(64, 8, bias=True, weight_quant=weight_quant(6, 1), bias_quant=bias_quant(6, 1), return_quant_tensor=True)" in train
    assert "('fc1_relu', qnn.QuantReLU(act_quant=act_quant(6, 2, signed=False), return_quant_tensor=True))" in train
    assert "qnn.QuantLinear(8, 10, bias=True, weight_quant=weight_quant(6, 1), bias_quant=bias_quant(6, 1), return_quant_tensor=False)" in train
    assert "QUANT_TYPES = {'input_q': 'fixed<8,3>', 'fc1.weight': 'fixed<6,1>', 'fc1.bias': 'fixed<6,1>', 'fc1_relu': 'ufixed<6,2>', 'out.weight': 'fixed<6,1>', 'out.bias': 'fixed<6,1>'}" in train
    assert "scaling_impl_type=ScalingImplType.CONST" in train and "narrow_range=False" in train
    assert "Softmax" not in train and "torch.nn.functional.cross_entropy(logits" in train  # the loss applies the softmax


def test_bits_quantizers_follow_the_tensor() -> None:
    q = load_bytes(SPEC.replace("activations ufixed<6,2>", "activations 6 bits int 2").encode(), "spec.qap", base_dir=Path.cwd())
    assert q.ok
    assert quant.brevitas_quantizer(quant.ir.Quant(kind="bits", width=6, integer=2), "activations", "relu") == "act_quant(6, 2, signed=False)"
    assert quant.brevitas_quantizer(quant.ir.Quant(kind="bits", width=6, integer=2), "weights") == "weight_quant(6, 3)"


def test_pruning_parts_only_when_pruned() -> None:
    dense = _build()["train.py"]
    assert "torch.nn.utils" not in dense and "def prune_round" not in dense and "def train_model" in dense
    pruned = _build(SPEC + "prune {\n    scope layer\n    schedule iterative { rounds 3; rate 20%; rewind none; epochs 2 }\n}\n")["train.py"]
    assert "prune.l1_unstructured(m, \"weight\", amount=remove)" in pruned and "global_unstructured" not in pruned
    glob = _build(SPEC + "prune {\n    scope global\n    schedule iterative { rounds 3; rate 20%; rewind none; epochs 2 }\n}\n")["train.py"]
    assert "prune.global_unstructured(" in glob and "l1_unstructured" not in glob
    ast.parse(glob)


def test_convert_sets_the_input_type_and_config_holds_it() -> None:
    files = _build()
    config = yaml.safe_load(files["hls4ml_config.yml"])
    assert config["HLSConfig"]["InputPrecision"] == "fixed<8,3,RND_CONV,SAT>"
    assert config["HLSConfig"]["Model"] == {"Precision": {"default": "fixed<16,6>"}, "ReuseFactor": 1, "Strategy": "Latency"}
    convert = files["convert.py"]
    for step in ("cleanup_model", "ConvertToChannelsLastAndClean", "GemmToMatMul", "config_from_onnx_model", "convert_from_onnx_model", 'config["HLSConfig"]["InputPrecision"]'):
        assert step in convert, step
    assert "dynamo=False" in files["train.py"]



def test_early_stopping_only_when_asked() -> None:
    text = SPEC + "prune {\n    schedule iterative { rounds 2; rate 20%; rewind none; epochs 2 }\n}\n"
    train = _build(text)["train.py"]
    ast.parse(train)
    assert "PATIENCE" not in train and "best_state" not in train and "import copy" not in train
    stopping = _build(text.replace("    dialect brevitas\n", "    dialect brevitas\n    early_stop patience 3\n"))["train.py"]
    assert "PATIENCE = 3" in stopping and "monitored = val_loss" in stopping and "model.load_state_dict(best_state)" in stopping


@pytest.mark.parametrize("kind", ["constant { target 80%; begin 10; frequency 5 }", "polynomial { initial 0%; target 80%; begin 10; frequency 5 }"])
def test_gradual_schedules(kind: str) -> None:
    text = SPEC.replace("    dialect brevitas\n", "    dialect brevitas\n    early_stop patience 3\n") + "prune {\n    schedule " + kind + "\n}\n"
    train = _build(text)["train.py"]
    ast.parse(train)
    assert "def before_batch():" in train and "m.weight_mask.copy_(" in train and "def prune_round" not in train
    assert 'start_from_epoch=g["start_from_epoch"]' in train and "def magnitude_mask(w, sparsity):" in train
    assert ("np.float32(TARGET)" in train) == kind.startswith("constant")
