"""Axes → points: the variants of a sweep (a grid) or one point of a search.

A point is a set of `(path, value)` settings applied to the spec with
`qapdsl.paths.apply`, in axis order, and re-checked with `qapdsl.checks.spec.check_point`.
Its *key* is derived from the settings alone (sorted, hashed), so the same point
gets the same key in every process, on every machine and after a restart: it
names the point's output directory and ties Optuna trials to points.

Optuna parameters must be None, bool, int, float or str, so each value has a
*token*: numbers and words are their own token, a quantizer is its spec text
(`fixed<6,1>`, `6 bits int 0`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qapdsl import ir, paths
from qapdsl.checks.spec import check_point
from qapdsl.diagnostics import Diagnostic
from qapdsl.paths import Token, token


class ExpandError(Exception):
    """A point's settings do not apply, or the variant does not check."""

    def __init__(self, label: str, diagnostics: Sequence[Diagnostic]) -> None:
        self.label = label
        self.diagnostics = list(diagnostics)
        lines = [f"{d.code}: {d.message}" + (f" ({d.hint})" if d.hint else "") for d in self.diagnostics]
        super().__init__(f"point {label}: " + "; ".join(lines))


def axis_tokens(axis: ir.Axis) -> dict[Token, ir.SweepValue]:
    """Token → value for a list axis, in the order written."""
    out: dict[Token, ir.SweepValue] = {}
    for v in axis.values:
        out.setdefault(token(v), v)
    return out


def point_key(settings: Mapping[str, Token]) -> str:
    """A short, filesystem-safe, deterministic id: readable slug + hash of the sorted settings."""
    canonical = json.dumps(sorted((k, v) for k, v in settings.items()), separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
    parts = [f"{path.rsplit('.', 1)[-1]}{_short(v)}" for path, v in settings.items()]
    slug = re.sub(r"[^A-Za-z0-9.=+-]+", "_", "_".join(parts)).strip("_")[:60]
    return f"{slug}-{digest}" if slug else digest


def _short(v: Token) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def label(settings: Mapping[str, Token]) -> str:
    return " ".join(f"{k}={_short(v)}" for k, v in settings.items())


@dataclass(frozen=True)
class Point:
    """One variant: its settings (path → token, in axis order), key and checked spec."""

    settings: tuple[tuple[str, Token], ...]
    key: str
    spec: ir.Spec

    @property
    def params(self) -> dict[str, Token]:
        return dict(self.settings)

    @property
    def label(self) -> str:
        return label(self.params)


def variant(spec: ir.Spec, settings: Sequence[tuple[str, ir.SweepValue]]) -> ir.Spec:
    """The spec with each setting applied in order, checked; without sweep and search blocks."""
    text = label({p: token(v) for p, v in settings})
    out = spec.model_copy(update={"sweep": None, "search": None})
    for path, value in settings:
        try:
            out = paths.apply(out, path, value)
        except paths.PathError as e:
            raise ExpandError(text, [Diagnostic(e.code, e.message, None, e.hint)]) from e
    errors = check_point(out)
    if errors:
        raise ExpandError(text, errors)
    return out


def make_point(spec: ir.Spec, settings: Sequence[tuple[str, ir.SweepValue]]) -> Point:
    tokens = tuple((p, token(v)) for p, v in settings)
    return Point(settings=tokens, key=point_key(dict(tokens)), spec=variant(spec, settings))


def expand_sweep(sweep: ir.Sweep, spec: ir.Spec) -> list[Point]:
    """The grid: the product of the axes, first axis outermost. Every variant is checked.

    Raises ExpandError listing every point that does not check.
    """
    axes = [list(axis_tokens(a).items()) for a in sweep.axes]
    points: list[Point] = []
    problems: list[ExpandError] = []
    for combo in itertools.product(*axes):
        settings = [(a.path, value) for a, (_, value) in zip(sweep.axes, combo, strict=True)]
        try:
            points.append(make_point(spec, settings))
        except ExpandError as e:
            problems.append(e)
    if problems:
        first = problems[0]
        raise ExpandError(first.label, [d for p in problems for d in p.diagnostics[:1]])
    return points


def search_value(axis: ir.Axis, raw: Any) -> ir.SweepValue:
    """A value Optuna sampled (or a token from a list axis) → the value the path takes."""
    if axis.values:
        return axis_tokens(axis)[raw]
    if axis.integer:
        return int(raw)
    return float(raw)


def fingerprint(spec: ir.Spec, **options: Any) -> str:
    """A hash of what the study computes: the IR without source positions, plus run options.

    Two machines with the same spec (wherever its files are) get the same study;
    a changed spec or `--epochs` starts a new one instead of mixing results.
    """
    data = _strip(spec.model_dump(mode="json", exclude={"sources"}))
    blob = json.dumps({"spec": data, "options": options}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        # no positions, and no file paths (a baseline's IR holds its sources too)
        return {k: _strip(v) for k, v in obj.items() if k not in ("span", "spans", "input_span", "name_span", "value_spans", "sources")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj
