"""Shape inference through every layer, with the figures BOPs and reports need.

For a weight layer, `fan_in` is n (inputs per output) and `outputs` is m (the
number of output values) in the paper's BOPs formula: a dense layer has
n = inputs, m = units; a conv layer n = k_h·k_w·C_in, m = C_out·H_out·W_out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qapdsl import ir
from qapdsl.diagnostics import Diagnostic


@dataclass(frozen=True)
class LayerShape:
    name: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    fan_in: int = 0  # n
    outputs: int = 0  # m
    weights: int = 0  # kernel parameters
    biases: int = 0

    @property
    def params(self) -> int:
        return self.weights + self.biases


def pool_geometry(layer: ir.Layer, rank: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Pool size and stride of a pooling layer over `rank` spatial axes.

    Defaults as in Keras: pool 2, stride = pool; a single number applies to every axis.
    """
    pool = layer.pool or (2,) * rank
    if len(pool) == 1 and rank == 2:
        pool = pool * 2
    stride = layer.stride or pool
    if len(stride) == 1 and rank == 2:
        stride = stride * 2
    return pool, stride


def _out_len(size: int, k: int, s: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / s)
    return (size - k) // s + 1


def infer(model: ir.Model) -> tuple[list[LayerShape], list[Diagnostic]]:
    """Shapes layer by layer; a mismatch is reported at the offending layer and the walk goes on."""
    diags: list[Diagnostic] = []
    shape = tuple(model.input_shape)
    out: list[LayerShape] = []

    def report(d: Diagnostic) -> None:
        # After the first shape error, the shapes that follow are guesses:
        # reporting on them would only repeat it.
        if not diags:
            diags.append(d)

    for layer in model.layers:
        where = layer.spans.get("name", layer.span)
        in_shape = shape
        fan_in = outputs = weights = biases = 0
        k = layer.kind
        if k == "dense":
            if len(shape) != 1:
                report(
                    Diagnostic("E302", f"dense layer '{layer.name}' needs a flat input, but gets shape {fmt(shape)}", where, "add a `flatten` layer before it")
                )
                shape = (math.prod(shape),)
            units = layer.units or 1
            fan_in, outputs = shape[0], units
            weights, biases = shape[0] * units, units if layer.use_bias else 0
            shape = (units,)
        elif k in ("conv1d", "conv2d"):
            rank = 1 if k == "conv1d" else 2
            if len(shape) != rank + 1:
                want = "(steps, channels)" if rank == 1 else "(height, width, channels)"
                report(
                    Diagnostic(
                        "E302",
                        f"{k} layer '{layer.name}' needs an input of shape {want}, but gets {fmt(shape)}",
                        where,
                        f"declare e.g. `input {'(32, 1)' if rank == 1 else '(28, 28, 1)'}`",
                    )
                )
                shape = (1,) * rank + (shape[-1] if shape else 1,)
            kernel = layer.kernel or (1,) * rank
            stride = layer.stride or (1,) * rank
            spatial = []
            for size, kk, ss in zip(shape[:rank], kernel, stride):
                if layer.padding == "valid" and kk > size:
                    report(
                        Diagnostic(
                            "E303",
                            f"kernel {fmt(kernel)} of '{layer.name}' is larger than its input {fmt(shape)}",
                            layer.spans.get("kernel", where),
                            "use a smaller kernel or `padding same`",
                        )
                    )
                    kk = size
                spatial.append(max(_out_len(size, kk, ss, layer.padding), 1))
            c_in, c_out = shape[-1], layer.units or 1
            fan_in = math.prod(kernel) * c_in
            outputs = c_out * math.prod(spatial)
            weights, biases = fan_in * c_out, c_out if layer.use_bias else 0
            shape = (*spatial, c_out)
        elif k in ("maxpool", "avgpool"):
            rank = len(shape) - 1
            if rank not in (1, 2):
                report(
                    Diagnostic(
                        "E302", f"{k} layer '{layer.name}' needs a 1D or 2D input with channels, but gets {fmt(shape)}", where, "pool after a conv layer"
                    )
                )
            else:
                pool, stride = pool_geometry(layer, rank)
                if len(pool) != rank:
                    report(Diagnostic("E302", f"pool size {fmt(pool)} of '{layer.name}' does not match a {rank}D input", layer.spans.get("pool", where), None))
                else:
                    spatial = []
                    for size, pp, ss in zip(shape[:rank], pool, stride):
                        if layer.padding == "valid" and pp > size:
                            report(
                                Diagnostic(
                                    "E303", f"pool {fmt(pool)} of '{layer.name}' is larger than its input {fmt(shape)}", layer.spans.get("pool", where), None
                                )
                            )
                            pp = size
                        spatial.append(max(_out_len(size, pp, ss, layer.padding), 1))
                    shape = (*spatial, shape[-1])
        elif k == "flatten":
            shape = (math.prod(shape),)
        out.append(LayerShape(layer.name, k, in_shape, shape, fan_in, outputs, weights, biases))
    return out, diags


def fmt(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
