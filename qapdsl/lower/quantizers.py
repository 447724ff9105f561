"""Reading fixed-point types: a quantizer (`fixed<6,1>`, `ufixed<6,0>`, `6 bits`, `po2 4 bits`, `binary`, `ternary`,
`float`, `alpha ...`) into `ir.Quant`, a precision (`fixed<16,6,RND,SAT>`) into `ir.Precision`, with their width limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from qapdsl import ast, ir, learned
from qapdsl.diagnostics import choices_hint
from qapdsl.lower.values import MAX_BITS, Bad, _join, as_float, as_int, describe
from qapdsl.source import Span


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
