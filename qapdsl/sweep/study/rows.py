"""A study's results as rows (one per trial, its settings and figures) and the run options it was made with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qapdsl.sweep import expand

if TYPE_CHECKING:
    import optuna
from qapdsl.sweep.study.job import ATTR_DIR, ATTR_ERROR, ATTR_LABEL, ATTR_OVER, ATTR_POINT, ATTR_SAME, ATTR_SEED, ATTR_SUMMARY, STUDY_OPTIONS
from qapdsl.sweep.study.status import _counted, _discarded, _trials

_METRIC_NAMES = {"bops": "BOPs", "memory": "memory bits", "params": "parameters"}


def _row(t: optuna.trial.FrozenTrial, state: str) -> dict[str, Any]:
    """A table row: the trial's point, settings and mean figures (or why it failed), its runs by seed, and budgets it is over."""
    row: dict[str, Any] = {"trial": t.number, "point": t.user_attrs.get(ATTR_POINT), "label": t.user_attrs.get(ATTR_LABEL), "state": state, **t.params}
    runs = {int(k[len(ATTR_SEED) :]): v for k, v in t.user_attrs.items() if k.startswith(ATTR_SEED) and k[len(ATTR_SEED) :].lstrip("-").isdigit()}
    row["runs"] = dict(sorted(runs.items()))
    over = t.user_attrs.get(ATTR_OVER)
    if isinstance(over, dict) and over:
        row["over"] = ", ".join(f"{_METRIC_NAMES.get(m, m)} {v:,.0f}" for m, v in over.items())
    if state == "complete":
        row.update(t.user_attrs.get(ATTR_SUMMARY) or {})
    else:
        over_text = f"over the budget: {row['over']}" if "over" in row else None
        row["error"] = t.user_attrs.get(ATTR_ERROR) or over_text or "interrupted"
    return row


def run_options(study: optuna.Study) -> dict[str, Any] | None:
    """The overrides a study was run with: as it recorded them, else (a study of an older qapc) as its first finished
    run's results.json did (epochs, data, synth); None when neither says."""
    from optuna.trial import TrialState

    recorded = study.user_attrs.get(STUDY_OPTIONS)
    if isinstance(recorded, dict):
        return recorded
    for t in _trials(study):
        folder = t.user_attrs.get(ATTR_DIR)
        if t.state != TrialState.COMPLETE or not folder:
            continue
        for path in [Path(folder) / "results.json", *sorted(Path(folder).glob("seed*/results.json"))]:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            overrides = data.get("overrides") if isinstance(data, dict) else None  # a results.json that is not an object says nothing
            if isinstance(overrides, dict):
                return {k: v for k, v in overrides.items() if k in ("epochs", "data", "synth") and v not in (None, False)}
    return None


def collect_rows(study: optuna.Study, points: list[expand.Point] | None) -> list[dict[str, Any]]:
    """One row per point (sweep: its COMPLETE trial, else its last failure, else pending) or per counted trial (search).

    A search trial that reused a point already done (`qapc_same_as`) has no row of its own."""
    from optuna.trial import TrialState

    trials = [t for t in _trials(study) if not _discarded(t)]
    rows: list[dict[str, Any]] = []
    if points is None:
        for t in trials:
            if not _counted(t) or ATTR_SAME in t.user_attrs:
                continue
            if t.state == TrialState.COMPLETE:
                rows.append(_row(t, "complete"))
            elif t.state in (TrialState.FAIL, TrialState.PRUNED):
                rows.append(_row(t, "failed"))
        return rows
    by_point: dict[str, list[optuna.trial.FrozenTrial]] = {}
    for t in trials:
        by_point.setdefault(str(t.user_attrs.get(ATTR_POINT)), []).append(t)
    for p in points:
        ts = sorted(by_point.get(p.key, []), key=lambda t: t.number)
        complete = [t for t in ts if t.state == TrialState.COMPLETE]
        failed = [t for t in ts if t.state == TrialState.FAIL]
        if complete:
            row = _row(complete[0], "complete")
        elif failed and not any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in ts):
            row = _row(failed[-1], "failed")
        else:
            row = {"trial": None, "state": "pending", "error": "not run yet", "runs": {}, **p.params}
        row.update({"point": p.key, "label": p.label or p.key, **p.params})
        rows.append(row)
    return rows
