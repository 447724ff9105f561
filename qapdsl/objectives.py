"""What a study compares: its objectives (with defaults), budgets and hypervolume reference point.

A study's *objectives* are what Optuna optimises: one (a single-objective
search) or two to three (a multi-objective one) of the figures in
`schema.STUDY_METRICS`. Its *front* is always two or three of them, so that
tables and plots show a trade-off: the objectives themselves when there are two
or more, else the one objective paired with BOPs (or, when it is a cost, with
accuracy) — without an `objective` key, accuracy against BOPs, as in the paper.

Loaded by the lowering (`check_study_keys`), so: no optuna, no numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from qapdsl import ir, metrics, schema
from qapdsl.diagnostics import Diagnostic

ACCURACY = ir.Objective.model_construct(metric="accuracy", direction="maximize")  # unvalidated: `qapc check` builds no schema
BOPS = ir.Objective.model_construct(metric="bops", direction="minimize")


def natural_direction(metric: str) -> str:
    return "minimize" if metric in schema.COST_METRICS else "maximize"


def objectives(study: ir.Study) -> tuple[ir.Objective, ...]:
    """What the Optuna study optimises: as written; by default maximize accuracy (a search) or accuracy and BOPs (a sweep)."""
    if study.objectives:
        return study.objectives
    return (ACCURACY,) if isinstance(study, ir.Search) else (ACCURACY, BOPS)


def front_objectives(study: ir.Study) -> tuple[ir.Objective, ...]:
    """The axes of the study's Pareto front, tables and plots (two or three objectives)."""
    objs = objectives(study)
    if len(objs) >= 2:
        return objs
    (only,) = objs
    return (only, BOPS) if only.metric not in schema.COST_METRICS else (ACCURACY, only)


def directions(objs: Sequence[ir.Objective]) -> list[str]:
    return [o.direction for o in objs]


def check_study_keys(study: ir.Study, stand_ins: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """Objectives, sampler, population and reference point that do not fit together (E804, E806, E809, W810).

    A sampler that could not be read (`search.sampler` in `stand_ins`) is not judged: its default is no choice of the spec's."""
    diags: list[Diagnostic] = []
    seen: set[str] = set()
    for i, o in enumerate(study.objectives):
        if o.metric in seen:
            diags.append(Diagnostic("E804", f"objective `{o.metric}` given twice", o.span, "each figure is one objective"))
        seen.add(o.metric)
        if o.direction != natural_direction(o.metric):
            better = natural_direction(o.metric)
            what = "a cost" if better == "minimize" else "a quality"
            diags.append(Diagnostic("E804", f"{o.direction} {o.metric}: {o.metric} is {what}", o.span, f"write `{better} {o.metric}`"))
        if i == schema.MAX_OBJECTIVES:
            diags.append(
                Diagnostic("E804", f"a study has at most {schema.MAX_OBJECTIVES} objectives", o.span, "a front over more figures is too sparse to read")
            )
    front = {o.metric for o in front_objectives(study)}
    for o in front_objectives(study):
        if o.metric in schema.HARDWARE_METRICS and o.metric not in study.reference:
            diags.append(
                Diagnostic(
                    "E809",
                    f"{o.metric} is measured by the RTL step only, so no declared figure gives the hypervolume's reference point",
                    o.span,
                    f"add `reference {o.metric} N` (e.g. the float model's, or a little above the largest point's)",
                )
            )
    for metric in study.reference:
        if metric not in front:
            diags.append(
                Diagnostic(
                    "E809",
                    f"reference {metric}: {metric} is not an axis of this study's front ({', '.join(sorted(front))})",
                    study.spans.get(f"reference.{metric}"),
                    "give the reference point's value for each objective",
                )
            )
    if isinstance(study, ir.Search) and "search.sampler" not in stand_ins:
        n = len(objectives(study))
        if study.sampler == "cmaes" and n > 1:
            diags.append(Diagnostic("E806", "the cmaes sampler optimises one objective", study.spans.get("sampler"), "use `sampler tpe` or `sampler nsga2`"))
        if study.population is not None and study.sampler != "nsga2":
            diags.append(Diagnostic("E806", f"`population` is NSGA-II's; this search uses {study.sampler}", study.spans.get("population"), "add `sampler nsga2`"))
        elif study.sampler == "nsga2" and population(study) >= study.trials:
            diags.append(
                Diagnostic(
                    "W810",
                    f"NSGA-II's population ({population(study)}) is not smaller than the trials ({study.trials}): every trial is random",
                    study.spans.get("population") or study.spans.get("trials") or study.spans.get("sampler"),
                    "give a population of at most a quarter of the trials",
                    "warning",
                )
            )
    return diags


def population(search: ir.Search) -> int:
    """NSGA-II's generation size: as written, else a fifth of the trials (4 to 50: Optuna's default is 50)."""
    return search.population if search.population is not None else max(4, min(50, search.trials // 5))


def values(objs: Sequence[ir.Objective], figures: Mapping[str, float | None]) -> list[float] | None:
    """The objective values of a point's (mean) figures; None when one was not measured."""
    out = [figures.get(o.metric) for o in objs]
    if any(v is None for v in out):
        return None
    return [float(v) for v in out if v is not None]


def over_budget(budgets: Mapping[str, float], figures: Mapping[str, float | None]) -> dict[str, float]:
    """The figures above their budget (a missing figure counts as over)."""
    return {m: float(figures.get(m) or float("inf")) for m, limit in budgets.items() if figures.get(m) is None or float(figures[m] or 0.0) > limit}


def declared(spec: ir.Spec) -> dict[str, float]:
    """The cost figures a spec declares, known before training (sparsity as its schedule aims)."""
    from qapdsl import shapes

    rows = metrics.layer_figures(spec)
    layer_shapes, _ = shapes.infer(spec.model)
    return {"bops": sum(r.bops for r in rows), "memory": sum(r.memory_bits for r in rows), "params": float(sum(ls.params for ls in layer_shapes))}


def declared_budgets(budgets: Mapping[str, float]) -> dict[str, float]:
    """The budgets a point's declared figures can be held to before training (not the RTL's: `HARDWARE_METRICS`)."""
    return {m: v for m, v in budgets.items() if m not in schema.HARDWARE_METRICS}


def float_model(spec: ir.Spec) -> ir.Spec:
    """The spec with every quantizer float and no pruning: the default cost reference of a study."""
    layers = tuple(layer.model_copy(update={"quant": ir.QuantSet()}) for layer in spec.model.layers)
    model = spec.model.model_copy(update={"quant": ir.QuantSet(), "layers": layers})
    return spec.model_copy(update={"model": model, "prune": None, "sweep": None, "search": None})


def _classes(spec: ir.Spec) -> int:
    from qapdsl import data, shapes

    if spec.train.classes:
        return spec.train.classes
    known = data.known(spec)
    if known is not None:
        return known.classes
    layer_shapes, _ = shapes.infer(spec.model)
    width = layer_shapes[-1].out_shape[-1] if layer_shapes and layer_shapes[-1].out_shape else 2
    return max(2, width)


def reference_point(study: ir.Study, spec: ir.Spec) -> dict[str, float]:
    """The hypervolume's reference point over the front's objectives.

    As the spec gives it; else chance level for accuracy (1 / classes) and AUC (0.5), and
    for the costs the baseline's declared figures (or, without a baseline, those of the
    spec's float, unpruned model): every point that beats it contributes.
    """
    costs = declared(study.baseline.spec if study.baseline is not None and study.baseline.spec is not None else float_model(spec))
    classes = _classes(spec)
    out: dict[str, float] = {}
    for o in front_objectives(study):
        if o.metric in study.reference:
            out[o.metric] = study.reference[o.metric]
        elif o.metric == "accuracy":
            out[o.metric] = 1.0 / classes
        elif o.metric == "auc":
            out[o.metric] = 0.5
        else:
            out[o.metric] = costs[o.metric]
    return out


def check_baseline(spec: ir.Spec, base: ir.Spec, baseline: ir.Baseline) -> list[Diagnostic]:
    """E807: a baseline that would not be comparable (other data, split, scaling or input)."""
    from qapdsl import data

    def where(s: ir.Spec) -> tuple[object, ...]:
        d = s.train.data
        name = str(data.file_path(s)) if d.source == "file" else d.name
        return (d.source, name, d.target)

    problems = []
    if where(spec) != where(base):
        problems.append(f"it trains on {base.train.data.source} {base.train.data.name!r}, the study on {spec.train.data.source} {spec.train.data.name!r}")
    if (base.train.test, base.train.val) != (spec.train.test, spec.train.val):
        problems.append(f"its split is test {base.train.test:g}, val {base.train.val:g}; the study's test {spec.train.test:g}, val {spec.train.val:g}")
    if base.train.scale != spec.train.scale:
        problems.append(f"it scales the data `{base.train.scale}`, the study `{spec.train.scale}`")
    if tuple(base.model.input_shape) != tuple(spec.model.input_shape):
        problems.append(f"its input is {'×'.join(map(str, base.model.input_shape))}, the study's {'×'.join(map(str, spec.model.input_shape))}")
    return [
        Diagnostic("E807", f"baseline '{baseline.path}' is not comparable: {p}", baseline.span, "a baseline runs on the study's data, split and seeds")
        for p in problems
    ]
