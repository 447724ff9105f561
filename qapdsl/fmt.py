"""`qapc fmt`: one canonical layout for every spec, comments kept.

The layout is a function of the syntax tree alone (like black): four-space
indents, one statement per line in top-level blocks, a nested block on one
line `{ a; b }` when it fits in 100 columns and holds no comment, a blank line
between top-level items (consecutive imports stay together). Numbers and
strings keep their spelling. Comments stay where they were: a comment on its
own line before the statement it precedes, a trailing comment at the end of
the line of the statement it follows.
"""

from __future__ import annotations

from collections.abc import Sequence

from qapdsl import ast
from qapdsl.source import Span

INDENT = "    "
WIDTH = 100


class _Comments:
    def __init__(self, comments: Sequence[ast.Comment]) -> None:
        self.pending = sorted(comments, key=lambda c: (c.line, c.column))
        self.trailing = {c.line: c for c in comments if not c.own_line}
        self.used: set[int] = set()

    def before(self, line: int) -> list[ast.Comment]:
        """Own-line comments above `line` not yet emitted."""
        out = [c for c in self.pending if c.own_line and c.line < line and id(c) not in self.used]
        for c in out:
            self.used.add(id(c))
        return out

    def trailing_on(self, line: int) -> str:
        c = self.trailing.get(line)
        if c is None or id(c) in self.used:
            return ""
        self.used.add(id(c))
        return "  " + c.text

    def inside(self, first: int, last: int) -> bool:
        return any(first <= c.line <= last and id(c) not in self.used for c in self.pending)

    def rest(self) -> list[ast.Comment]:
        out = [c for c in self.pending if id(c) not in self.used]
        for c in out:
            self.used.add(id(c))
        return out


def _head(stmt: ast.Stmt) -> str:
    if stmt.member is not None:
        return f"{stmt.key.name} in {ast.value_text(stmt.member)}"
    parts = [stmt.key.name]
    if stmt.groups:
        parts.append(", ".join(" ".join(ast.value_text(v) for v in g) for g in stmt.groups))
    return " ".join(parts)


def _inline(stmt: ast.Stmt) -> str:
    """A statement on one line (its nested blocks inline too)."""
    head = _head(stmt)
    if stmt.block is None:
        return head
    if not stmt.block:
        return head + " {}"
    return head + " { " + "; ".join(_inline(s) for s in stmt.block) + " }"


def _stmt(stmt: ast.Stmt, depth: int, cm: _Comments, out: list[str]) -> None:
    pad = INDENT * depth
    for c in cm.before(stmt.span.line):
        out.append(pad + c.text)
    one_line = pad + _inline(stmt)
    nested_comment = stmt.block is not None and cm.inside(stmt.span.line + 1, stmt.span.end_line)
    same_line_comment = stmt.block is not None and stmt.span.end_line != stmt.span.line and stmt.span.line in cm.trailing
    fits = len(one_line) <= WIDTH
    if stmt.block is None or not stmt.block or (fits and not nested_comment and not same_line_comment):
        trail = cm.trailing_on(stmt.span.line) or (cm.trailing_on(stmt.span.end_line) if stmt.span.end_line != stmt.span.line else "")
        out.append(one_line + trail)
        return
    _block(_head(stmt) + " ", stmt.block, stmt.span, depth, cm, out)


def _block(head: str, body: Sequence[ast.Stmt], span: Span, depth: int, cm: _Comments, out: list[str]) -> None:
    pad = INDENT * depth
    out.append(pad + head + "{" + cm.trailing_on(span.line))
    for s in body:
        _stmt(s, depth + 1, cm, out)
    for c in cm.before(span.end_line):
        out.append(pad + INDENT + c.text)
    out.append(pad + "}" + (cm.trailing_on(span.end_line) if span.end_line != span.line else ""))


def format_file(tree: ast.File) -> str:
    cm = _Comments(tree.comments)
    out: list[str] = []
    prev: ast.Item | None = None
    for item in tree.items:
        if prev is not None and not (isinstance(prev, ast.ImportDecl) and isinstance(item, ast.ImportDecl)):
            out.append("")
        lead = cm.before(item.span.line)
        if lead and out and out[-1] != "" and prev is not None:
            out.append("")
        out.extend(c.text for c in lead)
        if isinstance(item, ast.ImportDecl):
            out.append(f"import {item.path.raw}" + cm.trailing_on(item.span.line))
        elif isinstance(item, ast.ModelDecl):
            head = f"model {item.name.name} " + (f"from {item.base.name} " if item.base else "")
            _block(head, item.body, item.span, 0, cm, out)
        else:
            head = item.kind.name + " " + (f"{item.arg.name} " if item.arg else "")
            _block(head, item.body, item.span, 0, cm, out)
        prev = item
    tail = cm.rest()
    if tail:
        if out:
            out.append("")
        out.extend(c.text for c in tail)
    return "\n".join(out) + "\n" if out else ""


def format_text(text: str, path: str = "<spec>") -> str:
    """Format a spec's text; raises SpecError on a syntax error."""
    from qapdsl.syntax import parse

    return format_file(parse(text, path))
