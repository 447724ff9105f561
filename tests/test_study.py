"""Studies that answer the paper's question: multi-objective fronts and hypervolumes, repeats over seeds,
budgets as constraints, the baseline, the study keys of the language, and the tables and report of a study.

No training here (tests/test_study_run.py runs real studies)."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import statistics
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sweep_support import QAPC, load_study

from qapdsl import ir, objectives, paths
from qapdsl.loader import load_file, load_text
from qapdsl.sweep import front, plots, repeats, report, table, view

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
MAX, MIN = "maximize", "minimize"


def _spec(path: Path) -> ir.Spec:
    loaded = load_file(path)
    assert loaded.ok and loaded.spec is not None, [d.message for d in loaded.diagnostics]
    return loaded.spec


# -- fronts and hypervolumes ----------------------------------------------------------------------


def test_dominance_and_front() -> None:
    pts = [(0.9, 100.0), (0.8, 50.0), (0.85, 120.0), (0.9, 100.0), (0.7, 50.0), (0.95, 400.0)]
    d = [MAX, MIN]
    assert front.dominates(pts[0], pts[2], d) and not front.dominates(pts[0], pts[3], d)  # equal points: neither
    assert front.dominates(pts[1], pts[4], d)  # same cost, more accuracy
    assert front.front(pts, d) == [0, 1, 3, 5]


def test_hypervolume_by_hand() -> None:
    d = [MAX, MIN]
    ref = (0.5, 1000.0)
    # maximise accuracy above 0.5, minimise BOPs below 1000: rectangles by hand
    #   (0.9, 100): [100, 1000] x [0.5, 0.9] = 900 * 0.4 = 360
    #   (0.8, 50) adds [50, 100] x [0.5, 0.8] = 50 * 0.3 = 15
    #   (0.95, 400) adds [400, 1000] x [0.9, 0.95] = 600 * 0.05 = 30
    pts = [(0.9, 100.0), (0.8, 50.0), (0.95, 400.0), (0.6, 900.0), (0.4, 10.0)]  # (0.6, 900) dominated; (0.4, 10) below the reference
    assert front.hypervolume(pts, ref, d) == pytest.approx(405.0)
    assert front.hypervolume([], ref, d) == 0.0
    assert front.box(ref, (1.0, 0.0), d) == pytest.approx(500.0)
    # three objectives: two boxes of 1 x 1 x 1 overlapping in a 1 x 1 x 0.5 slab
    d3 = [MIN, MIN, MIN]
    assert front.hypervolume([(0.0, 1.0, 0.0), (1.0, 0.0, 0.5)], (2.0, 2.0, 1.0), d3) == pytest.approx(2 * 1 * 1 + 1 * 1 * 0.5)


def test_hypervolume_agrees_with_optunas() -> None:
    import numpy as np
    from optuna._hypervolume import compute_hypervolume

    rng = random.Random(3)
    for dims in (2, 3):
        for _ in range(20):
            pts = [tuple(rng.random() for _ in range(dims)) for _ in range(rng.randint(1, 12))]
            ref = tuple(1.0 for _ in range(dims))
            ours = front.hypervolume(pts, ref, [MIN] * dims)
            theirs = compute_hypervolume(np.array(pts), np.array(ref))
            assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


# -- repeats ---------------------------------------------------------------------------------------


def test_aggregate_is_mean_and_sample_std() -> None:
    rng = random.Random(5)
    runs = [{"accuracy": rng.random(), "bops": rng.uniform(1e4, 1e5), "seed": float(s)} for s in range(5)]
    out = repeats.aggregate(runs)
    assert out["n"] == 5
    assert out["accuracy"] == pytest.approx(statistics.fmean(r["accuracy"] for r in runs))
    assert out["accuracy_std"] == pytest.approx(statistics.stdev(r["accuracy"] for r in runs))
    mean = sum(r["bops"] for r in runs) / 5
    assert out["bops_std"] == pytest.approx(math.sqrt(sum((r["bops"] - mean) ** 2 for r in runs) / 4))
    assert "seed" not in out
    one = repeats.aggregate(runs[:1])
    assert one["accuracy"] == runs[0]["accuracy"] and one["accuracy_std"] is None and one["n"] == 1
    partial = repeats.aggregate([{"auc": 0.9}, {"auc": None}])
    assert partial["auc"] is None and partial["n"] == 2  # not a mean over fewer runs than the others


def test_seeds_and_run_folders(tmp_path: Path) -> None:
    spec = _spec(SPECS / "digits_search.qap")
    assert repeats.seeds(spec, spec, 3) == [7, 8, 9]
    assert repeats.seeds(spec, spec, 1) == [7]
    assert repeats.seeds(spec, spec, 1, baseline=True) == [7]
    assert repeats.run_dir(tmp_path, 8, 3) == tmp_path / "seed8" and repeats.run_dir(tmp_path, 7, 1) == tmp_path


# -- the language ---------------------------------------------------------------------------------

STUDY = """import "digits_qap.qap"

search {{
{body}
    fc1.units in 12..40
}}
"""


def _load(tmp_path: Path, body: str, **files: str) -> Any:
    for name in ("digits_float.qap", "digits_qap.qap"):
        (tmp_path / name).write_text((SPECS / name).read_text())
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "s.qap").write_text(STUDY.format(body=body))
    return load_file(tmp_path / "s.qap")


def test_study_keys_lower_to_the_ir(tmp_path: Path) -> None:
    body = (
        "    objective maximize accuracy, minimize bops, minimize memory\n"
        "    budget bops 1e5, params 3000\n"
        "    repeat 3\n"
        '    baseline "digits_float.qap"\n'
        "    reference accuracy 0.5\n"
        "    sampler nsga2\n"
        "    population 6\n"
        "    trials 30"
    )
    loaded = _load(tmp_path, body)
    assert loaded.ok, [str(d.message) for d in loaded.diagnostics]
    s = loaded.spec.search
    assert [(o.direction, o.metric) for o in s.objectives] == [(MAX, "accuracy"), (MIN, "bops"), (MIN, "memory")]
    assert s.budgets == {"bops": 1e5, "params": 3000.0} and s.repeat == 3 and s.sampler == "nsga2" and s.population == 6
    assert s.baseline.spec is not None and s.baseline.spec.model.name == "digits_float" and s.baseline.spec.prune is None
    assert s.baseline.spec.search is None
    # the reference: as given for accuracy; for the costs the baseline's declared figures
    ref = objectives.reference_point(s, loaded.spec)
    assert ref == {"accuracy": 0.5, "bops": 3_709_504.0, "memory": 110_912.0}
    # the IR survives its JSON round trip (what worker processes receive)
    assert ir.Spec.model_validate_json(loaded.spec.model_dump_json()) == loaded.spec


def test_defaults_of_sweeps_and_searches(tmp_path: Path) -> None:
    spec = _spec(SPECS / "digits_sweep.qap")
    assert spec.sweep is not None
    assert [o.metric for o in objectives.objectives(spec.sweep)] == ["accuracy", "bops"]
    loaded = _load(tmp_path, "    objective maximize auc")
    s = loaded.spec.search
    assert [o.metric for o in objectives.objectives(s)] == ["auc"]
    assert [o.metric for o in objectives.front_objectives(s)] == ["auc", "bops"]
    # without a baseline the cost reference is the spec's float, unpruned model: digits_float's figures
    assert objectives.reference_point(s, loaded.spec) == {"auc": 0.5, "bops": 3_709_504.0}
    assert objectives.population(ir.Search.model_construct(axes=(), trials=40, population=None)) == 8
    assert objectives.population(ir.Search.model_construct(axes=(), trials=1000, population=None)) == 50


def test_the_shipped_study_checks_and_keeps_its_format() -> None:
    spec = _spec(SPECS / "digits_search.qap")
    s = spec.search
    assert s is not None and s.repeat == 3 and s.trials <= 40 and len(s.objectives) == 2
    assert s.baseline is not None and s.baseline.spec is not None and s.baseline.spec.model.name == "digits_float"
    r = subprocess.run([*QAPC, "fmt", "--check", str(SPECS / "digits_search.qap")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_bit_count_keeps_the_integer_bits_of_the_quantizer_it_replaces() -> None:
    spec = _spec(SPECS / "digits_qap.qap")
    for width in (2, 5, 8):
        out = paths.apply(spec, "fc1.weights", width)
        assert out.model.layers[0].quant.weights == ir.Quant(kind="fixed", width=width, integer=1, signed=True)
        out = paths.apply(spec, "fc*.activations", width)
        acts = {layer.name: layer.quant.activations for layer in out.model.layers}
        assert acts["fc1"] == acts["fc2"] == ir.Quant(kind="fixed", width=width, integer=2, signed=False)
    # with no quantizer to keep (a float model), a bit count is `N bits int 0` as before
    flt = _spec(SPECS / "digits_float.qap")
    assert paths.apply(flt, "quant.weights", 6).model.quant.weights == ir.Quant(kind="bits", width=6, integer=0)


def test_ranges_of_per_layer_widths_and_pruning_search_cleanly(tmp_path: Path) -> None:
    """Per-layer bit widths (a glob), widths and pruning rounds as ranges: every value builds, nothing to report;
    overlapping axes and a range with values that cannot build are reported."""
    ok = _load(tmp_path, "    fc*.weights in 2..8\n    fc2.units in 8..32\n    prune.rounds in 0..10")
    assert ok.ok and not ok.diagnostics, [d.message for d in ok.diagnostics]
    overlap = _load(tmp_path, "    fc*.weights in 2..8\n    fc1.weights in 3..6")
    assert [d.code for d in overlap.diagnostics] == ["E104"] and "both set fc1.weights" in overlap.diagnostics[0].message
    interior = _load(tmp_path, "    fc1.reuse in 1..8")  # hls4ml refuses 3, 5, 6, 7 for fc1
    assert interior.ok and [d.code for d in interior.diagnostics] == ["W806"]


# -- views, tables and the report -------------------------------------------------------------------


def _row(point: str, bits: int, acc: float, bops: float, n: int = 3, budget: float = 60.0, **extra: Any) -> dict[str, Any]:
    runs = {7 + i: {"accuracy": acc + (i - 1) * 0.01, "bops": bops, "bits": float(bits), "epochs": budget - i, "epoch_budget": budget} for i in range(n)}
    agg = repeats.aggregate(list(runs.values()))
    return {"trial": int(point[1:]), "point": point, "label": f"fc1.units={point}", "state": "complete", "fc1.units": 8, "runs": runs, **agg, **extra}


def _view(
    rows: list[dict[str, Any]], baseline: dict[str, Any] | None = None, budgets: dict[str, float] | None = None, options: dict[str, Any] | None = None
) -> view.View:
    return view.View(
        title="t",
        axes=["fc1.units", "quant.bits"],
        objectives=(objectives.ACCURACY, objectives.BOPS),
        repeat=3,
        rows=rows,
        baseline=baseline,
        reference={"accuracy": 0.1, "bops": 1e6},
        budgets=budgets or {},
        baseline_name="float",
        kind="search",
        optimised=(objectives.ACCURACY, objectives.BOPS),
        options=options if options is not None else {},
    )


ROWS = [
    _row("p1", 4, 0.95, 40_000.0),
    _row("p2", 6, 0.97, 80_000.0),
    _row("p3", 8, 0.96, 90_000.0),  # dominated by p2
    _row("p4", 3, 0.99, 20_000.0, over="BOPs 20,000"),  # would dominate everything, but it is over a budget
    {"trial": 5, "point": "p5", "label": "fc1.units=9", "state": "failed", "error": "step 'train' failed: boom", "runs": {}},
]
BASE = {**_row("p0", 32, 0.97, 3_700_000.0), "point": "baseline", "label": "baseline"}


def test_front_excludes_points_over_budget_and_is_non_dominated() -> None:
    v = _view(ROWS, BASE)
    fr = v.front()
    assert [r["point"] for r in fr] == ["p1", "p2"]
    vecs = [view.vector(r, v.objectives) for r in fr]
    for a in vecs:
        assert not any(front.dominates(b, a, v.directions) for b in vecs if b is not a)  # type: ignore[arg-type]
    assert v.hypervolume() == pytest.approx(front.hypervolume([(0.95, 40_000.0), (0.97, 80_000.0)], (0.1, 1e6), v.directions))
    assert not v.beats_baseline(ROWS[0]) and v.beats_baseline(ROWS[1])  # p2: the same accuracy, fewer BOPs
    assert v.versus(ROWS[0], "bops") == pytest.approx(3_700_000 / 40_000) and v.versus(ROWS[0], "accuracy") == pytest.approx(-2.0)


def test_tables_show_mean_std_runs_and_marks() -> None:
    v = _view(ROWS, BASE)
    md = table.to_markdown(v)
    assert [line for line in md.splitlines() if line.startswith("| ")][1].startswith("| baseline (float) | 32 |")  # the first row, before the points
    assert "Run with the spec's own settings (no command-line overrides)." in md and "⚠" not in md  # equal budgets: no warning
    assert "0.9500 ± 0.0100" in md and "| 3 |" in md and md.count("★") == 2 and "over budget" in md
    assert "1 point failed" in md and "Hypervolume of the front:" in md and "92.5×" in md
    rows = list(csv.DictReader(io.StringIO(table.to_csv(v))))
    assert rows[0]["point"] == "baseline"
    by = {r["point"]: r for r in rows}
    assert by["p1"]["pareto"] == "1" and by["p3"]["pareto"] == "0" and by["p4"]["pareto"] == "0" and by["p4"]["over"]
    assert by["p2"]["beats_baseline"] == "1" and float(by["p1"]["accuracy_std"]) == pytest.approx(0.01) and by["p1"]["n"] == "3.0"
    runs = list(csv.DictReader(io.StringIO(table.runs_csv(v))))
    assert len(runs) == 3 * 5 and {r["seed"] for r in runs} == {"7", "8", "9"}
    fcsv = list(csv.DictReader(io.StringIO(table.front_csv(v))))
    assert [r["point"] for r in fcsv] == ["p1", "p2"]
    fmd = table.front_markdown(v)
    assert "1 of the 2 points on the front dominates the baseline." in fmd


def test_every_table_names_its_overrides_the_epochs_and_unequal_budgets() -> None:
    """A study run with --epochs 10 whose pruned points could train 10 + 10 per round (60) and the float baseline 10:
    every table and summary says how it was run, the epochs each row trained, and warns where it compares."""
    rows = [_row("p1", 4, 0.98, 40_000.0, budget=60.0), _row("p2", 6, 0.99, 80_000.0, budget=60.0), _row("p3", 8, 0.96, 90_000.0, budget=10.0)]
    base = {**_row("p0", 32, 0.97, 3_700_000.0, budget=10.0), "point": "baseline", "label": "baseline"}
    v = _view(rows, base, options={"epochs": 10})
    assert v.beats_baseline(rows[0])
    options = "Run with --epochs 10 (instead of the spec's epochs, for training and for every pruning round)."
    warning = "⚠ Unequal training budgets: the baseline (float) could train 10 epochs, 2 of the 3 points 60 epochs (training, then again in every pruning round)"
    md, front_md, paper = table.to_markdown(v), table.front_markdown(v), report.to_markdown(v)
    for text in (md, front_md, paper):
        assert options in text and warning in text and "the baseline trained 9 epochs and those points 59 epochs." in text, text
    assert "| epochs |" in md and "| 59 ± 1 |" in md  # each row's epochs trained: the mean over its 3 runs (± their deviation)
    assert "| epochs |" in front_md and "| BOPs | epochs |" in paper
    assert front_md.index("dominate the baseline") < front_md.rindex(warning)  # also where the comparison is said
    tex = report.to_latex(v)
    assert "Run with -{}-epochs 10" in tex and "Unequal training budgets" in tex and "⚠" not in tex and "Δ" not in tex  # not an en dash
    data = json.loads(report.to_json(v))
    assert data["options"] == {"epochs": 10} and data["warnings"] == [w for w in v.warnings()] and len(data["warnings"]) == 1
    assert data["front"][0]["epochs"] == pytest.approx(59.0) and data["baseline"]["epoch_budget"] == 10.0
    by = {r["point"]: r for r in csv.DictReader(io.StringIO(table.to_csv(v)))}
    assert by["p1"]["epochs"] == "59.0" and by["p1"]["epoch_budget"] == "60.0" and by["baseline"]["epoch_budget"] == "10.0"
    assert {r["options"] for r in by.values()} == {"--epochs 10"}
    runs = list(csv.DictReader(io.StringIO(table.runs_csv(v))))
    assert {r["epochs"] for r in runs if r["point"] == "p1"} == {"60.0", "59.0", "58.0"} and {r["options"] for r in runs} == {"--epochs 10"}
    # the same budgets: no warning; a study whose runs recorded no epochs (an older qapc) says it cannot tell
    equal = _view([rows[2]], base, options={})
    assert equal.warnings() == [] and "no command-line overrides" in table.to_markdown(equal)
    old = _view([{k: x for k, x in rows[0].items() if k != "epoch_budget"}], base)
    old.options = None
    assert "not recorded" in old.warnings()[0] and "Run options: not recorded" in table.front_markdown(old)


def test_a_runs_summary_has_the_epochs_it_trained_and_could_train() -> None:
    """metrics.json's epochs (the total over the pruning rounds) and the budget: train.epochs plus each round's epochs,
    all of them `--epochs` when it is given (the generated train.py's rule)."""
    from qapdsl.sweep import summary

    qap, flt = _spec(SPECS / "digits_qap.qap"), _spec(SPECS / "digits_float.qap")  # 60 epochs; 8 rounds of 30
    results = {"metrics": {"epochs": 123, "accuracy": 0.9}, "overrides": {"epochs": None}}
    s = summary.summarize(qap, results)
    assert s["epochs"] == 123.0 and s["epoch_budget"] == 60 + 8 * 30
    assert summary.summarize(qap, {**results, "overrides": {"epochs": 10}})["epoch_budget"] == 10 + 8 * 10
    assert summary.summarize(flt, {**results, "overrides": {"epochs": 10}})["epoch_budget"] == 10
    assert summary.summarize(flt, {})["epochs"] is None and summary.epoch_budget(flt) == 60


def test_paper_table_markdown_latex_json() -> None:
    v = _view(ROWS, BASE)
    md = report.to_markdown(v)
    assert "| bits | pruning rounds |" in md and "95.00 ± 1.00" in md and "★✓" in md and "baseline" in md
    tex = report.to_latex(v)
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex and "\\hline" not in tex
    assert "95.00 $\\pm$ 1.00" in tex and "\\textbf{" in tex and "$\\star$\\dag" in tex and "3{,}700{,}000" in tex
    data = json.loads(report.to_json(v))
    assert [p["point"] for p in data["front"]] == ["p1", "p2"] and data["baseline"]["name"] == "float"
    assert data["front"][1]["beats_baseline"] is True and data["hypervolume"] == pytest.approx(v.hypervolume())


def test_plots_are_deterministic_with_error_bars(tmp_path: Path) -> None:
    v = _view(ROWS, BASE, budgets={"bops": 50_000.0})
    plots.write_pareto(v, tmp_path / "a")
    plots.write_pareto(v, tmp_path / "b")
    svg = (tmp_path / "a" / "pareto.svg").read_bytes()
    assert svg == (tmp_path / "b" / "pareto.svg").read_bytes()
    assert b"baseline (float)" in svg and b"over budget" in svg and b"budget (50,000)" in svg and b"mean" in svg


def test_budget_constraints_for_optuna() -> None:
    import optuna

    f = objectives.over_budget({"bops": 100.0, "params": 10.0}, {"bops": 150.0, "params": 5.0})
    assert f == {"bops": 150.0}
    from qapdsl.sweep import study as st

    values = st.constraints({"bops": 100.0, "params": 10.0})
    t = optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, values=[1.0], user_attrs={st.ATTR_SUMMARY: {"bops": 150.0, "params": 5.0}})
    assert values(t) == [50.0, -5.0]
    t = optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, user_attrs={st.ATTR_DECLARED: {"bops": 50.0}})
    assert values(t)[0] == -50.0 and values(t)[1] > 1e100  # params not known: infeasible


def test_points_over_budget_are_refused_before_training_and_counted(tmp_path: Path) -> None:
    """A multi-objective search whose budget only its cheapest corner meets (12 units, 10 rounds: 33,464 BOPs): every
    trial is PRUNED with its constraint values, none trained."""
    spec = tmp_path / "s.qap"
    for name in ("digits_float.qap", "digits_qap.qap"):
        (tmp_path / name).write_text((SPECS / name).read_text())
    spec.write_text(
        'import "digits_qap.qap"\n\nsearch {\n    objective maximize accuracy, minimize bops\n    budget bops 33500\n    trials 4\n'
        "    sampler tpe\n    fc1.units in 12..40\n    prune.rounds in 0..10\n}\n"
    )
    out = tmp_path / "out"
    r = subprocess.run([*QAPC, "sweep", str(spec), "-o", str(out), "--jobs", "2", "--json"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    study = load_study(f"sqlite:///{out / 'study.db'}")
    counted = [t for t in study.get_trials(deepcopy=False) if "qapc_discarded" not in t.user_attrs]
    assert len(counted) == 4 and all(t.state.name == "PRUNED" for t in counted)
    assert all(t.user_attrs["qapc_over_budget"]["bops"] > 33500 for t in counted)
    assert all(t.system_attrs["constraints"][0] > 0 for t in counted)  # the sampler sees them as infeasible
    assert not (out / "points").exists()
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert sum(e["event"] == "over" for e in events) == 4 and events[-1]["event"] == "status" and events[-1]["final"]
    assert json.loads((out / "study.json").read_text())["front"] == []
    assert "No point is on the front yet" in (out / "front.md").read_text()


def test_qapc_report_on_a_spec_without_a_study_says_how(tmp_path: Path) -> None:
    r = subprocess.run([*QAPC, "report", str(SPECS / "digits_search.qap"), "-o", str(tmp_path / "none")], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "run `qapc sweep`" in r.stderr and "--layers" in r.stderr
    r = subprocess.run([*QAPC, "report", str(SPECS / "digits_search.qap"), "--layers"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and "| fc1 | dense |" in r.stdout


def test_lowering_a_study_is_the_same_after_fmt() -> None:
    text = (SPECS / "digits_search.qap").read_text()
    from qapdsl.fmt import format_text

    again = format_text(text, "digits_search.qap")
    assert again == text
    a = load_text(text, "x.qap", base_dir=SPECS)
    assert a.ok


def test_fingerprint_of_a_study_with_a_baseline_ignores_where_it_is(tmp_path: Path) -> None:
    """The baseline's IR is part of the study's fingerprint, but not the paths its files were read from."""
    from qapdsl.sweep import expand

    prints = []
    for folder in (tmp_path / "a", tmp_path / "b" / "deeper"):
        folder.mkdir(parents=True)
        for name in ("digits_float.qap", "digits_qap.qap", "digits_search.qap"):
            (folder / name).write_text((SPECS / name).read_text())
        prints.append(expand.fingerprint(_spec(folder / "digits_search.qap"), kind="search", epochs=None))
    assert prints[0] == prints[1]
    other = tmp_path / "a" / "digits_float.qap"
    other.write_text(other.read_text().replace("epochs 60", "epochs 50"))  # another baseline: another study
    assert expand.fingerprint(_spec(tmp_path / "a" / "digits_search.qap"), kind="search", epochs=None) != prints[0]


def test_progress_shows_the_front_and_json_events() -> None:
    from qapdsl.sweep.progress import Display, JsonEvents, describe
    from qapdsl.sweep.study import Status

    front = [{"point": "p1", "label": "fc1.units=12", "objectives": {"accuracy": 0.95, "bops": 40_000.0}, "std": {"accuracy": 0.01, "bops": 12.0}}]
    log = io.StringIO()
    d = Display("s", 2, stream=log, live=False)
    d.set_status(Status(total=40, done=3, running=2, failed=1, front=front, hypervolume=123.0))
    assert "front  1 point: fc1.units=12: accuracy 0.9500 ± 0.0100, bops 40,000 ± 12" in log.getvalue()
    d.event({"worker": 0, "event": "over", "label": "fc1.units=40", "error": "over budget before training: params 3,000 > 2,000"})
    assert "over   fc1.units=40: over budget before training" in log.getvalue()
    assert "3/40 done, 2 running, 1 failed, front 1 point, hypervolume 123" in d.header()
    assert describe({"stage": "train", "seed": 8, "run": 2, "runs": 3, "epoch": 1, "epochs": 5}) == "seed 8 (2/3) train epoch 1/5"
    tty = io.StringIO()
    live = Display("s", 1, stream=tty, live=True)
    live.set_status(Status(total=4, done=1, front=front))
    live.close()
    assert "  ★ fc1.units=12: accuracy 0.9500" in tty.getvalue().rsplit("\x1b[J", 1)[-1]
    out = io.StringIO()
    j = JsonEvents(out)
    j.event({"event": "start", "point": "p1", "seeds": [7, 8, 9], "reused": [7]})
    j.set_status(Status(total=4, done=1, front=front))
    j.set_status(Status(total=4, done=1, front=front))  # unchanged: not repeated
    j.close()
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["event"] for x in lines] == ["start", "status", "status"] and lines[-1]["final"] and lines[1]["front"][0]["point"] == "p1"
    assert lines[0]["reused"] == [7] and all("time" in x for x in lines)


def test_report_and_sweep_report_name_the_options_and_warn_of_unequal_budgets(tmp_path: Path) -> None:
    """A study as `qapc sweep --epochs 10` leaves it (its trials told by hand, no training): points that could train
    90 epochs, a baseline 10. `qapc report` and `qapc sweep --report` name the option and warn, as do the files."""
    from qapdsl.sweep import expand
    from qapdsl.sweep import study as st
    from qapdsl.sweep.study import queue as st_queue

    for name in ("digits_float.qap", "digits_qap.qap"):
        (tmp_path / name).write_text((SPECS / name).read_text())
    (tmp_path / "s.qap").write_text(
        'import "digits_qap.qap"\n\nsearch {\n    objective maximize accuracy, minimize bops\n    baseline "digits_float.qap"\n'
        "    trials 2\n    fc1.units in 12..40\n}\n"
    )
    spec = _spec(tmp_path / "s.qap")
    out = tmp_path / "out"
    out.mkdir()
    fp = expand.fingerprint(spec, kind="search", epochs=10, data=None, synth=False)
    job = st.Job(
        kind="search", spec_json=spec.model_dump_json(), storage=st.default_storage(out), study_name=f"digits_qap-search-{fp}",
        out_dir=str(out), block="search", options={"epochs": 10},
    )  # fmt: skip
    bjob = st.baseline_job(job)
    assert bjob is not None
    main, base = st.prepare(job, []), st.prepare(bjob, bjob.points(spec))
    trial = st.pop_trial(base, bjob, st.make_storage(bjob))
    assert trial is not None
    trial.set_user_attr(st.ATTR_SUMMARY, {"accuracy": 0.97, "bops": 3.7e6, "epochs": 10.0, "epoch_budget": 10.0, "n": 1.0})
    base.tell(trial, [0.97, 3.7e6])
    for acc in (0.98, 0.99):
        trial = st_queue._ask_new(main, job, 2, lambda ev: None)
        assert trial is not None
        trial.set_user_attr(st.ATTR_SUMMARY, {"accuracy": acc, "bops": 40_000.0, "epochs": 55.0, "epoch_budget": 90.0, "n": 1.0})
        main.tell(trial, [acc, 40_000.0])
    warning = "⚠ Unequal training budgets: the baseline (digits_float) could train 10 epochs, 2 of the 2 points 90 epochs"
    r = subprocess.run([*QAPC, "report", "s.qap", "-o", "out"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "(run with --epochs 10)" in r.stderr and "Run with --epochs 10 (instead of the spec's epochs" in r.stdout and warning in r.stdout
    r = subprocess.run([*QAPC, "sweep", "s.qap", "-o", "out", "--epochs", "10", "--report"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert warning in r.stdout and "Run with --epochs 10" in r.stdout  # the console
    for name in ("sweep.md", "front.md"):
        assert warning in (out / name).read_text() and "Run with --epochs 10" in (out / name).read_text()
    assert "Unequal training budgets" in (out / "sweep.tex").read_text()
    assert json.loads((out / "study.json").read_text())["options"] == {"epochs": 10}


def test_trials_with_figures_of_the_wrong_shape_are_left_out_and_named(tmp_path: Path) -> None:
    """A study.db whose trials hold figures qapc did not write (not an object; a text where a number goes;
    a label that is a number): `qapc report` and `qapc sweep --report` leave those trials out and name each,
    resuming the study (`prepare`) says so, and the sampler's constraints count them as unmeasured."""
    import optuna

    from qapdsl.sweep import expand
    from qapdsl.sweep import study as st
    from qapdsl.sweep.study import queue

    for name in ("digits_float.qap", "digits_qap.qap"):
        (tmp_path / name).write_text((SPECS / name).read_text())
    (tmp_path / "s.qap").write_text('import "digits_qap.qap"\n\nsearch {\n    objective maximize accuracy, minimize bops\n    trials 6\n    fc1.units in 12..40\n}\n')
    spec = _spec(tmp_path / "s.qap")
    out = tmp_path / "out"
    out.mkdir()
    fp = expand.fingerprint(spec, kind="search", epochs=None, data=None, synth=False)
    job = st.Job(kind="search", spec_json=spec.model_dump_json(), storage=st.default_storage(out), study_name=f"digits_qap-search-{fp}", out_dir=str(out), block="search")
    study = st.prepare(job, [])
    bad = {
        st.ATTR_SUMMARY: [0.9, 100.0],  # not an object
        f"{st.ATTR_SEED}1": {"accuracy": "high"},  # a text for a number
        st.ATTR_OVER: {"bops": True},
        st.ATTR_LABEL: 7,
    }
    numbers = {}
    for i, (name, value) in enumerate([(None, None), *bad.items()]):
        trial = queue._ask_new(study, job, 6, lambda ev: None)
        assert trial is not None
        numbers[name] = trial.number
        trial.set_user_attr(st.ATTR_SUMMARY, {"accuracy": 0.9 + i / 100, "bops": 40_000.0 - i, "epochs": 1.0, "epoch_budget": 1.0, "n": 1.0})
        if name is not None:
            trial.set_user_attr(name, value)
        study.tell(trial, [0.9 + i / 100, 40_000.0 - i])
    r = subprocess.run([*QAPC, "report", "s.qap", "-o", "out"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert f"Trial {numbers[st.ATTR_SUMMARY]} of study {job.study_name!r} is left out: its qapc_summary is a list, not an object of figures" in r.stdout
    assert f'Trial {numbers[st.ATTR_SEED + "1"]} of study {job.study_name!r} is left out: its qapc_seed_1["accuracy"] is a string "high", not a number' in r.stdout
    assert 'its qapc_over_budget["bops"] is a boolean true, not a number' in r.stdout and "its qapc_label is a number, not a string" in r.stdout
    assert "| 90.00 | 40,000 |" in r.stdout  # the good trial is in the table
    r = subprocess.run([*QAPC, "sweep", "s.qap", "-o", "out", "--report"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "is left out: its qapc_summary is a list" in (out / "sweep.md").read_text()
    events: list[dict[str, object]] = []
    st.prepare(job, [], emit=events.append)  # what a resumed sweep says before it runs
    assert sum(e["event"] == "malformed" for e in events) == 4
    assert [r["trial"] for r in st.collect_rows(study, None)] == [numbers[None]]
    values = st.constraints({"bops": 1e5})
    frozen = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert values(frozen[numbers[st.ATTR_SUMMARY]]) == [1e300] and values(frozen[numbers[None]]) == [40_000.0 - 1e5]
    assert isinstance(optuna.load_study(study_name=job.study_name, storage=job.storage).best_trials, list)
