"""The RTL step's figures for a finished run, and what round-half-to-even buys.

    .venv/bin/qapc run specs/digits_rtl.qap                      # writes build/digits_rtl/ (rtl.json, rtl.py, model.h5)
    .venv/bin/python benchmarks/rtl_digits.py build/digits_rtl   # with the interpreter of the run's dialect

Prints the wall times of the RTL step's phases (da4ml trace, Verilog writing, Verilator compile,
simulation of the test set, Yosys synthesis) and its hardware figures from rtl.json, then traces the
network a second time with da4ml's own RND rounding (half up) in place of the round-half-to-even
rtl.py builds, and compares both with the trained model through da4ml's interpreter (no Verilator):
how far the RTL would be from the model had qapc used what da4ml offers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any


def load_rtl_script(folder: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("rtl_of_run", folder / "rtl.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"rtl_digits.py: no rtl.py in {folder}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def figures(rtl: dict[str, Any]) -> list[tuple[str, str]]:
    times, synth, latency = rtl["wall_time_s"], rtl["synth"], rtl["latency"]
    rows = [
        ("da4ml trace", f"{times['trace_s']:.2f} s"),
        ("Verilog written", f"{times['write_s']:.2f} s"),
        ("Verilator compile", f"{times['compile_s']:.1f} s"),
        (f"simulation of {rtl['n_rows']} rows", f"{1000 * times['simulate_s']:.1f} ms"),
        ("argmax agreement / max |diff|", f"{100 * rtl['agreement']['fraction']:.2f}% / {rtl['max_abs_diff']}"),
        ("da4ml cost (LUT estimate)", f"{rtl['cost']:,.0f}"),
        ("latency", f"{max(latency['adder_levels']):g} adder levels" + (f", {latency['cycles']} cycles = {latency['ns']:g} ns" if latency["pipelined"] else "")),
    ]
    if synth.get("ran"):
        inv = f" (of them {synth['inv']:,} INV)" if isinstance(synth.get("inv"), int) else " (LUT1-LUT6 only: INV not counted)"
        rows.append(("Yosys synth_xilinx", f"{synth['wall_time_s']:.1f} s: {synth['lut']:,} LUT{inv}, {synth['ff']:,} FF, {synth['carry']:,} CARRY, {synth['dsp']} DSP"))
    else:
        rows.append(("Yosys synthesis", f"skipped: {synth.get('reason')}"))
    return rows


def rounding(folder: Path, rtl_script: ModuleType) -> dict[str, float]:
    """The model against the network traced with RNE (rtl.py's) and with da4ml's RND, on the test set."""
    import numpy as np
    from da4ml.trace import comb_trace
    from da4ml.trace.ops import quantize

    model_file = "model.keras" if (folder / "model.keras").is_file() else "model.h5"
    model = rtl_script.load_model(folder / model_file)
    with np.load(folder / "test_data.npz") as f:
        x_test = np.ascontiguousarray(f["X_test"], dtype=np.float32)
    reference, port = rtl_script.reference_outputs(model, x_test)
    out: dict[str, float] = {}
    exact = rtl_script.round_half_even

    def half_up(x: Any, f: int) -> Any:
        k, i, _ = (np.max(a) for a in x.kif)
        return quantize(x, int(k), int(i) + 1, f, round_mode="RND")

    for name, fn in (("round half to even (rtl.py)", exact), ("da4ml's RND (half up)", half_up)):
        rtl_script.round_half_even = fn
        t0 = time.perf_counter()
        comb = comb_trace(*rtl_script.network(model))
        got = np.asarray(comb.predict(port), dtype=np.float64).reshape(len(x_test), -1)
        diff = np.abs(got - reference)
        agree = float(np.mean(np.argmax(got, axis=1) == np.argmax(reference, axis=1)))
        out[name] = float(diff.max())
        print(f"{name:<30} max |diff| {diff.max():.4g}, argmax agreement {100 * agree:.2f}%, cost {comb.cost:,.0f}, traced in {time.perf_counter() - t0:.2f} s")
    rtl_script.round_half_even = exact
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="a run's build folder (with rtl.json, rtl.py, the model and test_data.npz)")
    parser.add_argument("--no-rounding", action="store_true", help="only print rtl.json's figures")
    args = parser.parse_args(argv)
    rtl = json.loads((args.folder / "rtl.json").read_text(encoding="utf-8"))
    print(f"{rtl['model']} ({rtl['framework']}), {rtl['part']}:")
    for k, v in figures(rtl):
        print(f"  {k:<32} {v}")
    if not args.no_rounding:
        rounding(args.folder, load_rtl_script(args.folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
