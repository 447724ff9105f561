"""Rendering a build plan as Keras code, one generator per training dialect (after sqlglot's generator).

The base `Generator` holds what every Keras dialect shares and two tables:

- `TRANSFORMS`: plan op (`dense`, `conv2d`, `quant_act`, `maxpool`, ...) → the
  method that renders a layer of that op as a constructor call;
- `TYPE_MAPPING`: quantizer kind (`fixed`, `bits`, `po2`, `binary`, `ternary`)
  → the method that spells a quantizer of that kind in the dialect.

A dialect (`qapdsl.backends.qkeras.QKeras`, `qapdsl.backends.hgq2.HGQ2`) is a
small subclass that overrides only the entries that differ; what it can spell at
all is `qapdsl.expressible`'s table (which `qapc check` reads too). Spec text never
reaches the code here: names are checked identifiers and every value is a
number, a known word or an `ir.Quant`, rendered through `literals.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar

from qapdsl import expressible, ir
from qapdsl.backends.literals import SpecLines
from qapdsl.plan import BuildError, Plan, PlanLayer

Call = tuple[str, tuple[str, ...]]  # (callee, arguments): `callee(arg, arg, ...)`, one argument per line when long
# (generator, quant, role, activation) -> expression; `...` because dialects register their own methods
QuantizerRenderer = Callable[..., "str | None"]
LayerRenderer = Callable[..., Call]  # (generator, plan layer) -> call

# What a quantizer expression may look like: a call with numbers, keywords, known words and booleans.
_WORDS = "auto|auto_po2|weight|bias|datalane|table|channel|layer"
_ARG = rf"(?:[a-z_0-9]+=)?(?:-?[0-9.e+-]+|'(?:{_WORDS})'|'[A-Z_]+'|True|False|None|\(\))"
QUANTIZER_EXPR = re.compile(rf"[A-Za-z_0-9.]+\((?:{_ARG}(?:, {_ARG})*)?\)\Z")


def num(x: float) -> str:
    return repr(float(x))


def tuple_text(t: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(int(v)) for v in t) + ("," if len(t) == 1 else "") + ")"


class Generator:
    """Plain Keras layers; dialects add the quantized ones."""

    KERAS = "keras"  # how the generated code names the Keras module
    PRUNING_WRAPPER = True  # selected weight layers go through `prunable(...)` (tfmot's wrapper), else a callback prunes
    TRANSFORMS: ClassVar[dict[str, LayerRenderer]] = {}
    TYPE_MAPPING: ClassVar[dict[str, QuantizerRenderer]] = {}

    def __init__(self) -> None:
        self.imports: set[str] = set()  # names the dialect's quantized layers and quantizers need

    # -- the two tables' entry points ---------------------------------------------------------

    def layer(self, pl: PlanLayer) -> Call:
        where = pl.spec_layer.spans.get("name", pl.spec_layer.span) if pl.spec_layer is not None else None
        expressible.refuse_op(self.name(), pl)
        try:
            return type(self).TRANSFORMS[pl.op](self, pl)
        except BuildError as e:
            if e.span is None:
                e.span = where
            raise

    def quantizer(self, q: ir.Quant | None, role: str, activation: str | None = None) -> str | None:
        """The dialect's quantizer for a tensor; None leaves it float."""
        if q is None or q.kind == "float":
            return None
        expressible.refuse_quant(self.name(), q)
        expr = type(self).TYPE_MAPPING[q.kind](self, q, role, activation)
        if expr is not None and not QUANTIZER_EXPR.match(expr):
            raise BuildError(f"unexpected quantizer expression {expr!r}")
        return expr

    @classmethod
    def name(cls) -> str:
        return cls.__name__.lower()

    def model_lines(self, plan: Plan, lines: SpecLines, wrap: int = 120, *, wrap_prunable: bool = True) -> list[str]:
        """The body of `build_model`: one `x = Layer(...)(x)` per plan layer, each spec layer's line quoted above
        its first Keras layer; with `wrap_prunable` (tfmot's schedules) a weight layer selected for pruning goes
        through `prunable(...)`."""
        model = plan.model
        out: list[str] = []
        last: ir.Layer | None = None
        for pl in plan.layers:
            if pl.spec_layer is not None and pl.spec_layer is not last:
                c = lines.comment(pl.spec_layer.span, "    ")
                if c:
                    out.append(c)
                last = pl.spec_layer
            if pl.op == "input_quant":
                c = lines.comment(model.quant.inputs.span, "    ") if model.quant.inputs is not None else ""
                out.append(c or "    # the input, quantized as the firmware takes it (the target's precision): the spec quantizes the model but not its inputs")
            for callee, args in self.keras_layers(pl):
                ctor = f"{callee}({', '.join(args)})"
                wrapped = pl.prunable and self.PRUNING_WRAPPER and wrap_prunable
                line = f"    x = prunable({ctor})(x)" if wrapped else f"    x = {ctor}(x)"
                if len(line) > wrap and len(args) > 1:
                    opening, closing = (f"prunable({callee}(", "))") if wrapped else (f"{callee}(", ")")
                    line = "\n".join([f"    x = {opening}", *(f"        {a}," for a in args), f"    {closing}(x)"])
                out.append(line)
        return out

    def keras_layers(self, pl: PlanLayer) -> list[Call]:
        """The Keras layers of one plan layer: one, unless a dialect needs more."""
        return [self.layer(pl)]

    # -- shared rendering ------------------------------------------------------------------------

    def keras(self, cls: str) -> str:
        return f"{self.KERAS}.layers.{cls}"

    def regularizer(self, pl: PlanLayer) -> str | None:
        l1, l2 = pl.params.get("l1"), pl.params.get("l2")
        k = self.KERAS
        if l1 is not None and l2 is not None:
            return f"{k}.regularizers.l1_l2(l1={num(l1)}, l2={num(l2)})"
        if l1 is not None:
            return f"{k}.regularizers.l1({num(l1)})"
        if l2 is not None:
            return f"{k}.regularizers.l2({num(l2)})"
        return None

    def weight_args(self, pl: PlanLayer) -> list[str]:
        """Units/filters, then for conv layers kernel, strides and padding."""
        args = [str(int(pl.params["units"]))]
        if pl.op != "dense":
            args.append(f"kernel_size={tuple_text(pl.params['kernel'])}, strides={tuple_text(pl.params['strides'])}, padding={pl.params['padding']!r}")
        return args

    def weight_tail(self, pl: PlanLayer) -> list[str]:
        """What follows the quantizers: no bias, the regulariser, the name."""
        args = []
        if not pl.params.get("use_bias", True):
            args.append("use_bias=False")
        reg = self.regularizer(pl)
        if reg:
            args.append(f"kernel_regularizer={reg}")
        args.append(f"name={pl.name!r}")
        return args

    def float_weight_layer(self, pl: PlanLayer) -> Call:
        cls = {"dense": "Dense", "conv1d": "Conv1D", "conv2d": "Conv2D"}[pl.op]
        return self.keras(cls), (*self.weight_args(pl), *self.weight_tail(pl))

    def batchnorm(self, pl: PlanLayer) -> Call:
        return self.keras("BatchNormalization"), (f"name={pl.name!r}",)

    def activation(self, pl: PlanLayer) -> Call:
        return self.keras("Activation"), (repr(pl.params["activation"]), f"name={pl.name!r}")

    def pool(self, pl: PlanLayer) -> Call:
        cls = ("MaxPooling" if pl.op == "maxpool" else "AveragePooling") + f"{pl.params['rank']}D"
        p = pl.params
        return self.keras(cls), (f"pool_size={tuple_text(p['pool'])}", f"strides={tuple_text(p['strides'])}", f"padding={p['padding']!r}", f"name={pl.name!r}")

    def flatten(self, pl: PlanLayer) -> Call:
        return self.keras("Flatten"), (f"name={pl.name!r}",)

    def dropout(self, pl: PlanLayer) -> Call:
        return self.keras("Dropout"), (num(pl.params["rate"]), f"name={pl.name!r}")


Generator.TRANSFORMS = {
    "batchnorm": Generator.batchnorm,
    "activation": Generator.activation,
    "maxpool": Generator.pool,
    "avgpool": Generator.pool,
    "flatten": Generator.flatten,
    "dropout": Generator.dropout,
}


def render_call(call: Call) -> str:
    callee, args = call
    return f"{callee}({', '.join(args)})"
