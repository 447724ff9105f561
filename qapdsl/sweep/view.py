"""A study's results as every table, plot and report sees them: rows, the front, the baseline, the hypervolume.

A row is a flat dict: `trial`, `point`, `label`, `state` (complete | failed |
pending), one column per axis path (the point's setting), the mean figures of
`summary` with `<figure>_std` and `n` (`repeats.aggregate`), `runs` (each
seed's figures), `over` (the budgets a complete point is over, as text) and, for a
point that did not complete, `error`.

The front is decided on the means, over the study's front objectives
(`objectives.front_objectives`), among the complete points within every budget.

Every table says how the study was run (`options`: the command line's overrides
of the spec, `--epochs` above all) and, where it compares points with the
baseline, whether they had the same training budget (`budget_warning`): a
pruned point trains again in every pruning round, a float baseline once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qapdsl import ir, objectives, schema
from qapdsl.sweep import front

Row = Mapping[str, Any]

IDEAL = {"accuracy": 1.0, "auc": 1.0, "bops": 0.0, "memory": 0.0, "params": 0.0, "luts": 0.0, "rtl_cost": 0.0}


def num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(float(x)):
        return None
    return float(x)


def vector(row: Row, objs: Sequence[ir.Objective]) -> list[float] | None:
    out = [num(row.get(o.metric)) for o in objs]
    return None if any(v is None for v in out) else [v for v in out if v is not None]


def complete(rows: Sequence[Row]) -> list[Row]:
    return [r for r in rows if r.get("state") == "complete"]


@dataclass
class View:
    title: str
    axes: list[str]
    objectives: tuple[ir.Objective, ...]  # the front's
    repeat: int = 1
    rows: list[Row] = field(default_factory=list)
    baseline: Row | None = None
    reference: dict[str, float] = field(default_factory=dict)
    budgets: dict[str, float] = field(default_factory=dict)
    baseline_name: str | None = None
    kind: str = "sweep"  # sweep | search
    optimised: tuple[ir.Objective, ...] = ()  # what Optuna optimises (one objective of a single-objective search)
    options: dict[str, Any] | None = field(default_factory=dict)  # `qapc sweep`'s overrides of the spec ({} none; None not recorded)
    notes: list[str] = field(default_factory=list)  # sentences about the study as a whole (a search that ended early)

    def options_text(self) -> str:
        """How the study was run, for every table: each override with its value, or that there was none."""
        if self.options is None:
            return "Run options: not recorded (a study made by an older qapc)."
        if not self.options:
            return "Run with the spec's own settings (no command-line overrides)."
        return "Run with " + ", ".join(OPTION_TEXT.get(k, "--{k} {v}").format(k=k, v=v) for k, v in sorted(self.options.items())) + "."

    def budget_warning(self) -> str | None:
        """A warning when the baseline's training budget (the most epochs it could train) is not the points': their
        comparison is then between models trained for different numbers of epochs."""
        if self.baseline is None or self.baseline.get("state") != "complete":
            return None
        points = complete(self.rows)
        if not points:
            return None
        base = num(self.baseline.get("epoch_budget"))
        budgets = [num(r.get("epoch_budget")) for r in points]
        if base is None or any(b is None for b in budgets):
            return (
                "⚠ The epochs each run could train are not recorded (a study made by an older qapc): "
                "the comparison with the baseline may be between unequal training budgets."
            )
        other = [r for r, b in zip(points, budgets) if b != base]
        if not other:
            return None
        name = f" ({self.baseline_name})" if self.baseline_name else ""
        return (
            f"⚠ Unequal training budgets: the baseline{name} could train {_span([base])}, {len(other)} of the {len(points)} points "
            f"{_span([num(r.get('epoch_budget')) for r in other])} (training, then again in every pruning round); the baseline trained "
            f"{_span([num(self.baseline.get('epochs'))])} and those points {_span([num(r.get('epochs')) for r in other])}. "
            "× fewer, Δ and the points that dominate the baseline compare models trained for different numbers of epochs."
        )

    def warnings(self) -> list[str]:
        w = self.budget_warning()
        return [w] if w else []

    @property
    def directions(self) -> list[str]:
        return objectives.directions(self.objectives)

    def feasible(self) -> list[Row]:
        """Complete points within every budget, with every objective measured."""
        return [r for r in complete(self.rows) if not r.get("over") and vector(r, self.objectives) is not None]

    def front(self) -> list[Row]:
        """The non-dominated feasible points, cheapest first (by the first cost objective, else the first objective)."""
        rows = self.feasible()
        vectors = [vector(r, self.objectives) or [] for r in rows]
        keep = [rows[i] for i in front.front(vectors, self.directions)]
        return sorted(keep, key=self._order)

    def _order(self, r: Row) -> tuple[float, str]:
        o = next((o for o in self.objectives if o.metric in schema.COST_METRICS), self.objectives[0])
        v = num(r.get(o.metric)) or 0.0
        return (v if o.direction == "minimize" else -v, str(r.get("point")))

    def hypervolume(self) -> float | None:
        if not self.reference:
            return None
        ref = [self.reference[o.metric] for o in self.objectives]
        return front.hypervolume([vector(r, self.objectives) or [] for r in self.front()], ref, self.directions)

    def box(self) -> float | None:
        """The hypervolume of the ideal point (accuracy 1, no cost): what `hypervolume` is a fraction of."""
        if not self.reference:
            return None
        ref = [self.reference[o.metric] for o in self.objectives]
        return front.box(ref, [IDEAL[o.metric] for o in self.objectives], self.directions)

    def baseline_vector(self) -> list[float] | None:
        if self.baseline is None or self.baseline.get("state") != "complete":
            return None
        return vector(self.baseline, self.objectives)

    def beats_baseline(self, row: Row) -> bool:
        """The point dominates the baseline on the front's objectives (means)."""
        base, mine = self.baseline_vector(), vector(row, self.objectives)
        return base is not None and mine is not None and row.get("state") == "complete" and not row.get("over") and front.dominates(mine, base, self.directions)

    def versus(self, row: Row, metric: str) -> float | None:
        """Against the baseline: a cost's ratio (baseline / point: × fewer) or a quality's difference in points (× 100)."""
        if self.baseline is None or self.baseline.get("state") != "complete":
            return None
        mine, base = num(row.get(metric)), num(self.baseline.get(metric))
        if mine is None or base is None:
            return None
        if metric in schema.COST_METRICS:
            return base / mine if mine > 0 else None
        return 100.0 * (mine - base)


OPTION_TEXT = {
    "epochs": "--epochs {v} (instead of the spec's epochs, for training and for every pruning round)",
    "data": "--data {v}",
    "synth": "--synth",
    "dialect": "--dialect {v}",
    "model": "--model {v}",
}


def options_flags(options: Mapping[str, Any]) -> str:
    """The overrides as the command line gave them: `--epochs 10 --synth` ('' for none)."""
    return " ".join(f"--{k}" if v is True else f"--{k} {v}" for k, v in sorted(options.items()))


def _span(xs: Sequence[float | None]) -> str:
    """`1 epoch`, `12 epochs` or `12–80 epochs` (`?` where none is known)."""
    known = [x for x in xs if x is not None]
    if not known:
        return "? epochs"
    lo, hi = min(known), max(known)
    text = (f"{lo:,.0f} epoch" + ("s" if f"{lo:,.0f}" != "1" else "")) if lo == hi else f"{lo:,.0f}–{hi:,.0f} epochs"
    return text + (" (some not recorded)" if len(known) < len(xs) else "")


def make(
    spec: ir.Spec,
    block: ir.Sweep | ir.Search,
    rows: Sequence[Row],
    baseline: Row | None,
    title: str,
    options: dict[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> View:
    """The view of a study: its front objectives, repeat, budgets and hypervolume reference point from the spec."""
    name = None
    if block.baseline is not None:
        name = block.baseline.spec.model.name if block.baseline.spec is not None else block.baseline.path
    return View(
        title=title,
        axes=[a.path for a in block.axes],
        objectives=objectives.front_objectives(block),
        repeat=block.repeat,
        rows=list(rows),
        baseline=baseline,
        reference=objectives.reference_point(block, spec),
        budgets=dict(block.budgets) if isinstance(block, ir.Search) else {},
        baseline_name=name,
        kind="search" if isinstance(block, ir.Search) else "sweep",
        optimised=objectives.objectives(block),
        options=options,
        notes=list(notes),
    )
