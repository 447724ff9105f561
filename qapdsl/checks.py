"""Checks on a lowered spec: shapes, bit widths, classes, reuse factors, sweep paths.

All checks run and all findings are returned, so one `qapc check` shows every
problem. (Unknown keys, bad values, selectors and duplicates are found while
lowering, where the syntax is still at hand.)
"""

from __future__ import annotations

import math

from qapdsl import ir, paths, quant, schema, shapes
from qapdsl.diagnostics import Diagnostic


def check(spec: ir.Spec) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    layer_shapes, shape_diags = shapes.infer(spec.model)
    diags += shape_diags
    diags += check_quant(spec.model)
    diags += check_classes(spec, layer_shapes)
    if not shape_diags:  # fan-ins after a shape error are guesses
        diags += check_reuse(spec, layer_shapes)
    diags += check_axes(spec)
    return diags


def check_buildable(spec: ir.Spec) -> list[Diagnostic]:
    """What the backends refuse (generated-name clashes, limits of hls4ml), found by planning the build.

    The plan is pure Python (no jinja2, no ML stack), so `qapc check` runs it
    and reports these with their spans instead of leaving them to `qapc build`.
    """
    from qapdsl.backends.plan import BuildError, make_plan

    try:
        make_plan(spec)
    except BuildError as e:
        return [Diagnostic(e.code, e.message, e.span, e.hint)]
    return []


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
                    "QKeras keeps it float and hls4ml computes it with a lookup table; remove `activations`",
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
        if layer.activation == "relu" and act.kind == "fixed" and act.signed:
            diags.append(
                Diagnostic(
                    "E403",
                    f"relu output of '{layer.name}' is never negative, but {act.width}-bit signed fixed<{act.width},{act.integer}> is asked",
                    act.span or layer.span,
                    f"use ufixed<{act.width},{max(act.integer - 1, 0)}> (QKeras quantized_relu)",
                )
            )
        if act.kind in ("binary", "ternary", "po2") and layer.activation == "linear":
            diags.append(
                Diagnostic(
                    "E403", f"{act.kind} activations are not supported on a linear output ('{layer.name}')", act.span or layer.span, "use fixed<W,I> or N bits"
                )
            )
        if layer.kind not in schema.WEIGHT_LAYERS and (lq.weights or lq.bias):
            diags.append(Diagnostic("E307", f"{layer.kind} layer '{layer.name}' has no weights", layer.span, None))
    inputs = model.quant.inputs
    if inputs is not None and inputs.kind in ("binary", "ternary", "po2"):
        diags.append(Diagnostic("E403", f"{inputs.kind} is not usable for the network input", inputs.span, "use fixed<W,I>, N bits or float"))
    return diags


def output_width(layer_shapes: list[shapes.LayerShape]) -> tuple[int, int] | None:
    """(index, width) of the last layer that sets the output width."""
    for i in range(len(layer_shapes) - 1, -1, -1):
        if layer_shapes[i].kind in ("dense", "conv1d", "conv2d", "flatten"):
            return i, math.prod(layer_shapes[i].out_shape)
    return None


def check_classes(spec: ir.Spec, layer_shapes: list[shapes.LayerShape]) -> list[Diagnostic]:
    classes = spec.train.classes
    if classes is None or not layer_shapes:
        return []
    found = output_width(layer_shapes)
    if found is None:
        return []
    idx, width = found
    layer = spec.model.layers[idx]
    want = 1 if classes == 2 and spec.train.loss == "binary_crossentropy" else classes
    if width != want:
        return [
            Diagnostic(
                "E304",
                f"output layer '{layer.name}' has {width} outputs but the data has {classes} classes",
                layer.spans.get("units", layer.span),
                f"make it `{layer.kind} {layer.name} {want} ...`",
            )
        ]
    last = spec.model.layers[-1]
    if spec.train.loss == "categorical_crossentropy" and last.activation not in ("softmax",) and last.kind != "activation":
        return [
            Diagnostic(
                "E304",
                f"the last layer '{last.name}' should end in softmax for categorical cross-entropy",
                last.span,
                f"write `... {last.name} {width} softmax`",
            )
        ]
    return []


def valid_reuse_factors(n_in: int, n_out: int) -> list[int]:
    """hls4ml's own rule (FPGABackend._validate_reuse_factor), mirrored."""
    valid = []
    total = n_in * n_out
    for rf in range(1, total + 1):
        if total % rf:
            continue
        mult = min(n_in, rf)
        limit = math.ceil(total / mult)
        ok = (limit % n_out == 0) or rf >= n_in
        ok = ok and (rf % n_in == 0 or rf < n_in)
        if ok:
            valid.append(rf)
    return valid


def check_reuse(spec: ir.Spec, layer_shapes: list[shapes.LayerShape]) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    for layer, ls in zip(spec.model.layers, layer_shapes):
        if layer.kind not in schema.WEIGHT_LAYERS or ls.fan_in == 0:
            continue
        rf = layer.reuse or spec.target.reuse
        n_out = layer.units or 1
        if ls.fan_in * n_out > 1_000_000:
            continue  # too large to enumerate here; hls4ml itself checks
        valid = valid_reuse_factors(ls.fan_in, n_out)
        if rf in valid:
            continue
        near = sorted(valid, key=lambda v: (abs(v - rf), v))[:3]
        where = layer.spans.get("reuse") if layer.reuse else spec.target.span
        diags.append(
            Diagnostic(
                "E306",
                f"reuse factor {rf} is not accepted by hls4ml for '{layer.name}' ({ls.fan_in} inputs × {n_out} outputs)",
                where or layer.span,
                "nearest valid: " + ", ".join(str(v) for v in sorted(near)),
            )
        )
    return diags


def check_axes(spec: ir.Spec) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    for block in (spec.sweep, spec.search):
        if block is None:
            continue
        for axis in block.axes:
            probe: list[ir.SweepValue] = list(axis.values)
            if not probe and axis.low is not None:
                probe = [int(axis.low) if axis.integer else axis.low]
            for value in probe:
                try:
                    paths.apply(spec, axis.path, value)
                except paths.PathError as e:
                    diags.append(Diagnostic(e.code, e.message, axis.span, e.hint))
                    break
    return diags
