"""Every check of a lowered spec, in order (`check`), what the backends would refuse (`check_buildable`, from the
build plan and `qapdsl.expressible`), what is said once a spec has no error (`check_sound`), and the errors of one
variant of it (`check_point`: a sweep point, a search trial)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qapdsl import dialects, ir, learned, shapes
from qapdsl.diagnostics import Diagnostic

if TYPE_CHECKING:
    pass
from qapdsl.checks.data import check_data
from qapdsl.checks.dialect import check_bit_exact_flow, check_dialect
from qapdsl.checks.hardware import check_reuse, check_strategy
from qapdsl.checks.model import check_classes, check_names, check_output
from qapdsl.checks.pruning import check_pruning
from qapdsl.checks.quantizers import check_exactness, check_quant, check_signedness
from qapdsl.checks.rtl import check_rtl
from qapdsl.checks.study import check_axes, check_hardware_objectives


def check(spec: ir.Spec, stand_ins: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """Every check of a lowered spec. `stand_ins` names what lowering could not read and replaced
    (`input`, `data`): what depends on it is not checked, so a typo gives one error, not a cascade."""
    diags: list[Diagnostic] = []
    shaped = "input" not in stand_ins
    layer_shapes, shape_diags = shapes.infer(spec.model)
    if shaped:
        diags += shape_diags
    diags += check_names(spec.model)
    diags += check_dialect(spec)
    diags += learned.check(spec, dialects.get(spec.train.dialect).learned_widths, spec.train.dialect)
    diags += check_quant(spec.model)
    diags += check_signedness(spec)
    if "data" not in stand_ins:
        diags += check_classes(spec, layer_shapes)
    diags += check_output(spec, layer_shapes)
    if shaped:
        diags += check_data(spec)
    diags += check_pruning(spec, stand_ins)
    if shaped and not shape_diags:  # fan-ins after a shape error are guesses
        diags += check_reuse(spec, layer_shapes)
    diags += check_axes(spec, stand_ins)
    diags += check_hardware_objectives(spec)
    diags += check_strategy(spec)
    return diags


def check_sound(spec: ir.Spec) -> list[Diagnostic]:
    """What is said of a spec once it has no error: what the backends would refuse, then what the firmware
    can only approximate (a warning)."""
    from qapdsl.plan import make_plan

    return check_buildable(spec) or check_exactness(spec, make_plan(spec))


def check_buildable(spec: ir.Spec) -> list[Diagnostic]:
    """What the backends refuse (generated-name clashes, limits of hls4ml), found by planning the build.

    The plan is pure Python (no jinja2, no ML stack), so `qapc check` runs it
    and reports these with their spans instead of leaving them to `qapc build`.
    """
    from qapdsl import expressible
    from qapdsl.plan import BuildError, make_plan

    try:
        plan = make_plan(spec)
        expressible.refuse(spec.train.dialect, plan)  # what the dialect cannot spell
    except BuildError as e:
        return [Diagnostic(e.code, e.message, e.span, e.hint)]
    return check_bit_exact_flow(spec, plan) + check_rtl(spec, plan)


def check_point(spec: ir.Spec, plan: bool = True) -> list[Diagnostic]:
    """The errors of one variant of a spec (a sweep point, a search trial): the checks and the build plan.

    `plan=False` skips planning the build, for variants whose settings cannot change what the
    plan refuses (`plan_sensitive`) of a spec whose plan passed."""
    errors = [d for d in check(spec) if d.severity == "error"]
    return errors or (check_buildable(spec) if plan else [])
