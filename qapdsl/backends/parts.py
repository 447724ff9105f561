"""Which code paths a spec's train.py holds: the parts of `templates/train.py.j2`, chosen from the spec.

A generated file holds only what its spec uses (sqlglot's generator emits what the tree holds, nothing
for what it lacks): a spec without a data file has no file readers, an iterative schedule no gradual
one, an unpruned model no masks. Each part is one feature's code, `templates/<dialect>/train/<part>.j2`
when the dialect spells it its own way, else `templates/train/<part>.j2`; this module decides which
parts, in which order, and the values they read. Templates only render.

`--data PATH` (train.py's and `qapc run`'s) reads what `qapdsl.data.override_suffixes` says: a `.npz`
file (arrays `X` and `y`, or the spec's `target`) for every spec, and a spec with a data file also its
own file's type (`.h5`, `.csv`, `.parquet`).
"""

from __future__ import annotations

import re
from typing import Any

from qapdsl import ir, learned
from qapdsl.backends.literals import SpecLines, py
from qapdsl.data import FORMATS, override_suffixes, read_formats
from qapdsl.plan import Plan
from qapdsl.source import Span

READERS = {"npz": "npz", "h5": "h5", "csv": "table", "parquet": "table"}  # data file format → the part that reads it
SKLEARN_LOADERS = {"digits": "load_digits", "iris": "load_iris", "wine": "load_wine", "breast_cancer": "load_breast_cancer"}
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}
SCALERS = {"standard": "StandardScaler", "minmax": "MinMaxScaler", "none": None}
GRADUAL = ("constant", "polynomial")


def parts(spec: ir.Spec, plan: Plan) -> list[str]:
    """The parts of train.py, in file order."""
    kind = spec.prune.schedule.kind if spec.prune else None
    formats = read_formats(spec)
    readers = list(dict.fromkeys(READERS[fmt] for fmt in formats))
    out = ["environment", "progress", "load_data"]
    if formats == ("npz",):
        out.append("read_npz_file")
    else:
        out += ["read_file", "read_arrays", *(f"read_{r}" for r in readers)]  # .npz is always one of them
    out += ["split", "model", "compile", "fit"]
    if kind is not None:
        out.append("pruned_weights")
    if kind == "iterative":
        out += ["keep_masks", "iterative"]
    elif kind in GRADUAL:
        out += ["gradual_schedule", "train_gradual"]
    else:
        out.append("train_dense")
    if quantized_weights(plan):
        out.append("quantize_weights")
    if learned_layers(plan):
        out.append("learned_widths")
    out.append("evaluate")
    if plan.activation_outputs:
        out.append("activations")
    out.append("main")
    return out


def quantized_weights(plan: Plan) -> bool:
    """Has any layer weights or biases on a fixed-point grid (which the saved model must hold)?"""
    return any(q is not None and q.kind != "float" for pl in plan.layers for role, q in pl.quant.items() if role in ("weights", "bias"))


def learned_layers(plan: Plan) -> list[tuple[str, ir.Learned]]:
    """(name, resource term) of every weight layer that learns its widths (`qapdsl.learned`), in model order."""
    out = []
    for pl in plan.layers:
        if pl.op in ("dense", "conv1d", "conv2d"):
            resource = learned.layer_beta(pl.quant.get("weights"), pl.quant.get("bias") if pl.params.get("use_bias", True) else None)
            if resource is not None:
                out.append((pl.name, resource))
    return out


def context(spec: ir.Spec, plan: Plan, lines: SpecLines, data_file: str | None) -> dict[str, Any]:
    """The values the parts read (besides the dialect's model code); `data_file` is the data file's path
    as train.py stores it (relative to its folder)."""
    t, p, data = spec.train, spec.prune, spec.train.data
    kind = p.schedule.kind if p else None
    formats = read_formats(spec)
    label = data.target if data.target is not None else None
    has_val = t.val > 0
    ts = t.spans
    constants: list[tuple[tuple[str, ...], tuple[Any, ...], Span | None]] = []
    if data.source == "openml":
        constants.append((("DATA_NAME",), (data.name,), ts.get("data")))
    if data.source == "file":
        constants.append((("DATA_FILE",), (data_file,), ts.get("data")))
    if label is not None:
        constants.append((("LABEL",), (label,), ts.get("data")))
    split = (("TEST_FRACTION", "VAL_FRACTION"), (t.test, t.val)) if has_val else (("TEST_FRACTION",), (t.test,))
    constants += [(*split, ts.get("split")), (("SEED",), (t.seed,), ts.get("seed")), (("LEARNING_RATE",), (t.lr,), ts.get("optimizer"))]
    constants += [(("BATCH",), (t.batch,), ts.get("batch")), (("EPOCHS",), (t.epochs,), ts.get("epochs"))]
    if t.patience is not None:
        constants.append((("PATIENCE",), (t.patience,), ts.get("early_stop")))
    learned_ = learned_layers(plan)
    schedules = {name: (r.beta, r.beta_end) for name, r in learned_ if r.beta_end is not None}
    if learned_:
        constants.append((("LEARNED",), (tuple(name for name, _ in learned_),), None))  # the layers that learn their widths
        constants.append((("WEIGHT_LAYERS",), (tuple(pl.name for pl in plan.layers if pl.op in ("dense", "conv1d", "conv2d")),), None))
    if schedules:
        span = next(r.spans.get("beta") for name, r in learned_ if r.beta_end is not None)
        constants.append((("BETA_SCHEDULES",), (schedules,), span))
    prune_constants: list[tuple[tuple[str, ...], tuple[Any, ...], Span | None]] = []
    prune_comment = ""
    if p is not None:
        s = p.schedule
        prune_comment = "\n".join(c for c in (lines.comments([p.spans.get(k) for k in ("scope", "select", "skip", "bias")]), lines.block(s.span)) if c)
        prune_constants.append((("PRUNED",), (tuple(pl.name for pl in plan.layers if pl.prunable),), None))
        if kind == "iterative":
            per_round = s.epochs_per_round if s.epochs_per_round is not None else t.epochs
            prune_constants.append((("ROUNDS", "RATE", "ROUND_EPOCHS"), (s.rounds, s.rate, per_round), None))
        else:
            prune_constants.append((("TARGET", "BEGIN_STEP", "END_STEP", "FREQUENCY"), (s.target, s.begin_step, s.end_step, s.frequency), None))
            if kind == "polynomial":
                prune_constants.append((("INITIAL", "POWER"), (s.initial, s.power), None))
    suffixes = override_suffixes(spec)
    shown = " / ".join(suffixes)
    names = {"sklearn": f"scikit-learn's {data.name}", "openml": "the spec's OpenML data set", "file": "the spec's data file"}
    label_text = "LABEL" if label is not None else ("the last column" if formats[0] in ("csv", "parquet") else "array y")
    outputs = ["the model (weights on their quantizers' grids)", "test_data.npz", "activations.npz", "metrics.json"]
    if kind == "iterative" and p is not None and p.schedule.rewind == "init":
        outputs += ["initial_weights.npz", "rewound_weights.npz"]
    if learned_layers(plan):
        outputs.append("widths.npz (the learned bits and fraction bits of every weight and bias, by layer)")
    if t.loss == "sparse_categorical_crossentropy":
        targets_expr, targets_text = "y", "integer labels"
    elif plan.output_width == 1:
        targets_expr, targets_text = 'y.astype("float32").reshape(-1, 1)', "one column of 0 / 1"
    else:
        targets_expr, targets_text = 'np.eye(OUTPUT_WIDTH, dtype="float32")[y]', "one-hot rows"
    return {
        "dialect": t.dialect,
        "parts": parts(spec, plan),
        "learned": bool(learned_),
        "beta_schedules": bool(schedules),
        "train": t,
        "train_constants": [_assignment(c, lines) for c in constants],
        "prune_constants": [_assignment(c, lines) for c in prune_constants],
        "prune_comment": prune_comment,
        "data_comment": lines.comment(ts.get("data")),
        "scale_comment": lines.comment(ts.get("scale")),
        "loss_comment": lines.comment(ts.get("loss"), "    "),
        "prune_kind": kind,
        "prune_scope": p.scope if p else None,
        "prune_bias": bool(p and p.bias),
        "rewind_init": bool(p and kind == "iterative" and p.schedule.rewind == "init"),
        "has_val": has_val,
        "early_stop": t.patience is not None,
        "early_stop_text": (
            f", stopping early when {'val_loss' if has_val else 'loss'} has not improved for PATIENCE epochs (best weights restored)"
            if t.patience is not None
            else ""
        ),
        "monitor": "val_loss" if has_val else "loss",
        "split_text": "The test split first, then the validation split from the rest (both stratified)"
        if has_val
        else "The test split (stratified); no validation split",
        "scaler": SCALERS[t.scale],
        "scale_text": {
            "standard": "standardised with the training split's mean and deviation",
            "minmax": "scaled to [0, 1] by the training split's range",
            "none": "not scaled",
        }[t.scale],
        "optimizer_class": OPTIMIZERS[t.optimizer],
        "loss": t.loss,
        "targets_expr": targets_expr,
        "targets_text": targets_text,
        "quantized_weights": quantized_weights(plan),
        "data_source": data.source,
        "data_name": data.name,
        "load_doc": {
            "sklearn": f"scikit-learn's {data.name} (bundled: offline)",
            "openml": "OpenML's DATA_NAME (needs the network, or scikit-learn's cache: ~/scikit_learn_data or $SCIKIT_LEARN_DATA)",
            "file": "The spec's data file (DATA_FILE, relative to this script's folder)",
        }[data.source],
        "sklearn_loader": SKLEARN_LOADERS.get(data.name, ""),
        "openml_args": _openml_args(data),
        "read_formats": [f".{fmt}" for fmt in formats],
        "format_suffixes": {f".{fmt}": FORMATS[fmt] for fmt in formats},
        "format_readers": {f".{fmt}": READERS[fmt] for fmt in formats},
        "label_expr": "LABEL" if label is not None else repr("y"),
        "label_text": label_text,
        "data_arg_help": f"a {shown} file to train on instead of {names[data.source]}",
        "data_override_help": f"train on a {shown} file instead of the spec's data" + (" (arrays X and y)" if suffixes == (".npz",) and label is None else ""),
        "outputs_list": outputs,
        "extra_packages": "".join(f", {pkg}" for pkg in _packages(formats)),
    }


def _assignment(constant: tuple[tuple[str, ...], tuple[Any, ...], Span | None], lines: SpecLines) -> str:
    """`NAME = value` (or `A, B = a, b`), with the spec line it came from."""
    names, values, span = constant
    comment = lines.line(span)
    return f"{', '.join(names)} = {', '.join(py(v) for v in values)}" + (f"  # {comment}" if comment else "")


def _openml_args(data: ir.Data) -> str:
    if data.source != "openml":
        return ""
    args = [f"data_id={int(data.name)}" if data.name.isdigit() else "name=DATA_NAME"]
    if data.target is not None:
        args.append("target_column=LABEL")
    return ", ".join(args)


def _packages(formats: tuple[str, ...]) -> list[str]:
    return [{"h5": "h5py", "csv": "pandas", "parquet": "pandas, pyarrow"}[fmt] for fmt in formats if fmt != "npz"]


def model_helpers(model_lines: list[str]) -> list[str]:
    """The HGQ2 quantizer helpers (`fixed`, `ufixed`) the model code calls."""
    text = "\n".join(model_lines)
    return [name for name in ("fixed", "ufixed", "learned") if re.search(rf"\b{name}\(", text)]
