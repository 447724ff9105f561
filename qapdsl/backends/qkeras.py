"""The QKeras dialect: QDense / QConv / QActivation with QKeras quantizers, pruned by tfmot or the paper's loop.

Only what differs from plain Keras is here (`Generator` renders the rest):
quantized weight layers and activations, and the quantizers, whose numbers come
from `qapdsl.quant` (the one place that maps spec types to QKeras arguments).
Also the context of `templates/train.py.j2`, the training script.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qapdsl import ir, quant
from qapdsl.backends import parts
from qapdsl.backends.generator import Call, Generator
from qapdsl.backends.literals import SpecLines, comment_text
from qapdsl.data import file_path
from qapdsl.plan import BuildError, Plan, PlanLayer

WRAP = 160  # longer layer constructors get one argument per line


class QKeras(Generator):
    KERAS = "keras"

    def quantized_weight_layer(self, pl: PlanLayer) -> Call:
        wq = self.quantizer(pl.quant.get("weights"), "weights")
        bq = self.quantizer(pl.quant.get("bias"), "bias")
        if wq is None and bq is None:
            return self.float_weight_layer(pl)
        cls = "Q" + {"dense": "Dense", "conv1d": "Conv1D", "conv2d": "Conv2D"}[pl.op]
        self.imports.add(cls)
        args = [*self.weight_args(pl), f"kernel_quantizer={wq}", f"bias_quantizer={bq}", *self.weight_tail(pl)]
        return cls, tuple(args)

    def quantized_activation(self, pl: PlanLayer) -> Call:
        role = "inputs" if pl.op == "input_quant" else "activations"
        expr = self.quantizer(pl.quant[role], role, pl.params.get("activation"))
        assert expr is not None
        self.imports.add("QActivation")
        return "QActivation", (expr, f"name={pl.name!r}")

    def qkeras_quantizer(self, q: ir.Quant, role: str, activation: str | None) -> str | None:
        expr = quant.qkeras_quantizer(q, role, activation)
        if expr is not None:
            self.imports.add(expr.split("(")[0])
        return expr


QKeras.TRANSFORMS = {
    **Generator.TRANSFORMS,
    "dense": QKeras.quantized_weight_layer,
    "conv1d": QKeras.quantized_weight_layer,
    "conv2d": QKeras.quantized_weight_layer,
    "quant_act": QKeras.quantized_activation,
    "input_quant": QKeras.quantized_activation,
}
QKeras.TYPE_MAPPING = dict.fromkeys(("fixed", "bits", "po2", "binary", "ternary"), QKeras.qkeras_quantizer)


def data_literal(spec: ir.Spec, out_dir: Path) -> dict[str, Any]:
    """The data source; a file path is stored relative to the output folder (the script resolves it from its own)."""
    data = spec.train.data
    out: dict[str, Any] = {"source": data.source, "name": data.name, "target": data.target}
    path = file_path(spec)
    if path is not None:
        # as written when absolute; else relative to the build folder, so the folder and the data can move together
        absolute = Path(data.name).is_absolute()
        out["path"] = str(path) if absolute else Path(os.path.relpath(os.path.abspath(path), os.path.abspath(out_dir))).as_posix()
    return out


def common_context(spec: ir.Spec, plan: Plan, lines: SpecLines, out_dir: Path, spec_path: str, model_file: str) -> dict[str, Any]:
    """What templates/train.py.j2 needs from every dialect: the parts the spec uses (`parts.context`), the
    spec's values and the quoted spec lines."""
    model = spec.model
    if spec.prune is not None and spec.prune.bias and spec.prune.schedule.kind != "iterative":  # make_plan reports it (E504)
        raise BuildError("pruning biases (`bias on`) needs the iterative schedule; tfmot prunes kernels only", spec.prune.span, code="E504")
    context = parts.context(spec, plan, lines, data_literal(spec, out_dir).get("path"))
    outputs = [model_file + " (weights on their quantizers' grids)", *context.pop("outputs_list")[1:]]
    context.update(
        version=_version(),
        spec_path_text=comment_text(spec_path),
        model_name=model.name,
        input_shape=plan.input_shape,
        input_name=plan.input_name,
        output_width=plan.output_width,
        activation_outputs=dict(plan.activation_outputs),
        input_comment=lines.comment(model.input_span, "    "),
        model_file=model_file,
        outputs=", ".join(outputs),
    )
    return context


def train_context(spec: ir.Spec, plan: Plan, lines: SpecLines, out_dir: Path, spec_path: str) -> dict[str, Any]:
    gen = QKeras()
    context = common_context(spec, plan, lines, out_dir, spec_path, "model.h5")
    wrap = context["prune_kind"] in parts.GRADUAL  # tfmot wraps the pruned layers; the iterative loop masks them
    context.update(
        model_lines=gen.model_lines(plan, lines, WRAP, wrap_prunable=wrap),
        wrap_prunable=wrap,
        dialect_imports=sorted(gen.imports),
        keras_import="from tensorflow import keras",
        fresh_optimizer="compile_model(model)  # a fresh optimizer state for each round (compiling again: cheap with TensorFlow)",
    )
    return context


def _version() -> str:
    from qapdsl import __version__

    return __version__
