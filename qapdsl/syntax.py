"""Parsing: source text → `qapdsl.ast.File`, or syntax diagnostics.

One Lark LALR parser built from grammar/qap.lark (cached on disk by Lark, so
start-up stays cheap), with an inline transformer that builds the AST while
parsing: one Transformer method per tree shape, as in Lark's own examples.
"""

from __future__ import annotations

import builtins
import functools
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from qapdsl import ast
from qapdsl.diagnostics import Diagnostic, SpecError, did_you_mean
from qapdsl.resources import grammar_path
from qapdsl.source import Span

MAX_DEPTH = 32  # nested blocks; deeper is surely a mistake, and keeps later passes off the recursion limit


class _DepthError(Exception):
    def __init__(self, span: Span) -> None:
        super().__init__("too deep")
        self.span = span


class _Builder(Transformer[Token, Any]):
    """Builds AST nodes as the LALR parser reduces (inline transformer)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    # -- spans ---------------------------------------------------------------
    def _tok_span(self, tok: Token) -> Span:
        return Span.model_construct(
            file=self.path,
            line=tok.line or 1,
            column=tok.column or 1,
            end_line=tok.end_line or tok.line or 1,
            end_column=tok.end_column or (tok.column or 1) + len(tok),
        )

    def _span(self, first: Any, last: Any) -> Span:
        """The span from the start of `first` to the end of `last` (tokens or nodes)."""
        a = self._tok_span(first) if isinstance(first, Token) else first.span
        b = self._tok_span(last) if isinstance(last, Token) else last.span
        return Span.model_construct(file=self.path, line=a.line, column=a.column, end_line=b.end_line, end_column=b.end_column)

    def _num(self, tok: Token) -> ast.Num:
        text = str(tok)
        value: float | int
        if any(c in text for c in ".eE"):
            value = float(text)
        elif len(text.lstrip("+-")) > 18:
            value = float("inf") if not text.startswith("-") else float("-inf")
        else:
            value = int(text)
        return ast.Num(text=text, value=value, span=self._tok_span(tok))

    @staticmethod
    def _meaningful(children: list[Any]) -> list[Any]:
        """Children without punctuation and line breaks (kept by `!` rules for their positions)."""
        return [c for c in children if not (isinstance(c, Token) and c.type in _PUNCT_TYPES)]

    # -- top level -------------------------------------------------------------
    def start(self, items: list[Any]) -> list[Any]:
        return [i for i in items if not isinstance(i, Token)]

    def import_stmt(self, children: list[Token]) -> ast.ImportDecl:
        path = self._value(children[1])
        assert isinstance(path, ast.Str)
        return ast.ImportDecl(path=path, span=self._span(children[0], path))

    def model(self, children: list[Any]) -> ast.ModelDecl:
        kw, name_tok = children[0], children[1]
        block: _Block = children[-1]
        base = None
        if len(children) == 5:  # model NAME from NAME block
            base = ast.Word(str(children[3]), self._tok_span(children[3]))
        name = ast.Word(str(name_tok), self._tok_span(name_tok))
        return ast.ModelDecl(name=name, base=base, body=block.stmts, span=self._span(kw, block.close))

    def section(self, children: list[Any]) -> ast.SectionDecl:
        kind: ast.Word = children[0]
        block: _Block = children[-1]
        arg = ast.Word(str(children[1]), self._tok_span(children[1])) if len(children) == 3 else None
        return ast.SectionDecl(kind=kind, arg=arg, body=block.stmts, span=self._span(kind, block.close))

    def section_name(self, children: list[Token]) -> ast.Word:
        return ast.Word(str(children[0]), self._tok_span(children[0]))

    def block(self, children: list[Any]) -> _Block:
        stmts = tuple(c for c in children if isinstance(c, ast.Stmt))
        return _Block(stmts=stmts, close=children[-1])

    # -- statements ----------------------------------------------------------
    def stmt(self, children: list[Any]) -> ast.Stmt:
        key: ast.Word = children[0]
        groups: list[tuple[ast.Value, ...]] = []
        block: tuple[ast.Stmt, ...] | None = None
        last: Any = key
        for c in children[1:]:
            if isinstance(c, tuple):
                groups.append(c)
                last = c[-1]
            elif isinstance(c, _Block):
                block = c.stmts
                last = c.close
        depth = 1 + max((s.depth for s in block), default=0) if block is not None else 0
        span = self._span(key, last)
        if depth > MAX_DEPTH:
            raise _DepthError(span)
        return ast.Stmt(key=key, groups=tuple(groups), block=block, span=span, depth=depth)

    def membership(self, children: list[Any]) -> ast.Stmt:
        key: ast.Word = children[0]
        member = self._value(children[-1])
        return ast.Stmt(key=key, groups=(), block=None, span=self._span(key, member), member=member)

    def key(self, children: list[Token]) -> ast.Word:
        return ast.Word(str(children[0]), self._tok_span(children[0]))

    def group(self, children: list[Any]) -> tuple[ast.Value, ...]:
        return tuple(self._value(c) for c in children)

    def _value(self, c: Any) -> ast.Value:
        if isinstance(c, Token):  # a bare STRING token reaches here unwrapped
            return self.STRING(c)
        return c  # type: ignore[no-any-return]

    # -- values ----------------------------------------------------------------
    def STRING(self, tok: Token) -> ast.Str:  # noqa: N802 - Lark terminal callback name
        raw = str(tok)
        body = raw[1:-1]
        value = _ESCAPE.sub(lambda m: _ESCAPES[m.group(1)], body)
        return ast.Str(value=value, raw=raw, span=self._tok_span(tok))

    def number(self, children: list[Token]) -> ast.Num:
        return self._num(children[0])

    def quantity(self, children: list[Any]) -> ast.Qty:
        num = self._num(children[0])
        unit_tok: Token = children[1]
        return ast.Qty(num=num, unit=str(unit_tok), span=self._span(num, unit_tok))

    def unit(self, children: list[Token]) -> Token:
        return children[0]

    def fixkind(self, children: list[Token]) -> Token:
        return children[0]

    def fixtype(self, children: list[Any]) -> ast.Fix:
        kind_tok: Token = children[0]
        close = children[-1]
        parts = [c for c in self._meaningful(children[1:]) if isinstance(c, Token)]

        def small(tok: Token) -> int:
            text = str(tok)
            return int(text) if len(text.lstrip("+-")) <= 9 else 10**9

        return ast.Fix(
            kind=str(kind_tok),
            width=small(parts[0]),
            integer=small(parts[1]),
            modes=tuple(str(m) for m in parts[2:]),
            span=self._span(kind_tok, close),
        )

    def word(self, children: list[Token]) -> ast.Word:
        return ast.Word(str(children[0]), self._tok_span(children[0]))

    def list(self, children: builtins.list[Any]) -> ast.ListV:
        items = tuple(self._value(c) for c in self._meaningful(children))
        span = self._span(children[0], children[-1])
        return ast.ListV(items=items, span=span, depth=self._nesting(items, span))

    def tuple(self, children: builtins.list[Any]) -> ast.TupleV:
        items = tuple(self._value(c) for c in self._meaningful(children))
        span = self._span(children[0], children[-1])
        return ast.TupleV(items=items, span=span, depth=self._nesting(items, span))

    @staticmethod
    def _nesting(items: builtins.tuple[ast.Value, ...], span: Span) -> int:
        """Depth of a list or tuple; later passes recurse on values, so it is bounded here."""
        depth = 1 + max((i.depth for i in items if isinstance(i, ast.ListV | ast.TupleV)), default=0)
        if depth > MAX_DEPTH:
            raise _DepthError(span)
        return depth

    def range(self, children: builtins.list[Token]) -> ast.RangeV:
        lo, hi = self._num(children[0]), self._num(children[-1])
        return ast.RangeV(lo=lo, hi=hi, span=self._span(lo, hi))


@dataclass(frozen=True, slots=True)
class _Block:
    stmts: tuple[ast.Stmt, ...]
    close: Token  # the closing brace, for the span of what the block ends


_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t"}
_ESCAPE = re.compile(r'\\(["\\nt])')

_PUNCT_TYPES = frozenset({"LBRACE", "RBRACE", "LSQB", "RSQB", "LPAR", "RPAR", "COMMA", "LESSTHAN", "MORETHAN", "_NL", "SEMICOLON", "IMPORT", "MODEL", "FROM"})


_BUILDER = _Builder("<spec>")
_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    text = grammar_path().read_text(encoding="utf-8")
    return Lark(
        text,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=_cache_file(text),
        transformer=_BUILDER,  # inline: no tree, no recursion, however deep the nesting
    )


def _cache_file(grammar: str) -> str | bool:
    """Where Lark may keep the analysed grammar, or False (no cache).

    Lark's cache is a pickle, loaded before anything is checked: a cache file someone else can
    write is code they can run in every `qapc check` and in the language server. So it lives in
    the user's own cache folder (`$XDG_CACHE_HOME/qapc`, else `~/.cache/qapc`), created private,
    and is used only when that folder and the file belong to this user and nobody else can
    write to them; never in a shared temporary folder.
    """
    import hashlib
    import stat

    import lark

    try:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        folder = root / "qapc"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        digest = hashlib.sha256((grammar + lark.__version__).encode()).hexdigest()[:16]
        path = folder / f"grammar-{digest}.lark"
        for p in (folder, path):
            st = os.lstat(p) if p.exists() or p.is_symlink() else None
            if st is None:
                continue
            if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
                return False
        return str(path)
    except (OSError, RuntimeError):
        return False


def keywords() -> set[str]:
    """Every literal keyword of the grammar (for editor grammars and their test)."""
    return {t.pattern.value for t in _lark().terminals if isinstance(t.pattern, PatternStr) and t.pattern.value[:1].isalpha()}


_PUNCT_NAMES = {
    "$END": "end of file",
    "_NL": "end of line",
    "NAME": "a name",
    "SIGNED_NUMBER": "a number",
    "SIGNED_INT": "an integer",
    "STRING": 'a "string"',
}


def _describe_terminal(name: str) -> str:
    if name in _PUNCT_NAMES:
        return _PUNCT_NAMES[name]
    for t in _lark().terminals:
        if t.name == name and isinstance(t.pattern, PatternStr):
            return f"'{t.pattern.value}'"
    return name.lower()


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "NAME":
        return f"name '{tok}'"
    if tok.type == "SIGNED_NUMBER":
        return f"number {tok}"
    if tok.type == "STRING":
        return f"string {tok}"
    return f"'{tok}'"


def _syntax_diagnostic(err: UnexpectedInput, path: str, text: str) -> Diagnostic:
    line = getattr(err, "line", 1) or 1
    column = getattr(err, "column", 1) or 1
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        char = text[pos] if pos is not None and 0 <= pos < len(text) else "?"
        char_hint = {
            "'": 'strings are written in double quotes: "..."',
            "=": "settings are written `key value`, without '='",
            ":": "settings are written `key value`, without ':'",
            "<": "fixed-point types are written fixed<W,I> or ufixed<W,I>",
        }.get(char, "remove it, or put it in a \"string\" or after '#' for a comment")
        span = Span.model_construct(file=path, line=line, column=column, end_line=line, end_column=column + 1)
        return Diagnostic("E001", f"unexpected character {char!r}", span, char_hint)
    if isinstance(err, UnexpectedToken):
        tok = err.token
        expected = sorted(err.expected - {"_NL", "SEMICOLON"}) if err.expected else []
        readable = [_describe_terminal(e) for e in expected]
        if tok.type == "$END":
            end_line = text.count("\n") + 1
            end_col = len(text) - (text.rfind("\n") + 1) + 1
            span = Span.model_construct(file=path, line=end_line, column=end_col, end_line=end_line, end_column=end_col + 1)
            eof_hint = "the spec ends too early"
            if "RBRACE" in err.expected:
                opened = _unclosed_brace(text)
                eof_hint = f"the '{{' at line {opened[0]}, column {opened[1]} is not closed: add '}}'" if opened else "a '{' block is not closed: add '}'"
            return Diagnostic("E003", "unexpected end of file", span, eof_hint)
        span = Span.model_construct(
            file=path,
            line=tok.line or line,
            column=tok.column or column,
            end_line=tok.end_line or line,
            end_column=tok.end_column or column + max(len(tok), 1),
        )
        hint: str | None = None
        if tok.type in ("NAME", "SECTION_NAME") or str(tok).isidentifier():
            words = [r.strip("'") for r in readable if r.startswith("'") and r.strip("'")[:1].isalpha()]
            hint = did_you_mean(str(tok), words)
        if hint is None and tok.type == "MORETHAN" and "COMMA" in err.expected:
            hint = "write fixed<W,I>: W bits in total, I integer bits"
        if hint is None and tok.type == "NAME" and "MODEL" in err.expected:
            hint = "only `import`, `model` and sections (prune, train, target, sweep, search) go at the top level; does a '}' above close a block too early?"
        if tok.type == "LBRACE" and "NAME" in err.expected:
            hint = "a block needs a name before it, e.g. `model jet {` or `target fpga {`"
        if hint is None and readable:
            hint = "expected " + (readable[0] if len(readable) == 1 else "one of: " + ", ".join(readable))
        return Diagnostic("E002", f"unexpected {_describe_token(tok)}", span, hint)
    span = Span.model_construct(file=path, line=line, column=column, end_line=line, end_column=column + 1)
    if isinstance(err, UnexpectedEOF):
        return Diagnostic("E003", "unexpected end of file", span, "the spec ends too early")
    return Diagnostic("E002", "syntax error", span, None)


def _unclosed_brace(text: str) -> tuple[int, int] | None:
    """(line, column) of the innermost `{` left open at the end of the text (strings and comments skipped)."""
    stack: list[tuple[int, int]] = []
    line, col = 1, 0
    in_string = in_comment = escaped = False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, in_comment = line + 1, 0, False
            continue
        if in_comment:
            continue
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "#":
            in_comment = True
        elif ch == "{":
            stack.append((line, col))
        elif ch == "}" and stack:
            stack.pop()
    return stack[-1] if stack else None


def decode(data: bytes, path: str) -> str:
    """Spec files are UTF-8; anything else is a diagnostic, not a crash."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        prefix = data[: e.start]
        line = prefix.count(b"\n") + 1
        column = e.start - (prefix.rfind(b"\n") + 1) + 1
        span = Span.model_construct(file=path, line=line, column=column, end_line=line, end_column=column + 1)
        raise SpecError([Diagnostic("E004", f"byte 0x{data[e.start]:02x} is not valid UTF-8", span, "save the file as UTF-8")]) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        span = Span.model_construct(file=path, line=line, column=1, end_line=line, end_column=2)
        raise SpecError([Diagnostic("E001", "unexpected NUL character", span, "the file looks binary, not a .qap spec")])
    bad = _INVISIBLE.search(text)
    if bad is not None:
        before = text[: bad.start()]
        line = before.count("\n") + 1
        column = bad.start() - (before.rfind("\n") + 1) + 1
        span = Span.model_construct(file=path, line=line, column=column, end_line=line, end_column=column + 1)
        char = bad.group()
        if char == "\r":
            message, hint = (
                "carriage return without a line feed",
                "editors show a line break here but the spec would not have one: save the file with LF (or CRLF) line endings",
            )
        elif char in "\x85\u2028\u2029":
            message, hint = f"unusual line terminator U+{ord(char):04X}", "some editors break the line here and others do not: use a plain line break"
        elif ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F:
            message, hint = f"control character U+{ord(char):04X}", "terminals obey control characters (escape sequences) instead of showing them: remove it"
        else:
            message, hint = f"bidirectional control character U+{ord(char):04X}", "it makes editors show the text in another order than it is read: remove it"
        raise SpecError([Diagnostic("E001", message, span, hint)])
    return text


# Characters that make a spec look different from what it says: a line break for some readers but not
# for the parser (lone CR, NEL, LS, PS; a comment would silently swallow what follows), or text shown
# in another order than it is parsed (bidirectional overrides and isolates, "Trojan Source").
# Control characters too: a terminal showing a diagnostic or a generated file would obey them (escape sequences).
_INVISIBLE = re.compile("\r(?!\n)|[\x85\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\x01-\x08\x0b\x0e-\x1f\x7f-\x84\x86-\x9f]")


def string_problem(text: str) -> str | None:
    """Why no spec string can hold `text`, or None. `decode` refuses the characters of `_INVISIBLE`
    (and NUL) anywhere in a spec, a carriage return has no escape, and a lone surrogate is no UTF-8."""
    for ch in text:
        if ch in "\r\x00" or _INVISIBLE.match(ch) or "\ud800" <= ch <= "\udfff":
            kind = "a lone surrogate (not text)" if "\ud800" <= ch <= "\udfff" else "a control or invisible character"
            return f"it holds U+{ord(ch):04X}, {kind}, which no spec may hold"
    return None


def quote(text: str) -> str:
    """`text` as a spec string literal (the grammar's escapes: \\\\ \\" \\n \\t), parsed back to exactly `text`.
    Raises ValueError (with `string_problem`'s reason) for text no spec can hold."""
    problem = string_problem(text)
    if problem is not None:
        raise ValueError(problem)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _comments(text: str) -> tuple[ast.Comment, ...]:
    """Comments by position: `#` outside a string, to the end of the line."""
    found: list[ast.Comment] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if "#" not in line:
            continue
        in_string = False
        escaped = False
        for col, ch in enumerate(line):
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "#":
                own = line[:col].strip() == ""
                found.append(ast.Comment(line=lineno, column=col + 1, text=line[col:].rstrip(), own_line=own))
                break
    return tuple(found)


def parse(text: str, path: str = "<spec>") -> ast.File:
    """Parse one spec's text. Raises `SpecError` with a diagnostic on bad syntax."""
    try:
        with _LOCK:
            _BUILDER.path = path
            items: list[ast.Item] = _lark().parse(text)  # type: ignore[assignment]
    except UnexpectedInput as e:
        raise SpecError([_syntax_diagnostic(e, path, text)]) from None
    except _DepthError as e:
        raise SpecError([Diagnostic("E007", f"blocks or lists nested deeper than {MAX_DEPTH} levels", e.span, "flatten the spec")]) from None
    return ast.File(path=path, items=tuple(items), comments=_comments(text))
