"""Checks of the `prune` section: selected layers, targets, schedules against the training."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from qapdsl import data, ir, schema
from qapdsl.diagnostics import Diagnostic

if TYPE_CHECKING:
    pass



def check_pruning(spec: ir.Spec, stand_ins: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """A prune section that cannot prune: no weight layer at all (an error), or a schedule that removes
    nothing or starts after training ends (warnings: the spec runs, but does not do what it says).

    A setting lowering could not read (`prune.target`, ... in `stand_ins`) had its error; its stand-in is not judged."""
    prune = spec.prune
    if prune is None:
        return []
    diags: list[Diagnostic] = []
    weight_layers = [layer.name for layer in spec.model.layers if layer.kind in schema.WEIGHT_LAYERS]
    if not weight_layers:
        diags.append(
            Diagnostic("E502", f"model '{spec.model.name}' has no dense or conv layer, so there is nothing to prune", prune.span, "remove the prune section")
        )
        return diags
    s = prune.schedule
    where = s.span or prune.span
    if s.kind == "iterative" and (s.rounds == 0 or s.rate == 0.0) and not {"prune.rounds", "prune.rate"} & stand_ins:
        why = "0 rounds" if s.rounds == 0 else "a rate of 0%"
        diags.append(
            Diagnostic(
                "W501", f"the iterative schedule with {why} prunes nothing", where, "remove the prune section, or prune e.g. rounds 4; rate 20%", "warning"
            )
        )
    if s.kind in ("constant", "polynomial") and (s.target or 0.0) == 0.0 and "prune.target" not in stand_ins:
        diags.append(Diagnostic("W501", f"the {s.kind} schedule's target of 0% prunes nothing", where, "e.g. target 80%", "warning"))
    facts = data.known(spec)
    steps_read = not {"prune.begin", "prune.end"} & stand_ins
    if s.kind in ("constant", "polynomial") and steps_read and facts is not None and spec.train.test > 0 and spec.train.val > 0:
        n_train, _, _ = data.split_sizes(facts.samples, spec.train.test, spec.train.val)
        steps = math.ceil(n_train / spec.train.batch) * spec.train.epochs
        if s.begin_step >= steps:
            diags.append(
                Diagnostic(
                    "W502",
                    f"pruning begins at step {s.begin_step}, but training has only {steps} steps "
                    f"({spec.train.epochs} epochs of {math.ceil(n_train / spec.train.batch)} batches of {spec.train.batch} over {n_train} rows)",
                    where,
                    f"begin before step {steps}, or train longer",
                    "warning",
                )
            )
        elif s.end_step is not None and s.end_step >= steps and s.kind == "polynomial":
            diags.append(
                Diagnostic(
                    "W502",
                    f"the polynomial schedule ends at step {s.end_step}, after training's last step {steps - 1}: the target sparsity is never reached",
                    where,
                    f"end before step {steps}, or leave `end` out (the end of training)",
                    "warning",
                )
            )
    return diags
