"""A real multi-objective study (NSGA-II over accuracy and BOPs, 2 seeds per point, a float baseline, 2 jobs),
killed while points are half done and resumed: only the missing runs are run again, the means and standard
deviations are those of the runs' own results, the front is non-dominated and its hypervolume is the one
computed by hand from the front and the reference point.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sweep_support import QAPC, load_studies, tiny_float, tiny_study

AXES = """    objective maximize accuracy, minimize bops
    repeat 2
    baseline "tiny_float.qap"
    trials 3
    sampler nsga2
    population 2
    fc1.units in 4..12
    quant.bits in [4, 8]"""


def _half_done(storage: str) -> list[Any]:
    """RUNNING trials (of the study or its baseline's) with one of their two seeds finished."""
    try:
        studies = [s for s in load_studies(storage) if s is not None]
    except Exception:
        return []
    return [t for s in studies for t in s.get_trials(deepcopy=False) if t.state.name == "RUNNING" and any(k.startswith("qapc_seed_") for k in t.user_attrs)]


def _runs(folder: Path) -> dict[int, dict[str, Any]]:
    """The results.json of each seed of a point."""
    return {int(p.name[4:]): json.loads((p / "results.json").read_text()) for p in sorted(folder.glob("seed*"))}


@pytest.mark.integration
def test_multi_objective_study_with_repeats_killed_and_resumed(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    spec = tiny_study(tmp_path, AXES, block="search")
    tiny_float(tmp_path)
    out = tmp_path / "out"
    storage = f"sqlite:///{out / 'study.db'}"
    cmd = [*QAPC, "sweep", str(spec), "-o", str(out), "--jobs", "2", "--epochs", "1"]
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(cmd, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600
    while not _half_done(storage) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(1.0)
    assert first.poll() is None, (tmp_path / "first.log").read_text()
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()

    half = {t.user_attrs["qapc_point"]: t for t in _half_done(storage)}
    assert half, "no half-done point at the kill"
    kept = {}  # point -> {seed: mtime of its results.json}: these runs must not run again
    for key, t in half.items():
        seeds = [int(k[len("qapc_seed_") :]) for k in t.user_attrs if k.startswith("qapc_seed_")]
        kept[key] = {s: (out / "points" / key / f"seed{s}" / "results.json").stat().st_mtime_ns for s in seeds}

    second = subprocess.run([*cmd, "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    events = [json.loads(line) for line in second.stdout.splitlines()]
    for key, seeds in kept.items():
        start = [e for e in events if e["event"] == "start" and e["point"] == key]
        assert start and start[-1]["reused"] == sorted(seeds), start  # the resumed trial took the finished runs over
        ran = {e["seed"] for e in events if e["event"] == "run" and e["point"] == key}
        assert not ran & set(seeds) and len(ran) == 2 - len(seeds)  # and ran only the missing one
        for s, mtime in seeds.items():
            assert (out / "points" / key / f"seed{s}" / "results.json").stat().st_mtime_ns == mtime
    statuses = [e for e in events if e["event"] == "status"]
    assert statuses[-1]["final"] and statuses[-1]["done"] == 3 and statuses[-1]["front"]

    # every point: 2 runs (seeds 1 and 2), and its figures are the mean and sample std of those runs
    main, base = load_studies(storage)
    assert base is not None
    done = [t for t in main.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE and "qapc_same_as" not in t.user_attrs]
    baseline = [t for t in base.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    assert len(baseline) == 1 and len({t.user_attrs["qapc_point"] for t in done}) == len(done) >= 1
    for t in done + baseline:
        key = t.user_attrs["qapc_point"]
        runs = _runs(out / "points" / key)
        assert sorted(runs) == [1, 2], key
        accs = [r["report"]["measured"]["accuracy"] for r in runs.values()]
        bops = [r["report"]["totals"]["bops_measured"] for r in runs.values()]
        s = t.user_attrs["qapc_summary"]
        assert s["n"] == 2 and s["accuracy"] == pytest.approx(statistics.fmean(accs)) and s["accuracy_std"] == pytest.approx(statistics.stdev(accs))
        assert s["bops"] == pytest.approx(statistics.fmean(bops)) and list(t.values) == pytest.approx([s["accuracy"], s["bops"]])
        assert [r["metrics"]["seed"] for r in runs.values()] == [1, 2]  # the split and initialisation changed with the seed
        point = json.loads((out / "points" / key / "point.json").read_text())
        assert point["summary"] == s and sorted(point["runs"]) == ["1", "2"]

    # the front: non-dominated, every other feasible point dominated by one of it; decided on the means
    rows = [r for r in csv.DictReader(io.StringIO((out / "sweep.csv").read_text())) if r["state"] == "complete" and r["point"] != "baseline"]
    assert len(rows) == len(done)

    def vec(r: dict[str, str]) -> tuple[float, float]:
        return float(r["accuracy"]), float(r["bops"])

    def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] >= b[0] and a[1] <= b[1] and a != b

    front = list(csv.DictReader(io.StringIO((out / "front.csv").read_text())))
    on = {r["point"] for r in front}
    assert on == {r["point"] for r in rows if r["pareto"] == "1"} and on
    for r in rows:
        beaten = any(dominates(vec(o), vec(r)) for o in rows)
        assert beaten == (r["point"] not in on)

    # its hypervolume, by hand: rectangles from the reference (chance accuracy 1/3, the baseline's declared BOPs)
    data = json.loads((out / "study.json").read_text())
    declared = json.loads((out / "points" / "baseline" / "seed1" / "results.json").read_text())["report"]["totals"]["bops"]
    assert data["reference"] == {"accuracy": pytest.approx(1 / 3), "bops": declared}
    pts = sorted((vec(r) for r in front), key=lambda p: p[1])  # cheapest first: accuracy rises along the front
    area = 0.0  # each step: from a point's BOPs to the next point's, at its own accuracy
    for i, (acc, bops) in enumerate(pts):
        right = min(pts[i + 1][1] if i + 1 < len(pts) else declared, declared)
        area += max(0.0, right - bops) * max(0.0, acc - 1 / 3)
    assert data["hypervolume"] == pytest.approx(area) and area > 0
    assert data["hypervolume"] == pytest.approx(_staircase(pts, (1 / 3, declared)))
    assert data["baseline"]["name"] == "tiny_float" and data["baseline"]["n"] == 2

    # the paper's table from the storage
    r = subprocess.run([*QAPC, "report", str(spec), "-o", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    table_rows = [line for line in r.stdout.splitlines() if line.startswith("| ")]
    assert table_rows[0].startswith("| bits | pruning rounds | fc1.units |") and "± " in r.stdout
    assert sum("★" in line for line in table_rows) == len(front) and len(table_rows) == 1 + 1 + len(done)  # header, baseline, points
    tex = subprocess.run([*QAPC, "report", str(spec), "-o", str(out), "--format", "latex"], capture_output=True, text=True, cwd=tmp_path).stdout
    assert "\\toprule" in tex and "\\bottomrule" in tex


def _staircase(pts: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    """The area dominated by (accuracy, BOPs) points, the other way: sweeping accuracy levels from the top."""
    area, cheapest = 0.0, ref[1]
    for acc, bops in sorted(pts, key=lambda p: -p[0]):
        if bops < cheapest and acc > ref[0]:
            area += (cheapest - bops) * (acc - ref[0])
            cheapest = bops
    return area


@pytest.mark.integration
def test_a_resumed_search_ends_with_its_trials_in_distinct_points(tmp_path: Path) -> None:
    """A random search of 4 trials, killed after 2 points and resumed: the resumed run does not replay the first
    run's proposals as trials of their own, and the study ends with 4 distinct points, each trained once."""
    from optuna.trial import TrialState

    axes = "    objective maximize accuracy\n    trials 4\n    sampler random\n    fc1.units in 4..12\n    quant.bits in [4, 6, 8]"
    spec = tiny_study(tmp_path, axes, block="search")
    out = tmp_path / "out"
    storage = f"sqlite:///{out / 'study.db'}"
    cmd = [*QAPC, "sweep", str(spec), "-o", str(out), "--jobs", "1", "--epochs", "1"]

    def complete() -> list[Any]:
        try:
            main, _ = load_studies(storage)
        except Exception:
            return []
        return [t for t in main.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE and "qapc_same_as" not in t.user_attrs]

    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(cmd, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600
    while len(complete()) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert first.poll() is None, (tmp_path / "first.log").read_text()
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    before = {t.user_attrs["qapc_point"] for t in complete()}
    assert len(before) >= 2

    second = subprocess.run([*cmd, "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    events = [json.loads(line) for line in second.stdout.splitlines()]
    assert not {e["point"] for e in events if e["event"] == "start"} & before  # nothing done before the kill ran again
    done = complete()
    keys = [t.user_attrs["qapc_point"] for t in done]
    assert len(keys) == 4 and len(set(keys)) == 4, keys
    assert events[-1]["event"] == "status" and events[-1]["final"] and events[-1]["done"] == 4
    rows = [r for r in csv.DictReader(io.StringIO((out / "sweep.csv").read_text())) if r["state"] == "complete"]
    assert sorted(r["point"] for r in rows) == sorted(keys)
