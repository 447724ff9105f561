"""QKeras backend: the context of `templates/train.py.j2` (the training script)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qapdsl import ir
from qapdsl.backends.literals import SpecLines, comment_text
from qapdsl.backends.plan import BuildError, Plan
from qapdsl.data import file_path

WRAP = 120  # longer layer constructors get one argument per line


def data_literal(spec: ir.Spec, out_dir: Path) -> dict[str, Any]:
    """The data source; a file path is stored relative to the output folder (the script resolves it from its own)."""
    data = spec.train.data
    out: dict[str, Any] = {"source": data.source, "name": data.name, "target": data.target}
    path = file_path(spec)
    if path is not None:
        # as written when absolute; else relative to the build folder, so the folder and the data can move together
        absolute = Path(data.name).is_absolute()
        out["path"] = str(path) if absolute else Path(os.path.relpath(path.resolve(), out_dir.resolve())).as_posix()
    return out


def prune_literal(spec: ir.Spec) -> dict[str, Any] | None:
    p = spec.prune
    if p is None:
        return None
    s = p.schedule
    if p.bias and s.kind != "iterative":  # make_plan reports it (E504); kept for callers that skip the plan
        raise BuildError("pruning biases (`bias on`) needs the iterative schedule; tfmot prunes kernels only", p.span, code="E504")
    return {
        "kind": s.kind,
        "scope": p.scope,
        "layers": tuple(p.layers),
        "bias": p.bias,
        "target": s.target,
        "initial": s.initial,
        "begin_step": s.begin_step,
        "end_step": s.end_step,
        "frequency": s.frequency,
        "power": s.power,
        "rounds": s.rounds,
        "rate": s.rate,
        "rewind": s.rewind,
        "epochs_per_round": s.epochs_per_round,
        "final_sparsity": s.final_sparsity,
    }


def train_context(spec: ir.Spec, plan: Plan, lines: SpecLines, out_dir: Path, spec_path: str) -> dict[str, Any]:
    model = spec.model
    model_lines: list[str] = []
    last: ir.Layer | None = None
    for kl in plan.layers:
        if kl.spec_layer is not None and kl.spec_layer is not last:
            c = lines.comment(kl.spec_layer.span, "    ")
            if c:
                model_lines.append(c)
            last = kl.spec_layer
        if kl.spec_layer is None and model.quant.inputs is not None:
            c = lines.comment(model.quant.inputs.span, "    ")
            if c:
                model_lines.append(c)
        ctor = f"prunable({kl.ctor})" if kl.prunable else kl.ctor
        line = f"    x = {ctor}(x)"
        if len(line) > WRAP and kl.call is not None:
            callee, args = kl.call
            opening, closing = (f"prunable({callee}(", "))") if kl.prunable else (f"{callee}(", ")")
            line = "\n".join([f"    x = {opening}", *(f"        {a}," for a in args), f"    {closing}(x)"])
        model_lines.append(line)
    input_comment = lines.comment(model.input_span, "    ")
    classes = spec.train.classes if spec.train.classes is not None else (plan.output_width if plan.output_width > 1 else 2)
    prune = prune_literal(spec)
    return {
        "version": _version(),
        "spec_path_text": comment_text(spec_path),
        "model_name": model.name,
        "input_shape": plan.input_shape,
        "input_name": plan.input_name,
        "output_width": plan.output_width,
        "classes": classes,
        "data": data_literal(spec, out_dir),
        "train": spec.train,
        "train_comment": lines.block(spec.train.span),
        "prune": prune,
        "prune_comment": lines.block(spec.prune.span) if spec.prune else "",
        "activation_outputs": dict(plan.activation_outputs),
        "qkeras_imports": plan.imports,
        "input_comment": input_comment,
        "model_lines": model_lines,
    }


def _version() -> str:
    from qapdsl import __version__

    return __version__
