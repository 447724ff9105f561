"""What a study runs (`Job`: the spec, its folder, the run's options) and the names it stores on the study and its
trials (user attributes, files in a point's folder)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from qapdsl import ir
from qapdsl.sweep import expand

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
