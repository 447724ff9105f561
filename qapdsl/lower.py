"""Lowering: resolved statements (`qapdsl.ast`) → IR (`qapdsl.ir`), with diagnostics.

Each block is read against its vocabulary in `qapdsl.schema`. Every problem is
recorded and reading goes on, so one run reports all of them; a value that
cannot be read falls back to its default so later checks still run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from qapdsl import ast, ir, learned, schema
from qapdsl.data import FILE_SUFFIXES
from qapdsl.diagnostics import Diagnostic, choices_hint, did_you_mean
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


# -- value readers -------------------------------------------------------------


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


def as_precision(v: ast.Value, what: str) -> ir.Precision:
    if not isinstance(v, ast.Fix):
        raise Bad("E203", f"{what} must be a fixed-point type like fixed<16,6>, not {describe(v)}", v.span, None)
    check_width(v.width, v.integer, v.span)
    rounding = saturation = None
    for m in v.modes:
        if m in ROUNDING:
            rounding = m
        elif m in SATURATION:
            saturation = m
        else:
            raise Bad("E204", f"unknown rounding or saturation mode '{m}'", v.span, choices_hint(m, ROUNDING + SATURATION))
    return ir.Precision.model_construct(signed=v.kind == "fixed", width=v.width, integer=v.integer, rounding=rounding, saturation=saturation, span=v.span)


ROUNDING = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV")
SATURATION = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM")


def check_width(width: int, integer: int, span: Span | None, max_bits: int = 64) -> None:
    if not 1 <= width <= max_bits:
        raise Bad("E401", f"bit width {width} is out of range", span, f"use 1 to {max_bits} bits")
    if integer > width:
        raise Bad("E402", f"{integer} integer bits exceed the {width} bits in total", span, f"use at most {width} integer bits")
    if integer < -width:
        raise Bad("E402", f"{integer} integer bits is out of range for {width} bits", span, None)


def read_quant(values: Sequence[ast.Value], span: Span) -> ir.Quant:
    """`fixed<6,1>`, `ufixed<6,0>`, `6 bits [int K]`, `po2 4 bits`, `binary`, `ternary`, `float`, `[alpha A]`."""
    if not values:
        raise Bad("E202", "missing quantizer", span, "e.g. fixed<6,1>, ufixed<6,0>, 6 bits, po2 4 bits, binary, ternary, float")
    vals = list(values)
    if isinstance(vals[0], ast.Word) and vals[0].name == "learned":  # a trained width (qapdsl.learned)
        try:
            return learned.read(vals, read_quant, span)
        except learned.Error as e:
            raise Bad(e.code, e.message, e.span, e.hint) from None
    alpha: str | None = None
    if len(vals) >= 2 and isinstance(vals[-2], ast.Word) and vals[-2].name == "alpha":
        a = vals[-1]
        if isinstance(a, ast.Word) and a.name in ("auto", "auto_po2"):
            alpha = a.name
        else:
            alpha = repr(as_float(a, "alpha", 0.0, 1e6, lo_open=True))
        vals = vals[:-2]
    head = vals[0]
    rest = vals[1:]
    q: ir.Quant
    if isinstance(head, ast.Fix):
        if head.modes:
            raise Bad("E206", "rounding modes belong to `result` and `accum`, not to a quantizer", head.span, None)
        check_width(head.width, head.integer, head.span, MAX_BITS)
        q = ir.Quant.model_construct(kind="fixed", width=head.width, integer=head.integer, signed=head.kind == "fixed", alpha=alpha, span=head.span)
    elif isinstance(head, ast.Qty) and head.unit in ("bits", "bit"):
        width = as_int(head.num, "bit width", 1, MAX_BITS)
        integer = 0
        if rest:
            if len(rest) >= 2 and isinstance(rest[0], ast.Word) and rest[0].name == "int":
                integer = as_int(rest[1], "integer bits", 0, MAX_BITS)
                if integer > width:
                    raise Bad("E402", f"{integer} integer bits exceed the {width} bits in total", rest[1].span, f"use at most {width} integer bits")
                rest = rest[2:]
            else:
                raise Bad("E206", f"unexpected {describe(rest[0])} after the bit width", rest[0].span, "write `6 bits int 0`")
        q = ir.Quant.model_construct(kind="bits", width=width, integer=integer, alpha=alpha, span=_join(head.span, values[-1].span))
    elif isinstance(head, ast.Word) and head.name == "po2":
        if not rest or not (isinstance(rest[0], ast.Qty) and rest[0].unit in ("bits", "bit")):
            raise Bad("E202", "po2 needs a bit count", head.span, "write `po2 4 bits`")
        try:
            width = as_int(rest[0].num, "po2 bit width", 2, 8)
        except Bad as e:
            raise Bad(e.diagnostic.code, e.diagnostic.message, e.diagnostic.span, "QKeras quantized_po2 takes 2 to 8 bits") from None
        rest = rest[1:]
        q = ir.Quant.model_construct(kind="po2", width=width, integer=0, span=_join(head.span, values[-1].span))
    elif isinstance(head, ast.Word) and head.name in ("binary", "ternary", "float"):
        kind = head.name
        q = ir.Quant.model_construct(
            kind=cast(ir.QuantKind, kind), width={"binary": 1, "ternary": 2, "float": 32}[kind], integer=0, alpha=alpha, span=head.span
        )
    elif isinstance(head, ast.Num):
        raise Bad("E209", f"bit width {head.text} needs the unit `bits`", head.span, f"write `{head.text} bits`")
    elif isinstance(head, ast.Word):
        raise Bad("E204", f"unknown quantizer '{head.name}'", head.span, choices_hint(head.name, ("po2", "binary", "ternary", "float", "fixed", "ufixed", "learned")))
    else:
        raise Bad("E203", f"a quantizer is expected, not {describe(head)}", head.span, "e.g. fixed<6,1> or 6 bits")
    if rest:
        raise Bad("E206", f"unexpected {describe(rest[0])} after the quantizer", rest[0].span, None)
    return q


def _join(a: Span, b: Span) -> Span:
    return Span.model_construct(file=a.file, line=a.line, column=a.column, end_line=b.end_line, end_column=b.end_column)


def flat(stmt: ast.Stmt) -> list[ast.Value]:
    return [v for g in stmt.groups for v in g]


def no_block(ctx: Ctx, stmt: ast.Stmt) -> None:
    if stmt.block is not None:
        ctx.error("E206", f"`{stmt.key.name}` takes no block", stmt.span, None)


def single(stmt: ast.Stmt, what: str | None = None) -> ast.Value:
    vals = flat(stmt)
    what = what or stmt.key.name
    if stmt.member is not None:
        raise Bad("E203", f"`{stmt.key.name} in ...` is only for sweep and search axes", stmt.span, f"write `{stmt.key.name} VALUE`")
    if not vals:
        raise Bad("E202", f"`{stmt.key.name}` needs a value", stmt.key.span, schema_hint(stmt.key.name))
    if len(vals) > 1:
        raise Bad("E206", f"unexpected {describe(vals[1])}: `{stmt.key.name}` takes one value", vals[1].span, schema_hint(stmt.key.name))
    return vals[0]


def schema_hint(key: str) -> str | None:
    for table in (schema.TRAIN_KEYS, schema.TARGET_KEYS, schema.PRUNE_KEYS, schema.LAYER_SETTINGS, schema.MODEL_KEYS, schema.SEARCH_KEYS):
        if key in table:
            return table[key]
    return None


def read_pairs(ctx: Ctx, values: Sequence[ast.Value], readers: dict[str, Callable[[ast.Value], Any]], where: str) -> dict[str, Any]:
    """Read `word value word value ...` against the allowed words."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(values):
        w = values[i]
        if not isinstance(w, ast.Word):
            ctx.error(
                "E206",
                f"unexpected {describe(w)} in {where}",
                w.span,
                f"expected one of: {', '.join(readers)}" if readers else f"{where} takes nothing more here",
            )
            i += 1
            continue
        if not readers:
            ctx.error("E206", f"unexpected {describe(w)} in {where}", w.span, f"{where} takes nothing more here")
            i += 1
            continue
        if w.name not in readers:
            ctx.error("E201", f"unknown option '{w.name}' in {where}", w.span, choices_hint(w.name, readers))
            i += 2
            continue
        if i + 1 >= len(values):
            ctx.error("E202", f"`{w.name}` needs a value", w.span, None)
            break
        if w.name in out:
            ctx.error("E104", f"`{w.name}` given twice", w.span, None)
        try:
            out[w.name] = readers[w.name](values[i + 1])
            out[w.name + "@span"] = values[i + 1].span
        except Bad as e:
            ctx.diagnostics.append(e.diagnostic)
        i += 2
    return out


class KeyTracker:
    """Reports unknown keys (with 'did you mean') and keys given twice in one block."""

    def __init__(self, ctx: Ctx, table: dict[str, str], where: str) -> None:
        self.ctx, self.table, self.where = ctx, table, where
        self.seen: dict[str, Span] = {}

    def accept(self, stmt: ast.Stmt, repeatable: bool = False) -> bool:
        name = stmt.key.name
        if name not in self.table:
            self.ctx.error("E201", f"unknown key '{name}' in {self.where}", stmt.key.span, choices_hint(name, self.table))
            return False
        if not repeatable and name in self.seen and self.seen[name].file == stmt.key.span.file:
            prev = self.seen[name]
            self.ctx.error("E104", f"`{name}` given twice in {self.where}", stmt.key.span, f"first given at line {prev.line}")
            return False
        self.seen[name] = stmt.key.span
        return True


# -- model ----------------------------------------------------------------------


def lower_quant_stmt(ctx: Ctx, stmt: ast.Stmt, roles: Sequence[str]) -> dict[str, ir.Quant]:
    """`quant weights Q, bias Q, activations Q, inputs Q`."""
    out: dict[str, ir.Quant] = {}
    if stmt.member is not None or not stmt.groups:
        ctx.error("E202", "`quant` needs roles and quantizers", stmt.key.span, "e.g. quant weights fixed<6,1>, activations ufixed<6,0>")
        return out
    for group in stmt.groups:
        role = group[0]
        if not isinstance(role, ast.Word) or role.name not in roles:
            if isinstance(role, ast.Word):
                ctx.error("E204", f"unknown quantizer role '{role.name}'", role.span, choices_hint(role.name, roles))
            else:
                ctx.error("E202", f"a role is expected before {describe(role)}", role.span, f"one of: {', '.join(roles)}")
            continue
        if role.name in out:
            ctx.error("E104", f"`{role.name}` given twice", role.span, None)
            continue
        q = ctx.attempt(lambda: read_quant(group[1:], role.span), None)
        if q is not None:
            out[role.name] = q
    no_block(ctx, stmt)
    return out


def lower_layer(ctx: Ctx, stmt: ast.Stmt) -> ir.Layer | None:
    kind = stmt.key.name
    vals = flat(stmt)
    if stmt.member is not None or not vals:
        ctx.error("E202", f"`{kind}` needs a layer name", stmt.key.span, schema.LAYER_KINDS[kind])
        return None
    spans: dict[str, Span] = {}
    name = ctx.attempt(lambda: as_name(vals[0], "layer name"), None)
    if name is None:
        return None
    spans["name"] = vals[0].span
    fields: dict[str, Any] = {"kind": kind, "name": name}
    rest = vals[1:]
    usage = schema.LAYER_KINDS[kind]

    def take_units(what: str) -> None:
        nonlocal rest
        if not rest or not isinstance(rest[0], ast.Num):
            ctx.error("E202", f"{kind} layer '{name}' needs its number of {what}", stmt.key.span if not rest else rest[0].span, usage)
            return
        fields["units"] = ctx.attempt(lambda: as_int(rest[0], what, 1, 1_000_000), 1)
        spans["units"] = rest[0].span
        rest = rest[1:]

    def take_activation(required: bool) -> None:
        nonlocal rest
        if rest and isinstance(rest[0], ast.Word) and rest[0].name not in ("kernel", "stride", "padding", "pool"):
            act = ctx.attempt(lambda: as_word(rest[0], "activation", tuple(schema.ACTIVATIONS)), None)
            if act is not None:
                fields["activation"] = act
            spans["activation"] = rest[0].span
            rest = rest[1:]
        elif required:
            ctx.error("E202", f"activation layer '{name}' needs an activation", stmt.key.span, f"one of: {', '.join(schema.ACTIVATIONS)}")

    def take_options(allowed: dict[str, Callable[[ast.Value], Any]]) -> None:
        opts = read_pairs(ctx, rest, allowed, f"{kind} layer '{name}'")
        for k, v in opts.items():
            if k.endswith("@span"):
                spans[k[:-5]] = v
            else:
                fields[k] = v

    rank_opts: dict[str, Callable[[ast.Value], Any]] = {
        "kernel": lambda v: as_dims(v, "kernel", 1 if kind == "conv1d" else 2),
        "stride": lambda v: as_dims(v, "stride", 1 if kind == "conv1d" else 2),
        "padding": lambda v: as_word(v, "padding", ("valid", "same")),
    }
    if kind == "dense":
        take_units("units")
        take_activation(False)
        take_options({})
    elif kind in ("conv1d", "conv2d"):
        take_units("filters")
        take_activation(False)
        take_options(rank_opts)
        if not any(isinstance(v, ast.Word) and v.name == "kernel" for v in rest):  # a bad kernel is reported where it is
            ctx.error("E202", f"{kind} layer '{name}' needs a kernel size", stmt.key.span, usage)
            fields["kernel"] = (1,) if kind == "conv1d" else (1, 1)
    elif kind in ("maxpool", "avgpool"):
        if rest and isinstance(rest[0], ast.Num | ast.TupleV):
            fields["pool"] = ctx.attempt(lambda: as_dims(rest[0], "pool size"), None)
            spans["pool"] = rest[0].span
            rest = rest[1:]
        take_options(
            {
                "pool": lambda v: as_dims(v, "pool size"),
                "stride": lambda v: as_dims(v, "stride"),
                "padding": lambda v: as_word(v, "padding", ("valid", "same")),
            }
        )
    elif kind == "activation":
        take_activation(True)
        take_options({})
    elif kind == "dropout":
        if not rest:
            ctx.error("E202", f"dropout layer '{name}' needs a rate", stmt.key.span, usage)
        else:
            fields["rate"] = ctx.attempt(lambda: as_fraction(rest[0], "dropout rate"), 0.0)
            rest = rest[1:]
        take_options({})
    else:  # flatten, batchnorm
        take_options({})

    if stmt.block is not None:
        lower_layer_block(ctx, stmt.block, kind, name, fields, spans)
    return ctx.attempt(lambda: _make_layer(fields, spans, stmt.span), None)


def _make_layer(fields: dict[str, Any], spans: dict[str, Span], span: Span) -> ir.Layer:
    return ir.Layer.model_construct(**fields, spans=spans, span=span)


def lower_layer_block(ctx: Ctx, block: Sequence[ast.Stmt], kind: str, name: str, fields: dict[str, Any], spans: dict[str, Span]) -> None:
    keys = KeyTracker(ctx, schema.LAYER_SETTINGS, f"layer '{name}'")
    quant: dict[str, ir.Quant] = {}
    for s in block:
        if not keys.accept(s):
            continue
        key = s.key.name
        has_weights = kind in schema.WEIGHT_LAYERS
        if key in ("weights", "bias", "l1", "l2", "nobias") and not has_weights:
            ctx.error("E307", f"{kind} layer '{name}' has no weights, so `{key}` does not apply", s.key.span, "set it on a dense or conv layer")
            continue
        if key in ("weights", "bias", "activations"):
            if s.block is not None:
                ctx.error("E206", f"`{key}` takes no block", s.span, None)
            q = ctx.attempt(lambda: read_quant(flat(s), s.key.span), None)
            if q is not None:
                quant[key] = q
                spans[key] = q.span or s.span
        elif key == "batchnorm":
            if flat(s):
                ctx.error("E206", "`batchnorm` takes no value", flat(s)[0].span, None)
            if not has_weights:
                ctx.error(
                    "E307", f"`batchnorm` goes on a dense or conv layer, not on {kind} layer '{name}'", s.key.span, "use a standalone `batchnorm NAME` layer"
                )
            fields["batchnorm"] = True
        elif key == "nobias":
            fields["use_bias"] = False
        elif key in ("l1", "l2"):
            fields[key] = ctx.attempt(lambda: as_float(single(s), key, 0.0, 10.0), None)
        elif key == "reuse":
            v = ctx.attempt(lambda: single(s), None)
            if v is not None:
                fields["reuse"] = ctx.attempt(lambda: as_int(v, "reuse factor", 1, 1_000_000), None)
                spans["reuse"] = v.span
        elif key in ("result", "accum"):
            fields[key] = ctx.attempt(lambda: as_precision(single(s), key), None)
            spans[key] = s.span
        if s.block is not None and key not in ("weights", "bias", "activations"):
            ctx.error("E206", f"`{key}` takes no block", s.span, None)
    if quant:
        fields["quant"] = ir.QuantSet.model_construct(None, **quant)


def lower_model(ctx: Ctx, name: ast.Word, base: str | None, body: Sequence[ast.Stmt], span: Span) -> ir.Model:
    keys = KeyTracker(ctx, schema.MODEL_KEYS, f"model '{name.name}'")
    input_shape: tuple[int, ...] | None = None
    input_span: Span | None = None
    quant: dict[str, ir.Quant] = {}
    layers: list[ir.Layer] = []
    for s in body:
        key = s.key.name
        if key not in schema.MODEL_KEYS:
            # `dens fc1 8 relu`, `lstm l1 8`: a layer of an unknown kind, unless it reads as a misspelt `input`/`quant`/...
            near_layer = did_you_mean(key, schema.LAYER_KINDS) is not None
            near_other = did_you_mean(key, [k for k in schema.MODEL_KEYS if k not in schema.LAYER_KINDS]) is not None
            named = bool(flat(s)) and isinstance(flat(s)[0], ast.Word)
            if near_layer or (named and not near_other):
                ctx.error("E208", f"unknown layer kind '{key}'", s.key.span, choices_hint(key, schema.LAYER_KINDS))
                continue
        if not keys.accept(s, repeatable=key in schema.LAYER_KINDS):
            continue
        if key == "input":
            input_shape = _ONE  # a bad value is reported below, not as a missing `input`
            input_span = s.key.span
            v = ctx.attempt(lambda: single(s), None)
            shape = ctx.attempt(lambda: as_dims(v, "input shape"), None) if v is not None else None
            if shape is not None and v is not None:
                input_shape, input_span = shape, v.span
            else:
                ctx.stand_ins.add("input")  # no shape is checked against the stand-in
            no_block(ctx, s)
        elif key == "quant":
            quant.update(lower_quant_stmt(ctx, s, tuple(schema.QUANT_ROLES)))
        elif key in ("layer", "remove"):
            ctx.error("E201", f"`{key}` is only for models derived with `from`", s.key.span, f"write `model {name.name} from BASE {{ ... }}`")
        else:
            layer = lower_layer(ctx, s)
            if layer is not None:
                layers.append(layer)
    if input_shape is None:
        ctx.error("E202", f"model '{name.name}' has no `input`", name.span, "add e.g. `input 16` or `input (28, 28, 1)`")
        input_shape = (1,)
        ctx.stand_ins.add("input")
    if not any(s.key.name in schema.LAYER_KINDS for s in body):  # a layer that failed to read was reported already
        ctx.error("E305", f"model '{name.name}' has no layers", name.span, "add e.g. `dense out 5 softmax`")
    seen: dict[str, ir.Layer] = {}
    for layer in layers:
        if layer.name in seen:
            first = seen[layer.name].spans.get("name")
            ctx.error(
                "E301", f"layer name '{layer.name}' is used twice", layer.spans.get("name", layer.span), f"first used at line {first.line}" if first else None
            )
        else:
            seen[layer.name] = layer
    return ir.Model.model_construct(
        name=name.name,
        base=base,
        input_shape=input_shape,
        quant=ir.QuantSet.model_construct(None, **quant),
        layers=tuple(layers),
        span=span,
        input_span=input_span,
        name_span=name.span,
    )


# -- sections -------------------------------------------------------------------


def lower_prune(ctx: Ctx, body: Sequence[ast.Stmt], span: Span, model: ir.Model) -> ir.Prune:
    keys = KeyTracker(ctx, schema.PRUNE_KEYS, "prune")
    fields: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    schedule: ir.Schedule | None = None
    selector_spans: list[tuple[str, str, Span]] = []
    selector_stmt: Span | None = None
    scope_span: Span | None = None
    for s in body:
        if not keys.accept(s):
            continue
        key = s.key.name
        spans[key] = s.span
        if key == "schedule":
            schedule = lower_schedule(ctx, s)
            continue
        no_block(ctx, s)
        if key == "method":
            fields["method"] = ctx.attempt(lambda: as_word(single(s), "pruning method", ("magnitude",)), "magnitude")
        elif key == "scope":
            fields["scope"] = ctx.attempt(lambda: as_word(single(s), "pruning scope", ("global", "layer")), "global", "prune.scope")
            scope_span = s.span
        elif key == "bias":
            fields["bias"] = ctx.attempt(lambda: as_switch(single(s), "bias"), False)
        elif key in ("select", "skip"):
            vals = [v for v in flat(s)]
            if s.member is not None or not vals:
                ctx.error("E202", f"`{key}` needs layer names or globs", s.key.span, "e.g. `skip out` or `select fc*`")
                continue
            globs: list[str] = []
            for v in vals:
                items = v.items if isinstance(v, ast.ListV) else (v,)
                for item in items:
                    g = ctx.attempt(lambda: as_name(item, "layer selector", glob=True), None)
                    if g is not None:
                        globs.append(g)
                        selector_spans.append((key, g, item.span))
            fields[key] = tuple(globs)
            selector_stmt = s.span
    if schedule is None:
        ctx.error("E202", "`prune` needs a `schedule`", span, "e.g. schedule iterative { rounds 11; rate 20% }")
        schedule = ir.Schedule.model_construct(kind="iterative")
    if schedule.kind in ("constant", "polynomial"):
        # tfmot prunes each wrapped layer to the schedule's target: there is no
        # global threshold to offer, so an explicit `scope global` is an error
        # rather than a setting quietly ignored, and the default is per layer.
        if fields.get("scope") == "global" and scope_span is not None and "prune.scope" not in ctx.stand_ins:
            ctx.error(
                "E503",
                f"the {schedule.kind} schedule (tfmot) prunes every layer to its target; it has no global threshold",
                scope_span,
                "write `scope layer`, or use `schedule iterative { ... }` for one threshold across layers",
            )
        fields["scope"] = "layer"
        if fields.get("bias"):
            ctx.error(
                "E504",
                f"pruning biases (`bias on`) needs the iterative schedule; the {schedule.kind} schedule (tfmot) prunes kernels only",
                spans.get("bias", span),
                "write `bias off`, or use `schedule iterative { ... }`",
            )
    # selectors resolve against the model's weight layers
    import fnmatch

    weight_layers = [layer.name for layer in model.layers if layer.kind in schema.WEIGHT_LAYERS]
    all_layers = [layer.name for layer in model.layers]
    for key, g, gspan in selector_spans:
        if not fnmatch.filter(all_layers, g):
            ctx.error("E501", f"{key} selector '{g}' matches no layer", gspan, did_you_mean(g, all_layers) or f"layers: {', '.join(all_layers)}")
        elif key == "select" and not fnmatch.filter(weight_layers, g):
            ctx.error("E501", f"select '{g}' matches only layers without weights", gspan, f"prunable layers: {', '.join(weight_layers)}")
    select = fields.get("select", ("*",))
    skip = fields.get("skip", ())
    chosen = tuple(n for n in weight_layers if any(fnmatch.fnmatchcase(n, g) for g in select) and not any(fnmatch.fnmatchcase(n, g) for g in skip))
    if not chosen and weight_layers:
        ctx.error("E502", "no layer is left to prune after `select` and `skip`", selector_stmt or span, f"prunable layers: {', '.join(weight_layers)}")
    return ir.Prune.model_construct(**fields, schedule=schedule, span=span, layers=chosen, spans=spans)


def lower_schedule(ctx: Ctx, stmt: ast.Stmt) -> ir.Schedule | None:
    vals = flat(stmt)
    if stmt.member is not None or not vals:
        ctx.error("E202", "`schedule` needs a kind", stmt.key.span, "one of: " + ", ".join(schema.SCHEDULE_KINDS))
        return None
    kind = ctx.attempt(lambda: as_word(vals[0], "schedule", tuple(schema.SCHEDULE_KINDS)), None)
    if kind is None:
        return None
    for extra in vals[1:]:
        ctx.error("E206", f"unexpected {describe(extra)}: settings go in the block", extra.span, f"write `schedule {kind} {{ ... }}`")
    table = schema.SCHEDULE_KEYS[kind]
    keys = KeyTracker(ctx, table, f"{kind} schedule")
    fields: dict[str, Any] = {"kind": kind}
    for s in stmt.block or ():
        if not keys.accept(s):
            continue
        no_block(ctx, s)
        k = s.key.name
        if k == "target":
            fields["target"] = ctx.attempt(lambda: as_fraction(single(s), "target sparsity"), 0.0, "prune.target")
        elif k == "initial":
            fields["initial"] = ctx.attempt(lambda: as_fraction(single(s), "initial sparsity"), 0.0, "prune.initial")
        elif k == "begin":
            fields["begin_step"] = ctx.attempt(lambda: as_int(single(s), "begin step", 0), 0, "prune.begin")
        elif k == "end":
            fields["end_step"] = ctx.attempt(lambda: as_int(single(s), "end step", 1), None, "prune.end")
        elif k == "frequency":
            fields["frequency"] = ctx.attempt(lambda: as_int(single(s), "frequency", 1), 100)
        elif k == "power":
            fields["power"] = ctx.attempt(lambda: as_float(single(s), "power", 0.0, 100.0, lo_open=True), 3.0)
        elif k == "rounds":
            fields["rounds"] = ctx.attempt(lambda: as_int(single(s), "rounds", 0, 100), 11, "prune.rounds")
        elif k == "rate":
            fields["rate"] = ctx.attempt(lambda: as_fraction(single(s), "pruning rate"), 0.2, "prune.rate")
        elif k == "rewind":
            fields["rewind"] = ctx.attempt(lambda: as_word(single(s), "rewind", ("none", "init")), "none")
        elif k == "epochs":
            fields["epochs_per_round"] = ctx.attempt(lambda: as_int(single(s), "epochs per round", 1, 100_000), None)
    if kind in ("constant", "polynomial") and "target" not in fields:
        ctx.error("E202", f"{kind} schedule needs a `target` sparsity", stmt.key.span, "e.g. target 80%")
    read = not {"prune.initial", "prune.target"} & ctx.stand_ins
    if kind == "polynomial" and read and fields.get("initial", 0.0) > fields.get("target", 1.0):
        ctx.error("E205", "initial sparsity is above the target", stmt.span, None)
    end, begin = fields.get("end_step"), fields.get("begin_step", 0)
    if end is not None and end <= begin and not {"prune.begin", "prune.end"} & ctx.stand_ins:
        ctx.error("E205", f"end step {end} is not after begin step {begin}", stmt.span, None)
    return ir.Schedule.model_construct(**fields, span=stmt.span)


def lower_train(ctx: Ctx, body: Sequence[ast.Stmt], span: Span | None) -> ir.Train:
    keys = KeyTracker(ctx, schema.TRAIN_KEYS, "train")
    fields: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    data: ir.Data | None = None
    for s in body:
        if not keys.accept(s):
            continue
        no_block(ctx, s)
        k = s.key.name
        spans[k] = s.span
        if k == "data":
            data = ctx.attempt(lambda: read_data(ctx, s), None)
        elif k == "split":
            vals = flat(s)
            opts = read_pairs(ctx, vals, {"test": lambda v: as_fraction(v, "test fraction"), "val": lambda v: as_fraction(v, "validation fraction")}, "split")
            if not vals:
                ctx.error("E202", "`split` needs fractions", s.key.span, "e.g. split test 0.2, val 0.25")
            for name in ("test", "val"):
                if name in opts:
                    fields[name] = opts[name]
            if fields.get("test", 0.2) + fields.get("val", 0.25) * (1 - fields.get("test", 0.2)) >= 0.95:
                ctx.error("E602", "test and validation leave under 5% of the data for training", s.span, "e.g. split test 0.2, val 0.25")
        elif k == "scale":
            fields["scale"] = ctx.attempt(lambda: as_word(single(s), "scaling", ("standard", "minmax", "none")), "standard")
        elif k == "seed":
            fields["seed"] = ctx.attempt(lambda: as_int(single(s), "seed", 0, 2**32 - 1), 42)
        elif k == "optimizer":
            vals = flat(s)
            if not vals:
                ctx.error("E202", "`optimizer` needs a name", s.key.span, "e.g. optimizer adam lr 1e-4")
                continue
            opt = ctx.attempt(lambda: as_word(vals[0], "optimizer", ("adam", "sgd", "rmsprop")), None)
            if opt:
                fields["optimizer"] = opt
            opts = read_pairs(ctx, vals[1:], {"lr": lambda v: as_float(v, "learning rate", 0.0, 10.0, lo_open=True)}, "optimizer")
            if "lr" in opts:
                fields["lr"] = opts["lr"]
        elif k == "loss":
            fields["loss"] = ctx.attempt(
                lambda: as_word(single(s), "loss", ("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy", "mse")),
                "categorical_crossentropy",
            )
        elif k == "batch":
            fields["batch"] = ctx.attempt(lambda: as_int(single(s), "batch size", 1, 1_000_000), 1024)
        elif k == "epochs":
            fields["epochs"] = ctx.attempt(lambda: as_int(single(s), "epochs", 1, 100_000), 250)
        elif k == "early_stop":
            vals = flat(s)
            if len(vals) == 1 and isinstance(vals[0], ast.Word) and vals[0].name == "none":
                fields["patience"] = None
            else:
                opts = read_pairs(ctx, vals, {"patience": lambda v: as_int(v, "patience", 1, 100_000)}, "early_stop")
                if "patience" in opts:
                    fields["patience"] = opts["patience"]
                elif not vals:
                    ctx.error("E202", "`early_stop` needs a patience", s.key.span, "e.g. early_stop patience 10")
        elif k == "classes":
            fields["classes"] = ctx.attempt(lambda: as_int(single(s), "classes", 2, 1_000_000), None)
        elif k == "dialect":
            fields["dialect"] = ctx.attempt(lambda: as_word(single(s), "dialect", tuple(schema.DIALECTS)), "qkeras")
    if data is None:
        if not any(s.key.name == "data" for s in body):
            ctx.error("E202", "`train` needs `data`", span, 'e.g. data sklearn digits, or data file "jets.npz"')
        data = ir.Data.model_construct(source="sklearn", name="digits")
        ctx.stand_ins.add("data")  # nothing is checked against the stand-in
    elif data.source == "sklearn" and "classes" not in fields:
        fields["classes"] = schema.SKLEARN_DATASETS.get(data.name)
    return ir.Train.model_construct(data=data, **fields, span=span, spans=spans)


def read_data(ctx: Ctx, s: ast.Stmt) -> ir.Data:
    vals = flat(s)
    if not vals:
        raise Bad("E202", "`data` needs a source", s.key.span, schema.TRAIN_KEYS["data"])
    source = as_word(vals[0], "data source", ("openml", "file", "sklearn"))
    if len(vals) < 2:
        raise Bad("E202", f"`data {source}` needs a name", vals[0].span, schema.TRAIN_KEYS["data"])
    target: str | None = None
    if source == "sklearn":
        name = as_word(vals[1], "scikit-learn dataset", tuple(schema.SKLEARN_DATASETS))
    elif source == "openml":
        name = str(vals[1].value) if isinstance(vals[1], ast.Num) else as_str(vals[1], "OpenML dataset")
    else:
        name = as_str(vals[1], "data file")
        if not name.lower().endswith(FILE_SUFFIXES):
            raise Bad("E601", f"unknown data file type '{name}'", vals[1].span, "use a .npz, .h5, .csv or .parquet file")
    opts = read_pairs(ctx, vals[2:], {"target": lambda v: as_str(v, "target column") if isinstance(v, ast.Str) else as_name(v, "target column")}, "data")
    target = opts.get("target")
    return ir.Data.model_construct(source=cast(ir.DataSource, source), name=name, target=target, span=s.span)


def lower_target(ctx: Ctx, kind: ast.Word | None, body: Sequence[ast.Stmt], span: Span | None) -> ir.Target:
    if kind is None:
        ctx.error("E202", "`target` needs a kind", span, "write `target fpga { ... }`")
    elif kind.name not in schema.TARGET_KINDS:
        ctx.error("E204", f"unknown target kind '{kind.name}'", kind.span, choices_hint(kind.name, schema.TARGET_KINDS))
    keys = KeyTracker(ctx, schema.TARGET_KEYS, "target")
    fields: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    for s in body:
        if not keys.accept(s):
            continue
        k = s.key.name
        spans[k] = s.span
        if k == "rtl":
            fields["rtl"] = lower_rtl(ctx, s)
            continue
        no_block(ctx, s)
        if k == "backend":
            fields["backend"] = ctx.attempt(lambda: as_word(single(s), "backend", schema.BACKENDS), "vitis")
        elif k == "part":
            fields["part"] = ctx.attempt(lambda: _part(single(s)), "xcu250-figd2104-2L-e")
        elif k == "clock":
            fields["clock_ns"] = ctx.attempt(lambda: as_period_ns(single(s)), 5.0)
        elif k == "io":
            fields["io"] = ctx.attempt(lambda: as_word(single(s), "io type", ("parallel", "stream")), "parallel")
        elif k == "strategy":
            fields["strategy"] = ctx.attempt(lambda: as_word(single(s), "strategy", schema.STRATEGIES), "latency")
        elif k == "reuse":
            fields["reuse"] = ctx.attempt(lambda: as_int(single(s), "reuse factor", 1, 1_000_000), 1)
        elif k == "precision":
            fields["precision"] = ctx.attempt(lambda: as_precision(single(s), "precision"), None)
        elif k == "agreement":
            fields["agreement"] = ctx.attempt(lambda: as_fraction(single(s), "agreement", allow_one=True), 0.99)
    return ir.Target.model_construct(**fields, span=span, spans=spans)


def lower_rtl(ctx: Ctx, stmt: ast.Stmt) -> ir.Rtl | None:
    """`rtl verilog { pipeline N; synth on|off }` (the block is optional)."""
    vals = flat(stmt)
    if stmt.member is not None or not vals:
        ctx.error("E202", "`rtl` needs a language", stmt.key.span, "write `rtl verilog`, optionally with `{ pipeline 5 }`")
        return None
    language = ctx.attempt(lambda: as_word(vals[0], "RTL language", tuple(schema.RTL_LANGUAGES)), None)
    if language is None:
        return None
    for extra in vals[1:]:
        ctx.error("E206", f"unexpected {describe(extra)}: settings go in the block", extra.span, f"write `rtl {language} {{ pipeline 5 }}`")
    keys = KeyTracker(ctx, schema.RTL_KEYS, "rtl")
    fields: dict[str, Any] = {"language": language}
    spans: dict[str, Span] = {"language": vals[0].span}
    for s in stmt.block or ():
        if not keys.accept(s):
            continue
        no_block(ctx, s)
        k = s.key.name
        spans[k] = s.span
        if k == "pipeline":
            fields["pipeline"] = ctx.attempt(lambda: as_int(single(s), "adder levels per pipeline stage", 1, 1000), None)
        elif k == "synth":
            fields["synth"] = ctx.attempt(lambda: as_word(single(s), "synth", ("on", "off")), "on") == "on"
    return ir.Rtl.model_construct(**fields, span=stmt.span, spans=spans)


def _part(v: ast.Value) -> str:
    part = as_str(v, "part")
    if not re.match(schema.PART_NAME, part):
        bad = next((c for c in part if not (c.isascii() and (c.isalnum() or c in "_.+-"))), None)
        why = f": {bad!r} is not allowed" if bad is not None else ""
        raise Bad(
            "E205",
            f"part {part!r} is not an FPGA part name{why}",
            v.span,
            'part names are letters, digits, "-", "_", "." and "+" (at most 80), e.g. "xcu250-figd2104-2L-e"',
        )
    return part


def axis_value(v: ast.Value) -> ir.SweepValue:
    """A sweep value as plain data: numbers, words, fractions, quantizers."""
    if isinstance(v, ast.Num):
        if not math.isfinite(float(v.value)):
            raise Bad("E205", f"{v.text} is too large", v.span, None)
        return v.value
    if isinstance(v, ast.Qty):
        if v.unit == "%":
            return float(v.num.value) / 100.0
        if v.unit in ("bits", "bit"):
            return read_quant((v,), v.span)
        return as_period_ns(v)
    if isinstance(v, ast.Fix):
        return read_quant((v,), v.span)
    if isinstance(v, ast.Word):
        return v.name
    if isinstance(v, ast.Str):
        return v.value
    raise Bad("E802", f"{describe(v)} cannot be a sweep value", v.span, None)


def lower_axes(ctx: Ctx, body: Sequence[ast.Stmt], where: str, ranges: bool) -> list[ir.Axis]:
    axes: list[ir.Axis] = []
    seen: dict[str, Span] = {}
    keys = schema.SECTIONS[where]
    for s in body:
        if s.member is None:
            if s.key.name in keys:
                continue
            if where == "sweep" and s.key.name in schema.SEARCH_KEYS:
                ctx.error("E201", f"`{s.key.name}` is a key of search {{ ... }}, not of a sweep", s.key.span, "a sweep runs every point of its grid")
                continue
            hint = f"write `{s.key.name} in [a, b, c]`" + (" or `in lo..hi`" if ranges else "")
            guess = did_you_mean(s.key.name, list(keys))
            ctx.error(
                "E201" if guess else "E202",
                f"`{s.key.name}` is not an axis of the {where}" if guess else f"axis `{s.key.name}` needs values",
                s.key.span,
                guess or hint,
            )
            continue
        if s.key.name in seen:
            ctx.error("E104", f"axis `{s.key.name}` given twice", s.key.span, f"first given at line {seen[s.key.name].line}")
            continue
        seen[s.key.name] = s.key.span
        m = s.member
        if isinstance(m, ast.ListV):
            if not m.items:
                ctx.error("E803", f"axis `{s.key.name}` has no values", m.span, f"list at least one value, e.g. `{s.key.name} in [4, 6, 8]`")
                continue
            values = [ctx.attempt(lambda item=item: axis_value(item), None) for item in m.items]  # type: ignore[misc]
            clean = tuple(v for v in values if v is not None)
            if len(clean) != len(values):
                continue
            axes.append(ir.Axis.model_construct(path=s.key.name, values=clean, span=s.span, value_spans=tuple(item.span for item in m.items)))
        elif isinstance(m, ast.RangeV) and ranges:
            lo, hi = float(m.lo.value), float(m.hi.value)
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
                ctx.error("E205", f"range {m.lo.text}..{m.hi.text} is empty", m.span, "write lo..hi with lo < hi")
                continue
            integer = isinstance(m.lo.value, int) and isinstance(m.hi.value, int)
            axes.append(ir.Axis.model_construct(path=s.key.name, low=lo, high=hi, integer=integer, span=s.span, value_spans=(m.lo.span, m.hi.span)))
        else:
            ctx.error(
                "E203", f"axis `{s.key.name}` takes a list" + (" or a range" if ranges else ""), m.span, "e.g. [4, 6, 8]" + (" or 8..64" if ranges else "")
            )
    return axes


def lower_sweep(ctx: Ctx, body: Sequence[ast.Stmt], span: Span) -> ir.Sweep:
    return cast(ir.Sweep, lower_study(ctx, body, span, "sweep"))


def lower_search(ctx: Ctx, body: Sequence[ast.Stmt], span: Span) -> ir.Search:
    return cast(ir.Search, lower_study(ctx, body, span, "search"))


def lower_study(ctx: Ctx, body: Sequence[ast.Stmt], span: Span, where: str) -> ir.Sweep | ir.Search:
    """A `sweep` or `search` block: its axes and the study keys (`schema.SWEEP_KEYS` / `SEARCH_KEYS`)."""
    from qapdsl import objectives as objs

    fields: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    keys = KeyTracker(ctx, schema.SECTIONS[where], where)
    log_paths: set[str] = set()
    errors_before = len(ctx.diagnostics)
    for s in body:
        if s.member is not None or s.key.name not in schema.SECTIONS[where]:
            continue  # axes, and unknown keys (reported by lower_axes)
        if not keys.accept(s):
            continue
        no_block(ctx, s)
        k = s.key.name
        spans[k] = s.key.span
        vals = flat(s)
        if k == "objective":
            fields["objectives"] = _objectives(ctx, s)
        elif k == "budget":
            opts = read_pairs(ctx, vals, {m: _reader(f"{m} budget", lo_open=True) for m in schema.COST_METRICS}, "budget")
            fields["budgets"] = {m: opts[m] for m in schema.COST_METRICS if m in opts}
            spans.update({f"budget.{m}": opts[m + "@span"] for m in schema.COST_METRICS if m in opts})
        elif k == "reference":
            # a reference point must leave room to beat it: a quality below 1, a cost above 0
            refs = {m: (_reader(f"reference {m}", lo_open=True) if m in schema.COST_METRICS else _fraction_below_one(f"reference {m}")) for m in schema.STUDY_METRICS}
            opts = read_pairs(ctx, vals, refs, "reference")
            fields["reference"] = {m: opts[m] for m in schema.STUDY_METRICS if m in opts}
            spans.update({f"reference.{m}": opts[m + "@span"] for m in schema.STUDY_METRICS if m in opts})
            if not vals:
                ctx.error("E202", "`reference` needs a metric and a value", s.key.span, "e.g. reference accuracy 0.5, bops 4e6")
        elif k == "repeat":
            fields["repeat"] = ctx.attempt(lambda: as_int(single(s), "repeat", 1, schema.MAX_REPEAT), 1)
        elif k == "baseline":
            path = ctx.attempt(lambda: as_str(single(s), "baseline"), None)
            if path is not None:
                fields["baseline"] = ir.Baseline.model_construct(path=path, spec=None, span=vals[0].span)
        elif k == "trials":
            fields["trials"] = ctx.attempt(lambda: as_int(single(s), "trials", 1, 100_000), 20)
        elif k == "sampler":
            fields["sampler"] = ctx.attempt(lambda: as_word(single(s), "sampler", schema.SAMPLERS), "tpe", f"{where}.sampler")
        elif k == "population":
            fields["population"] = ctx.attempt(lambda: as_int(single(s), "population", 2, 10_000), None)
        elif k == "log":
            for v in vals:
                if isinstance(v, ast.Word):
                    log_paths.add(v.name)
                else:
                    ctx.error("E203", f"`log` takes axis paths, not {describe(v)}", v.span, None)
    axes = lower_axes(ctx, body, where, ranges=where == "search")
    known = {s.key.name for s in body if s.member is not None}  # axes written, even those with a bad value
    for s in body:
        if s.member is None and s.key.name == "log":
            for v in flat(s):
                if isinstance(v, ast.Word) and v.name not in known:
                    ctx.error("E801", f"`log {v.name}` names no axis of this search", v.span, did_you_mean(v.name, known))
    axes = [a.model_copy(update={"log": a.path in log_paths}) for a in axes]
    if not known:
        ctx.error("E803", f"{where} has no axes", span, "e.g. fc1.units in 8..64" if where == "search" else "e.g. sweep { quant.bits in [4, 6, 8] }")
    if fields.get("repeat", 1) > 1 and "train.seed" in known:
        axis = next(s for s in body if s.member is not None and s.key.name == "train.seed")
        ctx.error("E808", f"`repeat` sets train.seed for every point, and train.seed is an axis of this {where}", axis.key.span, "remove the train.seed axis, or `repeat`")
    cls = ir.Search if where == "search" else ir.Sweep
    study = cls.model_construct(**fields, axes=tuple(axes), span=span, spans=spans)
    for d in objs.check_study_keys(study, frozenset(ctx.stand_ins)):
        ctx.diagnostics.append(d)
    if len(ctx.diagnostics) > errors_before:
        ctx.stand_ins.add(where)  # the block as lowered is not the one written: its space and budgets are not judged
    return study


def _reader(what: str, lo_open: bool) -> Callable[[ast.Value], float]:
    """A non-negative number (positive with `lo_open`) for `budget` and `reference`."""
    return lambda v: as_float(v, what, 0.0, lo_open=lo_open)


def _fraction_below_one(what: str) -> Callable[[ast.Value], float]:
    """A reference accuracy or AUC: in [0, 1), so that a point can beat it."""

    def read(v: ast.Value) -> float:
        x = as_float(v, what, 0.0, 1.0)
        if x >= 1.0:
            raise Bad("E205", f"{what} must be below 1, not {ast.value_text(v)}", v.span, "nothing is more accurate than 1: no point could beat it")
        return x

    return read


def _objectives(ctx: Ctx, s: ast.Stmt) -> tuple[ir.Objective, ...]:
    """`objective maximize accuracy, minimize bops`: one to three (direction, metric) groups."""
    out: list[ir.Objective] = []
    for group in s.groups:
        if len(group) != 2:
            where = group[2].span if len(group) > 2 else (group[0].span if group else s.key.span)
            words = [v.name for v in group if isinstance(v, ast.Word)]
            comma = len(group) == 4 and len(words) == 4 and words[2] in ("maximize", "minimize")
            hint = f"separate objectives with commas: `objective {words[0]} {words[1]}, {words[2]} {words[3]}`" if comma else None
            ctx.error("E202", "each objective is a direction and a metric", where, hint or "e.g. objective maximize accuracy, minimize bops")
            continue
        direction = ctx.attempt(lambda g=group: as_word(g[0], "direction", ("maximize", "minimize")), None)  # type: ignore[misc]
        metric = ctx.attempt(lambda g=group: as_word(g[1], "objective", tuple(schema.STUDY_METRICS)), None)  # type: ignore[misc]
        if direction is None or metric is None:
            continue
        a, b = group[0].span, group[1].span
        span = Span.model_construct(file=a.file, line=a.line, column=a.column, end_line=b.end_line, end_column=b.end_column)
        out.append(ir.Objective.model_construct(metric=cast(ir.Metric, metric), direction=cast(Any, direction), span=span))
    if not s.groups:
        ctx.error("E202", "`objective` needs a direction and a metric", s.key.span, "e.g. objective maximize accuracy")
    return tuple(out)
