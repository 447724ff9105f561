"""`qapc fmt`: one canonical layout for every spec, comments kept.

The layout is a function of the syntax tree alone (like black): four-space
indents, one statement per line in top-level blocks, a nested block on one
line `{ a; b }` when it fits in 100 columns and holds no comment, a blank line
between top-level items (consecutive imports stay together; a comment block
set apart by a blank line, such as a file header, stays apart). Numbers and
strings keep their spelling.

Comments stay with what they were written next to. A comment on its own line
goes before the statement that follows it. A comment at the end of a line
belongs to the last statement that ends on that line before it (so it follows
that statement wherever the layout puts it), else to the block opened on that
line (it stays after the `{`), else to the statement the line is part of.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from qapdsl import ast
from qapdsl.source import Span

INDENT = "    "
WIDTH = 100

_Node = ast.Stmt | ast.Item


@dataclass(frozen=True)
class _Owner:
    node: int  # id() of the statement or item
    opens: bool  # True: after the `{` of its block; False: at the end of the node


def _walk(stmts: Sequence[ast.Stmt]) -> Iterator[ast.Stmt]:
    for s in stmts:
        yield s
        if s.block:
            yield from _walk(s.block)


def _owners(tree: ast.File) -> dict[int, _Owner]:
    """Which node each end-of-line comment belongs to (see the module docstring)."""
    nodes: list[tuple[_Node, bool]] = []  # (node, has a block)
    for item in tree.items:
        nodes.append((item, not isinstance(item, ast.ImportDecl)))
        if not isinstance(item, ast.ImportDecl):
            nodes.extend((s, s.block is not None) for s in _walk(item.body))
    owners: dict[int, _Owner] = {}
    for c in tree.comments:
        if c.own_line:
            continue
        ends = [(n.span.end_column, -n.span.column, n) for n, _ in nodes if n.span.end_line == c.line and n.span.end_column <= c.column]
        if ends:
            owners[id(c)] = _Owner(id(max(ends, key=lambda e: e[:2])[2]), opens=False)
            continue
        opens = [(n.span.column, n) for n, block in nodes if block and n.span.line == c.line]
        if opens:
            owners[id(c)] = _Owner(id(max(opens, key=lambda e: e[0])[1]), opens=True)
            continue
        covers = [(n.span.line, n.span.column, n, block) for n, block in nodes if n.span.line <= c.line <= n.span.end_line]
        if covers:
            _, _, node, block = max(covers, key=lambda e: e[:2])
            owners[id(c)] = _Owner(id(node), opens=block)
    return owners


class _Comments:
    def __init__(self, tree: ast.File) -> None:
        self.pending = sorted(tree.comments, key=lambda c: (c.line, c.column))
        self.owners = _owners(tree)
        self.used: set[int] = set()

    def _take(self, comments: list[ast.Comment]) -> list[ast.Comment]:
        for c in comments:
            self.used.add(id(c))
        return comments

    def before(self, line: int) -> list[ast.Comment]:
        """Own-line comments above `line` not yet emitted."""
        return self._take([c for c in self.pending if c.own_line and c.line < line and id(c) not in self.used])

    def owned(self, node: _Node, opens: bool | None = None) -> list[ast.Comment]:
        """End-of-line comments of `node` not yet emitted (opens=None: both kinds)."""
        out = []
        for c in self.pending:
            o = self.owners.get(id(c))
            if o is not None and o.node == id(node) and (opens is None or o.opens == opens) and id(c) not in self.used:
                out.append(c)
        return out

    def take_owned(self, node: _Node, opens: bool | None = None) -> list[ast.Comment]:
        return self._take(self.owned(node, opens))

    def inside(self, stmt: ast.Stmt) -> bool:
        """Whether a comment would be lost or moved if `stmt` were printed on one line."""
        if any(c.own_line and stmt.span.line < c.line <= stmt.span.end_line and id(c) not in self.used for c in self.pending):
            return True
        return any(self.owned(s) for s in _walk(stmt.block or ()))

    def rest(self) -> list[ast.Comment]:
        return self._take([c for c in self.pending if id(c) not in self.used])


def _trail(pad: str, comments: list[ast.Comment], out: list[str]) -> str:
    """All but the last comment go on their own lines above; the last one trails."""
    for c in comments[:-1]:
        out.append(pad + c.text)
    return "  " + comments[-1].text if comments else ""


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


def _commented_list(stmt: ast.Stmt, cm: _Comments) -> ast.ListV | ast.TupleV | None:
    """The statement's last value when it is a list or tuple written over several lines with comments in it:
    it is kept over several lines, one item per line, each comment where it was."""
    values = [stmt.member] if stmt.member is not None else [v for g in stmt.groups for v in g]
    if stmt.block is not None or not values or not isinstance(values[-1], ast.ListV | ast.TupleV):
        return None
    v = values[-1]
    if v.span.line == v.span.end_line or not v.items:
        return None
    inside = [c for c in cm.pending if v.span.line <= c.line <= v.span.end_line and id(c) not in cm.used and (c.line, c.column) > (v.span.line, v.span.column)]
    return v if inside else None


def _multiline(stmt: ast.Stmt, v: ast.ListV | ast.TupleV, pad: str, cm: _Comments, out: list[str]) -> None:
    """`key [` / `key in [`, then one item per line with the comments written among them, then `]`."""
    head = _head(stmt)
    head = head[: len(head) - len(ast.value_text(v))]  # the statement up to its list
    opening, closing = ("[", "]") if isinstance(v, ast.ListV) else ("(", ")")
    here = cm._take([c for c in cm.pending if v.span.line <= c.line <= v.span.end_line and id(c) not in cm.used])
    left = list(here)

    def pop(keep: Callable[[ast.Comment], bool]) -> list[ast.Comment]:
        found = [c for c in left if keep(c)]
        for c in found:
            left.remove(c)
        return found

    after_open = pop(lambda c: c.line == v.span.line and not c.own_line)
    out.append(pad + head + opening + _trail(pad + INDENT, after_open, out))
    item_pad = pad + INDENT
    for item in v.items:
        for c in pop(lambda c, item=item: c.own_line and c.line < item.span.line):  # type: ignore[misc]
            out.append(item_pad + c.text)
        trailing = pop(lambda c, item=item: not c.own_line and c.line == item.span.end_line)  # type: ignore[misc]
        out.append(item_pad + ast.value_text(item) + "," + _trail(item_pad, trailing, out))
    for c in left:  # after the last item
        out.append(item_pad + c.text)
    out.append(pad + closing + _trail(pad, cm.take_owned(stmt), out))


def _stmt(stmt: ast.Stmt, depth: int, cm: _Comments, out: list[str]) -> None:
    pad = INDENT * depth
    for c in cm.before(stmt.span.line):
        out.append(pad + c.text)
    listed = _commented_list(stmt, cm)
    if listed is not None:
        _multiline(stmt, listed, pad, cm, out)
        return
    one_line = pad + _inline(stmt)
    if stmt.block is None or not stmt.block or (len(one_line) <= WIDTH and not cm.inside(stmt)):
        trail = _trail(pad, cm.take_owned(stmt), out)
        out.append(one_line + trail)
        return
    _block(_head(stmt) + " ", stmt, stmt.block, stmt.span, depth, cm, out)


def _block(head: str, node: _Node, body: Sequence[ast.Stmt], span: Span, depth: int, cm: _Comments, out: list[str]) -> None:
    pad = INDENT * depth
    out.append(pad + head + "{" + _trail(pad, cm.take_owned(node, opens=True), out))
    for s in body:
        _stmt(s, depth + 1, cm, out)
    for c in cm.before(span.end_line):
        out.append(pad + INDENT + c.text)
    out.append(pad + "}" + _trail(pad, cm.take_owned(node, opens=False), out))


def format_file(tree: ast.File) -> str:
    cm = _Comments(tree)
    out: list[str] = []
    prev: ast.Item | None = None
    for item in tree.items:
        if prev is not None and not (isinstance(prev, ast.ImportDecl) and isinstance(item, ast.ImportDecl)):
            out.append("")
        lead = cm.before(item.span.line)
        if lead and out and out[-1] != "" and prev is not None:
            out.append("")
        for k, c in enumerate(lead):
            if k and lead[k - 1].line + 1 < c.line:
                out.append("")  # comment blocks set apart by a blank line stay apart
            out.append(c.text)
        if lead and lead[-1].line + 1 < item.span.line:
            out.append("")  # a comment block set apart from the item (a file header) stays apart
        if isinstance(item, ast.ImportDecl):
            out.append(f"import {item.path.raw}" + _trail("", cm.take_owned(item), out))
        elif isinstance(item, ast.ModelDecl):
            head = f"model {item.name.name} " + (f"from {item.base.name} " if item.base else "")
            _block(head, item, item.body, item.span, 0, cm, out)
        else:
            head = item.kind.name + " " + (f"{item.arg.name} " if item.arg else "")
            _block(head, item, item.body, item.span, 0, cm, out)
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
