"""The language server (pygls): the protocol around qapdsl.lsp's analyses.

Edits go to the background `Checker` (debounced, stale checks interrupted) and
never wait for a check; diagnostics are published when the check of the newest
text is done. Hover and completion answer at once from the newest analyses;
go to definition, references, rename, code actions and the outline wait for the
analysis of the current text (it is started at once when they ask). Heavier
request work (a partial analysis, another model's spec, formatting) runs in a
worker thread so the event loop keeps reading messages.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from qapdsl import __version__, syntax
from qapdsl.diagnostics import SpecError
from qapdsl.fmt import format_text
from qapdsl.loader import resolve_path
from qapdsl.lsp import actions, analysis, completion, cursor, files, navigation, rpc, symbols
from qapdsl.lsp import hover as hovers
from qapdsl.lsp.analysis import Document, Pos, Range
from qapdsl.lsp.checker import Checker

log = logging.getLogger("qapc.lsp")

R = TypeVar("R")

REQUEST_FAILED = -32803  # LSP's RequestFailed: the request is valid but cannot be carried out
WAIT = 5.0  # seconds a request waits for the analysis of the current text

_COMPLETION_KINDS = {
    "keyword": lsp.CompletionItemKind.Keyword,
    "key": lsp.CompletionItemKind.Property,
    "value": lsp.CompletionItemKind.EnumMember,
    "layer": lsp.CompletionItemKind.Variable,
    "model": lsp.CompletionItemKind.Class,
    "path": lsp.CompletionItemKind.Field,
}
_SYMBOL_KINDS = {
    "import": lsp.SymbolKind.File,
    "model": lsp.SymbolKind.Class,
    "layer": lsp.SymbolKind.Field,
    "section": lsp.SymbolKind.Namespace,
    "setting": lsp.SymbolKind.Property,
}


class QapServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("qapc", __version__, protocol_cls=rpc.Protocol)
        self.checker: Checker[Document] = Checker(self._analyse, self._publish)
        self.clean: dict[str, Document] = {}  # the newest analysis that checked clean, per document
        self.parsed: dict[str, Document] = {}  # the newest analysis whose text parsed (names in scope while typing)
        self.published: dict[str, set[str]] = {}  # document → other files it published diagnostics to
        self.disk = files.DiskDocuments()
        self.requests = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qapc-request")

    # -- analyses ---------------------------------------------------------------------------------------

    def _analyse(self, uri: str, version: int, text: str) -> Document:
        """Runs in the checker's thread."""
        return analysis.analyse(text, _path(uri), version, uri=uri)

    def _publish(self, uri: str, doc: Document) -> None:
        """Runs on the event loop when the check of a document's newest text is done."""
        if doc.tree is not None:
            self.parsed[uri] = doc
        if doc.loaded.ok:
            self.clean[uri] = doc
            self.requests.submit(doc.figures, doc.loaded)  # ready before the first hover asks
        by_file = analysis.diagnostics(doc)
        others: set[str] = set()
        for path, diags in by_file.items():
            target = uri if path == doc.path else _uri(path, uri)
            if target != uri:
                if target in self.checker.uris():
                    continue  # an open file publishes its own diagnostics
                others.add(target)
            self.publish_diagnostics(target, [_diagnostic(d, uri) for d in diags], version=doc.version if target == uri else None)
        for stale in self.published.get(uri, set()) - others:
            if stale not in self.checker.uris():
                self.publish_diagnostics(stale, [])
        self.published[uri] = others

    def analyses(self, uri: str) -> hovers.Analyses:
        return hovers.Analyses(latest=self.checker.latest(uri), clean=self.clean.get(uri))

    async def current(self, uri: str) -> Document | None:
        """The analysis of the document's current text (None: not open, or not ready in time)."""
        return await self.checker.current(uri, WAIT)

    async def off_loop(self, fn: Callable[..., R], *args: Any) -> R:
        return await asyncio.get_running_loop().run_in_executor(self.requests, fn, *args)

    def text(self, uri: str) -> str | None:
        """The text of an open document (None: not open; pygls would read it from disk)."""
        if uri not in self.workspace.text_documents:
            return None
        return self.workspace.get_text_document(uri).source

    # -- references across files -------------------------------------------------------------------------

    async def scope(self) -> Scope:
        """Every spec a reference may be in: the open documents as they are, and the files on disk (workspace and imports)."""
        docs: dict[Path | str, Document] = {}  # by Document.key: a file, or an unsaved document's URI
        for uri in self.checker.uris():
            doc = await self.current(uri)
            if doc is not None:
                docs[doc.key] = doc
        roots = [Path(p) for p in self._folders()]
        for doc in list(docs.values()):
            roots += [resolve_path(p) for t in doc.loaded.files[1:] for p in [doc.file_path(t.path)] if p is not None]
        open_paths = {p for p in docs if isinstance(p, Path)}
        scan = await self.off_loop(self.disk.documents, roots, open_paths)
        for doc in scan.documents:
            if doc.path is not None:
                docs.setdefault(doc.key, doc)
        return Scope(docs, scan.incomplete, open_paths)

    def open_paths(self) -> set[Path]:
        return {resolve_path(p) for uri in self.checker.uris() for p in [_path(uri)] if p is not None}

    def not_editable(self, paths: Iterable[Path | str | None], open_paths: set[Path]) -> str | None:
        """Why a rename must not edit one of `paths` (None: it may edit them all). A file outside every
        workspace folder (an import from `../elsewhere`) belongs to another project: an edit there would
        change specs the user has not opened. Without a workspace folder, the folders of the open files
        stand for it."""
        folders = [resolve_path(Path(f)) for f in self._folders()]
        where = "the workspace"
        if not folders:
            folders = sorted({p.parent for p in open_paths})
            where = "the folders of the open files"
        for path in paths:
            if isinstance(path, Path) and not any(path.is_relative_to(f) for f in folders):  # else an unsaved buffer
                shown = os.path.relpath(path, folders[0]) if folders else str(path)
                return f"{shown}, which is outside {where} ({', '.join(map(str, folders)) or 'none'}): open a folder that holds both files, or rename it in its own project"
        return None

    def _folders(self) -> list[str]:
        out = [to_fs_path(f.uri) for f in self.workspace.folders.values()]
        if not out and self.workspace.root_path:
            out = [self.workspace.root_path]
        return [p for p in out if p]


@dataclass(frozen=True)
class Scope:
    docs: dict[Path | str, Document]  # by Document.key: resolved path, or the URI of an unsaved document
    incomplete: list[str]  # why specs of the workspace may be missing (files.Scan)
    open_paths: set[Path]  # the open documents' files


server = QapServer()


# -- conversions ----------------------------------------------------------------------------------------------


def _path(uri: str) -> Path | None:
    """The file of a `file:` URI; None for other schemes and for what no file can be named (a NUL byte):
    such a document is checked as text, without imports."""
    if not uri.startswith("file:"):
        return None
    fs = to_fs_path(uri)
    return Path(fs) if fs and "\x00" not in fs else None


def _uri(path: Path | str | None, fallback: str) -> str:
    """The URI of a file, or of a document by its key (`Document.key`: a file, or an unsaved document's URI)."""
    if isinstance(path, str):
        return path if path != "<spec>" else fallback
    if path is None:
        return fallback
    return from_fs_path(str(path)) or fallback


def _range(r: Range) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=r.start.line, character=r.start.character), end=lsp.Position(line=r.end.line, character=r.end.character))


def _from_lsp(r: lsp.Range) -> Range:
    return Range(Pos(r.start.line, r.start.character), Pos(r.end.line, r.end.character))


def _severity(s: str) -> lsp.DiagnosticSeverity:
    return {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}.get(s, lsp.DiagnosticSeverity.Information)


def _diagnostic(d: analysis.FileDiagnostic, uri: str) -> lsp.Diagnostic:
    related = [lsp.DiagnosticRelatedInformation(location=lsp.Location(uri=_uri(r.path, uri), range=_range(r.range)), message=r.message) for r in d.related]
    return lsp.Diagnostic(
        range=_range(d.range), message=d.message, severity=_severity(d.severity), code=d.code, source="qapc", related_information=related or None
    )


def _cursor(text: str, position: lsp.Position) -> tuple[int, int]:
    return analysis.from_pos(cursor.split_lines(text), Pos(position.line, position.character))


def _span_range(text: str, span: Any) -> lsp.Range:
    return _range(analysis.span_range(cursor.split_lines(text), span))


def _failed(message: str) -> JsonRpcException:
    return JsonRpcException(message=message, code=REQUEST_FAILED)


# -- documents -------------------------------------------------------------------------------------------------


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: QapServer, params: lsp.DidOpenTextDocumentParams) -> None:
    uri = params.text_document.uri
    doc = ls.workspace.get_text_document(uri)
    ls.checker.update(uri, doc.version or 0, doc.source, immediate=True)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: QapServer, params: lsp.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    doc = ls.workspace.get_text_document(uri)
    ls.checker.update(uri, doc.version or 0, doc.source)


def _recheck_all(ls: QapServer, except_uri: str | None = None) -> None:
    for uri in ls.checker.uris():
        if uri != except_uri:
            ls.checker.recheck(uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: QapServer, params: lsp.DidSaveTextDocumentParams) -> None:
    _recheck_all(ls, except_uri=params.text_document.uri)  # a saved file may be imported by the other open documents


@server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(ls: QapServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    _recheck_all(ls)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: QapServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.checker.close(uri)
    ls.clean.pop(uri, None)
    ls.parsed.pop(uri, None)
    for other in ls.published.pop(uri, set()):
        if other not in ls.checker.uris():
            ls.publish_diagnostics(other, [])
    ls.publish_diagnostics(uri, [])


# -- answered at once, from the newest analyses ------------------------------------------------------------------


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
async def hover(ls: QapServer, params: lsp.HoverParams) -> lsp.Hover | None:
    uri = params.text_document.uri
    text = ls.text(uri)
    hit = cursor.word_at(text, *_cursor(text, params.position)) if text is not None else None
    if text is None or hit is None:
        return None
    value = await ls.off_loop(hovers.hover, ls.analyses(uri), text, hit)
    if value is None:
        return None
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=value), range=_span_range(text, hit.span))


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[" ", "."]))
def complete(ls: QapServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    uri = params.text_document.uri
    text = ls.text(uri)
    items = completion.completions(ls.parsed.get(uri), text, *_cursor(text, params.position)) if text is not None else []
    return lsp.CompletionList(
        is_incomplete=False,
        items=[lsp.CompletionItem(label=i.label, kind=_COMPLETION_KINDS.get(i.kind, lsp.CompletionItemKind.Text), detail=i.detail or None) for i in items],
    )


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
async def formatting(ls: QapServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    text = ls.text(params.text_document.uri)
    path = _path(params.text_document.uri)
    if text is None:
        return None
    try:
        formatted = await ls.off_loop(format_text, text, str(path) if path else "<spec>")
    except SpecError:
        return None  # the diagnostics already say why
    if formatted == text:
        return []
    return [lsp.TextEdit(range=_range(analysis.whole_range(text)), new_text=formatted)]


# -- answered from the analysis of the current text ---------------------------------------------------------------


async def _current_hit(ls: QapServer, uri: str, position: lsp.Position) -> tuple[Document, cursor.Hit] | None:
    doc = await ls.current(uri)
    if doc is None:
        return None
    hit = cursor.word_at(doc.text, *_cursor(doc.text, position))
    return (doc, hit) if hit is not None else None


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
async def definition(ls: QapServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    uri = params.text_document.uri
    found = await _current_hit(ls, uri, params.position)
    if found is None:
        return None
    doc, hit = found
    where = navigation.definition(doc, hit)
    if where is None:
        return None
    target = _uri(where.path, uri)
    if where.path is None or where.path == doc.path:
        text = doc.text
    else:
        src = doc.loaded.sources.get(where.span.file)
        try:
            text = src.text if src is not None else where.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
    return lsp.Location(uri=target, range=_span_range(text, where.span))


async def _symbol(ls: QapServer, uri: str, position: lsp.Position) -> tuple[Document, cursor.Hit, navigation.Symbol] | None:
    found = await _current_hit(ls, uri, position)
    if found is None:
        return None
    doc, hit = found
    symbol = navigation.Resolver(doc).resolve(hit)
    return (doc, hit, symbol) if symbol is not None else None


def _locations(ls: QapServer, uri: str, docs: dict[Path | str, Document], refs: list[navigation.Reference]) -> list[lsp.Location]:
    out = []
    for path, ranges in navigation.edit_ranges(docs, refs).items():
        out += [lsp.Location(uri=_uri(path, uri), range=_range(r)) for r in ranges]
    return out


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
async def references(ls: QapServer, params: lsp.ReferenceParams) -> list[lsp.Location] | None:
    uri = params.text_document.uri
    found = await _symbol(ls, uri, params.position)
    if found is None:
        return None
    _doc, _hit, symbol = found
    scope = await ls.scope()
    docs = scope.docs
    if scope.incomplete:
        ls.show_message_log(f"references: some .qap files of the workspace were not searched: {'; '.join(scope.incomplete)}", lsp.MessageType.Warning)
    refs = await ls.off_loop(navigation.references, list(docs.values()), symbol)
    if not params.context.include_declaration:
        refs = [r for r in refs if not r.declaration]
    return _locations(ls, uri, docs, refs)


@server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
async def prepare_rename(ls: QapServer, params: lsp.PrepareRenameParams) -> lsp.PrepareRenameResult_Type1 | None:
    found = await _symbol(ls, params.text_document.uri, params.position)
    if found is None:
        raise _failed("only the names of models and layers can be renamed")
    doc, hit, symbol = found
    declared = resolve_path(symbol.root.path) if symbol.root.path is not None else None
    why = ls.not_editable([declared], ls.open_paths())
    if why is not None:
        raise _failed(f"'{symbol.name}' is declared in {why}")
    return lsp.PrepareRenameResult_Type1(range=_span_range(doc.text, navigation.name_span(hit)), placeholder=symbol.name)


@server.feature(lsp.TEXT_DOCUMENT_RENAME, lsp.RenameOptions(prepare_provider=True))
async def rename(ls: QapServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
    uri = params.text_document.uri
    found = await _symbol(ls, uri, params.position)
    if found is None:
        raise _failed("only the names of models and layers can be renamed")
    _doc, _hit, symbol = found
    scope = await ls.scope()
    docs = scope.docs
    if scope.incomplete:  # a rename changes every use or none: one in a file not searched would break
        raise _failed(f"cannot rename '{symbol.name}': not every .qap file of the workspace could be searched ({'; '.join(scope.incomplete)})")
    try:
        navigation.check_new_name(symbol, params.new_name, list(docs.values()))
        await ls.off_loop(navigation.check_buildable, symbol, params.new_name, list(docs.values()))
    except navigation.RenameError as e:
        raise _failed(str(e)) from None
    refs = await ls.off_loop(navigation.references, list(docs.values()), symbol)
    by_file = navigation.edit_ranges(docs, refs)
    why = ls.not_editable(by_file, scope.open_paths)
    if why is not None:
        raise _failed(f"cannot rename '{symbol.name}': it is used in {why}")
    for path, ranges in by_file.items():
        new_text = _apply(docs[path].text, ranges, params.new_name)
        try:
            syntax.parse(new_text, str(path) if isinstance(path, Path) else "<spec>")
        except SpecError as e:
            raise _failed(f"renaming to '{params.new_name}' breaks {path.name if isinstance(path, Path) else 'the spec'}: {e.diagnostics[0].message}") from None
    for warning in navigation.glob_warnings(docs.values(), symbol.name, params.new_name):
        ls.show_message(f"rename: {warning}", lsp.MessageType.Warning)
    versions = {_uri(d.key, uri): d.version for d in docs.values()}
    edits = {
        _uri(path, uri): [lsp.TextEdit(range=_range(r), new_text=params.new_name) for r in sorted(ranges, key=lambda r: (r.start.line, r.start.character))]
        for path, ranges in by_file.items()
    }
    caps = ls.client_capabilities.workspace
    if caps is not None and caps.workspace_edit is not None and caps.workspace_edit.document_changes:
        open_uris = set(ls.checker.uris())
        return lsp.WorkspaceEdit(
            document_changes=[
                lsp.TextDocumentEdit(
                    text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=u, version=versions.get(u) if u in open_uris else None),
                    edits=list(e),
                )
                for u, e in edits.items()
            ]
        )
    return lsp.WorkspaceEdit(changes=edits)


def _apply(text: str, ranges: list[Range], new: str) -> str:
    """The text with every range replaced by `new`."""
    lines = cursor.split_lines(text)
    for r in sorted(ranges, key=lambda r: (r.start.line, r.start.character), reverse=True):
        line, a = analysis.from_pos(lines, r.start)
        _, b = analysis.from_pos(lines, r.end)
        row = lines[line - 1]
        lines[line - 1] = row[: a - 1] + new + row[b - 1 :]
    return "\n".join(lines)


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
async def code_action(ls: QapServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
    uri = params.text_document.uri
    doc = await ls.current(uri)
    if doc is None:
        return None
    fixes = actions.quick_fixes(doc, _from_lsp(params.range))
    return [
        lsp.CodeAction(
            title=f.title,
            kind=lsp.CodeActionKind.QuickFix,
            diagnostics=[_diagnostic(f.diagnostic, uri)],
            is_preferred=f.preferred,
            edit=lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(range=_range(f.range), new_text=f.new_text)]}),
        )
        for f in fixes
    ]


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
async def document_symbol(ls: QapServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
    uri = params.text_document.uri
    doc = await ls.current(uri)
    if doc is None or doc.tree is None:
        doc = ls.parsed.get(uri)  # while the text does not parse: the outline of the last text that did
    if doc is None or doc.tree is None:
        return []
    return [_outline(s) for s in symbols.outline(doc.tree, doc.text)]


def _outline(s: symbols.OutlineSymbol) -> lsp.DocumentSymbol:
    return lsp.DocumentSymbol(
        name=s.name,
        kind=_SYMBOL_KINDS[s.kind],
        detail=s.detail or None,
        range=_range(s.range),
        selection_range=_range(s.selection),
        children=[_outline(c) for c in s.children] or None,
    )


def serve(log_file: str | None = None) -> int:
    """Run the server over stdin/stdout until the client says exit."""
    if log_file:
        logging.basicConfig(filename=log_file, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    else:
        logging.basicConfig(level=logging.WARNING)  # stderr; stdout carries the protocol
    warm = analysis.analyse("model m { input 64; dense out 10 softmax }\ntrain { data sklearn digits }", None)
    warm.figures(warm.loaded)  # the parser, and every lazy import, before the first check (a check may be interrupted)
    return rpc.serve_stdio(server, log_to_stderr=not log_file)
