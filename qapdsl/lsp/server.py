"""The language server (pygls): diagnostics, hover, formatting, completion, go to definition.

The analysis lives in qapdsl.lsp.analysis; this module only maps it to the
protocol. Diagnostics are the loader's, the same as `qapc check` prints;
formatting is `qapc fmt`'s.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lsprotocol import types as lsp
from pygls.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from qapdsl import __version__
from qapdsl.diagnostics import SpecError
from qapdsl.fmt import format_text
from qapdsl.lsp import analysis
from qapdsl.lsp.analysis import Document, Pos, Range

log = logging.getLogger("qapc.lsp")

_KINDS = {
    "keyword": lsp.CompletionItemKind.Keyword,
    "key": lsp.CompletionItemKind.Property,
    "value": lsp.CompletionItemKind.EnumMember,
    "layer": lsp.CompletionItemKind.Variable,
    "model": lsp.CompletionItemKind.Class,
    "path": lsp.CompletionItemKind.Field,
}


class QapServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("qapc", __version__)
        self.docs: dict[str, Document] = {}  # latest analysis per open document
        self.good: dict[str, Document] = {}  # latest analysis whose text parsed (names in scope while typing)
        self.published: dict[str, set[str]] = {}  # document → other files it published diagnostics to


server = QapServer()


def _path(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    fs = to_fs_path(uri)
    return Path(fs) if fs else None


def _uri(path: Path | None, fallback: str) -> str:
    if path is None:
        return fallback
    return from_fs_path(str(path)) or fallback


def _range(r: Range) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=r.start.line, character=r.start.character), end=lsp.Position(line=r.end.line, character=r.end.character))


def _severity(s: str) -> lsp.DiagnosticSeverity:
    return {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}.get(s, lsp.DiagnosticSeverity.Information)


def refresh(ls: QapServer, uri: str) -> None:
    """Analyse a document again and publish its diagnostics (and those of the files it imports)."""
    text_doc = ls.workspace.get_text_document(uri)
    doc = analysis.analyse(text_doc.source, _path(uri))
    ls.docs[uri] = doc
    if doc.tree is not None:
        ls.good[uri] = doc
    by_file = analysis.diagnostics(doc)
    others: set[str] = set()
    for path, diags in by_file.items():
        target = uri if path == doc.path else _uri(path, uri)
        if target != uri:
            if target in ls.docs:
                continue  # an open file publishes its own diagnostics
            others.add(target)
        items = [lsp.Diagnostic(range=_range(d.range), message=d.message, severity=_severity(d.severity), code=d.code, source="qapc") for d in diags]
        ls.publish_diagnostics(target, items, version=text_doc.version if target == uri else None)
    for stale in ls.published.get(uri, set()) - others:
        if stale not in ls.docs:
            ls.publish_diagnostics(stale, [])
    ls.published[uri] = others


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: QapServer, params: lsp.DidOpenTextDocumentParams) -> None:
    refresh(ls, params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: QapServer, params: lsp.DidChangeTextDocumentParams) -> None:
    refresh(ls, params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: QapServer, params: lsp.DidSaveTextDocumentParams) -> None:
    for uri in list(ls.docs):  # a saved file may be imported by the other open documents
        refresh(ls, uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: QapServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.docs.pop(uri, None)
    ls.good.pop(uri, None)
    for other in ls.published.pop(uri, set()):
        if other not in ls.docs:
            ls.publish_diagnostics(other, [])
    ls.publish_diagnostics(uri, [])


def _doc(ls: QapServer, uri: str) -> Document:
    if uri not in ls.docs:
        refresh(ls, uri)
    return ls.docs[uri]


def _cursor(doc: Document, position: lsp.Position) -> tuple[int, int]:
    return analysis.from_pos(analysis.split_lines(doc.text), Pos(position.line, position.character))


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: QapServer, params: lsp.HoverParams) -> lsp.Hover | None:
    doc = _doc(ls, params.text_document.uri)
    line, column = _cursor(doc, params.position)
    found = analysis.hover(doc, line, column)
    if found is None:
        return None
    text, span = found
    rng = analysis.span_range(analysis.split_lines(doc.text), span)
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text), range=_range(rng))


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: QapServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    doc = _doc(ls, params.text_document.uri)
    try:
        formatted = format_text(doc.text, doc.display)
    except SpecError:
        return None  # the diagnostics already say why
    if formatted == doc.text:
        return []
    return [lsp.TextEdit(range=_range(analysis.whole_range(doc.text)), new_text=formatted)]


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[" "]))
def completion(ls: QapServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    uri = params.text_document.uri
    doc = _doc(ls, uri)
    line, column = _cursor(doc, params.position)
    items = analysis.completions(ls.good.get(uri), doc.text, line, column)
    return lsp.CompletionList(
        is_incomplete=False,
        items=[lsp.CompletionItem(label=i.label, kind=_KINDS.get(i.kind, lsp.CompletionItemKind.Text), detail=i.detail or None) for i in items],
    )


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def definition(ls: QapServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    uri = params.text_document.uri
    doc = _doc(ls, uri)
    line, column = _cursor(doc, params.position)
    found = analysis.definition(doc, line, column)
    if found is None:
        return None
    target = _uri(found.path, uri)
    if found.path is None or found.path == doc.path:
        text = doc.text
    else:
        src = doc.loaded.sources.get(found.span.file)
        try:
            text = src.text if src is not None else found.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
    rng = analysis.span_range(analysis.split_lines(text), found.span)
    return lsp.Location(uri=target, range=_range(rng))


def serve(log_file: str | None = None) -> int:
    """Run the server over stdin/stdout until the client says exit."""
    if log_file:
        logging.basicConfig(filename=log_file, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    else:
        logging.basicConfig(level=logging.WARNING)  # stderr; stdout carries the protocol
    server.start_io()
    return 0
