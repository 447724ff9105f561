"""Two workers ("machines": separate processes and build folders) share one study in a real PostgreSQL server:
a sweep, and a multi-objective search (multi-objective TPE over accuracy and BOPs) with a float baseline."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest
from sweep_support import QAPC, check_point_dir, load_studies, load_study, point_keys, postgres_server, tiny_float, tiny_study, trials_by_point


def _two_machines(spec: Path, url: str, tmp_path: Path) -> tuple[list[Path], str]:
    """`qapc sweep --worker` twice at once, each with its own build folder; returns the folders and their logs."""
    outs = [tmp_path / "machine_a", tmp_path / "machine_b"]
    cmds = [[*QAPC, "sweep", str(spec), "--storage", url, "--worker", "-o", str(o), "--epochs", "1"] for o in outs]
    logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(2)]
    procs = [subprocess.Popen(c, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT) for c, log in zip(cmds, logs, strict=True)]
    codes = [p.wait(timeout=900) for p in procs]
    for log in logs:
        log.close()
    out_text = "\n".join((tmp_path / f"worker{i}.log").read_text() for i in range(2))
    assert codes == [0, 0], out_text
    return outs, out_text


@pytest.mark.integration
def test_two_workers_share_a_study_in_postgres(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    spec = tiny_study(tmp_path, "    quant.bits in [4, 8]")
    with postgres_server() as url:
        outs, _ = _two_machines(spec, url, tmp_path)

        study = load_study(url)
        by_point = trials_by_point(study)
        keys = point_keys(spec)
        assert len(keys) == 2 and set(by_point) == set(keys)
        ran_where: dict[str, list[Path]] = {}
        for key in keys:
            assert [t.state for t in by_point[key]] == [TrialState.COMPLETE], f"{key}: {[t.state for t in by_point[key]]}"
            ran_where[key] = [o for o in outs if (o / "points" / key).exists()]
            assert len(ran_where[key]) == 1, f"{key} ran on {ran_where[key]}"
            check_point_dir(ran_where[key][0] / "points" / key, key)
        assert not study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
        # both machines took part
        assert {o for where in ran_where.values() for o in where} == set(outs)

        # any machine writes the whole study's tables from the storage
        report = tmp_path / "report"
        r = subprocess.run(
            [*QAPC, "sweep", str(spec), "--storage", url, "--report", "-o", str(report), "--epochs", "1"], capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stderr
        rows = list(csv.DictReader(io.StringIO((report / "sweep.csv").read_text())))
        assert sorted(row["point"] for row in rows) == sorted(keys) and all(row["state"] == "complete" for row in rows)
        assert (report / "pareto.svg").is_file() and (report / "pareto.png").is_file()


@pytest.mark.integration
def test_two_workers_share_a_multi_objective_search_in_postgres(tmp_path: Path) -> None:
    """3 trials and the baseline over 2 machines: every trial counted once, each point run once, one front from the storage."""
    from optuna.trial import TrialState

    axes = '    objective maximize accuracy, minimize bops\n    baseline "tiny_float.qap"\n    trials 3\n    sampler tpe\n    fc1.units in 4..12'
    spec = tiny_study(tmp_path, axes, block="search")
    tiny_float(tmp_path)
    with postgres_server() as url:
        outs, out_text = _two_machines(spec, url, tmp_path)

        study, base = load_studies(url)
        assert base is not None and [t.state for t in base.get_trials(deepcopy=False) if "qapc_discarded" not in t.user_attrs] == [TrialState.COMPLETE]
        assert len(study.directions) == 2
        counted = [t for t in study.get_trials(deepcopy=False) if "qapc_discarded" not in t.user_attrs]
        assert len(counted) == 3 and all(t.state == TrialState.COMPLETE for t in counted), [t.state for t in counted]
        ran = [t for t in counted if "qapc_same_as" not in t.user_attrs]  # a point proposed twice reuses the first run
        for t in ran:
            key = t.user_attrs["qapc_point"]
            where = [o for o in outs if (o / "points" / key).exists()]
            assert len(where) == 1, f"{key} ran on {where}"
            summary = check_point_dir(where[0] / "points" / key, key)
            assert list(t.values) == [summary["accuracy"], summary["bops"]]
        assert not study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
        # both machines took part (the baseline and the trials are shared out)
        assert all(any((o / "points").iterdir()) for o in outs), out_text

        report = tmp_path / "report"
        r = subprocess.run(
            [*QAPC, "sweep", str(spec), "--storage", url, "--report", "-o", str(report), "--epochs", "1"], capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stderr
        data = json.loads((report / "study.json").read_text())
        assert data["baseline"]["name"] == "tiny_float" and data["front"] and data["hypervolume"] > 0
        front = list(csv.DictReader(io.StringIO((report / "front.csv").read_text())))
        assert {f["point"] for f in front} <= {t.user_attrs["qapc_point"] for t in ran}
