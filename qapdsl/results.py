"""The shape of what `qapc run` writes and `qapc report` reads: results.json, and the metrics.json,
firmware.json and rtl.json it is made of (train.py's, convert.py's and rtl.py's outputs).

    results = load(Path("build/digits_qap/results.json"))   # the parsed JSON, its shape checked; or ResultsError

One model per file, checked strictly (a number is a JSON number, not a string that looks like one) on
every field something reads; fields nobody reads are kept as they are (`extra="allow"`), so a newer
qapc's results still load. The runner checks metrics.json and firmware.json with the same models
before it uses them, and results.json before it writes it: what `qapc report` refuses, `qapc run`
never writes. Errors name the file, the field's path and the type it needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

# Bounds of the figures: counts are whole numbers from 0 to a trillion (a LUT count of 10**400 is no figure),
# sizes (differences, costs, seconds) finite and not negative, fractions (accuracies) from 0 to 1.
Count = Annotated[int, Field(ge=0, le=10**12)]
Size = Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class Shape(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class Sparsity(Shape):
    layers: dict[str, float] = Field(default_factory=dict)  # per pruned layer: the fraction of weights at zero
    total: float | None = None  # over the pruned layers


class Metrics(Shape):
    """train.py's metrics.json (results.json's `metrics`)."""

    accuracy: float | None  # None: NaN in the file (results.json has no NaN)
    auc: float | dict[str, float | list[float | None] | None] | None = None  # {"mean": ..., "per_class": [... None: one class only in the test rows]}, or one number
    loss: float | None = None
    epochs: Count | None = None
    rounds: int | list[dict[str, Any]] | None = None
    sparsity: Sparsity | None = None
    sparsity_quantized: Sparsity | None = None
    wall_time_s: float | None = None
    n_train: Count | None = None
    n_val: Count | None = None
    n_test: Count | None = None


class Agreement(Shape):
    argmax: Count | None = None  # test rows whose decision agrees
    fraction: float | None = Field(default=None, ge=0, le=1)
    basis: Literal["outputs", "logits"] | None = None  # what `argmax` / `fraction` compare
    outputs_argmax: Count | None = None  # the outputs' argmax, when basis is "logits"
    outputs_fraction: float | None = Field(default=None, ge=0, le=1)


class Firmware(Shape):
    """convert.py's firmware.json (results.json's `firmware`)."""

    framework: str | None = None  # QKeras or HGQ2
    backend: str | None = None
    emulation_backend: str | None = None
    n_rows: Count | None = None
    agreement: Agreement | float | None = None  # a bare fraction in older results
    max_abs_diff: Size | None = None
    mean_abs_diff: Size | None = None
    model_accuracy: Fraction | None = None
    qkeras_accuracy: Fraction | None = None  # the old name of model_accuracy
    hls_accuracy: Fraction | None = None
    precision: list[dict[str, Any]] | None = None
    synth: dict[str, Any] | bool | None = None
    synth_plan: dict[str, Any] | None = None


class RtlLatency(Shape):
    adder_levels: list[Size] | None = None  # [min, max] over the outputs
    pipelined: bool | None = None
    latency_cutoff: float | None = None
    cycles: Count | None = None
    ns: Size | None = None
    clock_ns: Size | None = None


class RtlSynth(Shape):
    requested: bool | None = None
    ran: bool | None = None
    reason: str | None = None
    family: str | None = None  # synth_xilinx -family (rtlcaps.yosys_family of the part)
    wall_time_s: Size | None = None
    lut: Count | None = None  # LUT1-LUT6 and INV (Vivado implements an INV as a LUT1)
    inv: Count | None = None  # the INV cells among them
    ff: Count | None = None
    carry: Count | None = None
    dsp: Count | None = None


class Rtl(Shape):
    """rtl.py's rtl.json (results.json's `rtl`)."""

    n_rows: Count | None = None
    basis: Literal["outputs", "logits"] | None = None
    agreement: Agreement | None = None
    max_abs_diff: Size | None = None
    mean_abs_diff: Size | None = None
    rtl_accuracy: Fraction | None = None
    model_accuracy: Fraction | None = None
    cost: Size | None = None  # da4ml's estimate, in LUTs
    latency: RtlLatency | None = None
    registers: Count | None = None
    wall_time_s: dict[str, Size] | None = None
    synth: RtlSynth | None = None


class Efficiency(Shape):
    layers: dict[str, float] = Field(default_factory=dict)
    network: float | None = None


class Verify(Shape):
    ok: bool
    agreement: float | None = None
    min_agreement: float | None = None
    reason: str | None = None


class Results(Shape):
    """results.json, as `runner.pipeline.run_spec` writes it."""

    model: str
    metrics: Metrics
    firmware: Firmware | None = None
    rtl: Rtl | None = None
    efficiency: Efficiency | None = None
    spec: str | None = None
    spec_sha256: str | None = None
    dialect: str | None = None
    build_dir: str | None = None
    qapc_version: str | None = None
    started: str | None = None
    python: str | None = None
    versions: dict[str, str | None] | None = None
    overrides: dict[str, Any] | None = None
    steps: dict[str, dict[str, float]] | None = None
    report: dict[str, Any] | None = None
    verify: Verify | None = None
    wall_time_s: float | None = None


class ResultsError(ValueError):
    """A file that is not what it should be: the message names it, the field and the type it needs."""


# how a JSON value is named in messages, by what Pydantic expected
_EXPECTED = {
    "float_type": "a number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "a list",
    "none_required": "null",
    "finite_number": "a finite number",
}
_TAGS = ("float", "int", "str", "bool", "list", "dict", "none")
_MODELS = frozenset({"Sparsity", "Metrics", "Agreement", "Firmware", "Efficiency", "Verify", "Results"})


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and len(str(abs(value))) > 20:
        return f"a number of {len(str(abs(value)))} digits"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {json.dumps(shown)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_tag(part: object) -> bool:
    """A union member's name in an error's location (`auc.float`), not a field."""
    return isinstance(part, str) and (part in _TAGS or part in _MODELS or "[" in part)


def describe(error: ValidationError) -> str:
    """The first wrong field: its path, what it must be, what it is. Union members' errors are merged."""
    by_path: dict[str, list[ErrorDetails]] = {}
    for e in error.errors():
        path = ".".join(str(p) for p in e["loc"] if not _is_tag(p)) or "(the whole file)"
        by_path.setdefault(path, []).append(e)
    path, errors = next(iter(by_path.items()))
    if any(e["type"] == "missing" for e in errors):
        return f"{path}: missing"
    expected: list[str] = []
    for e in errors:
        if e["type"] == "literal_error":
            want = str((e.get("ctx") or {}).get("expected", e["msg"]))
        elif e["type"] in ("less_than_equal", "greater_than_equal"):
            bound = e.get("ctx") or {}
            want = f"a number at most {bound['le']:g}" if "le" in bound else f"a number at least {bound.get('ge', 0):g}"
        elif e["type"] in _EXPECTED:
            want = _EXPECTED[e["type"]]
        else:
            want = e["msg"][0].lower() + e["msg"][1:] if e["msg"] else e["type"]
        if want not in expected:
            expected.append(want)
    return f"{path}: expected {' or '.join(expected)}, got {_json_kind(errors[0]['input'])}"


def read_json(path: Path) -> Any:
    """The JSON in `path`; OSError, or ResultsError naming the file when it is not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ResultsError(f"{path} is not a text file (not UTF-8)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path} is not valid JSON: {e}") from None
    except RecursionError:
        raise ResultsError(f"{path} is nested too deeply to be a results file") from None


def check(model: type[Shape], data: Any, what: str) -> dict[str, Any]:
    """`data` when `model` accepts it; else ResultsError naming `what` (a file) and the first wrong field."""
    if not isinstance(data, dict):
        raise ResultsError(f"{what}: it holds {_json_kind(data)}, not a JSON object")
    try:
        model.model_validate(data)
    except ValidationError as e:
        raise ResultsError(f"{what}: {describe(e)}") from None
    return data


def load(path: Path) -> dict[str, Any]:
    """results.json, its shape checked (`Results`); raises OSError, or ResultsError saying what is wrong."""
    data = read_json(path)
    if isinstance(data, dict) and "metrics" not in data and ("files" in data or "ir_version" in data):
        raise ResultsError(f"{path} is a build's manifest, not the results of `qapc run` (results.json, beside it after a run)")
    return check(Results, data, f"{path} is not a results.json of `qapc run`")
