"""The Optuna study behind `qapc sweep`: storage, the queue of points, workers, stale trials.

How a sweep stays exact under restarts and many workers:

- The study is named after the spec's fingerprint, so the same spec (wherever it
  lives) and the same run options reach the same study, and a changed spec a new one.
- Every grid point is *enqueued* (a WAITING trial with fixed params and the point's
  key as a user attribute); the study's sampler is a GridSampler over the same grid.
  Workers only ever *pop* WAITING trials (the storage moves one to RUNNING
  atomically: a row lock in PostgreSQL, a file lock around SQLite); they never ask
  the sampler for a new point, so two workers cannot pick the same point by chance.
- A worker records a heartbeat for its running trial (Optuna's heartbeat). A trial
  whose heartbeat stopped (its process was killed) is failed by whoever notices
  (`fail_stale_trials`) and re-enqueued with the same params by the storage's
  failed-trial callback. The first run after a kill of a local study (the default
  SQLite file in the build directory, which a lock file makes ours alone) fails
  every RUNNING trial at once instead of waiting for the grace period.
- A point is *done* when it has a COMPLETE trial. Whenever a worker pops a trial for a
  point that is already done, or that an older trial is running, it discards its
  own (PRUNED, `qapc_discarded`): duplicates that a race could enqueue are never run.
- A re-run enqueues the points that have no COMPLETE, RUNNING or WAITING trial (those
  that failed, or whose retries were used up): it continues where the last one stopped.

A search (`search { ... }`) pops retries first, else asks its sampler (TPE, random,
CMA-ES) for a new trial; a trial is *counted* against `trials N` unless it was
discarded or killed, and a trial numbered past the budget is discarded, so the
budget holds with any number of workers.

Results: each point runs in `<out>/points/<key>/` (cleared first when rerun), the
runner writes results.json there atomically, then `point.json` (settings, summary)
is written atomically, then the trial is told COMPLETE with the summary as a user
attribute. Killed anywhere in between, the point is rerun and overwritten, and the
study holds its result once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import random
import shutil
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from qapdsl import ir, metrics, paths
from qapdsl.sweep import expand, summary

if TYPE_CHECKING:
    import optuna

Emit = Callable[[dict[str, Any]], None]

ATTR_POINT = "qapc_point"  # the point's key
ATTR_LABEL = "qapc_label"
ATTR_SUMMARY = "qapc_summary"  # summary.summarize(...) of a COMPLETE trial
ATTR_ERROR = "qapc_error"  # why a point failed (a pipeline step, an invalid variant)
ATTR_OVER = "qapc_over_budget"  # a search point above the BOPs budget
ATTR_DISCARDED = "qapc_discarded"  # a duplicate or surplus trial, never run
ATTR_DIR = "qapc_dir"
ATTR_HOST = "qapc_host"
STUDY_GRID = "qapc_grid"  # study attr: number of grid points, set once all are enqueued
STUDY_KIND = "qapc_kind"


@dataclass(frozen=True)
class Job:
    """What a worker process needs to take part in a study (picklable, JSON-able)."""

    kind: Literal["sweep", "search"]
    spec_json: str
    storage: str
    study_name: str
    out_dir: str
    owner: bool = False  # the storage is ours alone (default SQLite file under our lock)
    heartbeat: int = 10
    grace: int = 60
    poll: float = 2.0
    max_retry: int = 3
    epochs: int | None = None
    data: str | None = None
    synth: bool = False
    spec_path: str | None = None
    seed: int = 0

    def spec(self) -> ir.Spec:
        return ir.Spec.model_validate_json(self.spec_json)


def default_storage(out_dir: Path) -> str:
    return f"sqlite:///{(out_dir / 'study.db').resolve()}"


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    rest = url[len("sqlite:///") :]
    return None if rest in ("", ":memory:") else Path(rest)


def make_storage(job: Job) -> optuna.storages.RDBStorage:
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if _sqlite_path(job.storage) is not None:
        engine_kwargs = {"connect_args": {"timeout": 120}}
    import sqlalchemy.exc

    for attempt in range(8):
        try:
            return optuna.storages.RDBStorage(
                job.storage,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=job.heartbeat,
                grace_period=job.grace,
                failed_trial_callback=optuna.storages.RetryFailedTrialCallback(max_retry=job.max_retry),
            )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError):
            # workers starting together on an empty database race to create Optuna's tables
            # (CREATE TYPE / CREATE TABLE collide); the loser finds them made on the next try
            if attempt == 7:
                raise
            time.sleep(0.3 + random.random() * (attempt + 1))
    raise AssertionError("unreachable")


def _grid_sampler_class() -> type[optuna.samplers.GridSampler]:
    import optuna

    class QueueGridSampler(optuna.samplers.GridSampler):
        """The grid, walked through the trial queue: every trial is an enqueued grid point.

        GridSampler's own `after_trial` stops an `optimize` loop once its grid ids are
        all visited; here there is no such loop (and enqueued trials carry no grid id),
        the queue says when the study is done.
        """

        def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, state: optuna.trial.TrialState, values: Any) -> None:
            return None

    return QueueGridSampler


def _QueueGridSampler(grid: dict[str, Any], seed: int) -> optuna.samplers.GridSampler:  # noqa: N802
    return _grid_sampler_class()(grid, seed=seed)


def make_sampler(job: Job, spec: ir.Spec) -> optuna.samplers.BaseSampler:
    import optuna

    if job.kind == "sweep":
        assert spec.sweep is not None
        grid: dict[str, Any] = {a.path: list(expand.axis_tokens(a)) for a in spec.sweep.axes}
        return _QueueGridSampler(grid, seed=job.seed)
    assert spec.search is not None
    if spec.search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=job.seed)
    if spec.search.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=job.seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=job.seed)


def direction(job: Job, spec: ir.Spec) -> str:
    if job.kind == "search" and spec.search is not None:
        return spec.search.direction
    return "maximize"


@contextlib.contextmanager
def queue_lock(job: Job) -> Iterator[None]:
    """Serialize popping and failing trials on SQLite (it has no row locks); PostgreSQL locks rows."""
    db = _sqlite_path(job.storage)
    if db is None:
        yield
        return
    with open(f"{db}.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def open_study(job: Job, storage: optuna.storages.RDBStorage | None = None) -> tuple[optuna.Study, bool]:
    """Create the study, or load it when it exists; True when this call created it."""
    import optuna

    spec = job.spec()
    storage = storage or make_storage(job)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = make_sampler(job, spec)
    try:
        study = optuna.create_study(storage=storage, study_name=job.study_name, direction=direction(job, spec), sampler=sampler)
        study.set_user_attr(STUDY_KIND, job.kind)
        return study, True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(study_name=job.study_name, storage=storage, sampler=sampler), False


# -- the state of a study -------------------------------------------------------------------


def _trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False)


def _discarded(t: optuna.trial.FrozenTrial) -> bool:
    return ATTR_DISCARDED in t.user_attrs


@dataclass
class Status:
    """Counts over the points of a study (sweep) or its trials (search)."""

    total: int
    done: int = 0
    running: int = 0
    waiting: int = 0
    failed: int = 0
    running_labels: list[str] = field(default_factory=list)

    def line(self) -> str:
        parts = [f"{self.done}/{self.total} done", f"{self.running} running"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts)


def sweep_status(study: optuna.Study, points: list[expand.Point]) -> Status:
    from optuna.trial import TrialState

    by_point: dict[str, list[optuna.trial.FrozenTrial]] = {}
    for t in _trials(study):
        if not _discarded(t):
            by_point.setdefault(str(t.user_attrs.get(ATTR_POINT)), []).append(t)
    st = Status(total=len(points))
    for p in points:
        states = [t.state for t in by_point.get(p.key, [])]
        if TrialState.COMPLETE in states:
            st.done += 1
        elif TrialState.RUNNING in states:
            st.running += 1
            st.running_labels.append(p.label)
        elif TrialState.WAITING in states:
            st.waiting += 1
        elif states:
            st.failed += 1
    return st


def _counted(t: optuna.trial.FrozenTrial) -> bool:
    """Does a search trial use up one of `trials N`? Not when discarded or killed (it is retried)."""
    from optuna.trial import TrialState

    if _discarded(t):
        return False
    if t.state == TrialState.FAIL:
        return ATTR_ERROR in t.user_attrs or ATTR_OVER in t.user_attrs
    return t.state != TrialState.PRUNED


def search_status(study: optuna.Study, budget: int) -> Status:
    from optuna.trial import TrialState

    st = Status(total=budget)
    for t in _trials(study):
        if not _counted(t):
            continue
        if t.state == TrialState.COMPLETE:
            st.done += 1
        elif t.state == TrialState.RUNNING:
            st.running += 1
            st.running_labels.append(str(t.user_attrs.get(ATTR_LABEL, f"trial {t.number}")))
        elif t.state == TrialState.WAITING:
            st.waiting += 1
        else:
            st.failed += 1
    return st


# -- preparing: enqueue, fail stale trials ---------------------------------------------------


def _failed_trial_callback(study: optuna.Study) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None:
    """The storage's RetryFailedTrialCallback (the study's storage is Optuna's cache around our RDBStorage)."""
    from optuna.storages._heartbeat import BaseHeartbeat

    storage = study._storage
    return storage.get_failed_trial_callback() if isinstance(storage, BaseHeartbeat) else None


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
    if job.kind == "sweep" and not created:
        # the creator is enqueueing the grid; wait for it rather than enqueue a second copy
        deadline = time.monotonic() + 60
        while STUDY_GRID not in study.user_attrs and time.monotonic() < deadline:
            time.sleep(0.5)
    with queue_lock(job), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        failed = fail_running(study, everything=job.owner)
        if failed:
            say({"event": "requeued", "count": failed})
        if job.kind == "sweep":
            added = enqueue_missing(study, points)
            if STUDY_GRID not in study.user_attrs:
                study.set_user_attr(STUDY_GRID, len(points))
            say({"event": "prepared", "enqueued": added, "total": len(points), "created": created})
    return study


# -- one worker -------------------------------------------------------------------------------


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
    from optuna.trial import TrialState

    trial.set_user_attr(ATTR_DISCARDED, why)
    study.tell(trial, state=TrialState.PRUNED)


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


def _settings(trial: optuna.Trial, spec: ir.Spec, job: Job) -> list[tuple[str, ir.SweepValue]]:
    """Suggest every axis (fixed params for enqueued trials; the sampler's choice for new ones)."""
    block: ir.Sweep | ir.Search | None = spec.sweep if job.kind == "sweep" else spec.search
    assert block is not None
    out: list[tuple[str, ir.SweepValue]] = []
    for axis in block.axes:
        raw: Any
        if axis.values:
            raw = trial.suggest_categorical(axis.path, list(expand.axis_tokens(axis)))
        elif axis.integer:
            raw = trial.suggest_int(axis.path, int(axis.low or 0), int(axis.high or 0), log=axis.log)
        else:
            raw = trial.suggest_float(axis.path, float(axis.low or 0.0), float(axis.high or 0.0), log=axis.log)
        out.append((axis.path, expand.search_value(axis, raw)))
    return out


def run_trial(study: optuna.Study, trial: optuna.Trial, job: Job, storage: optuna.storages.RDBStorage, emit: Emit) -> str:
    """Run one popped (or asked) trial to its end; returns complete | failed | discarded | lost."""
    import optuna
    from optuna.trial import TrialState

    spec = job.spec()
    settings = _settings(trial, spec, job)
    key = expand.point_key({p: paths.token(v) for p, v in settings})
    label = expand.label({p: paths.token(v) for p, v in settings})
    base = {"trial": trial.number, "point": key, "label": label}
    try:
        dup = _duplicate_of(study, trial, key)
        if dup is not None:
            _discard(study, trial, f"point {key} is done or taken by trial {dup}")
            emit({"event": "discarded", **base, "of": dup})
            return "discarded"
        trial.set_user_attr(ATTR_POINT, key)
        trial.set_user_attr(ATTR_LABEL, label)
        trial.set_user_attr(ATTR_HOST, os.uname().nodename)
        try:
            point = expand.make_point(spec, settings)
        except expand.ExpandError as e:
            trial.set_user_attr(ATTR_ERROR, str(e))
            study.tell(trial, state=TrialState.FAIL)
            emit({"event": "failed", **base, "error": str(e)})
            return "failed"
        search = spec.search if job.kind == "search" else None
        if search is not None and search.bops_budget is not None:
            declared = metrics.total_bops(point.spec)
            if declared > search.bops_budget:
                trial.set_user_attr(ATTR_OVER, declared)
                study.tell(trial, state=TrialState.FAIL)
                emit({"event": "failed", **base, "error": f"over the BOPs budget ({declared:,.0f} > {search.bops_budget:,.0f}) before training"})
                return "failed"
        point_dir = Path(job.out_dir) / "points" / key
        trial.set_user_attr(ATTR_DIR, str(point_dir))
        emit({"event": "start", **base})
        with Heartbeat(storage, trial._trial_id, job.heartbeat):
            if point_dir.exists():
                shutil.rmtree(point_dir)  # a rerun: what a killed run left is not this run's
            point_dir.mkdir(parents=True)
            try:
                results = _run_point(point, point_dir, job, lambda ev: emit({**ev, "kind": ev.get("event"), "event": "progress", **base}))
            except Exception as e:
                error = str(e) or type(e).__name__
                (point_dir / "error.txt").write_text(error + "\n\n" + traceback.format_exc(), encoding="utf-8")
                trial.set_user_attr(ATTR_ERROR, error[:4000])
                study.tell(trial, state=TrialState.FAIL)
                emit({"event": "failed", **base, "error": error})
                return "failed"
            figures = summary.summarize(point.spec, results)
            _atomic_json(
                point_dir / "point.json", _finite({"key": key, "label": label, "settings": dict(trial.params), "trial": trial.number, "summary": figures})
            )
            trial.set_user_attr(ATTR_SUMMARY, _finite(figures))
            value = _objective(job, spec, figures)
            if value is None:
                over = search is not None and search.bops_budget is not None and (figures.get("bops") or 0.0) > search.bops_budget
                trial.set_user_attr(ATTR_OVER if over else ATTR_ERROR, figures.get("bops") if over else "the run measured no objective value")
                study.tell(trial, state=TrialState.FAIL)
                emit({"event": "failed", **base, "error": "over the BOPs budget" if over else "no objective value"})
                return "failed"
            study.tell(trial, value)
        emit({"event": "done", **base, "summary": figures})
        return "complete"
    except optuna.exceptions.UpdateFinishedTrialError:
        # another worker judged this trial stale and failed it; its retry will produce the result
        emit({"event": "lost", **base})
        return "lost"


def _objective(job: Job, spec: ir.Spec, figures: dict[str, float | None]) -> float | None:
    if job.kind == "sweep" or spec.search is None:
        return figures.get("accuracy")
    value = figures.get(spec.search.objective)
    budget = spec.search.bops_budget
    if budget is not None and (figures.get("bops") is None or float(figures["bops"] or 0.0) > budget):
        return None
    return value


def _run_point(point: expand.Point, out: Path, job: Job, progress: Emit) -> dict[str, Any]:
    from qapdsl.runner.pipeline import run_spec

    return run_spec(point.spec, out, epochs=job.epochs, data=job.data, synth=job.synth, progress=progress, spec_path=job.spec_path)


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


def _ask_new(study: optuna.Study, job: Job, budget: int) -> optuna.Trial | None:
    """A new search trial from the sampler, unless the budget is used up (counting race-safely)."""
    trials = _trials(study)
    if sum(1 for t in trials if _counted(t)) >= budget:
        return None
    trial = study.ask()
    before = sum(1 for t in _trials(study) if _counted(t) and t.number < trial.number)
    if before >= budget:
        _discard(study, trial, "over the trials budget")
        return None
    return trial


def work(job: Job, emit: Emit, stop: threading.Event | None = None) -> dict[str, int]:
    """One worker: take points until none is left anywhere in the study; returns counts by outcome."""
    import optuna

    spec = job.spec()
    storage = make_storage(job)
    study, _ = open_study(job, storage)
    outcomes: dict[str, int] = {}
    budget = spec.search.trials if job.kind == "search" and spec.search is not None else 0
    points = expand.expand_sweep(spec.sweep, spec) if job.kind == "sweep" and spec.sweep is not None else []
    while not (stop and stop.is_set()):
        trial = pop_trial(study, job, storage)
        if trial is None and job.kind == "search":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                warnings.filterwarnings("ignore", message="Heartbeat")
                trial = _ask_new(study, job, budget)
            if trial is not None:
                storage.record_heartbeat(trial._trial_id)
        if trial is None:
            st = sweep_status(study, points) if job.kind == "sweep" else search_status(study, budget)
            if st.running == 0 and st.waiting == 0:
                break  # nothing left here or anywhere; a running trial elsewhere may still need a retry
            time.sleep(job.poll)
            continue
        try:
            outcome = run_trial(study, trial, job, storage, emit)
        except KeyboardInterrupt:
            _give_back(study, trial)
            raise
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies, so a killed `qapc sweep` leaves no worker behind."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def worker_main(job_json: str, index: int, events: Any) -> None:
    """Entry point of a worker process (multiprocessing, spawn): run `work`, report over `events`."""
    _die_with_parent()
    stopping = False

    def stop(*_: object) -> None:
        # the first SIGTERM / SIGINT stops the trial (which is failed and requeued); later ones
        # (Ctrl-C reaches the whole process group, then the parent sends SIGTERM) must not cut that short
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, stop)
    job = Job(**json.loads(job_json))

    def emit(ev: dict[str, Any]) -> None:
        events.put({"worker": index, **ev})

    try:
        outcomes = work(job, emit)
        emit({"event": "worker_done", "outcomes": outcomes})
    except KeyboardInterrupt:
        emit({"event": "worker_stopped"})
    except Exception as e:
        emit({"event": "worker_error", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()})
        raise SystemExit(70) from None


# -- reading the results back ------------------------------------------------------------------


def _row(t: optuna.trial.FrozenTrial, state: str) -> dict[str, Any]:
    row: dict[str, Any] = {"trial": t.number, "point": t.user_attrs.get(ATTR_POINT), "label": t.user_attrs.get(ATTR_LABEL), "state": state, **t.params}
    if state == "complete":
        row.update(t.user_attrs.get(ATTR_SUMMARY) or {})
    else:
        over = t.user_attrs.get(ATTR_OVER)
        row["error"] = t.user_attrs.get(ATTR_ERROR) or (f"over the BOPs budget ({over:,.0f})" if isinstance(over, int | float) else None) or "interrupted"
    return row


def collect_rows(study: optuna.Study, points: list[expand.Point] | None) -> list[dict[str, Any]]:
    """One row per point (sweep: its COMPLETE trial, else its last failure, else pending) or per counted trial (search)."""
    from optuna.trial import TrialState

    trials = [t for t in _trials(study) if not _discarded(t)]
    rows: list[dict[str, Any]] = []
    if points is None:
        for t in trials:
            if not _counted(t):
                continue
            if t.state == TrialState.COMPLETE:
                rows.append(_row(t, "complete"))
            elif t.state == TrialState.FAIL:
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
            row = {"trial": None, "state": "pending", "error": "not run yet", **p.params}
        row.update({"point": p.key, "label": p.label, **p.params})
        rows.append(row)
    return rows
