"""Lowering the `prune` section and its schedule (constant, polynomial, iterative) → `ir.Prune`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qapdsl import ast, ir, schema
from qapdsl.diagnostics import did_you_mean
from qapdsl.lower.statements import KeyTracker, flat, no_block, single
from qapdsl.lower.values import Ctx, as_float, as_fraction, as_int, as_name, as_switch, as_word, describe
from qapdsl.source import Span


def lower_prune(ctx: Ctx, body: Sequence[ast.Stmt], span: Span, model: ir.Model) -> ir.Prune:
    keys = KeyTracker(ctx, schema.PRUNE_KEYS, "prune")
    fields: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    schedule: ir.Schedule | None = None
    selector_spans: list[tuple[str, str, Span]] = []
    selector_stmt: Span | None = None
    scope_span: Span | None = None
    for s in body:
        if not keys.accept(s):
            continue
        key = s.key.name
        spans[key] = s.span
        if key == "schedule":
            schedule = lower_schedule(ctx, s)
            continue
        no_block(ctx, s)
        if key == "method":
            fields["method"] = ctx.attempt(lambda: as_word(single(s), "pruning method", ("magnitude",)), "magnitude")
        elif key == "scope":
            fields["scope"] = ctx.attempt(lambda: as_word(single(s), "pruning scope", ("global", "layer")), "global", "prune.scope")
            scope_span = s.span
        elif key == "bias":
            fields["bias"] = ctx.attempt(lambda: as_switch(single(s), "bias"), False)
        elif key in ("select", "skip"):
            vals = [v for v in flat(s)]
            if s.member is not None or not vals:
                ctx.error("E202", f"`{key}` needs layer names or globs", s.key.span, "e.g. `skip out` or `select fc*`")
                continue
            globs: list[str] = []
            for v in vals:
                items = v.items if isinstance(v, ast.ListV) else (v,)
                for item in items:
                    g = ctx.attempt(lambda: as_name(item, "layer selector", glob=True), None)
                    if g is not None:
                        globs.append(g)
                        selector_spans.append((key, g, item.span))
            fields[key] = tuple(globs)
            selector_stmt = s.span
    if schedule is None:
        ctx.error("E202", "`prune` needs a `schedule`", span, "e.g. schedule iterative { rounds 11; rate 20% }")
        schedule = ir.Schedule.model_construct(kind="iterative")
    if schedule.kind in ("constant", "polynomial"):
        # tfmot prunes each wrapped layer to the schedule's target: there is no
        # global threshold to offer, so an explicit `scope global` is an error
        # rather than a setting quietly ignored, and the default is per layer.
        if fields.get("scope") == "global" and scope_span is not None and "prune.scope" not in ctx.stand_ins:
            ctx.error(
                "E503",
                f"the {schedule.kind} schedule (tfmot) prunes every layer to its target; it has no global threshold",
                scope_span,
                "write `scope layer`, or use `schedule iterative { ... }` for one threshold across layers",
            )
        fields["scope"] = "layer"
        if fields.get("bias"):
            ctx.error(
                "E504",
                f"pruning biases (`bias on`) needs the iterative schedule; the {schedule.kind} schedule (tfmot) prunes kernels only",
                spans.get("bias", span),
                "write `bias off`, or use `schedule iterative { ... }`",
            )
    # selectors resolve against the model's weight layers
    import fnmatch

    weight_layers = [layer.name for layer in model.layers if layer.kind in schema.WEIGHT_LAYERS]
    all_layers = [layer.name for layer in model.layers]
    for key, g, gspan in selector_spans:
        if not fnmatch.filter(all_layers, g):
            ctx.error("E501", f"{key} selector '{g}' matches no layer", gspan, did_you_mean(g, all_layers) or f"layers: {', '.join(all_layers)}")
        elif key == "select" and not fnmatch.filter(weight_layers, g):
            ctx.error("E501", f"select '{g}' matches only layers without weights", gspan, f"prunable layers: {', '.join(weight_layers)}")
    select = fields.get("select", ("*",))
    skip = fields.get("skip", ())
    chosen = tuple(n for n in weight_layers if any(fnmatch.fnmatchcase(n, g) for g in select) and not any(fnmatch.fnmatchcase(n, g) for g in skip))
    if not chosen and weight_layers:
        ctx.error("E502", "no layer is left to prune after `select` and `skip`", selector_stmt or span, f"prunable layers: {', '.join(weight_layers)}")
    return ir.Prune.model_construct(**fields, schedule=schedule, span=span, layers=chosen, spans=spans)


def lower_schedule(ctx: Ctx, stmt: ast.Stmt) -> ir.Schedule | None:
    vals = flat(stmt)
    if stmt.member is not None or not vals:
        ctx.error("E202", "`schedule` needs a kind", stmt.key.span, "one of: " + ", ".join(schema.SCHEDULE_KINDS))
        return None
    kind = ctx.attempt(lambda: as_word(vals[0], "schedule", tuple(schema.SCHEDULE_KINDS)), None)
    if kind is None:
        return None
    for extra in vals[1:]:
        ctx.error("E206", f"unexpected {describe(extra)}: settings go in the block", extra.span, f"write `schedule {kind} {{ ... }}`")
    table = schema.SCHEDULE_KEYS[kind]
    keys = KeyTracker(ctx, table, f"{kind} schedule")
    fields: dict[str, Any] = {"kind": kind}
    for s in stmt.block or ():
        if not keys.accept(s):
            continue
        no_block(ctx, s)
        k = s.key.name
        if k == "target":
            fields["target"] = ctx.attempt(lambda: as_fraction(single(s), "target sparsity"), 0.0, "prune.target")
        elif k == "initial":
            fields["initial"] = ctx.attempt(lambda: as_fraction(single(s), "initial sparsity"), 0.0, "prune.initial")
        elif k == "begin":
            fields["begin_step"] = ctx.attempt(lambda: as_int(single(s), "begin step", 0), 0, "prune.begin")
        elif k == "end":
            fields["end_step"] = ctx.attempt(lambda: as_int(single(s), "end step", 1), None, "prune.end")
        elif k == "frequency":
            fields["frequency"] = ctx.attempt(lambda: as_int(single(s), "frequency", 1), 100)
        elif k == "power":
            fields["power"] = ctx.attempt(lambda: as_float(single(s), "power", 0.0, 100.0, lo_open=True), 3.0)
        elif k == "rounds":
            fields["rounds"] = ctx.attempt(lambda: as_int(single(s), "rounds", 0, 100), 11, "prune.rounds")
        elif k == "rate":
            fields["rate"] = ctx.attempt(lambda: as_fraction(single(s), "pruning rate"), 0.2, "prune.rate")
        elif k == "rewind":
            fields["rewind"] = ctx.attempt(lambda: as_word(single(s), "rewind", ("none", "init")), "none")
        elif k == "epochs":
            fields["epochs_per_round"] = ctx.attempt(lambda: as_int(single(s), "epochs per round", 1, 100_000), None)
    if kind in ("constant", "polynomial") and "target" not in fields:
        ctx.error("E202", f"{kind} schedule needs a `target` sparsity", stmt.key.span, "e.g. target 80%")
    read = not {"prune.initial", "prune.target"} & ctx.stand_ins
    if kind == "polynomial" and read and fields.get("initial", 0.0) > fields.get("target", 1.0):
        ctx.error("E205", "initial sparsity is above the target", stmt.span, None)
    end, begin = fields.get("end_step"), fields.get("begin_step", 0)
    if end is not None and end <= begin and not {"prune.begin", "prune.end"} & ctx.stand_ins:
        ctx.error("E205", f"end step {end} is not after begin step {begin}", stmt.span, None)
    return ir.Schedule.model_construct(**fields, span=stmt.span)
