"""The syntax tree of a spec: what was written, with spans, before any meaning.

Plain frozen dataclasses (cheap to build, easy to walk). `qapdsl.fmt` prints
them back; `qapdsl.lower` gives them meaning and turns them into the IR.
"""

from __future__ import annotations

from dataclasses import dataclass

from qapdsl.source import Span


@dataclass(frozen=True, slots=True)
class Num:
    text: str
    value: float | int
    span: Span


@dataclass(frozen=True, slots=True)
class Qty:
    """A number with a unit: `5 ns`, `200 MHz`, `6 bits`, `20%`."""

    num: Num
    unit: str
    span: Span


@dataclass(frozen=True, slots=True)
class Fix:
    """A fixed-point type in hls4ml's notation: `fixed<6,1>`, `ufixed<6,0>`."""

    kind: str  # "fixed" | "ufixed"
    width: int
    integer: int
    modes: tuple[str, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    raw: str
    span: Span


@dataclass(frozen=True, slots=True)
class Word:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class ListV:
    items: tuple[Value, ...]
    span: Span
    depth: int = 1  # lists and tuples nested inside it, plus one (bounded by the parser)


@dataclass(frozen=True, slots=True)
class TupleV:
    items: tuple[Value, ...]
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class RangeV:
    lo: Num
    hi: Num
    span: Span


Value = Num | Qty | Fix | Str | Word | ListV | TupleV | RangeV


@dataclass(frozen=True, slots=True)
class Stmt:
    """`key group, group { block }` or `key in value` (membership)."""

    key: Word
    groups: tuple[tuple[Value, ...], ...]
    block: tuple[Stmt, ...] | None
    span: Span
    member: Value | None = None  # set for `key in value`
    depth: int = 0


@dataclass(frozen=True, slots=True)
class ImportDecl:
    path: Str
    span: Span


@dataclass(frozen=True, slots=True)
class ModelDecl:
    name: Word
    base: Word | None
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class SectionDecl:
    kind: Word  # prune | train | target | sweep | search
    arg: Word | None  # `target fpga`
    body: tuple[Stmt, ...]
    span: Span


Item = ImportDecl | ModelDecl | SectionDecl


@dataclass(frozen=True, slots=True)
class Comment:
    line: int
    column: int
    text: str
    own_line: bool  # nothing but white space before it on its line


@dataclass(frozen=True, slots=True)
class File:
    path: str
    items: tuple[Item, ...]
    comments: tuple[Comment, ...]


def value_text(v: Value) -> str:
    """The canonical source text of a value (used by fmt and in messages)."""
    if isinstance(v, Num):
        return v.text
    if isinstance(v, Qty):
        sep = "" if v.unit == "%" else " "
        return f"{v.num.text}{sep}{v.unit}"
    if isinstance(v, Fix):
        modes = "".join(f",{m}" for m in v.modes)
        return f"{v.kind}<{v.width},{v.integer}{modes}>"
    if isinstance(v, Str):
        return v.raw
    if isinstance(v, Word):
        return v.name
    if isinstance(v, ListV):
        return "[" + ", ".join(value_text(i) for i in v.items) + "]"
    if isinstance(v, TupleV):
        inner = ", ".join(value_text(i) for i in v.items)
        return f"({inner},)" if len(v.items) == 1 else f"({inner})"
    return f"{v.lo.text}..{v.hi.text}"
