"""`qapc report`: the paper's BOPs, the table formats, the measured figures from a run's results."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SPECS

from qapdsl import metrics, report
from qapdsl.cli import main
from qapdsl.loader import load_file, load_text

JET_FLOAT = """
model jet_float_inline {
    input 16
    dense fc1 64 relu
    dense fc2 32 relu
    dense fc3 32 relu
    dense out 5 softmax
}
train { data openml "hls4ml_lhc_jets_hlf"; classes 5 }
"""


def _report_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["report", *argv, "--json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_float_jet_tagger_is_4652832_bops(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = _report_json(capsys, str(write_spec(JET_FLOAT)))
    assert round(data["totals"]["bops"]) == 4_652_832
    assert [round(lay["bops"]) for lay in data["layers"]] == [1_118_208, 2_240_512, 1_119_232, 174_880]
    assert data["totals"]["params"] == 16 * 64 + 64 + 64 * 32 + 32 + 32 * 32 + 32 + 32 * 5 + 5
    assert data["input"]["precision"] == "float"
    assert data["measured"] is None


def test_bundled_jet_float_spec(capsys: pytest.CaptureFixture[str]) -> None:
    data = _report_json(capsys, str(SPECS / "jet_float.qap"), "-o", "/nonexistent/build")
    assert round(data["totals"]["bops"]) == 4_652_832
    assert main(["report", str(SPECS / "jet_float.qap"), "-o", "/nonexistent/build"]) == 0
    assert "| **total** |  |  | 4,389 |  |  |  | 0.0% | 4,652,832 |" in capsys.readouterr().out


def test_quantized_pruned_rows(capsys: pytest.CaptureFixture[str]) -> None:
    data = _report_json(capsys, str(SPECS / "digits_qap.qap"), "-o", "/nonexistent/build")
    fc1 = data["layers"][0]
    assert (fc1["weights"], fc1["activation"], fc1["input_bits"], fc1["weight_bits"]) == ("fixed<6,1>", "ufixed<6,2>", 8, 6)
    p = 1 - fc1["sparsity"]
    assert fc1["bops"] == pytest.approx(32 * 64 * (p * 8 * 6 + 8 + 6 + math.log2(64)))
    assert fc1["memory_bits"] == round(64 * 32 * p) * 6 + 32 * 6  # whole weights kept
    float_bops = _report_json(capsys, str(SPECS / "digits_float.qap"), "-o", "/nonexistent/build")["totals"]["bops"]
    assert float_bops / data["totals"]["bops"] > 20


def test_latex_is_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(SPECS / "digits_qap.qap"), "--format", "latex", "-o", "/nonexistent/build"]) == 0
    out = capsys.readouterr().out
    assert out.count(r"\begin{tabular}") == out.count(r"\end{tabular}") == 1
    assert r"digits\_qap" in out and r"fixed\textless{}6,1\textgreater{}" in out
    body = next(ln for ln in out.splitlines() if ln.startswith("fc1 &"))
    assert body.count("&") == 9 and body.endswith(r"\\")


def test_spec_errors_exit_1(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(write_spec(JET_FLOAT.replace("dense fc2", "dense fc2 relu")))]) == 1


def test_report_imports_neither_tensorflow_nor_numpy() -> None:
    code = (
        "import sys; from qapdsl.cli import main; "
        f"rc = main(['report', {str(SPECS / 'jet.qap')!r}, '-o', '/nonexistent/build']); "
        "bad = [m for m in ('tensorflow', 'numpy', 'qkeras', 'hls4ml', 'keras') if m in sys.modules]; "
        "sys.exit(rc or (3 if bad else 0))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def _fake_run(tmp: Path, spec_path: Path, sparsity: dict[str, float], patterns: dict[str, Any]) -> Path:
    spec = load_file(spec_path).spec
    assert spec is not None
    results = {
        "model": spec.model.name,
        "spec_sha256": spec.sources[0].sha256,
        "metrics": {"accuracy": 0.9, "auc": {"0": 0.98, "1": 0.96, "mean": 0.97}, "loss": 0.3, "sparsity": {"layers": sparsity, "total": 0.5}},
        "firmware": {"agreement": {"argmax": 359, "fraction": 0.997}, "max_abs_diff": 0.01, "n_rows": 360, "hls_accuracy": 0.89},
    }
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "results.json").write_text(json.dumps(results))
    np.savez(tmp / "activations.npz", **patterns)
    return tmp


def test_measured_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    patterns = {"fc1": rng.random((200, 32)) > 0.5, "fc2": rng.random((200, 32)) > 0.8}
    sparsity = {"fc1": 0.9, "fc2": 0.75, "out": 0.5}
    build = _fake_run(tmp_path / "b", SPECS / "digits_qap.qap", sparsity, patterns)
    data = _report_json(capsys, str(SPECS / "digits_qap.qap"), "-o", str(build))
    spec = load_file(SPECS / "digits_qap.qap").spec
    assert spec is not None
    assert data["totals"]["bops_measured"] == pytest.approx(metrics.total_bops(spec, sparsity))
    assert data["totals"]["bops_measured"] != pytest.approx(data["totals"]["bops"])
    assert [lay["sparsity_measured"] for lay in data["layers"]] == [0.9, 0.75, 0.5]
    eff = metrics.neural_efficiency(patterns)
    assert data["measured"]["efficiency"] == pytest.approx(eff["network"])
    assert data["layers"][0]["efficiency"] == pytest.approx(eff["layers"]["fc1"])
    assert data["layers"][2]["efficiency"] is None  # softmax output: no on/off pattern
    m = data["measured"]
    assert (m["accuracy"], m["auc"], m["agreement"], m["hls_accuracy"], m["n_rows"]) == (0.9, 0.97, 0.997, 0.89, 360)
    assert [n for n in data["notes"] if not n.startswith("scope global")] == []
    # the same through --results, and in markdown
    assert main(["report", str(SPECS / "digits_qap.qap"), "--results", str(build / "results.json")]) == 0
    out = capsys.readouterr().out
    assert "| QKeras ↔ HLS argmax agreement | 99.70% (359 of 360 test rows) |" in out
    assert "BOPs (measured)" in out


def test_declared_and_measured_sparsity_cover_the_same_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A spec that skips `out` prunes fc1 and fc2 only: each figure is declared and measured over the same weights."""
    text = (SPECS / "digits_qap.qap").read_text().replace("scope global", "scope global\n    skip out")
    (tmp_path / "digits_float.qap").write_text((SPECS / "digits_float.qap").read_text())
    (tmp_path / "skip.qap").write_text(text)
    spec = load_file(tmp_path / "skip.qap").spec
    assert spec is not None and spec.prune is not None and spec.prune.layers == ("fc1", "fc2")
    target = spec.prune.schedule.final_sparsity
    # measured exactly what was declared, on fc1 and fc2; metrics.json's total is over those two
    build = tmp_path / "b"
    build.mkdir()
    (build / "results.json").write_text(
        json.dumps(
            {"model": spec.model.name, "metrics": {"accuracy": 0.9, "sparsity": {"layers": {"fc1": target, "fc2": target}, "total": target}}, "firmware": {}}
        )
    )
    t = _report_json(capsys, str(tmp_path / "skip.qap"), "-o", str(build))["totals"]
    w = {"fc1": 64 * 32, "fc2": 32 * 32, "out": 32 * 10}
    assert t["pruned_layers"] == ["fc1", "fc2"]
    assert t["sparsity_pruned"] == pytest.approx(target) and t["sparsity_pruned_measured"] == pytest.approx(target)
    over_all = target * (w["fc1"] + w["fc2"]) / sum(w.values())
    assert t["sparsity"] == pytest.approx(over_all) and t["sparsity_measured"] == pytest.approx(over_all)
    from qapdsl.commands.run import _sparsity_line

    line = _sparsity_line(t)
    assert f"{100 * over_all:.1f}% of all weights pruned (declared {100 * over_all:.1f}%)" in line
    assert f"{100 * target:.1f}% of the pruned layers' (declared {100 * target:.1f}%)" in line


def test_results_of_another_model_or_version(tmp_path: Path, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    build = _fake_run(tmp_path / "b", SPECS / "digits_qap.qap", {"fc1": 0.5}, {"fc1": np.zeros((4, 32), bool)})
    assert main(["report", str(SPECS / "digits_float.qap"), "-o", str(build)]) == 2
    assert "holds results of model 'digits_qap'" in capsys.readouterr().err
    changed = write_spec(
        (SPECS / "digits_qap.qap").read_text().replace("rounds 8", "rounds 7"), "digits_qap.qap", digits_float__qap=(SPECS / "digits_float.qap").read_text()
    )
    data = _report_json(capsys, str(changed), "-o", str(build))
    assert any("different version of the spec" in n for n in data["notes"])
    assert any("no measured sparsity for fc2, out" in n for n in data["notes"])


def test_unreadable_results_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "results.json"
    bad.write_text("{not json")
    assert main(["report", str(SPECS / "digits_qap.qap"), "--results", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["report", str(SPECS / "digits_qap.qap"), "--results", str(tmp_path / "missing.json")]) == 2


def test_json_has_no_nan() -> None:
    spec = load_file(SPECS / "digits_qap.qap").spec
    assert spec is not None
    rep = report.build(spec, {"metrics": {"accuracy": float("nan"), "loss": float("inf"), "sparsity": {"layers": {}}}, "firmware": {}})
    text = report.to_json(rep)
    assert "NaN" not in text and json.loads(text)["measured"]["accuracy"] is None


def test_hgq2_table_activations_have_the_tables_types() -> None:
    """HGQ2 computes tanh / sigmoid / softmax from lookup tables in the model: the next layer sees their
    fixed-point type (BOPs count those bits), where QKeras keeps them in float (32 bits)."""
    text = (
        "model m {\n    input 4\n    quant weights fixed<6,1>, activations ufixed<6,2>\n"
        "    dense fc1 16 tanh\n    dense fc2 16 sigmoid\n    dense out 3 softmax\n}\ntrain { data sklearn iris }\n"
    )
    qk = load_text(text).spec
    hg = load_text(text.replace("data sklearn iris", "data sklearn iris; dialect hgq2")).spec
    assert qk is not None and hg is not None
    q_rows, h_rows = metrics.layer_figures(qk), metrics.layer_figures(hg)
    assert [r.activation for r in q_rows] == ["float", "float", "float"]
    assert [r.activation for r in h_rows] == ["fixed<18,2>", "ufixed<18,1>", "ufixed<18,1>"]
    assert [r.input_bits for r in q_rows] == [16, 32, 32]
    assert [r.input_bits for r in h_rows] == [16, 18, 18]
    assert h_rows[1].bops == metrics.bops(16, 16, 6, 18)


def test_no_relu_no_efficiency() -> None:
    assert metrics.neural_efficiency({})["network"] is None


# -- what `qapc report` reads is checked, never trusted (issue 20) -------------------------------------------

GOOD = {"model": "digits_qap", "metrics": {"accuracy": 0.9}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({**GOOD, "metrics": {"accuracy": "high"}}, 'metrics.accuracy: expected a number, got the string "high"'),  # was ValueError, exit 70
        ({**GOOD, "efficiency": 5}, "efficiency: expected an object, got the number 5"),  # was AttributeError
        ({**GOOD, "efficiency": {"layers": {"fc1": "x"}}}, 'efficiency.layers.fc1: expected a number, got the string "x"'),
        ({**GOOD, "metrics": {"accuracy": 0.9, "auc": "x"}}, 'metrics.auc: expected a number or an object, got the string "x"'),
        ({**GOOD, "metrics": {"accuracy": 0.9, "sparsity": {"layers": {"fc1": True}}}}, "metrics.sparsity.layers.fc1: expected a number, got true"),
        ({**GOOD, "metrics": {"accuracy": 0.9, "sparsity": [0.5]}}, "metrics.sparsity: expected an object, got a list"),
        ({**GOOD, "firmware": {"agreement": {"fraction": 2}}}, "firmware.agreement.fraction: expected a number at most 1, got the number 2"),
        ({**GOOD, "firmware": {"agreement": {"basis": "x"}}}, "firmware.agreement.basis: expected 'outputs' or 'logits'"),
        ({**GOOD, "firmware": {"n_rows": "360"}}, 'firmware.n_rows: expected a whole number, got the string "360"'),
        ({**GOOD, "firmware": []}, "firmware: expected an object, got a list"),
        ({"metrics": {"accuracy": 0.9}}, "model: missing"),
        ({"model": "digits_qap"}, "metrics: missing"),
        ([1, 2], "it holds a list, not a JSON object"),
        # impossible figures (the hostile RTL review): negative, endless or absurd numbers are no measurements
        ({**GOOD, "rtl": {"max_abs_diff": -0.5}}, "rtl.max_abs_diff: expected a number at least 0, got the number -0.5"),
        ({**GOOD, "rtl": {"synth": {"lut": -476}}}, "rtl.synth.lut: expected a number at least 0, got the number -476"),
        ({**GOOD, "rtl": {"synth": {"lut": 10**400}}}, "rtl.synth.lut: expected a number at most 1e+12, got a number of 401 digits"),
        ({**GOOD, "rtl": {"n_rows": -45}}, "rtl.n_rows: expected a number at least 0, got the number -45"),
        ({**GOOD, "rtl": {"cost": float("inf")}}, "rtl.cost: expected a finite number, got the number inf"),
        ({**GOOD, "rtl": {"rtl_accuracy": 1.5}}, "rtl.rtl_accuracy: expected a number at most 1, got the number 1.5"),
        ({**GOOD, "firmware": {"max_abs_diff": -1}}, "firmware.max_abs_diff: expected a number at least 0, got the number -1"),
    ],
)
def test_results_of_another_shape_are_refused(content: object, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(content))
    assert main(["report", str(SPECS / "digits_qap.qap"), "--results", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path} is not a results.json of `qapc run`" in err and message in err, err


def test_a_manifest_is_not_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A manifest.json given as results printed a table with exit 0."""
    assert main(["build", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert main(["report", str(SPECS / "digits_qap.qap"), "--results", str(tmp_path / "b" / "manifest.json")]) == 2
    assert "manifest.json is a build's manifest, not the results of `qapc run`" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("write", "why"),
    [
        (lambda p: p.write_bytes(b"garbage"), "cannot read"),
        (lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"), "not an .npz archive"),
        (lambda p: np.save(p.with_suffix(".npy"), np.zeros(3)) or p.with_suffix(".npy").rename(p), "not an .npz archive (a single array)"),
        (lambda p: np.savez(p, fc1=np.float64(1.0)), "array 'fc1' is not a table of on/off activations"),
        (lambda p: np.savez(p, fc1=np.array(["a", "b"])), "array 'fc1' is not a table of on/off activations"),
    ],
)
def test_a_damaged_activations_file_is_a_warning(write: Callable[[Path], object], why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = tmp_path / "b"
    build.mkdir()
    (build / "results.json").write_text(json.dumps({**GOOD, "efficiency": {"layers": {"fc1": 0.25}, "network": 0.25}}))
    write(build / "activations.npz")
    assert main(["report", str(SPECS / "digits_qap.qap"), "-o", str(build), "--json"]) == 0  # was a BadZipFile, exit 70
    out, err = capsys.readouterr()
    assert json.loads(out)["measured"]["efficiency"] == 0.25  # the one stored in results.json
    assert f"qapc: warning: cannot read {build / 'activations.npz'}: " in err and why in err and "using the efficiency stored in results.json" in err, err


def test_a_damaged_study_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("optuna")
    (tmp_path / "study.db").write_text("garbage")
    assert main(["report", str(SPECS / "digits_sweep.qap"), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"cannot read the study in sqlite:///{tmp_path / 'study.db'}: (sqlite3.DatabaseError) file is not a database" in err


# -- each figure labelled by what it is (issue 20) -----------------------------------------------------------


def _skip_out_run(tmp_path: Path, firmware: dict[str, Any]) -> Path:
    """digits_qap with `skip out` (the output layer unpruned), and a results.json of a run of it."""
    (tmp_path / "digits_float.qap").write_text((SPECS / "digits_float.qap").read_text())
    (tmp_path / "skip.qap").write_text((SPECS / "digits_qap.qap").read_text().replace("scope global", "scope global\n    skip out"))
    results = {"model": "digits_qap", "metrics": {"accuracy": 0.95, "sparsity": {"layers": {"fc1": 0.85, "fc2": 0.8}, "total": 0.83}}, "firmware": firmware}
    (tmp_path / "results.json").write_text(json.dumps(results))
    return tmp_path / "skip.qap"


LOGITS = {
    "framework": "QKeras",
    "n_rows": 4000,
    "agreement": {"argmax": 4000, "fraction": 1.0, "basis": "logits", "outputs_argmax": 3999, "outputs_fraction": 3999 / 4000},
    "hls_accuracy": 0.95,
}


def test_both_agreements_each_by_its_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The row 'QKeras ↔ HLS argmax agreement 100.00%' was the logits' figure; the outputs' 99.98% was missing."""
    spec = _skip_out_run(tmp_path, LOGITS)
    for fmt in ("markdown", "latex"):
        assert main(["report", str(spec), "--results", str(tmp_path / "results.json"), "--format", fmt]) == 0
        out = capsys.readouterr().out.replace(r"$\leftrightarrow$", "↔").replace(r"\%", "%")
        assert "QKeras ↔ HLS argmax agreement of the outputs | 99.98% (3,999 of 4,000 test rows)" in out.replace(" & ", " | ")
        assert "QKeras ↔ HLS argmax agreement of the logits (before the output's lookup table) | 100.00% (4,000 of 4,000 test rows)" in out.replace(" & ", " | ")
        assert "argmax agreement | " not in out.replace(" & ", " | ")  # no figure without its name
    m = _report_json(capsys, str(spec), "--results", str(tmp_path / "results.json"))["measured"]
    assert (m["agreement"], m["agreement_basis"], m["outputs_agreement"], m["outputs_agreement_rows"]) == (1.0, "logits", 3999 / 4000, 3999)
    from qapdsl.commands.run import summary

    results = json.loads((tmp_path / "results.json").read_text())
    results.update(build_dir=str(tmp_path), report=_report_json(capsys, str(spec), "--results", str(tmp_path / "results.json")))
    assert "outputs 99.98%, logits 100.00% of 4000 test rows agree (argmax)" in summary(results)


def test_outputs_agreement_alone_is_named_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    firmware = {**LOGITS, "agreement": {"argmax": 3999, "fraction": 3999 / 4000, "basis": "outputs", "outputs_argmax": 3999, "outputs_fraction": 3999 / 4000}}
    spec = _skip_out_run(tmp_path, firmware)
    assert main(["report", str(spec), "--results", str(tmp_path / "results.json")]) == 0
    out = capsys.readouterr().out
    assert "| QKeras ↔ HLS argmax agreement of the outputs | 99.98% (3,999 of 4,000 test rows) |" in out and "logits" not in out


def test_every_layer_has_its_measured_figures_and_they_sum_to_the_totals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The unpruned `out` showed '-' although the total counted its BOPs; memory differed by one between table and summary."""
    spec = _skip_out_run(tmp_path, LOGITS)
    data = _report_json(capsys, str(spec), "--results", str(tmp_path / "results.json"))
    out = data["layers"][-1]
    assert out["name"] == "out" and out["sparsity_measured"] == 0.0 and out["bops_measured"] == pytest.approx(out["bops"])
    t = data["totals"]
    assert sum(lay["bops_measured"] for lay in data["layers"] if lay["bops_measured"] is not None) == pytest.approx(t["bops_measured"])
    assert sum(lay["memory_bits_measured"] or 0 for lay in data["layers"]) == t["memory_bits_measured"]
    assert all(float(lay[k]).is_integer() for lay in data["layers"] for k in ("memory_bits", "memory_bits_measured") if lay[k] is not None)
    assert main(["report", str(spec), "--results", str(tmp_path / "results.json")]) == 0
    md = capsys.readouterr().out
    row = next(ln for ln in md.splitlines() if ln.startswith("| out |"))
    assert "| - |" not in row.split("| 0.0% |", 1)[1].rsplit("|", 2)[0]  # measured sparsity, BOPs, memory: figures
    memory = f"{round(t['memory_bits_measured']):,}"
    assert f"| memory bits (measured sparsity) | {memory} |" in md
    assert next(ln for ln in md.splitlines() if ln.startswith("| **total** |")).split(" | ")[-2] == memory  # the same figure in the table
    from qapdsl.commands.run import summary

    results = {**json.loads((tmp_path / "results.json").read_text()), "build_dir": str(tmp_path), "report": data}
    assert f"memory          {memory} bits of weights and biases (with the measured sparsity; declared {round(t['memory_bits']):,})" in summary(results)


def test_measured_columns_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """13 columns (declared and measured side by side) were too wide for a paper's column."""
    spec = _skip_out_run(tmp_path, LOGITS)
    assert main(["report", str(spec), "--results", str(tmp_path / "results.json"), "--format", "latex", "--columns", "measured"]) == 0
    out = capsys.readouterr().out
    assert r"\begin{tabular}{lllllrrrr}" in out
    assert r"layer & in $\to$ out & weights & bias & activation & sparsity & BOPs & memory bits & efficiency \\" in out
    assert next(ln for ln in out.splitlines() if ln.startswith("fc1 &")).startswith(r"fc1 & 64 $\to$ 32 & fixed\textless{}6,1\textgreater{} & ")
    assert r"& 85.0\% &" in out and r"83.2\%" not in out  # the measured sparsity, not the declared one
    assert main(["report", str(spec), "--results", str(tmp_path / "results.json"), "--columns", "declared"]) == 0
    assert "(measured)" not in capsys.readouterr().out.split("| measured | |")[0]
    assert main(["report", str(spec), "-o", str(tmp_path / "none"), "--columns", "measured"]) == 2
    assert "--columns measured: there are no measured figures of" in capsys.readouterr().err


def test_what_train_py_writes_is_a_metrics_file() -> None:
    """train.py's metrics.json as `evaluate` and its caller write it: a class absent from the test rows has no AUC (None)."""
    from qapdsl import results as results_file

    written = {
        "accuracy": 0.5,
        "auc": {"per_class": [0.9, None], "mean": 0.9},
        "loss": None,
        "model": "m",
        "sparsity": {"layers": {}, "total": 0.0},
        "sparsity_quantized": {"layers": {"fc1": 0.1}, "total": 0.1},
        "wall_time_s": 1.5,
        "epochs": 3,
        "rounds": [{"round": 0, "epochs": 3, "val_loss": None, "val_accuracy": 0.5, "mask_sparsity": 0.0, "zero_fraction": 0.0}],
        "n_train": 10,
        "n_val": 2,
        "n_test": 2,
        "seed": 42,
    }
    assert results_file.check(results_file.Metrics, written, "metrics.json") == written


def test_text_from_the_results_cannot_break_the_tables() -> None:
    """A text field of results.json (rtl.json's synth.reason) with `|` and line breaks stayed as it was in the
    markdown table: columns split, and a `## heading` of its own began. Each cell now stays one cell on its line;
    in LaTeX, a blank line (which would end the tabular's paragraph) becomes a space too."""
    spec = load_file(SPECS / "digits_qap.qap").spec
    assert spec is not None
    reason = "yosys failed | LUT | 0 |\n\n## injected heading\r\nmore\\|"
    rtl = {"n_rows": 45, "agreement": {"argmax": 45, "fraction": 1.0}, "synth": {"requested": True, "ran": False, "reason": reason}}
    rep = report.build(spec, {"metrics": {"accuracy": 0.9}, "firmware": {}, "rtl": rtl})
    md = report.to_markdown(rep)
    assert not [ln for ln in md.splitlines() if "injected" in ln and not ln.startswith("| Yosys synthesis |")]
    row = next(ln for ln in md.splitlines() if ln.startswith("| Yosys synthesis |"))
    cells = re.split(r"(?<!\\)\|", row.replace("\\\\", ""))  # column breaks: pipes not escaped
    assert len(cells) == 4 and "yosys failed \\| LUT \\| 0 \\| ## injected heading more" in row, row
    tex = report.to_latex(rep)
    line = next(ln for ln in tex.splitlines() if "yosys failed" in ln)
    assert "injected heading more" in line and "\n\n" not in tex.split("yosys failed")[1].split("\\\\")[0]
