"""The paper's figures: BOPs, memory bits, neural efficiency.

BOPs (Ps and Qs, after Baskin et al.): a layer with n inputs per output, m
outputs, weight bits b_w, input bits b_a and a fraction p of its weights kept
costs  m·n·(p·b_a·b_w + b_a + b_w + log2 n)  bit operations; a float tensor
counts as 32 bits. Conv layers: n = k_h·k_w·C_in, m = C_out·H_out·W_out.

Neural efficiency (Schaub & Hotaling): per layer, the Shannon entropy (log2)
of the on/off activation patterns seen over the test set divided by the
number of neurons; the network's is the geometric mean over layers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qapdsl import ir, quant, schema, shapes


def bops(n: int, m: int, b_w: int, b_a: int, p: float = 1.0) -> float:
    if n <= 0 or m <= 0:
        return 0.0
    return m * n * (p * b_a * b_w + b_a + b_w + math.log2(n))


@dataclass(frozen=True)
class LayerFigures:
    """One row of `qapc report`: a layer's shape, precisions and cost."""

    name: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    weight: str  # precision in hls4ml notation, "float" or "-"
    bias: str
    activation: str
    input_bits: int
    weight_bits: int
    sparsity: float  # declared (or measured, when given)
    bops: float
    memory_bits: float  # a whole number of bits


def declared_sparsity(spec: ir.Spec) -> dict[str, float]:
    """Sparsity per layer the spec asks for (0 for layers not pruned)."""
    out = {layer.name: 0.0 for layer in spec.model.layers}
    if spec.prune is not None:
        for name in spec.prune.layers:
            out[name] = spec.prune.schedule.final_sparsity
    return out


def _label(q: ir.Quant, unsigned: bool = False) -> str:
    if q.kind == "float":
        return "float"
    if q.kind in ("binary", "ternary"):
        return q.kind
    if q.kind == "po2":
        return f"po2<{q.width}>"
    fx = quant.to_fixed(q, unsigned=unsigned)
    return fx.spec() if fx else q.kind


def layer_figures(spec: ir.Spec, sparsity: Mapping[str, float] | None = None) -> list[LayerFigures]:
    """Per-layer figures; `sparsity` (measured, per layer) overrides the declared one."""
    model = spec.model
    layer_shapes, _ = shapes.infer(model)
    declared = declared_sparsity(spec)
    bits_in = quant.input_quant(spec).bits
    tables = table_types(spec)
    rows: list[LayerFigures] = []
    for layer, ls in zip(model.layers, layer_shapes, strict=True):
        eff = quant.effective(model, layer)
        weighty = layer.kind in schema.WEIGHT_LAYERS
        s = (sparsity or {}).get(layer.name, declared[layer.name]) if weighty else 0.0
        b_w = eff.weights.bits if weighty else 0
        layer_bops = bops(ls.fan_in, ls.outputs, b_w, bits_in, 1.0 - s) if weighty else 0.0
        # memory counts whole weights: the weights kept (rounded once, here), each of b_w bits, and the biases
        mem = float(round(ls.weights * (1.0 - s)) * b_w + ls.biases * eff.bias.bits) if weighty else 0.0
        act = eff.activations
        rows.append(
            LayerFigures(
                name=layer.name,
                kind=layer.kind,
                in_shape=ls.in_shape,
                out_shape=ls.out_shape,
                params=ls.params,
                weight=_label(eff.weights) if weighty else "-",
                bias=_label(eff.bias) if weighty and layer.use_bias else "-",
                activation=tables[layer.activation].spec() if layer.activation in tables else _label(act, unsigned=layer.activation == "relu") if layer.activation else "-",
                input_bits=bits_in,
                weight_bits=b_w,
                sparsity=s,
                bops=layer_bops,
                memory_bits=mem,
            )
        )
        # what the next layer sees: a quantized activation, else 32-bit float;
        # shape-only layers pass their input's bits through
        if layer.kind in schema.WEIGHT_LAYERS or layer.kind in ("activation", "batchnorm"):
            if layer.kind == "batchnorm" or (layer.batchnorm and not layer.activation):
                bits_in = 32
            elif layer.activation in tables:
                bits_in = tables[layer.activation].width
            else:
                bits_in = act.bits if layer.activation else 32
    return rows


def table_types(spec: ir.Spec) -> dict[str, quant.Fixed]:
    """The types of the activations a dialect computes from lookup tables in the model itself: HGQ2's
    QSoftmax / QUnaryFunctionLUT in a quantized model (`backends.hgq2`); QKeras keeps them in float."""
    if spec.train.dialect != "hgq2" or quant.input_quant(spec).kind == "float":
        return {}
    from qapdsl import plan

    return dict(plan.TABLE_RESULTS)


def total_bops(spec: ir.Spec, sparsity: Mapping[str, float] | None = None) -> float:
    return sum(r.bops for r in layer_figures(spec, sparsity))


def neural_efficiency(patterns: Mapping[str, Any]) -> dict[str, Any]:
    """Neural efficiency from on/off activation patterns, one bool array (samples, neurons) per layer."""
    import numpy as np

    layers: dict[str, float] = {}
    for name, pat in patterns.items():
        a = np.asarray(pat).reshape(len(pat), -1).astype(bool)
        neurons = a.shape[1]
        if neurons == 0 or len(a) == 0:
            continue
        packed = np.packbits(a, axis=1)
        _, counts = np.unique(packed, axis=0, return_counts=True)
        prob = counts / counts.sum()
        entropy = float(-(prob * np.log2(prob)).sum())
        layers[name] = entropy / neurons
    values = [v for v in layers.values() if v > 0]
    network: float | None = float(math.exp(sum(math.log(v) for v in values) / len(values))) if values and len(values) == len(layers) else 0.0
    if not layers:
        network = None  # no relu / linear activation to measure (a tanh or sigmoid network): not 0
    return {"layers": layers, "network": network}
