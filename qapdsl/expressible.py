"""What each training dialect can spell of a build plan, as data: the plan ops it renders, the quantizer kinds it
has (`qapdsl.dialects`), and the one plan shape HGQ2 refuses (two quantizers in a row, which hls4ml's bit-exact
flow fuses into one that rounds once).

The generators (`qapdsl.backends.generator`, `qapdsl.backends.hgq2`) render what this allows and raise what it
refuses; `qapc check` (`qapdsl.checks.spec.check_buildable`) asks it the same questions about the plan without
importing any generator. Pure Python, cheap to import.
"""

from __future__ import annotations

from qapdsl import dialects, ir, learned, plan
from qapdsl.plan import BuildError, Plan, PlanLayer

# plan op → rendered by every Keras dialect (a generator's TRANSFORMS has exactly these keys; a test keeps them equal)
OPS: dict[str, frozenset[str]] = dict.fromkeys(
    dialects.NAMES,
    frozenset({"input_quant", "dense", "conv1d", "conv2d", "batchnorm", "quant_act", "activation", "maxpool", "avgpool", "flatten", "dropout"}),
)

# Brevitas (PyTorch, `qapdsl.backends.brevitas`): quantized linear layers and activation quantizers only
# (`qapdsl.brevitas_caps` refuses the rest at the spec, with carets)
OPS["brevitas"] = frozenset({"dense", "quant_act", "input_quant"})
# the output activations a dialect leaves to its loss: no layer (the model and the firmware give the logits)
DROPPED_ACTIVATIONS: dict[str, frozenset[str]] = {"brevitas": frozenset({"softmax", "sigmoid", "linear"})}

# HGQ2 only: hls4ml's bit-exact flow fuses a quantizer into the quantizer right before it
FUSES_QUANTIZERS = frozenset({"hgq2"})


def quant_kinds(dialect: str) -> frozenset[str]:
    """The quantizer kinds the dialect spells (a generator's TYPE_MAPPING keys); `float` is no quantizer."""
    return dialects.get(dialect).quant_kinds - {"float"}


def exact_tables(dialect: str, plan: Plan) -> bool:
    """HGQ2's QSoftmax / QUnaryFunctionLUT need a quantized network input (hls4ml's bit-exact flow starts there):
    a float model keeps Keras's float activations."""
    return dialect == "hgq2" and plan.quantized


def dropped(dialect: str, pl: PlanLayer) -> bool:
    """Whether the dialect renders no layer for the plan layer: an activation its loss applies."""
    return pl.op == "activation" and pl.params.get("activation") in DROPPED_ACTIVATIONS.get(dialect, frozenset())


def refuse_op(dialect: str, pl: PlanLayer) -> None:
    """BuildError (E406) when the dialect has no layer for the plan layer's op."""
    if pl.op not in OPS[dialect] and not dropped(dialect, pl):
        where = pl.spec_layer.spans.get("name", pl.spec_layer.span) if pl.spec_layer is not None else None
        raise BuildError(f"the {dialect} dialect cannot express a {pl.op} layer ('{pl.name}')", where, code="E406")


def refuse_fused(dialect: str, pl: PlanLayer, tables: bool) -> None:
    """BuildError (E406) when a quantizer right after another (`params["after_quantizer"]`) would be fused by
    hls4ml's bit-exact flow: a lookup table's input quantizer (with `tables`, HGQ2's exact tables), or a
    quantizer that is not a relu's own (`params["requantizer"]`, rendered as ReLU + Quantizer)."""
    before = pl.params.get("after_quantizer")
    if dialect not in FUSES_QUANTIZERS or before is None:
        return
    owner = pl.spec_layer
    name = owner.name if owner else pl.name
    if pl.op == "activation":
        if not tables:
            return
        raise BuildError(
            f"the {pl.params['activation']} of '{name}' quantizes {before} again for its lookup table: "
            "hls4ml's bit-exact flow (the hgq2 dialect) fuses two quantizers in a row into one, and the firmware would not agree with the model",
            owner.spans.get("activation", owner.spans.get("name", owner.span)) if owner else None,
            "put a dense or conv layer between them (or pooling), or use `dialect qkeras`",
            code="E406",
        )
    if "requantizer" not in pl.params:
        q = pl.quant["activations"]
        raise BuildError(
            f"the activations of '{name}' quantize {before} again: "
            "hls4ml's bit-exact flow (the hgq2 dialect) fuses two quantizers in a row into one that rounds once, "
            "and the firmware would not agree with the model",
            q.span or (owner.spans.get("name", owner.span) if owner else None),
            f"quantize once: give '{name}' the type of {before} (the same type again changes nothing), or remove the layer",
            code="E406",
        )


def refuse_quant(dialect: str, q: ir.Quant) -> None:
    """BuildError (E406) for a quantizer whose kind the dialect cannot spell."""
    if q.kind != "float" and q.kind not in quant_kinds(dialect):
        raise BuildError(f"the {dialect} dialect cannot express a {q.kind} quantizer", q.span, code="E406")


def resource_term(pl: PlanLayer) -> ir.Learned | None:
    """The learned widths' resource term (EBOPs, weighted by beta) of a weight layer with quantized weights, or None."""
    weights = pl.quant.get("weights")
    if weights is None or weights.kind == "float":
        return None
    return learned.layer_beta(weights, pl.quant.get("bias") if pl.params.get("use_bias", True) else None)


def unquantized_input(pl: PlanLayer, resource: ir.Learned) -> BuildError:
    """E406: a layer that learns its widths reads a tensor that is not a quantizer's output."""
    owner = pl.spec_layer
    return BuildError(
        f"'{owner.name if owner else pl.name}' learns its widths against EBOPs, which count the widths of its input, and its input is not quantized",
        resource.span,
        "quantize the input of the layer: `quant inputs fixed<W,I>` for the first layer, `activations ufixed<W,I>` on the layer before",
        code="E406",
    )


def reads_quantizer(pl: PlanLayer, before: bool) -> bool:
    """Whether the layer after `pl` reads a quantizer's output (`before`: whether `pl` itself did)."""
    if pl.op in ("quant_act", "input_quant"):
        return True
    return before and pl.op in plan.PASS_THROUGH


def refuse(dialect: str, plan: Plan) -> None:
    """BuildError for the first plan layer the dialect cannot spell, in the plan's order (what the generator
    would raise while rendering the model)."""
    tables = exact_tables(dialect, plan)
    learns = dialects.get(dialect).learned_widths
    quantized_input = False
    for pl in plan.layers:
        refuse_fused(dialect, pl, tables)
        refuse_op(dialect, pl)
        for q in pl.quant.values():
            refuse_quant(dialect, q)
        resource = resource_term(pl) if learns else None
        if resource is not None and not quantized_input:
            raise unquantized_input(pl, resource)
        quantized_input = reads_quantizer(pl, quantized_input)
