"""The build plan: the Keras layer graph a spec becomes, shared by every backend and by `qapc check`.

One spec layer may become several Keras layers: `dense fc1 64 relu { batchnorm }`
is a dense layer `fc1`, a batch normalisation `fc1_bn` and a quantized activation
`fc1_relu`. Every training dialect (QKeras, HGQ2) and hls4ml configure layers by
name, so the names are decided here, once, together with the fixed-point type
hls4ml sees on each tensor. The types follow `qapdsl.quant`: weights
`fixed<W,I>`, quantized activations with QKeras's rounding and saturation, and
dense/conv accumulators and results exact (`quant.accumulator`), so hls4ml's C++
emulation computes what the trained model computes.

The plan is data, not code: each `PlanLayer` says *what* the layer is (an op,
its parameters, its quantizers as `ir.Quant`), never how a dialect spells it;
`qapdsl.backends.generator` and its dialects render it. It sits below the checks
(`qapc check` plans the build, to report what a backend would refuse, with spans)
and below the backends, which only render.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from qapdsl import ir, names, quant, shapes
from qapdsl.source import Span

# Precisions of tensors that QKeras keeps in float but hls4ml computes in fixed point:
# wide enough that the rounding differences stay far below the next quantizer's step.
BN_SCALE = quant.Fixed(True, 32, 10)
BN_BIAS = quant.Fixed(True, 32, 10)
BN_RESULT = quant.Fixed(True, 32, 12)
# Softmax ("stable"): exp(x - max) and 1/sum come from tables indexed by the top log2(TableSize) bits
# of their inputs, so those inputs get just the range they need: x_max - x in [0, 8) (exp(-8) is
# below the output's resolution) and the sum of exps in [1, n].
SOFTMAX_TABLE_SIZE = 4096
SOFTMAX_INDEX_BITS = 12
SOFTMAX_RESULT = quant.Fixed(False, 18, 1, "RND", "SAT")
SOFTMAX_TABLE = quant.Fixed(False, 18, 1, "RND", "SAT")
SOFTMAX_INP_NORM = quant.Fixed(False, SOFTMAX_INDEX_BITS, 3, "TRN", "SAT")
SIGMOID_RESULT = quant.Fixed(False, 18, 1, "RND", "SAT")
TANH_RESULT = quant.Fixed(True, 18, 2, "RND", "SAT")
TABLE_SIZE = 4096  # sigmoid and tanh tables over [-8, 8): a step of 1/256 keeps the flips of an output sigmoid to near-ties
TABLE_INPUT = quant.Fixed(True, 12, 4, quant.ACT_ROUNDING, "SAT")  # their index: 2^12 = TABLE_SIZE steps of 1/256 over [-8, 8)

AP_MAX_WIDTH = 1024  # AP_INT_MAX_W: the widest ap_fixed the firmware's headers allow
RESERVED = frozenset({"input"})  # hls4ml refuses layers named `input`
# What hls4ml 1.3.0 appends to a layer's name for the C++ typedefs of its tensors and tables
HLS_TYPEDEF_SUFFIXES = ("accum_t", "table_t", "exp_table_t", "inv_table_t", "inv_inp_t", "inp_norm_t", "result_t", "scale_t", "bias_t", "weight_t")

HLS_BACKENDS = {"vivado": "Vivado", "vitis": "Vitis", "quartus": "Quartus", "oneapi": "oneAPI", "catapult": "Catapult"}


class BuildError(Exception):
    """The spec passes the language's checks but cannot be built (e.g. a generated layer name collides).

    `qapdsl.checks` runs `make_plan` too, so `qapc check` reports these as
    diagnostics (code, span, hint) before anyone builds.
    """

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None, code: str = "E309") -> None:
        super().__init__(message)
        self.message, self.span, self.hint, self.code = message, span, hint, code


@dataclass
class PlanLayer:
    """One Keras layer of the generated model, in no dialect's spelling.

    `op` is one of: `input_quant` (the quantizer of the network input), `dense`,
    `conv1d`, `conv2d`, `batchnorm`, `quant_act` (a quantized relu or linear
    output), `activation` (a float activation: relu, linear, softmax, sigmoid,
    tanh), `maxpool`, `avgpool`, `flatten`, `dropout`. `params` holds what the
    op needs (units, kernel, strides, padding, use_bias, l1, l2, activation,
    pool, rank, rate); `quant` the quantizers by role (`weights`, `bias`,
    `activations`, `inputs`), float ones left out.
    """

    name: str
    spec_layer: ir.Layer | None  # the spec layer it comes from (None: the input quantizer)
    op: str
    params: dict[str, Any] = field(default_factory=dict)
    quant: dict[str, ir.Quant] = field(default_factory=dict)
    hls: dict[str, object] = field(default_factory=dict)  # hls4ml LayerName entry (empty: none written)
    prunable: bool = False  # a weight layer selected for pruning


PASS_THROUGH = ("flatten", "dropout")  # ops that leave values (and, in hls4ml, their type) as they are


TABLE_ACTIVATIONS = ("softmax", "sigmoid", "tanh")  # lookup tables in hls4ml; in HGQ2 (quantized model) with input and output quantizers
TABLE_RESULTS = {"softmax": SOFTMAX_RESULT, "sigmoid": SIGMOID_RESULT, "tanh": TANH_RESULT}  # what each table activation outputs


def _mark_requantizers(layers: list[PlanLayer]) -> list[str]:
    """A quantizer that directly follows another quantizer of a different type (only flatten / dropout
    between; the same type again changes nothing): `params["after_quantizer"]` says which (for messages).
    hls4ml's bit-exact flow (HGQ2) fuses consecutive quantizers and rounds once where the model rounds
    twice. Quantizers here: a quantized activation, the input's, and, in a quantized model, the output
    and input quantizers of a lookup-table activation (`TABLE_ACTIVATIONS`, HGQ2's QSoftmax /
    QUnaryFunctionLUT). A relu gets `params["requantizer"]`, the name of its own quantizer where a dialect
    makes the relu and the quantizer two layers. Returns the names it adds."""
    tables = any(pl.op == "input_quant" for pl in layers)

    def quantizes(pl: PlanLayer) -> bool:
        return pl.op in ("quant_act", "input_quant") or (tables and pl.op == "activation" and pl.params.get("activation") in TABLE_ACTIVATIONS)

    added: list[str] = []
    before: PlanLayer | None = None
    for pl in layers:
        # a table's input quantizer (TABLE_INPUT, or the softmax's on x - max) differs from what comes before it
        differs = pl.op == "activation" or _result(pl) != _result(before) if before is not None else False
        if pl.op != "input_quant" and quantizes(pl) and before is not None and quantizes(before) and differs:
            pl.params["after_quantizer"] = (
                f"the {before.params['activation']} of '{before.spec_layer.name}'"
                if before.op == "activation" and before.spec_layer is not None
                else f"the activations of '{before.spec_layer.name}'"
                if before.spec_layer is not None
                else "the quantized input"
            )
            if pl.op == "quant_act" and pl.params.get("activation") == "relu":
                pl.params["requantizer"] = f"{pl.name}_quant"
                added.append(pl.params["requantizer"])
        if pl.op not in PASS_THROUGH:
            before = pl
    return added


def _result(pl: PlanLayer) -> object:
    precision = pl.hls.get("Precision")
    return precision.get("result") if isinstance(precision, dict) else None


@dataclass
class Plan:
    model: ir.Model
    input_shape: tuple[int, ...]
    input_name: str
    input_precision: quant.Fixed
    layers: list[PlanLayer]
    activation_outputs: dict[str, str]  # spec layer → Keras layer whose output is its activation (relu/linear)
    linear_entries: dict[str, dict[str, object]]  # hls4ml's own `<name>_linear` layers
    prune_layers: tuple[str, ...]
    output_width: int
    default_precision: quant.Fixed
    # The layer whose output feeds the final softmax or sigmoid: hls4ml computes those with lookup
    # tables that can make a tie of two logits closer than their resolution, so convert.py compares
    # the decisions on these exact logits (None: the model does not end in such an activation).
    logits_layer: str | None = None

    @property
    def quantized(self) -> bool:
        """Does the model quantize anything? (Then its input is quantized too: `quant.input_quant`.)"""
        return any(pl.op == "input_quant" for pl in self.layers)


def hls_strategy(strategy: str) -> str:
    """hls4ml's spelling: `Latency`, `Resource`; its distributed arithmetic passes compare with `distributed_arithmetic`."""
    return strategy if strategy == "distributed_arithmetic" else strategy.capitalize()


def check_name(name: str, span: Span | None = None) -> str:
    """A layer name TensorFlow and hls4ml's C++ accept (`qapdsl.names`), else BuildError E310."""
    problem = names.layer_name_problem(name)
    if problem is not None:
        raise BuildError(f"layer name '{name}' cannot be used: {problem}", span, "rename the layer, e.g. fc1 or conv_a", code="E310")
    return name


def check_model_name(model: ir.Model) -> None:
    problem = names.model_name_problem(model.name)
    if problem is not None:
        raise BuildError(
            f"model name '{model.name}' cannot be used: {problem}",
            model.name_span or model.span,
            f"rename the model, e.g. `model {names.suggestion(model.name)}`",
            code="E310",
        )


def check_typedefs(layer_names: list[str], model: ir.Model) -> None:
    """hls4ml makes C++ typedefs from layer names (`fc1_accum_t`, `fc1_relu_table_t`, `out_softmax_exp_table_t`):
    two layers must not make the same one (`a_exp` beside a softmax `a`)."""
    owner: dict[str, str] = {}
    for name in layer_names:
        for suffix in HLS_TYPEDEF_SUFFIXES:
            typedef = f"{name}_{suffix}"
            other = owner.setdefault(typedef, name)
            if other != name:
                clash = next((layer for layer in model.layers if layer.name in (name, other)), None)
                raise BuildError(
                    f"layers '{other}' and '{name}' would both make hls4ml's C++ type {typedef}",
                    clash.spans.get("name", clash.span) if clash else model.span,
                    "rename one of them",
                    code="E309",
                )


def geometry(layer: ir.Layer, rank: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Kernel and strides of a conv layer over `rank` spatial axes (a single number applies to every axis)."""
    kernel = layer.kernel or (1,) * rank
    if len(kernel) == 1 and rank == 2:
        kernel = kernel * 2
    stride = layer.stride or (1,) * rank
    if len(stride) == 1 and rank == 2:
        stride = stride * 2
    return kernel, stride


def saturating(fx: quant.Fixed) -> quant.Fixed:
    """A default type for tensors QKeras keeps in float: rounding and saturating unless the spec set modes."""
    if fx.rounding or fx.saturation:
        return fx
    return quant.Fixed(fx.signed, fx.width, fx.integer, "RND", "SAT")


def _width(layer: ir.Layer, width_of: dict[str, int]) -> int:
    """Values per sample at the output of `layer` (the softmax's slice width)."""
    return width_of.get(layer.name, 1)


def _prec(fx: quant.Fixed) -> str:
    return fx.hls()


def batchnorm_layer(name: str, layer: ir.Layer) -> PlanLayer:
    """A float batch normalisation and the wide hls4ml precisions that keep its firmware close to it."""
    hls: dict[str, object] = {"Precision": {"scale": _prec(BN_SCALE), "bias": _prec(BN_BIAS), "result": _prec(BN_RESULT)}}
    return PlanLayer(name, layer, "batchnorm", hls=hls)


def make_plan(spec: ir.Spec) -> Plan:
    model = spec.model
    target = spec.target
    check_model_name(model)  # it names the hls4ml project: the C++ top function, files, Tcl
    if spec.prune is not None and spec.prune.bias and spec.prune.schedule.kind != "iterative":
        raise BuildError(
            "pruning biases (`bias on`) needs the iterative schedule; tfmot prunes kernels only",
            spec.prune.span,
            "write `bias off`, or use `schedule iterative { ... }`",
            code="E504",
        )
    default = quant.fixed_of(target.precision) if target.precision else quant.fixed_of(quant.DEFAULT_PRECISION)
    layer_shapes, _ = shapes.infer(model)
    width_of = {ls.name: (ls.out_shape[-1] if ls.out_shape else 1) for ls in layer_shapes}
    prune_layers = tuple(spec.prune.layers) if spec.prune else ()
    for n in prune_layers:
        check_name(n)
    pruned = frozenset(prune_layers)
    strategy = hls_strategy(target.strategy)
    layers: list[PlanLayer] = []
    act_outputs: dict[str, str] = {}
    linear_entries: dict[str, dict[str, object]] = {}
    input_name = "inputs"  # hls4ml reserves `input`

    inq = quant.input_quant(spec)
    cur: quant.Fixed
    if inq.kind == "float":
        cur = input_precision = saturating(default)
    else:
        fx = quant.activation_fixed(inq, None)
        if fx is None:
            raise BuildError(f"{inq.kind} is not usable for the network input", inq.span, "use fixed<W,I>, N bits or float", code="E403")
        cur = input_precision = fx
        layers.append(PlanLayer("input_q", None, "input_quant", quant={"inputs": inq}, hls={"Precision": {"result": _prec(fx)}}))

    def act_layer(layer: ir.Layer, name: str, act: str, q: ir.Quant, main_output: str) -> str:
        """Append the activation of `layer` (if any) as Keras layer `name`; returns the output layer's name."""
        nonlocal cur
        if act in ("relu", "linear") and q.kind != "float":
            fx = quant.activation_fixed(q, act)
            hls: dict[str, object] = {}
            if fx is not None:
                hls = {"Precision": {"result": _prec(fx)}}
                cur = fx
            layers.append(PlanLayer(name, layer, "quant_act", {"activation": act}, {"activations": q}, hls))
            return name
        if act == "linear":
            if layer.kind == "activation":
                layers.append(PlanLayer(name, layer, "activation", {"activation": "linear"}, hls={"Precision": {"result": _prec(cur)}}))
                return name
            return main_output
        if act == "relu":
            layers.append(PlanLayer(name, layer, "activation", {"activation": "relu"}, hls={"Precision": {"result": _prec(cur)}}))
            return name
        if act == "softmax":
            n = max(_width(layer, width_of), 2)
            sum_int = math.ceil(math.log2(n)) + 1
            inv_input = quant.Fixed(False, SOFTMAX_INDEX_BITS, sum_int, "TRN", "SAT")  # the sum of exps in [1, n]
            # hls4ml 1.3.0 takes the table types only as `<name>_t` layer keys, not under Precision
            hls = {
                "Precision": {
                    "result": _prec(SOFTMAX_RESULT),
                    "accum": _prec(quant.Fixed(False, SOFTMAX_TABLE.width + sum_int, sum_int + 1, "RND", "SAT")),
                },
                "exp_table_t": _prec(SOFTMAX_TABLE),
                "inv_table_t": _prec(SOFTMAX_TABLE),
                "inv_inp_t": _prec(inv_input),
                "inp_norm_t": _prec(SOFTMAX_INP_NORM),
                "TableSize": SOFTMAX_TABLE_SIZE,
                "Implementation": "stable",
            }
            cur = SOFTMAX_RESULT
        else:
            res = SIGMOID_RESULT if act == "sigmoid" else TANH_RESULT
            hls = {"Precision": {"result": _prec(res)}, "TableSize": TABLE_SIZE}
            cur = res
        params = {"activation": act, "inv_input": inv_input} if act == "softmax" else {"activation": act}
        layers.append(PlanLayer(name, layer, "activation", params, hls=hls))
        return name

    for layer, ls in zip(model.layers, layer_shapes, strict=True):
        name = check_name(layer.name, layer.spans.get("name", layer.span))
        eff = quant.effective(model, layer)
        kind = layer.kind
        if kind in ("dense", "conv1d", "conv2d"):
            if layer.use_bias and eff.bias.kind == "po2":
                raise BuildError(
                    f"hls4ml 1.3.0 cannot compile power-of-two biases (layer '{name}')",
                    eff.bias.span or layer.spans.get("name", layer.span),
                    f"give the bias its own quantizer, e.g. `{layer.kind} {name} ... {{ bias fixed<8,3> }}`",
                    code="E403",
                )
            rank = 1 if kind == "conv1d" else 2
            params: dict[str, Any] = {"units": int(layer.units or 1), "use_bias": layer.use_bias, "l1": layer.l1, "l2": layer.l2}
            if kind != "dense":
                kernel, stride = geometry(layer, rank)
                params.update(kernel=kernel, strides=stride, padding=layer.padding)
            quants = {"weights": eff.weights} if eff.weights.kind != "float" else {}
            if layer.use_bias and eff.bias.kind != "float":
                quants["bias"] = eff.bias
            # hls4ml types: weights on their grid, accumulator and result exact
            w_fx = quant.to_fixed(eff.weights) if eff.weights.kind not in ("float", "po2") else None
            b_fx = quant.to_fixed(eff.bias) if eff.bias.kind not in ("float", "po2") else None
            w_t = w_fx or default
            b_t = (b_fx or default) if layer.use_bias else None
            precision: dict[str, str] = {}
            if eff.weights.kind != "po2":
                precision["weight"] = _prec(w_t)
            if b_t is not None and eff.bias.kind != "po2":
                precision["bias"] = _prec(b_t)
            exact = quant.accumulator(cur, w_t, b_t, ls.fan_in)
            params["exact_accum"] = exact  # what an `accum` / `result` override narrower than this gives up
            accum = quant.fixed_of(layer.accum) if layer.accum else exact
            if layer.result:
                result = quant.fixed_of(layer.result)
            elif w_fx is not None and eff.weights.kind != "po2":
                result = accum
            else:
                result = saturating(default)  # a float layer: the default precision, saturating instead of wrapping
            for fx in (accum, result):
                if fx.width > AP_MAX_WIDTH:
                    raise BuildError(
                        f"the exact sum of '{name}' needs {fx.spec()}: more than the {AP_MAX_WIDTH} bits an ap_fixed can hold",
                        layer.spans.get("name", layer.span),
                        "quantize the activations between layers (each layer's exact sum widens the next one), narrow the weights, or set `accum` and `result`",
                        code="E405",
                    )
            precision["accum"] = _prec(accum)
            precision["result"] = _prec(result)
            reuse = layer.reuse or target.reuse
            hls: dict[str, object] = {"Precision": precision, "ReuseFactor": reuse, "Strategy": strategy}
            layers.append(PlanLayer(name, layer, kind, params, quants, hls, prunable=name in pruned))
            cur = result
            # hls4ml splits the (linear) activation of a Dense/Conv into `<name>_linear`; with the
            # same type as the layer's result it is removed instead of becoming a cast
            linear_entries[f"{name}_linear"] = {"Precision": {"result": _prec(result)}}
            out_name = name
            if layer.batchnorm:
                bn = f"{name}_bn"
                layers.append(batchnorm_layer(bn, layer))
                cur = BN_RESULT
                out_name = bn
            act = layer.activation or "linear"
            suffix = "quant" if act == "linear" else act
            out = act_layer(layer, f"{name}_{suffix}", act, eff.activations, out_name)
            if act in ("relu", "linear"):
                act_outputs[name] = out
        elif kind == "batchnorm":
            layers.append(batchnorm_layer(name, layer))
            cur = BN_RESULT
        elif kind == "activation":
            act = layer.activation or "linear"
            out = act_layer(layer, name, act, eff.activations, name)
            if act in ("relu", "linear"):
                act_outputs[name] = out
        elif kind in ("maxpool", "avgpool"):
            rank = len(ls.in_shape) - 1
            pool, stride = shapes.pool_geometry(layer, rank)
            params = {"rank": rank, "pool": pool, "strides": stride, "padding": layer.padding}
            if kind == "maxpool":
                hls = {"Precision": {"result": _prec(cur)}}
            else:
                cells = math.prod(int(v) for v in pool)
                extra = math.ceil(math.log2(cells)) if cells > 1 else 0
                exact_div = cells & (cells - 1) == 0
                frac = cur.fraction + (extra if exact_div else 16)
                acc = quant.Fixed(cur.signed, cur.integer + extra + frac, cur.integer + extra)
                res = quant.Fixed(cur.signed, cur.integer + frac, cur.integer)
                hls = {"Precision": {"accum": _prec(acc), "result": _prec(res)}}
                cur = res
            layers.append(PlanLayer(name, layer, kind, params, hls=hls))
        elif kind == "flatten":
            layers.append(PlanLayer(name, layer, "flatten"))
        elif kind == "dropout":
            layers.append(PlanLayer(name, layer, "dropout", {"rate": float(layer.rate or 0.0)}))
        else:  # pragma: no cover - the IR's Literal keeps this unreachable
            raise BuildError(f"unsupported layer kind {kind}")

    requantizers = _mark_requantizers(layers)
    all_names = [input_name] + [kl.name for kl in layers] + list(linear_entries) + requantizers
    check_typedefs([kl.name for kl in layers], model)
    counts = Counter(all_names)  # linear: `list.count` made checking a 8,000-layer spec take 11 s
    dupes = sorted({n for n, c in counts.items() if c > 1} | ({n for n in all_names if n in RESERVED}))
    if dupes:
        clash = next((layer for layer in model.layers if layer.name in dupes), None)
        raise BuildError(
            f"layer name '{dupes[0]}' clashes with a name qapc generates or hls4ml reserves",
            clash.spans.get("name", clash.span) if clash else model.span,
            "rename the layer (qapc adds _bn, _relu, _linear, _quant, _softmax, ... to layer names; hls4ml reserves `input`)",
        )
    logits_layer = None
    if len(layers) >= 2 and layers[-1].op == "activation" and layers[-1].params.get("activation") in ("softmax", "sigmoid"):
        logits_layer = layers[-2].name
    found = [ls for ls in layer_shapes if ls.kind in ("dense", "conv1d", "conv2d", "flatten")]
    output_width = math.prod(found[-1].out_shape) if found else math.prod(model.input_shape)
    return Plan(
        model=model,
        input_shape=tuple(model.input_shape),
        input_name=input_name,
        input_precision=input_precision,
        layers=layers,
        activation_outputs=act_outputs,
        linear_entries=linear_entries,
        prune_layers=prune_layers,
        output_width=output_width,
        default_precision=default,
        logits_layer=logits_layer,
    )
