"""Reading one value of a statement: numbers in range, words among choices, names, periods, shapes;
`Bad` (a value that cannot be read, one diagnostic) and `Ctx` (the diagnostics of one lowering)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from qapdsl import ast
from qapdsl.diagnostics import Diagnostic, choices_hint
from qapdsl.source import Span

T = TypeVar("T")


MAX_BITS = 32  # QKeras quantizers and the BOPs formula stop at 32 bits


MAX_INT = 2**31 - 1


_ONE: tuple[int, ...] = (1,)  # fallback shape after an error


class Bad(Exception):
    """A value that cannot be read; becomes one diagnostic."""

    def __init__(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        super().__init__(message)
        self.diagnostic = Diagnostic(code, message, span, hint)


@dataclass
class Ctx:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # what was read wrong and replaced by a default ("input", "data", "prune.target", "search.sampler", ...):
    # its error is said once; no later check judges the default in its place
    stand_ins: set[str] = field(default_factory=set)

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, hint))

    def attempt(self, fn: Callable[[], T], default: T, stand_in: str | None = None) -> T:
        """`fn()`, or on a value that cannot be read its diagnostic and `default`; `stand_in` names the setting the
        default then stands in for (`Ctx.stand_ins`), for every setting that a later check looks at."""
        try:
            return fn()
        except Bad as e:
            self.diagnostics.append(e.diagnostic)
            if stand_in is not None:
                self.stand_ins.add(stand_in)
            return default


def describe(v: ast.Value) -> str:
    kinds = {
        ast.Num: "number",
        ast.Qty: "quantity",
        ast.Fix: "fixed-point type",
        ast.Str: "string",
        ast.Word: "name",
        ast.ListV: "list",
        ast.TupleV: "tuple",
        ast.RangeV: "range",
    }
    return f"{kinds[type(v)]} `{ast.value_text(v)}`"


def as_int(v: ast.Value, what: str, lo: int = 0, hi: int = MAX_INT) -> int:
    if isinstance(v, ast.Num) and isinstance(v.value, int):
        if not lo <= v.value <= hi:
            raise Bad("E205", f"{what} must be between {lo} and {hi}, not {v.text}", v.span, None)
        return v.value
    if isinstance(v, ast.Num) and math.isfinite(v.value) and float(v.value).is_integer() and "." not in v.text:
        value = int(v.value)
        if not lo <= value <= hi:
            raise Bad("E205", f"{what} must be between {lo} and {hi}, not {v.text}", v.span, None)
        return value
    if isinstance(v, ast.Num) and not math.isfinite(v.value):
        raise Bad("E205", f"{what} is too large: {v.text}", v.span, f"use a whole number between {lo} and {hi}")
    hint = f"write it without quotes: {v.value}" if isinstance(v, ast.Str) and v.value.strip().isdigit() else f"write a whole number from {lo} to {hi}"
    raise Bad("E203", f"{what} must be a whole number, not {describe(v)}", v.span, hint)


def as_float(v: ast.Value, what: str, lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False) -> float:
    if isinstance(v, ast.Num):
        x = float(v.value)
        if not math.isfinite(x) or x < lo or x > hi or (lo_open and x == lo):
            bound = f"greater than {lo:g}" if lo_open else f"at least {lo:g}"
            rng = bound if hi == math.inf else f"{bound} and at most {hi:g}" if lo_open else f"between {lo:g} and {hi:g}"
            raise Bad("E205", f"{what} must be {rng}, not {v.text}", v.span, None)
        return x
    raise Bad("E203", f"{what} must be a number, not {describe(v)}", v.span, None)


def as_fraction(v: ast.Value, what: str, allow_one: bool = False) -> float:
    """`0.2` or `20%`; in [0, 1) (or [0, 1] with allow_one)."""
    if isinstance(v, ast.Qty) and v.unit == "%":
        x = float(v.num.value) / 100.0
        span = v.span
        text = f"{v.num.text}%"
    elif isinstance(v, ast.Num):
        x, span, text = float(v.value), v.span, v.text
    else:
        raise Bad("E203", f"{what} must be a fraction like 0.2 or 20%, not {describe(v)}", v.span, None)
    top_ok = x <= 1.0 if allow_one else x < 1.0
    if not (math.isfinite(x) and x >= 0.0 and top_ok):
        limit = "100%" if allow_one else "below 100%"
        raise Bad("E205", f"{what} must be from 0 to {limit}, not {text}", span, "a fraction is written 0.2 or 20%")
    return x


def as_word(v: ast.Value, what: str, choices: Sequence[str]) -> str:
    if isinstance(v, ast.Word) and v.name in choices:
        return v.name
    if isinstance(v, ast.Word):
        raise Bad("E204", f"unknown {what} '{v.name}'", v.span, choices_hint(v.name, choices))
    raise Bad("E203", f"{what} must be one of {', '.join(choices)}, not {describe(v)}", v.span, None)


def as_str(v: ast.Value, what: str) -> str:
    if isinstance(v, ast.Str):
        return v.value
    hint = f'write it in double quotes: "{ast.value_text(v)}"' if isinstance(v, ast.Word | ast.Num) else None
    raise Bad("E203", f'{what} must be a "string", not {describe(v)}', v.span, hint)


def as_name(v: ast.Value, what: str, glob: bool = False) -> str:
    if isinstance(v, ast.Word):
        if "." in v.name or "-" in v.name or (not glob and any(c in v.name for c in "*?")):
            raise Bad("E207", f"invalid {what} '{v.name}'", v.span, "names are letters, digits and '_', starting with a letter")
        return v.name
    raise Bad("E203", f"{what} must be a name, not {describe(v)}", v.span, None)


def as_switch(v: ast.Value, what: str) -> bool:
    return as_word(v, what, ("on", "off", "true", "false")) in ("on", "true")


def as_period_ns(v: ast.Value) -> float:
    if isinstance(v, ast.Qty):
        x = float(v.num.value)
        if not math.isfinite(x) or x <= 0:
            raise Bad("E205", f"clock must be positive, not {ast.value_text(v)}", v.span, None)
        factor = {"ns": 1.0, "us": 1e3, "ms": 1e6}
        freq = {"MHz": 1e3, "GHz": 1.0, "kHz": 1e6}
        if v.unit in factor:
            ns = x * factor[v.unit]
        elif v.unit in freq:
            ns = freq[v.unit] / x
        else:
            raise Bad("E209", f"'{v.unit}' is not a unit of time or frequency", v.span, "write `clock 5 ns` or `clock 200 MHz`")
        if not 0.1 <= ns <= 1e6:
            raise Bad("E205", f"clock period {ns:g} ns is out of range", v.span, "FPGA clocks are between 0.1 ns and 1 ms")
        return round(ns, 9)
    if isinstance(v, ast.Num):
        raise Bad("E209", f"clock {v.text} needs a unit", v.span, f"write `clock {v.text} ns` or `clock {v.text} MHz`")
    raise Bad("E203", f"clock must be a time or frequency, not {describe(v)}", v.span, "write `clock 5 ns` or `clock 200 MHz`")


def as_dims(v: ast.Value, what: str, rank: int | None = None) -> tuple[int, ...]:
    """`3` or `(3, 3)`; a bare number is repeated to `rank`."""
    if isinstance(v, ast.TupleV):
        if not v.items:
            raise Bad("E202", f"{what} is empty", v.span, None)
        dims = tuple(as_int(i, what, 1, 1_000_000) for i in v.items)
        if rank is not None and len(dims) != rank:
            raise Bad("E302", f"{what} has {len(dims)} dimensions, the layer needs {rank}", v.span, None)
        return dims
    n = as_int(v, what, 1, 1_000_000)
    return (n,) * (rank or 1)


def _join(a: Span, b: Span) -> Span:
    return Span.model_construct(file=a.file, line=a.line, column=a.column, end_line=b.end_line, end_column=b.end_column)
