"""Loading a spec: read, parse, follow imports, resolve derived models, merge sections.

Imports and derivation are resolved on the syntax tree, before lowering, so
that every statement keeps the span of the file it was written in:

- `import "base.qap"` makes the imported file's models available and its
  sections the defaults: a section in the importing file overrides them key
  by key (a nested block, such as `schedule iterative { ... }` of the same
  kind, is merged key by key too).
- `model b from a { ... }` starts from `a`'s statements: `input` and a layer
  with an existing name replace in place, `quant` roles override one by one,
  `layer NAME { ... }` changes settings of a layer, `remove NAME` drops one,
  and a layer with a new name is appended.

The model that is built is the last one declared in the main file (or, when
it declares none, the last one it imports).
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qapdsl import ast, ir, lower, schema
from qapdsl.diagnostics import Diagnostic, SpecError, did_you_mean
from qapdsl.source import SourceFile, Span
from qapdsl.syntax import decode, parse


class UsageError(Exception):
    """The command cannot start (missing file, bad flag): exit code 2."""


@dataclass
class Loaded:
    """Everything a command needs after loading: the IR (when clean), diagnostics and sources."""

    spec: ir.Spec | None
    diagnostics: list[Diagnostic]
    sources: dict[str, SourceFile]
    files: list[ast.File] = field(default_factory=list)  # main file first

    @property
    def ok(self) -> bool:
        return self.spec is not None and not any(d.severity == "error" for d in self.diagnostics)


@dataclass
class _State:
    sources: dict[str, SourceFile] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    files: dict[str, ast.File] = field(default_factory=dict)  # by resolved path
    order: list[str] = field(default_factory=list)  # resolved paths, imports before importers
    display: dict[str, str] = field(default_factory=dict)  # resolved → shown path
    diagnostics: list[Diagnostic] = field(default_factory=list)


def load_file(path: str | os.PathLike[str], model_name: str | None = None) -> Loaded:
    """Load a spec from disk. Raises UsageError when the file itself cannot be read."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    return load_bytes(data, str(path), base_dir=p.parent, model_name=model_name)


def load_text(text: str, path: str = "<spec>", base_dir: Path | None = None, model_name: str | None = None) -> Loaded:
    return load_bytes(text.encode("utf-8"), path, base_dir=base_dir or Path.cwd(), model_name=model_name)


def load_bytes(data: bytes, display: str, base_dir: Path, model_name: str | None = None) -> Loaded:
    # Loading allocates many small acyclic objects (tokens, AST and IR nodes); the cyclic garbage
    # collector would walk all of them again and again, which made big specs grow faster than linearly.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_bytes(data, display, base_dir, model_name)
    finally:
        if enabled:
            gc.enable()


def _load_bytes(data: bytes, display: str, base_dir: Path, model_name: str | None = None) -> Loaded:
    st = _State()
    key = str((base_dir / Path(display).name).resolve()) if display != "<spec>" else "<spec>"
    _read(st, data, display, key, base_dir, stack=[], import_span=None)
    main = st.files.get(key)
    if main is None:
        return Loaded(None, st.diagnostics, st.sources)
    files = [main] + [st.files[k] for k in st.order if k != key]
    if any(d.severity == "error" for d in st.diagnostics):
        return Loaded(None, st.diagnostics, st.sources, files)
    ctx = lower.Ctx(st.diagnostics)
    spec = _lower(ctx, st, key, model_name)
    if spec is not None:  # lowering fell back to defaults where it failed: the checks still run
        from qapdsl import checks

        ctx.diagnostics.extend(checks.check(spec))
        if not ctx.diagnostics:  # the generator's own limits, once the spec itself is sound
            ctx.diagnostics.extend(checks.check_buildable(spec))
    ok = spec is not None and not any(d.severity == "error" for d in ctx.diagnostics)
    ctx.diagnostics.sort(key=lambda d: (d.span.file if d.span else "", d.span.line if d.span else 0, d.span.column if d.span else 0))
    return Loaded(spec if ok else None, ctx.diagnostics, st.sources, files)


def _read(st: _State, data: bytes, display: str, key: str, base_dir: Path, stack: list[str], import_span: Span | None) -> None:
    st.digests[key] = hashlib.sha256(data).hexdigest()
    st.display[key] = display
    try:
        text = decode(data, display)
        st.sources[display] = SourceFile(display, text)
        tree = parse(text, display)
    except SpecError as e:
        if display not in st.sources:
            st.sources[display] = SourceFile(display, data.decode("utf-8", errors="replace"))
        st.diagnostics.extend(e.diagnostics)
        return
    st.files[key] = tree
    for item in tree.items:
        if not isinstance(item, ast.ImportDecl):
            continue
        rel = item.path.value
        target_dir = base_dir
        child_path = (target_dir / rel).resolve()
        child_key = str(child_path)
        child_display = os.path.normpath(os.path.join(os.path.dirname(display), rel)) if display != "<spec>" else rel
        if not rel.endswith(".qap"):
            st.diagnostics.append(Diagnostic("E005", f"cannot import '{rel}': not a .qap file", item.path.span, 'import another spec, e.g. import "jet.qap"'))
            continue
        if child_key in stack + [key]:
            chain = " → ".join([st.display[k] for k in stack + [key] if k in st.display] + [child_display])
            st.diagnostics.append(Diagnostic("E006", f"import cycle: {chain}", item.path.span, "remove one of the imports"))
            continue
        if child_key in st.files or child_key in st.digests:
            continue  # already loaded (diamond imports)
        try:
            if child_path.exists() and not child_path.is_file():  # a FIFO or a device would block the read, or read a stream
                raise OSError(0, "not a regular file")
            child_data = child_path.read_bytes()
        except OSError as e:
            st.diagnostics.append(
                Diagnostic(
                    "E005",
                    f"cannot read imported file '{rel}': {e.strerror or e}",
                    item.path.span,
                    f"looked for {child_display} (import paths are relative to the importing file)",
                )
            )
            continue
        _read(st, child_data, child_display, child_key, child_path.parent, stack + [key], item.span)
    st.order.append(key)


# -- merging -------------------------------------------------------------------


def _first_word(stmt: ast.Stmt) -> str | None:
    if stmt.groups and stmt.groups[0] and isinstance(stmt.groups[0][0], ast.Word):
        return stmt.groups[0][0].name
    return None


def merge_stmts(base: Sequence[ast.Stmt], over: Sequence[ast.Stmt]) -> list[ast.Stmt]:
    """Statements of `over` replace those of `base` with the same key; nested blocks of the same kind merge."""
    out = list(base)
    base_files = {s.key.span.file for s in base}
    for s in over:
        idx = next((i for i, b in enumerate(out) if b.key.name == s.key.name and b.key.span.file != s.key.span.file), None)
        if idx is None or (s.key.span.file in base_files and out[idx].key.span.file == s.key.span.file):
            out.append(s)
            continue
        b = out[idx]
        if s.block is not None and b.block is not None and _first_word(s) == _first_word(b):
            out[idx] = s.replace(block=tuple(merge_stmts(b.block, s.block)))
        else:
            out[idx] = s
    return out


def _sections(st: _State, main_key: str) -> dict[str, tuple[ast.SectionDecl, list[ast.Stmt]]]:
    """Each section kind with its merged statements, imports first, then the main file."""
    merged: dict[str, tuple[ast.SectionDecl, list[ast.Stmt]]] = {}
    for k in st.order:
        seen_here: dict[str, ast.SectionDecl] = {}
        for item in st.files[k].items:
            if not isinstance(item, ast.SectionDecl):
                continue
            name = item.kind.name
            if name in seen_here:
                st.diagnostics.append(
                    Diagnostic("E102", f"section `{name}` given twice", item.kind.span, f"merge it with the one at line {seen_here[name].kind.span.line}")
                )
                continue
            seen_here[name] = item
            if name in merged:
                _, stmts = merged[name]
                merged[name] = (item, merge_stmts(stmts, item.body))
            else:
                merged[name] = (item, list(item.body))
    return merged


def _models(st: _State) -> dict[str, tuple[ast.ModelDecl, str]]:
    models: dict[str, tuple[ast.ModelDecl, str]] = {}
    for k in st.order:
        for item in st.files[k].items:
            if isinstance(item, ast.ModelDecl):
                if item.name.name in models and models[item.name.name][1] == k:
                    prev = models[item.name.name][0]
                    st.diagnostics.append(
                        Diagnostic("E301", f"model name '{item.name.name}' is used twice", item.name.span, f"first used at line {prev.name.span.line}")
                    )
                models[item.name.name] = (item, k)
    return models


def resolve_model_body(ctx: lower.Ctx, models: dict[str, tuple[ast.ModelDecl, str]], decl: ast.ModelDecl, chain: tuple[str, ...] = ()) -> list[ast.Stmt]:
    """The statements of a model with its `from` chain applied."""
    if decl.base is None:
        return list(decl.body)
    if decl.base.name in chain + (decl.name.name,):
        ctx.error("E006", f"model '{decl.name.name}' derives from itself through '{decl.base.name}'", decl.base.span, None)
        return list(decl.body)
    if decl.base.name not in models:
        ctx.error("E103", f"unknown base model '{decl.base.name}'", decl.base.span, did_you_mean(decl.base.name, models) or "import the file that declares it")
        return [s for s in decl.body if s.key.name not in ("layer", "remove")]
    body = resolve_model_body(ctx, models, models[decl.base.name][0], chain + (decl.name.name,))
    return derive(ctx, body, decl.body)


def _layer_name(stmt: ast.Stmt) -> str | None:
    if stmt.key.name in schema.LAYER_KINDS or stmt.key.name in ("layer", "remove"):
        return _first_word(stmt)
    return None


def derive(ctx: lower.Ctx, base: list[ast.Stmt], over: Sequence[ast.Stmt]) -> list[ast.Stmt]:
    out = list(base)
    for s in over:
        key = s.key.name
        if key == "input":
            out = [s if b.key.name == "input" else b for b in out] if any(b.key.name == "input" for b in out) else [s, *out]
        elif key == "quant":
            idx = next((i for i, b in enumerate(out) if b.key.name == "quant"), None)
            if idx is None:
                out.insert(0, s)
                continue
            groups = {_group_role(g): g for g in out[idx].groups}
            for g in s.groups:
                groups[_group_role(g)] = g
            out[idx] = s.replace(groups=tuple(groups.values()))
        elif key in ("layer", "remove"):
            name = _first_word(s)
            names = [n for n in (_layer_name(b) for b in out) if n]
            idx = next((i for i, b in enumerate(out) if _layer_name(b) == name and b.key.name in schema.LAYER_KINDS), None)
            if name is None or idx is None:
                where = s.groups[0][0].span if s.groups and s.groups[0] else s.key.span
                ctx.error("E308", f"the base model has no layer '{name}'" if name else f"`{key}` needs a layer name", where, did_you_mean(name or "", names))
                continue
            if key == "remove":
                del out[idx]
                continue
            if s.block is None:
                ctx.error("E202", f"`layer {name}` needs a block of settings", s.span, f"e.g. layer {name} {{ reuse 4 }}")
                continue
            b = out[idx]
            out[idx] = b.replace(block=tuple(merge_stmts(b.block or (), s.block)))
        elif key in schema.LAYER_KINDS and _layer_name(s) is not None:
            idx = next((i for i, b in enumerate(out) if _layer_name(b) == _layer_name(s) and b.key.name in schema.LAYER_KINDS), None)
            if idx is None:
                out.append(s)
            else:
                out[idx] = s
        else:
            out.append(s)
    return out


def _group_role(g: tuple[ast.Value, ...]) -> str:
    return g[0].name if g and isinstance(g[0], ast.Word) else ast.value_text(g[0]) if g else ""


# -- lowering --------------------------------------------------------------------


def _lower(ctx: lower.Ctx, st: _State, main_key: str, model_name: str | None) -> ir.Spec | None:
    models = _models(st)
    sections = _sections(st, main_key)
    main = st.files[main_key]
    local = [i for i in main.items if isinstance(i, ast.ModelDecl)]
    if model_name is not None:
        if model_name not in models:
            ctx.error("E103", f"no model named '{model_name}'", None, did_you_mean(model_name, models) or f"models: {', '.join(models) or 'none'}")
            return None
        decl = models[model_name][0]
    elif local:
        decl = local[-1]
    elif models:
        decl = list(models.values())[-1][0]
    else:
        span = Span.model_construct(file=st.display[main_key], line=1, column=1, end_line=1, end_column=2)
        ctx.error("E101", "the spec declares no model", span, "add `model NAME { input N; dense out K softmax }` or import one")
        return None
    before = len(ctx.diagnostics)
    body = resolve_model_body(ctx, models, decl)
    unresolved = any(d.code in ("E103", "E006") for d in ctx.diagnostics[before:])
    model = lower.lower_model(ctx, decl.name, decl.base.name if decl.base else None, body, decl.span)
    if unresolved:
        # without its base the model lacks `input` and layers: saying so again would only repeat E103
        ctx.diagnostics[before:] = [d for d in ctx.diagnostics[before:] if not (d.code in ("E202", "E305") and d.span == decl.name.span)]

    train_sec = sections.get("train")
    if train_sec is None:
        ctx.error("E202", "the spec has no `train` section", decl.name.span, 'add `train { data sklearn digits }` (or data file "...")')
        return None
    train = lower.lower_train(ctx, train_sec[1], train_sec[0].span)
    target = (
        lower.lower_target(ctx, sections["target"][0].arg, sections["target"][1], sections["target"][0].span)
        if "target" in sections
        else ir.Target.model_construct()
    )
    prune = lower.lower_prune(ctx, sections["prune"][1], sections["prune"][0].span, model) if "prune" in sections else None
    sweep = lower.lower_sweep(ctx, sections["sweep"][1], sections["sweep"][0].span) if "sweep" in sections else None
    search = lower.lower_search(ctx, sections["search"][1], sections["search"][0].span) if "search" in sections else None
    refs = [ir.SourceRef.model_construct(path=st.display[main_key], sha256=st.digests[main_key])]
    refs += [ir.SourceRef.model_construct(path=st.display[k], sha256=st.digests[k]) for k in st.order if k != main_key]
    return ir.Spec.model_construct(model=model, prune=prune, train=train, target=target, sweep=sweep, search=search, sources=tuple(refs))
