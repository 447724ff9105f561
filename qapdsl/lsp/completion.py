"""Completion: what may come next at the cursor, from the text before it and the names in scope.

The place comes from the tolerant scan of qapdsl.lsp.cursor (the spec rarely
parses while it is typed); the names in scope (models, layers) from the last
analysis that parsed.
"""

from __future__ import annotations

from dataclasses import dataclass

from qapdsl import schema
from qapdsl.lsp.analysis import Document
from qapdsl.lsp.cursor import LAYER_REF_KEYS, SECTION_WORDS, SELECTOR_KEYS, Context, context_at
from qapdsl.lsp.navigation import Resolver
from qapdsl.lsp.vocab import layer_paths, usage_choices


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # "keyword", "key", "value", "layer", "model", "path"
    detail: str = ""


def _items(table: dict[str, str], kind: str) -> list[Item]:
    return [Item(k, kind, v) for k, v in table.items()]


def _words(words: list[str] | tuple[str, ...], kind: str = "value") -> list[Item]:
    return [Item(w, kind) for w in words]


def _values_for(key: str, usage: str) -> list[Item]:
    return _words(usage_choices(usage)) if usage else []


def top_level_keywords() -> list[Item]:
    return [Item("import", "keyword", schema.KEYWORDS["import"]), Item("model", "keyword", schema.KEYWORDS["model"])] + [
        Item(s, "keyword", schema.KEYWORDS[s]) for s in SECTION_WORDS
    ]


def _layer_names(resolver: Resolver | None, model: str | None) -> list[Item]:
    if resolver is None:
        return []
    return [Item(name, "layer", f"{layer.stmt.key.name} layer") for name, layer in resolver.layers(model).items()]


def _paths(resolver: Resolver | None) -> list[Item]:
    from qapdsl import paths

    items = [Item(p, "path", d) for p, d in paths.GLOBAL_PATHS.items()]
    for name, layer in (resolver.layers(None) if resolver is not None else {}).items():
        items += [Item(f"{name}.{p}", "path", d) for p, d in layer_paths(layer.stmt.key.name).items()]
    return items


def _bases(resolver: Resolver | None, defining: str) -> list[Item]:
    """Models a new model may derive from: not itself, nor one that derives from it."""
    if resolver is None:
        return []
    out = []
    for name in resolver.model_names():
        if name != defining and all(decl.name.name != defining for _p, decl in resolver.chain(name)):
            out.append(Item(name, "model"))
    return out


def completions(doc: Document | None, text: str, line: int, column: int) -> list[Item]:
    """Completion items at a 1-based (line, column); `doc` (the last analysis that parsed) gives the names in scope."""
    ctx = context_at(text, line, column)
    if ctx.in_string or ctx.in_comment:
        return []
    resolver = Resolver(doc) if doc is not None else None
    items = _complete(ctx, resolver)
    if ctx.prefix:
        items = [i for i in items if i.label.startswith(ctx.prefix)]
    seen: set[str] = set()
    unique: list[Item] = []
    for i in items:
        if i.label not in seen:
            seen.add(i.label)
            unique.append(i)
    return unique


def _complete(ctx: Context, resolver: Resolver | None) -> list[Item]:
    heads = [h[0] if h else "" for h in ctx.headers]
    words = ctx.words
    if not heads:  # top level
        if not words:
            return top_level_keywords()
        if words[0] == "model" and len(words) == 3 and words[-1] == "from":
            return _bases(resolver, words[1])
        if words[0] == "model" and len(words) == 2:
            return [Item("from", "keyword", schema.KEYWORDS["from"])]
        if words[0] == "target" and len(words) == 1:
            return _words(schema.TARGET_KINDS)
        return []
    if ctx.model is not None:
        if len(heads) == 1:
            return _model_stmt(ctx, resolver)
        return _layer_setting(ctx)
    section = heads[0]
    if section == "prune" and len(heads) >= 2 and heads[1] == "schedule":
        kind = ctx.headers[1][1] if len(ctx.headers[1]) > 1 else None
        table = schema.SCHEDULE_KEYS.get(kind or "", {k: v for t in schema.SCHEDULE_KEYS.values() for k, v in t.items()})
        return _items(table, "key") if not words else _values_for(words[0], table.get(words[0], ""))
    if section == "target" and len(heads) >= 2 and heads[1] == "rtl":
        return _items(schema.RTL_KEYS, "key") if not words else _values_for(words[0], schema.RTL_KEYS.get(words[0], ""))
    if section in ("sweep", "search") and not words:
        return _items(schema.SECTIONS[section], "key") + _paths(resolver)
    if section in ("sweep", "search") and len(words) == 1 and words[0] not in schema.SECTIONS[section]:
        return [Item("in", "keyword", schema.KEYWORDS["in"])]
    if section == "search" and words[0] == "log":
        return _paths(resolver)
    table = schema.SECTIONS.get(section, {})
    if not words:
        return _items(table, "key")
    key = words[0]
    if section == "prune" and key in SELECTOR_KEYS:
        return _layer_names(resolver, None)
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
    if section == "target" and key == "rtl":
        return _items(schema.RTL_LANGUAGES, "value")
    return _values_for(key, table.get(key, ""))


def _quantizer(group: list[str]) -> list[Item]:
    """After a quantizer role (`weights`, `quant weights`): a quantizer, then `alpha`, then alpha's choices."""
    if group and group[-1] == "alpha":
        return _words(usage_choices(schema.QUANT_OPTIONS["alpha"]))
    if group and group[-1] == "per":  # `learned fixed<8,3> per ...`
        return _items(schema.LEARNED_GRANULARITIES, "value")
    if group and group[-1] == "beta":
        return []
    if group and group[-1] == "learned":  # its starting width
        return _items({k: v for k, v in schema.QUANT_KINDS.items() if k in ("fixed", "ufixed", "bits")}, "value")
    if "learned" in group:
        return _items({k: v for k, v in schema.LEARNED_OPTIONS.items() if k not in group}, "key")
    if any(w in schema.QUANT_KINDS for w in group):
        return _items(schema.QUANT_OPTIONS, "key")
    return _items(schema.QUANT_KINDS, "value")


def _model_stmt(ctx: Context, resolver: Resolver | None) -> list[Item]:
    words = ctx.words
    if not words:
        return _items(schema.MODEL_KEYS, "key")
    key = words[0]
    if key in LAYER_REF_KEYS:
        if len(words) != 1 or resolver is None or ctx.model is None:
            return []
        found = resolver.model(ctx.model)
        base = found[1].base if found is not None else None
        return _layer_names(resolver, base.name) if base is not None else []
    if key == "quant":
        group = [w for w in ctx.group if w != "quant"]
        return _items(schema.QUANT_ROLES, "key") if not group else _quantizer(group)
    if key in schema.LAYER_KINDS:
        if len(words) == 1:
            return []  # a new layer's name
        return _items(schema.ACTIVATIONS, "value") + _words(usage_choices(schema.LAYER_KINDS[key]), "key")
    return _values_for(key, schema.MODEL_KEYS.get(key, ""))


def _layer_setting(ctx: Context) -> list[Item]:
    words = ctx.words
    if not words:
        return _items(schema.LAYER_SETTINGS, "key")
    if words[0] in schema.QUANT_ROLES:
        return _quantizer(words[1:])
    return _values_for(words[0], schema.LAYER_SETTINGS.get(words[0], ""))
