"""Hover: a layer's figures, a model's layers, and the documentation of every word from qapdsl.schema.

The word under the cursor comes from the current text (qapdsl.lsp.cursor); what
it means comes from the newest analysis that can say it: the latest one when it
checks clean, else the latest with its erroneous statements left out (a typo
elsewhere does not hide the figures), else the last version that checked clean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from qapdsl import ir, quant, schema
from qapdsl.loader import Loaded
from qapdsl.lsp.analysis import Document
from qapdsl.lsp.cursor import LAYER_REF_KEYS, Hit, split_lines
from qapdsl.lsp.navigation import Resolver, layer_name
from qapdsl.lsp.vocab import key_doc, usage_choices


@dataclass(frozen=True)
class Analyses:
    """The analyses a request may draw on, newest first."""

    latest: Document | None  # the newest analysis (of the current text, or of a version before it)
    clean: Document | None  # the newest analysis that checked clean

    def parsed(self) -> list[Document]:
        return [d for d in (self.latest, self.clean) if d is not None and d.tree is not None]


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _figures(doc: Document, loaded: Loaded, name: str) -> str | None:
    r = doc.figures(loaded).get(name)
    if r is None or loaded.spec is None:
        return None
    model = loaded.spec.model.name
    return "\n".join(
        [
            f"**{r.name}** · {r.kind}" + (f" · model `{model}`" if model else ""),
            "",
            f"- shape: {_fmt_shape(r.in_shape)} → {_fmt_shape(r.out_shape)}, {r.params:,} parameters",
            f"- weights `{r.weight}`, bias `{r.bias}`, activation `{r.activation}`",
            f"- input bits {r.input_bits}, weight bits {r.weight_bits}, sparsity {r.sparsity:.1%}",
            f"- BOPs {r.bops:,.0f}, weight memory {r.memory_bits:,.0f} bits",
        ]
    )


def _lines(numbers: tuple[int, ...]) -> str:
    return ("line " if len(numbers) == 1 else "lines ") + ", ".join(str(n) for n in numbers)


def _scope(hit: Hit) -> str | None:
    """The model whose layer a hit shows: the model it is in, or (selectors, paths) the built one."""
    return hit.model if hit.role == "layer" or (hit.role == "layer-ref" and hit.key in LAYER_REF_KEYS) else None


def _spec_of(doc: Document, model: str | None) -> tuple[Loaded, str]:
    """The loaded spec of a model, and a note when it is not the document as it is."""
    if model is not None and model == Resolver(doc).built_model():
        model = None
    loaded = doc.loaded_for(model)
    if loaded.spec is not None:
        return loaded, ""
    partial = doc.partial_for(model)
    if partial is not None:
        return partial.loaded, f"\n\n*Figures without the statements that have errors ({_lines(partial.left_out)}).*"
    return loaded, ""


def layer_hover(analyses: Analyses, hit: Hit) -> str | None:
    name = layer_name(hit)
    if name is None:
        return None
    model = _scope(hit)
    kind_doc = ""
    for parsed in analyses.parsed():
        layer = Resolver(parsed).layers(model).get(name)
        if layer is not None:
            kind_doc = schema.LAYER_KINDS.get(layer.stmt.key.name, "")
            break
    for doc, older in ((analyses.latest, ""), (analyses.clean, "\n\n*From the last version that checked clean.*")):
        if doc is None or (older and doc is analyses.latest):
            continue
        loaded, note = _spec_of(doc, model)
        if loaded.spec is not None:
            text = _figures(doc, loaded, name)
            if text is not None:
                return text + (note or older)
    if not kind_doc:
        return None
    return f"**{name}** — `{kind_doc}`\n\nShapes, precisions and BOPs appear when the spec checks clean (`qapc check`)."


def model_hover(analyses: Analyses, hit: Hit) -> str | None:
    for doc in analyses.parsed():
        resolver = Resolver(doc)
        found = resolver.model(hit.name)
        if found is None:
            continue
        path, decl = found
        where = f" ({path.name})" if path is not None and path != doc.path else ""
        base = f" from `{decl.base.name}`" if decl.base is not None else ""
        layers = ", ".join(f"`{n}`" for n in resolver.layers(hit.name))
        return f"model **{hit.name}**{where}{base}: {layers}"
    return None


_FIX = re.compile(r"(u?fixed)\s*<\s*([+-]?\d+)\s*,\s*([+-]?\d+)")


def fixed_hover(text: str, hit: Hit) -> str | None:
    """`fixed<6,1>`: what the type holds and the QKeras quantizer qapc maps it to (qapdsl.quant)."""
    row = split_lines(text)[hit.span.line - 1]
    m = _FIX.match(row, hit.span.column - 1)
    if m is None:
        return None
    kind, width, integer = m.group(1), int(m.group(2)), int(m.group(3))
    if not 1 <= width <= 64 or integer > width:
        return None
    signed = kind == "fixed"
    fx = quant.Fixed(signed=signed, width=width, integer=integer)
    lo, hi = fx.bounds()
    q = ir.Quant(kind="fixed", width=width, integer=integer, signed=signed)
    role = "weights" if signed else "activations"
    qkeras = quant.qkeras_quantizer(q, role, activation=None if signed else "relu")
    return "\n".join(
        [
            f"**{m.group(0).replace(' ', '')}>** — {schema.QUANT_KINDS[kind].split(' — ')[1]}",
            "",
            f"- {width} bits, {integer} integer bit{'s' if integer != 1 else ''}" + (" (sign included)" if signed else ""),
            f"- from {lo:g} to {hi:g} in steps of {fx.lsb():g}",
            f"- QKeras: `{qkeras}`",
        ]
    )


_WORD_TABLES: tuple[dict[str, str], ...] = (
    schema.ACTIVATIONS,
    schema.QUANT_KINDS,
    schema.QUANT_OPTIONS,
    schema.LEARNED_OPTIONS,
    schema.LEARNED_GRANULARITIES,
    schema.SCHEDULE_KINDS,
    schema.QUANT_ROLES,
    schema.UNITS,
)


def word_hover(text: str, hit: Hit) -> str | None:
    if hit.name in ("fixed", "ufixed"):
        found = fixed_hover(text, hit)
        if found is not None:
            return found
    if hit.role in ("keyword", "section-arg"):
        word = "target" if hit.role == "section-arg" else hit.name
        doc = schema.KEYWORDS.get(word)
        return f"`{doc}`" if doc is not None else None
    options = {**schema.QUANT_OPTIONS, **schema.LEARNED_OPTIONS}
    option = hit.words[-1] if hit.words and hit.words[-1] in options else None
    if option is not None:  # `... alpha auto_po2`, `... per channel`
        hit = replace(hit, key=option)
        usage: str | None = options[option]
    elif hit.key is not None:
        usage = key_doc(hit, hit.key)
        if usage is None and hit.model is not None and not hit.parents and hit.key in schema.LAYER_KINDS:
            usage = schema.LAYER_KINDS[hit.key]
    else:
        usage = None
    if usage is not None and hit.name in usage_choices(usage):
        extra = next((t[hit.name] for t in _WORD_TABLES if hit.name in t), None)
        return f"**{hit.name}** — " + (extra or f"a value of `{hit.key}`") + f"\n\n`{usage}`"
    for table in _WORD_TABLES:
        if hit.name in table:
            return f"**{hit.name}** — {table[hit.name]}"
    if hit.name in schema.SKLEARN_DATASETS:
        return f"**{hit.name}** — scikit-learn's `{hit.name}` data set ({schema.SKLEARN_DATASETS[hit.name]} classes), offline"
    return None


def hover(analyses: Analyses, text: str, hit: Hit) -> str | None:
    """Markdown for the word under the cursor."""
    if hit.role in ("layer", "layer-ref"):
        return layer_hover(analyses, hit)
    if hit.role == "path":
        from qapdsl import paths

        _head, _, rest = hit.name.partition(".")
        doc = paths.GLOBAL_PATHS.get(hit.name) or (paths.LAYER_PATHS.get(rest) if layer_name(hit) is not None else None)
        figures = layer_hover(analyses, hit) if layer_name(hit) is not None else None
        parts = ([f"**{hit.name}** — {doc}"] if doc else []) + ([figures] if figures else [])
        return "\n\n---\n\n".join(parts) or None
    if hit.role in ("model", "base"):
        return model_hover(analyses, hit)
    if hit.role == "key":
        doc = key_doc(hit, hit.name)
        if doc is None and hit.model is None and hit.section is None:
            doc = schema.KEYWORDS.get(hit.name)
        return f"`{doc}`" if doc is not None else None
    return word_hover(text, hit)
