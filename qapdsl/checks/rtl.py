"""What the RTL step (`rtl verilog` in the target) cannot build, from `qapdsl.rtlcaps` (E407)."""

from __future__ import annotations

from qapdsl import dialects, ir, names, quant, rtlcaps, schema
from qapdsl.diagnostics import Diagnostic
from qapdsl.plan import Plan
from qapdsl.source import Span


def check_rtl(spec: ir.Spec, plan: Plan | None = None) -> list[Diagnostic]:
    """What the RTL step (`rtl verilog` in the target) cannot build, from `qapdsl.rtlcaps` (E407), each
    at the layer or quantizer that asks for it; with the build plan, an output port wider than da4ml's
    Verilator binder takes."""
    rtl = spec.target.rtl
    if rtl is None or spec.train.dialect not in rtlcaps.ROUTES:  # no RTL route: brevitas_caps says so (E407)
        return []
    route = rtlcaps.route(spec.train.dialect)
    dialect = dialects.get(spec.train.dialect).name
    where = rtl.spans.get("language", rtl.span)
    diags: list[Diagnostic] = []

    def refuse(message: str, span: Span | None, hint: str) -> None:
        diags.append(Diagnostic("E407", message, span or where, hint))

    name_problem = names.rtl_model_name_problem(spec.model.name)
    if name_problem is not None:
        diags.append(
            Diagnostic(
                "E310",
                f"model name '{spec.model.name}' cannot be used with `rtl verilog`: {name_problem}",
                spec.model.name_span or spec.model.span,
                f"rename the model, e.g. `model {spec.model.name}_net`",
            )
        )
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
    if plan is not None and not diags:
        diags.extend(_output_port(plan, where))
    return diags


def _output_port(plan: Plan, where: Span | None) -> list[Diagnostic]:
    """The output port of the RTL, when it is a dense layer's exact sum (the logits before a final softmax /
    sigmoid, or a last layer without an activation quantizer): the plan's exact type bounds the width
    da4ml gives it (the trained weights can only narrow it; a quantized output is at most 32 bits, E401).
    The inputs are one quantizer, 32 bits at most."""
    layers = [pl for pl in plan.layers if pl.op not in ("dropout", "flatten")]
    if plan.logits_layer is not None:
        layers = layers[:-1]  # the final softmax / sigmoid, left out of the RTL
    while layers and layers[-1].op == "activation" and layers[-1].params.get("activation") == "linear":
        layers.pop()
    if not layers or layers[-1].op != "dense":
        return []
    last = layers[-1]
    exact = last.params.get("exact_accum")
    if not isinstance(exact, quant.Fixed) or exact.width <= rtlcaps.MAX_PORT_BITS:
        return []
    layer = last.spec_layer
    at = layer.spans.get("name", layer.span) if layer is not None else where
    return [
        Diagnostic(
            "E407",
            f"the RTL's output port, the exact sum of '{last.name}', can be {exact.width} bits wide ({exact.spec()}): {rtlcaps.WHY_NOT['wide_port']}",
            at,
            f"narrow the inputs or weights feeding '{last.name}' to at most {rtlcaps.MAX_PORT_BITS} bits of sum, or quantize its output "
            "(`linear { activations fixed<16,6> }`, then an `activation` layer for a softmax)",
        )
    ]
