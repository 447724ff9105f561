"""Lowering the `train` section and its data source → `ir.Train`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from qapdsl import ast, ir, schema
from qapdsl.data import FILE_SUFFIXES
from qapdsl.lower.statements import KeyTracker, flat, no_block, read_pairs, single
from qapdsl.lower.values import Bad, Ctx, as_float, as_fraction, as_int, as_name, as_str, as_word
from qapdsl.source import Span


def lower_train(ctx: Ctx, body: Sequence[ast.Stmt], span: Span | None) -> ir.Train:
    keys = KeyTracker(ctx, schema.TRAIN_KEYS, "train")
    fields: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    data: ir.Data | None = None
    for s in body:
        if not keys.accept(s):
            continue
        no_block(ctx, s)
        k = s.key.name
        spans[k] = s.span
        if k == "data":
            data = ctx.attempt(lambda: read_data(ctx, s), None)
        elif k == "split":
            vals = flat(s)
            opts = read_pairs(ctx, vals, {"test": lambda v: as_fraction(v, "test fraction"), "val": lambda v: as_fraction(v, "validation fraction")}, "split")
            if not vals:
                ctx.error("E202", "`split` needs fractions", s.key.span, "e.g. split test 0.2, val 0.25")
            for name in ("test", "val"):
                if name in opts:
                    fields[name] = opts[name]
            if fields.get("test", 0.2) + fields.get("val", 0.25) * (1 - fields.get("test", 0.2)) >= 0.95:
                ctx.error("E602", "test and validation leave under 5% of the data for training", s.span, "e.g. split test 0.2, val 0.25")
        elif k == "scale":
            fields["scale"] = ctx.attempt(lambda: as_word(single(s), "scaling", ("standard", "minmax", "none")), "standard")
        elif k == "seed":
            fields["seed"] = ctx.attempt(lambda: as_int(single(s), "seed", 0, 2**32 - 1), 42)
        elif k == "optimizer":
            vals = flat(s)
            if not vals:
                ctx.error("E202", "`optimizer` needs a name", s.key.span, "e.g. optimizer adam lr 1e-4")
                continue
            opt = ctx.attempt(lambda: as_word(vals[0], "optimizer", ("adam", "sgd", "rmsprop")), None)
            if opt:
                fields["optimizer"] = opt
            opts = read_pairs(ctx, vals[1:], {"lr": lambda v: as_float(v, "learning rate", 0.0, 10.0, lo_open=True)}, "optimizer")
            if "lr" in opts:
                fields["lr"] = opts["lr"]
        elif k == "loss":
            fields["loss"] = ctx.attempt(
                lambda: as_word(single(s), "loss", ("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy", "mse")),
                "categorical_crossentropy",
            )
        elif k == "batch":
            fields["batch"] = ctx.attempt(lambda: as_int(single(s), "batch size", 1, 1_000_000), 1024)
        elif k == "epochs":
            fields["epochs"] = ctx.attempt(lambda: as_int(single(s), "epochs", 1, 100_000), 250)
        elif k == "early_stop":
            vals = flat(s)
            if len(vals) == 1 and isinstance(vals[0], ast.Word) and vals[0].name == "none":
                fields["patience"] = None
            else:
                opts = read_pairs(ctx, vals, {"patience": lambda v: as_int(v, "patience", 1, 100_000)}, "early_stop")
                if "patience" in opts:
                    fields["patience"] = opts["patience"]
                elif not vals:
                    ctx.error("E202", "`early_stop` needs a patience", s.key.span, "e.g. early_stop patience 10")
        elif k == "classes":
            fields["classes"] = ctx.attempt(lambda: as_int(single(s), "classes", 2, 1_000_000), None)
        elif k == "dialect":
            fields["dialect"] = ctx.attempt(lambda: as_word(single(s), "dialect", tuple(schema.DIALECTS)), "qkeras")
    if data is None:
        if not any(s.key.name == "data" for s in body):
            ctx.error("E202", "`train` needs `data`", span, 'e.g. data sklearn digits, or data file "jets.npz"')
        data = ir.Data.model_construct(source="sklearn", name="digits")
        ctx.stand_ins.add("data")  # nothing is checked against the stand-in
    elif data.source == "sklearn" and "classes" not in fields:
        fields["classes"] = schema.SKLEARN_DATASETS.get(data.name)
    return ir.Train.model_construct(data=data, **fields, span=span, spans=spans)


def read_data(ctx: Ctx, s: ast.Stmt) -> ir.Data:
    vals = flat(s)
    if not vals:
        raise Bad("E202", "`data` needs a source", s.key.span, schema.TRAIN_KEYS["data"])
    source = as_word(vals[0], "data source", ("openml", "file", "sklearn"))
    if len(vals) < 2:
        raise Bad("E202", f"`data {source}` needs a name", vals[0].span, schema.TRAIN_KEYS["data"])
    target: str | None = None
    if source == "sklearn":
        name = as_word(vals[1], "scikit-learn dataset", tuple(schema.SKLEARN_DATASETS))
    elif source == "openml":
        name = str(vals[1].value) if isinstance(vals[1], ast.Num) else as_str(vals[1], "OpenML dataset")
    else:
        name = as_str(vals[1], "data file")
        if not name.lower().endswith(FILE_SUFFIXES):
            raise Bad("E601", f"unknown data file type '{name}'", vals[1].span, "use a .npz, .h5, .csv or .parquet file")
    opts = read_pairs(ctx, vals[2:], {"target": lambda v: as_str(v, "target column") if isinstance(v, ast.Str) else as_name(v, "target column")}, "data")
    target = opts.get("target")
    return ir.Data.model_construct(source=cast(ir.DataSource, source), name=name, target=target, span=s.span)
