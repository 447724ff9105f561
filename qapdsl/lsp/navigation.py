"""Names and what they refer to: models and layers, across imports and derived models.

`Resolver` answers, for one document, which declaration a name means the way
the loader would (a model of the document wins over an imported one, a derived
model inherits its base's layers, `layer`/`remove` name a layer of the base).
A layer or model is identified by its *root* declaration: the base model's
`dense fc1` for an override `dense fc1 ...` or `layer fc1 { ... }` in a derived
model, so references and renames follow a name through every derived model and
every file that imports it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from qapdsl import ast, ir, schema, syntax
from qapdsl.loader import resolve_path
from qapdsl.lsp.analysis import Document, Range, import_target, span_range
from qapdsl.lsp.cursor import LAYER_REF_KEYS, SELECTOR_KEYS, Hit, split_lines
from qapdsl.source import Span


@dataclass(frozen=True)
class Located:
    path: Path | None  # None: the document itself, unsaved
    span: Span
    home: str | None = None  # with no path: the URI of that unsaved document (two are two places)

    def key(self) -> tuple[str, int, int]:
        """Identity across documents (their spans name files differently)."""
        where = str(resolve_path(self.path)) if self.path is not None else (self.home or "<spec>")
        return where, self.span.line, self.span.column


@dataclass(frozen=True)
class Layer:
    name: str
    stmt: ast.Stmt  # the effective declaration (a derived model's override, else the base's)
    target: Located  # where go to definition goes: that declaration's name
    root: Located  # the first declaration of the name along the `from` chain: the layer's identity


@dataclass(frozen=True)
class Symbol:
    kind: str  # "model" | "layer"
    name: str
    root: Located
    target: Located


def first_word(stmt: ast.Stmt) -> str | None:
    if stmt.groups and stmt.groups[0] and isinstance(stmt.groups[0][0], ast.Word):
        return stmt.groups[0][0].name
    return None


def file_models(tree: ast.File) -> list[ast.ModelDecl]:
    return [i for i in tree.items if isinstance(i, ast.ModelDecl)]


def _is_glob(name: str) -> bool:
    return any(c in name for c in "*?")


class Resolver:
    """Names in scope of one document (cached: build one per document version)."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._layers: dict[str | None, dict[str, Layer]] = {}
        self._models: dict[str, tuple[Path | None, ast.ModelDecl] | None] = {}

    def model(self, name: str) -> tuple[Path | None, ast.ModelDecl] | None:
        """The declaration `model NAME` the loader would use: the document's own, else the last import's."""
        if name not in self._models:
            self._models[name] = self._find_model(name)
        return self._models[name]

    def _find_model(self, name: str) -> tuple[Path | None, ast.ModelDecl] | None:
        files = self.doc.loaded.files
        for tree in [files[0], *reversed(files[1:])] if files else []:
            for decl in reversed(file_models(tree)):
                if decl.name.name == name:
                    return self.doc.file_path(tree.path), decl
        return None

    def _at(self, path: Path | None, span: Span) -> Located:
        return Located(path, span, self.doc.uri if path is None else None)

    def model_names(self) -> list[str]:
        names: list[str] = []
        for tree in self.doc.loaded.files:
            names += [m.name.name for m in file_models(tree) if m.name.name not in names]
        return names

    def built_model(self) -> str | None:
        """The model `qapc build` builds: the last one of the document, else the last imported."""
        files = self.doc.loaded.files
        for tree in [files[0], *reversed(files[1:])] if files else []:
            models = file_models(tree)
            if models:
                return models[-1].name.name
        return None

    def chain(self, name: str) -> list[tuple[Path | None, ast.ModelDecl]]:
        """The model and its bases, the model first (stops at a cycle or an unknown base)."""
        out: list[tuple[Path | None, ast.ModelDecl]] = []
        seen: set[str] = set()
        found = self.model(name)
        while found is not None and found[1].name.name not in seen:
            seen.add(found[1].name.name)
            out.append(found)
            base = found[1].base
            found = self.model(base.name) if base is not None else None
        return out

    def layers(self, model: str | None) -> dict[str, Layer]:
        """The layers of a model (None: the built one) in order, with `from`, overrides and `remove` applied."""
        if model is None:
            model = self.built_model()
        if model is None:
            return {}
        if model not in self._layers:
            table: dict[str, Layer] = {}
            roots: dict[str, Located] = {}
            for path, decl in reversed(self.chain(model)):
                for s in decl.body:
                    name = first_word(s)
                    if name is None:
                        continue
                    if s.key.name in schema.LAYER_KINDS:
                        here = self._at(path, s.groups[0][0].span)
                        root = roots.setdefault(name, here)
                        table[name] = Layer(name, s, here, root)
                    elif s.key.name == "remove":
                        table.pop(name, None)
            self._layers[model] = table
        return self._layers[model]

    def resolve(self, hit: Hit) -> Symbol | None:
        """The model or layer a word names, if it names one."""
        if hit.role in ("model", "base"):
            found = self.model(hit.name)
            if found is None:
                return None
            here = self._at(found[0], found[1].name.span)
            return Symbol("model", hit.name, here, here)
        name = layer_name(hit)
        if name is None or _is_glob(name):
            return None
        if hit.role == "layer" and hit.model is not None:
            scope: str | None = hit.model
        elif hit.role == "layer-ref" and hit.key in LAYER_REF_KEYS and hit.model is not None:
            found = self.model(hit.model)
            base = found[1].base if found is not None else None
            if base is None:
                return None
            scope = base.name
        else:
            scope = None  # selectors and paths name layers of the model that is built
        layer = self.layers(scope).get(name)
        if layer is None:
            return None
        return Symbol("layer", name, layer.root, layer.target)


def layer_name(hit: Hit) -> str | None:
    """The layer a hit names: the word itself, or the head of a path (`fc1.units`)."""
    if hit.role in ("layer", "layer-ref"):
        return hit.name
    if hit.role == "path":
        head = hit.name.split(".")[0]
        return head if "." in hit.name and head not in ("quant", "prune", "train", "target") else None
    return None


def name_span(hit: Hit) -> Span:
    """The span of the name itself (the head of a path)."""
    if hit.role != "path":
        return hit.span
    head = hit.name.split(".")[0]
    return hit.span.model_copy(update={"end_line": hit.span.line, "end_column": hit.span.column + len(head)})


# -- every name of a file ------------------------------------------------------------------------------


def occurrences(tree: ast.File) -> Iterator[Hit]:
    """Every model and layer name written in a file, as the cursor would see it."""
    for item in tree.items:
        if isinstance(item, ast.ModelDecl):
            model = item.name.name
            yield Hit("model", model, item.name.span)
            if item.base is not None:
                yield Hit("base", item.base.name, item.base.span, words=("model", model, "from"))
            for s in item.body:
                name = s.groups[0][0] if s.groups and s.groups[0] else None
                if isinstance(name, ast.Word) and (s.key.name in schema.LAYER_KINDS or s.key.name in LAYER_REF_KEYS):
                    role = "layer" if s.key.name in schema.LAYER_KINDS else "layer-ref"
                    yield Hit(role, name.name, name.span, model=model, key=s.key.name, words=(s.key.name,))
        elif isinstance(item, ast.SectionDecl):
            section = item.kind.name
            for s in item.body:
                if section == "prune" and s.key.name in SELECTOR_KEYS:
                    for group in s.groups:
                        for v in group:
                            if isinstance(v, ast.Word):
                                yield Hit("layer-ref", v.name, v.span, key=s.key.name, section=section)
                elif section in ("sweep", "search") and s.member is not None:
                    yield Hit("path", s.key.name, s.key.span, section=section)
                elif section == "search" and s.key.name == "log":
                    for group in s.groups:
                        for v in group:
                            if isinstance(v, ast.Word):
                                yield Hit("path", v.name, v.span, key="log", section=section)


# -- definition and references ---------------------------------------------------------------------------


def definition(doc: Document, hit: Hit) -> Located | None:
    """Where the word under the cursor is declared: an imported file, a base model, a layer."""
    if hit.role == "import":
        tree = doc.tree
        target = import_target(doc, tree, hit.name) if tree is not None else resolve_path(doc.base_dir / hit.name)
        if not target.is_file():
            return None
        return Located(target, Span(file=str(target), line=1, column=1, end_line=1, end_column=1))
    symbol = Resolver(doc).resolve(hit)
    return symbol.target if symbol is not None else None


@dataclass(frozen=True)
class Reference:
    path: Path | None
    span: Span
    declaration: bool
    doc: Path | str = "<spec>"  # the key of the document it is in (`Document.key`)


def _parsed(docs: Iterable[Document]) -> Iterator[tuple[Document, ast.File, Resolver]]:
    """The documents that parse, with their trees and resolvers."""
    for doc in docs:
        if doc.tree is not None:
            yield doc, doc.tree, Resolver(doc)


def references(docs: Iterable[Document], symbol: Symbol) -> list[Reference]:
    """Every place in `docs` (each analysed as its own root) that names the symbol; each place once."""
    out: dict[tuple[str, int, int], Reference] = {}
    want = symbol.root.key()
    for doc, tree, resolver in _parsed(docs):
        for hit in occurrences(tree):
            if hit.name.split(".")[0] != symbol.name:
                continue
            found = resolver.resolve(hit)
            if found is None or found.kind != symbol.kind or found.root.key() != want:
                continue
            ref = Reference(doc.path, name_span(hit), hit.role in ("model", "layer"), doc.key)
            out.setdefault(Located(ref.path, ref.span, doc.uri).key(), ref)
    return list(out.values())


# -- rename ----------------------------------------------------------------------------------------------------

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class RenameError(Exception):
    """A rename that would break the spec or change its meaning."""


def check_new_name(symbol: Symbol, new: str, docs: list[Document]) -> None:
    """Raise RenameError when `new` is not a valid name or already names something the symbol would collide with."""
    if not NAME.fullmatch(new):
        raise RenameError(f"'{new}' is not a valid {symbol.kind} name: letters, digits and _, starting with a letter or _")
    if new in syntax.keywords():
        raise RenameError(f"'{new}' is a keyword of the language")
    from qapdsl import names

    problem = names.model_name_problem(new) if symbol.kind == "model" else names.layer_name_problem(new)
    if problem is not None:  # what `qapc check` would refuse (E310)
        raise RenameError(f"'{new}' cannot be a {symbol.kind} name: {problem}")
    if new == symbol.name:
        return
    want = symbol.root.key()
    for doc, tree, resolver in _parsed(docs):
        if symbol.kind == "model":
            if new in resolver.model_names():
                raise RenameError(f"a model named '{new}' already exists ({doc.path.name if doc.path else 'this file'})")
            continue
        for model in file_models(tree):
            table = resolver.layers(model.name.name)
            if not any(layer.root.key() == want for layer in table.values()):
                continue
            declared = {first_word(s) for s in model.body if s.key.name in schema.LAYER_KINDS}
            if new in table or new in declared:
                raise RenameError(f"model '{model.name.name}' already has a layer named '{new}'")


def check_buildable(symbol: Symbol, new: str, docs: list[Document]) -> None:
    """Raise RenameError when `qapc check` would refuse the renamed layer: a name hls4ml reserves (`input`)
    or one qapc generates from another layer's (`out_softmax` beside a softmax `out`), E309.

    The planner's own check decides (`checks.spec.check_buildable` on each clean spec that builds the layer,
    with the layer renamed in its IR), so this knows every generated name the build knows; a spec
    that does not check clean is held only to the names hls4ml reserves (`plan.RESERVED`)."""
    if symbol.kind != "layer" or new == symbol.name:
        return
    from qapdsl import plan
    from qapdsl.checks.spec import check_buildable as buildable

    if new in plan.RESERVED:
        raise RenameError(f"'{new}' cannot be a layer name: hls4ml reserves it (qapc check would say E309)")
    want = symbol.root.key()
    for doc, _tree, resolver in _parsed(docs):
        spec = doc.loaded.spec
        layer = resolver.layers(None).get(symbol.name)
        if spec is None or not doc.loaded.ok or layer is None or layer.root.key() != want:
            continue
        errors = [d for d in buildable(renamed_layer(spec, symbol.name, new)) if d.severity == "error"]
        if errors:
            where = doc.path.name if doc.path is not None else "this file"
            raise RenameError(f"renaming '{symbol.name}' to '{new}' would make `qapc check {where}` fail: {errors[0].code} {errors[0].message}")


def renamed_layer(spec: ir.Spec, old: str, new: str) -> ir.Spec:
    """The spec with a layer renamed where the build plan reads layer names (the model's layers, the pruned ones)."""
    model = spec.model
    layers = tuple(layer.model_copy(update={"name": new}) if layer.name == old else layer for layer in model.layers)
    update: dict[str, object] = {"model": model.model_copy(update={"layers": layers})}
    if spec.prune is not None:
        update["prune"] = spec.prune.model_copy(update={"layers": tuple(new if n == old else n for n in spec.prune.layers)})
    return spec.model_copy(update=update)


def glob_warnings(docs: Iterable[Document], old: str, new: str) -> list[str]:
    """Selectors and paths with globs that match the old name and would not match the new one."""
    out: list[str] = []
    for doc, tree, _resolver in _parsed(docs):
        for hit in occurrences(tree):
            pattern = hit.name.split(".")[0] if hit.role == "path" else hit.name
            if _is_glob(pattern) and fnmatch.fnmatchcase(old, pattern) and not fnmatch.fnmatchcase(new, pattern):
                where = doc.path.name if doc.path is not None else "this file"
                out.append(f"{where}:{hit.span.line}: '{hit.name}' matches '{old}' but not '{new}'")
    return out


def edit_ranges(docs: dict[Path | str, Document], refs: list[Reference]) -> dict[Path | str, list[Range]]:
    """The LSP ranges of references, by document (`Document.key`), in the text each document holds."""
    out: dict[Path | str, list[Range]] = {}
    for ref in refs:
        doc = docs.get(ref.doc)
        if doc is None:
            continue
        out.setdefault(ref.doc, []).append(span_range(split_lines(doc.text), ref.span))
    return out
