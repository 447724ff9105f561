"""Pareto fronts and hypervolumes over two or three objectives (pure Python: no numpy, no optuna).

Points are value vectors with a direction per objective ("maximize" /
"minimize"). Internally everything is turned into minimisation (maximised
values negated), the convention of the hypervolume literature and of Optuna.

- `dominates(a, b)`: a is at least as good as b in every objective and better in one.
- `front(points)`: the indices of the points no other point dominates (equal points are
  all kept: neither dominates the other).
- `hypervolume(points, reference)`: the volume dominated by the points and bounded by the
  reference point; points that are not better than the reference in every objective add
  nothing. Exact, by slicing along the last objective (fine for the few hundred points of
  a study).
"""

from __future__ import annotations

from collections.abc import Sequence

Vector = Sequence[float]


def _min_form(v: Vector, directions: Sequence[str]) -> tuple[float, ...]:
    return tuple(-float(x) if d == "maximize" else float(x) for x, d in zip(v, directions, strict=True))


def dominates(a: Vector, b: Vector, directions: Sequence[str]) -> bool:
    ma, mb = _min_form(a, directions), _min_form(b, directions)
    return all(x <= y for x, y in zip(ma, mb, strict=True)) and any(x < y for x, y in zip(ma, mb, strict=True))


def front(points: Sequence[Vector], directions: Sequence[str]) -> list[int]:
    """Indices of the non-dominated points, in the order given."""
    return [i for i, p in enumerate(points) if not any(dominates(q, p, directions) for j, q in enumerate(points) if j != i)]


def _hv_min(points: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    pts = [p for p in points if all(x < r for x, r in zip(p, ref, strict=True))]
    if not pts:
        return 0.0
    if len(ref) == 1:
        return ref[0] - min(p[0] for p in pts)
    pts.sort(key=lambda p: p[-1])
    total = 0.0
    for i, p in enumerate(pts):
        upper = pts[i + 1][-1] if i + 1 < len(pts) else ref[-1]
        if upper > p[-1]:
            total += (upper - p[-1]) * _hv_min([q[:-1] for q in pts[: i + 1]], ref[:-1])
    return total


def hypervolume(points: Sequence[Vector], reference: Vector, directions: Sequence[str]) -> float:
    """The hypervolume of `points` against `reference` (any points: dominated ones add nothing)."""
    return _hv_min([_min_form(p, directions) for p in points], _min_form(reference, directions))


def box(reference: Vector, ideal: Vector, directions: Sequence[str]) -> float:
    """The volume between the reference and the ideal point (best possible values): the largest hypervolume there is."""
    return hypervolume([ideal], reference, directions)
