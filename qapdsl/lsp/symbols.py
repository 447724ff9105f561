"""Document symbols (the outline): imports, models with their layers, sections with their settings."""

from __future__ import annotations

from dataclasses import dataclass

from qapdsl import ast, schema
from qapdsl.lsp.analysis import Range, span_range
from qapdsl.lsp.cursor import LAYER_REF_KEYS, split_lines
from qapdsl.lsp.navigation import first_word


@dataclass(frozen=True)
class OutlineSymbol:
    name: str
    kind: str  # "import", "model", "layer", "section", "setting"
    detail: str
    range: Range  # the whole declaration
    selection: Range  # its name
    children: tuple[OutlineSymbol, ...] = ()


def _values(stmt: ast.Stmt, skip_first: bool = False) -> str:
    groups = [list(g) for g in stmt.groups]
    if skip_first and groups and groups[0]:
        groups[0] = groups[0][1:]
    text = ", ".join(" ".join(ast.value_text(v) for v in g) for g in groups if g)
    if stmt.member is not None:
        text = "in " + ast.value_text(stmt.member)
    return text


def _stmt(lines: list[str], s: ast.Stmt, in_model: bool) -> OutlineSymbol:
    name = first_word(s)
    if in_model and name is not None and (s.key.name in schema.LAYER_KINDS or s.key.name in LAYER_REF_KEYS):
        word = s.groups[0][0]
        detail = f"{s.key.name} {_values(s, skip_first=True)}".strip()
        return OutlineSymbol(name, "layer", detail, span_range(lines, s.span), span_range(lines, word.span))
    children = tuple(_stmt(lines, c, False) for c in s.block or ())
    return OutlineSymbol(s.key.name, "setting", _values(s), span_range(lines, s.span), span_range(lines, s.key.span), children)


def outline(tree: ast.File, text: str) -> list[OutlineSymbol]:
    lines = split_lines(text)
    out: list[OutlineSymbol] = []
    for item in tree.items:
        if isinstance(item, ast.ImportDecl):
            out.append(OutlineSymbol(item.path.value, "import", "import", span_range(lines, item.span), span_range(lines, item.path.span)))
        elif isinstance(item, ast.ModelDecl):
            detail = f"from {item.base.name}" if item.base is not None else "model"
            children = tuple(_stmt(lines, s, True) for s in item.body)
            out.append(OutlineSymbol(item.name.name, "model", detail, span_range(lines, item.span), span_range(lines, item.name.span), children))
        else:
            name = item.kind.name + (f" {item.arg.name}" if item.arg is not None else "")
            children = tuple(_stmt(lines, s, False) for s in item.body)
            out.append(OutlineSymbol(name, "section", "", span_range(lines, item.span), span_range(lines, item.kind.span), children))
    return out
