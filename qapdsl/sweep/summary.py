"""One row per point: the figures a study compares, read from a run's results.json content.

The runner's results hold everything (metrics, firmware, the report with
declared and measured totals); a study keeps only this flat summary in its
storage, so that any machine can write the tables and plots from the storage
alone, and the full results.json stays in the point's directory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from qapdsl import ir

# column → (header, LaTeX header)
COLUMNS: dict[str, tuple[str, str]] = {
    "bits": ("bits", "bits"),
    "sparsity": ("sparsity", "sparsity"),
    "accuracy": ("accuracy", "accuracy"),
    "auc": ("AUC", "AUC"),
    "bops": ("BOPs", "BOPs"),
    "efficiency": ("neural efficiency", "neural eff."),
    "hls_agreement": ("HLS agreement", "HLS agr."),
    "max_abs_diff": ("max abs. diff", "max abs. diff"),  # no `|`: it splits a Markdown table's cells
    "epochs": ("epochs", "epochs"),  # trained, over every pruning round (metrics.json): a comparison is fair at equal ones
    "wall_time_s": ("wall time (s)", "time (s)"),
}
# figures shown only when a study optimises or constrains them
OPTIONAL_COLUMNS: dict[str, tuple[str, str]] = {
    "memory": ("memory bits", "memory bits"),
    "params": ("parameters", "params"),
    "luts": ("LUTs (Yosys)", "LUTs"),
    "rtl_cost": ("RTL cost (da4ml)", "RTL cost"),
}


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(float(x)) else None


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def model_bits(spec: ir.Spec) -> int:
    """The model-wide weight bit width (what the paper's curves are labelled by); 32 for float."""
    q = spec.model.quant.weights
    return q.bits if q is not None else 32


def rounds(spec: ir.Spec) -> int:
    """Rounds of iterative pruning (0 without pruning or with a tfmot schedule): the paper's table's other axis."""
    s = spec.prune.schedule if spec.prune is not None else None
    return s.rounds if s is not None and s.kind == "iterative" else 0


def epoch_budget(spec: ir.Spec, epochs: int | None = None) -> int:
    """The most epochs a run of `spec` trains (`epochs`: the command line's `--epochs`): train.epochs, and with
    iterative pruning as many again per round (the schedule's `epochs`, unless `--epochs` sets them all: the rule
    of the generated train.py). Early stopping may end each phase sooner; metrics.json has what ran."""
    first = epochs if epochs is not None else spec.train.epochs
    s = spec.prune.schedule if spec.prune is not None else None
    if s is None or s.kind != "iterative":
        return first
    per_round = first if s.epochs_per_round is None or epochs is not None else s.epochs_per_round
    return first + s.rounds * per_round


def summarize(spec: ir.Spec, results: Mapping[str, Any]) -> dict[str, float | None]:
    """The study's figures for one run; None where the run did not measure one."""
    measured = _get(results, "report", "measured") or {}
    totals = _get(results, "report", "totals") or {}
    sparsity = _num(totals.get("sparsity_measured"))
    if sparsity is None:
        sparsity = _num(_get(results, "metrics", "sparsity", "total"))
    bops = _num(totals.get("bops_measured"))
    if bops is None:
        bops = _num(totals.get("bops"))
    memory = _num(totals.get("memory_bits_measured"))
    if memory is None:
        memory = _num(totals.get("memory_bits"))
    accuracy = _num(measured.get("accuracy"))
    if accuracy is None:
        accuracy = _num(_get(results, "metrics", "accuracy"))
    override = _get(results, "overrides", "epochs")
    return {
        "bits": float(model_bits(spec)),
        "rounds": float(rounds(spec)),
        "sparsity": sparsity,
        "accuracy": accuracy,
        "auc": _num(measured.get("auc")),
        "bops": bops,
        "memory": memory,
        "params": _num(totals.get("params")),
        "efficiency": _num(measured.get("efficiency")),
        "hls_agreement": _num(measured.get("agreement")),
        "hls_accuracy": _num(measured.get("hls_accuracy")),
        "max_abs_diff": _num(measured.get("max_abs_diff")),
        "epochs": _num(_get(results, "metrics", "epochs")),
        "epoch_budget": float(epoch_budget(spec, override if isinstance(override, int) and not isinstance(override, bool) else None)),
        "wall_time_s": _num(results.get("wall_time_s")),
        "luts": _num(_get(measured, "rtl", "lut")),  # the RTL step's (rtl verilog in the target), else None
        "rtl_cost": _num(_get(measured, "rtl", "cost")),
        "seed": float(spec.train.seed),
    }
