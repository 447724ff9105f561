"""Lowering the `target` section (backend, part, clock, precision, `rtl`) → `ir.Target`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from qapdsl import ast, ir, schema
from qapdsl.diagnostics import choices_hint
from qapdsl.lower.quantizers import as_precision
from qapdsl.lower.statements import KeyTracker, flat, no_block, single
from qapdsl.lower.values import Bad, Ctx, as_fraction, as_int, as_period_ns, as_str, as_word, describe
from qapdsl.source import Span


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
