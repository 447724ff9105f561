"""How far a study is: points done, running, waiting, failed; the trials a search has counted against its budget."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qapdsl.sweep import expand

if TYPE_CHECKING:
    import optuna
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
    STUDY_ENDED,
)


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
