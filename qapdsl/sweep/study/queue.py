"""The queue of points: enqueueing the missing ones, failing stale trials, popping one for a worker (discarding
duplicates), asking a search's sampler for a new point, ending a search that finds none."""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any

from qapdsl import ir, paths
from qapdsl.checks.study import search_space_size
from qapdsl.sweep import expand

if TYPE_CHECKING:
    import optuna
from qapdsl.sweep.study.job import (
    ATTR_DECLARED,
    ATTR_DIR,
    ATTR_DISCARDED,
    ATTR_LABEL,
    ATTR_OVER,
    ATTR_POINT,
    ATTR_SAME,
    ATTR_SUMMARY,
    REPEATS_IN_A_ROW,
    STUDY_ENDED,
    STUDY_GRID,
    Emit,
    Job,
    _settings,
)
from qapdsl.sweep.study.status import _counted, _discarded, _trials, malformed
from qapdsl.sweep.study.storage import _failed_trial_callback, open_study, queue_lock


def fail_running(study: optuna.Study, everything: bool) -> int:
    """Fail trials whose process is gone and re-enqueue them (via the storage's callback).

    everything=False: the stale ones (heartbeat older than the grace period), as Optuna does.
    everything=True: every RUNNING trial, for a study no live process can be working on.
    """
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    if not everything:
        before = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        optuna.storages.fail_stale_trials(study)
        return before - len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
    n = 0
    callback = _failed_trial_callback(study)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        try:
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        n += 1
        if callback is not None:
            callback(study, storage.get_trial(t._trial_id))
    return n


def enqueue_missing(study: optuna.Study, points: list[expand.Point]) -> int:
    """Enqueue each point with no COMPLETE, RUNNING or WAITING trial; returns how many."""
    from optuna.trial import TrialState

    live = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)
    covered = {str(t.user_attrs.get(ATTR_POINT)) for t in _trials(study) if t.state in live and not _discarded(t)}
    n = 0
    for p in points:
        if p.key in covered:
            continue
        study.enqueue_trial(p.params, user_attrs={ATTR_POINT: p.key, ATTR_LABEL: p.label})
        n += 1
    return n


def prepare(job: Job, points: list[expand.Point], emit: Emit | None = None) -> optuna.Study:
    """Open (or create) the study, fail what a killed run left RUNNING, enqueue what is missing."""
    say = emit or (lambda _: None)
    study, created = open_study(job)
    if job.kind != "search" and not created:
        # the creator is enqueueing the grid; wait for it rather than enqueue a second copy
        deadline = time.monotonic() + 60
        while STUDY_GRID not in study.user_attrs and time.monotonic() < deadline:
            time.sleep(0.5)
    with queue_lock(job), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        failed = fail_running(study, everything=job.owner)
        if failed:
            say({"event": "requeued", "count": failed})
        for why in malformed(study):
            say({"event": "malformed", "message": why})
        search = job.study_block()
        if isinstance(search, ir.Search) and job.kind == "search" and study.user_attrs.get(STUDY_ENDED):
            if search_space_size(search) is None or study.user_attrs[STUDY_ENDED] != space_exhausted(search):
                study.set_user_attr(STUDY_ENDED, None)  # the sampler found nothing new: a new run tries again, with other seeds
        if job.kind != "search":
            added = enqueue_missing(study, points)
            if STUDY_GRID not in study.user_attrs:
                study.set_user_attr(STUDY_GRID, len(points))
            say({"event": "prepared", "enqueued": added, "total": len(points), "created": created, "study": job.kind})
    return study


class Heartbeat:
    """Records the running trial's heartbeat every `interval` seconds, in a thread."""

    def __init__(self, storage: optuna.storages.RDBStorage, trial_id: int, interval: int) -> None:
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Heartbeat:
        self.storage.record_heartbeat(self.trial_id)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):  # a missed beat is retried; the trial goes on
                self.storage.record_heartbeat(self.trial_id)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def pop_trial(study: optuna.Study, job: Job, storage: optuna.storages.RDBStorage) -> optuna.Trial | None:
    """Fail stale trials, then move the oldest WAITING trial to RUNNING (atomically) and beat for it."""
    import optuna
    from optuna.trial import TrialState

    with queue_lock(job), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fail_running(study, everything=False)
        cached = study._storage  # Optuna's cache in front of `storage`: keep it in the loop, as Study.ask does
        for t in cached.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.WAITING,)):
            try:
                if not cached.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            storage.record_heartbeat(t._trial_id)
            return optuna.Trial(study, t._trial_id)
    return None


def _duplicate_of(study: optuna.Study, trial: optuna.Trial, key: str) -> int | None:
    """An older live trial of the same point, or a COMPLETE one: then this trial must not run."""
    from optuna.trial import TrialState

    for t in _trials(study):
        if t.number == trial.number or _discarded(t) or t.user_attrs.get(ATTR_POINT) != key:
            continue
        if t.state == TrialState.COMPLETE or (t.state in (TrialState.RUNNING, TrialState.WAITING) and t.number < trial.number):
            return t.number
    return None


def _discard(study: optuna.Study, trial: optuna.Trial, why: str) -> None:
    """Close a trial that will not run: FAIL, which samplers ignore (a PRUNED one would count as a bad point)."""
    from optuna.trial import TrialState

    trial.set_user_attr(ATTR_DISCARDED, why)
    study.tell(trial, state=TrialState.FAIL)


def _reuse(study: optuna.Study, trial: optuna.Trial, done: optuna.trial.FrozenTrial, emit: Emit, base: dict[str, Any]) -> str:
    """A search trial that proposes a point already done: complete it with that point's results (no run)."""
    for name in (ATTR_POINT, ATTR_LABEL, ATTR_SUMMARY, ATTR_OVER, ATTR_DIR):
        if name in done.user_attrs:
            trial.set_user_attr(name, done.user_attrs[name])
    trial.set_user_attr(ATTR_SAME, done.number)
    study.tell(trial, list(done.values))
    emit({"event": "same", **base, "of": done.number, "summary": done.user_attrs.get(ATTR_SUMMARY)})
    return "same"


def space_exhausted(search: ir.Search) -> str:
    n = search_space_size(search) or 0
    return f"every point of the search space ran: it has {n:,} point{'s' if n != 1 else ''}, fewer than the {search.trials:,} trials"


def _repeat_of(study: optuna.Study, trial: optuna.Trial, key: str) -> optuna.trial.FrozenTrial | None:
    """An earlier counted trial of the same point (done, failed, over a budget, or running): a proposal already made."""
    from optuna.trial import TrialState

    found = None
    for t in _trials(study):
        if t.number == trial.number or not _counted(t) or t.user_attrs.get(ATTR_POINT) != key:
            continue
        if t.state == TrialState.COMPLETE:
            return t
        if t.number < trial.number or t.state not in (TrialState.RUNNING, TrialState.WAITING):
            found = found or t
    return found


def _end(study: optuna.Study, why: str, emit: Emit) -> None:
    if study.user_attrs.get(STUDY_ENDED) != why:
        study.set_user_attr(STUDY_ENDED, why)
        emit({"event": "ended", "reason": why})


def _ask_new(study: optuna.Study, job: Job, budget: int, emit: Emit) -> optuna.Trial | None:
    """A new search trial from the sampler, for a point not proposed before, unless the budget is used up (counting
    race-safely) or the search can find no new point (then the study says why, `STUDY_ENDED`).

    A proposal of a point already run is told that point's outcome (the sampler learns it) and does not count."""
    from optuna.trial import TrialState

    spec = job.spec()
    search = job.study_block(spec)
    assert isinstance(search, ir.Search)
    size = search_space_size(search)
    repeated = 0
    while True:
        if study.user_attrs.get(STUDY_ENDED):
            return None
        trials = _trials(study)
        counted = [t for t in trials if _counted(t)]
        if len(counted) >= budget:
            return None
        if size is not None and len({t.user_attrs.get(ATTR_POINT) for t in counted} - {None}) >= size:
            _end(study, space_exhausted(search), emit)
            return None
        trial = study.ask()
        before = sum(1 for t in _trials(study) if _counted(t) and t.number < trial.number)
        if before >= budget:
            _discard(study, trial, "over the trials budget")
            return None
        settings = _settings(trial, spec, job)  # the sampler's proposal, fixed on the trial
        key = expand.point_key({p: paths.token(v) for p, v in settings})
        trial.set_user_attr(ATTR_POINT, key)
        first = _repeat_of(study, trial, key)
        if first is None:
            return trial
        base = {"trial": trial.number, "point": key, "label": expand.label({p: paths.token(v) for p, v in settings}), "study": job.kind}
        if first.state == TrialState.COMPLETE:
            _reuse(study, trial, first, emit, base)
        elif first.state == TrialState.PRUNED:  # over a budget before training: the same refusal, for the sampler
            for name in (ATTR_LABEL, ATTR_OVER, ATTR_DECLARED):
                if name in first.user_attrs:
                    trial.set_user_attr(name, first.user_attrs[name])
            trial.set_user_attr(ATTR_SAME, first.number)
            study.tell(trial, state=TrialState.PRUNED)
            emit({"event": "same", **base, "of": first.number})
        else:  # failed, or running: nothing to tell the sampler yet
            _discard(study, trial, f"point {key} was proposed by trial {first.number}")
            emit({"event": "discarded", **base, "of": first.number})
        repeated += 1
        if repeated >= REPEATS_IN_A_ROW:
            _end(study, f"the sampler proposed only points already run in {REPEATS_IN_A_ROW} proposals in a row", emit)
            return None
