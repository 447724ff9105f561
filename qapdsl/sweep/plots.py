"""pareto.png and pareto.svg: accuracy against BOPs (log axis), one curve per bit width, the front marked.

matplotlib is imported here only, with the Agg backend. The svg is byte-for-byte
deterministic for the same rows: a fixed `svg.hashsalt` (element ids) and no
Date in its metadata.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from qapdsl.sweep.table import Row, pareto


def write_pareto(rows: Sequence[Row], out_dir: Path, title: str) -> list[Path]:
    """Write pareto.png and pareto.svg from the complete rows; returns the files written."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    done = [r for r in rows if r.get("state") == "complete" and r.get("bops") and r.get("accuracy") is not None]
    by_bits: dict[float, list[Row]] = {}
    for r in done:
        by_bits.setdefault(float(r.get("bits") or 32), []).append(r)
    front = pareto(done)
    with matplotlib.rc_context({"svg.hashsalt": "qapc", "svg.fonttype": "path", "path.simplify": False}):
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
        cmap = plt.get_cmap("viridis")
        keys = sorted(by_bits)
        for i, bits in enumerate(keys):
            pts = sorted(by_bits[bits], key=lambda r: float(r["bops"]))
            color = cmap(0.85 * i / max(1, len(keys) - 1)) if len(keys) > 1 else cmap(0.3)  # viridis' last 15% is too pale to see
            ax.plot(
                [float(r["bops"]) for r in pts], [float(r["accuracy"]) for r in pts], "o-", color=color, label=f"{bits:.0f} bits", markersize=5, linewidth=1.2
            )
        if front:
            ax.step(
                [float(r["bops"]) for r in front],
                [float(r["accuracy"]) for r in front],
                where="post",
                color="black",
                linestyle="--",
                linewidth=1.0,
                label="Pareto front",
            )
            ax.scatter(
                [float(r["bops"]) for r in front], [float(r["accuracy"]) for r in front], s=90, facecolors="none", edgecolors="black", linewidths=1.2, zorder=5
            )
        ax.set_xscale("log")
        ax.set_xlabel("BOPs")
        ax.set_ylabel("accuracy")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        if done:
            ax.legend(loc="best", fontsize="small")
        else:
            ax.text(0.5, 0.5, "no complete points yet", transform=ax.transAxes, ha="center", va="center")
        fig.tight_layout()
        out_dir.mkdir(parents=True, exist_ok=True)
        png, svg = out_dir / "pareto.png", out_dir / "pareto.svg"
        for path, fmt, meta in ((png, "png", {"Software": None}), (svg, "svg", {"Date": None, "Creator": None})):
            tmp = path.with_name(f".{path.name}.tmp")
            fig.savefig(tmp, format=fmt, metadata=meta)
            os.replace(tmp, path)
        plt.close(fig)
    return [png, svg]
