"""The syntax tree of a spec: what was written, with spans, before any meaning.

Plain frozen records (cheap to build, easy to walk). `qapdsl.fmt` prints
them back; `qapdsl.lower` gives them meaning and turns them into the IR.

The nodes behave like `@dataclass(frozen=True)` classes (positional and
keyword construction, defaults, equality, hashing, repr, immutability, and
`node.replace(field=...)` for `dataclasses.replace`), but share one
`__init_subclass__` instead of having code generated per class: generating it
for the thirteen node classes cost about 10 ms at every start of `qapc`.
Type checkers see dataclasses through `dataclass_transform`.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any, ClassVar

from qapdsl.source import Span

if sys.version_info >= (3, 11):
    from typing import Self, dataclass_transform
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Self, dataclass_transform


@dataclass_transform(frozen_default=True, eq_default=True)
class Node:
    """Base of every syntax-tree node (see the module docstring)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        notes = inspect.get_annotations(cls)  # this class's own, as strings (postponed annotations)
        cls._fields = tuple(name for name, note in notes.items() if not str(note).startswith("ClassVar"))
        cls._defaults = {name: cls.__dict__[name] for name in cls._fields if name in cls.__dict__}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__}() takes {len(fields)} arguments, {len(args)} given")
        values = dict(zip(fields, args))
        for name, value in kwargs.items():
            if name not in fields or name in values:
                raise TypeError(f"{type(self).__name__}() got an unexpected or repeated argument '{name}'")
            values[name] = value
        for name in fields:
            if name not in values:
                if name not in self._defaults:
                    raise TypeError(f"{type(self).__name__}() missing argument '{name}'")
                values[name] = self._defaults[name]
        object.__setattr__(self, "__dict__", values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field '{name}': {type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field '{name}': {type(self).__name__} is frozen")

    def _values(self) -> tuple[Any, ...]:
        d = self.__dict__
        return tuple(d[name] for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((self.__class__, self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({inner})"

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (what `dataclasses.replace` does for dataclasses)."""
        return type(self)(**{**self.__dict__, **changes})


class Num(Node):
    text: str
    value: float | int
    span: Span


class Qty(Node):
    """A number with a unit: `5 ns`, `200 MHz`, `6 bits`, `20%`."""

    num: Num
    unit: str
    span: Span


class Fix(Node):
    """A fixed-point type in hls4ml's notation: `fixed<6,1>`, `ufixed<6,0>`."""

    kind: str  # "fixed" | "ufixed"
    width: int
    integer: int
    modes: tuple[str, ...]
    span: Span


class Str(Node):
    value: str
    raw: str
    span: Span


class Word(Node):
    name: str
    span: Span


class ListV(Node):
    items: tuple[Value, ...]
    span: Span
    depth: int = 1  # lists and tuples nested inside it, plus one (bounded by the parser)


class TupleV(Node):
    items: tuple[Value, ...]
    span: Span
    depth: int = 1


class RangeV(Node):
    lo: Num
    hi: Num
    span: Span


Value = Num | Qty | Fix | Str | Word | ListV | TupleV | RangeV


class Stmt(Node):
    """`key group, group { block }` or `key in value` (membership)."""

    key: Word
    groups: tuple[tuple[Value, ...], ...]
    block: tuple[Stmt, ...] | None
    span: Span
    member: Value | None = None  # set for `key in value`
    depth: int = 0


class ImportDecl(Node):
    path: Str
    span: Span


class ModelDecl(Node):
    name: Word
    base: Word | None
    body: tuple[Stmt, ...]
    span: Span


class SectionDecl(Node):
    kind: Word  # prune | train | target | sweep | search
    arg: Word | None  # `target fpga`
    body: tuple[Stmt, ...]
    span: Span


Item = ImportDecl | ModelDecl | SectionDecl


class Comment(Node):
    line: int
    column: int
    text: str
    own_line: bool  # nothing but white space before it on its line


class File(Node):
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
