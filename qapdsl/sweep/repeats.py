"""Repeats: the seeds a point runs with, where each run lives, and the figures over them.

With `repeat N` a point runs N times, with `train.seed` = the study's seed, +1,
..., +N−1 (train.py seeds the split and the initialisation from it). A point's
figures are the means over its runs, each with its sample standard deviation
(`<figure>_std`, n − 1 in the denominator; None for one run) and `n`, the
number of runs; the Pareto front is decided on the means.

With `repeat 1` (the default) a point runs once, with its own seed, in its own
folder (`points/<key>/`); with more, each run has a folder `points/<key>/seed<S>/`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from qapdsl import ir

Figures = Mapping[str, float | None]

NOT_AVERAGED = ("seed",)  # figures that are not measurements


def seeds(spec: ir.Spec, point_spec: ir.Spec, repeat: int, baseline: bool = False) -> list[int]:
    """The seeds of a point: its own one when it runs once, else the study's seed and the next ones.

    A baseline always takes the study's seeds, so that it is compared on the same splits."""
    if repeat == 1 and not baseline:
        return [point_spec.train.seed]
    return [spec.train.seed + i for i in range(repeat)]


def run_dir(point_dir: Path, seed: int, repeat: int) -> Path:
    return point_dir if repeat == 1 else point_dir / f"seed{seed}"


def aggregate(runs: Sequence[Figures]) -> dict[str, float | None]:
    """Mean, sample standard deviation (`_std`) and `n` of every figure over the runs.

    A figure one of the runs did not measure is None (a mean over fewer runs would not
    be comparable with the others'); the standard deviation of one run is None.
    """
    out: dict[str, float | None] = {"n": float(len(runs))}
    names: list[str] = []
    for r in runs:
        names += [k for k in r if k not in names and k not in NOT_AVERAGED]
    for name in names:
        values = [r.get(name) for r in runs]
        if not runs or any(v is None or not math.isfinite(float(v)) for v in values):
            out[name], out[f"{name}_std"] = None, None
            continue
        xs = [float(v) for v in values if v is not None]
        out[name] = statistics.fmean(xs)
        out[f"{name}_std"] = statistics.stdev(xs) if len(xs) > 1 else None
    return out
