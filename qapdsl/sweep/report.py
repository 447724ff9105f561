"""The report of a finished study: the paper's table (bit width × pruning rounds → accuracy, BOPs,
sparsity) in Markdown and booktabs LaTeX, and study.json (the front, its hypervolume, the baseline).

`qapc report SPEC` prints these for a spec with a sweep or search; `qapc sweep`
writes the LaTeX one as sweep.tex and the JSON as study.json. Accuracy is in
percent, with its standard deviation over the seeds when points ran more than once;
"× fewer BOPs" and "Δ accuracy" compare each point's means with the baseline's.
Marks: ★ on the Pareto front, ✓ dominates the baseline (at least as good in every
objective of the front, better in one).
"""

from __future__ import annotations

import json
from typing import Any

from qapdsl import report as spec_report
from qapdsl.sweep.table import NAMES, cell, preamble, setting, sorted_complete, versus_text
from qapdsl.sweep.view import Row, View, num

FORMATS = ("markdown", "latex", "json")


def _others(v: View) -> list[str]:
    """Axes other than the table's own two (bits and pruning rounds)."""
    return [a for a in v.axes if a not in ("quant.bits", "prune.rounds")]


def _accuracy(r: Row, latex: bool) -> str:
    acc, std = num(r.get("accuracy")), num(r.get("accuracy_std"))
    if acc is None:
        return "-"
    pm = " $\\pm$ " if latex else " ± "
    return f"{100 * acc:.2f}" + (f"{pm}{100 * std:.2f}" if std is not None else "")


def _compared(v: View) -> list[str]:
    """The comparisons with the baseline the table shows: BOPs and accuracy, when both are figures the baseline has."""
    return ["bops", "accuracy"] if v.baseline is not None and v.baseline.get("state") == "complete" else []


def _cells(v: View, r: Row, front: set[int], latex: bool, baseline: bool = False) -> list[str]:
    sparsity = num(r.get("sparsity"))
    cells = [
        cell("bits", r.get("bits")),
        cell("rounds", r.get("rounds")),
        *(("-" if baseline else (spec_report.tex(setting(r.get(a))) if latex else setting(r.get(a)))) for a in _others(v)),
        "-" if sparsity is None else f"{100 * sparsity:.1f}",
        _accuracy(r, latex),
        cell("bops", r.get("bops")).replace(",", "{,}" if latex else ","),
        cell("epochs", r.get("epochs")).replace(",", "{,}" if latex else ","),
    ]
    cells += [("baseline" if baseline else versus_text(v, r, m).replace("×", "$\\times$" if latex else "×")) for m in _compared(v)]
    if v.repeat > 1:
        cells.append(cell("n", r.get("n")))
    star, tick = ("$\\star$", "\\dag") if latex else ("★", "✓")
    cells.append("" if baseline else (star if id(r) in front else "") + (tick if v.beats_baseline(r) else ""))
    return cells


def _head(v: View, latex: bool) -> list[str]:
    acc = "accuracy (\\%)" if latex else "accuracy (%)"
    head = ["bits", "pruning rounds", *(spec_report.tex(a) if latex else a for a in _others(v)), "sparsity (%)" if not latex else "sparsity (\\%)", acc, "BOPs", "epochs"]
    head += ["× fewer BOPs" if not latex else "BOPs ratio", "Δ accuracy" if not latex else "$\\Delta$ acc."] if _compared(v) else []
    head += ["runs"] if v.repeat > 1 else []
    return [*head, ""]


def _legend(v: View) -> str:
    parts = ["★ on the Pareto front" + f" ({', '.join(NAMES.get(o.metric, o.metric) for o in v.objectives)})"]
    if v.baseline is not None:
        parts.append(f"✓ dominates the baseline ({v.baseline_name})")
    if v.repeat > 1:
        parts.append(f"accuracy: mean ± standard deviation over {v.repeat} seeds; BOPs, sparsity and epochs: means")
    parts.append("epochs: trained, over every pruning round")
    return "; ".join(parts) + "."


def to_markdown(v: View) -> str:
    front = {id(r) for r in v.front()}
    head = _head(v, latex=False)
    lines = [f"## {v.title}", "", *(x for t in preamble(v) for x in (t, "")), "| " + " | ".join(head) + " |", "|" + "|".join("---:" if h else ":---:" for h in head) + "|"]
    if v.baseline is not None and v.baseline.get("state") == "complete":
        lines.append("| " + " | ".join(_cells(v, v.baseline, front, False, baseline=True)) + " |")
    for r in sorted_complete(v.rows):
        lines.append("| " + " | ".join(_cells(v, r, front, False)) + " |")
    lines += ["", _legend(v)]
    return "\n".join(lines) + "\n"


def to_latex(v: View) -> str:
    front = {id(r) for r in v.front()}
    head = _head(v, latex=True)
    tex = spec_report.tex
    lines = [
        r"% qapc: needs \usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        "\\caption{" + tex(v.title) + ": " + tex(" ".join([_legend(v), *preamble(v)])).replace("--", "-{}-").replace("★", "$\\star$").replace("✓", "\\dag{}").replace("±", "$\\pm$").replace("⚠", "(!)").replace("Δ", "$\\Delta$") + "}",
        r"\begin{tabular}{" + "r" * (len(head) - 1) + "c}",
        r"\toprule",
        " & ".join(head) + r" \\",
        r"\midrule",
    ]
    if v.baseline is not None and v.baseline.get("state") == "complete":
        lines += [" & ".join(_cells(v, v.baseline, front, True, baseline=True)) + r" \\", r"\midrule"]
    last: float | None = None
    for r in sorted_complete(v.rows):
        bits = num(r.get("bits"))
        if last is not None and bits != last:
            lines.append(r"\midrule")
        last = bits
        cells = _cells(v, r, front, True)
        if id(r) in front:
            cells = [f"\\textbf{{{c}}}" if c and i < len(cells) - 1 else c for i, c in enumerate(cells)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _brief(v: View, r: Row) -> dict[str, Any]:
    figures = {m: r.get(m) for m in ("accuracy", "auc", "bops", "memory", "params", "sparsity", "bits", "rounds", "n", "epochs", "epoch_budget")}
    stds = {f"{m}_std": r.get(f"{m}_std") for m in ("accuracy", "auc", "bops", "memory", "params", "sparsity")}
    settings = {a: r.get(a) for a in v.axes if a in r}
    return {"point": r.get("point"), "label": r.get("label"), "trial": r.get("trial"), "settings": settings, **figures, **stds}


def to_dict(v: View) -> dict[str, Any]:
    """study.json: what the study compared, its front (with the comparison with the baseline), hypervolume and counts."""
    rows = v.front()
    hv, box = v.hypervolume(), v.box()
    base = v.baseline if v.baseline is not None and v.baseline.get("state") == "complete" else None
    out: dict[str, Any] = spec_report.finite(
        {
            "title": v.title,
            "objectives": [{"metric": o.metric, "direction": o.direction} for o in v.objectives],
            "repeat": v.repeat,
            "options": v.options,  # the command line's overrides of the spec ({}: none; null: not recorded)
            "notes": v.notes,
            "warnings": v.warnings(),
            "budgets": v.budgets,
            "reference": v.reference,
            "hypervolume": hv,
            "hypervolume_fraction": (hv / box) if hv is not None and box else None,
            "points": {"complete": len([r for r in v.rows if r.get("state") == "complete"]), "failed": len([r for r in v.rows if r.get("state") == "failed"])},
            "baseline": ({"name": v.baseline_name, **_brief(v, base)} if base is not None else None),
            "front": [
                {**_brief(v, r), "beats_baseline": v.beats_baseline(r), "versus": {m: v.versus(r, m) for m in ("accuracy", "bops")} if base else None}
                for r in rows
            ],
        }
    )
    return out


def to_json(v: View) -> str:
    return json.dumps(to_dict(v), indent=2, allow_nan=False) + "\n"


def render(v: View, fmt: str) -> str:
    if fmt == "markdown":
        return to_markdown(v)
    if fmt == "latex":
        return to_latex(v)
    if fmt == "json":
        return to_json(v)
    raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
