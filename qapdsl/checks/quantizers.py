"""Checks of the quantizers: widths, signedness, one-bit types, and what the firmware can only approximate (W405)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qapdsl import ir, quant, schema
from qapdsl.diagnostics import Diagnostic
from qapdsl.source import Span

if TYPE_CHECKING:
    from qapdsl.plan import Plan



def check_quant(model: ir.Model) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    for layer in model.layers:
        lq = layer.quant
        if lq.activations is not None and layer.activation in ("softmax", "sigmoid", "tanh"):
            diags.append(
                Diagnostic(
                    "E403",
                    f"the {layer.activation} output of '{layer.name}' cannot be quantized here",
                    lq.activations.span or layer.span,
                    "its type is that of the lookup table hls4ml computes it with (QKeras keeps it float; HGQ2 uses the same table); remove `activations`",
                )
            )
        if lq.activations is not None and layer.activation is None and layer.kind not in ("activation",):
            diags.append(
                Diagnostic(
                    "E403",
                    f"layer '{layer.name}' has no activation to quantize",
                    lq.activations.span or layer.span,
                    f"give it one, e.g. `{layer.kind} {layer.name} ... relu`, or write `linear`",
                )
            )
        eff = quant.effective(model, layer)
        act = eff.activations

        def once(d: Diagnostic) -> None:
            """A model-wide quantizer that does not fit is reported once, at the quantizer, not once per layer."""
            if not any(x.code == d.code and x.span == d.span and x.span is not None for x in diags):
                diags.append(d)

        if layer.activation == "relu" and act.kind == "fixed" and act.signed:
            once(
                Diagnostic(
                    "E403",
                    f"relu output of '{layer.name}' is never negative, but {act.width}-bit signed fixed<{act.width},{act.integer}> is asked",
                    act.span or layer.span,
                    f"use ufixed<{act.width},{max(act.integer - 1, 0)}> (QKeras quantized_relu)",
                )
            )
        if act.kind in ("binary", "ternary") and layer.activation == "relu":
            once(
                Diagnostic(
                    "E403",
                    f"{act.kind} activations on the relu output of '{layer.name}' would replace the relu by {'±1' if act.kind == 'binary' else '-1, 0, +1'}",
                    act.span or layer.span,
                    "use ufixed<W,I> or N bits after a relu (or `po2 N bits`), or write `linear` if ±1 outputs are meant",
                )
            )
        if act.kind in ("binary", "ternary", "po2") and layer.activation == "linear":
            once(
                Diagnostic(
                    "E403", f"{act.kind} activations are not supported on a linear output ('{layer.name}')", act.span or layer.span, "use fixed<W,I> or N bits"
                )
            )
        if layer.kind not in schema.WEIGHT_LAYERS and (lq.weights or lq.bias):
            diags.append(Diagnostic("E307", f"{layer.kind} layer '{layer.name}' has no weights", layer.span, None))
        for role, q in (
            ("weights", eff.weights if layer.kind in schema.WEIGHT_LAYERS else None),
            ("bias", eff.bias if layer.kind in schema.WEIGHT_LAYERS and layer.use_bias else None),
            ("activations", act if layer.activation == "linear" else None),
        ):
            bad = _one_bit_signed(q)
            where = (q.span if q else None) or layer.span
            if bad and not any(d.code == "E403" and d.span == where for d in diags):  # a model-wide quantizer once
                diags.append(Diagnostic("E403", f"{bad} for the {role} of '{layer.name}'", where, "use `binary` for ±1, or at least 2 bits"))
    inputs = model.quant.inputs
    bad_input = _one_bit_signed(inputs)
    if bad_input:
        diags.append(Diagnostic("E403", f"{bad_input} for the input", inputs.span if inputs else None, "use at least 2 bits"))
    if inputs is not None and inputs.kind in ("binary", "ternary", "po2"):
        diags.append(Diagnostic("E403", f"{inputs.kind} is not usable for the network input", inputs.span, "use fixed<W,I>, N bits or float"))
    return diags


def _one_bit_signed(q: ir.Quant | None) -> str | None:
    """A signed quantizer of one bit: QKeras's quantized_bits(1, ...) rounds to ±1 (a sign), while hls4ml's
    fixed<1,I> holds -2^(I-1) and 0: the firmware would disagree on every value."""
    if q is None or q.width != 1 or q.kind not in ("fixed", "bits") or (q.kind == "fixed" and not q.signed):
        return None
    return "a signed 1-bit quantizer is ±1 in QKeras but -1 and 0 in hls4ml's fixed<1,I>"


def _signed_hint(width: int, integer: int) -> str:
    return f"use fixed<{min(width + 1, 32)},{integer + 1}>: the same step and range, with a sign bit"


def check_signedness(spec: ir.Spec) -> list[Diagnostic]:
    """Unsigned types (`ufixed`) where the values can be negative: QKeras and hls4ml would each clip or
    wrap them in their own way, and the firmware would silently disagree with the model."""
    model = spec.model
    diags: list[Diagnostic] = []
    reported: set[tuple[str, int, int]] = set()  # a model-wide default is reported once, not per layer

    def unsigned(q: ir.Quant | None) -> bool:
        return q is not None and q.kind == "fixed" and not q.signed

    def report(q: ir.Quant, what: str, fallback: Span | None, hint: str, severity: str = "error") -> None:
        span = q.span or fallback
        key = (span.file, span.line, span.column) if span else ("", 0, 0)
        if key in reported:
            return
        reported.add(key)
        code = "E404" if severity == "error" else "W404"
        diags.append(Diagnostic(code, what, span, hint, severity))

    for layer in model.layers:
        if layer.kind not in schema.WEIGHT_LAYERS and layer.kind != "activation":
            continue
        eff = quant.effective(model, layer)
        where = layer.spans.get("name", layer.span)
        if layer.kind in schema.WEIGHT_LAYERS:
            for role, q in (("weights", eff.weights), ("bias", eff.bias if layer.use_bias else None)):
                if q is not None and unsigned(q):
                    report(
                        q,
                        f"{role} of '{layer.name}' are signed, but the unsigned ufixed<{q.width},{q.integer}> is asked",
                        where,
                        _signed_hint(q.width, q.integer),
                    )
            for name, p in (("accum", layer.accum), ("result", layer.result)):
                if p is not None and not p.signed:
                    diags.append(
                        Diagnostic(
                            "E404",
                            f"the {name} of '{layer.name}' (a sum of signed products) is signed, but ufixed<{p.width},{p.integer}> is asked",
                            p.span or where,
                            f"use fixed<{p.width + 1},{p.integer + 1}>",
                        )
                    )
        act = eff.activations
        if (layer.activation or "linear") == "linear" and (layer.kind == "activation" or layer.activation is not None) and unsigned(act):
            report(
                act,
                f"the linear output of '{layer.name}' can be negative, but the unsigned ufixed<{act.width},{act.integer}> is asked",
                where,
                f"write `relu` if negative values should become 0, else {_signed_hint(act.width, act.integer)}",
            )
    p = spec.target.precision
    if p is not None and not p.signed:
        diags.append(
            Diagnostic(
                "E404",
                f"the default precision types signed tensors (sums, float layers), but ufixed<{p.width},{p.integer}> is asked",
                p.span or spec.target.span,
                f"use fixed<{p.width + 1},{p.integer + 1}>",
            )
        )
    inq = model.quant.inputs
    if unsigned(inq) and spec.train.scale == "standard":
        assert inq is not None
        report(
            inq,
            f"the inputs are unsigned ufixed<{inq.width},{inq.integer}>, but `scale standard` (the default) makes about half of the values negative, which both the model and the firmware clip to 0",
            model.span,
            "write `scale minmax` in the train section (values in [0, 1]), or use a signed fixed<W,I> input",
            severity="warning",
        )
    return diags


def check_exactness(spec: ir.Spec, plan: Plan) -> list[Diagnostic]:
    """What the firmware can only approximate, so that `qapc run`'s agreement check may fail (W405, once per spec).

    Everything the spec quantizes is exact: hls4ml gets the same grids and exact sums. Float weights
    are rounded to the target's precision in the firmware; tanh and sigmoid (hidden) and a softmax
    before the last layer are lookup tables there; an `accum` or `result` override narrower than the
    exact sum rounds or wraps it. A softmax or sigmoid at the output only decides near-ties, which
    the 99% threshold allows for. In a quantized HGQ2 model softmax, tanh and sigmoid are quantized
    layers hls4ml converts exactly (`backends.hgq2`), and hls4ml derives types for float weights
    from their values.
    """
    model = spec.model
    parts: list[tuple[str, str, Span | None]] = []  # (what, kind, where)
    last = model.layers[-1] if model.layers else None
    exact_tables = spec.train.dialect == "hgq2" and plan.quantized
    for layer in model.layers:
        if exact_tables and layer.kind not in schema.WEIGHT_LAYERS:
            continue
        where = layer.spans.get("name", layer.span)
        if layer.kind in schema.WEIGHT_LAYERS:
            eff = quant.effective(model, layer)
            floats = [q for q in (eff.weights, eff.bias if layer.use_bias else None) if q is not None and q.kind == "float"]
            if floats:
                parts.append((f"{layer.name} (float weights)", "float", next((q.span for q in floats if q.span), None) or where))
        if exact_tables:
            continue
        if layer.activation in ("tanh", "sigmoid") and not (layer is last and layer.activation == "sigmoid"):
            parts.append((f"{layer.name} ({layer.activation}: a lookup table)", "table", layer.spans.get("activation", where)))
        elif layer.activation == "softmax" and layer is not last:
            parts.append((f"{layer.name} (softmax before the output: a lookup table)", "table", layer.spans.get("activation", where)))
    for pl in plan.layers:
        exact = pl.params.get("exact_accum")
        owner = pl.spec_layer
        if not isinstance(exact, quant.Fixed) or owner is None:
            continue
        for key, p in (("accum", owner.accum), ("result", owner.result)):
            if p is not None and not quant.fixed_of(p).holds(exact):
                said = quant.fixed_of(p).spec()
                parts.append((f"{owner.name} ({key} {said} narrower than the exact {exact.spec()})", "narrow", owner.spans.get(key, owner.span)))
    if not parts:
        return []
    listed = ", ".join(p for p, _, _ in parts[:4]) + (f" and {len(parts) - 4} more" if len(parts) > 4 else "")
    kinds = {k for _, k, _ in parts}
    precision = spec.target.precision or quant.DEFAULT_PRECISION
    hints = []
    if "float" in kinds:
        became = "hls4ml derives fixed-point types from their float32 values" if exact_tables else f"float ones become fixed<{precision.width},{precision.integer}> in the firmware"
        hints.append(f"quantize the weights (e.g. `quant weights fixed<8,2>`; {became})")
    if "table" in kinds:
        hints.append("prefer relu to tanh and sigmoid in hidden layers")
    if "narrow" in kinds:
        hints.append("leave `accum` and `result` out (qapc derives exact ones) or make them as wide as said")
    hint = "; ".join(hints) + ("; a float baseline is approximate by nature" if "float" in kinds else "")
    return [
        Diagnostic(
            "W405",
            f"the firmware approximates {listed}; its agreement with the model is measured by `qapc run` (at least "
            f"{100 * spec.target.agreement:g}% or the run fails), not guaranteed",
            parts[0][2],
            hint,
            "warning",
        )
    ]
