"""qapc sweep: expansion of axes into points, tables and plots, a real sweep killed and resumed, a search's budget."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from sweep_support import QAPC, check_point_dir, load_study, point_keys, tiny_study, trials_by_point

from qapdsl import ir
from qapdsl.loader import load_file, load_text
from qapdsl.sweep import expand, report, table, view
from qapdsl.sweep import study as st
from qapdsl.sweep.study import queue as st_queue

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def _spec(path: Path) -> ir.Spec:
    loaded = load_file(path)
    assert loaded.ok and loaded.spec is not None, [d.message for d in loaded.diagnostics]
    return loaded.spec


# -- expansion ----------------------------------------------------------------------------------


def test_digits_sweep_expands_to_checked_variants() -> None:
    spec = _spec(SPECS / "digits_sweep.qap")
    assert spec.sweep is not None
    points = expand.expand_sweep(spec.sweep, spec)
    got = [(p.params["quant.bits"], p.params["prune.rounds"]) for p in points]
    assert got == [(4, 0), (4, 4), (6, 0), (6, 4), (8, 0), (8, 4)]
    for p in points:
        bits, rounds = p.params["quant.bits"], p.params["prune.rounds"]
        q = p.spec.model.quant
        assert q.weights is not None and q.weights.width == bits and q.activations is not None and q.activations.width == bits
        assert p.spec.prune is not None and p.spec.prune.schedule.rounds == rounds
        assert p.spec.sweep is None and p.spec.search is None
        assert p.spec.train == spec.train  # only the swept settings change
    keys = [p.key for p in points]
    assert len(set(keys)) == len(keys)
    # the same points, keys and order in another process and from a fresh load
    again = expand.expand_sweep(spec.sweep, _spec(SPECS / "digits_sweep.qap"))
    assert [p.key for p in again] == keys


def test_jet_sweep_is_the_papers_grid() -> None:
    spec = _spec(SPECS / "jet_sweep.qap")
    assert spec.sweep is not None
    points = expand.expand_sweep(spec.sweep, spec)
    assert len(points) == 6 * 4
    assert {p.params["quant.bits"] for p in points} == {4, 6, 8, 12, 16, 32}
    assert {p.params["prune.rounds"] for p in points} == {0, 4, 8, 11}
    for p in points:
        out = next(layer for layer in p.spec.model.layers if layer.name == "out")
        assert out.quant.weights is not None and (out.quant.weights.width, out.quant.weights.integer) == (8, 2)  # the per-layer override stays
        assert p.spec.model.quant.weights is not None and p.spec.model.quant.weights.width == p.params["quant.bits"]
        assert p.spec.prune is not None and p.spec.prune.skip == ("out",)
    assert len({p.key for p in points}) == 24


def test_point_keys_depend_on_settings_only() -> None:
    a = expand.point_key({"quant.bits": 4, "prune.rounds": 0})
    b = expand.point_key({"prune.rounds": 0, "quant.bits": 4})
    c = expand.point_key({"quant.bits": 4, "prune.rounds": 1})
    assert a.split("-")[-1] == b.split("-")[-1] != c.split("-")[-1]  # the hash: sorted settings
    assert a == expand.point_key({"quant.bits": 4, "prune.rounds": 0}) != c
    assert a.startswith("bits4_rounds0-")  # the readable part follows the axes' order


def test_quantizer_axis_values_become_tokens(tmp_path: Path) -> None:
    text = (SPECS / "digits_qap.qap").read_text() + "\nsweep { quant.weights in [fixed<4,1>, fixed<8,2>]; fc1.units in [8, 16] }\n"
    loaded = load_text(text, str(tmp_path / "s.qap"), base_dir=SPECS)
    assert loaded.ok and loaded.spec is not None and loaded.spec.sweep is not None, [d.message for d in loaded.diagnostics]
    points = expand.expand_sweep(loaded.spec.sweep, loaded.spec)
    assert [p.params["quant.weights"] for p in points] == ["fixed<4,1>", "fixed<4,1>", "fixed<8,2>", "fixed<8,2>"]
    assert [p.spec.model.layers[0].units for p in points] == [8, 16, 8, 16]
    w = points[3].spec.model.quant.weights
    assert w is not None and (w.kind, w.width, w.integer, w.signed) == ("fixed", 8, 2, True)


def test_a_variant_that_does_not_check_is_reported(tmp_path: Path) -> None:
    # reuse 7 is valid for no layer of 64→32→32→10; every point is re-checked, not only the axis path
    spec = tmp_path / "bad.qap"
    spec.write_text('import "' + str(SPECS / "digits_qap.qap") + '"\nsweep { target.reuse in [1, 7] }\n')
    r = subprocess.run([*QAPC, "sweep", str(spec), "--list"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "with target.reuse = 7" in r.stderr and "E306" in r.stderr  # found by `qapc check`, caret at the 7


def test_fingerprint_ignores_where_the_spec_is(tmp_path: Path) -> None:
    spec = _spec(SPECS / "digits_sweep.qap")
    for name in ("digits_float.qap", "digits_qap.qap", "digits_sweep.qap"):
        (tmp_path / name).write_text((SPECS / name).read_text())
    moved = _spec(tmp_path / "digits_sweep.qap")
    assert expand.fingerprint(spec, epochs=None) == expand.fingerprint(moved, epochs=None)
    assert expand.fingerprint(spec, epochs=None) != expand.fingerprint(spec, epochs=2)


# -- tables and plots --------------------------------------------------------------------------


ROWS = [
    {"trial": 0, "point": "a", "state": "complete", "quant.bits": 4, "bits": 4.0, "bops": 1000.0, "accuracy": 0.70, "sparsity": 0.5},
    {"trial": 1, "point": "b", "state": "complete", "quant.bits": 4, "bits": 4.0, "bops": 3000.0, "accuracy": 0.60, "sparsity": 0.0},
    {"trial": 2, "point": "c", "state": "complete", "quant.bits": 8, "bits": 8.0, "bops": 2000.0, "accuracy": 0.80, "sparsity": 0.5},
    {"trial": 3, "point": "d", "state": "complete", "quant.bits": 8, "bits": 8.0, "bops": 5000.0, "accuracy": 0.80, "sparsity": 0.0},
    {"trial": 4, "point": "e", "state": "failed", "label": "quant.bits=16", "quant.bits": 16, "error": "step 'train' failed: x_y"},
]


def _view(rows: list[dict[str, object]]) -> view.View:
    spec = _spec(SPECS / "digits_sweep.qap")
    assert spec.sweep is not None
    return view.make(spec, spec.sweep, rows, None, "t")


def test_pareto_front() -> None:
    assert [r["point"] for r in _view(ROWS).front()] == ["a", "c"]


def test_csv_markdown_latex() -> None:
    v = _view(ROWS)
    rows = list(csv.DictReader(io.StringIO(table.to_csv(v))))
    assert [r["point"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert [r["pareto"] for r in rows] == ["1", "0", "1", "0", "0"]
    assert rows[4]["state"] == "failed" and rows[4]["error"].startswith("step 'train'")
    assert float(rows[2]["accuracy"]) == 0.80
    md = table.to_markdown(v)
    assert md.count("★") == 2 and "1 point failed" in md and "| 1,000 |" in md
    tex = report.to_latex(v)
    assert "\\begin{tabular}{rrrrrrc}" in tex and "50.0" in tex and "\\textbf{1{,}000}" in tex


def test_plots_are_deterministic(tmp_path: Path) -> None:
    from qapdsl.sweep import plots

    a, b = tmp_path / "a", tmp_path / "b"
    plots.write_pareto(_view(ROWS), a)
    plots.write_pareto(_view(ROWS), b)
    assert (a / "pareto.svg").read_bytes() == (b / "pareto.svg").read_bytes()
    assert (a / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (a / "pareto.svg").read_text()
    assert "<dc:date>" not in svg
    ET.fromstring(svg)


# -- a real sweep, killed and resumed -------------------------------------------------------


def _wait_for(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.integration
def test_real_sweep_killed_and_resumed(tmp_path: Path) -> None:
    """4 points, 2 jobs: kill the whole sweep (SIGKILL) while one point is done and another runs, then resume.

    Afterwards every point has exactly one result, the points done before the kill were
    not rerun, the ones running were; every point's folder, sweep.csv, the tables and
    the plots are checked.
    """
    from optuna.trial import TrialState

    spec = tiny_study(tmp_path, "    quant.bits in [4, 8]\n    prune.rounds in [0, 1]")
    out = tmp_path / "out"
    storage = f"sqlite:///{out / 'study.db'}"
    cmd = [*QAPC, "sweep", str(spec), "-o", str(out), "--jobs", "2", "--epochs", "1"]
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(cmd, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def done_and_running() -> bool:
        if first.poll() is not None or not (out / "study.db").exists():
            return first.poll() is not None
        try:
            states = [t.state for t in load_study(storage).get_trials(deepcopy=False)]
        except Exception:
            return False
        return TrialState.COMPLETE in states and TrialState.RUNNING in states

    _wait_for(done_and_running, 400, "a finished and a running point")
    assert first.poll() is None, (tmp_path / "first.log").read_text()
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()

    study = load_study(storage)
    before = {t.user_attrs["qapc_point"]: t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE}
    killed = {t.user_attrs["qapc_point"] for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING}
    assert before and killed
    stamps = {k: (out / "points" / k / "point.json").stat().st_mtime_ns for k in before}

    second = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "requeued" in second.stderr

    study = load_study(storage)
    by_point = trials_by_point(study)
    keys = point_keys(spec)
    assert len(keys) == 4 and set(by_point) == set(keys)
    assert not study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    summaries = {}
    for key in keys:
        complete = [t for t in by_point[key] if t.state == TrialState.COMPLETE]
        assert len(complete) == 1, f"{key}: {len(complete)} results"
        if key in before:  # done before the kill: not rerun
            assert complete[0].number == before[key].number
            assert (out / "points" / key / "point.json").stat().st_mtime_ns == stamps[key]
        if key in killed:  # running at the kill: failed, then rerun
            assert any(t.state == TrialState.FAIL for t in by_point[key])
            assert complete[0].number > min(t.number for t in by_point[key])
        summaries[key] = check_point_dir(out / "points" / key, key)
        assert complete[0].user_attrs["qapc_summary"] == summaries[key]
        assert complete[0].values == [summaries[key]["accuracy"], summaries[key]["bops"]]  # a sweep's default objectives
    assert sorted(p.name for p in (out / "points").iterdir()) == sorted(keys)

    rows = list(csv.DictReader(io.StringIO((out / "sweep.csv").read_text())))
    assert sorted(r["point"] for r in rows) == sorted(keys)
    for r in rows:
        s = summaries[r["point"]]
        assert r["state"] == "complete"
        assert float(r["accuracy"]) == s["accuracy"] and float(r["bops"]) == s["bops"] and float(r["bits"]) == float(r["quant.bits"])
    assert sum(r["pareto"] == "1" for r in rows) >= 1
    md = (out / "sweep.md").read_text()
    assert md.count("\n| ") == 1 + 4  # header + one line per point
    assert "\\begin{tabular}" in (out / "sweep.tex").read_text()
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (out / "pareto.svg").read_bytes()
    ET.fromstring(svg)
    assert b"Pareto front" in svg and b"4 bits" in svg and b"8 bits" in svg

    # a third run finds nothing to do; --report rewrites identical files from the storage
    third = subprocess.run([*cmd, "--report"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0, third.stderr
    assert (out / "pareto.svg").read_bytes() == svg
    assert len(load_study(storage).get_trials(deepcopy=False)) == len(study.get_trials(deepcopy=False))


# -- a search: the trials budget and the BOPs budget --------------------------------------------


def test_search_counts_over_budget_trials_without_training(tmp_path: Path) -> None:
    """A budget only the cheapest corner meets (8 units, 10 rounds: 24,385 BOPs; the budget 24,400): every sampled point is over it, each
    trial is refused before training, and exactly `trials` are made (without the two axes' sampler drawing that corner)."""
    axes = "fc1.units in 8..64; prune.rounds in 0..10"
    text = (SPECS / "digits_qap.qap").read_text() + f"\nsearch {{ objective maximize accuracy; budget bops 24400; trials 5; sampler random; {axes} }}\n"
    spec = tmp_path / "s.qap"
    for name in ("digits_float.qap",):
        (tmp_path / name).write_text((SPECS / name).read_text())
    spec.write_text(text)
    out = tmp_path / "out"
    r = subprocess.run([*QAPC, "sweep", str(spec), "-o", str(out), "--jobs", "2"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr  # no trial could complete
    study = load_study(f"sqlite:///{out / 'study.db'}")
    counted = [t for t in study.get_trials(deepcopy=False) if "qapc_discarded" not in t.user_attrs]
    assert len(counted) == 5
    assert all(t.user_attrs["qapc_over_budget"]["bops"] > 24400 for t in counted)
    assert all(8 <= t.params["fc1.units"] <= 64 for t in counted)
    assert not (out / "points").exists()  # nothing was trained
    rows = list(csv.DictReader(io.StringIO((out / "sweep.csv").read_text())))
    assert len(rows) == 5 and all(r["state"] == "failed" and "over the budget: BOPs" in r["error"] for r in rows)
    assert json.loads(json.dumps(study.user_attrs))["qapc_kind"] == "search"


def test_progress_display_shows_the_study_and_each_worker() -> None:
    from qapdsl.sweep.progress import Display, describe
    from qapdsl.sweep.study import Status

    assert describe({"stage": "train", "round": 1, "rounds": 4, "epoch": 2, "epochs": 3, "accuracy": 0.5}) == "train round 1/4 epoch 2/3 accuracy 0.500"
    log = io.StringIO()
    d = Display("tiny sweep", 2, stream=log, live=False)
    d.set_status(Status(total=4, done=1, running=1))
    d.event({"worker": 0, "event": "start", "label": "quant.bits=4", "trial": 3})
    d.event({"worker": 0, "event": "progress", "label": "quant.bits=4", "stage": "train", "epoch": 1, "epochs": 2})
    d.event({"worker": 1, "event": "failed", "label": "quant.bits=8", "error": "step 'train' failed: boom"})
    assert "start  quant.bits=4 (trial 3) (1/4 done, 1 running)" in log.getvalue()
    assert "FAILED quant.bits=8: step 'train' failed: boom" in log.getvalue()
    tty = io.StringIO()
    live = Display("tiny sweep", 2, stream=tty, live=True)
    live.set_status(Status(total=4, done=2, running=2))
    live.event({"worker": 1, "event": "progress", "label": "quant.bits=6", "stage": "convert"})
    live.close()
    last = tty.getvalue().rsplit("\x1b[J", 1)[-1]
    assert "tiny sweep: 2/4 done, 2 running" in last and "[2] quant.bits=6: convert" in last and "[1] idle" in last


# -- the queue: stale trials, duplicates (no training: trials are popped and left as a killed worker would) --


def _job(tmp_path: Path, heartbeat: int = 10, grace: int = 60) -> tuple[st.Job, list[expand.Point]]:
    spec = _spec(SPECS / "digits_sweep.qap")
    assert spec.sweep is not None
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    job = st.Job(kind="sweep", spec_json=spec.model_dump_json(), storage=storage, study_name="s", out_dir=str(tmp_path), heartbeat=heartbeat, grace=grace)
    return job, expand.expand_sweep(spec.sweep, spec)


def test_a_trial_whose_heartbeat_stopped_is_failed_and_requeued(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    job, points = _job(tmp_path, heartbeat=1, grace=2)
    study = st.prepare(job, points)
    storage = st.make_storage(job)
    assert len(study.get_trials(states=(TrialState.WAITING,))) == 6
    killed = st.pop_trial(study, job, storage)
    assert killed is not None  # RUNNING with one heartbeat, then nobody beats: its worker "died"
    point = study.get_trials()[killed.number].user_attrs["qapc_point"]
    other = st.pop_trial(study, job, storage)
    assert other is not None and study.get_trials()[killed.number].state == TrialState.RUNNING  # within the grace period
    time.sleep(3.5)
    st.pop_trial(study, job, storage)
    trials = study.get_trials()
    assert trials[killed.number].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].user_attrs["qapc_point"] == point and retries[0].params == trials[killed.number].params
    # the other popped trial is stale by now too; a new run of the same study (owner) adds nothing twice
    st.prepare(job, points)
    live = [t for t in study.get_trials() if t.state in (TrialState.WAITING, TrialState.RUNNING)]
    keys = [t.user_attrs["qapc_point"] for t in live]
    assert sorted(keys) == sorted({p.key for p in points}) and len(keys) == len(set(keys))


def test_a_duplicate_of_a_running_point_is_discarded(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    job, points = _job(tmp_path)
    study = st.prepare(job, points[:1])
    study.enqueue_trial(points[0].params, user_attrs={"qapc_point": points[0].key})  # as a race between two workers could
    storage = st.make_storage(job)
    first = st.pop_trial(study, job, storage)
    second = st.pop_trial(study, job, storage)
    assert first is not None and second is not None
    assert st_queue._duplicate_of(study, first, points[0].key) is None  # the older one runs
    events: list[dict[str, object]] = []
    assert st.run_trial(study, second, job, storage, events.append) == "discarded"
    assert events[-1]["of"] == first.number
    t = study.get_trials()[second.number]
    assert t.state == TrialState.FAIL and "qapc_discarded" in t.user_attrs  # FAIL: samplers ignore it
    assert st.sweep_status(study, points[:1]).running == 1
    assert not (tmp_path / "points").exists()


@pytest.mark.integration
def test_real_search_with_tpe(tmp_path: Path) -> None:
    """A TPE search over a layer width and a log-scaled learning rate: 2 trials, 2 jobs, each trained and converted."""
    from optuna.trial import TrialState

    axes = "    objective maximize accuracy\n    trials 2\n    sampler tpe\n    fc1.units in 4..12\n    train.lr in 0.001..0.05\n    log train.lr"
    spec = tiny_study(tmp_path, axes, block="search")
    out = tmp_path / "out"
    r = subprocess.run([*QAPC, "sweep", str(spec), "-o", str(out), "--jobs", "2", "--epochs", "1"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    study = load_study(f"sqlite:///{out / 'study.db'}")
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    assert len(done) == 2 and len({t.user_attrs["qapc_point"] for t in done}) == 2
    for t in done:
        assert 4 <= t.params["fc1.units"] <= 12 and 0.001 <= t.params["train.lr"] <= 0.05
        summary = check_point_dir(out / "points" / t.user_attrs["qapc_point"], t.user_attrs["qapc_point"])
        assert t.value == summary["accuracy"]
        built = json.loads((out / "points" / t.user_attrs["qapc_point"] / "manifest.json").read_text())["ir"]
        assert built["model"]["layers"][0]["units"] == t.params["fc1.units"]  # what was sampled was built
        assert built["train"]["lr"] == t.params["train.lr"]
    best = max(done, key=lambda t: t.value or 0.0)
    assert f"best trial {best.number}: value {best.value:.4f}" in r.stdout
    rows = list(csv.DictReader(io.StringIO((out / "sweep.csv").read_text())))
    assert len(rows) == 2 and all(row["state"] == "complete" for row in rows)


def test_a_spec_without_sweep_or_search_is_a_usage_error(tmp_path: Path) -> None:
    r = subprocess.run([*QAPC, "sweep", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "o")], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "has no sweep { ... } or search { ... } block" in r.stderr
    r = subprocess.run([*QAPC, "sweep", str(SPECS / "digits_sweep.qap"), "--jobs", "0"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "--jobs" in r.stderr


# -- a search's repeat proposals and the number of workers ------------------------------------------


def _search_job(tmp_path: Path, axes: str, trials: int, seed: int = 0) -> st.Job:
    spec = tmp_path / "s.qap"
    (tmp_path / "digits_float.qap").write_text((SPECS / "digits_float.qap").read_text())
    (tmp_path / "digits_qap.qap").write_text((SPECS / "digits_qap.qap").read_text())
    spec.write_text(f'import "digits_qap.qap"\n\nsearch {{\n    objective maximize accuracy\n    trials {trials}\n    sampler random\n{axes}\n}}\n')
    loaded = load_file(spec)
    assert loaded.ok and loaded.spec is not None, [d.message for d in loaded.diagnostics]
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    return st.Job(kind="search", spec_json=loaded.spec.model_dump_json(), storage=storage, study_name="s", out_dir=str(tmp_path), seed=seed, block="search")


def _take(study: object, job: st.Job, events: list[dict[str, object]]) -> list[str]:
    """Ask for trials as a worker does and complete each at once (as if trained, without training): the points run."""
    ran = []
    while (trial := st_queue._ask_new(study, job, job.study_block().trials, events.append)) is not None:  # type: ignore[attr-defined]
        key = trial.user_attrs["qapc_point"]
        trial.set_user_attr("qapc_summary", {"accuracy": 0.5})
        study.tell(trial, [0.5])  # type: ignore[attr-defined]
        ran.append(key)
    return ran


def test_a_repeat_proposal_does_not_use_up_the_trials(tmp_path: Path) -> None:
    """A resumed search whose sampler proposes again the points its first run ran (the same seed: the same proposals)
    reuses their results without counting them: the study ends with `trials` distinct points."""
    job = _search_job(tmp_path, "    fc1.units in 8..64\n    fc2.units in 8..64", trials=4)
    study = st.prepare(job, [])
    first = []
    for _ in range(2):  # the first run: 2 points, then it is stopped
        trial = st_queue._ask_new(study, job, 4, lambda ev: None)
        assert trial is not None
        trial.set_user_attr("qapc_summary", {"accuracy": 0.5})
        study.tell(trial, [0.5])
        first.append(trial.user_attrs["qapc_point"])
    resumed = st.prepare(job, [])  # a new sampler with the same seed: it proposes the same 2 points first
    events: list[dict[str, object]] = []
    ran = _take(resumed, job, events)
    assert len(ran) == 2 and not set(ran) & set(first)  # the replayed proposals were neither run nor counted
    assert [e["event"] for e in events].count("same") == 2
    status = st.search_status(resumed, 4)
    assert status.done == 4 and status.ended is None
    rows = st.collect_rows(resumed, None)
    assert len(rows) == 4 and len({r["point"] for r in rows}) == 4


def test_a_search_space_smaller_than_its_trials_ends_and_says_why(tmp_path: Path) -> None:
    job = _search_job(tmp_path, "    fc1.units in [8, 12, 16]", trials=5)
    study = st.prepare(job, [])
    events: list[dict[str, object]] = []
    ran = _take(study, job, events)
    assert sorted(ran) == sorted(set(ran)) and len(ran) == 3  # every point once, then no more trials
    status = st.search_status(study, 5)
    assert status.done == 3 and status.ended is not None and "it has 3 points, fewer than the 5 trials" in status.ended
    assert any(e["event"] == "ended" for e in events)
    assert st_queue._ask_new(study, job, 5, events.append) is None


def test_workers_are_capped_at_what_can_run() -> None:
    from qapdsl.commands.sweep import worker_count

    assert worker_count(2, 10, 4) == (2, None)
    n, why = worker_count(64, 5, 2)
    assert n == 2 and why == "--jobs 64: starting 2 workers, this machine has 2 cores"
    n, why = worker_count(8, 3, 16)
    assert n == 3 and why == "--jobs 8: starting 3 workers, only 3 points left to run"
    assert worker_count(4, 0, 8) == (1, "--jobs 4: starting 1 worker, 0 points left to run")  # tables still get written


def test_absurd_jobs_are_refused(tmp_path: Path) -> None:
    r = subprocess.run([*QAPC, "sweep", str(SPECS / "digits_sweep.qap"), "--jobs", "1000000", "--list"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "--jobs 1,000,000 is more worker processes than qapc starts (at most 256" in r.stderr and "Traceback" not in r.stderr


def test_jobs_beyond_the_trials_start_no_more_workers(tmp_path: Path) -> None:
    """3 trials refused before training (over the budget) with --jobs 8: at most 3 workers, and the command says so."""
    text = (SPECS / "digits_qap.qap").read_text() + "\nsearch { budget bops 24400; trials 3; sampler random; fc1.units in 8..64; prune.rounds in 0..10 }\n"
    (tmp_path / "digits_float.qap").write_text((SPECS / "digits_float.qap").read_text())
    (tmp_path / "s.qap").write_text(text)
    r = subprocess.run([*QAPC, "sweep", "s.qap", "-o", "out", "--jobs", "8", "--json"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    workers = {json.loads(line).get("worker") for line in r.stdout.splitlines()} - {None}
    from qapdsl.commands.sweep import cores

    expected = min(3, cores())
    assert len(workers) <= expected and f"--jobs 8: starting {expected} worker" in r.stderr, r.stderr
