"""Lowering a `model` block: its input, `quant` statements, layers and their blocks → `ir.Model`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qapdsl import ast, ir, schema
from qapdsl.diagnostics import choices_hint, did_you_mean
from qapdsl.lower.quantizers import as_precision, read_quant
from qapdsl.lower.statements import KeyTracker, flat, no_block, read_pairs, single
from qapdsl.lower.values import _ONE, Ctx, as_dims, as_float, as_fraction, as_int, as_name, as_word, describe
from qapdsl.source import Span


def lower_quant_stmt(ctx: Ctx, stmt: ast.Stmt, roles: Sequence[str]) -> dict[str, ir.Quant]:
    """`quant weights Q, bias Q, activations Q, inputs Q`."""
    out: dict[str, ir.Quant] = {}
    if stmt.member is not None or not stmt.groups:
        ctx.error("E202", "`quant` needs roles and quantizers", stmt.key.span, "e.g. quant weights fixed<6,1>, activations ufixed<6,0>")
        return out
    for group in stmt.groups:
        role = group[0]
        if not isinstance(role, ast.Word) or role.name not in roles:
            if isinstance(role, ast.Word):
                ctx.error("E204", f"unknown quantizer role '{role.name}'", role.span, choices_hint(role.name, roles))
            else:
                ctx.error("E202", f"a role is expected before {describe(role)}", role.span, f"one of: {', '.join(roles)}")
            continue
        if role.name in out:
            ctx.error("E104", f"`{role.name}` given twice", role.span, None)
            continue
        q = ctx.attempt(lambda: read_quant(group[1:], role.span), None)
        if q is not None:
            out[role.name] = q
    no_block(ctx, stmt)
    return out


def lower_layer(ctx: Ctx, stmt: ast.Stmt) -> ir.Layer | None:
    kind = stmt.key.name
    vals = flat(stmt)
    if stmt.member is not None or not vals:
        ctx.error("E202", f"`{kind}` needs a layer name", stmt.key.span, schema.LAYER_KINDS[kind])
        return None
    spans: dict[str, Span] = {}
    name = ctx.attempt(lambda: as_name(vals[0], "layer name"), None)
    if name is None:
        return None
    spans["name"] = vals[0].span
    fields: dict[str, Any] = {"kind": kind, "name": name}
    rest = vals[1:]
    usage = schema.LAYER_KINDS[kind]

    def take_units(what: str) -> None:
        nonlocal rest
        if not rest or not isinstance(rest[0], ast.Num):
            ctx.error("E202", f"{kind} layer '{name}' needs its number of {what}", stmt.key.span if not rest else rest[0].span, usage)
            return
        fields["units"] = ctx.attempt(lambda: as_int(rest[0], what, 1, 1_000_000), 1)
        spans["units"] = rest[0].span
        rest = rest[1:]

    def take_activation(required: bool) -> None:
        nonlocal rest
        if rest and isinstance(rest[0], ast.Word) and rest[0].name not in ("kernel", "stride", "padding", "pool"):
            act = ctx.attempt(lambda: as_word(rest[0], "activation", tuple(schema.ACTIVATIONS)), None)
            if act is not None:
                fields["activation"] = act
            spans["activation"] = rest[0].span
            rest = rest[1:]
        elif required:
            ctx.error("E202", f"activation layer '{name}' needs an activation", stmt.key.span, f"one of: {', '.join(schema.ACTIVATIONS)}")

    def take_options(allowed: dict[str, Callable[[ast.Value], Any]]) -> None:
        opts = read_pairs(ctx, rest, allowed, f"{kind} layer '{name}'")
        for k, v in opts.items():
            if k.endswith("@span"):
                spans[k[:-5]] = v
            else:
                fields[k] = v

    rank_opts: dict[str, Callable[[ast.Value], Any]] = {
        "kernel": lambda v: as_dims(v, "kernel", 1 if kind == "conv1d" else 2),
        "stride": lambda v: as_dims(v, "stride", 1 if kind == "conv1d" else 2),
        "padding": lambda v: as_word(v, "padding", ("valid", "same")),
    }
    if kind == "dense":
        take_units("units")
        take_activation(False)
        take_options({})
    elif kind in ("conv1d", "conv2d"):
        take_units("filters")
        take_activation(False)
        take_options(rank_opts)
        if not any(isinstance(v, ast.Word) and v.name == "kernel" for v in rest):  # a bad kernel is reported where it is
            ctx.error("E202", f"{kind} layer '{name}' needs a kernel size", stmt.key.span, usage)
            fields["kernel"] = (1,) if kind == "conv1d" else (1, 1)
    elif kind in ("maxpool", "avgpool"):
        if rest and isinstance(rest[0], ast.Num | ast.TupleV):
            fields["pool"] = ctx.attempt(lambda: as_dims(rest[0], "pool size"), None)
            spans["pool"] = rest[0].span
            rest = rest[1:]
        take_options(
            {
                "pool": lambda v: as_dims(v, "pool size"),
                "stride": lambda v: as_dims(v, "stride"),
                "padding": lambda v: as_word(v, "padding", ("valid", "same")),
            }
        )
    elif kind == "activation":
        take_activation(True)
        take_options({})
    elif kind == "dropout":
        if not rest:
            ctx.error("E202", f"dropout layer '{name}' needs a rate", stmt.key.span, usage)
        else:
            fields["rate"] = ctx.attempt(lambda: as_fraction(rest[0], "dropout rate"), 0.0)
            rest = rest[1:]
        take_options({})
    else:  # flatten, batchnorm
        take_options({})

    if stmt.block is not None:
        lower_layer_block(ctx, stmt.block, kind, name, fields, spans)
    return ctx.attempt(lambda: _make_layer(fields, spans, stmt.span), None)


def _make_layer(fields: dict[str, Any], spans: dict[str, Span], span: Span) -> ir.Layer:
    return ir.Layer.model_construct(**fields, spans=spans, span=span)


def lower_layer_block(ctx: Ctx, block: Sequence[ast.Stmt], kind: str, name: str, fields: dict[str, Any], spans: dict[str, Span]) -> None:
    keys = KeyTracker(ctx, schema.LAYER_SETTINGS, f"layer '{name}'")
    quant: dict[str, ir.Quant] = {}
    for s in block:
        if not keys.accept(s):
            continue
        key = s.key.name
        has_weights = kind in schema.WEIGHT_LAYERS
        if key in ("weights", "bias", "l1", "l2", "nobias") and not has_weights:
            ctx.error("E307", f"{kind} layer '{name}' has no weights, so `{key}` does not apply", s.key.span, "set it on a dense or conv layer")
            continue
        if key in ("weights", "bias", "activations"):
            if s.block is not None:
                ctx.error("E206", f"`{key}` takes no block", s.span, None)
            q = ctx.attempt(lambda: read_quant(flat(s), s.key.span), None)
            if q is not None:
                quant[key] = q
                spans[key] = q.span or s.span
        elif key == "batchnorm":
            if flat(s):
                ctx.error("E206", "`batchnorm` takes no value", flat(s)[0].span, None)
            if not has_weights:
                ctx.error(
                    "E307", f"`batchnorm` goes on a dense or conv layer, not on {kind} layer '{name}'", s.key.span, "use a standalone `batchnorm NAME` layer"
                )
            fields["batchnorm"] = True
        elif key == "nobias":
            fields["use_bias"] = False
        elif key in ("l1", "l2"):
            fields[key] = ctx.attempt(lambda: as_float(single(s), key, 0.0, 10.0), None)
        elif key == "reuse":
            v = ctx.attempt(lambda: single(s), None)
            if v is not None:
                fields["reuse"] = ctx.attempt(lambda: as_int(v, "reuse factor", 1, 1_000_000), None)
                spans["reuse"] = v.span
        elif key in ("result", "accum"):
            fields[key] = ctx.attempt(lambda: as_precision(single(s), key), None)
            spans[key] = s.span
        if s.block is not None and key not in ("weights", "bias", "activations"):
            ctx.error("E206", f"`{key}` takes no block", s.span, None)
    if quant:
        fields["quant"] = ir.QuantSet.model_construct(None, **quant)


def lower_model(ctx: Ctx, name: ast.Word, base: str | None, body: Sequence[ast.Stmt], span: Span) -> ir.Model:
    keys = KeyTracker(ctx, schema.MODEL_KEYS, f"model '{name.name}'")
    input_shape: tuple[int, ...] | None = None
    input_span: Span | None = None
    quant: dict[str, ir.Quant] = {}
    layers: list[ir.Layer] = []
    for s in body:
        key = s.key.name
        if key not in schema.MODEL_KEYS:
            # `dens fc1 8 relu`, `lstm l1 8`: a layer of an unknown kind, unless it reads as a misspelt `input`/`quant`/...
            near_layer = did_you_mean(key, schema.LAYER_KINDS) is not None
            near_other = did_you_mean(key, [k for k in schema.MODEL_KEYS if k not in schema.LAYER_KINDS]) is not None
            named = bool(flat(s)) and isinstance(flat(s)[0], ast.Word)
            if near_layer or (named and not near_other):
                ctx.error("E208", f"unknown layer kind '{key}'", s.key.span, choices_hint(key, schema.LAYER_KINDS))
                continue
        if not keys.accept(s, repeatable=key in schema.LAYER_KINDS):
            continue
        if key == "input":
            input_shape = _ONE  # a bad value is reported below, not as a missing `input`
            input_span = s.key.span
            v = ctx.attempt(lambda: single(s), None)
            shape = ctx.attempt(lambda: as_dims(v, "input shape"), None) if v is not None else None
            if shape is not None and v is not None:
                input_shape, input_span = shape, v.span
            else:
                ctx.stand_ins.add("input")  # no shape is checked against the stand-in
            no_block(ctx, s)
        elif key == "quant":
            quant.update(lower_quant_stmt(ctx, s, tuple(schema.QUANT_ROLES)))
        elif key in ("layer", "remove"):
            ctx.error("E201", f"`{key}` is only for models derived with `from`", s.key.span, f"write `model {name.name} from BASE {{ ... }}`")
        else:
            layer = lower_layer(ctx, s)
            if layer is not None:
                layers.append(layer)
    if input_shape is None:
        ctx.error("E202", f"model '{name.name}' has no `input`", name.span, "add e.g. `input 16` or `input (28, 28, 1)`")
        input_shape = (1,)
        ctx.stand_ins.add("input")
    if not any(s.key.name in schema.LAYER_KINDS for s in body):  # a layer that failed to read was reported already
        ctx.error("E305", f"model '{name.name}' has no layers", name.span, "add e.g. `dense out 5 softmax`")
    seen: dict[str, ir.Layer] = {}
    for layer in layers:
        if layer.name in seen:
            first = seen[layer.name].spans.get("name")
            ctx.error(
                "E301", f"layer name '{layer.name}' is used twice", layer.spans.get("name", layer.span), f"first used at line {first.line}" if first else None
            )
        else:
            seen[layer.name] = layer
    return ir.Model.model_construct(
        name=name.name,
        base=base,
        input_shape=input_shape,
        quant=ir.QuantSet.model_construct(None, **quant),
        layers=tuple(layers),
        span=span,
        input_span=input_span,
        name_span=name.span,
    )
