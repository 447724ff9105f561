"""pareto.png and pareto.svg: the study's trade-off, one colour per bit width, the front marked.

The x axis is the front's first cost (BOPs unless the objectives say otherwise; a
log axis), the y axis its first quality (accuracy); with three objectives the front
is decided on all three and drawn in this projection. Points that ran more than once
are drawn at their means with error bars of one standard deviation; the baseline is
a star, points over a budget are grey crosses, the budget a dotted line.

hardware.png and hardware.svg (a study whose points ran the RTL step, `rtl verilog`): BOPs
against Yosys's LUTs and da4ml's cost over the complete points, with Spearman's rank correlation
of each: does BOPs rank the models as the hardware does?

matplotlib is imported here only, with the Agg backend. The svg is byte-for-byte
deterministic for the same rows: a fixed `svg.hashsalt` (element ids) and no
Date in its metadata.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qapdsl import schema
from qapdsl.sweep.table import NAMES
from qapdsl.sweep.view import Row, View, complete, num


def _axes(v: View) -> tuple[str, str]:
    """(x, y) metrics: the first cost and the first quality of the front, else its first two objectives."""
    metrics = [o.metric for o in v.objectives]
    costs = [m for m in metrics if m in schema.COST_METRICS]
    qualities = [m for m in metrics if m not in schema.COST_METRICS]
    if costs and qualities:
        return costs[0], qualities[0]
    return metrics[1], metrics[0]


def _xy(rows: list[Row], x: str, y: str) -> tuple[list[float], list[float], list[float], list[float]]:
    return (
        [num(r.get(x)) or 0.0 for r in rows],
        [num(r.get(y)) or 0.0 for r in rows],
        [num(r.get(f"{x}_std")) or 0.0 for r in rows],
        [num(r.get(f"{y}_std")) or 0.0 for r in rows],
    )


def write_pareto(v: View, out_dir: Path) -> list[Path]:
    """Write pareto.png and pareto.svg from the complete rows; returns the files written."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    x, y = _axes(v)
    done = [r for r in complete(v.rows) if num(r.get(x)) and num(r.get(y)) is not None]
    over = [r for r in done if r.get("over")]
    fine = [r for r in done if not r.get("over")]
    by_bits: dict[float, list[Row]] = {}
    for r in fine:
        by_bits.setdefault(num(r.get("bits")) or 32.0, []).append(r)
    front = [r for r in v.front() if num(r.get(x)) and num(r.get(y)) is not None]
    bars = v.repeat > 1
    with matplotlib.rc_context({"svg.hashsalt": "qapc", "svg.fonttype": "path", "path.simplify": False}):
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
        cmap = plt.get_cmap("viridis")
        keys = sorted(by_bits)
        for i, bits in enumerate(keys):
            pts = sorted(by_bits[bits], key=lambda r: num(r.get(x)) or 0.0)
            color = cmap(0.85 * i / max(1, len(keys) - 1)) if len(keys) > 1 else cmap(0.3)  # viridis' last 15% is too pale to see
            xs, ys, xe, ye = _xy(pts, x, y)
            style: dict[str, Any] = {"color": color, "label": f"{bits:.0f} bits", "markersize": 5, "linewidth": 1.2 if v.kind == "sweep" else 0.0}
            if bars:
                ax.errorbar(xs, ys, xerr=xe, yerr=ye, fmt="o-", capsize=2, elinewidth=0.8, **style)
            else:
                ax.plot(xs, ys, "o-", **style)
        if over:
            xs, ys, _, _ = _xy(over, x, y)
            ax.scatter(xs, ys, marker="x", color="0.6", label="over budget", zorder=3)
        if front:
            xs, ys, _, _ = _xy(front, x, y)
            if len(v.objectives) == 2:
                cheaper_first = sorted(zip(xs, ys, strict=True))
                ax.step([p[0] for p in cheaper_first], [p[1] for p in cheaper_first], where="post", color="black", linestyle="--", linewidth=1.0, label="Pareto front")
                ax.scatter(xs, ys, s=90, facecolors="none", edgecolors="black", linewidths=1.2, zorder=5)
            else:
                ax.scatter(xs, ys, s=90, facecolors="none", edgecolors="black", linewidths=1.2, zorder=5, label="Pareto front (all objectives)")
        base = v.baseline
        if base is not None and base.get("state") == "complete" and num(base.get(x)) and num(base.get(y)) is not None:
            xs, ys, xe, ye = _xy([base], x, y)
            ax.errorbar(xs, ys, xerr=xe if bars else None, yerr=ye if bars else None, fmt="*", color="tab:red", markersize=12, capsize=2, label=f"baseline ({v.baseline_name})", zorder=6)
            ax.axhline(ys[0], color="tab:red", linestyle=":", linewidth=0.8, zorder=1)  # the baseline's level, to read the others against
        if x in v.budgets:
            ax.axvline(v.budgets[x], color="tab:red", linestyle=":", linewidth=1.0, label=f"budget ({v.budgets[x]:,.0f})")
        if x in schema.COST_METRICS:
            ax.set_xscale("log")
        if y in schema.COST_METRICS:
            ax.set_yscale("log")
        ax.set_xlabel(NAMES.get(x, x))
        ax.set_ylabel(NAMES.get(y, y) + (" (mean ± std)" if bars else ""))
        ax.set_title(v.title)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="best", fontsize="small")
        if not done:
            ax.text(0.5, 0.5, "no complete points yet", transform=ax.transAxes, ha="center", va="center")
        fig.tight_layout()
        written = _save(fig, out_dir, "pareto")
        plt.close(fig)
    return written


def _save(fig: Any, out_dir: Path, stem: str) -> list[Path]:
    """`<stem>.png` and `<stem>.svg`, each written beside and moved in, with no date or version in them (byte-stable)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        path = out_dir / f"{stem}.{fmt}"
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format=fmt, metadata=meta)
        os.replace(tmp, path)
        written.append(path)
    return written


def ranks(values: list[float]) -> list[float]:
    """Ranks from 1, ties sharing their mean rank (what Spearman's coefficient correlates)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return out


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation (Pearson's of the ranks); None below three points or without spread."""
    if len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return sxy / (sxx * syy) ** 0.5 if sxx > 0 and syy > 0 else None


def write_hardware(v: View, out_dir: Path) -> list[Path]:
    """hardware.png / .svg when the study's points have RTL figures; returns the files written (none without)."""
    done = [r for r in complete(v.rows) if num(r.get("bops"))]
    series = [(m, [r for r in done if num(r.get(m))]) for m in schema.HARDWARE_METRICS]
    series = [(m, rows) for m, rows in series if rows]
    if not series:
        return []
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "qapc", "svg.fonttype": "path", "path.simplify": False}):
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
        for (metric, rows), marker in zip(series, ("o", "s"), strict=False):
            xs = [num(r.get("bops")) or 0.0 for r in rows]
            ys = [num(r.get(metric)) or 0.0 for r in rows]
            rho = spearman(xs, ys)
            label = NAMES.get(metric, metric) + (f" (Spearman ρ = {rho:.2f})" if rho is not None else "")
            ax.scatter(xs, ys, marker=marker, label=label, zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(NAMES.get("bops", "BOPs"))
        ax.set_ylabel("LUTs")
        ax.set_title(f"{v.title}: BOPs against the hardware")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        written = _save(fig, out_dir, "hardware")
        plt.close(fig)
    return written
