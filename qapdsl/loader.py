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

from qapdsl import ast, ir, schema
from qapdsl.diagnostics import Diagnostic, SpecError, did_you_mean
from qapdsl.lower.model import lower_model
from qapdsl.lower.prune import lower_prune
from qapdsl.lower.study import lower_search, lower_sweep
from qapdsl.lower.target import lower_target
from qapdsl.lower.train import lower_train
from qapdsl.lower.values import Ctx
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


MAX_SPEC_BYTES = 16 * 1024 * 1024  # a spec (or an import) larger than this is surely not one


def read_spec(path: Path) -> bytes:
    """A spec file's bytes; OSError (with a message a person can act on) for anything that is not
    a regular file of a sensible size: a FIFO or a device would block the read or never end it,
    a loop of symbolic links cannot be followed."""
    try:
        st = path.stat()
    except RuntimeError:
        raise OSError(0, "a loop of symbolic links") from None
    import stat

    if not stat.S_ISREG(st.st_mode):
        raise OSError(0, "not a regular file")
    if st.st_size > MAX_SPEC_BYTES:
        raise OSError(0, f"{st.st_size:,} bytes: a spec has at most {MAX_SPEC_BYTES:,}")
    with open(path, "rb") as f:
        data = f.read(MAX_SPEC_BYTES + 1)
    if len(data) > MAX_SPEC_BYTES:
        raise OSError(0, f"more than {MAX_SPEC_BYTES:,} bytes")
    return data


def resolve_path(path: Path) -> Path:
    """The path with its symbolic links resolved; as it is (made absolute) where they loop and cannot be
    (Python < 3.13 raises RuntimeError): an editor's buffer, a workspace file, may be named so."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return path.absolute()


def load_file(path: str | os.PathLike[str], model_name: str | None = None, dialect: str | None = None, baselines: bool = True) -> Loaded:
    """Load a spec from disk. Raises UsageError when the file itself cannot be read.

    `baselines=False` loads no `baseline "SPEC"` of a sweep or search (a baseline's own)."""
    p = Path(path)
    try:
        data = read_spec(p)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    return load_bytes(data, str(path), base_dir=p.parent, model_name=model_name, dialect=dialect, baselines=baselines)


def load_text(text: str, path: str = "<spec>", base_dir: Path | None = None, model_name: str | None = None) -> Loaded:
    return load_bytes(text.encode("utf-8"), path, base_dir=base_dir or Path.cwd(), model_name=model_name)


def load_bytes(data: bytes, display: str, base_dir: Path, model_name: str | None = None, dialect: str | None = None, baselines: bool = True) -> Loaded:
    # Loading allocates many small acyclic objects (tokens, AST and IR nodes); the cyclic garbage
    # collector would walk all of them again and again, which made big specs grow faster than linearly.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_bytes(data, display, base_dir, model_name, dialect, baselines)
    finally:
        if enabled:
            gc.enable()


def _load_bytes(data: bytes, display: str, base_dir: Path, model_name: str | None = None, dialect: str | None = None, baselines: bool = True) -> Loaded:
    st = _State()
    key = str(resolve_path(base_dir / Path(display).name)) if display != "<spec>" else "<spec>"
    _read(st, data, display, key, base_dir)
    main = st.files.get(key)
    if main is None:
        return Loaded(None, st.diagnostics, st.sources)
    files = [main] + [st.files[k] for k in st.order if k != key]
    if any(d.severity == "error" for d in st.diagnostics):
        return Loaded(None, st.diagnostics, st.sources, files)
    ctx = Ctx(st.diagnostics)
    spec = _lower(ctx, st, key, model_name)
    if spec is not None and dialect is not None:  # the command line's --dialect: checked as if the spec said it
        spec = spec.model_copy(update={"train": spec.train.model_copy(update={"dialect": dialect})})
    if spec is not None and baselines:
        spec = _with_baselines(ctx, st, spec)
    if spec is not None:  # lowering fell back to defaults where it failed: the checks still run
        from qapdsl.checks.spec import check, check_sound

        ctx.diagnostics.extend(check(spec, stand_ins=frozenset(ctx.stand_ins)))
        if not any(d.severity == "error" for d in ctx.diagnostics):  # the generator's own limits, once the spec itself is sound
            ctx.diagnostics.extend(check_sound(spec))
    ok = spec is not None and not any(d.severity == "error" for d in ctx.diagnostics)
    ctx.diagnostics.sort(key=lambda d: (d.span.file if d.span else "", d.span.line if d.span else 0, d.span.column if d.span else 0))
    return Loaded(spec if ok else None, ctx.diagnostics, st.sources, files)


def _parse_one(st: _State, data: bytes, display: str, key: str) -> ast.File | None:
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
        return None
    st.files[key] = tree
    return tree


@dataclass
class _Frame:
    """A file whose imports are being read (the explicit stack of `_read`)."""

    key: str
    display: str
    base_dir: Path
    imports: list[ast.ImportDecl]
    next: int = 0


def _read(st: _State, data: bytes, display: str, key: str, base_dir: Path) -> None:
    """Read a file and, depth first, everything it imports; `st.order` lists imports before importers.

    An explicit stack instead of recursion: a chain of a thousand imports is read like any other.
    """
    tree = _parse_one(st, data, display, key)
    if tree is None:
        return
    stack = [_Frame(key, display, base_dir, [i for i in tree.items if isinstance(i, ast.ImportDecl)])]
    while stack:
        frame = stack[-1]
        if frame.next >= len(frame.imports):
            st.order.append(frame.key)
            stack.pop()
            continue
        item = frame.imports[frame.next]
        frame.next += 1
        rel = item.path.value
        try:
            child_path = (frame.base_dir / rel).resolve()
        except (RuntimeError, OSError):
            st.diagnostics.append(Diagnostic("E005", f"cannot read imported file '{rel}': a loop of symbolic links", item.path.span, None))
            continue
        child_key = str(child_path)
        child_display = _display(child_path) if frame.display != "<spec>" else rel
        if not rel.endswith(".qap"):
            st.diagnostics.append(Diagnostic("E005", f"cannot import '{rel}': not a .qap file", item.path.span, 'import another spec, e.g. import "jet.qap"'))
            continue
        path_keys = [f.key for f in stack]
        if child_key in path_keys:
            chain = " → ".join([st.display[k] for k in path_keys if k in st.display] + [child_display])
            st.diagnostics.append(Diagnostic("E006", f"import cycle: {chain}", item.path.span, "remove one of the imports"))
            continue
        if child_key in st.files or child_key in st.digests:
            continue  # already loaded (diamond imports)
        try:
            child_data = read_spec(child_path)
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
        child = _parse_one(st, child_data, child_display, child_key)
        if child is not None:
            stack.append(_Frame(child_key, child_display, child_path.parent, [i for i in child.items if isinstance(i, ast.ImportDecl)]))


def _display(path: Path) -> str:
    """How an imported file is named in diagnostics, spans and manifests: from where it really is (its
    resolved path: `lnk/../base.qap` through a link names the file actually read), relative to the
    working folder when it lies below it."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _with_baselines(ctx: Ctx, st: _State, spec: ir.Spec) -> ir.Spec:
    """Load the `baseline "SPEC"` of the sweep and search blocks (relative to the file that names it) into the IR.

    A baseline is a spec of its own (its imports and sections, its last model), loaded
    without its sweep and search blocks; its errors are reported as they are, and
    E807 at the `baseline` statement when it cannot be used.
    """
    keys = {d: k for k, d in st.display.items()}
    update: dict[str, ir.Sweep | ir.Search] = {}
    for name in ("sweep", "search"):
        block: ir.Sweep | ir.Search | None = getattr(spec, name)
        if block is None or block.baseline is None:
            continue
        from qapdsl import objectives

        b = block.baseline
        where = b.span.file if b.span else "<spec>"
        folder = Path(keys[where]).parent if where in keys and keys[where] != "<spec>" else Path.cwd()
        display = os.path.normpath(os.path.join(os.path.dirname(where), b.path)) if where != "<spec>" else b.path
        path = (folder / b.path).resolve()
        if not b.path.endswith(".qap") or not path.is_file():
            why = "not a .qap file" if not b.path.endswith(".qap") else "no such file"
            ctx.error("E807", f"cannot read baseline spec '{b.path}': {why}", b.span, f"looked for {display} (relative to the spec that names it)")
            continue
        try:
            loaded = load_bytes(read_spec(path), display, base_dir=path.parent, baselines=False)
        except OSError as e:
            ctx.error("E807", f"cannot read baseline spec '{b.path}': {e.strerror or e}", b.span, None)
            continue
        st.sources.update({k: v for k, v in loaded.sources.items() if k not in st.sources})
        known = {(d.code, d.message, d.span) for d in ctx.diagnostics}  # its errors (its warnings are `qapc check`'s of that file)
        ctx.diagnostics.extend(d for d in loaded.diagnostics if d.severity == "error" and (d.code, d.message, d.span) not in known)
        if loaded.spec is None:
            first = next((d for d in loaded.diagnostics if d.severity == "error"), None)
            ctx.error("E807", f"baseline spec '{b.path}' has errors", b.span, f"{first.span}: {first.message}" if first and first.span else None)
            continue
        base = loaded.spec.model_copy(update={"sweep": None, "search": None})
        for d in objectives.check_baseline(spec, base, b):
            ctx.diagnostics.append(d)
        update[name] = block.model_copy(update={"baseline": b.model_copy(update={"spec": base})})
    return spec.model_copy(update=update) if update else spec


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


def resolve_model_body(ctx: Ctx, models: dict[str, tuple[ast.ModelDecl, str]], decl: ast.ModelDecl) -> list[ast.Stmt]:
    """The statements of a model with its `from` chain applied (iteratively: a chain of any length)."""
    chain = [decl]  # decl, its base, the base's base, ...
    names = {decl.name.name}
    while chain[-1].base is not None:
        here = chain[-1]
        assert here.base is not None
        base = here.base.name
        if base in names:
            ctx.error("E006", f"model '{decl.name.name}' derives from itself through '{base}'", here.base.span, None)
            return list(decl.body) if len(chain) == 1 else [s for s in decl.body if s.key.name not in ("layer", "remove")]
        if base not in models:
            ctx.error("E103", f"unknown base model '{base}'", here.base.span, did_you_mean(base, models) or "import the file that declares it")
            if len(chain) == 1:
                return [s for s in decl.body if s.key.name not in ("layer", "remove")]
            chain[-1] = ast.ModelDecl(name=here.name, base=None, body=tuple(s for s in here.body if s.key.name not in ("layer", "remove")), span=here.span)
            break
        names.add(base)
        chain.append(models[base][0])
    body = _Body(chain[-1].body)
    for model in reversed(chain[:-1]):
        body.derive(ctx, model.body)
    return body.stmts


def _layer_name(stmt: ast.Stmt) -> str | None:
    if stmt.key.name in schema.LAYER_KINDS or stmt.key.name in ("layer", "remove"):
        return _first_word(stmt)
    return None


def _override(base: Sequence[ast.Stmt], over: Sequence[ast.Stmt]) -> list[ast.Stmt]:
    """The settings of a `layer NAME { ... }` block applied to the base layer's: each replaces the one with its key."""
    out = list(base)
    for s in over:
        idx = next((i for i, b in enumerate(out) if b.key.name == s.key.name), None)
        if idx is None:
            out.append(s)
        else:
            out[idx] = s
    return out


def _repeats(ctx: Ctx, over: Sequence[ast.Stmt]) -> set[int]:
    """Statements a derived model's own body gives twice, reported as in any model body; their indices.

    A derived body may replace each thing of its base once: `input`, a layer (by name), a quantizer
    role, a setting in `layer NAME { ... }`. Saying one of them twice in the same body is an error
    (E104, E301), whether the base model is in the same file or imported: it used to be a silent
    "last one wins".
    """
    skip: set[int] = set()
    seen: dict[tuple[str, str], ast.Stmt] = {}
    roles: dict[str, ast.Word] = {}
    for i, s in enumerate(over):
        key = s.key.name
        if key == "quant":
            for g in s.groups:
                if g and isinstance(g[0], ast.Word):
                    if g[0].name in roles:
                        ctx.error("E104", f"`{g[0].name}` given twice", g[0].span, f"first given at line {roles[g[0].name].span.line}")
                    roles[g[0].name] = g[0]
            continue
        name = _layer_name(s)
        ident = ("input", "") if key == "input" else ("layer", name) if name is not None and key in (*schema.LAYER_KINDS, "layer", "remove") else None
        if ident is None:
            continue
        if ident in seen:
            first = seen[ident]
            if key == "input":
                ctx.error("E104", "`input` given twice in the derived model", s.key.span, f"first given at line {first.key.span.line}")
            else:
                where = s.groups[0][0].span if s.groups and s.groups[0] else s.key.span
                ctx.error(
                    "E301" if key in schema.LAYER_KINDS and first.key.name in schema.LAYER_KINDS else "E104",
                    f"layer '{name}' is declared or changed twice in the derived model",
                    where,
                    f"first at line {first.key.span.line}; say everything about it in one statement",
                )
            skip.add(i)
            continue
        seen[ident] = s
        if s.block is not None and key == "layer":
            settings: dict[str, ast.Stmt] = {}
            for b in s.block:
                if b.key.name in settings:
                    ctx.error("E104", f"`{b.key.name}` given twice in layer '{name}'", b.key.span, f"first given at line {settings[b.key.name].key.span.line}")
                settings[b.key.name] = b
    return skip


class _Body:
    """A model's statements while a derivation chain is applied to them, with an index of where `input`,
    `quant` and each layer (by name) stand: each derived body costs time in its own length, so a chain
    of derivations costs time in the chain's total length."""

    def __init__(self, stmts: Sequence[ast.Stmt]) -> None:
        self.stmts = list(stmts)
        self.where: dict[str, int] = {}
        self.reindex()

    def reindex(self) -> None:
        self.where.clear()
        for k, b in enumerate(self.stmts):
            if b.key.name in ("input", "quant"):
                self.where.setdefault("#" + b.key.name, k)
            elif b.key.name in schema.LAYER_KINDS and (n := _layer_name(b)) is not None:
                self.where.setdefault(n, k)

    def derive(self, ctx: Ctx, over: Sequence[ast.Stmt]) -> None:
        out, where = self.stmts, self.where
        skip = _repeats(ctx, over)
        for i, s in enumerate(over):
            if i in skip:
                continue
            key = s.key.name
            if key in ("input", "quant"):
                idx = where.get("#" + key)
                if idx is None:
                    out.insert(0, s)
                    self.reindex()
                elif key == "input":
                    out[idx] = s
                else:
                    groups = {_group_role(g): g for g in out[idx].groups}
                    for g in s.groups:
                        groups[_group_role(g)] = g
                    out[idx] = s.replace(groups=tuple(groups.values()))
            elif key in ("layer", "remove"):
                name = _first_word(s)
                idx = where.get(name) if name is not None else None
                if name is None or idx is None:
                    names = [n for n in where if not n.startswith("#")]
                    at = s.groups[0][0].span if s.groups and s.groups[0] else s.key.span
                    ctx.error("E308", f"the base model has no layer '{name}'" if name else f"`{key}` needs a layer name", at, did_you_mean(name or "", names))
                    continue
                if key == "remove":
                    del out[idx]
                    self.reindex()
                    continue
                if s.block is None:
                    ctx.error("E202", f"`layer {name}` needs a block of settings", s.span, f"e.g. layer {name} {{ reuse 4 }}")
                    continue
                b = out[idx]
                out[idx] = b.replace(block=tuple(_override(b.block or (), s.block)))
            elif key in schema.LAYER_KINDS and (name := _layer_name(s)) is not None:
                idx = where.get(name)
                if idx is None:
                    where[name] = len(out)
                    out.append(s)
                else:
                    out[idx] = s
            else:
                out.append(s)


def derive(ctx: Ctx, base: Sequence[ast.Stmt], over: Sequence[ast.Stmt]) -> list[ast.Stmt]:
    """The statements of `base` with a derived model's body applied."""
    body = _Body(base)
    body.derive(ctx, over)
    return body.stmts


def _group_role(g: tuple[ast.Value, ...]) -> str:
    return g[0].name if g and isinstance(g[0], ast.Word) else ast.value_text(g[0]) if g else ""


# -- lowering --------------------------------------------------------------------


def _lower(ctx: Ctx, st: _State, main_key: str, model_name: str | None) -> ir.Spec | None:
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
    model = lower_model(ctx, decl.name, decl.base.name if decl.base else None, body, decl.span)
    if unresolved:
        # without its base the model lacks `input` and layers: saying so again would only repeat E103
        ctx.diagnostics[before:] = [d for d in ctx.diagnostics[before:] if not (d.code in ("E202", "E305") and d.span == decl.name.span)]

    train_sec = sections.get("train")
    if train_sec is None:
        ctx.error("E202", "the spec has no `train` section", decl.name.span, 'add `train { data sklearn digits }` (or data file "...")')
        return None
    train = lower_train(ctx, train_sec[1], train_sec[0].span)
    target = (
        lower_target(ctx, sections["target"][0].arg, sections["target"][1], sections["target"][0].span)
        if "target" in sections
        else ir.Target.model_construct()
    )
    prune = lower_prune(ctx, sections["prune"][1], sections["prune"][0].span, model) if "prune" in sections else None
    sweep = lower_sweep(ctx, sections["sweep"][1], sections["sweep"][0].span) if "sweep" in sections else None
    search = lower_search(ctx, sections["search"][1], sections["search"][0].span) if "search" in sections else None
    refs = [ir.SourceRef.model_construct(path=st.display[main_key], sha256=st.digests[main_key])]
    refs += [ir.SourceRef.model_construct(path=st.display[k], sha256=st.digests[k]) for k in st.order if k != main_key]
    return ir.Spec.model_construct(model=model, prune=prune, train=train, target=target, sweep=sweep, search=search, sources=tuple(refs))
