"""What the language server knows about one version of a document, without any protocol.

A `Document` is one text and what the loader made of it (`qapc check`'s own
result). Everything here works on text, spans and the loader's results and
returns plain data (positions are LSP's: 0-based lines, UTF-16 columns), so it
can be tested and reused without pygls; qapdsl.lsp.server only translates to
lsprotocol types.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qapdsl import ast
from qapdsl.diagnostics import Diagnostic
from qapdsl.loader import Loaded, load_bytes, resolve_path
from qapdsl.lsp.cursor import split_lines
from qapdsl.source import Span

if TYPE_CHECKING:
    from qapdsl.metrics import LayerFigures

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
    return len(s.encode("utf-16-le", errors="surrogatepass")) // 2


def to_pos(lines: list[str], line: int, column: int) -> Pos:
    """A 1-based (line, code-point column) of the loader → an LSP position."""
    i = max(line - 1, 0)
    if i >= len(lines):
        return Pos(len(lines), 0) if lines else Pos(0, 0)
    text = lines[i]
    return Pos(i, _utf16_len(text[: max(column - 1, 0)]))


def from_pos(lines: list[str], pos: Pos) -> tuple[int, int]:
    """An LSP position → 1-based (line, code-point column); one outside the text is clamped to it."""
    if pos.line < 0:
        return 1, 1
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


def whole_range(text: str) -> Range:
    lines = split_lines(text)
    return Range(Pos(0, 0), Pos(len(lines) - 1, _utf16_len(lines[-1])))


def contains(span: Span, line: int, column: int) -> bool:
    """A 1-based (line, column) is in the span; its end too (a cursor right after a word is on it)."""
    if (line, column) < (span.line, span.column):
        return False
    return (line, column) <= (span.end_line, span.end_column)


# -- documents ---------------------------------------------------------------------


@dataclass
class Document:
    """One version of an open document and what the loader made of it."""

    path: Path | None
    text: str
    loaded: Loaded
    version: int | None = None
    uri: str | None = None  # the open document's URI; what names a document without a file (`untitled:...`)
    _by_model: dict[str, Loaded] = field(default_factory=dict)
    _partial: dict[str | None, Partial | None] = field(default_factory=dict)
    _figures: dict[int, dict[str, LayerFigures]] = field(default_factory=dict)

    @property
    def key(self) -> Path | str:
        """The document's identity among others: its file (resolved), else its URI. Two unsaved buffers are
        two documents, whatever their text."""
        return resolve_path(self.path) if self.path is not None else (self.uri or "<spec>")

    @property
    def display(self) -> str:
        return str(self.path) if self.path is not None else "<spec>"

    @property
    def tree(self) -> ast.File | None:
        """The document's syntax tree; None when it does not parse."""
        return self.loaded.files[0] if self.loaded.files else None

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def load(self, text: str, model: str | None = None) -> Loaded:
        """Load `text` as this document (same path, same imports)."""
        # surrogatepass: a client may send lone surrogates; the loader reports them as invalid UTF-8 (E004)
        return load_bytes(text.encode("utf-8", errors="surrogatepass"), self.display, base_dir=self.base_dir, model_name=model)

    def loaded_for(self, model: str | None) -> Loaded:
        """The spec built for `model` (the default one when None), loaded once per version."""
        if model is None:
            return self.loaded
        if model not in self._by_model:
            self._by_model[model] = self.load(self.text, model)
        return self._by_model[model]

    def partial_for(self, model: str | None) -> Partial | None:
        """The spec of `model` with the statements that have errors left out, when that checks clean (cached)."""
        if model not in self._partial:
            self._partial[model] = _partial(self, model)
        return self._partial[model]

    def figures(self, loaded: Loaded) -> dict[str, LayerFigures]:
        """Per-layer figures (shapes, precisions, BOPs) of one of this document's clean specs, computed once."""
        key = id(loaded)  # `loaded` is this document's (kept alive by it), so its id stays its own
        if key not in self._figures:
            from qapdsl import metrics

            assert loaded.spec is not None
            self._figures[key] = {r.name: r for r in metrics.layer_figures(loaded.spec)}
        return self._figures[key]

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


def analyse(text: str, path: Path | None, version: int | None = None, uri: str | None = None) -> Document:
    doc = Document(path=path, text=text, loaded=Loaded(None, [], {}), version=version, uri=uri)
    doc.loaded = doc.load(text)
    return doc


# -- a partial analysis: the spec without the statements that have errors ----------------------------------------


@dataclass(frozen=True)
class Partial:
    loaded: Loaded  # checks clean
    left_out: tuple[int, ...]  # 1-based lines of the statements left out


def walk(stmts: tuple[ast.Stmt, ...]) -> Iterator[ast.Stmt]:
    """Statements and the statements of their blocks, depth first."""
    stack = list(reversed(stmts))
    while stack:
        s = stack.pop()
        yield s
        if s.block is not None:
            stack.extend(reversed(s.block))


def _innermost(tree: ast.File, span: Span) -> ast.Stmt | None:
    found: ast.Stmt | None = None
    for item in tree.items:
        if isinstance(item, ast.ImportDecl) or not contains(item.span, span.line, span.column):
            continue
        for s in walk(item.body):
            if contains(s.span, span.line, span.column) and contains(s.span, span.end_line, span.end_column):
                found = s  # depth first: a later hit is nested deeper
    return found


def _blank(text: str, spans: list[Span]) -> str:
    """The text with the spans replaced by spaces (line breaks kept, so every other span stays valid)."""
    lines = split_lines(text)
    for sp in spans:
        for ln in range(sp.line, sp.end_line + 1):
            row = lines[ln - 1]
            a = sp.column - 1 if ln == sp.line else 0
            b = sp.end_column - 1 if ln == sp.end_line else len(row)
            lines[ln - 1] = row[:a] + " " * (b - a) + row[b:]
    return "\n".join(lines)


MAX_PARTIAL_ROUNDS = 3


def _partial(doc: Document, model: str | None) -> Partial | None:
    loaded = doc.loaded_for(model)
    text = doc.text
    left_out: set[int] = set()
    for _ in range(MAX_PARTIAL_ROUNDS):
        if loaded.spec is not None:
            return Partial(loaded, tuple(sorted(left_out))) if left_out else None
        tree = loaded.files[0] if loaded.files else None
        if tree is None:
            return None
        stmts: list[ast.Stmt] = []
        for d in loaded.diagnostics:
            if d.severity != "error":
                continue
            stmt = _innermost(tree, d.span) if d.span is not None and d.span.file == doc.display else None
            if stmt is None:
                return None  # an error outside any statement of this file (a header, an import): nothing to leave out
            if stmt not in stmts:
                stmts.append(stmt)
        left_out.update(s.span.line for s in stmts)
        text = _blank(text, [s.span for s in stmts])
        loaded = doc.load(text, model)
    return None


# -- diagnostics ----------------------------------------------------------------------


@dataclass(frozen=True)
class Related:
    path: Path | None
    range: Range
    message: str


@dataclass(frozen=True)
class FileDiagnostic:
    path: Path | None  # None: the document itself (unsaved, no path)
    range: Range
    code: str
    message: str
    severity: str
    related: tuple[Related, ...] = ()
    hint: str | None = None


def _text_of(doc: Document, display: str) -> str:
    if display == doc.display:
        return doc.text
    src = doc.loaded.sources.get(display)
    return src.text if src is not None else ""


def _placed(doc: Document, d: Diagnostic) -> FileDiagnostic:
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    display = d.span.file if d.span is not None else doc.display
    target = doc.path if display == doc.display else doc.file_path(display)
    rng = span_range(split_lines(_text_of(doc, display)), d.span) if d.span is not None else Range(Pos(0, 0), Pos(0, 0))
    return FileDiagnostic(target, rng, d.code, message, d.severity, hint=d.hint)


def _key(p: Path | None) -> Path | None:
    return resolve_path(p) if p is not None else None


def import_target(doc: Document, tree: ast.File, rel: str) -> Path:
    """The file an `import "rel"` in `tree` names (relative to the importing file's folder)."""
    importer = doc.file_path(tree.path)
    base = importer.parent if importer is not None else doc.base_dir
    return resolve_path(base / rel)


def _reachable(doc: Document) -> list[tuple[ast.ImportDecl, set[Path]]]:
    """Each import of the document with the files it brings in, directly or through their imports."""
    graph: dict[Path | None, list[Path]] = {}
    for file in doc.loaded.files:
        graph[_key(doc.file_path(file.path))] = [import_target(doc, file, i.path.value) for i in file.items if isinstance(i, ast.ImportDecl)]
    out: list[tuple[ast.ImportDecl, set[Path]]] = []
    tree = doc.tree
    if tree is None:
        return out
    for item in tree.items:
        if not isinstance(item, ast.ImportDecl):
            continue
        start = import_target(doc, tree, item.path.value)
        seen = {start}
        queue = deque([start])
        while queue:
            for nxt in graph.get(queue.popleft(), []):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        out.append((item, seen))
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def diagnostics(doc: Document) -> dict[Path | None, list[FileDiagnostic]]:
    """Diagnostics by file: the document's own, and those of the files it imports.

    A problem in an imported file is also summed up on the `import` line that
    brings the file in, with the problems themselves as related information, so
    the importing buffer shows that something is wrong and where.
    """
    out: dict[Path | None, list[FileDiagnostic]] = {doc.path: []}
    imported: dict[Path, list[FileDiagnostic]] = {}
    for d in doc.loaded.diagnostics:
        fd = _placed(doc, d)
        out.setdefault(fd.path, []).append(fd)
        if fd.path is not None and fd.path != doc.path:
            imported.setdefault(resolve_path(fd.path), []).append(fd)
    if not imported:
        return out
    lines = split_lines(doc.text)
    claimed: set[Path] = set()
    for decl, files in _reachable(doc):
        inner = [fd for f in sorted(files - claimed) for fd in imported.get(f, [])]
        claimed |= files
        if not inner:
            continue
        errors = sum(1 for fd in inner if fd.severity == "error")
        severity = "error" if errors else "warning"
        count = _plural(errors, "error") if errors else _plural(len(inner), "warning")
        first = inner[0]
        where = first.path.name if first.path is not None else "?"
        direct = import_target(doc, doc.tree, decl.path.value) if doc.tree is not None else None
        owner = decl.path.value if all(_key(fd.path) == direct for fd in inner) else f"{decl.path.value} (with its imports)"
        message = f"{owner} has {count}; first: {where}:{first.range.start.line + 1}: {first.message.splitlines()[0]}"
        related = tuple(Related(fd.path, fd.range, f"{fd.code}: {fd.message.splitlines()[0]}") for fd in inner)
        out[doc.path].append(FileDiagnostic(doc.path, span_range(lines, decl.path.span), first.code, message, severity, related))
    return out
