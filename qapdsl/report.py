"""The figures of a spec as tables: per layer and in total, declared and (after a run) measured.

Before training a report holds what the spec declares: shapes, parameters,
precisions, the sparsity the pruning schedule aims at, BOPs and memory bits
(`qapdsl.metrics`). After `qapc run` it adds what was measured: accuracy and
AUC, the achieved sparsity per layer and the BOPs it gives, the neural
efficiency of each layer and of the network, and how well the hls4ml C++
emulation agrees with the QKeras model.

One structure (`Report`), three renderings: JSON (the structure itself),
Markdown and LaTeX (a paper's table comes straight from it). Nothing here
imports TensorFlow; numpy is imported only to read `activations.npz`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qapdsl import ir, learned, metrics, quant, schema, shapes

FORMATS = ("markdown", "latex", "json")


@dataclass
class Report:
    """What `qapc report` prints. `measured` is None before a run."""

    model: str
    input_shape: tuple[int, ...]
    input_precision: str
    layers: list[dict[str, Any]]
    totals: dict[str, Any]
    measured: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input": {"shape": list(self.input_shape), "precision": self.input_precision},
            "layers": self.layers,
            "totals": self.totals,
            "measured": self.measured,
            "notes": self.notes,
        }


# -- reading a run's results -------------------------------------------------------


def measured_sparsity(metrics_json: Mapping[str, Any]) -> dict[str, float]:
    """Per-layer achieved sparsity from train.py's metrics.json (`sparsity: {layers: {...}, total}`)."""
    sp = metrics_json.get("sparsity")
    if not isinstance(sp, Mapping):
        return {}
    per_layer = sp.get("layers", sp)
    if not isinstance(per_layer, Mapping):
        return {}
    return {str(k): float(v) for k, v in per_layer.items() if k != "total" and isinstance(v, int | float)}


def load_efficiency(activations: Path) -> dict[str, Any]:
    """Neural efficiency from train.py's activations.npz (numpy imported here only).

    Raises ImportError without numpy, OSError when it cannot be read, ValueError (the reason) when it
    is not an .npz of on/off patterns, one (samples, neurons...) array of numbers or booleans per layer."""
    import zipfile
    import zlib

    import numpy as np

    try:
        loaded = np.load(activations, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a single .npy array
            raise ValueError("not an .npz archive (a single array)")
        with loaded as data:
            patterns = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError, zlib.error, KeyError) as e:
        raise ValueError(f"not an .npz archive ({e})") from None
    for name, pattern in patterns.items():
        if pattern.ndim < 1 or pattern.dtype.kind not in "biuf":
            raise ValueError(f"array {name!r} is not a table of on/off activations (samples × neurons), but a {pattern.dtype} array of shape {pattern.shape}")
    return metrics.neural_efficiency(patterns)


def _mean_auc(auc: Any) -> float | None:
    if isinstance(auc, int | float):
        return float(auc)
    if isinstance(auc, Mapping):
        if isinstance(auc.get("mean"), int | float):
            return float(auc["mean"])
        values = [float(v) for v in auc.values() if isinstance(v, int | float)]
        return sum(values) / len(values) if values else None
    return None


# -- building -------------------------------------------------------------------------


def build(spec: ir.Spec, results: Mapping[str, Any] | None = None, efficiency: Mapping[str, Any] | None = None) -> Report:
    """The report of a spec; with `results` (results.json content) the measured figures too.

    `efficiency` (from `load_efficiency`) overrides the one stored in the results.
    """
    model = spec.model
    declared = metrics.layer_figures(spec)
    layer_shapes, _ = shapes.infer(model)
    weights_of = {ls.name: ls.weights for ls in layer_shapes}
    in_q = quant.input_quant(spec)
    in_label = "float" if in_q.kind == "float" else (quant.to_fixed(in_q).spec() if quant.to_fixed(in_q) else in_q.kind)  # type: ignore[union-attr]

    metrics_json: Mapping[str, Any] = (results or {}).get("metrics") or {}
    firmware: Mapping[str, Any] = (results or {}).get("firmware") or {}
    if efficiency is None and results is not None:
        efficiency = results.get("efficiency")
    sparsity = measured_sparsity(metrics_json) if results is not None else {}
    measured_rows = metrics.layer_figures(spec, sparsity) if results is not None else None
    trained_bops = learned.bops_after_run(declared, metrics_json.get("learned")) if results is not None else {}  # learned widths
    trained_memory = learned.memory_after_run(metrics_json.get("learned")) if results is not None else {}
    eff_layers: Mapping[str, float] = (efficiency or {}).get("layers", {}) if efficiency else {}

    pruned = list(spec.prune.layers) if spec.prune is not None else []
    layers: list[dict[str, Any]] = []
    for i, row in enumerate(declared):
        weighty = row.kind in schema.WEIGHT_LAYERS
        entry: dict[str, Any] = {
            "name": row.name,
            "kind": row.kind,
            "in_shape": list(row.in_shape),
            "out_shape": list(row.out_shape),
            "params": row.params,
            "weights": row.weight,
            "bias": row.bias,
            "activation": row.activation,
            "input_bits": row.input_bits if weighty else None,
            "weight_bits": row.weight_bits if weighty else None,
            "sparsity": row.sparsity if weighty else None,
            "bops": row.bops,
            "memory_bits": row.memory_bits,
        }
        if measured_rows is not None:
            m = measured_rows[i]
            # a layer outside the prune section is not pruned (its sparsity is 0 by construction, as in the
            # totals); a pruned layer without a measurement counts with its declared sparsity (a note says so)
            unpruned = weighty and row.name not in pruned and row.name not in sparsity
            entry["sparsity_measured"] = (0.0 if unpruned else sparsity.get(row.name)) if weighty else None
            entry["bops_measured"] = trained_bops.get(row.name, m.bops) if weighty else None
            entry["memory_bits_measured"] = trained_memory.get(row.name, m.memory_bits) if weighty else None
            entry["efficiency"] = eff_layers.get(row.name)
        layers.append(entry)

    n_weights = sum(weights_of[r.name] for r in declared if r.kind in schema.WEIGHT_LAYERS)
    n_pruned = sum(weights_of[n] for n in pruned)
    # Sparsity is given twice, each time declared and measured over the same weights: over all the
    # weights of the model (the table's total), and over the layers the prune section selects (what
    # train.py's metrics.json `total` measures; a spec that skips `out` prunes fewer than all).
    totals: dict[str, Any] = {
        "params": sum(r.params for r in declared),
        "weights": n_weights,
        "sparsity": (sum(weights_of[r.name] * r.sparsity for r in declared if r.kind in schema.WEIGHT_LAYERS) / n_weights) if n_weights else 0.0,
        "pruned_layers": pruned,
        "sparsity_pruned": spec.prune.schedule.final_sparsity if spec.prune is not None and n_pruned else 0.0,
        "bops": sum(r.bops for r in declared),
        "memory_bits": sum(r.memory_bits for r in declared),
    }
    measured: dict[str, Any] | None = None
    notes: list[str] = []
    if learned.uses_learned(spec):
        notes.append(
            "learned widths: the declared BOPs and memory are those of the starting widths, a bound (HGQ2 trains the widths down from there); "
            "after a run the measured BOPs and memory of those layers come from the trained width of every weight (docs/language.md, learned widths)"
        )
    if spec.prune is not None and spec.prune.scope == "global" and len(pruned) > 1:
        notes.append(
            f"scope global: one threshold across {', '.join(pruned)} sets how the declared {100 * totals['sparsity_pruned']:.1f}% spreads over them, "
            "which only training tells; the declared per-layer sparsity and BOPs assume it even"
        )
    if results is not None and measured_rows is not None:
        missing = [r.name for r in declared if r.kind in schema.WEIGHT_LAYERS and r.name not in sparsity and r.sparsity > 0]
        if missing:
            notes.append(f"no measured sparsity for {', '.join(missing)}: their declared sparsity is used in the measured BOPs")
        pruned_sp = metrics_json.get("sparsity", {}).get("total") if isinstance(metrics_json.get("sparsity"), Mapping) else None
        if pruned_sp is None and n_pruned and all(n in sparsity for n in pruned):
            pruned_sp = sum(weights_of[n] * sparsity[n] for n in pruned) / n_pruned
        totals["sparsity_pruned_measured"] = pruned_sp if pruned else 0.0
        # layers outside the prune section are not pruned: their share of pruned weights is 0
        totals["sparsity_measured"] = (
            sum(weights_of[n] * sparsity.get(n, 0.0) for n in weights_of if n in pruned or n in sparsity) / n_weights if n_weights and not missing else None
        )
        totals["bops_measured"] = sum(trained_bops.get(r.name, r.bops) for r in measured_rows)
        if isinstance(metrics_json.get("learned"), Mapping):
            totals["ebops_measured"] = metrics_json["learned"].get("ebops")
        totals["memory_bits_measured"] = sum(trained_memory.get(r.name, r.memory_bits) for r in measured_rows)
        agreement = firmware.get("agreement")
        agreement_of = agreement if isinstance(agreement, Mapping) else {}
        measured = {
            "accuracy": metrics_json.get("accuracy"),
            "auc": _mean_auc(metrics_json.get("auc")),
            "auc_per_class": metrics_json.get("auc") if isinstance(metrics_json.get("auc"), Mapping) else None,
            "loss": metrics_json.get("loss"),
            "efficiency": (efficiency or {}).get("network") if efficiency else None,
            "hls_accuracy": firmware.get("hls_accuracy"),
            "model_accuracy": firmware.get("model_accuracy", firmware.get("qkeras_accuracy")),
            "qkeras_accuracy": firmware.get("qkeras_accuracy"),  # the old name of model_accuracy
            "framework": firmware.get("framework", "QKeras"),
            # `agreement` is what verify checks: on the logits before a final softmax/sigmoid when the
            # conversion traced them (`agreement_basis` "logits"), else on the outputs; both are kept
            "agreement": agreement_of.get("fraction") if isinstance(agreement, Mapping) else agreement,
            "agreement_basis": agreement_of.get("basis"),
            "agreement_rows": agreement_of.get("argmax"),
            "outputs_agreement": agreement_of.get("outputs_fraction", agreement_of.get("fraction") if agreement_of.get("basis") == "outputs" else None),
            "outputs_agreement_rows": agreement_of.get("outputs_argmax", agreement_of.get("argmax") if agreement_of.get("basis") == "outputs" else None),
            "max_abs_diff": firmware.get("max_abs_diff"),
            "mean_abs_diff": firmware.get("mean_abs_diff"),
            "n_rows": firmware.get("n_rows"),
            "epochs": metrics_json.get("epochs"),
            "rounds": metrics_json.get("rounds"),
            "train_time_s": metrics_json.get("wall_time_s"),
        }
        rtl = rtl_figures(results.get("rtl"))
        if rtl is not None:
            measured["rtl"] = rtl
        if not firmware:
            notes.append("no firmware figures: the conversion step did not run")
    return Report(model.name, tuple(model.input_shape), in_label, layers, totals, measured, notes)


def rtl_figures(rtl: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The RTL step's figures (rtl.json) as the report, the summary and the studies show them."""
    if not isinstance(rtl, Mapping):
        return None
    def part(key: str) -> Mapping[str, Any]:
        v = rtl.get(key)
        return v if isinstance(v, Mapping) else {}

    agreement, latency, synth, times = part("agreement"), part("latency"), part("synth"), part("wall_time_s")
    levels = latency.get("adder_levels")
    return {
        "agreement": agreement.get("fraction"),
        "agreement_rows": agreement.get("argmax"),
        "n_rows": rtl.get("n_rows"),
        "basis": rtl.get("basis"),
        "max_abs_diff": rtl.get("max_abs_diff"),
        "rtl_accuracy": rtl.get("rtl_accuracy"),
        "cost": rtl.get("cost"),
        "adder_levels": max(levels) if isinstance(levels, list) and levels else None,
        "pipelined": latency.get("pipelined"),
        "cycles": latency.get("cycles"),
        "latency_ns": latency.get("ns"),
        "registers": rtl.get("registers"),
        "lut": synth.get("lut"),  # LUT1-LUT6 + INV
        "inv": synth.get("inv"),
        "ff": synth.get("ff"),
        "carry": synth.get("carry"),
        "dsp": synth.get("dsp"),
        "synth_s": synth.get("wall_time_s") if synth.get("ran") else None,
        "family": synth.get("family") if synth.get("ran") else None,
        "synth_skipped": None if synth.get("ran") else synth.get("reason"),
        "trace_s": times.get("trace_s"),
        "compile_s": times.get("compile_s"),
        "simulate_s": times.get("simulate_s"),
    }


# -- rendering --------------------------------------------------------------------------


def _int(x: float | None, sep: str = ",") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{round(x):,}".replace(",", sep)


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def _num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _shape(s: list[int]) -> str:
    return "×".join(str(v) for v in s)


COLUMNS = ("all", "declared", "measured")
_TEXT_COLUMNS = frozenset({"layer", "kind", "in → out", "weights", "bias", "activation"})  # left-aligned


def _columns(rep: Report, columns: str = "all") -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows and totals row as plain strings (numbers with `,` thousands separators).

    `columns`: "all" (the declared figures, then the measured ones after a run), "declared", or
    "measured" (each layer's precisions and its measured figures only: a table narrow enough for a
    paper's column)."""
    after = rep.measured is not None and columns != "declared"
    declared = columns != "measured" or rep.measured is None
    head = ["layer", "kind", "in → out", "params", "weights", "bias", "activation"] if declared else ["layer", "in → out", "weights", "bias", "activation"]
    if declared:
        head += ["sparsity", "BOPs", "memory bits"]
    if after:
        head += ["sparsity (measured)", "BOPs (measured)", "memory bits (measured)", "efficiency"] if declared else ["sparsity", "BOPs", "memory bits", "efficiency"]
    rows = []
    for lay in rep.layers:
        shape = f"{_shape(lay['in_shape'])} → {_shape(lay['out_shape'])}"
        r = [lay["name"], lay["kind"], shape, _int(lay["params"])] if declared else [lay["name"], shape]
        r += [lay["weights"], lay["bias"], lay["activation"]]
        if declared:
            r += [_pct(lay["sparsity"]), _int(lay["bops"]) if lay["bops"] else "-", _int(lay["memory_bits"]) if lay["memory_bits"] else "-"]
        if after:
            r += [_pct(lay.get("sparsity_measured")), _int(lay.get("bops_measured")), _int(lay.get("memory_bits_measured")), _num(lay.get("efficiency"))]
        rows.append(r)
    t = rep.totals
    total = ["total", "", "", _int(t["params"]), "", "", ""] if declared else ["total", "", "", "", ""]
    if declared:
        total += [_pct(t["sparsity"]), _int(t["bops"]), _int(t["memory_bits"])]
    if after:
        total += [_pct(t.get("sparsity_measured")), _int(t.get("bops_measured")), _int(t.get("memory_bits_measured")), _num((rep.measured or {}).get("efficiency"))]
    return head, rows, total


def _agreement(fraction: Any, rows: Any, n: Any) -> str:
    shown = _pct(fraction, 2)
    if isinstance(rows, int) and isinstance(n, int) and n:
        return f"{shown} ({_int(rows)} of {_int(n)} test rows)"
    return shown + (f" of {_int(n)} test rows" if isinstance(n, int) and n else "")


def _summary(rep: Report) -> list[tuple[str, str]]:
    m = rep.measured
    if m is None:
        return []
    n = m.get("n_rows")
    fw = m.get("framework") or "QKeras"
    basis = m.get("agreement_basis")
    if basis == "logits":  # both: the outputs' argmax (what a user of the firmware sees) and the logits' (what verify checks)
        agreement = [
            (f"{fw} ↔ HLS argmax agreement of the outputs", _agreement(m.get("outputs_agreement"), m.get("outputs_agreement_rows"), n)),
            (f"{fw} ↔ HLS argmax agreement of the logits (before the output's lookup table)", _agreement(m.get("agreement"), m.get("agreement_rows"), n)),
        ]
    else:
        what = " of the outputs" if basis == "outputs" else ""
        agreement = [(f"{fw} ↔ HLS argmax agreement{what}", _agreement(m.get("agreement"), m.get("agreement_rows"), n))]
    rtl = m.get("rtl") if isinstance(m.get("rtl"), Mapping) else None
    return [
        (f"accuracy ({fw})", _pct(m.get("accuracy"), 2)),
        ("AUC (mean over classes)", _num(m.get("auc"), 4)),
        ("accuracy (HLS emulation)", _pct(m.get("hls_accuracy"), 2)),
        *([("accuracy (RTL, Verilator)", _pct(rtl.get("rtl_accuracy"), 2))] if rtl is not None else []),
        *agreement,
        *([(f"{fw} ↔ RTL argmax agreement (Verilator, {_rtl_basis(rtl)})", _agreement(rtl.get("agreement"), rtl.get("agreement_rows"), rtl.get("n_rows") or n))] if rtl is not None else []),
        (f"max abs. output difference {fw} − HLS", _num(m.get("max_abs_diff"), 6)),
        *([(f"max abs. {'logit' if rtl.get('basis') == 'logits' else 'output'} difference {fw} − RTL", _num(rtl.get("max_abs_diff"), 6))] if rtl is not None else []),
        ("achieved sparsity (weights)", _pct(rep.totals.get("sparsity_measured"), 1)),
        ("BOPs (measured sparsity)", _int(rep.totals.get("bops_measured"))),
        *([("EBOPs (HGQ2, trained widths)", _int(rep.totals.get("ebops_measured")))] if rep.totals.get("ebops_measured") is not None else []),
        ("memory bits (measured sparsity)", _int(rep.totals.get("memory_bits_measured"))),
        ("neural efficiency (network)", _num(m.get("efficiency"), 4)),
        *_rtl_hardware(rtl),
    ]


def _rtl_basis(rtl: Mapping[str, Any]) -> str:
    """What the RTL's argmax agreement compares: the logits (a final softmax is left out of the RTL; its argmax is theirs) or the outputs."""
    return "argmax of the logits" if rtl.get("basis") == "logits" else "argmax of the outputs"


def inv_note(inv: Any) -> str:
    """The INV cells among the LUTs (Vivado implements each as a LUT1), or nothing when rtl.json predates the count."""
    return f" (of them {_int(inv)} INV)" if isinstance(inv, int) else ""


def _rtl_hardware(rtl: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The RTL's hardware figures: da4ml's cost and latency, Yosys's cells."""
    if rtl is None:
        return []
    when = f"{rtl.get('cycles')} cycles ({_num(rtl.get('latency_ns'), 1)} ns)" if rtl.get("pipelined") else "combinational"
    rows = [
        ("RTL cost (da4ml estimate, LUTs)", _int(rtl.get("cost"))),
        ("RTL latency", f"{_int(rtl.get('adder_levels'))} adder levels, {when}"),
    ]
    if rtl.get("lut") is not None:
        rows.append(
            (
                f"Yosys synth_xilinx{' -family ' + str(rtl['family']) if rtl.get('family') else ''} (LUTs = LUT1–LUT6 + INV)",
                f"{_int(rtl.get('lut'))} LUT{inv_note(rtl.get('inv'))}, {_int(rtl.get('ff'))} FF, {_int(rtl.get('carry'))} CARRY, {_int(rtl.get('dsp'))} DSP ({_num(rtl.get('synth_s'), 1)} s)",
            )
        )
    elif rtl.get("synth_skipped"):
        rows.append(("Yosys synthesis", f"skipped: {rtl['synth_skipped']}"))
    return rows


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def one_line(s: str) -> str:
    """Text that stays on its line: line breaks, tabs and other control characters become one space."""
    return _CONTROL.sub(" ", s)


def md(s: str) -> str:
    """Text for a markdown table cell (or line): on one line, and a `|` is no column break."""
    return one_line(s).replace("\\", "\\\\").replace("|", "\\|")


def to_markdown(rep: Report, columns: str = "all") -> str:
    head, rows, total = _columns(rep, columns)
    lines = [f"## {md(rep.model)}", "", f"Input {md(_shape(list(rep.input_shape)))}, {md(rep.input_precision)}.", ""]
    lines.append("| " + " | ".join(md(h) for h in head) + " |")
    lines.append("| " + " | ".join("---" if h in _TEXT_COLUMNS else "---:" for h in head) + " |")
    for r in rows + [[f"**{total[0]}**", *total[1:]]]:
        lines.append("| " + " | ".join(md(c) for c in r) + " |")
    summary = _summary(rep)
    if summary:
        lines += ["", "| measured | |", "| --- | ---: |"]
        lines += [f"| {md(k)} | {md(v)} |" for k, v in summary]
    for note in rep.notes:
        lines += ["", f"Note: {md(note)}."]
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
}


def tex(s: str) -> str:
    """Text for LaTeX: special characters escaped, arrows, times and minus as math."""
    out = "".join(_LATEX_ESCAPES.get(c, c) for c in one_line(s))  # a blank line would end the table's paragraph
    for plain, macro in (("→", r"$\to$"), ("×", r"$\times$"), ("↔", r"$\leftrightarrow$"), ("−", "-"), ("<", r"\textless{}"), (">", r"\textgreater{}")):
        out = out.replace(plain, macro)
    return out


def _tex_cell(s: str) -> str:
    # numbers: thousands separators as {,} so LaTeX keeps them tight
    if s and s.replace(",", "").replace(".", "").replace("%", "").replace("-", "").isdigit():
        return tex(s.replace(",", "{,}")).replace(r"\{,\}", "{,}")
    return tex(s)


def to_latex(rep: Report, columns: str = "all") -> str:
    head, rows, total = _columns(rep, columns)
    align = "".join("l" if h in _TEXT_COLUMNS else "r" for h in head)
    lines = [
        r"% qapc report: needs \usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{tex(rep.model)}: per-layer figures (input {tex(_shape(list(rep.input_shape)))}, {tex(rep.input_precision)}).}}",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(tex(h) for h in head) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(_tex_cell(c) for c in r) + r" \\" for r in rows]
    lines += [r"\midrule", " & ".join(_tex_cell(c) for c in total) + r" \\", r"\bottomrule", r"\end{tabular}"]
    summary = _summary(rep)
    if summary:
        lines += [r"\\[1ex]", r"\begin{tabular}{lr}", r"\toprule"]
        lines += [f"{tex(k)} & {_tex_cell(v)} " + r"\\" for k, v in summary]
        lines += [r"\bottomrule", r"\end{tabular}"]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def finite(o: Any) -> Any:
    """The same structure with NaN / ±inf replaced by None (strict JSON has no NaN)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, Mapping):
        return {str(k): finite(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [finite(v) for v in o]
    return o


def to_json(rep: Report) -> str:
    return json.dumps(finite(rep.to_dict()), indent=2, allow_nan=False) + "\n"


def render(rep: Report, fmt: str, columns: str = "all") -> str:
    """`columns` (see `_columns`) picks the tables' columns; JSON always holds every figure."""
    if fmt == "markdown":
        return to_markdown(rep, columns)
    if fmt == "latex":
        return to_latex(rep, columns)
    if fmt == "json":
        return to_json(rep)
    raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
