"""What the training dialect cannot express (E406): quantizer kinds, HGQ2's layers, hls4ml's bit-exact flow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qapdsl import brevitas_caps, dialects, ir, quant, schema
from qapdsl.diagnostics import Diagnostic

if TYPE_CHECKING:
    from qapdsl.plan import Plan



def check_bit_exact_flow(spec: ir.Spec, plan: Plan) -> list[Diagnostic]:
    """hls4ml 1.3.0's bit-exact flow (HGQ2 models) narrows a saturating quantizer to the fraction bits
    of its input: a quantizer that keeps more fraction bits than the sum before it has then saturates
    at the wrong bound, and the firmware silently disagrees (E406). The extra bits hold nothing
    (the sum has no more), so the fix costs no accuracy."""
    if spec.train.dialect != "hgq2" or not plan.quantized:
        return []
    diags: list[Diagnostic] = []
    fraction: int | None = None  # fraction bits of the tensor flowing in (None: float, or unknown)
    for pl in plan.layers:
        exact = pl.params.get("exact_accum")
        if isinstance(exact, quant.Fixed):
            fraction = exact.fraction
        elif pl.op in ("quant_act", "input_quant"):
            q = pl.quant.get("activations") or pl.quant.get("inputs")
            fx = quant.activation_fixed(q, pl.params.get("activation")) if q is not None else None
            if pl.op == "quant_act" and fx is not None and fraction is not None and fx.fraction > fraction:
                owner = pl.spec_layer
                kind = "fixed" if fx.signed else "ufixed"
                keep = fx.width - (fx.fraction - fraction)
                diags.append(
                    Diagnostic(
                        "E406",
                        f"the activations of '{owner.name if owner else pl.name}' ({fx.spec()}) keep {fx.fraction} fraction bits, but the sum before "
                        f"them has {fraction}: hls4ml 1.3.0's bit-exact flow (the hgq2 dialect) then converts the quantizer wrongly",
                        (q.span if q is not None else None) or (owner.span if owner else None),
                        f"use {kind}<{max(keep, 1)},{fx.integer}>: the same range, and every value the sum can take",
                    )
                )
            fraction = fx.fraction if fx is not None else None
        elif pl.op in ("batchnorm", "activation", "avgpool"):
            fraction = None  # float in the model, or a type hls4ml derives anew
    return diags


def check_dialect(spec: ir.Spec) -> list[Diagnostic]:
    """Quantizers the spec's training dialect cannot express (E406), each once, at the quantizer."""
    dialect = dialects.get(spec.train.dialect)
    where_dialect = spec.train.spans.get("dialect")
    model = spec.model
    diags: list[Diagnostic] = []
    seen: set[tuple[int, int]] = set()
    sets = [model.quant, *(layer.quant for layer in model.layers)]
    for qs in sets:
        for q in (qs.weights, qs.bias, qs.activations, qs.inputs):
            if q is None:
                continue
            problem = None
            if q.kind not in dialect.quant_kinds:
                problem = f"the {dialect.name} dialect cannot express {q.kind} quantizers (it has fixed-point ones: fixed<W,I>, N bits)"
                if dialect.name == "brevitas" and q.kind == "float":
                    problem = brevitas_caps.FLOAT_TENSOR
            elif q.alpha is not None and not dialect.alpha:
                problem = f"the {dialect.name} dialect has no `alpha` scale (it is QKeras's)"
            elif q.kind == "fixed" and q.integer < (1 if q.signed else 0) and not dialect.negative_integer:
                kind = "fixed" if q.signed else "ufixed"
                problem = (
                    f"the {dialect.name} dialect cannot express {kind}<{q.width},{q.integer}>: its range is below 1, and QKeras's quantizers "
                    f"take no negative integer part (TensorFlow refuses 2**I for I < 0): {kind}<W,I> needs I ≥ {1 if q.signed else 0} there"
                )
            key = (q.span.line, q.span.column) if q.span else (0, 0)
            if problem and key not in seen:
                seen.add(key)
                other = [
                    d.name
                    for d in dialects.DIALECTS.values()
                    if d.name != dialect.name and q.kind in d.quant_kinds and (q.alpha is None or d.alpha) and (d.negative_integer or q.integer >= 1)
                ]
                if q.kind == "fixed" and q.integer < (1 if q.signed else 0):
                    low = 1 if q.signed else 0
                    hint = f"use {'fixed' if q.signed else 'ufixed'}<{q.width + low - q.integer},{low}> (the same step, a wider range)"
                else:
                    hint = "use fixed<W,I> or N bits"
                if other:
                    hint += f", or `dialect {other[0]}` in the train section"
                diags.append(Diagnostic("E406", problem, q.span or where_dialect or spec.train.span, hint))
    if dialect.name == "hgq2":
        diags += _hgq2_layers(spec)
    if dialect.name == "brevitas":
        diags += brevitas_caps.check(spec)
    return diags


def _hgq2_layers(spec: ir.Spec) -> list[Diagnostic]:
    """What HGQ2 layers cannot say: a quantized kernel with a float bias (or the reverse), and, in a
    quantized model, `accum` / `result` (hls4ml derives those types itself from the quantizers)."""
    model = spec.model
    diags: list[Diagnostic] = []
    bit_exact = quant.input_quant(spec).kind != "float"
    inputs = model.quant.inputs
    if inputs is not None and inputs.kind == "float" and quant.is_quantized(model):
        p = spec.target.precision or quant.DEFAULT_PRECISION
        diags.append(
            Diagnostic(
                "E406",
                "a float input to a model with quantizers: hls4ml's bit-exact flow (the hgq2 dialect) starts at the input's quantizer and cannot convert it",
                inputs.span or model.span,
                f"remove `inputs float` (the input is then quantized as the firmware takes it, fixed<{p.width},{p.integer}>), give it a type, or use `dialect qkeras`",
            )
        )
    for layer in model.layers:
        if layer.kind not in schema.WEIGHT_LAYERS:
            continue
        where = layer.spans.get("name", layer.span)
        eff = quant.effective(model, layer)
        if layer.use_bias and (eff.weights.kind == "float") != (eff.bias.kind == "float"):
            fl, q = (eff.bias, eff.weights) if eff.bias.kind == "float" else (eff.weights, eff.bias)
            diags.append(
                Diagnostic(
                    "E406",
                    f"'{layer.name}' has {'a float bias' if fl is eff.bias else 'float weights'} beside quantized "
                    f"{'weights' if fl is eff.bias else 'bias'}: an HGQ2 layer quantizes both or neither",
                    fl.span or q.span or where,
                    f"give '{layer.name}' a bias type (e.g. `bias fixed<16,6>`), or leave both in float",
                )
            )
        if bit_exact:
            for key in ("accum", "result"):
                if getattr(layer, key) is not None:
                    diags.append(
                        Diagnostic(
                            "E406",
                            f"`{key}` of '{layer.name}' has no effect in the hgq2 dialect: hls4ml derives every type of an HGQ2 model from its quantizers",
                            layer.spans.get(key, where),
                            f"remove `{key}` (the derived types are exact), or use `dialect qkeras`",
                        )
                    )
    return diags
