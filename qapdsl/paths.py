"""Dotted paths into a spec (`quant.bits`, `prune.rounds`, `fc1.units`): for sweeps and searches.

`apply(spec, path, value)` returns a new spec with one setting changed;
`known_paths(spec)` lists what can be changed. A path that does not exist, or
a value a path cannot take, raises `PathError` with a hint.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from qapdsl import ir, learned, quant, schema
from qapdsl.diagnostics import did_you_mean

GLOBAL_PATHS: dict[str, str] = {
    "quant.bits": "bit width of the model-wide weight, bias and activation quantizers (integer bits kept)",
    "quant.weights": "model-wide weight quantizer (a type, or a bit count)",
    "quant.bias": "model-wide bias quantizer",
    "quant.activations": "model-wide activation quantizer",
    "quant.inputs": "input quantizer",
    "quant.learned": "on | off: the model-wide weights learn their widths from their type (hgq2), or every width is fixed",
    "quant.beta": "the resource weight (beta) of every learned quantizer, a constant (0 to 1)",
    "prune.rounds": "iterative pruning rounds (0: no pruning)",
    "prune.rate": "iterative pruning rate",
    "prune.rewind": "none | init",
    "prune.target": "target sparsity of a constant or polynomial schedule",
    "prune.scope": "global | layer",
    "prune.epochs": "epochs per iterative round",
    "train.lr": "learning rate",
    "train.epochs": "training epochs",
    "train.batch": "batch size",
    "train.seed": "random seed",
    "train.optimizer": "adam | sgd | rmsprop",
    "train.patience": "early-stopping patience",
    "train.dialect": "qkeras | hgq2 | brevitas: the training framework",
    "target.reuse": "model-wide reuse factor",
    "target.clock": "clock period in ns",
    "target.strategy": "latency | resource | distributed_arithmetic",
    "target.io": "parallel | stream",
}

LAYER_PATHS: dict[str, str] = {
    "units": "units (dense) or filters (conv)",
    "filters": "filters of a conv layer",
    "weights": "weight quantizer",
    "bias": "bias quantizer",
    "activations": "activation quantizer",
    "activation": "activation function",
    "reuse": "reuse factor",
    "l1": "L1 regularisation",
    "l2": "L2 regularisation",
    "rate": "dropout rate",
}


Token = int | float | str


def token(value: ir.SweepValue) -> Token:
    """A sweep value as plain data: numbers and words as they are, a quantizer as its spec text (`fixed<6,1>`).

    What Optuna stores as a parameter, and how a value is named in messages and tables."""
    if not isinstance(value, ir.Quant):
        return value
    q = value
    if q.kind == "fixed":
        text = f"{'fixed' if q.signed else 'ufixed'}<{q.width},{q.integer}>"
    elif q.kind == "bits":
        text = f"{q.width} bits int {q.integer}"
    elif q.kind == "po2":
        text = f"po2<{q.width}>"
    else:
        text = q.kind
    return f"{text} alpha {q.alpha}" if q.alpha else text


class PathError(Exception):
    """E801: the path does not exist; E802: the value does not fit the path."""

    def __init__(self, message: str, hint: str | None = None, code: str = "E802") -> None:
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


def known_paths(spec: ir.Spec) -> list[str]:
    paths = list(GLOBAL_PATHS)
    for layer in spec.model.layers:
        paths += [f"{layer.name}.{p}" for p in LAYER_PATHS]
    return paths


def _as_quant(value: Any, path: str, current: ir.Quant | None) -> ir.Quant:
    """A quantizer for a path: as given, or a bit count that keeps the kind and integer bits of `current` (as `quant.bits`)."""
    if isinstance(value, ir.Quant):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 32:
        q = _with_width(current if current is not None and current.kind in ("fixed", "bits") else None, value)
        assert q is not None
        return q
    if value == "float":
        return ir.Quant(kind="float", width=32)
    raise PathError(f"{path} takes a quantizer (fixed<W,I>, N bits, float) or a bit count, not {value!r}")


def _num(value: Any, path: str, integer: bool = False, lo: float = 0.0, hi: float = float("inf")) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        example = "[8, 16, 32]" if integer else "[0.001, 0.01]"
        raise PathError(f"{path} takes {'a whole number' if integer else 'a number'}, not {value!r}", f"e.g. {path} in {example}")
    if not lo <= value <= hi:
        raise PathError(f"{path} must be between {_bound(lo)} and {_bound(hi)}, not {value!r}")
    return value


def _bound(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) >= 1 else f"{x:g}"


def _choice(value: Any, path: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise PathError(f"{path} takes one of {', '.join(choices)}, not {value!r}", did_you_mean(str(value), choices))
    return str(value)


def _with_width(q: ir.Quant | None, bits: int) -> ir.Quant | None:
    if q is None:
        return ir.Quant(kind="bits", width=bits, integer=0)
    if q.kind in ("fixed", "bits"):
        return q.model_copy(update={"width": bits, "integer": min(q.integer, bits), "span": None})
    if q.kind == "po2":
        return q.model_copy(update={"width": min(bits, 8), "span": None})
    return q


def apply(spec: ir.Spec, path: str, value: Any) -> ir.Spec:
    head, _, rest = path.partition(".")
    if not rest:
        raise PathError(f"'{path}' is not a path", "paths look like quant.bits, prune.rounds or fc1.units", code="E801")
    model = spec.model
    if head == "quant":
        if rest == "bits":
            bits = _num(value, path, integer=True, lo=1, hi=32)
            mq = model.quant
            new = mq.model_copy(update={r: _with_width(getattr(mq, r), bits) for r in ("weights", "bias", "activations")})
            return spec.model_copy(update={"model": model.model_copy(update={"quant": new})})
        if rest == "learned":
            try:
                new_model = learned.switched(model, _choice(value, path, ("on", "off")) == "on")
            except ValueError as e:
                raise PathError(f"{path}: {e}") from None
            return spec.model_copy(update={"model": new_model})
        if rest == "beta":  # on a point without learned widths (quant.learned off) it changes nothing
            return spec.model_copy(update={"model": learned.with_beta(model, _num(value, path, lo=0.0, hi=1.0))})
        if rest in schema.QUANT_ROLES:
            new = model.quant.model_copy(update={rest: _as_quant(value, path, getattr(model.quant, rest))})
            return spec.model_copy(update={"model": model.model_copy(update={"quant": new})})
    elif head == "prune":
        if spec.prune is None:
            raise PathError(f"{path}: the spec has no `prune` section", "add prune { schedule iterative { ... } }")
        sched = spec.prune.schedule
        upd: dict[str, Any] = {}
        if rest == "rounds":
            if sched.kind != "iterative":
                raise PathError(f"{path} needs an iterative schedule, not {sched.kind}")
            upd = {"rounds": _num(value, path, integer=True, lo=0, hi=100)}
        elif rest == "rate":
            upd = {"rate": _num(value, path, lo=0.0, hi=0.99)}
        elif rest == "rewind":
            upd = {"rewind": _choice(value, path, ("none", "init"))}
        elif rest == "epochs":
            upd = {"epochs_per_round": _num(value, path, integer=True, lo=1, hi=100_000)}
        elif rest == "target":
            if sched.kind == "iterative":
                raise PathError(f"{path} needs a constant or polynomial schedule", "sweep prune.rounds or prune.rate instead")
            upd = {"target": _num(value, path, lo=0.0, hi=0.99)}
        elif rest == "scope":
            scope = _choice(value, path, ("global", "layer"))
            if scope == "global" and sched.kind != "iterative":
                raise PathError(f"{path}: the {sched.kind} schedule (tfmot) has no global threshold", "global scope needs `schedule iterative`")
            prune = spec.prune.model_copy(update={"scope": scope})
            return spec.model_copy(update={"prune": prune})
        if upd:
            prune = spec.prune.model_copy(update={"schedule": sched.model_copy(update=upd)})
            return spec.model_copy(update={"prune": prune})
    elif head == "train":
        checks: dict[str, Any] = {
            "lr": lambda v: _num(v, path, lo=1e-12, hi=10.0),
            "epochs": lambda v: _num(v, path, integer=True, lo=1, hi=100_000),
            "batch": lambda v: _num(v, path, integer=True, lo=1, hi=1_000_000),
            "seed": lambda v: _num(v, path, integer=True, lo=0, hi=2**32 - 1),  # NumPy seeds are 32-bit
            "optimizer": lambda v: _choice(v, path, ("adam", "sgd", "rmsprop")),
            "patience": lambda v: _num(v, path, integer=True, lo=1, hi=100_000),
            "dialect": lambda v: _choice(v, path, tuple(schema.DIALECTS)),
        }
        if rest in checks:
            return spec.model_copy(update={"train": spec.train.model_copy(update={rest: checks[rest](value)})})
    elif head == "target":
        field = {"clock": "clock_ns"}.get(rest, rest)
        checks = {
            "reuse": lambda v: _num(v, path, integer=True, lo=1, hi=1_000_000),
            "clock_ns": lambda v: _num(v, path, lo=0.1, hi=1e6),
            "strategy": lambda v: _choice(v, path, schema.STRATEGIES),
            "io": lambda v: _choice(v, path, ("parallel", "stream")),
        }
        if field in checks:
            return spec.model_copy(update={"target": spec.target.model_copy(update={field: checks[field](value)})})
    else:
        names = [layer.name for layer in model.layers]
        matched = [n for n in names if fnmatch.fnmatchcase(n, head)]
        if not matched:
            raise PathError(f"'{path}': no layer or section '{head}'", did_you_mean(head, names + ["quant", "prune", "train", "target"]), code="E801")
        if rest not in LAYER_PATHS:
            raise PathError(f"'{path}': layers have no setting '{rest}'", did_you_mean(rest, LAYER_PATHS) or "settings: " + ", ".join(LAYER_PATHS), code="E801")
        layers = [(_set_layer(model, layer, rest, value, path) if layer.name in matched else layer) for layer in model.layers]
        return spec.model_copy(update={"model": model.model_copy(update={"layers": tuple(layers)})})
    raise PathError(f"'{path}' is not a setting", did_you_mean(path, known_paths(spec)), code="E801")


def _set_layer(model: ir.Model, layer: ir.Layer, key: str, value: Any, path: str) -> ir.Layer:
    weighty = layer.kind in schema.WEIGHT_LAYERS
    if key in ("units", "filters"):
        if not weighty or (key == "filters" and layer.kind == "dense"):
            raise PathError(f"{path}: {layer.kind} layer '{layer.name}' has no {key}")
        return layer.model_copy(update={"units": _num(value, path, integer=True, lo=1, hi=1_000_000)})
    if key in ("weights", "bias", "activations"):
        if key != "activations" and not weighty:
            raise PathError(f"{path}: {layer.kind} layer '{layer.name}' has no weights")
        current = getattr(quant.effective(model, layer), key)
        return layer.model_copy(update={"quant": layer.quant.model_copy(update={key: _as_quant(value, path, current)})})
    if key == "activation":
        return layer.model_copy(update={"activation": _choice(value, path, tuple(schema.ACTIVATIONS))})
    if key == "reuse":
        return layer.model_copy(update={"reuse": _num(value, path, integer=True, lo=1, hi=1_000_000)})
    if key in ("l1", "l2"):
        if not weighty:
            raise PathError(f"{path}: {layer.kind} layer '{layer.name}' has no weights")
        return layer.model_copy(update={key: _num(value, path, lo=0.0, hi=10.0)})
    if layer.kind != "dropout":
        raise PathError(f"{path}: only dropout layers have a rate")
    return layer.model_copy(update={"rate": _num(value, path, lo=0.0, hi=0.99)})
