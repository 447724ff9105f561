"""Checks of the target's hls4ml settings: reuse factors (divisors of the fan-in × outputs), the strategy."""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

from qapdsl import ir, schema, shapes
from qapdsl.diagnostics import Diagnostic

if TYPE_CHECKING:
    pass



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
