"""Checks of a `sweep` or `search`: the paths and values of its axes (each variant checked as a spec), its size,
its objectives and budgets."""

from __future__ import annotations

import fnmatch
import itertools
import math
import re
from typing import TYPE_CHECKING

from qapdsl import ir, paths, schema
from qapdsl.diagnostics import Diagnostic
from qapdsl.source import Span

if TYPE_CHECKING:
    pass



def check_hardware_objectives(spec: ir.Spec) -> list[Diagnostic]:
    """A study that compares or budgets the RTL's figures (`luts`, `rtl_cost`) needs the RTL step (E804)."""
    diags: list[Diagnostic] = []
    rtl = spec.target.rtl
    for block in (spec.sweep, spec.search):
        if block is None:
            continue
        asked: list[tuple[str, Span | None]] = [(o.metric, o.span) for o in block.objectives if o.metric in schema.HARDWARE_METRICS]
        if isinstance(block, ir.Search):
            asked += [(m, block.spans.get(f"budget.{m}")) for m in block.budgets if m in schema.HARDWARE_METRICS]
        for metric, span in asked:
            if rtl is None:
                diags.append(Diagnostic("E804", f"`{metric}` is a figure of the RTL step, and the target has no `rtl`", span, "add `rtl verilog { pipeline 5 }` to the target"))
            elif metric == "luts" and not rtl.synth:
                diags.append(Diagnostic("E804", "`luts` come from the Yosys synthesis, which the target turns off (`synth off`)", span, "remove `synth off`, or use `rtl_cost`"))
    return diags


MAX_GRID = 4096


MAX_CHECK_WORK = 100_000  # points × layers: what `qapc check` spends on a sweep or search at most (a few seconds)


# Settings that change numbers only (widths, rates, steps, sizes): what the build plan refuses (names,
# generated names, quantizer kinds, bias pruning) does not depend on them. Any other path replans.
_PLAN_NEUTRAL = re.compile(r"(train|target|prune)\.[a-z_]+|quant\.bits|[^.]+\.(units|filters|reuse|l1|l2|rate)")


def plan_sensitive(path: str) -> bool:
    return path == "train.dialect" or _PLAN_NEUTRAL.fullmatch(path) is None


def _probes(axis: ir.Axis) -> list[tuple[ir.SweepValue, Span | None]]:
    """The values of an axis to check, each with where it was written: every listed value, or both ends of a range."""
    spans = list(axis.value_spans) + [None] * max(0, len(axis.values) + 2 - len(axis.value_spans))
    if axis.values:
        return list(zip(axis.values, spans[: len(axis.values)]))
    if axis.low is None or axis.high is None:
        return []
    lo, hi = (int(axis.low), int(axis.high)) if axis.integer else (axis.low, axis.high)
    return [(lo, spans[0]), (hi, spans[1])]


def _overlaps(spec: ir.Spec, block: ir.Sweep | ir.Search) -> list[Diagnostic]:
    """E104: two axes that set the same setting (a glob and a name, or quant.bits and a model-wide role)."""
    names = [layer.name for layer in spec.model.layers]
    owner: dict[tuple[str, str], ir.Axis] = {}
    diags: list[Diagnostic] = []
    for axis in block.axes:
        head, _, rest = axis.path.partition(".")
        if head == "quant":
            targets = [("quant", r) for r in ("weights", "bias", "activations")] if rest == "bits" else [("quant", rest)]
        elif head in ("prune", "train", "target"):
            targets = [(head, rest)]
        else:
            rest = "units" if rest == "filters" else rest
            targets = [(n, rest) for n in names if fnmatch.fnmatchcase(n, head)]
        for t in targets:
            first = owner.setdefault(t, axis)
            if first is not axis:
                diags.append(
                    Diagnostic(
                        "E104",
                        f"`{axis.path}` and `{first.path}` both set {'.'.join(t)}",
                        axis.span,
                        f"one axis per setting: the later would override the earlier (line {first.span.line if first.span else '?'})",
                    )
                )
                break
    return diags


INTERIOR_VALUES = 64  # integer search ranges up to this many values are checked value by value


def _range_interiors(spec: ir.Spec, search: ir.Search, base: ir.Spec) -> list[Diagnostic]:
    """Integer ranges whose ends build but some inner values do not (reuse factors hls4ml refuses): a warning,
    since a search may well span them; the trials that draw them fail. Small ranges of small models only."""
    from qapdsl.checks.spec import check_point  # a variant is checked as a spec, with every check

    out: list[Diagnostic] = []
    if len(spec.model.layers) > 200:
        return out
    for axis in search.axes:
        if not axis.integer or axis.low is None or axis.high is None or axis.high - axis.low + 1 > INTERIOR_VALUES:
            continue
        bad: list[tuple[int, Diagnostic]] = []
        for value in range(int(axis.low) + 1, int(axis.high)):
            try:
                variant = paths.apply(base, axis.path, value)
            except paths.PathError:
                continue
            errors = check_point(variant, plan=plan_sensitive(axis.path))
            if errors:
                bad.append((value, errors[0]))
        if bad:
            good = [v for v in range(int(axis.low), int(axis.high) + 1) if v not in {b for b, _ in bad}]
            out.append(
                Diagnostic(
                    "W806",
                    f"{axis.path} = {', '.join(str(v) for v, _ in bad)} cannot build ({bad[0][1].code}: {bad[0][1].message}); trials that draw them fail",
                    axis.span,
                    f"search a list of the values that build: {axis.path} in [{', '.join(map(str, good[:16]))}]",
                    "warning",
                )
            )
    return out


BUDGET_CORNERS = 256  # corners of a search box whose declared costs `qapc check` computes, at most (else one per axis)


def _cheapest(search: ir.Search, base: ir.Spec, metric: str) -> tuple[float, list[tuple[str, ir.SweepValue]]] | None:
    """The smallest declared `metric` (bops, memory, params: `objectives.declared`, what a trial is refused on before
    training) of any point of the search, and that point; None when a corner does not build (reported elsewhere).

    Every cost grows with widths and bit widths and shrinks with pruning, each along its own axis whatever the others
    are, so the cheapest point is a corner of the box: a value of each list, an end of each range. Up to
    `BUDGET_CORNERS` corners are all computed; beyond, each axis's cheapest end is found with the others as in the
    spec, and that corner computed."""
    from qapdsl import objectives
    from qapdsl.checks.spec import check  # a variant is checked as a spec, with every check

    def figure(settings: list[tuple[str, ir.SweepValue]]) -> float | None:
        variant = base
        try:
            for path, value in settings:
                variant = paths.apply(variant, path, value)
        except paths.PathError:
            return None
        if [d for d in check(variant) if d.severity == "error"]:
            return None
        return objectives.declared(variant)[metric]

    ends = [[v for v, _ in _probes(axis)] for axis in search.axes]
    if math.prod(len(e) for e in ends) <= BUDGET_CORNERS:
        corners = [[(a.path, v) for a, v in zip(search.axes, combo)] for combo in itertools.product(*ends)]
    else:
        pick = []
        for axis, values in zip(search.axes, ends):
            alone = [(figure([(axis.path, v)]), v) for v in values]
            pick.append((axis.path, min((f, i, v) for i, (f, v) in enumerate(alone) if f is not None)[2] if any(f is not None for f, _ in alone) else values[0]))
        corners = [pick]
    best: tuple[float, list[tuple[str, ir.SweepValue]]] | None = None
    for corner in corners:
        f = figure(corner)
        if f is None:
            return None
        if best is None or f < best[0]:
            best = (f, corner)
    return best


def search_space_size(search: ir.Search) -> int | None:
    """The number of distinct points of a search space; None when it has a real-valued range (no end to them)."""
    size = 1
    for axis in search.axes:
        if axis.values:
            size *= len({paths.token(v) for v in axis.values})
        elif axis.integer and axis.low is not None and axis.high is not None:
            size *= int(axis.high) - int(axis.low) + 1
        else:
            return None
    return size


_BUDGET_NAMES = {"bops": "BOPs", "memory": "memory bits", "params": "parameters"}


def _search_budgets(search: ir.Search, base: ir.Spec) -> list[Diagnostic]:
    """E810: a budget no point of the search meets (every trial would be refused before training); W811: a finite
    search space with fewer points than the trials (the search ends when it has run them all)."""
    diags: list[Diagnostic] = []
    for metric, limit in search.budgets.items():
        found = _cheapest(search, base, metric)
        if found is None or found[0] <= limit:
            continue
        figure, corner = found
        where = ", ".join(f"{p} = {paths.token(v)}" for p, v in corner) or "the spec itself"
        diags.append(
            Diagnostic(
                "E810",
                f"no point of this search meets its budget of {limit:,.0f} {_BUDGET_NAMES[metric]}: the fewest a point has is {figure:,.0f} ({where}), "
                "so every trial would be refused before training",
                search.spans.get(f"budget.{metric}") or search.spans.get("budget") or search.span,
                f"a budget of at least {figure:,.0f}, or axes that reach cheaper points (fewer units, fewer bits, more pruning)",
            )
        )
    size = search_space_size(search)
    if size is not None and size < search.trials:
        diags.append(
            Diagnostic(
                "W811",
                f"the search space has {size:,} point{'s' if size != 1 else ''}, fewer than its {search.trials:,} trials: the search ends once it has run them all",
                search.spans.get("trials") or search.span,
                f"trials {size}, or a `sweep {{ ... }}` (a grid runs every point once)",
                "warning",
            )
        )
    return diags


def check_axes(spec: ir.Spec, stand_ins: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """Every sweep point and both ends of every search range, checked like a spec.

    A value a path cannot take, or a variant that would not build, is reported at
    the value that breaks it ("with fc1.units = 10: ..."); a grid is checked point by
    point, so values that are fine alone but not together are found too. A search's budgets
    and the size of its space are judged when its block lowered without an error (`search`
    not in `stand_ins`).
    """
    from qapdsl.checks.spec import check, check_point  # a variant is checked as a spec, with every check

    if spec.sweep is None and spec.search is None:
        return []
    base = spec.model_copy(update={"sweep": None, "search": None})
    base_ok = not [d for d in check(base) if d.severity == "error"]
    diags: list[Diagnostic] = []
    seen: set[tuple[str, str, int, int]] = set()

    def report(d: Diagnostic, settings: list[tuple[str, ir.SweepValue]], span: Span | None, fallback: Span | None) -> None:
        where = span or fallback
        prefix = "with " + ", ".join(f"{p} = {paths.token(v)}" for p, v in settings) + ": "
        key = (d.code, d.message, where.line if where else 0, where.column if where else 0)
        if key not in seen:
            seen.add(key)
            diags.append(Diagnostic(d.code, prefix + d.message, where, d.hint, d.severity))

    def try_point(settings: list[tuple[str, ir.SweepValue]]) -> Diagnostic | None:
        variant = base
        try:
            for path, value in settings:
                variant = paths.apply(variant, path, value)
        except paths.PathError as e:
            return Diagnostic(e.code, e.message, None, e.hint)
        if variant == base:
            return None  # the spec itself, checked already
        errors = check_point(variant, plan=any(plan_sensitive(path) for path, _ in settings))
        return errors[0] if errors else None

    for block in (spec.sweep, spec.search):
        if block is None:
            continue
        diags += _overlaps(spec, block)
        probes = [_probes(axis) for axis in block.axes]
        bad_path = False
        for axis, axis_probes in zip(block.axes, probes):  # values a path cannot take: no spec needed to say so
            for value, span in axis_probes:
                try:
                    paths.apply(base, axis.path, value)
                except paths.PathError as e:  # a path that does not exist: at the path; a value it cannot take: at the value
                    diags.append(Diagnostic(e.code, e.message, (span if e.code == "E802" else None) or axis.span, e.hint))
                    bad_path = True
                    if e.code == "E801":
                        break
        if bad_path or not base_ok:
            continue
        for axis, axis_probes in zip(block.axes, probes):
            if all(paths.apply(base, axis.path, value) == base for value, _ in axis_probes):
                diags.append(
                    Diagnostic(
                        "W804",
                        f"axis {axis.path} changes nothing: every value leaves the spec as it is",
                        axis.span,
                        "quant.bits changes the width of fixed-point and `N bits` quantizers, not float ones: give the model quantizers, or drop the axis"
                        if axis.path == "quant.bits"
                        else "drop the axis, or give it values that differ from the spec's",
                        "warning",
                    )
                )
        if isinstance(block, ir.Search):
            diags += _range_interiors(spec, block, base)
        count = math.prod(len(p) for p in probes) if isinstance(block, ir.Sweep) else 2
        work = (count + sum(len(p) for p in probes)) * max(len(spec.model.layers), 1)
        if work > MAX_CHECK_WORK and count <= MAX_GRID:
            diags.append(
                Diagnostic(
                    "E805",
                    f"checking every point of this {'sweep' if isinstance(block, ir.Sweep) else 'search'} ({count:,} points of a {len(spec.model.layers):,}-layer model) "
                    f"is more than qapc check does ({MAX_CHECK_WORK:,} layer checks)",
                    block.span,
                    "give the axes fewer values (or the model fewer layers)",
                )
            )
            continue
        if isinstance(block, ir.Sweep):
            if count * block.repeat > MAX_GRID:
                size = f"{count:,} points" + (f" × {block.repeat} seeds = {count * block.repeat:,} runs" if block.repeat > 1 else "")
                diags.append(
                    Diagnostic(
                        "E805",
                        f"the sweep's grid has {size}; qapc sweep runs at most {MAX_GRID:,} (each is trained and converted)",
                        block.span,
                        "give the axes fewer values" + (" or `repeat` fewer seeds" if block.repeat > 1 else "") + ", or explore the space with a `search { ... }` block",
                    )
                )
                continue
            combos: list[tuple[tuple[ir.SweepValue, Span | None], ...]] = list(itertools.product(*probes))
        else:  # a search: both corners of its box (every axis at its first value or low end; at its last or high end)
            combos = [tuple(p[0] for p in probes), tuple(p[-1] for p in probes)]
        # Every point (each value appears in one), then, for a point that fails, each of its values
        # alone, so that the caret lands on the value that breaks it when one does on its own.
        failed = 0
        for combo in combos:
            settings = [(axis.path, value) for axis, (value, _) in zip(block.axes, combo)]
            problem = try_point(settings)
            if problem is None:
                continue
            failed += 1
            culprit = None
            if len(settings) > 1:
                for (path, value), (_, span) in zip(settings, combo):
                    alone = try_point([(path, value)])
                    if alone is not None:
                        culprit = (alone, [(path, value)], span)
                        break
            if culprit is not None:
                report(culprit[0], culprit[1], culprit[2], block.span)
            else:
                report(problem, settings, combo[-1][1], block.span)
            if failed >= 5:
                break
        if isinstance(block, ir.Search) and not failed and "search" not in stand_ins:
            diags += _search_budgets(block, base)
    return diags
