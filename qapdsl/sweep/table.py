"""The study's tables from its view (`view.View`): sweep.csv / sweep.md (every point), front.csv / front.md
(the Pareto front and its hypervolume), runs.csv (every run of every seed).

Cells of a study with repeats read `mean ± standard deviation`; the CSVs give the
mean, `<figure>_std` and `n` in columns of their own. The complete points are
sorted by bits then BOPs; the failed ones are listed under the Markdown table.
The baseline, when the study has one, is the first row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from qapdsl import schema
from qapdsl.sweep.summary import COLUMNS, OPTIONAL_COLUMNS
from qapdsl.sweep.view import Row, View, complete, num, options_flags

NAMES = {**{k: h for k, (h, _) in COLUMNS.items()}, **{k: h for k, (h, _) in OPTIONAL_COLUMNS.items()}}


def figure_columns(v: View) -> list[str]:
    """The figures of `summary.COLUMNS`, and memory bits / parameters when the study compares or budgets them."""
    used = {o.metric for o in v.objectives} | set(v.budgets)
    return [*COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in used)]


def setting_columns(axes: Sequence[str]) -> list[str]:
    """Axis columns worth showing: those not already a figure column (quant.bits is `bits`)."""
    return [a for a in axes if a != "quant.bits"]


def cell(col: str, x: Any, latex: bool = False) -> str:
    v = num(x)
    if v is None:
        return "-" if x is None or isinstance(x, float) else str(x)
    if col in ("bits", "rounds", "n"):
        return f"{v:.0f}"
    if col in ("epochs", "epoch_budget"):
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.1f}"
    if col == "sparsity":
        return f"{100 * v:.1f}\\%" if latex else f"{100 * v:.1f}%"
    if col in ("bops", "memory", "params"):
        return f"{v:,.0f}"
    if col in ("accuracy", "auc", "hls_agreement", "efficiency"):
        return f"{v:.4f}"
    if col == "wall_time_s":
        return f"{v:.0f}"
    if col == "max_abs_diff":
        return f"{v:.2g}"
    return f"{v:g}"


def spread(col: str, r: Row, repeat: int, latex: bool = False) -> str:
    """A figure as `mean ± std` when the point ran more than once, else as `cell` shows it."""
    text = cell(col, r.get(col), latex)
    std = num(r.get(f"{col}_std"))
    if repeat > 1 and std is not None and col not in ("bits", "rounds"):
        pm = " $\\pm$ " if latex else " ± "
        return text + pm + (cell(col, std, latex) if col != "sparsity" else f"{100 * std:.1f}" + ("\\%" if latex else "%"))
    return text


def setting(x: Any) -> str:
    if x is None:
        return "-"
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def versus_text(v: View, r: Row, metric: str) -> str:
    x = v.versus(r, metric)
    if x is None:
        return "-"
    return f"{x:,.1f}×" if metric in schema.COST_METRICS else f"{x:+.2f}"


def versus_header(metric: str) -> str:
    return f"× fewer {NAMES.get(metric, metric)}" if metric in schema.COST_METRICS else f"Δ {NAMES.get(metric, metric)} (points)"


def sorted_complete(rows: Sequence[Row]) -> list[Row]:
    return sorted(complete(rows), key=lambda r: (num(r.get("bits")) or 0.0, num(r.get("bops")) or 0.0, str(r.get("point"))))


def failures(rows: Sequence[Row]) -> list[Row]:
    return sorted((r for r in rows if r.get("state") != "complete"), key=lambda r: str(r.get("point")))


def _csv(header: Sequence[str], lines: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for line in lines:
        w.writerow(["" if x is None else (repr(x) if isinstance(x, float) else str(x)) for x in line])
    return out.getvalue()


def options_cell(v: View) -> str:
    """The run options of a CSV line: the command line's overrides (`--epochs 10`), `none`, or `not recorded`."""
    if v.options is None:
        return "not recorded"
    return options_flags(v.options) or "none"


def to_csv(v: View) -> str:
    """Every point (the baseline first): settings, figures with `_std`, `n`, the epochs it could train (`epoch_budget`),
    on the front, beats the baseline, over a budget, error, and the study's run options (`options`)."""
    figs = [*figure_columns(v), "hls_accuracy"]
    cols = ["trial", "point", "state", *v.axes, "rounds", *(x for c in figs for x in (c, f"{c}_std")), "n", "epoch_budget"]
    cols += ["pareto", "beats_baseline", "over", "error", "options"]
    front = {id(r) for r in v.front()}
    ordered = sorted(v.rows, key=lambda r: (str(r.get("state")) != "complete", num(r.get("bits")) or 0.0, num(r.get("bops")) or 0.0, str(r.get("point"))))
    lines = []
    for r in ([v.baseline] if v.baseline is not None else []) + ordered:
        flags = {"pareto": "1" if id(r) in front else "0", "beats_baseline": "1" if v.beats_baseline(r) else "0", "options": options_cell(v)}
        lines.append([flags[c] if c in flags else r.get(c) for c in cols])
    return _csv(cols, lines)


def runs_csv(v: View) -> str:
    """One line per run: the point, its seed, that run's figures (`epochs`: trained, over every pruning round) and the run options."""
    figs = [*figure_columns(v), "hls_accuracy", "epoch_budget"]
    cols = ["point", "label", "trial", "seed", *v.axes, *figs, "options"]
    lines = []
    for r in ([v.baseline] if v.baseline is not None else []) + sorted(v.rows, key=lambda r: str(r.get("point"))):
        for seed, run in sorted((r.get("runs") or {}).items()):
            lines.append([r.get("point"), r.get("label"), r.get("trial"), seed, *(r.get(a) for a in v.axes), *(run.get(c) for c in figs), options_cell(v)])
    return _csv(cols, lines)


def preamble(v: View) -> list[str]:
    """What every Markdown table of a study says first: how it was run, what ended it early, and its warnings."""
    return [v.options_text(), *v.notes, *v.warnings()]


def hypervolume_line(v: View) -> str | None:
    hv, box = v.hypervolume(), v.box()
    if hv is None:
        return None
    ref = ", ".join(f"{NAMES.get(o.metric, o.metric)} {cell(o.metric, v.reference[o.metric])}" for o in v.objectives)
    share = f" ({100 * hv / box:.2f}% of the box from the reference to the ideal point)" if box else ""
    return f"Hypervolume of the front: {hv:.6g}{share}; reference point: {ref}."


def _header(v: View, extra: list[str], figs: list[str]) -> list[str]:
    head = [*extra, *(NAMES[c] for c in figs)]
    if v.repeat > 1:
        head.append("runs")
    if v.baseline is not None:
        head += [versus_header(o.metric) for o in v.objectives]
    head.append("Pareto")
    if v.baseline is not None:
        head.append("beats baseline")
    return head


def _line(v: View, r: Row, extra: list[str], figs: list[str], front: set[int], name: str | None = None) -> list[str]:
    """A row of sweep.md; the baseline's (`name`) has its name in the first column and no comparison with itself."""
    cells = [name] + ["-"] * (len(extra) - 1) if name else [str(r.get("label")) if a == "point" else setting(r.get(a)) for a in extra]
    cells += [spread(c, r, v.repeat) for c in figs]
    if v.repeat > 1:
        cells.append(cell("n", r.get("n")))
    if v.baseline is not None:
        cells += ["" if name else versus_text(v, r, o.metric) for o in v.objectives]
    cells.append("★" if id(r) in front else ("over budget" if r.get("over") else ""))
    if v.baseline is not None:
        cells.append("" if name else ("✓" if v.beats_baseline(r) else ""))
    return cells


def to_markdown(v: View) -> str:
    """sweep.md: every complete point with its figures, the front starred, the baseline first; then failures and the hypervolume."""
    extra = setting_columns(v.axes)
    if v.baseline is not None and not extra:
        extra = ["point"]  # a column for the baseline's name
    figs = figure_columns(v)
    front = {id(r) for r in v.front()}
    head = _header(v, extra, figs)
    aligns = ["---" if i < len(extra) else ":---:" if h in ("Pareto", "beats baseline") else "---:" for i, h in enumerate(head)]
    lines = [f"# {v.title}", "", *_paragraphs(preamble(v)), "| " + " | ".join(head) + " |", "|" + "|".join(aligns) + "|"]
    if v.baseline is not None and v.baseline.get("state") == "complete":
        lines.append("| " + " | ".join(_line(v, v.baseline, extra, figs, front, name=f"baseline ({v.baseline_name})")) + " |")
    for r in sorted_complete(v.rows):
        lines.append("| " + " | ".join(_line(v, r, extra, figs, front)) + " |")
    fails = failures(v.rows) + ([v.baseline] if v.baseline is not None and v.baseline.get("state") != "complete" else [])
    if fails:
        lines += ["", f"{len(fails)} point{'s' if len(fails) != 1 else ''} failed:", ""]
        lines += [f"- `{r.get('label') or r.get('point')}`: {r.get('error') or r.get('state')}" for r in fails]
    hv = hypervolume_line(v)
    if hv:
        lines += ["", hv]
    return "\n".join(lines) + "\n"


def _paragraphs(texts: Sequence[str]) -> list[str]:
    return [x for t in texts for x in (t, "")]


def front_csv(v: View) -> str:
    """front.csv: the points of the Pareto front, cheapest first, with each objective's mean, standard deviation and n."""
    cols = ["point", "label", "trial", *v.axes, *(x for o in v.objectives for x in (o.metric, f"{o.metric}_std")), "n", "beats_baseline"]
    lines = [[r.get(c) if c != "beats_baseline" else ("1" if v.beats_baseline(r) else "0") for c in cols] for r in v.front()]
    return _csv(cols, lines)


def front_markdown(v: View) -> str:
    """front.md: the front as a table, the baseline for comparison, the hypervolume and its reference point."""
    extra = ["bits", *setting_columns(v.axes)]  # the bit width first, as everywhere (the quant.bits axis is its column)
    figs = [o.metric for o in v.objectives]
    head = [*extra, *(NAMES[m] for m in figs), NAMES["epochs"]]
    head += ["runs"] if v.repeat > 1 else []
    head += [versus_header(m) for m in figs] if v.baseline is not None else []
    lines = [f"# {v.title}: Pareto front", "", *_paragraphs(preamble(v))]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < len(extra) else "---:" for i in range(len(head))) + "|"]
    rows = v.front()
    for r in rows:
        cells = [cell("bits", r.get("bits")), *(setting(r.get(a)) for a in extra[1:])] + [spread(m, r, v.repeat) for m in figs]
        cells.append(spread("epochs", r, v.repeat))
        cells += [cell("n", r.get("n"))] if v.repeat > 1 else []
        cells += [versus_text(v, r, m) for m in figs] if v.baseline is not None else []
        lines.append("| " + " | ".join(cells) + " |")
    if not rows:
        lines += ["", "No point is on the front yet: none completed within the budgets."]
    b = v.baseline
    if b is not None and b.get("state") == "complete":
        figures = ", ".join(f"{NAMES[m]} {spread(m, b, v.repeat)}" for m in [*figs, "epochs"])
        lines += ["", f"Baseline ({v.baseline_name}): {figures}" + (f" over {cell('n', b.get('n'))} runs" if v.repeat > 1 else "") + "."]
        beat = [r for r in rows if v.beats_baseline(r)]
        lines.append(f"{len(beat)} of the {len(rows)} points on the front {'dominates' if len(beat) == 1 else 'dominate'} the baseline.")
        lines += [x for w in v.warnings() for x in ("", w)]  # where the comparison is made, as well as above
    hv = hypervolume_line(v)
    if hv:
        lines += ["", hv]
    return "\n".join(lines) + "\n"
