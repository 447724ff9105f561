"""What the brevitas dialect builds exactly, as data, and the checks that refuse the rest (E406, E407).

The Brevitas route is Brevitas → QONNX (`export_qonnx`) → hls4ml's ONNX frontend. hls4ml derives
every type from the QONNX `Quant` nodes, and the firmware equals the model bit for bit only when
each of them is a fixed-point grid: a power-of-two scale, a zero point of 0, one scale per tensor.
The generated train.py pins every Brevitas quantizer to the spec's type (a constant scale
2**(I-W), `qapdsl.backends.brevitas`), so the spec's types are what the QONNX graph holds.
Measured with hls4ml 1.3.0 / qonnx 1.0.0 (issue 21), the rest breaks silently:

- a float tensor (no quantizer: Brevitas' float bias, a float activation) is truncated to hls4ml's
  default precision (a float bias: 0 of 360 digits rows exact);
- a learned or float scale (QKeras' `alpha`, Brevitas' default quantizers) converts through scale
  nodes: 10% accuracy at the default precision, max |diff| 0.29 even at fixed<48,28>;
- per-channel scales (`alpha auto`) crash hls4ml's converter.

Besides: the layer kinds and activations the generated train.py has so far, no `accum` / `result`
override (hls4ml derives those from the Quant nodes) and no RTL step yet. Cheap to import.
"""

from __future__ import annotations

from qapdsl import ir, quant, schema
from qapdsl.diagnostics import Diagnostic

LAYER_KINDS = frozenset({"dense", "activation"})
INNER_ACTIVATIONS = frozenset({"relu", "linear"})  # inside the network
OUTPUT_ACTIVATIONS = frozenset({"softmax"})  # the last layer's: train.py's loss (cross entropy on the logits) applies it, the firmware gives the logits
SCHEDULES = frozenset({"iterative", "constant", "polynomial"})  # rewinding is still to be written
LOSSES = frozenset({"categorical_crossentropy", "sparse_categorical_crossentropy"})

WHY_NOT: dict[str, str] = {
    "conv1d": "convolutions are not in the Brevitas train.py yet (QuantConv1d and hls4ml's channels-last conversion are still to be wired)",
    "conv2d": "convolutions are not in the Brevitas train.py yet (QuantConv2d and hls4ml's channels-last conversion are still to be wired)",
    "maxpool": "pooling follows convolutions, which the Brevitas train.py does not have yet",
    "avgpool": "pooling follows convolutions, which the Brevitas train.py does not have yet",
    "batchnorm": "a batch normalisation keeps float scales, which QONNX hands to hls4ml as float: the firmware would not equal the model",
    "tanh": "tanh is float in PyTorch and a lookup table in hls4ml: the firmware would not equal the model",
    "sigmoid": "an inner sigmoid is float in PyTorch and a lookup table in hls4ml: the firmware would not equal the model",
    "dropout": "dropout is not in the Brevitas train.py yet",
    "flatten": "the Brevitas train.py takes a flat input (dense layers) so far",
    "softmax": "an inner softmax is float in PyTorch and a lookup table in hls4ml: the firmware would not equal the model",
}

FLOAT_TENSOR = (
    "a float tensor in the brevitas dialect: QONNX hands it to hls4ml as float, which truncates it to its default precision "
    "(a float bias: 0 of 360 digits rows exact), and the firmware would not equal the model"
)


def check(spec: ir.Spec) -> list[Diagnostic]:
    """Everything a `dialect brevitas` spec asks for that the Brevitas route cannot build exactly (E406)."""
    if spec.train.dialect != "brevitas":
        return []
    model = spec.model
    diags: list[Diagnostic] = []
    where_dialect = spec.train.spans.get("dialect") or spec.train.span
    if not quant.is_quantized(model):
        diags.append(
            Diagnostic(
                "E406",
                "a float model in the brevitas dialect: QONNX hands float tensors to hls4ml, which truncates them to its default precision, "
                "and the firmware would not equal the model",
                where_dialect or model.span,
                "quantize the model (e.g. `quant inputs fixed<8,3>, weights fixed<6,1>, activations ufixed<6,2>`), or use `dialect qkeras`",
            )
        )
        return diags
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        at = layer.spans.get("name", layer.span)
        if layer.kind not in LAYER_KINDS:
            diags.append(Diagnostic("E406", f"the brevitas dialect cannot build {layer.kind} layer '{layer.name}': {WHY_NOT.get(layer.kind, 'not supported')}", at, "use dense layers, or `dialect qkeras`"))
            continue
        if layer.batchnorm:
            diags.append(Diagnostic("E406", f"the brevitas dialect cannot build the batch norm of '{layer.name}': {WHY_NOT['batchnorm']}", at, "remove `batchnorm`, or use `dialect qkeras`"))
        act = layer.activation
        allowed = OUTPUT_ACTIVATIONS if i == last else INNER_ACTIVATIONS
        if act is not None and act not in allowed:
            diags.append(
                Diagnostic(
                    "E406",
                    f"the brevitas dialect cannot build the {act} of '{layer.name}': {WHY_NOT.get(act, 'not supported')}",
                    layer.spans.get("activation", at),
                    "use relu or linear inside the network and softmax at the output (the loss applies it)",
                )
            )
        for what in ("result", "accum"):
            if getattr(layer, what) is not None:
                diags.append(
                    Diagnostic(
                        "E406",
                        f"`{what}` of '{layer.name}': hls4ml derives the brevitas dialect's types from the QONNX Quant nodes and would ignore it",
                        layer.spans.get(what, at),
                        f"remove `{what}` (the sums are exact), or use `dialect qkeras`",
                    )
                )
        diags += _float_tensors(spec, layer, i == last)
    if len(model.input_shape) != 1:
        diags.append(Diagnostic("E406", f"the brevitas dialect takes a flat input so far, not {'x'.join(str(d) for d in model.input_shape)}", model.input_span or model.span, "flatten the data to one axis"))
    if spec.train.loss not in LOSSES:
        diags.append(
            Diagnostic("E406", f"the brevitas dialect trains with cross entropy on the logits so far, not {spec.train.loss}", spec.train.spans.get("loss", where_dialect), "write `loss categorical_crossentropy`")
        )
    p = spec.prune
    if p is not None:
        s = p.schedule
        if s.kind not in SCHEDULES:
            diags.append(Diagnostic("E406", f"the brevitas dialect has no {s.kind} pruning schedule yet", s.span or p.span, "use `schedule iterative { ... }`"))
        elif s.kind == "iterative" and s.rewind != "none":
            diags.append(Diagnostic("E406", f"the brevitas dialect cannot rewind to the {s.rewind} weights yet", s.span or p.span, "write `rewind none`"))
        if p.bias:
            diags.append(Diagnostic("E406", "the brevitas dialect prunes weights only so far (`bias on`)", p.spans.get("bias", p.span), "remove `bias on`"))
    if spec.target.rtl is not None:
        rtl = spec.target.rtl
        diags.append(
            Diagnostic(
                "E407",
                "the RTL step is not wired to the brevitas dialect yet (da4ml reads Keras models; the QONNX route ends in hls4ml's C++)",
                rtl.spans.get("language", rtl.span),
                "remove `rtl` from the target (the hls4ml firmware is built and checked), or use `dialect hgq2` for the RTL",
            )
        )
    return diags


def _float_tensors(spec: ir.Spec, layer: ir.Layer, last: bool) -> list[Diagnostic]:
    """Tensors a layer leaves in float without saying so (a written `float` is refused where it is written)."""
    model = spec.model
    eff = quant.effective(model, layer)
    at = layer.spans.get("name", layer.span)
    roles: list[tuple[str, ir.Quant]] = []
    if layer.kind in schema.WEIGHT_LAYERS:
        roles.append(("weights", eff.weights))
        if layer.use_bias:
            roles.append(("bias", eff.bias))
    if layer.activation == "relu" or (layer.activation == "linear" and not last) or (layer.kind == "activation" and layer.activation in INNER_ACTIVATIONS):
        roles.append(("activations", eff.activations))
    out: list[Diagnostic] = []
    for role, q in roles:
        if q.kind == "float" and q.span is None:
            why = "Brevitas' float bias is truncated to hls4ml's default precision (0 of 360 digits rows exact)" if role == "bias" else "QONNX hands it to hls4ml as float"
            out.append(
                Diagnostic(
                    "E406",
                    f"the {role} of '{layer.name}' are float in the brevitas dialect: {why}, and the firmware would not equal the model",
                    at,
                    f"give '{layer.name}' a {role} type (e.g. `{role} {'ufixed<6,2>' if role == 'activations' else 'fixed<6,1>'}`), or one for the whole model in `quant`",
                )
            )
    return out
