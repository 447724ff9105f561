"""What the language server knows about a document, without any protocol.

Everything here works on text, spans and the loader's results, and returns
plain data (positions are LSP's: 0-based lines, UTF-16 columns), so it can be
tested and reused without pygls; qapdsl.lsp.server only translates to
lsprotocol types.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qapdsl import ast, schema
from qapdsl.diagnostics import Diagnostic
from qapdsl.loader import Loaded, load_text
from qapdsl.source import Span

# -- positions -------------------------------------------------------------------


@dataclass(frozen=True)
class Pos:
    line: int  # 0-based
    character: int  # UTF-16 code units


@dataclass(frozen=True)
class Range:
    start: Pos
    end: Pos


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def to_pos(lines: list[str], line: int, column: int) -> Pos:
    """A 1-based (line, code-point column) of the loader → an LSP position."""
    i = max(line - 1, 0)
    if i >= len(lines):
        return Pos(len(lines), 0) if lines else Pos(0, 0)
    text = lines[i]
    return Pos(i, _utf16_len(text[: max(column - 1, 0)]))


def from_pos(lines: list[str], pos: Pos) -> tuple[int, int]:
    """An LSP position → 1-based (line, code-point column)."""
    if pos.line >= len(lines):
        return pos.line + 1, 1
    text = lines[pos.line]
    units = 0
    for i, ch in enumerate(text):
        if units >= pos.character:
            return pos.line + 1, i + 1
        units += 2 if ord(ch) > 0xFFFF else 1
    return pos.line + 1, len(text) + 1


def span_range(lines: list[str], span: Span) -> Range:
    return Range(to_pos(lines, span.line, span.column), to_pos(lines, span.end_line, span.end_column))


def split_lines(text: str) -> list[str]:
    return text.split("\n")


def whole_range(text: str) -> Range:
    lines = split_lines(text)
    return Range(Pos(0, 0), Pos(len(lines) - 1, _utf16_len(lines[-1])))


# -- documents ---------------------------------------------------------------------


@dataclass
class Document:
    """One open document and what the loader made of it."""

    path: Path | None
    text: str
    loaded: Loaded
    _by_model: dict[str, Loaded] = field(default_factory=dict)

    @property
    def display(self) -> str:
        return str(self.path) if self.path is not None else "<spec>"

    @property
    def tree(self) -> ast.File | None:
        return self.loaded.files[0] if self.loaded.files else None

    def loaded_for(self, model: str | None) -> Loaded:
        """The spec built for `model` (the default one when None), loaded once per text."""
        if model is None:
            return self.loaded
        if model not in self._by_model:
            base = self.path.parent if self.path is not None else Path.cwd()
            self._by_model[model] = load_text(self.text, self.display, base_dir=base, model_name=model)
        return self._by_model[model]

    def file_path(self, display: str) -> Path | None:
        """The file on disk behind a span's `file`."""
        if display == self.display:
            return self.path
        p = Path(display)
        if not p.is_absolute():
            if self.path is None:
                return None
            p = self.path.parent / p
        return p


def analyse(text: str, path: Path | None) -> Document:
    display = str(path) if path is not None else "<spec>"
    base = path.parent if path is not None else Path.cwd()
    return Document(path=path, text=text, loaded=load_text(text, display, base_dir=base))


# -- diagnostics ----------------------------------------------------------------------


@dataclass(frozen=True)
class FileDiagnostic:
    path: Path | None  # None: the document itself (unsaved, no path)
    range: Range
    code: str
    message: str
    severity: str


def diagnostics(doc: Document) -> dict[Path | None, list[FileDiagnostic]]:
    """Diagnostics by file: the document's own and those of the files it imports."""
    out: dict[Path | None, list[FileDiagnostic]] = {doc.path: []}
    for d in doc.loaded.diagnostics:
        fd = _placed(doc, d)
        out.setdefault(fd.path, []).append(fd)
    return out


def _placed(doc: Document, d: Diagnostic) -> FileDiagnostic:
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    if d.span is None or d.span.file == doc.display:
        target = doc.path
        text = doc.text
    else:
        target = doc.file_path(d.span.file)
        src = doc.loaded.sources.get(d.span.file)
        text = src.text if src is not None else ""
    lines = split_lines(text)
    rng = span_range(lines, d.span) if d.span is not None else Range(Pos(0, 0), Pos(0, 0))
    return FileDiagnostic(target, rng, d.code, message, d.severity)


# -- finding things in the tree ------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """The word under the cursor and what it is."""

    role: str  # "import", "model", "base", "layer", "layer-ref", "key", "word", "section", "section-arg"
    name: str
    span: Span
    model: ast.ModelDecl | None = None  # the model it is in (None: in a section / top level)
    key: str | None = None  # the statement's key
    parents: tuple[str, ...] = ()  # keys of the enclosing statements with blocks, outermost first
    section: str | None = None
    first_word: str | None = None  # for a key: the statement's first word (`schedule iterative`)


def _contains(span: Span, line: int, column: int) -> bool:
    if (line, column) < (span.line, span.column):
        return False
    return (line, column) <= (span.end_line, span.end_column)  # the end too: a cursor right after a word is on it


def _values(values: tuple[ast.Value, ...]) -> Iterator[ast.Value]:
    for v in values:
        yield v
        if isinstance(v, ast.ListV | ast.TupleV):
            yield from _values(v.items)


def _first_word(stmt: ast.Stmt) -> str | None:
    if stmt.groups and stmt.groups[0] and isinstance(stmt.groups[0][0], ast.Word):
        return stmt.groups[0][0].name
    return None


LAYER_REF_KEYS = ("layer", "remove")
SELECTOR_KEYS = ("skip", "select")


def _in_stmts(stmts: tuple[ast.Stmt, ...], line: int, column: int, model: ast.ModelDecl | None, section: str | None, parents: tuple[str, ...]) -> Hit | None:
    for s in stmts:
        if not _contains(s.span, line, column):
            continue
        common = {"model": model, "key": s.key.name, "parents": parents, "section": section}
        if _contains(s.key.span, line, column):
            return Hit("key", s.key.name, s.key.span, first_word=_first_word(s), **common)  # type: ignore[arg-type]
        groups = tuple(v for g in s.groups for v in g)
        if s.member is not None:
            groups = (s.member,)
        for i, v in enumerate(_values(groups)):
            if isinstance(v, ast.Word) and _contains(v.span, line, column):
                if model is not None and parents == () and i == 0 and s.key.name in schema.LAYER_KINDS:
                    role = "layer"
                elif (model is not None and parents == () and i == 0 and s.key.name in LAYER_REF_KEYS) or (section == "prune" and s.key.name in SELECTOR_KEYS):
                    role = "layer-ref"
                else:
                    role = "word"
                return Hit(role, v.name, v.span, **common)  # type: ignore[arg-type]
        if s.block is not None:
            inner = _in_stmts(s.block, line, column, model, section, (*parents, s.key.name))
            if inner is not None:
                return inner
    return None


def hit_at(tree: ast.File, line: int, column: int) -> Hit | None:
    """What is at a 1-based (line, column) of the file, if it is a word, a name or an import path."""
    for item in tree.items:
        if not _contains(item.span, line, column):
            continue
        if isinstance(item, ast.ImportDecl):
            if _contains(item.path.span, line, column):
                return Hit("import", item.path.value, item.path.span)
            return None
        if isinstance(item, ast.ModelDecl):
            if _contains(item.name.span, line, column):
                return Hit("model", item.name.name, item.name.span, model=item)
            if item.base is not None and _contains(item.base.span, line, column):
                return Hit("base", item.base.name, item.base.span, model=item)
            return _in_stmts(item.body, line, column, item, None, ())
        if _contains(item.kind.span, line, column):
            return Hit("section", item.kind.name, item.kind.span, section=item.kind.name)
        if item.arg is not None and _contains(item.arg.span, line, column):
            return Hit("section-arg", item.arg.name, item.arg.span, section=item.kind.name)
        return _in_stmts(item.body, line, column, None, item.kind.name, ())
    return None


# -- models, layers, definitions --------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    path: Path | None
    span: Span


def _file_models(tree: ast.File) -> list[ast.ModelDecl]:
    return [i for i in tree.items if isinstance(i, ast.ModelDecl)]


def find_model(doc: Document, name: str) -> tuple[Path | None, ast.ModelDecl] | None:
    """The declaration `model NAME` that the loader would use: the document's own, else the last import's."""
    files = doc.loaded.files
    if not files:
        return None
    ordered = [files[0], *reversed(files[1:])]
    for tree in ordered:
        for decl in reversed(_file_models(tree)):
            if decl.name.name == name:
                return doc.file_path(tree.path), decl
    return None


def model_names(doc: Document) -> list[str]:
    names: list[str] = []
    for tree in doc.loaded.files:
        names += [m.name.name for m in _file_models(tree) if m.name.name not in names]
    return names


def built_model(doc: Document) -> ast.ModelDecl | None:
    """The model `qapc build` builds: the last one in the document, else the last imported."""
    if not doc.loaded.files:
        return None
    local = _file_models(doc.loaded.files[0])
    if local:
        return local[-1]
    for tree in reversed(doc.loaded.files[1:]):
        models = _file_models(tree)
        if models:
            return models[-1]
    return None


def layer_decls(doc: Document, model: ast.ModelDecl) -> list[tuple[Path | None, ast.Stmt]]:
    """Layer statements of a model, its base models' first (what `from` inherits), with `remove` applied."""
    chain: list[tuple[Path | None, ast.ModelDecl]] = []
    seen: set[str] = set()
    current: ast.ModelDecl | None = model
    path: Path | None = None
    while current is not None and current.name.name not in seen:
        seen.add(current.name.name)
        chain.append((path, current))
        if current.base is None:
            break
        found = find_model(doc, current.base.name)
        path, current = found if found is not None else (None, None)
    if chain:
        chain[0] = (_path_of(doc, model), model)
    out: dict[str, tuple[Path | None, ast.Stmt]] = {}
    for p, decl in reversed(chain):
        for s in decl.body:
            name = _first_word(s)
            if name is None:
                continue
            if s.key.name in schema.LAYER_KINDS:
                out[name] = (p, s)
            elif s.key.name == "remove":
                out.pop(name, None)
    return list(out.values())


def _path_of(doc: Document, model: ast.ModelDecl) -> Path | None:
    for tree in doc.loaded.files:
        if any(m is model for m in _file_models(tree)):
            return doc.file_path(tree.path)
    return doc.path


def doc_hit(doc: Document, line: int, column: int) -> Hit | None:
    """What is under a 1-based (line, column) of a document that parses; None otherwise."""
    return hit_at(doc.tree, line, column) if doc.tree is not None else None


def definition(doc: Document, line: int, column: int) -> Located | None:
    """Where the thing under a 1-based (line, column) is declared: an imported file, a base model, a layer."""
    hit = doc_hit(doc, line, column)
    if hit is None:
        return None
    if hit.role == "import":
        target = doc.file_path(doc.display)
        base = target.parent if target is not None else Path.cwd()
        imported = (base / hit.name).resolve()
        if not imported.is_file():
            return None
        return Located(imported, Span(file=str(imported), line=1, column=1, end_line=1, end_column=1))
    if hit.role == "base":
        found = find_model(doc, hit.name)
        if found is None:
            return None
        return Located(found[0], found[1].name.span)
    if hit.role == "layer-ref":
        model = hit.model or built_model(doc)
        if model is None:
            return None
        if hit.model is not None and hit.key in LAYER_REF_KEYS:
            if model.base is None:
                return None
            base_decl = find_model(doc, model.base.name)  # `layer x` / `remove x` name a layer of the base model
            if base_decl is None:
                return None
            model = base_decl[1]
        for p, s in layer_decls(doc, model):
            if _first_word(s) == hit.name:
                word = s.groups[0][0]
                return Located(p, word.span)
    return None


# -- hover ---------------------------------------------------------------------------------------------


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def layer_hover(doc: Document, hit: Hit) -> str | None:
    from qapdsl import metrics

    model = hit.model or built_model(doc)
    loaded = doc.loaded_for(model.name.name if model is not None else None)
    kind_doc = ""
    for _p, s in layer_decls(doc, model) if model is not None else []:
        if _first_word(s) == hit.name:
            kind_doc = schema.LAYER_KINDS.get(s.key.name, "")
    if loaded.spec is None:
        head = f"**{hit.name}**" + (f" — `{kind_doc}`" if kind_doc else "")
        return head + "\n\nShapes, precisions and BOPs appear when the spec checks clean (`qapc check`)."
    rows = [r for r in metrics.layer_figures(loaded.spec) if r.name == hit.name]
    if not rows:
        return None
    r = rows[0]
    lines = [
        f"**{r.name}** · {r.kind}" + (f" · model `{loaded.spec.model.name}`" if loaded.spec.model.name else ""),
        "",
        f"- shape: {_fmt_shape(r.in_shape)} → {_fmt_shape(r.out_shape)}, {r.params:,} parameters",
        f"- weights `{r.weight}`, bias `{r.bias}`, activation `{r.activation}`",
        f"- input bits {r.input_bits}, weight bits {r.weight_bits}, sparsity {r.sparsity:.1%}",
        f"- BOPs {r.bops:,.0f}, weight memory {r.memory_bits:,.0f} bits",
    ]
    return "\n".join(lines)


def _key_doc(hit: Hit) -> str | None:
    key = hit.name
    if hit.model is not None:
        if hit.parents:
            return schema.LAYER_SETTINGS.get(key)
        return schema.MODEL_KEYS.get(key)
    if hit.section == "prune" and hit.parents and hit.parents[-1] == "schedule":
        for table in schema.SCHEDULE_KEYS.values():
            if key in table:
                return table[key]
    if hit.section in schema.SECTIONS:
        return schema.SECTIONS[hit.section].get(key)
    return None


_WORD_TABLES: tuple[dict[str, str], ...] = (schema.ACTIVATIONS, schema.QUANT_KINDS, schema.SCHEDULE_KINDS, schema.QUANT_ROLES, schema.UNITS)


def hover(doc: Document, line: int, column: int) -> tuple[str, Span] | None:
    """Markdown for what is under a 1-based (line, column), with the span it covers."""
    hit = doc_hit(doc, line, column)
    if hit is None:
        return None
    text: str | None = None
    if hit.role in ("layer", "layer-ref"):
        text = layer_hover(doc, hit)
    elif hit.role == "key":
        text = _key_doc(hit)
        if text is not None:
            text = f"`{text}`"
    elif hit.role in ("model", "base"):
        found = find_model(doc, hit.name)
        if found is not None:
            layers = [_first_word(s) for _p, s in layer_decls(doc, found[1])]
            where = f" ({found[0].name})" if found[0] is not None and found[0] != doc.path else ""
            text = f"model **{hit.name}**{where}: " + ", ".join(f"`{n}`" for n in layers if n)
    elif hit.role == "word":
        for table in _WORD_TABLES:
            if hit.name in table:
                text = f"**{hit.name}** — {table[hit.name]}"
                break
    if text is None:
        return None
    return text, hit.span


# -- completion --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # "keyword", "key", "value", "layer", "model", "path"
    detail: str = ""


@dataclass
class Context:
    """Where the cursor is, from a tolerant scan of the text before it (the spec may not parse while typing)."""

    headers: list[list[str]] = field(default_factory=list)  # words before each open `{`, outermost first
    words: list[str] = field(default_factory=list)  # words of the current statement before the cursor
    group: list[str] = field(default_factory=list)  # words since the last comma of the statement
    prefix: str = ""  # the partial word under the cursor
    in_string: bool = False
    in_comment: bool = False


_TOKEN = re.compile(r'#[^\n]*|"(?:[^"\\\n]|\\.)*"?|\n|[;{}\[\](),<>]|[A-Za-z0-9_.*?%+-]+|\S')


def context_at(text: str, line: int, column: int) -> Context:
    """The completion context at a 1-based (line, code-point column)."""
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


def _usage_words(doc_text: str, key: str) -> list[str]:
    """Choice words of a key from its usage line in the schema (`optimizer adam|sgd|rmsprop [lr X]`)."""
    usage = doc_text.split(" — ")[0]
    vocab = schema.vocabulary()
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", usage)
    out: list[str] = []
    for w in words:
        if w != key and w in vocab and w not in out:
            out.append(w)
    return out


def _items(table: dict[str, str], kind: str) -> list[Item]:
    return [Item(k, kind, v) for k, v in table.items()]


def _words(words: list[str] | tuple[str, ...], kind: str = "value") -> list[Item]:
    return [Item(w, kind) for w in words]


def top_level_keywords() -> list[Item]:
    sections = ["prune", "train", "target", "sweep", "search"]
    return [Item("import", "keyword", 'import "other.qap"'), Item("model", "keyword", "model NAME [from BASE] { ... }")] + [
        Item(s, "keyword", f"{s} {{ ... }}") for s in sections
    ]


def _layer_names(doc: Document | None, model_name: str | None) -> list[Item]:
    if doc is None:
        return []
    model = None
    if model_name is not None:
        found = find_model(doc, model_name)
        model = found[1] if found is not None else None
    if model is None:
        model = built_model(doc)
    if model is None:
        return []
    out: list[Item] = []
    for _p, s in layer_decls(doc, model):
        name = _first_word(s)
        if name is not None:
            out.append(Item(name, "layer", f"{s.key.name} layer"))
    return out


def _paths(doc: Document | None) -> list[Item]:
    from qapdsl import paths

    items = [Item(p, "path", d) for p, d in paths.GLOBAL_PATHS.items()]
    for layer in _layer_names(doc, None):
        items += [Item(f"{layer.label}.{p}", "path", d) for p, d in paths.LAYER_PATHS.items()]
    return items


def completions(doc: Document | None, text: str, line: int, column: int) -> list[Item]:
    """Completion items at a 1-based (line, column); `doc` (the last analysis that parsed) gives names in scope."""
    ctx = context_at(text, line, column)
    if ctx.in_string or ctx.in_comment:
        return []
    items = _complete(ctx, doc)
    if ctx.prefix:
        items = [i for i in items if i.label.startswith(ctx.prefix)]
    seen: set[str] = set()
    unique: list[Item] = []
    for i in items:
        if i.label not in seen:
            seen.add(i.label)
            unique.append(i)
    return unique


def _complete(ctx: Context, doc: Document | None) -> list[Item]:
    heads = [h[0] if h else "" for h in ctx.headers]
    words = ctx.words
    if not heads:  # top level
        if not words:
            return top_level_keywords()
        if words[0] == "model" and len(words) >= 2 and words[-1] == "from":
            return [Item(n, "model") for n in (model_names(doc) if doc else [])]
        if words[0] == "model" and len(words) == 2:
            return [Item("from", "keyword")]
        if words[0] == "target" and len(words) == 1:
            return _words(schema.TARGET_KINDS)
        return []
    outer = ctx.headers[0]
    model_name = outer[1] if outer and outer[0] == "model" and len(outer) > 1 else None
    if outer and outer[0] == "model":
        if len(heads) == 1:
            return _model_stmt(ctx, doc, model_name)
        return _layer_setting(ctx)
    section = heads[0]
    if section == "prune" and len(heads) >= 2 and heads[1] == "schedule":
        kind = ctx.headers[1][1] if len(ctx.headers[1]) > 1 else None
        table = schema.SCHEDULE_KEYS.get(kind or "", {k: v for t in schema.SCHEDULE_KEYS.values() for k, v in t.items()})
        return _items(table, "key") if not words else _values_for(words[0], table.get(words[0], ""))
    if section in ("sweep", "search") and not words:
        extra = _items(schema.SEARCH_KEYS, "key") if section == "search" else []
        return extra + _paths(doc)
    if section in ("sweep", "search") and len(words) == 1 and words[0] not in schema.SEARCH_KEYS:
        return [Item("in", "keyword")]
    table = schema.SECTIONS.get(section, {})
    if not words:
        return _items(table, "key")
    key = words[0]
    if section == "prune" and key in SELECTOR_KEYS:
        return _layer_names(doc, None)
    if section == "prune" and key == "schedule":
        return _items(schema.SCHEDULE_KINDS, "value")
    if section == "train" and key == "data":
        if len(words) >= 2 and words[1] == "sklearn":
            return _words(tuple(schema.SKLEARN_DATASETS))
        if len(words) == 1:
            return _words(("openml", "file", "sklearn"))
        return []
    if section == "target" and key == "backend":
        return _words(schema.BACKENDS)
    return _values_for(key, table.get(key, ""))


def _values_for(key: str, doc_text: str) -> list[Item]:
    return _words(_usage_words(doc_text, key)) if doc_text else []


def _model_stmt(ctx: Context, doc: Document | None, model_name: str | None) -> list[Item]:
    words = ctx.words
    if not words:
        return _items(schema.MODEL_KEYS, "key")
    key = words[0]
    if key in LAYER_REF_KEYS:
        if len(words) != 1:
            return []
        base = None
        if doc is not None and model_name is not None:
            found = find_model(doc, model_name)
            base = found[1].base.name if found is not None and found[1].base is not None else None
        return _layer_names(doc, base) if base is not None else []
    if key == "quant":
        return _items(schema.QUANT_ROLES, "key") if not ctx.group or ctx.group == ["quant"] else _items(schema.QUANT_KINDS, "value")
    if key in schema.LAYER_KINDS:
        if len(words) == 1:
            return []  # a new layer's name
        return _items(schema.ACTIVATIONS, "value") + _words(_usage_words(schema.LAYER_KINDS[key], key), "key")
    return _values_for(key, schema.MODEL_KEYS.get(key, ""))


def _layer_setting(ctx: Context) -> list[Item]:
    words = ctx.words
    if not words:
        return _items(schema.LAYER_SETTINGS, "key")
    if words[0] in schema.QUANT_ROLES:
        return _items(schema.QUANT_KINDS, "value")
    return _values_for(words[0], schema.LAYER_SETTINGS.get(words[0], ""))
