"""The syntax-tree nodes behave like frozen dataclasses (without their start-up cost)."""

from __future__ import annotations

import pytest

from qapdsl import ast
from qapdsl.source import Span

S = Span(file="f.qap", line=1, column=1, end_line=1, end_column=2)


def test_construction_defaults_equality_hash_repr() -> None:
    w = ast.Word("fc1", S)
    assert w == ast.Word(name="fc1", span=S) and w != ast.Word("fc2", S)
    assert hash(w) == hash(ast.Word("fc1", S)) and len({w, ast.Word("fc1", S)}) == 1
    assert repr(w).startswith("Word(name='fc1', span=")
    stmt = ast.Stmt(key=w, groups=(), block=None, span=S)
    assert (stmt.member, stmt.depth) == (None, 0)
    assert ast.ListV((), S).depth == 1
    assert w != ast.Str("fc1", '"fc1"', S)  # same values, another kind of node


def test_frozen_and_replace() -> None:
    stmt = ast.Stmt(key=ast.Word("rounds", S), groups=(), block=None, span=S)
    with pytest.raises(AttributeError):
        stmt.depth = 3  # type: ignore[misc]
    changed = stmt.replace(depth=3)
    assert (changed.depth, stmt.depth, changed.key) == (3, 0, stmt.key)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), (("a", S, "extra"), {}), (("a",), {"name": "b", "span": S}), (("a", S), {"colour": 1})],
    ids=["missing", "too-many", "repeated", "unknown"],
)
def test_bad_construction_is_a_type_error(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        ast.Word(*args, **kwargs)  # type: ignore[arg-type]
