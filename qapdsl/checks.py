"""Checks on a lowered spec: shapes, bit widths, classes, reuse factors, sweep paths.

All checks run and all findings are returned, so one `qapc check` shows every
problem. (Unknown keys, bad values, selectors and duplicates are found while
lowering, where the syntax is still at hand.)
"""

from __future__ import annotations

import fnmatch
import functools
import itertools
import math
import os
import re
from typing import TYPE_CHECKING

from qapdsl import brevitas_caps, data, dialects, ir, names, paths, quant, rtlcaps, schema, shapes
from qapdsl.diagnostics import Diagnostic
from qapdsl.source import Span

if TYPE_CHECKING:
    from qapdsl.plan import Plan


def check(spec: ir.Spec, stand_ins: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """Every check of a lowered spec. `stand_ins` names what lowering could not read and replaced
    (`input`, `data`): what depends on it is not checked, so a typo gives one error, not a cascade."""
    diags: list[Diagnostic] = []
    shaped = "input" not in stand_ins
    layer_shapes, shape_diags = shapes.infer(spec.model)
    if shaped:
        diags += shape_diags
    diags += check_names(spec.model)
    diags += check_dialect(spec)
    diags += check_quant(spec.model)
    diags += check_signedness(spec)
    if "data" not in stand_ins:
        diags += check_classes(spec, layer_shapes)
    diags += check_output(spec, layer_shapes)
    if shaped:
        diags += check_data(spec)
    diags += check_pruning(spec, stand_ins)
    if shaped and not shape_diags:  # fan-ins after a shape error are guesses
        diags += check_reuse(spec, layer_shapes)
    diags += check_axes(spec, stand_ins)
    diags += check_hardware_objectives(spec)
    diags += check_strategy(spec)
    return diags


def check_strategy(spec: ir.Spec) -> list[Diagnostic]:
    """hls4ml 1.3.0's distributed_arithmetic strategy: the Vivado/Vitis backends only, fully unrolled (reuse 1)."""
    target = spec.target
    if target.strategy != "distributed_arithmetic":
        return []
    where = target.spans.get("strategy", target.span)
    diags: list[Diagnostic] = []
    if target.backend not in schema.DA_BACKENDS:
        diags.append(
            Diagnostic("E205", f"hls4ml 1.3.0 has the distributed_arithmetic strategy for the Vivado and Vitis backends only, not {target.backend}", where, "write `backend vitis`, or `strategy latency`")
        )
    reused = [(layer.name, layer.reuse, layer.spans.get("reuse")) for layer in spec.model.layers if layer.reuse not in (None, 1)]
    if target.reuse != 1:
        reused.insert(0, ("the model", target.reuse, target.spans.get("reuse")))
    for name, rf, span in reused:
        diags.append(
            Diagnostic("E306", f"reuse factor {rf} ({name}): the distributed_arithmetic strategy unrolls every multiplication (reuse 1)", span or where, "write `reuse 1`, or `strategy latency`")
        )
    return diags


def check_hardware_objectives(spec: ir.Spec) -> list[Diagnostic]:
    """A study that compares or budgets the RTL's figures (`luts`, `rtl_cost`) needs the RTL step (E804)."""
    diags: list[Diagnostic] = []
    rtl = spec.target.rtl
    for block in (spec.sweep, spec.search):
        if block is None:
            continue
        asked: list[tuple[str, Span | None]] = [(o.metric, o.span) for o in block.objectives if o.metric in schema.HARDWARE_METRICS]
        if isinstance(block, ir.Search):
            asked += [(m, block.spans.get(f"budget.{m}")) for m in block.budgets if m in schema.HARDWARE_METRICS]
        for metric, span in asked:
            if rtl is None:
                diags.append(Diagnostic("E804", f"`{metric}` is a figure of the RTL step, and the target has no `rtl`", span, "add `rtl verilog { pipeline 5 }` to the target"))
            elif metric == "luts" and not rtl.synth:
                diags.append(Diagnostic("E804", "`luts` come from the Yosys synthesis, which the target turns off (`synth off`)", span, "remove `synth off`, or use `rtl_cost`"))
    return diags


def check_sound(spec: ir.Spec) -> list[Diagnostic]:
    """What is said of a spec once it has no error: what the backends would refuse, then what the firmware
    can only approximate (a warning)."""
    from qapdsl.plan import make_plan

    return check_buildable(spec) or check_exactness(spec, make_plan(spec))


def check_buildable(spec: ir.Spec) -> list[Diagnostic]:
    """What the backends refuse (generated-name clashes, limits of hls4ml), found by planning the build.

    The plan is pure Python (no jinja2, no ML stack), so `qapc check` runs it
    and reports these with their spans instead of leaving them to `qapc build`.
    """
    from qapdsl.backends.brevitas import Brevitas
    from qapdsl.backends.generator import Generator
    from qapdsl.backends.hgq2 import HGQ2
    from qapdsl.backends.qkeras import QKeras
    from qapdsl.plan import BuildError, make_plan

    try:
        plan = make_plan(spec)
        dialect = spec.train.dialect
        generator: Generator = QKeras() if dialect == "qkeras" else Brevitas(plan.input_shape) if dialect == "brevitas" else HGQ2(exact_tables=plan.quantized)
        for layer in plan.layers:  # what the dialect cannot spell
            generator.keras_layers(layer)
    except BuildError as e:
        return [Diagnostic(e.code, e.message, e.span, e.hint)]
    return check_bit_exact_flow(spec, plan) + check_rtl(spec)


def check_rtl(spec: ir.Spec) -> list[Diagnostic]:
    """What the RTL step (`rtl verilog` in the target) cannot build, from `qapdsl.rtlcaps` (E407), each
    at the layer or quantizer that asks for it."""
    rtl = spec.target.rtl
    if rtl is None or spec.train.dialect not in rtlcaps.ROUTES:  # no RTL route: brevitas_caps says so (E407)
        return []
    route = rtlcaps.route(spec.train.dialect)
    dialect = dialects.get(spec.train.dialect).name
    where = rtl.spans.get("language", rtl.span)
    diags: list[Diagnostic] = []

    def refuse(message: str, span: Span | None, hint: str) -> None:
        diags.append(Diagnostic("E407", message, span or where, hint))

    if rtl.language not in rtlcaps.LANGUAGES:
        refuse(f"`rtl {rtl.language}`: {schema.RTL_LANGUAGES[rtl.language].split(': ', 1)[1]}", where, "write `rtl verilog`")
    part = spec.target.part
    if rtl.synth and part and not rtlcaps.xilinx_part(part):
        refuse(
            f"the RTL step's synthesis (Yosys synth_xilinx) counts Xilinx cells, and the part {part!r} is not a Xilinx part: its LUT counts would be another device's",
            spec.target.spans.get("part", where),
            "write `rtl verilog { synth off }` (da4ml's cost and the Verilator simulation remain), or a Xilinx part",
        )
    model = spec.model
    inq = quant.input_quant(spec)
    if inq.kind not in route.quant_kinds:
        refuse(
            f"the RTL step needs a fixed-point network input, and this model's input is {inq.kind}: {rtlcaps.WHY_NOT.get(inq.kind, '')}".rstrip(": "),
            inq.span or model.input_span or model.span,
            "quantize the model (e.g. `quant inputs fixed<8,3>, weights fixed<6,1>, activations ufixed<6,2>`)",
        )
        if inq.kind == "float":  # a float model: every tensor would say the same
            return diags
    last = len(model.layers) - 1
    seen: set[tuple[int, int]] = set()
    for i, layer in enumerate(model.layers):
        at = layer.spans.get("name", layer.span)
        if layer.kind not in route.layer_kinds:
            refuse(f"the RTL step cannot build {layer.kind} layer '{layer.name}': {rtlcaps.WHY_NOT.get(layer.kind, 'not supported')}", at, "remove `rtl` from the target, or the layer")
            continue
        if layer.batchnorm:
            refuse(f"the RTL step cannot build the batch norm of '{layer.name}': {rtlcaps.WHY_NOT['batchnorm']}", at, "remove `batchnorm` from the layer, or `rtl` from the target")
        act = layer.activation
        if act is not None and act not in route.activations and not (i == last and act in rtlcaps.DROPPED_OUTPUTS):
            refuse(f"the RTL step cannot build the {act} of '{layer.name}': {rtlcaps.WHY_NOT.get(act, 'not supported')}", at, "use relu or linear inside the network")
        eff = quant.effective(model, layer)
        roles: list[tuple[str, ir.Quant]] = []
        if layer.kind in schema.WEIGHT_LAYERS:
            roles.append(("weights", eff.weights))
            if layer.use_bias:
                roles.append(("bias", eff.bias))
        if act in ("relu", "linear") and (layer.kind in schema.WEIGHT_LAYERS or layer.kind == "activation"):
            roles.append(("activations", eff.activations))
        for role, q in roles:
            key = (q.span.line, q.span.column) if q.span else (i, len(role))
            if key in seen:
                continue
            problem = None
            if q.kind not in route.quant_kinds:
                problem = rtlcaps.WHY_NOT.get(q.kind, f"{q.kind} quantizers are not supported")
            elif q.alpha is not None and not route.alpha:
                problem = "a QKeras `alpha` scale multiplies the values by a learned factor that is not on the grid"
            if problem:
                seen.add(key)
                refuse(
                    f"the RTL step ({dialect}: {route.title}) cannot build the {role} of '{layer.name}' ({q.kind}): {problem}",
                    q.span or at,
                    "give it a fixed-point quantizer, e.g. fixed<6,1> (weights) or ufixed<6,2> (relu activations)",
                )
    return diags


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


def check_names(model: ir.Model) -> list[Diagnostic]:
    """Names the C++ compiler, TensorFlow or the file system would refuse (`qapdsl.names`), all at once."""
    diags: list[Diagnostic] = []
    problem = names.model_name_problem(model.name)
    if problem is not None:
        diags.append(
            Diagnostic(
                "E310",
                f"model name '{model.name}' cannot be used: {problem}",
                model.name_span or model.span,
                f"rename the model, e.g. `model {names.suggestion(model.name)}`",
            )
        )
    for layer in model.layers:
        problem = names.layer_name_problem(layer.name)
        if problem is not None:
            diags.append(
                Diagnostic(
                    "E310", f"layer name '{layer.name}' cannot be used: {problem}", layer.spans.get("name", layer.span), "rename the layer, e.g. fc1 or conv_a"
                )
            )
    return diags


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
    binary = classes == 2 and spec.train.loss == "binary_crossentropy"
    want = 1 if binary else classes
    if width != want:
        message = (
            f"binary_crossentropy needs one output (the probability of class 1), but output layer '{layer.name}' has {width}"
            if binary
            else f"output layer '{layer.name}' has {width} outputs but the data has {classes} classes"
        )
        return [Diagnostic("E304", message, layer.spans.get("units", layer.span), f"make it `{layer.kind} {layer.name} {want} ...`")]
    return []


LOSS_OUTPUT = {
    "categorical_crossentropy": ("softmax",),
    "sparse_categorical_crossentropy": ("softmax",),
    "binary_crossentropy": ("sigmoid",),
}


def check_output(spec: ir.Spec, layer_shapes: list[shapes.LayerShape]) -> list[Diagnostic]:
    """The model's output must be what the loss expects: probabilities from the last layer, a flat vector,
    and no softmax over a single value (always 1)."""
    model = spec.model
    diags: list[Diagnostic] = []
    for layer, ls in zip(model.layers, layer_shapes):
        if layer.activation == "softmax" and ls.out_shape and ls.out_shape[-1] == 1:
            diags.append(
                Diagnostic(
                    "E311",
                    f"softmax over the single output of '{layer.name}' is always 1",
                    layer.spans.get("activation", layer.spans.get("name", layer.span)),
                    "use sigmoid for one output (with `loss binary_crossentropy`), or give the layer one unit per class",
                )
            )
    if not model.layers or not layer_shapes:
        return diags
    last, last_shape = model.layers[-1], layer_shapes[-1]
    wanted = LOSS_OUTPUT.get(spec.train.loss)
    if "activation" in last.spans and last.activation is None:
        return diags  # its activation could not be read: that error says it already
    where = last.spans.get("name", last.span)
    if wanted is not None:
        if last.kind in ("dropout", "batchnorm", "flatten", "maxpool", "avgpool"):
            diags.append(
                Diagnostic(
                    "E311",
                    f"the model ends in {last.kind} layer '{last.name}', after its output activation; {spec.train.loss} needs {wanted[0]} probabilities",
                    where,
                    f"end the model with the layer whose activation is {wanted[0]}",
                )
            )
        elif last.activation not in wanted:
            act = last.activation or "linear"
            classes = spec.train.classes
            units = (1 if wanted[0] == "sigmoid" else classes) if classes is not None else last.units
            fix = f"write `{last.kind} {last.name} {units} {wanted[0]}`" if last.kind in schema.WEIGHT_LAYERS else f"write `activation {last.name} {wanted[0]}`"
            if act == "sigmoid" and classes == 2:
                fix += ", or `loss binary_crossentropy` with `dense ... 1 sigmoid`"
            diags.append(
                Diagnostic(
                    "E311",
                    f"{spec.train.loss} needs {wanted[0]} probabilities, but the last layer '{last.name}' ends in {act}",
                    last.spans.get("activation", where),
                    fix,
                )
            )
        if len(last_shape.out_shape) != 1:
            diags.append(
                Diagnostic(
                    "E311",
                    f"the model's output has shape {shapes.fmt(last_shape.out_shape)}; class probabilities must be one flat vector",
                    where,
                    "add `flatten f` and a `dense` layer with one unit per class at the end",
                )
            )
    return diags


def check_data(spec: ir.Spec) -> list[Diagnostic]:
    """What the spec's data is known to be (scikit-learn's sets) against the model, and the split."""
    diags: list[Diagnostic] = []
    train = spec.train
    split_span = train.spans.get("split", train.span)
    if train.test <= 0.0:
        diags.append(
            Diagnostic(
                "E602", "`split test 0` leaves no test rows: nothing would measure accuracy or firmware agreement", split_span, "e.g. split test 0.2, val 0.25"
            )
        )
    if train.val <= 0.0:
        diags.append(
            Diagnostic("E602", "`split val 0` leaves no validation rows: training and early stopping need them", split_span, "e.g. split test 0.2, val 0.25")
        )
    if train.data.source == "file" and train.data.span is not None:
        diags += check_data_file(spec)
    facts = data.known(spec)
    if facts is None or train.data.span is None:  # no span: a stand-in after an error in `data`
        return diags
    name = train.data.name
    features = math.prod(spec.model.input_shape)
    if features != facts.features:
        shape_hint = "write `input 64`, or `input (8, 8, 1)` for the 8×8 images" if name == "digits" else f"write `input {facts.features}`"
        diags.append(
            Diagnostic(
                "E603",
                f"sklearn {name} has {facts.features} features per sample, but the model's input takes {features}",
                spec.model.input_span or spec.model.span,
                shape_hint,
            )
        )
    if train.classes is not None and train.classes != facts.classes:
        diags.append(
            Diagnostic(
                "E304",
                f"sklearn {name} has {facts.classes} classes, not {train.classes}",
                train.spans.get("classes", train.span),
                f"write `classes {facts.classes}`, or leave `classes` out",
            )
        )
    if train.scale == "none":
        inq = quant.input_quant(spec)
        fx = quant.to_fixed(inq) if inq.kind != "float" else quant.fixed_of(spec.target.precision or quant.DEFAULT_PRECISION)
        if fx is not None and facts.max_abs > fx.bounds()[1]:
            diags.append(
                Diagnostic(
                    "W407",
                    f"sklearn {name}'s unscaled features reach {facts.max_abs:g}, but the input's type {fx.spec()} stops at {fx.bounds()[1]:g}: "
                    "larger values saturate",
                    train.spans.get("scale", train.span),
                    "write `scale standard` or `scale minmax`, or give the input a wider type (`quant inputs fixed<W,I>`)",
                    "warning",
                )
            )
    if train.test > 0.0 and train.val > 0.0:
        n_train, n_val, n_test = data.split_sizes(facts.samples, train.test, train.val)
        if min(n_train, n_val, n_test) < facts.classes:
            diags.append(
                Diagnostic(
                    "E602",
                    f"the split leaves {n_train} training, {n_val} validation and {n_test} test rows of sklearn {name}'s {facts.samples}: "
                    f"fewer than its {facts.classes} classes",
                    split_span,
                    "hold out less data, e.g. split test 0.2, val 0.25",
                )
            )
    return diags


def check_data_file(spec: ir.Spec) -> list[Diagnostic]:
    """A data file that is missing (a warning: it may arrive before the run, or come with --data), or whose
    columns or arrays do not fit the spec: the label column or array, and the features the input takes."""
    d = spec.train.data
    path = data.file_path(spec)
    if path is None:
        return []
    if not path.is_file():
        return [
            Diagnostic(
                "W601",
                f"data file {d.name!r} not found (looked at {os.path.abspath(path)})",
                d.span,
                "`qapc run` needs it there, or another file with --data PATH",
                "warning",
            )
        ]
    facts = data.file_facts(path)
    if facts is None:
        return []
    m = data.misfit(facts, d.name, d.target, math.prod(spec.model.input_shape))
    if m is None:
        return []
    return [Diagnostic(m.code, m.message, (spec.model.input_span or d.span) if m.at_input else d.span, m.hint)]


def check_pruning(spec: ir.Spec, stand_ins: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """A prune section that cannot prune: no weight layer at all (an error), or a schedule that removes
    nothing or starts after training ends (warnings: the spec runs, but does not do what it says).

    A setting lowering could not read (`prune.target`, ... in `stand_ins`) had its error; its stand-in is not judged."""
    prune = spec.prune
    if prune is None:
        return []
    diags: list[Diagnostic] = []
    weight_layers = [layer.name for layer in spec.model.layers if layer.kind in schema.WEIGHT_LAYERS]
    if not weight_layers:
        diags.append(
            Diagnostic("E502", f"model '{spec.model.name}' has no dense or conv layer, so there is nothing to prune", prune.span, "remove the prune section")
        )
        return diags
    s = prune.schedule
    where = s.span or prune.span
    if s.kind == "iterative" and (s.rounds == 0 or s.rate == 0.0) and not {"prune.rounds", "prune.rate"} & stand_ins:
        why = "0 rounds" if s.rounds == 0 else "a rate of 0%"
        diags.append(
            Diagnostic(
                "W501", f"the iterative schedule with {why} prunes nothing", where, "remove the prune section, or prune e.g. rounds 4; rate 20%", "warning"
            )
        )
    if s.kind in ("constant", "polynomial") and (s.target or 0.0) == 0.0 and "prune.target" not in stand_ins:
        diags.append(Diagnostic("W501", f"the {s.kind} schedule's target of 0% prunes nothing", where, "e.g. target 80%", "warning"))
    facts = data.known(spec)
    steps_read = not {"prune.begin", "prune.end"} & stand_ins
    if s.kind in ("constant", "polynomial") and steps_read and facts is not None and spec.train.test > 0 and spec.train.val > 0:
        n_train, _, _ = data.split_sizes(facts.samples, spec.train.test, spec.train.val)
        steps = math.ceil(n_train / spec.train.batch) * spec.train.epochs
        if s.begin_step >= steps:
            diags.append(
                Diagnostic(
                    "W502",
                    f"pruning begins at step {s.begin_step}, but training has only {steps} steps "
                    f"({spec.train.epochs} epochs of {math.ceil(n_train / spec.train.batch)} batches of {spec.train.batch} over {n_train} rows)",
                    where,
                    f"begin before step {steps}, or train longer",
                    "warning",
                )
            )
        elif s.end_step is not None and s.end_step >= steps and s.kind == "polynomial":
            diags.append(
                Diagnostic(
                    "W502",
                    f"the polynomial schedule ends at step {s.end_step}, after training's last step {steps - 1}: the target sparsity is never reached",
                    where,
                    f"end before step {steps}, or leave `end` out (the end of training)",
                    "warning",
                )
            )
    return diags


@functools.lru_cache(maxsize=4096)
def valid_reuse_factors(n_in: int, n_out: int) -> list[int]:
    """hls4ml's own rule (FPGABackend._validate_reuse_factor), mirrored. (Cached: layers repeat shapes,
    and every sweep point is checked.) Callers must not change the list."""
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
        where = layer.spans.get("reuse") if layer.reuse else spec.target.spans.get("reuse", spec.target.span)
        if layer.kind in ("conv1d", "conv2d") and spec.target.io == "parallel" and spec.target.strategy == "resource" and rf > ls.fan_in:
            diags.append(
                Diagnostic(
                    "E306",
                    f"reuse factor {rf} is more than the {ls.fan_in} inputs per filter of '{layer.name}': hls4ml 1.3.0's io_parallel Resource "
                    f"{'convolution computes wrong results' if layer.kind == 'conv2d' else 'Conv1D aborts'} then",
                    where or layer.span,
                    f"use a reuse factor of at most {ls.fan_in} for '{layer.name}' (`reuse` in its braces), `io stream`, or `strategy latency`",
                )
            )
            continue
        valid = valid_reuse_factors(ls.fan_in, n_out)
        if rf in valid:
            continue
        near = sorted(valid, key=lambda v: (abs(v - rf), v))[:3]
        diags.append(
            Diagnostic(
                "E306",
                f"reuse factor {rf} is not accepted by hls4ml for '{layer.name}' ({ls.fan_in} inputs × {n_out} outputs)",
                where or layer.span,
                "nearest valid: " + ", ".join(str(v) for v in sorted(near)),
            )
        )
    return diags


MAX_GRID = 4096
"""Runs a sweep grid may have (points × repeats): each is trained and converted; a larger space is a job for `search`."""
MAX_CHECK_WORK = 100_000  # points × layers: what `qapc check` spends on a sweep or search at most (a few seconds)


def check_point(spec: ir.Spec, plan: bool = True) -> list[Diagnostic]:
    """The errors of one variant of a spec (a sweep point, a search trial): the checks and the build plan.

    `plan=False` skips planning the build, for variants whose settings cannot change what the
    plan refuses (`plan_sensitive`) of a spec whose plan passed."""
    errors = [d for d in check(spec) if d.severity == "error"]
    return errors or (check_buildable(spec) if plan else [])


# Settings that change numbers only (widths, rates, steps, sizes): what the build plan refuses (names,
# generated names, quantizer kinds, bias pruning) does not depend on them. Any other path replans.
_PLAN_NEUTRAL = re.compile(r"(train|target|prune)\.[a-z_]+|quant\.bits|[^.]+\.(units|filters|reuse|l1|l2|rate)")


def plan_sensitive(path: str) -> bool:
    return path == "train.dialect" or _PLAN_NEUTRAL.fullmatch(path) is None


def _probes(axis: ir.Axis) -> list[tuple[ir.SweepValue, Span | None]]:
    """The values of an axis to check, each with where it was written: every listed value, or both ends of a range."""
    spans = list(axis.value_spans) + [None] * max(0, len(axis.values) + 2 - len(axis.value_spans))
    if axis.values:
        return list(zip(axis.values, spans[: len(axis.values)]))
    if axis.low is None or axis.high is None:
        return []
    lo, hi = (int(axis.low), int(axis.high)) if axis.integer else (axis.low, axis.high)
    return [(lo, spans[0]), (hi, spans[1])]


def _overlaps(spec: ir.Spec, block: ir.Sweep | ir.Search) -> list[Diagnostic]:
    """E104: two axes that set the same setting (a glob and a name, or quant.bits and a model-wide role)."""
    names = [layer.name for layer in spec.model.layers]
    owner: dict[tuple[str, str], ir.Axis] = {}
    diags: list[Diagnostic] = []
    for axis in block.axes:
        head, _, rest = axis.path.partition(".")
        if head == "quant":
            targets = [("quant", r) for r in ("weights", "bias", "activations")] if rest == "bits" else [("quant", rest)]
        elif head in ("prune", "train", "target"):
            targets = [(head, rest)]
        else:
            rest = "units" if rest == "filters" else rest
            targets = [(n, rest) for n in names if fnmatch.fnmatchcase(n, head)]
        for t in targets:
            first = owner.setdefault(t, axis)
            if first is not axis:
                diags.append(
                    Diagnostic(
                        "E104",
                        f"`{axis.path}` and `{first.path}` both set {'.'.join(t)}",
                        axis.span,
                        f"one axis per setting: the later would override the earlier (line {first.span.line if first.span else '?'})",
                    )
                )
                break
    return diags


INTERIOR_VALUES = 64  # integer search ranges up to this many values are checked value by value


def _range_interiors(spec: ir.Spec, search: ir.Search, base: ir.Spec) -> list[Diagnostic]:
    """Integer ranges whose ends build but some inner values do not (reuse factors hls4ml refuses): a warning,
    since a search may well span them; the trials that draw them fail. Small ranges of small models only."""
    out: list[Diagnostic] = []
    if len(spec.model.layers) > 200:
        return out
    for axis in search.axes:
        if not axis.integer or axis.low is None or axis.high is None or axis.high - axis.low + 1 > INTERIOR_VALUES:
            continue
        bad: list[tuple[int, Diagnostic]] = []
        for value in range(int(axis.low) + 1, int(axis.high)):
            try:
                variant = paths.apply(base, axis.path, value)
            except paths.PathError:
                continue
            errors = check_point(variant, plan=plan_sensitive(axis.path))
            if errors:
                bad.append((value, errors[0]))
        if bad:
            good = [v for v in range(int(axis.low), int(axis.high) + 1) if v not in {b for b, _ in bad}]
            out.append(
                Diagnostic(
                    "W806",
                    f"{axis.path} = {', '.join(str(v) for v, _ in bad)} cannot build ({bad[0][1].code}: {bad[0][1].message}); trials that draw them fail",
                    axis.span,
                    f"search a list of the values that build: {axis.path} in [{', '.join(map(str, good[:16]))}]",
                    "warning",
                )
            )
    return out


BUDGET_CORNERS = 256  # corners of a search box whose declared costs `qapc check` computes, at most (else one per axis)


def _cheapest(search: ir.Search, base: ir.Spec, metric: str) -> tuple[float, list[tuple[str, ir.SweepValue]]] | None:
    """The smallest declared `metric` (bops, memory, params: `objectives.declared`, what a trial is refused on before
    training) of any point of the search, and that point; None when a corner does not build (reported elsewhere).

    Every cost grows with widths and bit widths and shrinks with pruning, each along its own axis whatever the others
    are, so the cheapest point is a corner of the box: a value of each list, an end of each range. Up to
    `BUDGET_CORNERS` corners are all computed; beyond, each axis's cheapest end is found with the others as in the
    spec, and that corner computed."""
    from qapdsl import objectives

    def figure(settings: list[tuple[str, ir.SweepValue]]) -> float | None:
        variant = base
        try:
            for path, value in settings:
                variant = paths.apply(variant, path, value)
        except paths.PathError:
            return None
        if [d for d in check(variant) if d.severity == "error"]:
            return None
        return objectives.declared(variant)[metric]

    ends = [[v for v, _ in _probes(axis)] for axis in search.axes]
    if math.prod(len(e) for e in ends) <= BUDGET_CORNERS:
        corners = [[(a.path, v) for a, v in zip(search.axes, combo)] for combo in itertools.product(*ends)]
    else:
        pick = []
        for axis, values in zip(search.axes, ends):
            alone = [(figure([(axis.path, v)]), v) for v in values]
            pick.append((axis.path, min((f, i, v) for i, (f, v) in enumerate(alone) if f is not None)[2] if any(f is not None for f, _ in alone) else values[0]))
        corners = [pick]
    best: tuple[float, list[tuple[str, ir.SweepValue]]] | None = None
    for corner in corners:
        f = figure(corner)
        if f is None:
            return None
        if best is None or f < best[0]:
            best = (f, corner)
    return best


def search_space_size(search: ir.Search) -> int | None:
    """The number of distinct points of a search space; None when it has a real-valued range (no end to them)."""
    size = 1
    for axis in search.axes:
        if axis.values:
            size *= len({paths.token(v) for v in axis.values})
        elif axis.integer and axis.low is not None and axis.high is not None:
            size *= int(axis.high) - int(axis.low) + 1
        else:
            return None
    return size


_BUDGET_NAMES = {"bops": "BOPs", "memory": "memory bits", "params": "parameters"}


def _search_budgets(search: ir.Search, base: ir.Spec) -> list[Diagnostic]:
    """E810: a budget no point of the search meets (every trial would be refused before training); W811: a finite
    search space with fewer points than the trials (the search ends when it has run them all)."""
    diags: list[Diagnostic] = []
    for metric, limit in search.budgets.items():
        found = _cheapest(search, base, metric)
        if found is None or found[0] <= limit:
            continue
        figure, corner = found
        where = ", ".join(f"{p} = {paths.token(v)}" for p, v in corner) or "the spec itself"
        diags.append(
            Diagnostic(
                "E810",
                f"no point of this search meets its budget of {limit:,.0f} {_BUDGET_NAMES[metric]}: the fewest a point has is {figure:,.0f} ({where}), "
                "so every trial would be refused before training",
                search.spans.get(f"budget.{metric}") or search.spans.get("budget") or search.span,
                f"a budget of at least {figure:,.0f}, or axes that reach cheaper points (fewer units, fewer bits, more pruning)",
            )
        )
    size = search_space_size(search)
    if size is not None and size < search.trials:
        diags.append(
            Diagnostic(
                "W811",
                f"the search space has {size:,} point{'s' if size != 1 else ''}, fewer than its {search.trials:,} trials: the search ends once it has run them all",
                search.spans.get("trials") or search.span,
                f"trials {size}, or a `sweep {{ ... }}` (a grid runs every point once)",
                "warning",
            )
        )
    return diags


def check_axes(spec: ir.Spec, stand_ins: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """Every sweep point and both ends of every search range, checked like a spec.

    A value a path cannot take, or a variant that would not build, is reported at
    the value that breaks it ("with fc1.units = 10: ..."); a grid is checked point by
    point, so values that are fine alone but not together are found too. A search's budgets
    and the size of its space are judged when its block lowered without an error (`search`
    not in `stand_ins`).
    """
    if spec.sweep is None and spec.search is None:
        return []
    base = spec.model_copy(update={"sweep": None, "search": None})
    base_ok = not [d for d in check(base) if d.severity == "error"]
    diags: list[Diagnostic] = []
    seen: set[tuple[str, str, int, int]] = set()

    def report(d: Diagnostic, settings: list[tuple[str, ir.SweepValue]], span: Span | None, fallback: Span | None) -> None:
        where = span or fallback
        prefix = "with " + ", ".join(f"{p} = {paths.token(v)}" for p, v in settings) + ": "
        key = (d.code, d.message, where.line if where else 0, where.column if where else 0)
        if key not in seen:
            seen.add(key)
            diags.append(Diagnostic(d.code, prefix + d.message, where, d.hint, d.severity))

    def try_point(settings: list[tuple[str, ir.SweepValue]]) -> Diagnostic | None:
        variant = base
        try:
            for path, value in settings:
                variant = paths.apply(variant, path, value)
        except paths.PathError as e:
            return Diagnostic(e.code, e.message, None, e.hint)
        if variant == base:
            return None  # the spec itself, checked already
        errors = check_point(variant, plan=any(plan_sensitive(path) for path, _ in settings))
        return errors[0] if errors else None

    for block in (spec.sweep, spec.search):
        if block is None:
            continue
        diags += _overlaps(spec, block)
        probes = [_probes(axis) for axis in block.axes]
        bad_path = False
        for axis, axis_probes in zip(block.axes, probes):  # values a path cannot take: no spec needed to say so
            for value, span in axis_probes:
                try:
                    paths.apply(base, axis.path, value)
                except paths.PathError as e:  # a path that does not exist: at the path; a value it cannot take: at the value
                    diags.append(Diagnostic(e.code, e.message, (span if e.code == "E802" else None) or axis.span, e.hint))
                    bad_path = True
                    if e.code == "E801":
                        break
        if bad_path or not base_ok:
            continue
        for axis, axis_probes in zip(block.axes, probes):
            if all(paths.apply(base, axis.path, value) == base for value, _ in axis_probes):
                diags.append(
                    Diagnostic(
                        "W804",
                        f"axis {axis.path} changes nothing: every value leaves the spec as it is",
                        axis.span,
                        "quant.bits changes the width of fixed-point and `N bits` quantizers, not float ones: give the model quantizers, or drop the axis"
                        if axis.path == "quant.bits"
                        else "drop the axis, or give it values that differ from the spec's",
                        "warning",
                    )
                )
        if isinstance(block, ir.Search):
            diags += _range_interiors(spec, block, base)
        count = math.prod(len(p) for p in probes) if isinstance(block, ir.Sweep) else 2
        work = (count + sum(len(p) for p in probes)) * max(len(spec.model.layers), 1)
        if work > MAX_CHECK_WORK and count <= MAX_GRID:
            diags.append(
                Diagnostic(
                    "E805",
                    f"checking every point of this {'sweep' if isinstance(block, ir.Sweep) else 'search'} ({count:,} points of a {len(spec.model.layers):,}-layer model) "
                    f"is more than qapc check does ({MAX_CHECK_WORK:,} layer checks)",
                    block.span,
                    "give the axes fewer values (or the model fewer layers)",
                )
            )
            continue
        if isinstance(block, ir.Sweep):
            if count * block.repeat > MAX_GRID:
                size = f"{count:,} points" + (f" × {block.repeat} seeds = {count * block.repeat:,} runs" if block.repeat > 1 else "")
                diags.append(
                    Diagnostic(
                        "E805",
                        f"the sweep's grid has {size}; qapc sweep runs at most {MAX_GRID:,} (each is trained and converted)",
                        block.span,
                        "give the axes fewer values" + (" or `repeat` fewer seeds" if block.repeat > 1 else "") + ", or explore the space with a `search { ... }` block",
                    )
                )
                continue
            combos: list[tuple[tuple[ir.SweepValue, Span | None], ...]] = list(itertools.product(*probes))
        else:  # a search: both corners of its box (every axis at its first value or low end; at its last or high end)
            combos = [tuple(p[0] for p in probes), tuple(p[-1] for p in probes)]
        # Every point (each value appears in one), then, for a point that fails, each of its values
        # alone, so that the caret lands on the value that breaks it when one does on its own.
        failed = 0
        for combo in combos:
            settings = [(axis.path, value) for axis, (value, _) in zip(block.axes, combo)]
            problem = try_point(settings)
            if problem is None:
                continue
            failed += 1
            culprit = None
            if len(settings) > 1:
                for (path, value), (_, span) in zip(settings, combo):
                    alone = try_point([(path, value)])
                    if alone is not None:
                        culprit = (alone, [(path, value)], span)
                        break
            if culprit is not None:
                report(culprit[0], culprit[1], culprit[2], block.span)
            else:
                report(problem, settings, combo[-1][1], block.span)
            if failed >= 5:
                break
        if isinstance(block, ir.Search) and not failed and "search" not in stand_ins:
            diags += _search_budgets(block, base)
    return diags
