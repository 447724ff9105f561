"""Random *valid* specs for differential testing (hypothesis strategies).

The generator writes spec text the way a user would, from the language's own
vocabulary (`qapdsl.schema`: layer kinds, activations, quantizer kinds,
schedules, losses, backends) and its shape rules, for data that works offline:
scikit-learn's bundled sets, or a small synthetic file the test writes next to
the spec (`GeneratedSpec.data`). The property it serves:

    qapc check ok  ⇒  qapc build ok  ⇒  train ok  ⇒  convert + C++ emulation ok
                   ⇒  QKeras ↔ HLS argmax agreement ≥ 99%

It aims at specs `qapc check` accepts; a spec it rejects is not a counterexample
(only a wasted draw), and tests/test_specgen.py keeps the rejection rate low.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from qapdsl import data as qdata
from qapdsl import names as qnames
from qapdsl.checks.hardware import valid_reuse_factors


@dataclass(frozen=True)
class FileData:
    """A synthetic data set the test writes as `<dir>/<name>`: features of `shape`, `classes` labels."""

    name: str
    shape: tuple[int, ...]
    classes: int
    rows: int
    seed: int


@dataclass
class GeneratedSpec:
    text: str
    data: FileData | None = None
    notes: list[str] = field(default_factory=list)  # what was drawn, for reading a counterexample


# Names users write, including some that look dangerous but that every tool accepts
# (C library functions, mixed case), to keep qapdsl.names honest in both directions.
LAYER_WORDS = ["fc", "dense", "hidden", "conv", "feat", "block", "printf", "exp", "tm", "Layer", "net", "x"]
MODEL_WORDS = ["jet_tagger", "digits_net", "JetTagger", "model", "tiny", "printf", "qap_mlp", "m"]


def _fixed(draw: st.DrawFn, signed: bool, width_range: tuple[int, int] = (2, 12), dialect: str = "qkeras") -> str:
    width = draw(st.integers(*width_range))
    low = 1 if signed else 0
    # QKeras takes no negative integer bits (E406); HGQ2 does: a range below 1, all fraction bits
    low -= 2 if dialect == "hgq2" and draw(st.integers(0, 5)) == 0 else 0
    integer = draw(st.integers(low, min(width, low + 4)))
    return f"{'fixed' if signed else 'ufixed'}<{width},{integer}>"


def _bits(draw: st.DrawFn, width_range: tuple[int, int] = (2, 12)) -> str:
    width = draw(st.integers(*width_range))
    integer = draw(st.integers(0, min(width - 1, 3)))
    return f"{width} bits int {integer}" if integer else f"{width} bits"


def weight_quant(draw: st.DrawFn, dialect: str = "qkeras", rtl: bool = False) -> str:
    if rtl:  # what the RTL route builds exactly (qapdsl/rtlcaps.py)
        kinds = ["fixed", "fixed", "bits"]
    elif dialect == "qkeras":
        kinds = ["fixed", "fixed", "fixed", "bits", "po2", "binary", "ternary", "float"]
    else:
        kinds = ["fixed", "fixed", "fixed", "bits", "float"]
    kind = draw(st.sampled_from(kinds))
    if kind == "fixed":
        return _fixed(draw, signed=True, dialect=dialect)
    if kind == "bits":
        return _bits(draw)
    if kind == "po2":
        return f"po2 {draw(st.integers(3, 6))} bits"
    return kind


def _coarse(draw: st.DrawFn, signed: bool) -> str:
    """An activation type with at most 3 fraction bits: hls4ml's bit-exact flow (hgq2) needs no more
    fraction bits after a sum than the sum has (E406), and a small input and weight type have few."""
    width = draw(st.integers(3, 10))
    return f"{'fixed' if signed else 'ufixed'}<{width},{width - draw(st.integers(0, 3))}>"


def relu_quant(draw: st.DrawFn, dialect: str = "qkeras") -> str:
    if dialect == "hgq2" and draw(st.booleans()):
        return _coarse(draw, signed=False)
    return _fixed(draw, signed=False) if draw(st.booleans()) else _bits(draw)


def linear_quant(draw: st.DrawFn, dialect: str = "qkeras") -> str:
    if dialect == "hgq2" and draw(st.booleans()):
        return _coarse(draw, signed=True)
    return _fixed(draw, signed=True) if draw(st.booleans()) else _bits(draw)


@dataclass
class _Model:
    """The model being drawn: its lines and what the generator must know to keep it valid."""

    shape: tuple[int, ...]
    lines: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    weight_layers: list[str] = field(default_factory=list)
    po2_weights: bool = False
    dialect: str = "qkeras"
    quantized: bool = True  # the model has a `quant` line (its default activations are a relu's, unsigned)
    default_weights: str = "float"  # the `quant weights` of the model
    rtl: bool = False  # the spec goes to RTL: only what the RTL route builds exactly (E407 otherwise)

    def name(self, draw: st.DrawFn, kind: str) -> str:
        word = draw(st.sampled_from(LAYER_WORDS))
        name = f"{word}{len(self.names) + 1}" if word[-1].isalpha() else f"{word}_{len(self.names) + 1}"
        if qnames.layer_name_problem(name) is not None or any(name == n or name.startswith(n + "_") or n.startswith(name + "_") for n in self.names):
            name = f"{kind}_{len(self.names) + 1}"
        self.names.append(name)
        return name


def _settings(draw: st.DrawFn, m: _Model, fan_in: int, units: int, activation: str, default_w_po2: bool) -> list[str]:
    """The `{ ... }` block of a weight layer: quantizer overrides, batchnorm, regularisers, reuse."""
    out: list[str] = []
    if draw(st.integers(0, 3)) == 0:
        out.append(f"weights {weight_quant(draw, m.dialect, m.rtl)}")
    weights = out[0].split(" ", 1)[1] if out else m.default_weights
    if m.dialect == "hgq2" and weights == "float":
        pass  # an HGQ2 layer quantizes its kernel and bias or neither (E406)
    elif default_w_po2 or draw(st.integers(0, 4)) == 0 or (out and "po2" in out[0]):
        out.append(f"bias {_fixed(draw, signed=True)}")  # hls4ml cannot compile po2 biases
    if (activation == "linear" and m.quantized) or (activation in ("relu", "linear") and draw(st.integers(0, 3)) == 0):
        # a linear output needs a signed type: the model's default activations are a relu's (E404)
        out.append(f"activations {relu_quant(draw, m.dialect) if activation == 'relu' else linear_quant(draw, m.dialect)}")
    if draw(st.integers(0, 3)) == 0 and not m.rtl:
        out.append("batchnorm")
    if draw(st.integers(0, 3)) == 0:
        out.append(f"{draw(st.sampled_from(['l1', 'l2']))} {draw(st.sampled_from(['1e-5', '1e-4']))}")
    valid = valid_reuse_factors(fan_in, units) if fan_in * units <= 100_000 else [1]
    if draw(st.integers(0, 4)) == 0:
        out.append(f"reuse {draw(st.sampled_from(valid[:6]))}")
    return out


def _block(settings: list[str]) -> str:
    return f" {{ {'; '.join(settings)} }}" if settings else ""


def _hidden_dense(draw: st.DrawFn, m: _Model, default_w_po2: bool) -> None:
    units = draw(st.sampled_from([4, 8, 12, 16, 24]))
    act = draw(st.sampled_from(["relu", "relu", "relu", "linear"] if m.rtl else ["relu", "relu", "relu", "linear", "tanh", "sigmoid"]))
    name = m.name(draw, "dense")
    settings = _settings(draw, m, math.prod(m.shape), units, act, default_w_po2)
    m.lines.append(f"dense {name} {units} {act}{_block(settings)}")
    m.weight_layers.append(name)
    m.shape = (units,)


def _conv(draw: st.DrawFn, m: _Model, default_w_po2: bool) -> None:
    rank = len(m.shape) - 1
    filters = draw(st.sampled_from([2, 4, 6, 8]))
    sizes = m.shape[:rank]
    k = draw(st.integers(1, min(3, *sizes)))
    padding = draw(st.sampled_from(["valid", "valid", "same"]))
    stride = draw(st.sampled_from([1, 1, 2])) if min(sizes) >= 4 else 1
    act = draw(st.sampled_from(["relu", "relu", "linear"]))
    name = m.name(draw, "conv")
    fan_in = k**rank * m.shape[-1]
    settings = _settings(draw, m, fan_in, filters, act, default_w_po2)
    settings = [s for s in settings if not s.startswith("reuse")]  # conv reuse needs more care than dense; leave it to the target
    kind = "conv1d" if rank == 1 else "conv2d"
    extra = (f" stride {stride}" if stride != 1 else "") + (f" padding {padding}" if padding != "valid" else "")
    m.lines.append(f"{kind} {name} {filters} {act} kernel {k}{extra}{_block(settings)}")
    m.weight_layers.append(name)
    spatial = tuple(math.ceil(s / stride) if padding == "same" else (s - k) // stride + 1 for s in sizes)
    m.shape = (*spatial, filters)


def _pool(draw: st.DrawFn, m: _Model) -> None:
    rank = len(m.shape) - 1
    sizes = m.shape[:rank]
    if min(sizes) < 2:
        return
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    name = m.name(draw, "pool")
    m.lines.append(f"{kind} {name} 2")
    m.shape = (*(s // 2 for s in sizes), m.shape[-1])


def model_lines(draw: st.DrawFn, m: _Model, classes: int, out_act: str, default_w_po2: bool) -> None:
    if len(m.shape) > 1 and m.rtl:  # the RTL route builds dense networks: flatten the image first
        m.lines.append(f"flatten {m.name(draw, 'flat')}")
        m.shape = (math.prod(m.shape),)
    if len(m.shape) > 1:
        for _ in range(draw(st.integers(1, 2))):
            _conv(draw, m, default_w_po2)
            if draw(st.booleans()):
                _pool(draw, m)
        m.lines.append(f"flatten {m.name(draw, 'flat')}")
        m.shape = (math.prod(m.shape),)
    for _ in range(draw(st.integers(0 if len(m.lines) else 1, 2))):
        _hidden_dense(draw, m, default_w_po2)
        extra = draw(st.integers(0, 6))
        if extra == 0:
            m.lines.append(f"dropout {m.name(draw, 'drop')} {draw(st.sampled_from(['0.1', '20%']))}")
        elif extra == 1 and not m.rtl:
            m.lines.append(f"batchnorm {m.name(draw, 'bn')}")
        elif extra == 2:
            act = draw(st.sampled_from(["relu"] if m.rtl else ["relu", "tanh"]))
            quant = f" {{ activations {relu_quant(draw, m.dialect)} }}" if act == "relu" and draw(st.booleans()) else ""
            m.lines.append(f"activation {m.name(draw, 'act')} {act}{quant}")
    units = 1 if out_act == "sigmoid" else classes
    name = draw(st.sampled_from(["out", "output", "logits", "head"]))
    settings: list[str] = []
    if draw(st.integers(0, 2)) == 0:
        settings.append(f"weights {_fixed(draw, signed=True)}")
    if default_w_po2 and not settings:
        settings.append(f"bias {_fixed(draw, signed=True)}")
    m.lines.append(f"dense {name} {units} {out_act}{_block(settings)}")
    m.names.append(name)
    m.weight_layers.append(name)


def rtl_line(draw: st.DrawFn) -> str:
    """`rtl verilog` with or without pipelining, Yosys synthesis now and then (it takes 15-50 s)."""
    settings = []
    pipeline = draw(st.sampled_from([None, None, 2, 5]))
    if pipeline is not None:
        settings.append(f"pipeline {pipeline}")
    if draw(st.integers(0, 3)) != 0:
        settings.append("synth off")
    return "rtl verilog" + (" { " + "; ".join(settings) + " }" if settings else "")


def _data(draw: st.DrawFn) -> tuple[str, tuple[int, ...], int, FileData | None, int]:
    """(data statement, input shape, classes, file to write or None, rows)."""
    kind = draw(st.sampled_from(["sklearn", "sklearn", "file"]))
    if kind == "sklearn":
        name = draw(st.sampled_from(sorted(qdata.SKLEARN)))
        facts = qdata.SKLEARN[name]
        shape: tuple[int, ...] = (facts.features,)
        if name == "digits" and draw(st.booleans()):
            shape = (8, 8, 1)
        return f"data sklearn {name}", shape, facts.classes, None, facts.samples
    shape = draw(st.sampled_from([(12,), (20,), (16, 2), (24, 1), (6, 6, 2), (8, 8, 1)]))
    classes = draw(st.integers(2, 5))
    rows = draw(st.sampled_from([600, 900]))
    fd = FileData(name="data.npz", shape=shape, classes=classes, rows=rows, seed=draw(st.integers(0, 10_000)))
    return 'data file "data.npz"', shape, classes, fd, rows


@st.composite
def valid_specs(draw: st.DrawFn) -> GeneratedSpec:
    data_line, shape, classes, file_data, rows = _data(draw)
    binary = classes == 2 and draw(st.booleans())
    loss = "binary_crossentropy" if binary else draw(st.sampled_from(["categorical_crossentropy", "sparse_categorical_crossentropy"]))
    out_act = "sigmoid" if binary else "softmax"
    dialect = draw(st.sampled_from(["qkeras", "qkeras", "hgq2"]))
    rtl = draw(st.integers(0, 3)) == 0  # a quarter of the specs also go to RTL (da4ml → Verilog → Verilator)
    weights = weight_quant(draw, dialect, rtl)
    acts = relu_quant(draw, dialect)
    quant = [f"weights {weights}", f"activations {acts}"]
    if draw(st.booleans()):
        quant.append(f"inputs {linear_quant(draw)}")
    if draw(st.integers(0, 5)) == 0 and not rtl:
        quant = []  # a float model
    m = _Model(shape=shape, dialect=dialect, quantized=bool(quant), default_weights=weights if quant else "float", rtl=rtl)
    model_lines(draw, m, classes, out_act, default_w_po2=weights.startswith("po2") and bool(quant))
    model_name = draw(st.sampled_from(MODEL_WORDS))
    input_text = str(shape[0]) if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    body = [f"input {input_text}"] + ([f"quant {', '.join(quant)}"] if quant else []) + m.lines
    text = f"model {model_name} {{\n" + "".join(f"    {line}\n" for line in body) + "}\n"

    # pruning
    prune = draw(st.sampled_from(["none", "none", "iterative", "iterative", "constant", "polynomial"]))
    if prune != "none":
        lines: list[str] = []
        if draw(st.booleans()) and len(m.weight_layers) > 1:
            lines.append(f"skip {m.weight_layers[-1]}")
        if prune == "iterative":
            lines.append(f"scope {draw(st.sampled_from(['global', 'layer']))}")
            if draw(st.integers(0, 3)) == 0:
                lines.append("bias on")
            rounds = draw(st.integers(1, 2))
            rate = draw(st.sampled_from(["20%", "30%", "50%"]))
            rewind = draw(st.sampled_from(["none", "init"]))
            lines.append(f"schedule iterative {{ rounds {rounds}; rate {rate}; rewind {rewind}; epochs 1 }}")
        else:
            lines.append("scope layer")
            goal = draw(st.sampled_from(["30%", "50%", "70%"]))
            if prune == "constant":
                lines.append(f"schedule constant {{ target {goal}; frequency {draw(st.sampled_from([1, 2, 5]))} }}")
            else:
                lines.append(f"schedule polynomial {{ initial 10%; target {goal}; frequency {draw(st.sampled_from([1, 2]))} }}")
        text += "\nprune {\n" + "".join(f"    {line}\n" for line in lines) + "}\n"

    # training: one epoch (the test runs with --epochs 1 too); batches small enough for several steps
    test, val = draw(st.sampled_from([("0.2", "0.25"), ("0.25", "0.2"), ("0.3", "0.2")]))
    train = [
        data_line,
        f"split test {test}, val {val}",
        f"scale {draw(st.sampled_from(['standard', 'minmax', 'none']))}",
        f"seed {draw(st.integers(0, 2**32 - 1))}",
        f"optimizer {draw(st.sampled_from(['adam', 'sgd', 'rmsprop']))} lr {draw(st.sampled_from(['1e-3', '3e-3', '1e-2']))}",
        f"loss {loss}",
        f"batch {draw(st.sampled_from([16, 32, 64]))}",
        "epochs 1",
        draw(st.sampled_from(["early_stop none", "early_stop patience 2"])),
    ]
    if file_data is not None:
        train.append(f"classes {classes}")
    if dialect != "qkeras":
        train.append(f"dialect {dialect}")
    text += "\ntrain {\n" + "".join(f"    {line}\n" for line in train) + "}\n"

    # target: the backends hls4ml emulates with g++, and those it does not (emulated with Vitis)
    backend = draw(st.sampled_from(["vitis", "vitis", "vivado", "quartus", "oneapi"]))
    target = [
        f"backend {backend}",
        'part "xcu250-figd2104-2L-e"',
        f"clock {draw(st.sampled_from(['5 ns', '4 ns', '200 MHz']))}",
        f"io {draw(st.sampled_from(['parallel', 'parallel', 'stream']))}",
        f"strategy {draw(st.sampled_from(['latency', 'latency', 'resource']))}",
    ]
    if draw(st.integers(0, 4)) == 0:
        target.append(f"precision fixed<{draw(st.sampled_from([16, 18, 24]))},{draw(st.sampled_from([6, 8]))}>")
    rtl_text = rtl_line(draw) if rtl else None
    if rtl_text is not None:
        target.append(rtl_text)
    text += "\ntarget fpga {\n" + "".join(f"    {line}\n" for line in target) + "}\n"
    notes = [f"{rows} rows, input {shape}, {classes} classes, prune {prune}, dialect {dialect}" + (f", {rtl_text}" if rtl_text else "")]
    return GeneratedSpec(text=text, data=file_data, notes=notes)


def write_data(fd: FileData, folder: Any) -> None:
    """The synthetic data set: features drawn at random, labels from a fixed random projection (learnable)."""
    import numpy as np

    rng = np.random.default_rng(fd.seed)
    x = rng.normal(size=(fd.rows, *fd.shape)).astype("float32")
    w = rng.normal(size=(math.prod(fd.shape), fd.classes))
    y = np.argmax(x.reshape(fd.rows, -1) @ w, axis=1)
    y[: fd.classes] = np.arange(fd.classes)  # every class present
    np.savez(folder / fd.name, X=x, y=y)
