"""Lowering the `sweep` and `search` sections: axes, objectives, budgets, sampler → `ir.Sweep` / `ir.Search`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

from qapdsl import ast, ir, schema
from qapdsl.diagnostics import did_you_mean
from qapdsl.lower.quantizers import read_quant
from qapdsl.lower.statements import KeyTracker, flat, no_block, read_pairs, single
from qapdsl.lower.values import Bad, Ctx, as_float, as_int, as_period_ns, as_str, as_word, describe
from qapdsl.source import Span


def axis_value(v: ast.Value) -> ir.SweepValue:
    """A sweep value as plain data: numbers, words, fractions, quantizers."""
    if isinstance(v, ast.Num):
        if not math.isfinite(float(v.value)):
            raise Bad("E205", f"{v.text} is too large", v.span, None)
        return v.value
    if isinstance(v, ast.Qty):
        if v.unit == "%":
            return float(v.num.value) / 100.0
        if v.unit in ("bits", "bit"):
            return read_quant((v,), v.span)
        return as_period_ns(v)
    if isinstance(v, ast.Fix):
        return read_quant((v,), v.span)
    if isinstance(v, ast.Word):
        return v.name
    if isinstance(v, ast.Str):
        return v.value
    raise Bad("E802", f"{describe(v)} cannot be a sweep value", v.span, None)


def lower_axes(ctx: Ctx, body: Sequence[ast.Stmt], where: str, ranges: bool) -> list[ir.Axis]:
    axes: list[ir.Axis] = []
    seen: dict[str, Span] = {}
    keys = schema.SECTIONS[where]
    for s in body:
        if s.member is None:
            if s.key.name in keys:
                continue
            if where == "sweep" and s.key.name in schema.SEARCH_KEYS:
                ctx.error("E201", f"`{s.key.name}` is a key of search {{ ... }}, not of a sweep", s.key.span, "a sweep runs every point of its grid")
                continue
            hint = f"write `{s.key.name} in [a, b, c]`" + (" or `in lo..hi`" if ranges else "")
            guess = did_you_mean(s.key.name, list(keys))
            ctx.error(
                "E201" if guess else "E202",
                f"`{s.key.name}` is not an axis of the {where}" if guess else f"axis `{s.key.name}` needs values",
                s.key.span,
                guess or hint,
            )
            continue
        if s.key.name in seen:
            ctx.error("E104", f"axis `{s.key.name}` given twice", s.key.span, f"first given at line {seen[s.key.name].line}")
            continue
        seen[s.key.name] = s.key.span
        m = s.member
        if isinstance(m, ast.ListV):
            if not m.items:
                ctx.error("E803", f"axis `{s.key.name}` has no values", m.span, f"list at least one value, e.g. `{s.key.name} in [4, 6, 8]`")
                continue
            values = [ctx.attempt(lambda item=item: axis_value(item), None) for item in m.items]  # type: ignore[misc]
            clean = tuple(v for v in values if v is not None)
            if len(clean) != len(values):
                continue
            axes.append(ir.Axis.model_construct(path=s.key.name, values=clean, span=s.span, value_spans=tuple(item.span for item in m.items)))
        elif isinstance(m, ast.RangeV) and ranges:
            lo, hi = float(m.lo.value), float(m.hi.value)
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
                ctx.error("E205", f"range {m.lo.text}..{m.hi.text} is empty", m.span, "write lo..hi with lo < hi")
                continue
            integer = isinstance(m.lo.value, int) and isinstance(m.hi.value, int)
            axes.append(ir.Axis.model_construct(path=s.key.name, low=lo, high=hi, integer=integer, span=s.span, value_spans=(m.lo.span, m.hi.span)))
        else:
            ctx.error(
                "E203", f"axis `{s.key.name}` takes a list" + (" or a range" if ranges else ""), m.span, "e.g. [4, 6, 8]" + (" or 8..64" if ranges else "")
            )
    return axes


def lower_sweep(ctx: Ctx, body: Sequence[ast.Stmt], span: Span) -> ir.Sweep:
    return cast(ir.Sweep, lower_study(ctx, body, span, "sweep"))


def lower_search(ctx: Ctx, body: Sequence[ast.Stmt], span: Span) -> ir.Search:
    return cast(ir.Search, lower_study(ctx, body, span, "search"))


def lower_study(ctx: Ctx, body: Sequence[ast.Stmt], span: Span, where: str) -> ir.Sweep | ir.Search:
    """A `sweep` or `search` block: its axes and the study keys (`schema.SWEEP_KEYS` / `SEARCH_KEYS`)."""
    from qapdsl import objectives as objs

    fields: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    keys = KeyTracker(ctx, schema.SECTIONS[where], where)
    log_paths: set[str] = set()
    errors_before = len(ctx.diagnostics)
    for s in body:
        if s.member is not None or s.key.name not in schema.SECTIONS[where]:
            continue  # axes, and unknown keys (reported by lower_axes)
        if not keys.accept(s):
            continue
        no_block(ctx, s)
        k = s.key.name
        spans[k] = s.key.span
        vals = flat(s)
        if k == "objective":
            fields["objectives"] = _objectives(ctx, s)
        elif k == "budget":
            opts = read_pairs(ctx, vals, {m: _reader(f"{m} budget", lo_open=True) for m in schema.COST_METRICS}, "budget")
            fields["budgets"] = {m: opts[m] for m in schema.COST_METRICS if m in opts}
            spans.update({f"budget.{m}": opts[m + "@span"] for m in schema.COST_METRICS if m in opts})
        elif k == "reference":
            # a reference point must leave room to beat it: a quality below 1, a cost above 0
            refs = {m: (_reader(f"reference {m}", lo_open=True) if m in schema.COST_METRICS else _fraction_below_one(f"reference {m}")) for m in schema.STUDY_METRICS}
            opts = read_pairs(ctx, vals, refs, "reference")
            fields["reference"] = {m: opts[m] for m in schema.STUDY_METRICS if m in opts}
            spans.update({f"reference.{m}": opts[m + "@span"] for m in schema.STUDY_METRICS if m in opts})
            if not vals:
                ctx.error("E202", "`reference` needs a metric and a value", s.key.span, "e.g. reference accuracy 0.5, bops 4e6")
        elif k == "repeat":
            fields["repeat"] = ctx.attempt(lambda: as_int(single(s), "repeat", 1, schema.MAX_REPEAT), 1)
        elif k == "baseline":
            path = ctx.attempt(lambda: as_str(single(s), "baseline"), None)
            if path is not None:
                fields["baseline"] = ir.Baseline.model_construct(path=path, spec=None, span=vals[0].span)
        elif k == "trials":
            fields["trials"] = ctx.attempt(lambda: as_int(single(s), "trials", 1, 100_000), 20)
        elif k == "sampler":
            fields["sampler"] = ctx.attempt(lambda: as_word(single(s), "sampler", schema.SAMPLERS), "tpe", f"{where}.sampler")
        elif k == "population":
            fields["population"] = ctx.attempt(lambda: as_int(single(s), "population", 2, 10_000), None)
        elif k == "log":
            for v in vals:
                if isinstance(v, ast.Word):
                    log_paths.add(v.name)
                else:
                    ctx.error("E203", f"`log` takes axis paths, not {describe(v)}", v.span, None)
    axes = lower_axes(ctx, body, where, ranges=where == "search")
    known = {s.key.name for s in body if s.member is not None}  # axes written, even those with a bad value
    for s in body:
        if s.member is None and s.key.name == "log":
            for v in flat(s):
                if isinstance(v, ast.Word) and v.name not in known:
                    ctx.error("E801", f"`log {v.name}` names no axis of this search", v.span, did_you_mean(v.name, known))
    axes = [a.model_copy(update={"log": a.path in log_paths}) for a in axes]
    if not known:
        ctx.error("E803", f"{where} has no axes", span, "e.g. fc1.units in 8..64" if where == "search" else "e.g. sweep { quant.bits in [4, 6, 8] }")
    if fields.get("repeat", 1) > 1 and "train.seed" in known:
        axis = next(s for s in body if s.member is not None and s.key.name == "train.seed")
        ctx.error("E808", f"`repeat` sets train.seed for every point, and train.seed is an axis of this {where}", axis.key.span, "remove the train.seed axis, or `repeat`")
    cls = ir.Search if where == "search" else ir.Sweep
    study = cls.model_construct(**fields, axes=tuple(axes), span=span, spans=spans)
    for d in objs.check_study_keys(study, frozenset(ctx.stand_ins)):
        ctx.diagnostics.append(d)
    if len(ctx.diagnostics) > errors_before:
        ctx.stand_ins.add(where)  # the block as lowered is not the one written: its space and budgets are not judged
    return study


def _reader(what: str, lo_open: bool) -> Callable[[ast.Value], float]:
    """A non-negative number (positive with `lo_open`) for `budget` and `reference`."""
    return lambda v: as_float(v, what, 0.0, lo_open=lo_open)


def _fraction_below_one(what: str) -> Callable[[ast.Value], float]:
    """A reference accuracy or AUC: in [0, 1), so that a point can beat it."""

    def read(v: ast.Value) -> float:
        x = as_float(v, what, 0.0, 1.0)
        if x >= 1.0:
            raise Bad("E205", f"{what} must be below 1, not {ast.value_text(v)}", v.span, "nothing is more accurate than 1: no point could beat it")
        return x

    return read


def _objectives(ctx: Ctx, s: ast.Stmt) -> tuple[ir.Objective, ...]:
    """`objective maximize accuracy, minimize bops`: one to three (direction, metric) groups."""
    out: list[ir.Objective] = []
    for group in s.groups:
        if len(group) != 2:
            where = group[2].span if len(group) > 2 else (group[0].span if group else s.key.span)
            words = [v.name for v in group if isinstance(v, ast.Word)]
            comma = len(group) == 4 and len(words) == 4 and words[2] in ("maximize", "minimize")
            hint = f"separate objectives with commas: `objective {words[0]} {words[1]}, {words[2]} {words[3]}`" if comma else None
            ctx.error("E202", "each objective is a direction and a metric", where, hint or "e.g. objective maximize accuracy, minimize bops")
            continue
        direction = ctx.attempt(lambda g=group: as_word(g[0], "direction", ("maximize", "minimize")), None)  # type: ignore[misc]
        metric = ctx.attempt(lambda g=group: as_word(g[1], "objective", tuple(schema.STUDY_METRICS)), None)  # type: ignore[misc]
        if direction is None or metric is None:
            continue
        a, b = group[0].span, group[1].span
        span = Span.model_construct(file=a.file, line=a.line, column=a.column, end_line=b.end_line, end_column=b.end_column)
        out.append(ir.Objective.model_construct(metric=cast(ir.Metric, metric), direction=cast(Any, direction), span=span))
    if not s.groups:
        ctx.error("E202", "`objective` needs a direction and a metric", s.key.span, "e.g. objective maximize accuracy")
    return tuple(out)
