"""`qapc run SPEC`: build, train, convert, emulate and report, with progress and a summary.

Exit codes: 0 done, 1 spec errors, 2 usage, 3 a step failed (its name and
cause printed, the outputs of earlier steps kept).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from qapdsl.commands.common import EXIT_OK, EXIT_SPEC, EXIT_STEP
from qapdsl.report import inv_note


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _fraction(text: str) -> float:
    """`99%`, `99.5%` or `0.99`."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a fraction: {text!r} (write 99% or 0.99)") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0% and 100%, not {text}")
    return value


RTL_HELP = (
    "Steps: tools, build, train, convert (hls4ml, emulated with g++), then rtl when the spec's target says "
    "`rtl verilog`, report and verify. The rtl step runs DIR/rtl.py: da4ml writes the trained network as Verilog "
    "into DIR/rtl_project/ (with Vivado and Quartus Tcl and constraints); Verilator compiles it (minutes: its "
    "seconds tick meanwhile) and runs the test split through it; its outputs are compared with the model's "
    "(argmax agreement and max |diff| of the logits; the agreement bound fails the run as for hls4ml); and Yosys "
    "synth_xilinx, when yosys is on PATH, counts LUTs (LUT1-LUT6 + INV), flip-flops, CARRY and DSP cells "
    "(`synth off` in the rtl block skips it). The figures go to DIR/rtl.json, results.json, report.md and the "
    "summary; the step's output to DIR/rtl.log. It needs da4ml and verilator in the dialect's environment "
    "(scripts/setup.sh installs them; `qapc doctor SPEC` checks them and Yosys)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from qapdsl.commands.common import folder_arg

    p.epilog = RTL_HELP
    p.add_argument("spec", metavar="SPEC", help="the .qap spec to build, train, convert and emulate")
    p.add_argument("--model", help="run this model instead of the last one declared")
    p.add_argument("--dialect", choices=("qkeras", "hgq2", "brevitas"), help="build for this training dialect instead of the spec's (train.dialect)")
    p.add_argument(
        "-o", "--out", metavar="DIR", type=folder_arg, help="build directory (default build/<model>/, build/<model>-hgq2/ for the hgq2 dialect)"
    )
    p.add_argument("--epochs", type=_positive, metavar="N", help="override the spec's epochs (per pruning round for iterative pruning)")
    p.add_argument("--data", metavar="PATH", help="override the spec's data with a file: .npz (arrays X and y), or the type of the spec's own data file")
    p.add_argument("--synth", action="store_true", help="also run HLS synthesis (Vivado/Vitis) when the vendor tool is on PATH; the RTL step's Yosys synthesis is the spec's `synth` setting")
    p.add_argument(
        "--min-agreement",
        type=_fraction,
        metavar="X",
        help="least model ↔ HLS argmax agreement for the run to pass, e.g. 99%% or 0.99 (default: the spec's `agreement`, else 99%%)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display, only the summary")
    p.add_argument(
        "--force",
        action="store_true",
        help="when the folder holds files of the names a run writes that qapc did not write (or that were edited since), "
        "move them aside into DIR/qapc-kept/<time>/ and run (without it: nothing is changed, exit 2)",
    )


def _pct(v: Any, digits: int = 2) -> str:
    return f"{100 * v:.{digits}f}%" if isinstance(v, int | float) else "-"


def _int(v: Any) -> str:
    return f"{round(v):,}" if isinstance(v, int | float) else "-"


def _sparsity_line(t: dict[str, Any]) -> str:
    """Measured against declared, always over the same weights."""
    pruned = t.get("pruned_layers") or []
    if not pruned and t.get("ebops_measured") is not None:  # learned widths: a weight at zero bits is pruned
        return f"  sparsity        {_pct(t.get('sparsity_measured'), 1)} of all weights at zero (learned widths; no pruning schedule)"
    if not pruned:
        return "  sparsity        no pruning"
    line = f"  sparsity        {_pct(t.get('sparsity_measured'), 1)} of all weights pruned (declared {_pct(t.get('sparsity'), 1)})"
    if t.get("sparsity_pruned_measured") != t.get("sparsity_measured") or t.get("sparsity_pruned") != t.get("sparsity"):
        line += f"; {_pct(t.get('sparsity_pruned_measured'), 1)} of the pruned layers' (declared {_pct(t.get('sparsity_pruned'), 1)})"
    return line


def summary(results: dict[str, Any]) -> str:
    """The closing lines of `qapc run`: the figures that matter, and where the files are."""
    rep = results.get("report") or {}
    m = rep.get("measured") or {}
    t = rep.get("totals") or {}
    bops_declared, bops_measured = t.get("bops"), t.get("bops_measured")
    n = m.get("n_rows")
    agree = _pct(m.get("agreement")) + (f" of {n} test rows" if n else "")
    if m.get("agreement_basis") == "logits":  # both, each named: what the firmware outputs, and what verify checks
        agree = f"outputs {_pct(m.get('outputs_agreement'))}, logits {_pct(m.get('agreement'))}" + (f" of {n} test rows" if n else "")
    eff = m.get("efficiency")
    fw = str(m.get("framework") or "QKeras")
    rtl = m.get("rtl") if isinstance(m.get("rtl"), dict) else None
    rtl_accuracy = f"   {_pct(rtl.get('rtl_accuracy'))} (RTL, Verilator)" if rtl is not None else ""
    lines = [
        f"{results['model']}: done in {results.get('wall_time_s', 0):.1f} s",
        f"  accuracy        {_pct(m.get('accuracy'))} ({fw})   {_pct(m.get('hls_accuracy'))} (HLS emulation){rtl_accuracy}   AUC {m.get('auc', 0) or 0:.4f}",
        f"  {fw + ' ↔ HLS':<16}{agree} agree (argmax), max |diff| {m['max_abs_diff']:.3g}"
        if isinstance(m.get("max_abs_diff"), int | float)
        else f"  {fw + ' ↔ HLS':<16}{agree} agree (argmax)",
        _sparsity_line(t),
        f"  BOPs            {_int(bops_measured)} (with the measured sparsity; declared {_int(bops_declared)})"
        + (f"; EBOPs {_int(t.get('ebops_measured'))} (HGQ2, trained widths)" if t.get("ebops_measured") is not None else ""),
        f"  memory          {_int(t.get('memory_bits_measured'))} bits of weights and biases (with the measured sparsity; declared {_int(t.get('memory_bits'))})",
        f"  efficiency      {eff:.4f} (neural efficiency, network)" if isinstance(eff, int | float) else "  efficiency      -",
    ]
    if rtl is not None:
        when = f"{rtl.get('cycles')} cycles = {rtl.get('latency_ns')} ns" if rtl.get("pipelined") else "combinational"
        diff = rtl.get("max_abs_diff")
        what = "logits" if rtl.get("basis") == "logits" else "outputs"
        rows = rtl.get("n_rows") or n
        line = f"  {fw + ' ↔ RTL':<16}{_pct(rtl.get('agreement'))}" + (f" of {rows} test rows" if rows else "") + f" agree (argmax of the {what}, Verilator)"
        # beside the HLS line, as the README's RTL table has them
        lines.insert(3, line + (f", max |{what[:-1]} diff| {diff:.3g}" if isinstance(diff, int | float) else ""))
        lines.append(f"  RTL cost        {_int(rtl.get('cost'))} LUTs (da4ml estimate), {_int(rtl.get('adder_levels'))} adder levels, {when}")
        if rtl.get("lut") is not None:
            lines.append(
                f"  Yosys           {_int(rtl.get('lut'))} LUT{inv_note(rtl.get('inv'))}, {_int(rtl.get('ff'))} FF, {_int(rtl.get('carry'))} CARRY, {_int(rtl.get('dsp'))} DSP"
                f" (synth_xilinx{' -family ' + str(rtl['family']) if rtl.get('family') else ''}, {rtl.get('synth_s') or 0:.0f} s)"
            )
        elif rtl.get("synth_skipped"):
            lines.append(f"  Yosys           skipped: {rtl['synth_skipped']}")
    synth = (results.get("firmware") or {}).get("synth_plan") or {}
    if synth.get("reason"):
        lines.append(f"  synthesis       skipped: {synth['reason']}")
    out = Path(results["build_dir"])
    lines.append(f"  written         {out / 'results.json'}, {out / 'report.md'}")
    if results.get("spec"):
        lines.append(f"  per layer       qapc report {shlex.quote(str(results['spec']))}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import signal

    from qapdsl import outdir, runs
    from qapdsl.commands.common import EXIT_USAGE, load_checked
    from qapdsl.commands.report import default_build_dir
    from qapdsl.runner.pipeline import StepError, run_spec
    from qapdsl.runner.progress import Display

    checked = load_checked(args.spec, args.model, args.dialect)
    if checked is None:
        return EXIT_SPEC
    spec = checked[0]
    out_dir = Path(args.out) if args.out else default_build_dir(spec)
    warning = outdir.location_warning(out_dir, args.spec)
    if warning:
        print(f"qapc: warning: {warning}", file=sys.stderr)

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt  # unwinds through the runner, which stops its scripts' process groups

    signal.signal(signal.SIGTERM, terminate)
    display = None if args.quiet else Display(sys.stderr)
    try:
        with outdir.lock(out_dir, "run"):
            if display is not None:
                print(f"qapc run {args.spec} → {out_dir}", file=sys.stderr)
            results = run_spec(
                spec,
                out_dir,
                epochs=args.epochs,
                data=args.data,
                synth=args.synth,
                progress=display,
                spec_path=args.spec,
                min_agreement=args.min_agreement,
                force=args.force,
            )
    except outdir.OutputDirError as e:
        print(f"qapc: {e}", file=sys.stderr)
        return EXIT_USAGE
    except StepError as e:
        if display is not None:
            display.close()
        if e.results is not None:
            runs.record(args.spec, spec.model.name, out_dir)  # a failed verify keeps its figures: `qapc report` shows them
            print(summary(e.results))
        print(f"qapc: step '{e.step}' failed: {e.cause}", file=sys.stderr)
        if e.log is not None and e.log.is_file():
            print(f"  full output: {e.log}", file=sys.stderr)
        if out_dir.is_dir() and any(p.name != outdir.LEDGER_NAME for p in out_dir.iterdir()):
            print(f"  what earlier steps produced is kept in {out_dir}", file=sys.stderr)
        return EXIT_STEP
    finally:
        if display is not None:
            display.close()
    runs.record(args.spec, spec.model.name, out_dir)
    print(summary(results))
    return EXIT_OK
