"""The Brevitas dialect: Brevitas' QuantIdentity / QuantLinear / QuantReLU on PyTorch, pruned with torch.nn.utils.prune.

A third small generator over the same plan: the layers become the entries of an `nn.Sequential`
(one `("name", Module(...))` per plan layer) instead of Keras calls. Every quantizer is pinned to
the spec's type (`quant.brevitas_quantizer`): a constant power-of-two scale 2**(I-W), W bits, the
signedness of the type and its full range, rounding half to even and saturating, so a spec means
the same numbers in every dialect and the QONNX export carries exactly the spec's types. The
final softmax is the loss's (`nn.CrossEntropyLoss` on the logits): the model and the firmware
output the logits, whose argmax is the softmax's. What the route cannot build exactly is refused
by `qapc check` (`qapdsl.brevitas_caps`, E406) before this runs.
"""

from __future__ import annotations

from typing import Any

from qapdsl import expressible, ir, quant
from qapdsl.backends import qkeras
from qapdsl.backends.generator import Call, Generator
from qapdsl.backends.literals import SpecLines
from qapdsl.plan import BuildError, Plan, PlanLayer


class Brevitas(Generator):
    KERAS = "qnn"  # brevitas.nn
    PRUNING_WRAPPER = False  # torch.nn.utils.prune masks the selected layers

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.features: int | None = int(input_shape[0]) if len(input_shape) == 1 else None  # the width flowing into the next dense layer

    def keras_layers(self, pl: PlanLayer) -> list[Call]:
        if expressible.dropped(self.name(), pl):
            return []  # the output's: the loss applies it, the model and the firmware give the logits
        return [self.layer(pl)]

    def quant_linear(self, pl: PlanLayer) -> Call:
        wq = self.quantizer(pl.quant.get("weights"), "weights")
        use_bias = bool(pl.params.get("use_bias", True))
        bq = self.quantizer(pl.quant.get("bias"), "bias") if use_bias else None
        if wq is None or (use_bias and bq is None):  # brevitas_caps refuses it (E406)
            raise BuildError(f"the brevitas dialect needs quantized weights and bias in '{pl.name}'", code="E406")
        if self.features is None:
            raise BuildError(f"the brevitas dialect needs a flat input before '{pl.name}'", code="E406", hint="flatten the data to one axis")
        units = int(pl.params["units"])
        args = [str(self.features), str(units), f"bias={use_bias}", f"weight_quant={wq}"]
        if bq is not None:
            args.append(f"bias_quant={bq}")
        args.append(f"return_quant_tensor={not pl.params.get('last', False)}")
        self.features = units
        return "qnn.QuantLinear", tuple(args)

    def quant_act(self, pl: PlanLayer) -> Call:
        role = "inputs" if pl.op == "input_quant" else "activations"
        activation = pl.params.get("activation")
        expr = self.quantizer(pl.quant[role], role, activation)
        assert expr is not None
        cls = "qnn.QuantReLU" if activation == "relu" else "qnn.QuantIdentity"
        return cls, (f"act_quant={expr}", "return_quant_tensor=True")

    def brevitas_quantizer(self, q: ir.Quant, role: str, activation: str | None) -> str | None:
        return quant.brevitas_quantizer(q, role, activation)


Brevitas.TRANSFORMS = {
    "dense": Brevitas.quant_linear,
    "quant_act": Brevitas.quant_act,
    "input_quant": Brevitas.quant_act,
}
Brevitas.TYPE_MAPPING = dict.fromkeys(("fixed", "bits"), Brevitas.brevitas_quantizer)


def model_lines(gen: Brevitas, plan: Plan, lines: SpecLines) -> list[str]:
    """The entries of the `nn.Sequential`: `("name", Module(...)),`, each spec layer's line quoted above its first."""
    dense = [pl.name for pl in plan.layers if pl.op == "dense"]
    out: list[str] = []
    last: ir.Layer | None = None
    for pl in plan.layers:
        if pl.op == "dense" and pl.name == dense[-1]:
            pl = PlanLayer(pl.name, pl.spec_layer, pl.op, {**pl.params, "last": True}, pl.quant, pl.hls, pl.prunable)
        calls = gen.keras_layers(pl)
        if not calls:
            continue
        if pl.spec_layer is not None and pl.spec_layer is not last:
            c = lines.comment(pl.spec_layer.span, "        ")
            if c:
                out.append(c)
            last = pl.spec_layer
        if pl.op == "input_quant":
            model = plan.model
            c = lines.comment(model.quant.inputs.span, "        ") if model.quant.inputs is not None else ""
            out.append(c or "        # the input, quantized as the firmware takes it (the target's precision): the spec quantizes the model but not its inputs")
        for callee, args in calls:
            line = f"        ({pl.name!r}, {callee}({', '.join(args)})),"
            if len(line) > 160:
                line = "\n".join([f"        ({pl.name!r}, {callee}(", *(f"            {a}," for a in args), "        )),"])
            out.append(line)
    return out


def train_context(spec: ir.Spec, plan: Plan, lines: SpecLines, out_dir: Any, spec_path: str) -> dict[str, Any]:
    gen = Brevitas(plan.input_shape)
    context = qkeras.common_context(spec, plan, lines, out_dir, spec_path, "model.onnx")
    body = model_lines(gen, plan, lines)
    dense = [pl for pl in plan.layers if pl.op == "dense"]
    regularized = [(pl.name, pl.params.get("l1"), pl.params.get("l2")) for pl in dense if pl.params.get("l1") is not None or pl.params.get("l2") is not None]
    context.update(
        model_lines=body,
        regularized=regularized,
        dense_layers=[pl.name for pl in dense],
        quant_types=quant_types(plan),
        parts=[p for p in context["parts"] if p not in ("compile", "quantize_weights", "keep_masks")],
        outputs=context["outputs"].replace("model.onnx (weights on their quantizers' grids)", "model.onnx (QONNX), model.pt (the state dict), weights.npz (the quantized weights by layer name)", 1),
    )
    return context


def quant_types(plan: Plan) -> dict[str, str]:
    """Every quantizer's type, by the module that holds it, as the exported QONNX must carry it
    (`check_export` in train.py): `fc1.weight`, `fc1.bias`, `fc1_relu`, `input_q`."""
    out: dict[str, str] = {}
    for pl in plan.layers:
        if pl.op == "dense":
            for role in ("weights", "bias"):
                q = pl.quant.get(role)
                fx = quant.to_fixed(q) if q is not None else None
                if fx is not None:
                    out[f"{pl.name}.{'weight' if role == 'weights' else 'bias'}"] = fx.spec()
        elif pl.op in ("quant_act", "input_quant"):
            q = pl.quant.get("inputs" if pl.op == "input_quant" else "activations")
            fx = quant.activation_fixed(q, pl.params.get("activation")) if q is not None else None
            if fx is not None:
                out[pl.name] = fx.spec()
    return out
