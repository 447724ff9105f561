"""Two workers ("machines": separate processes and build folders) share one study in a real PostgreSQL server."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest
from sweep_support import QAPC, check_point_dir, load_study, point_keys, postgres_server, tiny_study, trials_by_point


@pytest.mark.integration
def test_two_workers_share_a_study_in_postgres(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    spec = tiny_study(tmp_path, "    quant.bits in [4, 8]")
    with postgres_server() as url:
        outs = [tmp_path / "machine_a", tmp_path / "machine_b"]
        cmds = [[*QAPC, "sweep", str(spec), "--storage", url, "--worker", "-o", str(o), "--epochs", "1"] for o in outs]
        logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(2)]
        procs = [subprocess.Popen(c, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT) for c, log in zip(cmds, logs, strict=True)]
        codes = [p.wait(timeout=600) for p in procs]
        for log in logs:
            log.close()
        out_text = "\n".join((tmp_path / f"worker{i}.log").read_text() for i in range(2))
        assert codes == [0, 0], out_text

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
