"""The step runner behind `qapc run` (and the sweeps): tools → build → train → convert → report → verify.

    results = run_spec(spec, Path("build/digits_qap"), epochs=5, progress=print)

- tools:   before anything runs, what the run needs is there: g++, and the ML stack in the
           interpreter the scripts run with; a data file exists (`preflight`).
- build:   the backends write train.py, hls4ml_config.yml, convert.py and manifest.json (in process).
- train:   `python train.py --out DIR [--epochs N] [--data PATH]` → the model (model.h5 for QKeras,
           model.keras for HGQ2), metrics.json, test_data.npz, activations.npz.
- convert: `python convert.py --model MODEL --data test_data.npz --out DIR [--synth]` → hls4ml
           project, C++ emulation compiled with g++ and compared with the model → firmware.json.
- rtl:     with `rtl verilog` in the target, `python rtl.py --model MODEL --data test_data.npz --out DIR`
           → da4ml's Verilog project (rtl_project/), compiled with Verilator, run on the test split and
           compared with the model, Yosys cell counts when yosys is on PATH → rtl.json.
- report:  neural efficiency from activations.npz, the report figures, → results.json, report.md.
- verify:  the firmware must agree with the model: model ↔ HLS (and model ↔ RTL) argmax agreement at
           least `target.agreement` (default 99%); below it the run fails, its figures kept.

The scripts run as subprocesses of the interpreter with the spec's dialect's ML stack
(`environments.find`: qapc's own, or `.venv-hgq2` for HGQ2), each
under `supervise.py` in a process group of its own, so that neither a killed
`qapc` (SIGKILL included) nor Ctrl-C leaves a train.py, convert.py or g++
writing into the folder. Their output (stdout and stderr) is saved to
DIR/<step>.log; the `@qapc {json}` lines they print are parsed and passed to
`progress`. A step that fails raises `StepError(step, cause)` with a cause a
person can act on (the exception the script died of, the missing tool, the
diverged loss); what earlier steps wrote is kept, and no results.json is
written (except for `verify`, whose figures are the point).

The caller holds the folder (`qapdsl.outdir.lock`): one run per folder at a time.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from qapdsl import __version__, dialects, environments, ir
from qapdsl import results as results_file

STEPS = ("tools", "build", "train", "convert", "report", "verify")
RTL_STEPS = ("tools", "build", "train", "convert", "rtl", "report", "verify")  # with `rtl verilog` in the target


def steps_of(spec: ir.Spec) -> tuple[str, ...]:
    """The steps a run of `spec` goes through."""
    return RTL_STEPS if spec.target.rtl is not None else STEPS
SUPERVISOR = Path(__file__).with_name("supervise.py")

Progress = Callable[[dict[str, Any]], None]


class StepError(Exception):
    """A pipeline step failed; `cause` says why in words a user can act on."""

    def __init__(self, step: str, cause: str, log: Path | None = None, results: dict[str, Any] | None = None) -> None:
        super().__init__(f"step '{step}' failed: {cause}")
        self.step = step
        self.cause = cause
        self.log = log
        self.results = results  # what the run measured, when it got that far (verify)


def _quiet(_: dict[str, Any]) -> None:
    return None


@contextmanager
def _step(name: str, emit: Progress, timings: dict[str, float], order: tuple[str, ...] = STEPS) -> Iterator[dict[str, Any]]:
    """Announce a step, time it, and turn unexpected in-process failures into StepError."""
    extra: dict[str, Any] = {}
    emit({"event": "step", "stage": name, "status": "start", "index": order.index(name) + 1, "total": len(order)})
    t0 = time.monotonic()
    try:
        yield extra
    except StepError as e:
        emit({"event": "step", "stage": name, "status": "failed", "cause": e.cause, "elapsed_s": time.monotonic() - t0})
        raise
    except OSError as e:
        cause = f"{e.strerror or e}: {e.filename}" if e.filename else str(e)
        emit({"event": "step", "stage": name, "status": "failed", "cause": cause, "elapsed_s": time.monotonic() - t0})
        raise StepError(name, cause) from e
    timings[name] = time.monotonic() - t0
    emit({"event": "step", "stage": name, "status": "done", "elapsed_s": timings[name], **extra})


# -- subprocesses ------------------------------------------------------------------------

_EXC_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning))(?::\s*(.*))?$")


def cause_from_output(lines: list[str], returncode: int, script: str | None = None) -> str:
    """Why a script died: its last exception line (`ValueError: ...`), else its last own
    message (`train.py: ...`, what the generated scripts exit with), else how it ended."""
    for line in reversed(lines):
        m = _EXC_LINE.match(line.strip())
        if m:
            name, message = m.group(1), (m.group(2) or "").strip()
            return f"{name}: {message}" if message else name
    if script is not None:
        own = next((ln.strip() for ln in reversed(lines) if ln.startswith(f"{script}: ")), None)
        if own:
            return own[len(script) + 2 :]
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode).name
        except ValueError:
            sig = f"signal {-returncode}"
        hint = " (out of memory?)" if sig == "SIGKILL" else ""
        return f"the script was killed by {sig}{hint}"
    last = next((ln.strip() for ln in reversed(lines) if ln.strip() and not ln.startswith("@qapc ")), "")
    return f"the script exited with code {returncode}" + (f"; last output: {last}" if last else "")


def _diverged(event: Mapping[str, Any]) -> str | None:
    """A non-finite loss at the end of an epoch (the generated scripts write it as null)."""
    for key in ("loss", "val_loss"):
        if key not in event:
            continue
        v = event[key]
        if (isinstance(v, float) and not math.isfinite(v)) or (v is None and key == "loss" and event.get("epoch") is not None):
            where = ", ".join(f"{k} {event[k]}" for k in ("round", "epoch") if event.get(k) is not None)
            value = "NaN or infinite" if v is None else str(v)
            return (
                f"training diverged: {key} became {value}" + (f" ({where})" if where else "") + "; lower the learning rate or check the data for NaN/inf values"
            )
    return None


def run_script(
    step: str,
    script: Path,
    args: list[str],
    cwd: Path,
    emit: Progress,
    watch: Callable[[Mapping[str, Any]], str | None] | None = None,
    python: str | None = None,
) -> None:
    """Run a generated script with `python` (default: this interpreter); parse its `@qapc` lines; raise StepError on failure."""
    python = python or sys.executable
    if not script.is_file():
        raise StepError(step, f"{script} is missing: the build did not write it")
    log_path = cwd / f"{step}.log"
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["QAPC_SUPERVISOR_PARENT"] = str(os.getpid())
    cmd = [python, str(script), *args]
    try:
        proc = subprocess.Popen(
            [sys.executable, str(SUPERVISOR), *cmd],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            env=env,
            start_new_session=True,  # its own process group: stopped as a whole (see supervise.py)
        )
    except OSError as e:
        raise StepError(step, f"cannot start {python}: {e.strerror or e}") from None
    tail: deque[str] = deque(maxlen=400)
    reported: str | None = None
    try:
        assert proc.stdout is not None
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)  # never through a link
        with os.fdopen(log_fd, "w", encoding="utf-8") as log:
            log.write("$ " + " ".join(cmd) + "\n")
            for line in proc.stdout:
                log.write(line)
                log.flush()
                text = line.rstrip("\n")
                tail.append(text)
                if not text.startswith("@qapc "):
                    continue
                try:
                    event = json.loads(text[len("@qapc ") :])
                except ValueError:
                    continue
                if not isinstance(event, dict):
                    continue
                if event.get("error"):
                    reported = str(event["error"])
                event["stage"] = step
                emit(event)
                cause = watch(event) if watch else None
                if cause:
                    _stop(proc)
                    raise StepError(step, cause, log_path)
        rc = proc.wait()
    finally:
        _stop(proc)
    if rc != 0:
        raise StepError(step, reported or cause_from_output(list(tail), rc, script.name), log_path)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Kill the supervisor's whole process group (the script and whatever it started), then reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _read_json(path: Path, step: str, shape: type[results_file.Shape]) -> dict[str, Any]:
    """A script's JSON output, its shape checked (`qapdsl.results`): what results.json will hold."""
    log = path.parent / f"{step}.log"
    try:
        return results_file.check(shape, results_file.read_json(path), path.name)
    except FileNotFoundError:
        raise StepError(step, f"the script finished but wrote no {path.name}", log) from None
    except OSError as e:
        raise StepError(step, f"cannot read {path.name}: {e.strerror or e}", log) from None
    except results_file.ResultsError as e:
        raise StepError(step, str(e), log) from None


# -- the steps ------------------------------------------------------------------------------


def _build(spec: ir.Spec, out_dir: Path, spec_path: str | None) -> None:
    from qapdsl.backends import BuildError, build

    try:
        build(spec, out_dir, spec_path=spec_path)
    except BuildError as e:
        raise StepError("build", str(e)) from None


def preflight(spec: ir.Spec, data: str | None, out_dir: Path | None = None, synth: bool = False, spec_path: str | None = None) -> dict[str, Any]:
    """What the run needs, checked before anything runs: `qapdsl.doctor.for_run`, the checks of
    `qapc doctor SPEC`; the first ✗ raises StepError('tools', ...) with its fix, in the doctor's words.

    Returns what was found, for the later steps: g++, the interpreter of the spec's dialect (`python`),
    and the `--data` argument for train.py (`data`: an absolute path for an override, else None).
    """
    from qapdsl import doctor

    checks = doctor.for_run(spec, data=data, out_dir=out_dir, synth=synth)
    failed = doctor.failures(checks)
    if failed:
        more = len(failed) - 1
        also = f" (and {more} more: `qapc doctor {spec_path or 'SPEC'}` lists them)" if more else ""
        raise StepError("tools", failed[0].sentence() + also)
    found = {c.key: c.found for c in checks}
    dialect = dialects.get(spec.train.dialect)
    return {
        "g++": found.get("g++"),
        "python": found.get(f"env:{dialect.name}"),
        "dialect": dialect.name,
        "data": found.get("data") if data is not None else None,
    }


def _check_metrics(metrics: Mapping[str, Any], log: Path) -> None:
    for key in ("loss", "accuracy"):
        v = metrics.get(key)
        if isinstance(v, float) and not math.isfinite(v):
            raise StepError("train", f"training diverged: the final {key} is {v}; lower the learning rate or check the data for NaN/inf values", log)
    if not isinstance(metrics.get("accuracy"), int | float):
        raise StepError("train", "metrics.json has no accuracy", log)
    if "loss" in metrics and metrics["loss"] is None:
        raise StepError("train", "training diverged: the final test loss is NaN or infinite; lower the learning rate or check the data for NaN/inf values", log)


# Run by the dialect's interpreter (both ML stacks have numpy and h5py; qapc itself may have neither):
# the layers whose trained weights are not finite, and the test rows with NaN/inf values.
SCAN_WEIGHTS = r"""
import json, sys
import numpy as np
out, model_file = sys.argv[1], sys.argv[2]
bad, error, rows = [], None, 0
try:
    if model_file.endswith((".keras", ".onnx")):  # Keras 3, Brevitas: the weights.npz train.py writes beside it, by layer name
        with np.load(f"{out}/weights.npz", allow_pickle=False) as w:
            bad = [k.split("/")[0] for k in w.files if w[k].dtype.kind == "f" and not np.all(np.isfinite(w[k]))]
    else:
        import h5py
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" and not np.all(np.isfinite(obj[()])):
                parts = name.split("/")
                bad.append(parts[1] if parts[0] == "model_weights" and len(parts) > 1 else parts[0])
        with h5py.File(f"{out}/{model_file}", "r") as f:
            f.visititems(visit)
except (OSError, ValueError) as e:
    error = str(e)
if bad:
    try:
        with np.load(f"{out}/test_data.npz") as d:
            rows = int(np.sum(~np.all(np.isfinite(d["X_test"].reshape(len(d["X_test"]), -1)), axis=1)))
    except (OSError, KeyError, ValueError):
        pass
print(json.dumps({"bad": bad, "error": error, "nan_rows": rows}))
"""


def check_trained(out_dir: Path, model_file: str = "model.h5", python: str | None = None) -> None:
    """Divergence the loss did not show: Keras's clipped cross-entropy stays finite while the
    weights turn NaN (the model then predicts one class). `SCAN_WEIGHTS` reads the weights without
    Keras, in `python` (the interpreter that trained: qapc's own may have no numpy)."""
    log = out_dir / "train.log"
    shown = "weights.npz" if model_file.endswith((".keras", ".onnx")) else model_file
    cmd = [python or sys.executable, "-c", SCAN_WEIGHTS, str(out_dir), model_file]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        raise StepError("train", f"cannot check the trained weights in {shown}: {e}", log) from None
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 and done.stdout.strip() else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise StepError("train", f"cannot check the trained weights in {shown}: {done.stderr.strip()[-300:]}", log)
    if found.get("error"):
        raise StepError("train", f"cannot read {shown}: {found['error']}", log)
    bad = [str(b) for b in found.get("bad") or []]
    if not bad:
        return
    rows = int(found.get("nan_rows") or 0)
    hint = f"the data has NaN/inf values ({rows} of the test rows): clean it" if rows else "lower the learning rate"
    layers = ", ".join(dict.fromkeys(bad))
    raise StepError("train", f"training diverged: the trained weights of {layers} are NaN or infinite; {hint}", log)


def _synth_plan(spec: ir.Spec, synth: bool) -> dict[str, Any]:
    from qapdsl import doctor

    if not synth:
        return {"requested": False}
    check = doctor.check_synth(spec.target.backend)
    tool = doctor.SYNTH_TOOLS.get(spec.target.backend, spec.target.backend)
    if check.status != "ok":
        return {"requested": True, "ran": False, "reason": check.text}
    return {"requested": True, "ran": True, "tool": tool}


def run_spec(
    spec: ir.Spec,
    out_dir: Path,
    *,
    epochs: int | None = None,
    data: str | None = None,
    synth: bool = False,
    progress: Progress | None = None,
    spec_path: str | None = None,
    min_agreement: float | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Build, train, convert and emulate `spec` in `out_dir`; return (and write) results.json.

    Before anything runs, every file the run would replace or delete must be qapc's
    (`qapdsl.outdir.ledger.claim`): otherwise ForeignFiles is raised with nothing changed, or,
    with `force`, the user's files are moved aside. Each step records what it wrote.

    `epochs` and `data` override the spec's; `synth` runs synthesis when the
    vendor tool is on PATH (else it is recorded as skipped). `progress` gets
    every event: the runner's own (`{"event": "step", "stage", "status": start|done|failed, ...}`,
    `{"event": "warning", ...}`) and the scripts' `@qapc` lines (with `stage` added).
    `min_agreement` overrides the spec's `target.agreement`. Raises StepError when a step fails.
    """
    from qapdsl import report
    from qapdsl.outdir import RUN_OUTPUTS, STEP_OUTPUTS, ledger

    threshold = spec.target.agreement if min_agreement is None else min_agreement
    emit = progress or _quiet
    out_dir = Path(out_dir).resolve()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    kept = ledger.claim(out_dir, RUN_OUTPUTS, force=force, command="the run")  # (nothing to claim in a folder not made yet)
    if kept:
        emit({"event": "warning", "stage": "build", "message": f"kept your {', '.join(p.name for p in kept)} aside in {kept[0].parent}/ (they were in qapc's way)"})
    order = steps_of(spec)

    with _step("tools", emit, timings, order):
        tools = preflight(spec, data, out_dir=out_dir, synth=synth, spec_path=spec_path)
        data_arg, python = tools["data"], tools["python"]
    out_dir.mkdir(parents=True, exist_ok=True)  # after the tools step: a run that cannot start leaves no folder
    model_file = dialects.get(spec.train.dialect).model_file

    with _step("build", emit, timings, order):
        ledger.remove(out_dir, STEP_OUTPUTS["report"])  # a stale one must not pass for this run's
        with ledger.writing(out_dir, STEP_OUTPUTS["build"], clear=False):
            _build(spec, out_dir, spec_path)

    # each step's stale outputs go first (the other dialect's model too: a folder holds one run's files, not a mix)
    with _step("train", emit, timings, order) as info, ledger.writing(out_dir, STEP_OUTPUTS["train"]):
        args = ["--out", str(out_dir)]
        if epochs is not None:
            args += ["--epochs", str(epochs)]
        if data_arg is not None:
            args += ["--data", data_arg]
        run_script("train", out_dir / "train.py", args, out_dir, emit, watch=_diverged, python=python)
        metrics = _read_json(out_dir / "metrics.json", "train", results_file.Metrics)
        _check_metrics(metrics, out_dir / "train.log")
        if not (out_dir / model_file).is_file():
            raise StepError("train", f"train.py finished but wrote no {model_file}", out_dir / "train.log")
        check_trained(out_dir, model_file, python)
        info["accuracy"] = metrics.get("accuracy")
        sp = metrics.get("sparsity")
        info["sparsity"] = sp.get("total") if isinstance(sp, Mapping) else None

    synth_plan = _synth_plan(spec, synth)
    with _step("convert", emit, timings, order) as info, ledger.writing(out_dir, STEP_OUTPUTS["convert"]):
        if synth_plan.get("reason"):
            emit({"event": "warning", "stage": "convert", "message": synth_plan["reason"]})
        args = ["--model", str(out_dir / model_file), "--data", str(out_dir / "test_data.npz"), "--out", str(out_dir)]
        if synth:
            args.append("--synth")  # convert.py records why synthesis did not run, if it cannot
        run_script("convert", out_dir / "convert.py", args, out_dir, emit, python=python)
        firmware = _read_json(out_dir / "firmware.json", "convert", results_file.Firmware)
        agreement = firmware.get("agreement")
        info["agreement"] = agreement.get("fraction") if isinstance(agreement, Mapping) else agreement
        info["hls_accuracy"] = firmware.get("hls_accuracy")

    rtl: dict[str, Any] | None = None
    if spec.target.rtl is not None:
        with _step("rtl", emit, timings, order) as info, ledger.writing(out_dir, STEP_OUTPUTS["rtl"]):
            args = ["--model", str(out_dir / model_file), "--data", str(out_dir / "test_data.npz"), "--out", str(out_dir)]
            run_script("rtl", out_dir / "rtl.py", args, out_dir, emit, python=python)
            rtl = _read_json(out_dir / "rtl.json", "rtl", results_file.Rtl)
            agreement = rtl.get("agreement")
            info["agreement"] = agreement.get("fraction") if isinstance(agreement, Mapping) else None
            info["cost"] = rtl.get("cost")
            synth_ = rtl.get("synth")
            if isinstance(synth_, Mapping) and synth_.get("requested") and not synth_.get("ran"):
                emit({"event": "warning", "stage": "rtl", "message": f"Yosys synthesis skipped: {synth_.get('reason')}"})

    with _step("report", emit, timings, order), ledger.writing(out_dir, STEP_OUTPUTS["report"]):
        efficiency = None
        activations = out_dir / "activations.npz"
        if activations.is_file():
            try:
                efficiency = report.load_efficiency(activations)
            except (OSError, ValueError) as e:
                raise StepError("report", f"cannot read {activations.name}: {e}") from None
            except ImportError:
                emit({"event": "warning", "stage": "report", "message": f"no neural efficiency: numpy, which reads {activations.name}, is not installed in {sys.executable}"})
        results: dict[str, Any] = {
            "qapc_version": __version__,
            "model": spec.model.name,
            "spec": spec_path,
            "spec_sha256": spec.sources[0].sha256 if spec.sources else None,
            "build_dir": str(out_dir),
            "started": started,
            "dialect": spec.train.dialect,
            "overrides": {"epochs": epochs, "data": data, "synth": synth, "min_agreement": min_agreement},
            # what the scripts ran with: the dialect's packages as installed in its interpreter
            "python": python,
            "versions": environments.versions(python, [re.split(r"[\[=<>]", p)[0] for p in dialects.get(spec.train.dialect).pins]) if python else {},
            "steps": {name: {"wall_time_s": round(t, 3)} for name, t in timings.items()},
            "metrics": metrics,
            "firmware": {**firmware, "synth_plan": synth_plan},
            "efficiency": efficiency,
        }
        if rtl is not None:
            results["rtl"] = rtl
        rep = report.build(spec, results, efficiency)
        results["report"] = rep.to_dict()
        results["verify"] = verdict(firmware, threshold)
        if rtl is not None and results["verify"]["ok"]:
            results["verify"] = verdict_rtl(rtl, threshold)
        results["wall_time_s"] = round(time.monotonic() - t0, 3)
        results = report.finite(results)
        try:  # what `qapc report` reads back: never a results.json it would refuse
            results_file.check(results_file.Results, results, "results.json")
        except results_file.ResultsError as e:
            raise StepError("report", str(e)) from None
        (out_dir / "report.md").write_text(render_report_md(results, rep), encoding="utf-8")
        tmp = out_dir / ".results.json.tmp"
        tmp.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        os.replace(tmp, out_dir / "results.json")

    with _step("verify", emit, timings, order):
        if not results["verify"]["ok"]:
            log = "rtl.log" if results["verify"].get("basis") == "rtl" else "convert.log"
            raise StepError("verify", results["verify"]["reason"], out_dir / log, results)
    return results


def verdict(firmware: Mapping[str, Any], threshold: float) -> dict[str, Any]:
    """Does the firmware compute what the model computes? Argmax agreement against the threshold."""
    agreement = firmware.get("agreement")
    fraction = agreement.get("fraction") if isinstance(agreement, Mapping) else None
    argmax = agreement.get("argmax") if isinstance(agreement, Mapping) else None
    rows = firmware.get("n_rows")
    fw = firmware.get("framework") or "QKeras"
    on = " on the logits before the output's lookup table" if isinstance(agreement, Mapping) and agreement.get("basis") == "logits" else ""
    out: dict[str, Any] = {"min_agreement": threshold, "agreement": fraction, "ok": True, "reason": None}
    if not isinstance(fraction, int | float):
        out.update(ok=False, reason=f"the conversion measured no {fw} ↔ HLS agreement (no test rows?)")
    elif fraction < threshold:
        diff = firmware.get("max_abs_diff")
        out.update(
            ok=False,
            reason=(
                f"the firmware disagrees with the model: {fw} ↔ HLS argmax agreement{on} {100 * fraction:.2f}% ({argmax}/{rows} test rows) "
                f"is below the required {100 * threshold:g}%"
                + (f", max |diff| {diff:.3g}" if isinstance(diff, int | float) else "")
                + "; firmware.json lists the precision hls4ml used per layer (widen `accum`/`result` or `target.precision` for float layers), "
                "or accept less with `agreement X%` in the target section or --min-agreement"
            ),
        )
    return out


def verdict_rtl(rtl: Mapping[str, Any], threshold: float) -> dict[str, Any]:
    """Does the RTL (Verilator) compute what the model computes? Argmax agreement against the same threshold."""
    agreement = rtl.get("agreement")
    fraction = agreement.get("fraction") if isinstance(agreement, Mapping) else None
    argmax = agreement.get("argmax") if isinstance(agreement, Mapping) else None
    fw = rtl.get("framework") or "QKeras"
    out: dict[str, Any] = {"min_agreement": threshold, "agreement": fraction, "ok": True, "reason": None, "basis": "rtl"}
    if not isinstance(fraction, int | float):
        out.update(ok=False, reason=f"the RTL step measured no {fw} ↔ RTL agreement (no test rows?)")
    elif fraction < threshold:
        diff = rtl.get("max_abs_diff")
        out.update(
            ok=False,
            reason=(
                f"the RTL disagrees with the model: {fw} ↔ RTL argmax agreement {100 * fraction:.2f}% ({argmax}/{rtl.get('n_rows')} test rows) "
                f"is below the required {100 * threshold:g}%" + (f", max |diff| {diff:.3g}" if isinstance(diff, int | float) else "") + "; rtl.json and rtl.log have the figures"
            ),
        )
    return out


def md_code(text: str) -> str:
    """`text` as a Markdown code span that nothing in it can end or break: line breaks and other
    unprintable characters escaped, a fence of more backticks than any run in the text."""
    from qapdsl.backends.literals import comment_text

    shown = comment_text(text)
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def render_report_md(results: Mapping[str, Any], rep: Any) -> str:
    """report.md: how the run was made, then the report table in Markdown."""
    from qapdsl import report

    lines = [f"# qapc run: {results['model']}", ""]
    verdict_ = results.get("verify") or {}
    if verdict_.get("ok") is False:
        lines += [f"**The run failed its verify step:** {verdict_.get('reason')}", ""]
    if results.get("spec"):
        lines.append(f"- spec: {md_code(str(results['spec']))} (sha256 {str(results.get('spec_sha256'))[:12]})")
    lines.append(
        f"- started {results['started']}, {results['wall_time_s']:.1f} s in all ("
        + ", ".join(f"{k} {v['wall_time_s']:.1f} s" for k, v in results["steps"].items())
        + ")"
    )
    ov = {k: v for k, v in results["overrides"].items() if v not in (None, False)}
    if ov:
        lines.append("- overrides: " + ", ".join(f"{k} {v}" for k, v in ov.items()))
    versions = results.get("versions")
    if isinstance(versions, Mapping) and versions:
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    lines += ["", report.to_markdown(rep)]
    return "\n".join(lines)
