"""Checks of the model itself: layer names, the output layer against the classes and the loss."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from qapdsl import ir, names, schema, shapes
from qapdsl.diagnostics import Diagnostic

if TYPE_CHECKING:
    pass



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
