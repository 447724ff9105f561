"""The study's sampler (a grid over the enqueued points, or TPE, NSGA-II, random, CMA-ES), its directions and its
budgets as Optuna constraints."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qapdsl import ir, objectives
from qapdsl.sweep import expand

if TYPE_CHECKING:
    import optuna
from qapdsl.sweep.study.job import ATTR_DECLARED, ATTR_SUMMARY, Job
from qapdsl.sweep.study.status import trial_problem


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
