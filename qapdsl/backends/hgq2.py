"""The HGQ2 dialect: HGQ2's QDense / QConv and `Quantizer` layers on Keras 3, pruned by the generated callbacks.

Only what differs from plain Keras is here (`Generator` renders the rest). Every
quantizer has a fixed width (`quant.hgq2_quantizer`): HGQ2's bit-width training
(EBOPs) is off, so a spec means the same numbers in both dialects. Where QKeras
leaves a part of the model in float that hls4ml then approximates, HGQ2 has a
quantized layer hls4ml converts bit-exactly, with the same tables qapc gives
hls4ml for QKeras (`qapdsl.plan`):

- softmax → `QSoftmax` (exp and 1/x tables of 2^12 entries, 18-bit values);
- tanh, sigmoid → `QUnaryFunctionLUT` (a 4096-entry table over [-8, 8)).

Batch normalisation stays a float Keras layer, as in QKeras.
"""

from __future__ import annotations

from typing import Any

from qapdsl import expressible, ir, learned, plan, quant
from qapdsl.backends import parts, qkeras
from qapdsl.backends.generator import Call, Generator
from qapdsl.backends.literals import SpecLines
from qapdsl.plan import Plan, PlanLayer

WRAP = 160


spelled = quant.hgq2_spelling


class HGQ2(Generator):
    KERAS = "keras"
    PRUNING_WRAPPER = False  # the generated GradualPruning / KeepMasks callbacks prune

    def __init__(self, exact_tables: bool = True) -> None:
        super().__init__()
        # QSoftmax / QUnaryFunctionLUT need a quantized network input (hls4ml's bit-exact flow starts
        # there): a float model keeps Keras's float activations, approximated by hls4ml as in QKeras
        self.exact_tables = exact_tables
        self.input_type: str | None = None  # the quantizer of the tensor the next layer reads (None: not a quantizer's output)

    def quantized_weight_layer(self, pl: PlanLayer) -> Call:
        wq = self.quantizer(pl.quant.get("weights"), "weights")
        bq = self.quantizer(pl.quant.get("bias"), "bias") if pl.params.get("use_bias", True) else None
        if wq is None:
            return self.float_weight_layer(pl)  # `qapc check` refuses a quantized bias on float weights (E406)
        cls = "Q" + {"dense": "Dense", "conv1d": "Conv1D", "conv2d": "Conv2D"}[pl.op]
        self.imports.add(cls)
        args = [*self.weight_args(pl), f"kq_conf={wq}"]
        if bq is not None:
            args.append(f"bq_conf={bq}")
        resource = learned.layer_beta(pl.quant.get("weights"), pl.quant.get("bias") if bq is not None else None)
        if resource is not None:
            args += self.resource_term(pl, resource)
        return cls, (*args, *self.weight_tail(pl))

    def resource_term(self, pl: PlanLayer, resource: ir.Learned) -> list[str]:
        """A layer with learned widths counts its EBOPs (HGQ2's resource term, weighted by beta in the loss),
        which need the widths of its input: its own input quantizer (`iq_conf`), the type of the quantizer
        before it again, which changes nothing (on the grid already) and which hls4ml fuses with it."""
        if self.input_type is None:
            raise expressible.unquantized_input(pl, resource)
        return [f"iq_conf={self.input_type}", "enable_iq=True", "enable_ebops=True", f"beta0={resource.beta!r}"]

    def keras_layers(self, pl: PlanLayer) -> list[Call]:
        calls = self._keras_layers(pl)
        if pl.op in ("quant_act", "input_quant"):
            self.input_type = calls[-1][1][0]  # the Quantizer's config
        elif pl.op not in plan.PASS_THROUGH:
            self.input_type = None
        return calls

    def _keras_layers(self, pl: PlanLayer) -> list[Call]:
        """hls4ml's bit-exact flow fuses a quantizer into the quantizer before it (through flatten and
        reshape) and rounds once where the model rounds twice: a relu that quantizes what is already
        quantized becomes Keras's ReLU and a quantizer of its own; anything else there is refused."""
        before = pl.params.get("after_quantizer")
        if before is None:
            return [self.layer(pl)]
        expressible.refuse_fused(self.name(), pl, self.exact_tables)
        if pl.op == "activation":  # a lookup table's input quantizer, left to hls4ml's float tables
            return [self.layer(pl)]
        q = pl.quant["activations"]
        expr = self.quantizer(q, "activations", "relu")
        assert expr is not None
        self.imports.add("Quantizer")
        return [(self.keras("ReLU"), (f"name={pl.name!r}",)), ("Quantizer", (expr, f"name={pl.params['requantizer']!r}"))]

    def quantized_activation(self, pl: PlanLayer) -> Call:
        role = "inputs" if pl.op == "input_quant" else "activations"
        expr = self.quantizer(pl.quant[role], role, pl.params.get("activation"))
        assert expr is not None
        self.imports.add("Quantizer")
        return "Quantizer", (expr, f"name={pl.name!r}")

    def activation(self, pl: PlanLayer) -> Call:
        act = pl.params["activation"]
        if not self.exact_tables:
            return super().activation(pl)
        if act == "softmax":
            self.imports.add("QSoftmax")
            # the tables qapc gives hls4ml for QKeras's float softmax (plan.act_layer), as quantizers
            return "QSoftmax", (
                f"exp_iq_conf={spelled(plan.SOFTMAX_INP_NORM)}",
                f"exp_oq_conf={spelled(plan.SOFTMAX_TABLE)}",
                f"inv_iq_conf={spelled(pl.params['inv_input'])}",
                f"inv_oq_conf={spelled(plan.SOFTMAX_TABLE)}",
                f"name={pl.name!r}",
            )
        if act in ("tanh", "sigmoid"):
            self.imports.add("QUnaryFunctionLUT")
            out = plan.TABLE_RESULTS[act]
            return "QUnaryFunctionLUT", (
                repr(act),
                f"iq_conf={spelled(plan.TABLE_INPUT)}",
                f"oq_conf={spelled(out, 'table')}",
                "allow_heterogeneous_table=False",
                f"name={pl.name!r}",
            )
        return super().activation(pl)

    def hgq2_quantizer(self, q: ir.Quant, role: str, activation: str | None) -> str | None:
        if q.learned is not None:
            return learned.hgq2_spelling(q, role)
        return quant.hgq2_quantizer(q, role, activation)


HGQ2.TRANSFORMS = {
    **Generator.TRANSFORMS,
    "dense": HGQ2.quantized_weight_layer,
    "conv1d": HGQ2.quantized_weight_layer,
    "conv2d": HGQ2.quantized_weight_layer,
    "quant_act": HGQ2.quantized_activation,
    "input_quant": HGQ2.quantized_activation,
    "activation": HGQ2.activation,
}
HGQ2.TYPE_MAPPING = dict.fromkeys(("fixed", "bits"), HGQ2.hgq2_quantizer)


def train_context(spec: ir.Spec, plan_: Plan, lines: SpecLines, out_dir: Any, spec_path: str) -> dict[str, Any]:
    gen = HGQ2(exact_tables=plan_.quantized)
    context = qkeras.common_context(spec, plan_, lines, out_dir, spec_path, "model.keras")
    # a relu with a quantizer of its own (HGQ2.keras_layers): its activation is that quantizer's output
    requantizers = {pl.name: pl.params["requantizer"] for pl in plan_.layers if "requantizer" in pl.params}
    context["activation_outputs"] = {k: requantizers.get(v, v) for k, v in plan_.activation_outputs.items()}
    model_lines = gen.model_lines(plan_, lines, WRAP, wrap_prunable=False)  # the generated callbacks prune
    context.update(
        model_lines=model_lines,
        quantizer_functions=parts.model_helpers(model_lines),
        dialect_imports=sorted(gen.imports),
        keras_import="import keras",
        # HGQ2 resets the optimizer's variables after each pruning round (QKeras compiles again)
        parts=[q for p in context["parts"] for q in ((p, "fresh_optimizer") if p == "iterative" else (p,))],
        fresh_optimizer="fresh_optimizer(model)  # a fresh optimizer state for each round",
        outputs=context["outputs"].replace(", test_data.npz", ", weights.npz (the same weights by layer name), test_data.npz", 1),
    )
    return context
