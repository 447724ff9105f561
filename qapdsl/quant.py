"""The bit-width mapping: spec quantizers ↔ QKeras quantizers ↔ hls4ml precisions.

This is the one place that knows that QKeras `quantized_bits(b, i,
keep_negative=1, alpha=1)` holds exactly the values of hls4ml `fixed<b, i+1>`
and that `quantized_relu(b, i)` holds those of `ufixed<b, i>`; the QKeras
backend, the hls4ml backend, `qapc report` and the BOPs count all read it.

It also derives the accumulator and result precisions hls4ml needs so that
its C++ emulation computes what the QKeras model computes: a dense or conv
sum of n products of a<Wa,Ia> × w<Ww,Iw> plus a bias b<Wb,Ib> is exact in
    fractional bits  F = max(Fa + Fw, Fb)
    integer bits     I = max(Ia + Iw, Ib) + ceil(log2(n + 1))   (sign included)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from qapdsl import ir

DEFAULT_PRECISION = ir.Precision.model_construct(signed=True, width=16, integer=6)  # hls4ml's own default (constants: no validation at import)
ACT_ROUNDING = "RND_CONV"  # QKeras rounds half to even (tf.round); hls4ml's AP_RND_CONV
ACT_SATURATION = "SAT"  # QKeras clips; hls4ml's AP_SAT


@dataclass(frozen=True)
class Fixed:
    """A concrete fixed-point type (hls4ml notation: integer bits include the sign)."""

    signed: bool
    width: int
    integer: int
    rounding: str | None = None
    saturation: str | None = None

    @property
    def fraction(self) -> int:
        return self.width - self.integer

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - frozen and hashable; planning calls it for every tensor of every sweep point
    def hls(self) -> str:
        """hls4ml's precision string, e.g. `fixed<6,1>` or `ufixed<6,0,RND_CONV,SAT>`."""
        base = "fixed" if self.signed else "ufixed"
        modes = "".join(f",{m}" for m in (self.rounding, self.saturation) if m)
        if self.saturation and not self.rounding:
            modes = f",TRN{modes}"
        return f"{base}<{self.width},{self.integer}{modes}>"

    def holds(self, other: Fixed) -> bool:
        """Every value of `other` is a value of this type (no rounding, no overflow)."""
        if other.signed and not self.signed:
            return False
        integer_needed = other.integer + (1 if self.signed and not other.signed else 0)
        return self.fraction >= other.fraction and self.integer >= integer_needed

    def spec(self) -> str:
        return f"{'fixed' if self.signed else 'ufixed'}<{self.width},{self.integer}>"

    def lsb(self) -> float:
        return 2.0 ** (-self.fraction)

    def bounds(self) -> tuple[float, float]:
        """Smallest and largest representable value."""
        top = 2.0 ** (self.integer - (1 if self.signed else 0))
        return (-top if self.signed else 0.0), top - self.lsb()


def fixed_of(p: ir.Precision) -> Fixed:
    """The type of a precision written in a spec (`result`, `accum`, the target's `precision`)."""
    return Fixed(p.signed, p.width, p.integer, p.rounding, p.saturation)


FLOAT = ir.Quant.model_construct(kind="float", width=32)


@dataclass(frozen=True)
class LayerQuant:
    """The quantizers that apply to one layer, after defaults and overrides."""

    weights: ir.Quant
    bias: ir.Quant
    activations: ir.Quant  # float when the layer's output is not quantized


def effective(model: ir.Model, layer: ir.Layer) -> LayerQuant:
    """Resolve a layer's quantizers: the layer's own, else the model's defaults.

    The bias follows the weights unless a bias quantizer is given. Activation
    quantizers apply to relu and linear outputs only (softmax, sigmoid and
    tanh stay float in QKeras and become lookup tables in hls4ml).
    """
    lq, mq = layer.quant, model.quant
    weights = lq.weights or mq.weights or FLOAT
    bias = lq.bias or mq.bias or (lq.weights if lq.weights else None) or mq.weights or FLOAT
    acts = FLOAT
    if layer.activation in ("relu", "linear"):
        acts = lq.activations or mq.activations or FLOAT
    return LayerQuant(weights=weights, bias=bias, activations=acts)


def is_quantized(model: ir.Model) -> bool:
    """Does the spec quantize any tensor (a QAT model), or is it a float model?"""
    sets = [model.quant, *(layer.quant for layer in model.layers)]
    return any(q is not None and q.kind != "float" for qs in sets for q in (qs.weights, qs.bias, qs.activations, qs.inputs))


def input_quant(spec: ir.Spec) -> ir.Quant:
    """The network input's quantizer.

    The spec's `quant inputs`, when given. Otherwise, in a model that quantizes
    anything, the firmware's input type (`target precision`, default fixed<16,6>):
    an FPGA takes fixed-point inputs, and a float input in the model would make
    the firmware's rounding of it the one difference between the two (a first
    layer's quantized activation then flips on a boundary). So the model
    quantizes its input exactly as the firmware does, and BOPs count those bits.
    A float model keeps a float input (32 bits for BOPs).
    """
    model = spec.model
    if model.quant.inputs is not None:
        return model.quant.inputs
    if not is_quantized(model):
        return FLOAT
    p = spec.target.precision or DEFAULT_PRECISION
    return ir.Quant.model_construct(kind="fixed", width=p.width, integer=max(p.integer, 1), signed=True, alpha=None, span=None)


def to_fixed(q: ir.Quant, unsigned: bool = False, rounding: str | None = None, saturation: str | None = None) -> Fixed | None:
    """The fixed-point type a quantizer's values lie on (None for float / po2).

    `bits` quantizers take their signedness from the tensor: `unsigned` is
    True after a relu.
    """
    if q.kind == "fixed":
        return Fixed(q.signed, q.width, q.integer, rounding, saturation)
    if q.kind == "bits":
        if unsigned:
            return Fixed(False, q.width, q.integer, rounding, saturation)
        return Fixed(True, q.width, q.integer + 1, rounding, saturation)
    if q.kind == "binary":
        return Fixed(True, 2, 2)  # ±1 as a 2-bit integer
    if q.kind == "ternary":
        return Fixed(True, 2, 2)
    return None


def activation_fixed(q: ir.Quant, activation: str | None) -> Fixed | None:
    """Result type of a quantized activation (rounding and saturation as QKeras does)."""
    return to_fixed(q, unsigned=activation == "relu", rounding=ACT_ROUNDING, saturation=ACT_SATURATION)


def qkeras_quantizer(q: ir.Quant, role: str, activation: str | None = None) -> str | None:
    """The QKeras quantizer expression for a tensor (None: leave it float).

    role: "weights", "bias", "inputs" or "activations".
    """
    alpha = q.alpha
    alpha_arg = "1" if alpha is None else (repr(alpha) if alpha in ("auto", "auto_po2") else alpha)
    if q.kind == "float":
        return None
    if q.kind == "po2":
        if role == "activations":
            return f"quantized_relu_po2({q.width})" if activation == "relu" else f"quantized_po2({q.width})"
        return f"quantized_po2({q.width})"
    if q.kind == "binary":
        return f"binary(alpha={alpha_arg})"
    if q.kind == "ternary":
        return f"ternary(alpha={alpha_arg})"
    fx = to_fixed(q, unsigned=role == "activations" and activation == "relu")
    assert fx is not None
    if role == "activations" and activation == "relu":
        return f"quantized_relu({fx.width}, {fx.integer})"
    keep_negative = 1 if fx.signed else 0
    qk_integer = fx.integer - 1 if fx.signed else fx.integer
    return f"quantized_bits({fx.width}, {qk_integer}, keep_negative={keep_negative}, alpha={alpha_arg})"


def product_type(a: Fixed, w: Fixed) -> Fixed:
    signed = a.signed or w.signed
    return Fixed(signed, a.fraction + w.fraction + a.integer + w.integer, a.integer + w.integer)


def accumulator(a: Fixed, w: Fixed, b: Fixed | None, n: int) -> Fixed:
    """Exact type of sum_{k<n} a_k·w_k (+ b): see the module docstring."""
    p = product_type(a, w)
    frac = p.fraction
    integer = p.integer
    signed = p.signed
    terms = n
    if b is not None:
        frac = max(frac, b.fraction)
        integer = max(integer, b.integer + (0 if b.signed or not signed else 1))
        signed = signed or b.signed
        terms = n + 1
    integer += math.ceil(math.log2(terms)) if terms > 1 else 0
    return Fixed(signed, integer + frac, integer)


def bits_of(q: ir.Quant) -> int:
    """Bits per value for BOPs and memory: the paper counts a float as 32."""
    return q.bits


def hgq2_quantizer(q: ir.Quant, role: str, activation: str | None = None) -> str | None:
    """The HGQ2 quantizer config for a tensor, in the generated script's spelling (None: leave it float).

    `fixed(W, I, place)` / `ufixed(W, I, place)` are helpers of the generated train.py that make an
    HGQ2 `QuantizerConfig('kbi', place, k0=sign, b0=W-sign, i0=I-sign, ...)` with fixed, non-trainable
    widths: exactly the values of hls4ml's `fixed<W,I>` / `ufixed<W,I>`, rounding half to even and
    saturating as QKeras does (`ACT_ROUNDING`, `ACT_SATURATION`). A quantized relu is one unsigned
    quantizer: saturating at 0 is the relu. Only `fixed` and `bits` have an HGQ2 spelling
    (`qapdsl.dialects.HGQ2.quant_kinds`; `qapc check` refuses the others, E406).
    """
    if q.kind == "float":
        return None
    if q.kind not in ("fixed", "bits"):
        raise ValueError(f"HGQ2 has no fixed-width {q.kind} quantizer")
    fx = to_fixed(q, unsigned=role == "activations" and activation == "relu")
    assert fx is not None
    return hgq2_spelling(fx, {"weights": "weight", "bias": "bias"}.get(role, "datalane"))


def hgq2_spelling(fx: Fixed, place: str = "datalane") -> str:
    """`fixed(W, I)`, `ufixed(W, I, 'weight')`, `ufixed(12, 3, round_mode='TRN')`: a type as the generated
    HGQ2 script's helpers take it (place: HGQ2's weight / bias / datalane / table; rounding when not
    half to even)."""
    args = [str(fx.width), str(fx.integer)]
    if place != "datalane":
        args.append(repr(place))
    if fx.rounding and fx.rounding != ACT_ROUNDING:
        args.append(f"round_mode={fx.rounding!r}")
    return f"{'fixed' if fx.signed else 'ufixed'}({', '.join(args)})"


def brevitas_quantizer(q: ir.Quant, role: str, activation: str | None = None) -> str | None:
    """The Brevitas quantizer for a tensor, in the generated script's spelling (None: leave it float).

    `weight_quant(W, I)`, `bias_quant(W, I)`, `act_quant(W, I)` / `act_quant(W, I, signed=False)` are helpers
    of the generated train.py: Brevitas' fixed-point quantizers with a constant power-of-two scale
    2**(I-W) (`scaling_impl_type` const), W bits and the full range of hls4ml's `fixed<W,I>` /
    `ufixed<W,I>` (not narrow), rounding half to even (`ACT_ROUNDING`) and saturating. A quantized relu
    is Brevitas' QuantReLU with an unsigned quantizer. Only `fixed` and `bits` have a Brevitas spelling
    (`qapdsl.dialects.BREVITAS.quant_kinds`; `qapc check` refuses the others, E406).
    """
    if q.kind == "float":
        return None
    if q.kind not in ("fixed", "bits"):
        raise ValueError(f"Brevitas has no constant-scale {q.kind} quantizer here")
    fx = to_fixed(q, unsigned=role == "activations" and activation == "relu")
    assert fx is not None
    helper = {"weights": "weight_quant", "bias": "bias_quant"}.get(role, "act_quant")
    return f"{helper}({fx.width}, {fx.integer}{'' if fx.signed else ', signed=False'})"
