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

The modules, one job each (this package re-exports their public names, what `qapc sweep` uses):

- `job`: `Job` (what a study runs) and the names stored on the study, its trials and a point's folder;
- `storage`: the default SQLite file (claimed, locked, checked), storage URLs, opening the study;
- `samplers`: the grid or search sampler, the directions, budgets as constraints;
- `status`: how far a study is; `queue`: enqueueing, stale trials, popping, a search's new points;
- `trial`: running one trial and its seeds; `worker`: a worker process; `rows`: the results as rows.
"""

from __future__ import annotations

from qapdsl.sweep.study.job import (
    ATTR_DECLARED,
    ATTR_DIR,
    ATTR_DISCARDED,
    ATTR_ERROR,
    ATTR_HOST,
    ATTR_LABEL,
    ATTR_OVER,
    ATTR_POINT,
    ATTR_SAME,
    ATTR_SEED,
    ATTR_SUMMARY,
    ERROR_FILE,
    OPTUNA_TABLES,
    POINT_FILE,
    REPEATS_IN_A_ROW,
    STUDY_DB,
    STUDY_ENDED,
    STUDY_GRID,
    STUDY_KIND,
    STUDY_OPTIONS,
    Emit,
    Job,
    baseline_job,
    baseline_point,
)
from qapdsl.sweep.study.queue import Heartbeat, enqueue_missing, fail_running, pop_trial, prepare, space_exhausted
from qapdsl.sweep.study.rows import collect_rows, run_options
from qapdsl.sweep.study.samplers import constraints, make_sampler, study_directions
from qapdsl.sweep.study.status import Status, left_to_run, malformed, search_status, sweep_status, trial_problem
from qapdsl.sweep.study.storage import check_default_storage, claim_points, default_storage, make_storage, open_study, queue_lock
from qapdsl.sweep.study.trial import run_trial, seed_results
from qapdsl.sweep.study.worker import work, worker_main

__all__ = [
    "ATTR_DECLARED",
    "ATTR_DIR",
    "ATTR_DISCARDED",
    "ATTR_ERROR",
    "ATTR_HOST",
    "ATTR_LABEL",
    "ATTR_OVER",
    "ATTR_POINT",
    "ATTR_SAME",
    "ATTR_SEED",
    "ATTR_SUMMARY",
    "ERROR_FILE",
    "OPTUNA_TABLES",
    "POINT_FILE",
    "REPEATS_IN_A_ROW",
    "STUDY_DB",
    "STUDY_ENDED",
    "STUDY_GRID",
    "STUDY_KIND",
    "STUDY_OPTIONS",
    "Emit",
    "Heartbeat",
    "Job",
    "Status",
    "baseline_job",
    "baseline_point",
    "check_default_storage",
    "claim_points",
    "collect_rows",
    "constraints",
    "default_storage",
    "enqueue_missing",
    "fail_running",
    "left_to_run",
    "make_sampler",
    "make_storage",
    "malformed",
    "open_study",
    "pop_trial",
    "prepare",
    "queue_lock",
    "run_options",
    "run_trial",
    "search_status",
    "seed_results",
    "space_exhausted",
    "study_directions",
    "sweep_status",
    "trial_problem",
    "work",
    "worker_main",
]
