"""The vocabulary (qapdsl.schema) as the cursor sees it: the documentation of a key in the block
it is in, the choices a usage line offers, the sweep paths a layer kind takes."""

from __future__ import annotations

import re

from qapdsl import schema
from qapdsl.lsp.cursor import Hit


def key_doc(hit: Hit, key: str) -> str | None:
    """The usage line of a key in the block the hit is in."""
    if hit.model is not None:
        if hit.parents:
            return schema.LAYER_SETTINGS.get(key)
        return schema.MODEL_KEYS.get(key)
    if hit.section == "prune" and hit.parents[-1:] == ("schedule",):
        if hit.schedule in schema.SCHEDULE_KEYS:
            return schema.SCHEDULE_KEYS[hit.schedule].get(key)
        return next((t[key] for t in schema.SCHEDULE_KEYS.values() if key in t), None)
    if hit.section == "target" and hit.parents[-1:] == ("rtl",):
        return schema.RTL_KEYS.get(key)
    if hit.section in schema.SECTIONS and not hit.parents:
        return schema.SECTIONS[hit.section].get(key)
    return None


def usage_choices(usage: str) -> list[str]:
    """The words a usage line offers after its key: `scale standard|minmax|none — ...` → standard, minmax, none.

    Words of the vocabulary and the alternatives of `a|b|c` count; placeholders (N, Q, PATH) and the key itself do not.
    """
    head = usage.split(" — ")[0]
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", head)
    key = words[0] if words else ""
    alternatives = {w for alt in re.findall(r"\w+(?:\|\w+)+", head) for w in alt.split("|")}
    vocabulary = schema.vocabulary()
    out: list[str] = []
    for w in words:
        if w != key and not w.isupper() and (w in vocabulary or w in alternatives) and w not in out:
            out.append(w)
    return out


_WEIGHTS = schema.WEIGHT_LAYERS
# Which layer kinds each per-layer sweep path applies to (qapdsl.paths refuses the others;
# tests/test_lsp_analysis.py checks the two agree). Paths not named here apply to every kind.
LAYER_PATH_KINDS: dict[str, frozenset[str]] = {
    "units": _WEIGHTS,
    "filters": frozenset({"conv1d", "conv2d"}),
    "weights": _WEIGHTS,
    "bias": _WEIGHTS,
    "l1": _WEIGHTS,
    "l2": _WEIGHTS,
    "rate": frozenset({"dropout"}),
}


def layer_paths(kind: str) -> dict[str, str]:
    """The per-layer sweep paths (`NAME.units`, ...) a layer of this kind takes, with their docs."""
    from qapdsl import paths

    return {p: d for p, d in paths.LAYER_PATHS.items() if kind in LAYER_PATH_KINDS.get(p, frozenset({kind}))}
