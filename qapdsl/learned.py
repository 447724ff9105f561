"""Learned bit widths: HGQ2's trainable per-weight precision, as a spec says it and as qapc counts it.

A quantizer written `learned Q [per weight|channel|layer] [beta B | beta B0..B1]` starts at the
fixed-point type Q (`fixed<8,3>`, `ufixed<6,2>`, `8 bits int 2`) and HGQ2 trains its widths by
gradient descent, against its resource term (EBOPs) weighted by `beta` in the loss (High
Granularity Quantization, Sun et al., arXiv 2405.00645). A weight that learns zero bits is zero:
pruned. `beta B0..B1` is a schedule over epochs, geometric from B0 at the first epoch to B1 at the
last (HGQ2's `PieceWiseSchedule` with `log` interpolation). Granularity: one width per weight
(HGQ2's default), per output channel, or one for the whole tensor.

This module holds the reading of that syntax (called by `qapdsl.lower`, whose `Bad` it cannot import:
it raises `Error`, which the lowering turns into a diagnostic), what the checks say about it, and the
heterogeneous BOPs (`bops`), exactly the paper's formula when every width is the same. Cheap to import.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

from qapdsl import ast, ir, schema
from qapdsl.diagnostics import Diagnostic, choices_hint
from qapdsl.source import Span

GRANULARITIES = schema.LEARNED_GRANULARITIES
DEFAULT_BETA = 1e-5  # HGQ2's own default beta0 (hgq.config.layer)
BETA_RANGE = (0.0, 1.0)  # beta weighs EBOPs (10^4..10^7 on small networks) against a loss of order 1
LEARNED_ROLES = ("weights", "bias")  # what the hgq2 dialect learns today (activations: a layer's own input quantizer, not yet)


class Error(Exception):
    """A learned quantizer that cannot be read: `qapdsl.lower` reports it as a diagnostic."""

    def __init__(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.span, self.hint = code, message, span, hint


def read(values: Sequence[ast.Value], read_start: Callable[[Sequence[ast.Value], Span], ir.Quant], span: Span) -> ir.Quant:
    """`learned Q [per G] [beta B | beta B0..B1]` (values[0] is the word `learned`): Q read by
    `read_start`, the options after it in either order, each once."""
    head = values[0]
    rest = list(values[1:])
    options: dict[str, tuple[ast.Word, ast.Value]] = {}
    while len(rest) >= 2 and isinstance(rest[-2], ast.Word) and rest[-2].name in schema.LEARNED_OPTIONS:
        word, value = rest[-2], rest[-1]
        if word.name in options:
            raise Error("E104", f"`{word.name}` given twice on one learned quantizer", word.span, "write it once")
        options[word.name] = (word, value)
        rest = rest[:-2]
    if rest and isinstance(rest[-1], ast.Word) and rest[-1].name in schema.LEARNED_OPTIONS:
        raise Error("E202", f"`{rest[-1].name}` needs a value", rest[-1].span, _option_hint(rest[-1].name))
    for v in rest:
        if isinstance(v, ast.Word) and v.name in schema.LEARNED_OPTIONS:
            raise Error("E206", f"`{v.name}` goes after the starting width", v.span, "write `learned fixed<8,3> per weight beta 1e-5`")
    if not rest:
        raise Error("E202", "a learned quantizer needs its starting width", head.span, "e.g. `learned fixed<8,3>` or `learned 8 bits int 2`")
    start = read_start(rest, span)
    if start.kind not in ("fixed", "bits"):
        raise Error(
            "E403",
            f"a {start.kind} quantizer has no width to learn",
            start.span or head.span,
            "start from a fixed-point type: `learned fixed<8,3>` or `learned 8 bits int 2`",
        )
    if start.alpha is not None:
        raise Error("E403", "a learned quantizer has no `alpha` scale (it is QKeras's)", start.span or head.span, "remove `alpha ...`")
    granularity: Literal["weight", "channel", "layer"] = "weight"
    beta, beta_end = DEFAULT_BETA, None
    spans: dict[str, Span] = {}
    if "per" in options:
        word, value = options["per"]
        if not isinstance(value, ast.Word) or value.name not in GRANULARITIES:
            got = value.name if isinstance(value, ast.Word) else None
            raise Error("E204", f"unknown granularity {_describe(value)}", value.span, choices_hint(got or "", tuple(GRANULARITIES)))
        granularity = cast(Literal["weight", "channel", "layer"], value.name)
        spans["per"] = _join(word.span, value.span)
    if "beta" in options:
        word, value = options["beta"]
        if isinstance(value, ast.RangeV):
            beta, beta_end = _beta(value.lo), _beta(value.hi)
            if beta == 0.0 or beta_end == 0.0:
                raise Error("E205", "a beta schedule is geometric: both ends must be above 0", value.span, "e.g. `beta 1e-7..1e-5`, or `beta 0` for no resource term")
        else:
            beta = _beta(value)
        spans["beta"] = _join(word.span, value.span)
    learned = ir.Learned.model_construct(granularity=granularity, beta=beta, beta_end=beta_end, span=head.span, spans=spans)
    end = values[-1].span
    whole = _join(head.span, end)
    return start.model_copy(update={"learned": learned, "span": whole})


def _join(a: Span, b: Span) -> Span:
    return Span.model_construct(file=a.file, line=a.line, column=a.column, end_line=b.end_line, end_column=b.end_column)


def _beta(v: ast.Value) -> float:
    if not isinstance(v, ast.Num):
        raise Error("E203", f"beta must be a number, not {_describe(v)}", v.span, _option_hint("beta"))
    x = float(v.value)
    lo, hi = BETA_RANGE
    if not math.isfinite(x) or not lo <= x <= hi:
        raise Error("E205", f"beta must be between {lo:g} and {hi:g}, not {v.text}", v.span, "typical values are 1e-7 to 1e-4")
    return x


def _describe(v: ast.Value) -> str:
    if isinstance(v, ast.Word):
        return f"'{v.name}'"
    if isinstance(v, ast.Num):
        return v.text
    return type(v).__name__.lower().rstrip("v")


def _option_hint(name: str) -> str:
    return {"per": "write `per weight`, `per channel` or `per layer`", "beta": "write `beta 1e-5` or a schedule `beta 1e-7..1e-5`"}[name]


def is_learned(q: ir.Quant | None) -> bool:
    return q is not None and q.learned is not None


def learned_quantizers(model: ir.Model) -> list[tuple[str, str, ir.Quant]]:
    """(layer name or "" for the model's, role, quantizer) of every learned quantizer written in the model."""
    out: list[tuple[str, str, ir.Quant]] = []
    for owner, qs in [("", model.quant), *((layer.name, layer.quant) for layer in model.layers)]:
        for role in ("weights", "bias", "activations", "inputs"):
            q = getattr(qs, role)
            if is_learned(q):
                out.append((owner, role, q))
    return out


def uses_learned(spec: ir.Spec) -> bool:
    return bool(learned_quantizers(spec.model))


def layer_beta(weights: ir.Quant | None, bias: ir.Quant | None) -> ir.Learned | None:
    """The resource term of one weight layer: its kernel's learned quantizer's, else its bias's."""
    for q in (weights, bias):
        if q is not None and q.learned is not None:
            return q.learned
    return None


def check(spec: ir.Spec, learned_widths: bool, dialect_name: str) -> list[Diagnostic]:
    """What `qapc check` says about learned quantizers: the dialect must learn widths (E406), the roles
    it learns are kernels and biases (E406), and one layer has one resource term (E406: a kernel and a
    bias of one layer with two different betas)."""
    from qapdsl import quant

    diags: list[Diagnostic] = []
    found = learned_quantizers(spec.model)
    for _owner, role, q in found:
        assert q.learned is not None
        at = q.learned.span or q.span
        if not learned_widths:
            diags.append(
                Diagnostic(
                    "E406",
                    f"the {dialect_name} dialect has fixed bit widths: it cannot learn them",
                    at,
                    "write `dialect hgq2` in the train section (HGQ2 trains the widths), or a fixed type without `learned`",
                )
            )
        elif role not in LEARNED_ROLES:
            diags.append(
                Diagnostic(
                    "E406",
                    f"learned {role} widths are not built yet: the hgq2 dialect learns the widths of kernels and biases",
                    at,
                    f"give the {role} a fixed type (drop `learned`); the weights' widths are learned against EBOPs, which count the input widths",
                )
            )
    if found and spec.target.rtl is not None:
        q = found[0][2]
        assert q.learned is not None
        diags.append(
            Diagnostic(
                "E407",
                "the RTL step does not take learned widths yet: it builds from the plan's fixed types",
                q.learned.span or q.span,
                "remove `rtl` from the target (hls4ml's conversion takes the learned widths), or give fixed types",
            )
        )
    if learned_widths:
        for layer in spec.model.layers:
            if layer.kind not in schema.WEIGHT_LAYERS:
                continue
            eff = quant.effective(spec.model, layer)
            w, b = eff.weights.learned, eff.bias.learned if layer.use_bias else None
            if w is not None and b is not None and (w.beta, w.beta_end) != (b.beta, b.beta_end):
                diags.append(
                    Diagnostic(
                        "E406",
                        f"the kernel and the bias of '{layer.name}' learn against two different betas: HGQ2 has one resource term per layer",
                        b.spans.get("beta") or b.span or w.span,
                        "give both the same `beta` (or leave it out on the bias)",
                    )
                )
    return diags


def hgq2_spelling(q: ir.Quant, role: str) -> str:
    """`learned(8, 3, 'weight')`, `learned(6, 1, 'bias', per='channel')`: a learned quantizer as the generated
    HGQ2 script's `learned` helper takes it (a trainable KBI quantizer starting at hls4ml's fixed<W,I>)."""
    from qapdsl import quant

    assert q.learned is not None
    fx = quant.to_fixed(q)
    assert fx is not None
    args = [str(fx.width), str(fx.integer), repr({"weights": "weight", "bias": "bias"}[role])]
    if not fx.signed:
        args.append("signed=0")
    if q.learned.granularity != "weight":
        args.append(f"per={q.learned.granularity!r}")
    return f"learned({', '.join(args)})"


# --- BOPs for heterogeneous widths --------------------------------------------------------------


def bops(kernel_bits: Sequence[Sequence[float]], input_bits: float | Sequence[float], positions: int = 1) -> float:
    """BOPs of one dense or conv layer whose every weight and every input has its own width.

    kernel_bits: n rows of m widths (a conv kernel flattened to n = k_h·k_w·C_in rows): the bits of
    weight (k, j), 0 for a pruned weight (a weight that learned zero bits is pruned). input_bits:
    the n widths of the inputs of one dot product (one number: all alike). positions: how often the
    kernel is applied (H_out·W_out for a conv, 1 for dense), so m·positions outputs in all.

        BOPs = positions · Σ_j Σ_k ( a_k·b_kj + a_k + b_max + log2 n )

    with b_max the layer's widest weight. With one width b_w for a fraction p of the weights kept
    (the others 0) and one input width b_a this is exactly the paper's m·n·(p·b_a·b_w + b_a + b_w +
    log2 n): the product term counts the bits each kept weight multiplies, the adder tree's width
    terms count every position of the dot product as the paper does. HGQ2's EBOPs are the product
    term alone (its `_compute_ebops`: Σ a_k·b_kj), so BOPs ≥ EBOPs of the kernel. Pure Python: qapc
    computes it from a run's metrics.json without numpy.
    """
    n = len(kernel_bits)
    m = len(kernel_bits[0]) if n else 0
    if n == 0 or m == 0 or any(len(row) != m for row in kernel_bits):
        raise ValueError("kernel_bits must be n rows of m widths each (n, m ≥ 1)")
    a = [float(input_bits)] * n if isinstance(input_bits, (int, float)) else [float(x) for x in input_bits]
    if len(a) != n:
        raise ValueError(f"{len(a)} input widths for a kernel of {n} rows")
    product = sum(a_k * sum(row) for a_k, row in zip(a, kernel_bits))
    widest = max(max(row) for row in kernel_bits)
    widths = m * sum(a) + n * m * (widest + math.log2(n))
    return positions * (product + widths)


def memory_after_run(run: Any) -> dict[str, float]:
    """Per weight layer that learned its widths, the bits of its weights and biases as trained (a zero
    weight or bias holds none): metrics.json's `kernel_bits` and `bias_bits`."""
    layers = run.get("layers") if isinstance(run, dict) else None
    out: dict[str, float] = {}
    for name, info in (layers or {}).items():
        bits = info.get("kernel_bits") if isinstance(info, dict) else None
        if isinstance(bits, list) and all(isinstance(row, list) for row in bits):
            out[name] = float(sum(sum(row) for row in bits) + int(info.get("bias_bits") or 0))
    return out


def bops_after_run(rows: Sequence[Any], run: Any) -> dict[str, float]:
    """Per weight layer that learned its widths, its BOPs from a run's trained widths (metrics.json's
    `learned.layers.NAME.kernel_bits`, 0 for a zero weight) and the input widths of `rows` (the report's
    `metrics.LayerFigures`: the inputs have fixed widths). Layers the run does not describe are left out."""
    layers = run.get("layers") if isinstance(run, dict) else None
    out: dict[str, float] = {}
    if not isinstance(layers, dict):
        return out
    for row in rows:
        info = layers.get(row.name)
        bits = info.get("kernel_bits") if isinstance(info, dict) else None
        if not isinstance(bits, list) or not bits or not isinstance(bits[0], list) or not bits[0]:
            continue
        m = len(bits[0])
        outputs = 1
        for d in row.out_shape:
            outputs *= int(d)
        out[row.name] = bops(bits, row.input_bits, max(outputs // m, 1))
    return out


# --- study axes: `quant.learned on|off`, `quant.beta B` (qapdsl.paths) ---------------------------


def switched(model: ir.Model, on: bool) -> ir.Model:
    """The model with learned widths switched on (its model-wide weights learn, from their type, with the
    beta of a learned quantizer it has, else the default) or off (every learned quantizer back to its
    starting type): learned widths as a study's choice beside fixed widths."""
    if not on:
        def plain(qs: ir.QuantSet) -> ir.QuantSet:
            upd = {r: q.model_copy(update={"learned": None}) for r in ("weights", "bias", "activations", "inputs") if (q := getattr(qs, r)) is not None and q.learned}
            return qs.model_copy(update=upd) if upd else qs

        layers = tuple(layer.model_copy(update={"quant": plain(layer.quant)}) for layer in model.layers)
        return model.model_copy(update={"quant": plain(model.quant), "layers": layers})
    weights = model.quant.weights
    if weights is None or weights.kind not in ("fixed", "bits"):
        raise ValueError("learned widths start from the model-wide weight type: give the model `quant weights fixed<W,I>` (or N bits)")
    if weights.learned is not None:
        return model
    found = learned_quantizers(model)
    resource = found[0][2].learned if found else ir.Learned.model_construct()
    assert resource is not None
    return model.model_copy(update={"quant": model.quant.model_copy(update={"weights": weights.model_copy(update={"learned": resource})})})


def with_beta(model: ir.Model, beta: float) -> ir.Model:
    """Every learned quantizer with the constant resource weight `beta` (a schedule is replaced)."""

    def set_beta(qs: ir.QuantSet) -> ir.QuantSet:
        upd = {
            r: q.model_copy(update={"learned": q.learned.model_copy(update={"beta": beta, "beta_end": None})})
            for r in ("weights", "bias", "activations", "inputs")
            if (q := getattr(qs, r)) is not None and q.learned is not None
        }
        return qs.model_copy(update=upd) if upd else qs

    layers = tuple(layer.model_copy(update={"quant": set_beta(layer.quant)}) for layer in model.layers)
    return model.model_copy(update={"quant": set_beta(model.quant), "layers": layers})
