"""Checks of the data source against the model: the input shape, the target, a data file's type and contents."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from qapdsl import data, ir, quant
from qapdsl.diagnostics import Diagnostic

if TYPE_CHECKING:
    pass



def check_data(spec: ir.Spec) -> list[Diagnostic]:
    """What the spec's data is known to be (scikit-learn's sets) against the model, and the split."""
    diags: list[Diagnostic] = []
    train = spec.train
    split_span = train.spans.get("split", train.span)
    if train.test <= 0.0:
        diags.append(
            Diagnostic(
                "E602", "`split test 0` leaves no test rows: nothing would measure accuracy or firmware agreement", split_span, "e.g. split test 0.2, val 0.25"
            )
        )
    if train.val <= 0.0:
        diags.append(
            Diagnostic("E602", "`split val 0` leaves no validation rows: training and early stopping need them", split_span, "e.g. split test 0.2, val 0.25")
        )
    if train.data.source == "file" and train.data.span is not None:
        diags += check_data_file(spec)
    facts = data.known(spec)
    if facts is None or train.data.span is None:  # no span: a stand-in after an error in `data`
        return diags
    name = train.data.name
    features = math.prod(spec.model.input_shape)
    if features != facts.features:
        shape_hint = "write `input 64`, or `input (8, 8, 1)` for the 8×8 images" if name == "digits" else f"write `input {facts.features}`"
        diags.append(
            Diagnostic(
                "E603",
                f"sklearn {name} has {facts.features} features per sample, but the model's input takes {features}",
                spec.model.input_span or spec.model.span,
                shape_hint,
            )
        )
    if train.classes is not None and train.classes != facts.classes:
        diags.append(
            Diagnostic(
                "E304",
                f"sklearn {name} has {facts.classes} classes, not {train.classes}",
                train.spans.get("classes", train.span),
                f"write `classes {facts.classes}`, or leave `classes` out",
            )
        )
    if train.scale == "none":
        inq = quant.input_quant(spec)
        fx = quant.to_fixed(inq) if inq.kind != "float" else quant.fixed_of(spec.target.precision or quant.DEFAULT_PRECISION)
        if fx is not None and facts.max_abs > fx.bounds()[1]:
            diags.append(
                Diagnostic(
                    "W407",
                    f"sklearn {name}'s unscaled features reach {facts.max_abs:g}, but the input's type {fx.spec()} stops at {fx.bounds()[1]:g}: "
                    "larger values saturate",
                    train.spans.get("scale", train.span),
                    "write `scale standard` or `scale minmax`, or give the input a wider type (`quant inputs fixed<W,I>`)",
                    "warning",
                )
            )
    if train.test > 0.0 and train.val > 0.0:
        n_train, n_val, n_test = data.split_sizes(facts.samples, train.test, train.val)
        if min(n_train, n_val, n_test) < facts.classes:
            diags.append(
                Diagnostic(
                    "E602",
                    f"the split leaves {n_train} training, {n_val} validation and {n_test} test rows of sklearn {name}'s {facts.samples}: "
                    f"fewer than its {facts.classes} classes",
                    split_span,
                    "hold out less data, e.g. split test 0.2, val 0.25",
                )
            )
    return diags


def check_data_file(spec: ir.Spec) -> list[Diagnostic]:
    """A data file that is missing (a warning: it may arrive before the run, or come with --data), or whose
    columns or arrays do not fit the spec: the label column or array, and the features the input takes."""
    d = spec.train.data
    path = data.file_path(spec)
    if path is None:
        return []
    if not path.is_file():
        return [
            Diagnostic(
                "W601",
                f"data file {d.name!r} not found (looked at {os.path.abspath(path)})",
                d.span,
                "`qapc run` needs it there, or another file with --data PATH",
                "warning",
            )
        ]
    facts = data.file_facts(path)
    if facts is None:
        return []
    m = data.misfit(facts, d.name, d.target, math.prod(spec.model.input_shape))
    if m is None:
        return []
    return [Diagnostic(m.code, m.message, (spec.model.input_span or d.span) if m.at_input else d.span, m.hint)]
