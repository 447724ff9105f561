"""Reading statements against the vocabulary (`qapdsl.schema`): a statement's values, one value, `key value`
pairs, blocks that must be empty, keys said twice (`KeyTracker`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qapdsl import ast, schema
from qapdsl.diagnostics import choices_hint
from qapdsl.lower.values import Bad, Ctx, describe
from qapdsl.source import Span


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
