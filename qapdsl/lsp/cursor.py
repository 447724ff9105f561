"""What is under the cursor, read from the text alone.

The spec rarely parses while it is being typed, so hover, completion and go to
definition do not wait for a parse: a tolerant scan of the text before the
cursor says which block and statement the cursor is in (`Context`), and the
token under it with that context says what the word is (`Hit`). The meaning
(which layer, which model, its figures) then comes from the last analysis by
name, so a typo elsewhere, or an edit that is not analysed yet, does not take
hover away.

Positions are 1-based lines and code-point columns, as in the loader's spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qapdsl import schema
from qapdsl.source import Span

LAYER_REF_KEYS = ("layer", "remove")  # in a derived model: a layer of the base model
SELECTOR_KEYS = ("skip", "select")  # in prune: layer names or globs
SECTION_WORDS = ("prune", "train", "target", "sweep", "search")

_TOKEN = re.compile(r'#[^\n]*|"(?:[^"\\\n]|\\.)*"?|\n|[;{}\[\](),<>]|[A-Za-z0-9_.*?%+-]+|\S')
_WORD = re.compile(r"[A-Za-z_*?][A-Za-z0-9_.*?\-]*")


def split_lines(text: str) -> list[str]:
    return text.split("\n")


@dataclass
class Context:
    """Where the cursor is, from a tolerant scan of the text before it."""

    headers: list[list[str]] = field(default_factory=list)  # words before each open `{`, outermost first
    words: list[str] = field(default_factory=list)  # words of the current statement before the cursor
    group: list[str] = field(default_factory=list)  # words since the last comma of the statement
    prefix: str = ""  # the partial word under the cursor
    in_string: bool = False
    in_comment: bool = False

    @property
    def model(self) -> str | None:
        """The model the cursor is in (its name), if any."""
        outer = self.headers[0] if self.headers else []
        return outer[1] if len(outer) > 1 and outer[0] == "model" else None

    @property
    def section(self) -> str | None:
        outer = self.headers[0] if self.headers else []
        return outer[0] if outer and outer[0] in SECTION_WORDS else None

    @property
    def parents(self) -> tuple[str, ...]:
        """Keys of the statements whose blocks enclose the cursor, outermost first (the model or section aside)."""
        return tuple(h[0] if h else "" for h in self.headers[1:])


def context_at(text: str, line: int, column: int) -> Context:
    """The context at a 1-based (line, code-point column)."""
    lines = split_lines(text)
    before = "\n".join(lines[: line - 1] + [lines[line - 1][: column - 1] if line - 1 < len(lines) else ""])
    ctx = Context()
    depth = 0  # inside [ ] or ( ) or < >: line breaks do not end the statement
    for m in _TOKEN.finditer(before):
        tok = m.group()
        at_end = m.end() == len(before)
        if tok.startswith("#"):
            ctx.in_comment = at_end
            continue
        if tok.startswith('"'):
            if at_end and (len(tok) == 1 or not tok.endswith('"') or tok.endswith('\\"')):
                ctx.in_string = True
            ctx.words.append(tok)
            ctx.group.append(tok)
            continue
        if tok in "[(<":
            depth += 1
        elif tok in "])>":
            depth = max(depth - 1, 0)
        elif tok == "{":
            ctx.headers.append(ctx.words)
            ctx.words, ctx.group, depth = [], [], 0
        elif tok == "}":
            if ctx.headers:
                ctx.headers.pop()
            ctx.words, ctx.group, depth = [], [], 0
        elif tok == ";" or (tok == "\n" and depth == 0):
            ctx.words, ctx.group = [], []
        elif tok == ",":
            if depth == 0:
                ctx.group = []
        elif tok != "\n":
            if at_end and re.fullmatch(r"[A-Za-z_*?][A-Za-z0-9_.*?]*", tok):
                ctx.prefix = tok
            elif depth == 0:
                ctx.words.append(tok)
                ctx.group.append(tok)
    return ctx


@dataclass(frozen=True)
class Hit:
    """A word of the spec and what it is.

    role: "import" (the path of an import), "model" (a model's declaration), "base" (`from BASE`),
    "layer" (a layer's declaration), "layer-ref" (`layer`/`remove` in a derived model, a prune selector),
    "path" (a sweep/search path), "key" (a statement's key), "keyword" (`model`, `import`, a section),
    "section-arg" (`target fpga`), "word" (any other value).
    """

    role: str
    name: str
    span: Span
    model: str | None = None  # the model the word is in (None: in a section or at the top level)
    key: str | None = None  # the statement's key
    parents: tuple[str, ...] = ()  # keys of the enclosing statements with blocks, outermost first
    section: str | None = None
    schedule: str | None = None  # in `schedule KIND { ... }`: KIND
    words: tuple[str, ...] = ()  # the statement's words before this one


def classify(ctx: Context, word: str) -> tuple[str, str | None]:
    """The role of `word` coming right after the context, and the key of its statement."""
    words = ctx.words
    if not ctx.headers:
        if not words:
            return ("keyword", None)
        if words == ["import"]:
            return ("import", "import")
        if words[0] == "model":
            if len(words) == 1:
                return ("model", None)
            if len(words) == 3 and words[2] == "from":
                return ("base", None)
            return ("keyword", None)
        if words[0] == "target" and len(words) == 1:
            return ("section-arg", None)
        return ("word", None)
    key = words[0] if words else None
    in_model_top = ctx.model is not None and len(ctx.headers) == 1
    if key is None:
        if ctx.section in ("sweep", "search") and len(ctx.headers) == 1 and word not in schema.SECTIONS[ctx.section]:
            return ("path", None)
        return ("key", None)
    if in_model_top and len(words) == 1 and key in schema.LAYER_KINDS:
        return ("layer", key)
    if in_model_top and len(words) == 1 and key in LAYER_REF_KEYS:
        return ("layer-ref", key)
    if ctx.section == "prune" and len(ctx.headers) == 1 and key in SELECTOR_KEYS:
        return ("layer-ref", key)
    if ctx.section == "search" and key == "log":
        return ("path", key)
    if ctx.section in ("sweep", "search") and word == "in":
        return ("keyword", key)
    return ("word", key)


def word_at(text: str, line: int, column: int) -> Hit | None:
    """The word (or import path) at a 1-based (line, column), with its role; None on blank, punctuation, numbers, comments."""
    lines = split_lines(text)
    if not 1 <= line <= len(lines):
        return None
    row = lines[line - 1]
    token = None
    for m in _TOKEN.finditer(row):
        if m.start() < column <= m.end() + 1 and not m.group().isspace():
            if token is None or _WORD.fullmatch(m.group()):  # `fc1}`: the word wins over the brace after it
                token = m
    if token is None:
        return None
    tok = token.group()
    start = token.start() + 1
    ctx = context_at(text, line, start)
    if ctx.in_comment or tok.startswith("#"):
        return None
    span = Span.model_construct(file="", line=line, column=start, end_line=line, end_column=start + len(tok))
    if tok.startswith('"'):
        if ctx.headers or ctx.words != ["import"]:
            return None
        return Hit("import", tok[1:-1] if len(tok) > 1 and tok.endswith('"') else tok[1:], span, key="import")
    if not _WORD.fullmatch(tok):
        return None
    role, key = classify(ctx, tok)
    schedule = None
    if ctx.section == "prune" and ctx.parents[-1:] == ("schedule",):
        header = ctx.headers[-1]
        schedule = header[1] if len(header) > 1 else None
    return Hit(role, tok, span, model=ctx.model, key=key, parents=ctx.parents, section=ctx.section, schedule=schedule, words=tuple(ctx.words))
