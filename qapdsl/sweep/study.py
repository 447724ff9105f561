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

A search (`search { ... }`) pops retries first, else asks its sampler (TPE,
NSGA-II, random, CMA-ES) for a new trial; a trial is *counted* against `trials N`
unless it was discarded or killed, and a trial numbered past the budget is
discarded, so the budget holds with any number of workers. A point the sampler
proposes again is not run again, and does not use up the budget: the trial is told
the first one's results (`qapc_same_as`), so that the sampler learns it, and the
sampler is asked again, so that a search ends with `trials` distinct points. It ends
sooner only when it cannot find more (`qapc_ended` on the study says why): every
point of a finite search space has run, or the sampler proposed nothing new in
`REPEATS_IN_A_ROW` proposals. Each run of the command seeds the samplers anew (a
resumed search does not replay its first proposals). With two or
three objectives the study is an Optuna multi-objective study (values: the
objectives' means); budgets are Optuna constraints (`constraints_func`): a point
whose declared figures are over a budget is PRUNED before training (with its
constraint values, so TPE learns to avoid it), one whose measured figures are over
completes but is infeasible, and neither is on the front.

A trial is a point and all its seeds (`repeat N`). Each seed's figures are stored
on the trial as soon as that run finishes (`qapc_seed_<S>`); a trial of a point
that an earlier, killed or failed, trial started takes those over and runs only
the missing seeds. The trial's summary is their mean (`qapdsl.sweep.repeats`).

A baseline (`baseline "SPEC"`) is a study of its own in the same storage
(`<name>-baseline`): one enqueued point, its seeds, the same queue. Workers take
its point first.

Results: each run of a point lives in `<out>/points/<key>/` (`.../seed<S>/` with
repeats; cleared first when rerun), the runner writes results.json there
atomically, then `point.json` (settings, the mean summary, each run's) is written
atomically, then the trial is told COMPLETE with the summary as a user attribute.
Killed anywhere in between, the missing runs are rerun and the study holds the
point's result once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import math
import os
import random
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from qapdsl import checks, ir, objectives, paths
from qapdsl.outdir import OutputDirError, ledger
from qapdsl.sweep import expand, repeats, summary

if TYPE_CHECKING:
    import optuna

Emit = Callable[[dict[str, Any]], None]

ATTR_POINT = "qapc_point"  # the point's key
ATTR_LABEL = "qapc_label"
ATTR_SUMMARY = "qapc_summary"  # repeats.aggregate(...) of the runs of a COMPLETE trial
ATTR_SEED = "qapc_seed_"  # + seed: summary.summarize(...) of one run, set as soon as it finished
ATTR_ERROR = "qapc_error"  # why a point failed (a pipeline step, an invalid variant)
ATTR_OVER = "qapc_over_budget"  # {metric: figure} of a search point above its budgets
ATTR_DECLARED = "qapc_declared"  # the declared cost figures of a point refused before training
ATTR_SAME = "qapc_same_as"  # a search trial that proposed a point already done: the trial it reuses
ATTR_DISCARDED = "qapc_discarded"  # a duplicate or surplus trial, never run
ATTR_DIR = "qapc_dir"
POINT_FILE = "point.json"  # a point's figures, in points/<key>/
STUDY_DB = "study.db"  # the default storage, in the study's folder
# the tables of an Optuna RDB storage (optuna 3.x/4.x, with alembic's version table)
OPTUNA_TABLES = frozenset(
    {
        "studies", "version_info", "study_directions", "study_user_attributes", "study_system_attributes", "trials",
        "trial_user_attributes", "trial_system_attributes", "trial_params", "trial_values", "trial_intermediate_values",
        "trial_heartbeats", "alembic_version",
    }
)
ERROR_FILE = "error.txt"  # why a point's run failed, in its run folder
ATTR_HOST = "qapc_host"
STUDY_GRID = "qapc_grid"  # study attr: number of grid points, set once all are enqueued
STUDY_ENDED = "qapc_ended"  # study attr: why a search stopped before its trials budget (nothing new to propose)
REPEATS_IN_A_ROW = 100  # proposals of points already run, one after another, before a search stops looking
STUDY_KIND = "qapc_kind"
STUDY_OPTIONS = "qapc_options"  # study attr: the command line's overrides of the spec it runs with (`Job.options`)


@dataclass(frozen=True)
class Job:
    """What a worker process needs to take part in a study (picklable, JSON-able).

    `kind` baseline: the study of a sweep's or search's (`block`) baseline spec."""

    kind: Literal["sweep", "search", "baseline"]
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
    block: Literal["sweep", "search"] = "sweep"
    force: bool = False  # the user's files in a point's folder are kept aside instead of refused
    options: dict[str, Any] = field(default_factory=dict)  # `qapc sweep`'s overrides as given (epochs, data, synth, dialect, model)

    def spec(self) -> ir.Spec:
        return ir.Spec.model_validate_json(self.spec_json)

    def study_block(self, spec: ir.Spec | None = None) -> ir.Sweep | ir.Search:
        spec = spec or self.spec()
        block = spec.search if self.block == "search" else spec.sweep
        assert block is not None
        return block

    def points(self, spec: ir.Spec | None = None) -> list[expand.Point]:
        """The points a queue study enqueues: the grid of a sweep, the one point of a baseline (a search has none)."""
        spec = spec or self.spec()
        if self.kind == "sweep":
            assert spec.sweep is not None
            return expand.expand_sweep(spec.sweep, spec)
        if self.kind == "baseline":
            return [baseline_point(self.study_block(spec))]
        return []


def baseline_point(block: ir.Sweep | ir.Search) -> expand.Point:
    assert block.baseline is not None and block.baseline.spec is not None
    return expand.Point(settings=(), key="baseline", spec=expand.variant(block.baseline.spec, []))


def baseline_job(job: Job) -> Job | None:
    """The job of the baseline's study, when the sweep or search has a baseline."""
    if job.study_block().baseline is None:
        return None
    return dataclasses.replace(job, kind="baseline", block=job.kind if job.kind != "baseline" else job.block, study_name=f"{job.study_name}-baseline")


def default_storage(out_dir: Path) -> str:
    return f"sqlite:///{(out_dir / STUDY_DB).resolve()}"


def claim_points(out_dir: Path, force: bool = False) -> list[Path]:
    """Before a study runs: every file its points' folders hold at a name the study writes must be
    qapc's (what killed tries of its own left is taken as its own); a user's stops the study at
    once (qapdsl.outdir.ForeignFiles), or is kept aside with `force`."""
    from qapdsl.outdir import RUN_OUTPUTS, OutputDirError

    points = out_dir / "points"
    if points.is_symlink() or (points.exists() and not points.is_dir()):
        raise OutputDirError(f"{points} is a link or a file; the study keeps its points' runs there: move it away")
    if not points.is_dir():
        return []
    kept: list[Path] = []
    for point in sorted(points.iterdir()):
        if point.is_symlink() or not point.is_dir():
            raise OutputDirError(f"{point} is a link or a file, not a point's folder of the study: move it away")
        runs = [point, *sorted(p for p in point.iterdir() if p.name.startswith("seed") and p.is_dir() and not p.is_symlink())]
        for folder in runs:
            ledger.adopt_orphans(folder)
            kept += ledger.claim(folder, (*RUN_OUTPUTS, POINT_FILE, ERROR_FILE), force=force, command="the study")
    return kept


def check_default_storage(out_dir: Path) -> None:
    """The study's own SQLite file in its folder: qapc's when it holds an Optuna study database (it
    changes at every trial, so no digest can say it); a user's database or a file of another kind at
    that name is refused before Optuna writes into it. Raises OutputDirError."""
    import sqlite3

    from qapdsl.outdir import OutputDirError

    db = out_dir / STUDY_DB
    for path in (db, db.with_name(db.name + ".lock"), db.with_name(db.name + "-journal")):
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise OutputDirError(f"{path} is a link or not a plain file; qapc keeps its study there: remove it, or give --storage")
    if not db.exists():
        return
    why = None
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
        if not {"studies", "trials", "version_info"} <= tables or tables - OPTUNA_TABLES:
            why = "a database that is not an Optuna study of qapc's"
    except sqlite3.Error as e:
        why = f"not an SQLite database ({e})"
    if why:
        raise OutputDirError(f"{db} is {why}; qapc keeps its study in that file: move it away, use another folder (-o DIR), or give --storage")


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

    if job.kind == "baseline":
        return optuna.samplers.RandomSampler(seed=job.seed)  # never asked: its one point is enqueued
    if job.kind == "sweep":
        assert spec.sweep is not None
        grid: dict[str, Any] = {a.path: list(expand.axis_tokens(a)) for a in spec.sweep.axes}
        return _QueueGridSampler(grid, seed=job.seed)
    search = spec.search
    assert search is not None
    feasibility = constraints(search.budgets) if search.budgets else None
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=job.seed)
    if search.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=job.seed, warn_independent_sampling=False)
    if search.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=objectives.population(search), seed=job.seed, constraints_func=feasibility)
    # multivariate: the axes interact (widths, bits and pruning share one BOPs budget); constant liar:
    # running trials count as bad, so that parallel workers do not all ask for the same point
    return optuna.samplers.TPESampler(
        seed=job.seed, multivariate=True, constant_liar=True, constraints_func=feasibility, warn_independent_sampling=False
    )


def constraints(budgets: dict[str, float]) -> Callable[[optuna.trial.FrozenTrial], list[float]]:
    """Optuna's constraints_func: figure − budget per budget (≤ 0 is feasible), from the trial's mean figures.

    A point refused before training has its declared figures instead; a figure nobody
    measured counts as far over."""

    def values(trial: optuna.trial.FrozenTrial) -> list[float]:
        if trial_problem(trial) is not None:  # figures of the wrong shape: as unmeasured
            return [1e300 for _ in budgets]
        figures = trial.user_attrs.get(ATTR_SUMMARY) or trial.user_attrs.get(ATTR_DECLARED) or {}
        return [float(figures[m]) - limit if isinstance(figures.get(m), int | float) else 1e300 for m, limit in budgets.items()]

    return values


def study_directions(job: Job, spec: ir.Spec) -> list[str]:
    """Optuna's directions: one per objective (a baseline's study compares the same figures)."""
    return objectives.directions(objectives.objectives(job.study_block(spec)))


@contextlib.contextmanager
def queue_lock(job: Job) -> Iterator[None]:
    """Serialize popping and failing trials on SQLite (it has no row locks); PostgreSQL locks rows."""
    db = _sqlite_path(job.storage)
    if db is None:
        yield
        return
    fd = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)  # never through a link
    with os.fdopen(fd, "r+") as fh:
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
        study = optuna.create_study(storage=storage, study_name=job.study_name, directions=study_directions(job, spec), sampler=sampler)
        study.set_user_attr(STUDY_KIND, job.kind)
        study.set_user_attr(STUDY_OPTIONS, job.options)  # the tables of any machine say how it was run
        return study, True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(study_name=job.study_name, storage=storage, sampler=sampler), False


# -- the state of a study -------------------------------------------------------------------


def _trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's trials whose stored attributes have the shapes qapc writes (`trial_problem`): a trial
    that another program, a damaged study.db or a hand edit left otherwise is left out (`malformed` names it)."""
    return [t for t in study.get_trials(deepcopy=False) if trial_problem(t) is None]


_TEXT_ATTRS = (ATTR_POINT, ATTR_ERROR, ATTR_DIR, ATTR_DISCARDED, ATTR_HOST)
_FIGURE_ATTRS = (ATTR_SUMMARY, ATTR_DECLARED, ATTR_OVER)  # and ATTR_SEED + seed


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number", type(None): "null"}.get(type(v), "a value")


def trial_problem(t: optuna.trial.FrozenTrial) -> str | None:
    """What is wrong with the figures and names a trial stored in the study (its user attrs), or None.

    qapc stores texts (point, error, folder, ...), a label that may be null, the trial a repeat reuses, and
    figures: objects of numbers or nulls (a run's `summarize`, the mean figures, the declared ones, the budgets exceeded)."""
    attrs = t.user_attrs
    for name in _TEXT_ATTRS:
        if name in attrs and not isinstance(attrs[name], str):
            return f"its {name} is {_kind(attrs[name])}, not a string"
    if attrs.get(ATTR_LABEL) is not None and not isinstance(attrs[ATTR_LABEL], str):
        return f"its {ATTR_LABEL} is {_kind(attrs[ATTR_LABEL])}, not a string"
    if ATTR_SAME in attrs and (isinstance(attrs[ATTR_SAME], bool) or not isinstance(attrs[ATTR_SAME], int)):
        return f"its {ATTR_SAME} is {_kind(attrs[ATTR_SAME])}, not a trial number"
    for name, figures in attrs.items():
        if name not in _FIGURE_ATTRS and not (name.startswith(ATTR_SEED) and name[len(ATTR_SEED) :].lstrip("-").isdigit()):
            continue
        if not isinstance(figures, dict):
            return f"its {name} is {_kind(figures)}, not an object of figures"
        for key, v in figures.items():
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                return f"its {name}[{json.dumps(key)}] is {_kind(v)} {json.dumps(v)[:40]}, not a number"
    return None


def malformed(study: optuna.Study) -> list[str]:
    """One sentence per trial that `_trials` leaves out, naming the trial and what is wrong with it."""
    return [
        f"Trial {t.number} of study {study.study_name!r} is left out: {why} (qapc did not write it so; "
        "it does not count, and a resumed study runs another in its place)"
        for t in study.get_trials(deepcopy=False)
        if (why := trial_problem(t)) is not None
    ]


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
    front: list[dict[str, Any]] | None = None  # the current front's points (`qapc sweep` fills it in)
    hypervolume: float | None = None
    ended: str | None = None  # a search that stopped before its budget: why

    def line(self) -> str:
        parts = [f"{self.done}/{self.total} done", f"{self.running} running"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.front is not None:
            parts.append(f"front {len(self.front)} point{'s' if len(self.front) != 1 else ''}" + (f", hypervolume {self.hypervolume:.4g}" if self.hypervolume else ""))
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done": self.done,
            "running": self.running,
            "waiting": self.waiting,
            "failed": self.failed,
            "front": self.front,
            "hypervolume": self.hypervolume,
            "ended": self.ended,
        }


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

    if _discarded(t) or ATTR_SAME in t.user_attrs:  # a point proposed again is not a trial of its own
        return False
    if t.state == TrialState.FAIL:
        return ATTR_ERROR in t.user_attrs
    if t.state == TrialState.PRUNED:
        return ATTR_OVER in t.user_attrs  # refused before training: over a budget
    return True


def search_status(study: optuna.Study, budget: int) -> Status:
    """Counts over the counted trials of a search: done (complete), running, waiting, failed (errors and points over a budget)."""
    from optuna.trial import TrialState

    st = Status(total=budget, ended=study.user_attrs.get(STUDY_ENDED))
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


def left_to_run(study: optuna.Study, points: list[expand.Point] | None, budget: int) -> int:
    """Points (of a sweep or a baseline) or trials (of a search, `points` None) that have not finished yet."""
    st = sweep_status(study, points) if points is not None else search_status(study, budget)
    return max(0, st.total - st.done - (st.failed if points is None else 0))


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
            if checks.search_space_size(search) is None or study.user_attrs[STUDY_ENDED] != space_exhausted(search):
                study.set_user_attr(STUDY_ENDED, None)  # the sampler found nothing new: a new run tries again, with other seeds
        if job.kind != "search":
            added = enqueue_missing(study, points)
            if STUDY_GRID not in study.user_attrs:
                study.set_user_attr(STUDY_GRID, len(points))
            say({"event": "prepared", "enqueued": added, "total": len(points), "created": created, "study": job.kind})
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
    """Close a trial that will not run: FAIL, which samplers ignore (a PRUNED one would count as a bad point)."""
    from optuna.trial import TrialState

    trial.set_user_attr(ATTR_DISCARDED, why)
    study.tell(trial, state=TrialState.FAIL)


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
    """Suggest every axis (fixed params for enqueued trials; the sampler's choice for new ones). A baseline has none."""
    if job.kind == "baseline":
        return []
    out: list[tuple[str, ir.SweepValue]] = []
    for axis in job.study_block(spec).axes:
        raw: Any
        if axis.values:
            raw = trial.suggest_categorical(axis.path, list(expand.axis_tokens(axis)))
        elif axis.integer:
            raw = trial.suggest_int(axis.path, int(axis.low or 0), int(axis.high or 0), log=axis.log)
        else:
            raw = trial.suggest_float(axis.path, float(axis.low or 0.0), float(axis.high or 0.0), log=axis.log)
        out.append((axis.path, expand.search_value(axis, raw)))
    return out


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


def _reuse(study: optuna.Study, trial: optuna.Trial, done: optuna.trial.FrozenTrial, emit: Emit, base: dict[str, Any]) -> str:
    """A search trial that proposes a point already done: complete it with that point's results (no run)."""
    for name in (ATTR_POINT, ATTR_LABEL, ATTR_SUMMARY, ATTR_OVER, ATTR_DIR):
        if name in done.user_attrs:
            trial.set_user_attr(name, done.user_attrs[name])
    trial.set_user_attr(ATTR_SAME, done.number)
    study.tell(trial, list(done.values))
    emit({"event": "same", **base, "of": done.number, "summary": done.user_attrs.get(ATTR_SUMMARY)})
    return "same"


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


def space_exhausted(search: ir.Search) -> str:
    n = checks.search_space_size(search) or 0
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
    size = checks.search_space_size(search)
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


class _Queue:
    """One study a worker takes part in: its job, storage, study, and how to get its next trial."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.spec = job.spec()
        self.storage = make_storage(job)
        self.study, _ = open_study(job, self.storage)
        block = job.study_block(self.spec)
        self.budget = block.trials if job.kind == "search" and isinstance(block, ir.Search) else 0
        self.points = job.points(self.spec)

    def next_trial(self, emit: Emit) -> optuna.Trial | None:
        import optuna

        trial = pop_trial(self.study, self.job, self.storage)
        if trial is None and self.job.kind == "search":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                warnings.filterwarnings("ignore", message="Heartbeat")
                trial = _ask_new(self.study, self.job, self.budget, emit)
            if trial is not None:
                self.storage.record_heartbeat(trial._trial_id)
        return trial

    def status(self) -> Status:
        return search_status(self.study, self.budget) if self.job.kind == "search" else sweep_status(self.study, self.points)


def work(job: Job, emit: Emit, stop: threading.Event | None = None) -> dict[str, int]:
    """One worker: take points until none is left anywhere in the study (and its baseline's); returns counts by outcome.

    The baseline's point comes first: every comparison needs it."""
    queues = [_Queue(j) for j in (baseline_job(job), job) if j is not None]
    outcomes: dict[str, int] = {}
    while not (stop and stop.is_set()):
        found = next(((q, t) for q in queues for t in [q.next_trial(emit)] if t is not None), None)
        if found is None:
            if all(st.running == 0 and st.waiting == 0 for st in (q.status() for q in queues)):
                break  # nothing left here or anywhere; a running trial elsewhere may still need a retry
            time.sleep(job.poll)
            continue
        q, trial = found
        try:
            outcome = run_trial(q.study, trial, q.job, q.storage, emit)
        except KeyboardInterrupt:
            _give_back(q.study, trial)
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
