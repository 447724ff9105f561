"""The RTL step: the context of `rtl.py` (templates/<dialect>/rtl.py.j2, extending templates/rtl.py.j2).

Renders only: what the route can build is `qapdsl.rtlcaps` (and `qapc check` refuses the rest,
E407); the types are the plan's. For the QKeras dialect the network is written out as da4ml
arithmetic, one step per plan layer, each with the spec line it came from (both dialects: the route
is `qapdsl.rtlcaps`'s `weights`); the dialect's template says how its model file is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qapdsl import dialects, ir, quant, rtlcaps
from qapdsl.backends.literals import SpecLines, comment_text
from qapdsl.plan import BuildError, Plan, PlanLayer

PROJECT_DIR = "rtl_project"
FILE = "rtl.py"


@dataclass(frozen=True)
class Step:
    comment: str  # the spec lines it came from, as comments (may be empty)
    code: tuple[str, ...]


def wanted(spec: ir.Spec) -> bool:
    return spec.target.rtl is not None


def kif(fx: quant.Fixed) -> tuple[int, int, int]:
    """da4ml's (k, i, f) of a type: sign bit, integer bits without the sign, fraction bits."""
    return int(fx.signed), fx.integer - int(fx.signed), fx.fraction


def _quantized(pl: PlanLayer, fx: quant.Fixed) -> list[str]:
    """A quantized activation: (relu,) the rounding, the saturation, as the plan's type says."""
    k, i, f = kif(fx)
    code = ["x = relu(x)"] if pl.params.get("activation") == "relu" else []
    if fx.rounding == quant.ACT_ROUNDING:
        code.append(f"x = round_half_even(x, {f})")
    elif fx.rounding in (None, "TRN"):
        code.append(f"x = quantize(x, {k}, {i + 1}, {f})  # truncate")
    else:
        raise BuildError(f"the RTL step cannot round {fx.rounding} ({pl.name})", pl.spec_layer.span if pl.spec_layer else None, code="E407")
    if fx.saturation == "SAT":
        code.append(f'x = quantize(x, {k}, {i}, {f}, "SAT")  # {fx.hls()}')
    elif fx.saturation in (None, "WRAP"):
        code.append(f"x = quantize(x, {k}, {i}, {f})  # {fx.hls()}, wrapping")
    else:
        raise BuildError(f"the RTL step cannot saturate {fx.saturation} ({pl.name})", pl.spec_layer.span if pl.spec_layer else None, code="E407")
    return code


def steps(spec: ir.Spec, plan: Plan, lines: SpecLines) -> list[Step]:
    """The network of the `weights` route: one step per plan layer, up to the logits."""
    out: list[Step] = []
    for pl in plan.layers:
        layer = pl.spec_layer
        comment = lines.comment(layer.span, "    ") if layer is not None else ""
        if pl.op == "input_quant":
            k, i, f = kif(plan.input_precision)
            q = pl.quant["inputs"]
            out.append(Step(lines.comment(q.span, "    "), (f"x = quantize(inputs, {k}, {i}, {f})  # the input port: {plan.input_precision.spec()}",)))
        elif pl.op == "dense":
            if pl.params.get("use_bias", True):
                code = (f"kernel, bias = layer_weights(model, {pl.name!r})", "x = x @ kernel + bias  # exact: every product and sum at full width")
            else:
                code = (f"(kernel,) = layer_weights(model, {pl.name!r})", "x = x @ kernel  # exact: every product and sum at full width")
            out.append(Step(comment, code))
        elif pl.op == "quant_act":
            q = pl.quant["activations"]
            fx = quant.activation_fixed(q, pl.params.get("activation"))
            if fx is None:
                raise BuildError(f"the RTL step cannot build the {q.kind} quantizer of {pl.name}", q.span, code="E407")
            out.append(Step(lines.comment(q.span, "    ") or comment, tuple(_quantized(pl, fx))))  # the layer's line is above
        elif pl.op == "flatten":
            out.append(Step(comment, ("x = x.ravel()",)))
        elif pl.op == "dropout" or (pl.op == "activation" and pl.params.get("activation") == "linear"):
            continue  # nothing at inference
        elif pl.op == "activation" and plan.logits_layer is not None and pl is plan.layers[-1]:
            continue  # the final softmax / sigmoid: left out, the RTL ends at the logits
        else:
            what = pl.params.get("activation") or pl.op
            raise BuildError(f"the RTL step cannot build {what} ({pl.name}): {rtlcaps.WHY_NOT.get(what, 'not supported')}", layer.span if layer else None, code="E407")
    return out


def context(spec: ir.Spec, plan: Plan, lines: SpecLines, spec_path: str, version: str) -> dict[str, Any]:
    rtl = spec.target.rtl
    assert rtl is not None
    dialect = dialects.get(spec.train.dialect)
    route = rtlcaps.route(dialect.name)
    target = spec.target
    network = steps(spec, plan, lines)
    code = [line for st in network for line in st.code]
    input_layer = next((pl.name for pl in plan.layers if pl.op == "input_quant"), None)
    if input_layer is None:
        raise BuildError("the RTL step needs a quantized network input", spec.model.input_span, code="E407")
    dropped = plan.layers[-1].params.get("activation") if plan.logits_layer is not None else None
    return {
        "version": version,
        "spec_path_text": comment_text(spec_path),
        "model_name": spec.model.name,
        "framework": dialect.framework,
        "model_file": dialect.model_file,
        "language_title": "Verilog",
        "project_dir": PROJECT_DIR,
        "route": route.name,
        "rtl_comment": lines.comment(rtl.span),
        "latency_cutoff": rtl.pipeline if rtl.pipeline is not None else -1,
        "pipelined": rtl.pipeline is not None,
        "clock_comment": lines.comment(target.spans.get("clock")) or "# the target's clock (default)",
        "clock_ns": float(target.clock_ns),
        "part_comment": lines.comment(target.spans.get("part")) or "# the target's part (default)",
        "part": target.part,
        "yosys_family": rtlcaps.yosys_family(target.part),
        "synth": rtl.synth,
        "max_port_bits": rtlcaps.MAX_PORT_BITS,
        "logits_layer": plan.logits_layer,
        "dropped": dropped,
        "input_layer": input_layer,
        "input_shape": tuple(plan.input_shape),
        "steps": network,
        "uses_rne": any("round_half_even" in line for line in code),
        "uses_relu": any(line.startswith("x = relu(") for line in code),
    }
