"""Running one trial: its settings, each seed's run (resumed from an earlier trial's), its point.json, and telling
the study COMPLETE, FAIL or PRUNED."""

from __future__ import annotations

import contextlib
import json
import math
import os
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qapdsl import ir, objectives, paths
from qapdsl.outdir import OutputDirError, ledger
from qapdsl.sweep import expand, repeats, summary

if TYPE_CHECKING:
    import optuna
from qapdsl.sweep.study.job import (
    ATTR_DECLARED,
    ATTR_DIR,
    ATTR_ERROR,
    ATTR_HOST,
    ATTR_LABEL,
    ATTR_OVER,
    ATTR_POINT,
    ATTR_SEED,
    ATTR_SUMMARY,
    ERROR_FILE,
    POINT_FILE,
    Emit,
    Job,
    _settings,
)
from qapdsl.sweep.study.queue import Heartbeat, _discard, _duplicate_of, _reuse
from qapdsl.sweep.study.status import _discarded, _trials
from qapdsl.sweep.study.storage import _failed_trial_callback


def _atomic_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def seed_results(study: optuna.Study, key: str) -> dict[int, dict[str, Any]]:
    """The runs of a point that finished in any of its trials (a killed or failed one included), by seed."""
    out: dict[int, dict[str, Any]] = {}
    for t in sorted(_trials(study), key=lambda t: t.number):
        if _discarded(t) or t.user_attrs.get(ATTR_POINT) != key:
            continue
        for name, figures in t.user_attrs.items():
            if name.startswith(ATTR_SEED) and name[len(ATTR_SEED) :].lstrip("-").isdigit() and isinstance(figures, dict):
                out.setdefault(int(name[len(ATTR_SEED) :]), figures)
    return out


def _fail(study: optuna.Study, trial: optuna.Trial, emit: Emit, base: dict[str, Any], error: str) -> str:
    from optuna.trial import TrialState

    trial.set_user_attr(ATTR_ERROR, error[:4000])
    study.tell(trial, state=TrialState.FAIL)
    emit({"event": "failed", **base, "error": error})
    return "failed"


def run_trial(study: optuna.Study, trial: optuna.Trial, job: Job, storage: optuna.storages.RDBStorage, emit: Emit) -> str:
    """Run one popped (or asked) trial to its end; returns complete | same | over | failed | discarded | lost."""
    import optuna
    from optuna.trial import TrialState

    spec = job.spec()
    block = job.study_block(spec)
    settings = _settings(trial, spec, job)
    key = "baseline" if job.kind == "baseline" else expand.point_key({p: paths.token(v) for p, v in settings})
    label = "baseline" if job.kind == "baseline" else expand.label({p: paths.token(v) for p, v in settings})
    base = {"trial": trial.number, "point": key, "label": label, "study": job.kind}
    try:
        dup = _duplicate_of(study, trial, key)
        if dup is not None:
            done = study._storage.get_trial(study._storage.get_trial_id_from_study_id_trial_number(study._study_id, dup))
            if job.kind == "search" and done.state == TrialState.COMPLETE:
                return _reuse(study, trial, done, emit, base)
            _discard(study, trial, f"point {key} is done or taken by trial {dup}")
            emit({"event": "discarded", **base, "of": dup})
            return "discarded"
        trial.set_user_attr(ATTR_POINT, key)
        trial.set_user_attr(ATTR_LABEL, label)
        trial.set_user_attr(ATTR_HOST, os.uname().nodename)
        try:
            point = job.points(spec)[0] if job.kind == "baseline" else expand.make_point(spec, settings)
        except expand.ExpandError as e:
            return _fail(study, trial, emit, base, str(e))
        budgets = objectives.declared_budgets(block.budgets) if isinstance(block, ir.Search) and job.kind == "search" else {}
        if budgets:
            declared = objectives.declared(point.spec)
            over = objectives.over_budget(budgets, declared)
            if over:
                trial.set_user_attr(ATTR_OVER, over)
                trial.set_user_attr(ATTR_DECLARED, declared)
                study.tell(trial, state=TrialState.PRUNED)  # with its constraint values: samplers learn to avoid it
                emit({"event": "over", **base, "error": "over budget before training: " + _over_text(over, budgets)})
                return "over"
        point_dir = Path(job.out_dir) / "points" / key
        trial.set_user_attr(ATTR_DIR, str(point_dir))
        seeds = repeats.seeds(spec, point.spec, block.repeat, baseline=job.kind == "baseline")
        runs = {s: r for s, r in seed_results(study, key).items() if s in seeds}
        emit({"event": "start", **base, "seeds": seeds, "reused": sorted(runs)})
        with Heartbeat(storage, trial._trial_id, job.heartbeat):
            for seed in seeds:
                if seed in runs:
                    trial.set_user_attr(f"{ATTR_SEED}{seed}", runs[seed])  # this trial holds all its runs
                    continue
                run_spec_ = point.spec if seed == point.spec.train.seed else paths.apply(point.spec, "train.seed", seed)
                out = repeats.run_dir(point_dir, seed, block.repeat)
                out.mkdir(parents=True, exist_ok=True)
                tag = {**base, "seed": seed, "run": seeds.index(seed) + 1, "runs": len(seeds)}
                try:
                    # a rerun: what a killed run left is not this run's. The runner removes its own
                    # stale outputs (the study's folders are its own: a killed try's are adopted) and
                    # refuses files it did not write; the error of the last try goes too
                    ledger.adopt_orphans(out)
                    ledger.claim(out, (ERROR_FILE,), force=job.force, command="the study")
                    ledger.remove(out, (ERROR_FILE,))
                    results = _run_point(run_spec_, out, job, _progress(emit, tag))
                except Exception as e:
                    error = str(e) or type(e).__name__
                    if len(seeds) > 1:
                        error = f"seed {seed}: {error}"
                    if not isinstance(e, ledger.ForeignFiles):  # the user's error.txt stays
                        with ledger.writing(out, (ERROR_FILE,)):
                            (out / ERROR_FILE).write_text(error + "\n\n" + traceback.format_exc(), encoding="utf-8")
                    return _fail(study, trial, emit, base, error)
                runs[seed] = _finite(summary.summarize(run_spec_, results))
                trial.set_user_attr(f"{ATTR_SEED}{seed}", runs[seed])
                emit({"event": "run", **tag, "summary": runs[seed]})
            figures = _finite(repeats.aggregate([runs[s] for s in seeds]))
            point_dir.mkdir(parents=True, exist_ok=True)
            try:
                ledger.adopt_orphans(point_dir)
                ledger.claim(point_dir, (POINT_FILE,), force=job.force, command="the study")
            except OutputDirError as e:
                return _fail(study, trial, emit, base, str(e))
            with ledger.writing(point_dir, (POINT_FILE,), clear=False):
                _atomic_json(
                    point_dir / POINT_FILE,
                    {"key": key, "label": label, "settings": dict(trial.params), "trial": trial.number, "summary": figures, "runs": {str(s): runs[s] for s in seeds}},
                )
            trial.set_user_attr(ATTR_SUMMARY, figures)
            values = objectives.values(objectives.objectives(block), figures)
            if values is None:
                return _fail(study, trial, emit, base, "the runs measured no value of an objective")
            over = objectives.over_budget(budgets, figures)
            if over:
                trial.set_user_attr(ATTR_OVER, over)  # complete, but not feasible: not on the front
            study.tell(trial, values)
        emit({"event": "done", **base, "summary": figures, **({"over": over} if over else {})})
        return "complete"
    except optuna.exceptions.UpdateFinishedTrialError:
        # another worker judged this trial stale and failed it; its retry will produce the result
        emit({"event": "lost", **base})
        return "lost"


def _progress(emit: Emit, tag: dict[str, Any]) -> Emit:
    """The runner's events as study events: `progress`, with what the runner called its event as `kind`."""
    return lambda ev: emit({**ev, "kind": ev.get("event"), "event": "progress", **tag})


def _over_text(over: dict[str, float], budgets: dict[str, float]) -> str:
    return ", ".join(f"{m} {v:,.0f} > {budgets[m]:,.0f}" for m, v in over.items())


def _run_point(spec: ir.Spec, out: Path, job: Job, progress: Emit) -> dict[str, Any]:
    from qapdsl.runner.pipeline import run_spec

    spec_path = job.spec_path if job.kind != "baseline" else None  # a baseline's headers name its own file
    return run_spec(spec, out, epochs=job.epochs, data=job.data, synth=job.synth, progress=progress, spec_path=spec_path, force=job.force)


def _give_back(study: optuna.Study, trial: optuna.Trial) -> None:
    """Interrupted: fail the trial and re-enqueue it now, so a re-run need not wait for its heartbeat to go stale."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
        if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
            callback = _failed_trial_callback(study)
            if callback is not None:
                callback(study, storage.get_trial(trial._trial_id))
