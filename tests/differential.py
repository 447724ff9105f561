"""Differential testing of the whole pipeline on random valid specs (tests/specgen.py).

For each generated spec: `qapc check`; if it passes, `qapc run --epochs 8` (build,
train, convert with hls4ml, C++ emulation with g++, report, verify), whose verify
step fails the run when the trained model (QKeras or HGQ2) and the firmware agree on
less than 99% of the test rows. The property: check ok ⇒ the run succeeds; for a spec check warned about with W405
(the firmware approximates float weights or lookup tables) only the agreement
threshold may fail. A quarter of the specs also say `rtl verilog` (da4ml → Verilog →
Verilator, Yosys now and then): for them the RTL must equal the model bit for bit
(max |model − RTL| = 0 over the test logits), whatever the agreement threshold.

    python tests/differential.py --count 300 --jobs 2 --out /tmp/diff     # a local campaign
    python tests/differential.py --show 17                                # print case 17's spec

Cases are drawn deterministically (hypothesis, a fixed seed, de-duplicated, from a pool of POOL), so a
case number names the same spec on every machine with the same hypothesis version.
tests/test_differential.py runs the first cases in CI. Every counterexample found was
fixed as a check (a golden case in tests/test_diagnostics.py, e.g. qkeras_negative_integer,
hgq2_fraction, hgq2_requantize, the input_saturates warning) or in a backend (a test that
runs the real stack, e.g. tests/test_build_integration.py's activation-quantizer grid and
tests/test_hgq2_integration.py's CNN). About a third of the cases use `dialect hgq2`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specgen import GeneratedSpec, valid_specs, write_data

SEED = 20261129


POOL = 300  # cases are drawn from a pool of at least this many: hypothesis' sequence depends on max_examples


def draw_cases(count: int, draw_seed: int = SEED) -> list[GeneratedSpec]:
    """`count` distinct generated specs, the same ones every time for the same seed: case N is the same spec
    for every count up to POOL (hypothesis draws another sequence for another max_examples)."""
    box: list[GeneratedSpec] = []
    seen: set[str] = set()
    pool = max(count, POOL)

    @settings(max_examples=pool * 2 + 10, phases=[Phase.generate], database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @seed(draw_seed)
    @given(valid_specs())
    def grab(g: GeneratedSpec) -> None:
        if g.text not in seen:
            seen.add(g.text)
            box.append(g)

    grab()
    return box[:count]


@dataclass
class Outcome:
    case: int
    status: str  # "ok"; "rejected" (check said no) and "approximate" (check warned W405, verify failed): not counterexamples; "failed"
    step: str | None = None
    cause: str | None = None
    agreement: float | None = None
    max_abs_diff: float | None = None
    rtl_agreement: float | None = None  # for a spec with `rtl verilog`: the model ↔ Verilator argmax agreement
    rtl_max_abs_diff: float | None = None  # and the largest |model − RTL| over the logits: the claim is 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


APPROXIMATE = 0.5  # the least agreement an approximated firmware (W405) may have: float weights measured 72-98% (1-8 epochs)
EPOCHS = 8  # enough for a network to be more than a coin toss: near-ties between classes flip under any rounding


def run_case(case: int, gen: GeneratedSpec, folder: Path, python: str = sys.executable, timeout: float = 900, epochs: int = EPOCHS) -> Outcome:
    """Check, then run one generated spec in `folder`; never raises for what the pipeline does."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "spec.qap"
    spec.write_text(gen.text, encoding="utf-8")
    if gen.data is not None:
        write_data(gen.data, folder)
    started = time.monotonic()
    check = subprocess.run([python, "-m", "qapdsl.cli", "check", str(spec)], capture_output=True, text=True, timeout=120)
    if check.returncode != 0:
        cause = next((line for line in check.stderr.splitlines() if "error[" in line), check.stderr.strip()[-300:])
        status = "rejected" if check.returncode == 1 else "failed"
        return Outcome(case, status, "check", cause, seconds=time.monotonic() - started)
    out = folder / "out"
    try:
        run = subprocess.run(
            [python, "-m", "qapdsl.cli", "run", str(spec), "-o", str(out), "--epochs", str(epochs), "-q"], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return Outcome(case, "failed", "run", f"timed out after {timeout:.0f} s", seconds=time.monotonic() - started)
    results: dict[str, Any] = {}
    if (out / "results.json").is_file():
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    firmware = results.get("firmware") or {}
    agreement = (firmware.get("agreement") or {}).get("fraction")
    rtl = results.get("rtl") or {}
    rtl_agreement = (rtl.get("agreement") or {}).get("fraction")
    rtl_diff = rtl.get("max_abs_diff")
    if run.returncode == 0:
        ok = Outcome(case, "ok", None, None, agreement, firmware.get("max_abs_diff"), rtl_agreement, rtl_diff, time.monotonic() - started)
        if "rtl verilog" in gen.text and rtl_diff != 0:
            # the RTL route claims bit-exactness (E407 refuses what it cannot build exactly): any difference is a counterexample
            ok.status, ok.step, ok.cause = "failed", "rtl", f"RTL ≠ model: max |diff| {rtl_diff}, argmax agreement {rtl_agreement}"
        return ok
    line = next((ln for ln in run.stderr.splitlines() if ln.startswith("qapc: ")), run.stderr.strip()[-400:])
    step = line.split("'")[1] if line.startswith("qapc: step '") else "run"
    # a spec `qapc check` warned about (W405: float weights, lookup tables) is promised to run, not to agree
    # exactly; but an approximation still agrees on most rows: below APPROXIMATE it is a counterexample
    # (three hgq2 specs at 0% hid behind W405 until this bound: quantizers fused by hls4ml, now E406)
    # W407 (data beyond the input's type: the firmware saturates what the model takes as is) predicts any disagreement
    saturates = "warning[W407]" in check.stderr
    approximate = step == "verify" and (saturates or ("warning[W405]" in check.stderr and isinstance(agreement, float) and agreement >= APPROXIMATE))
    status = "approximate" if approximate else "failed"
    return Outcome(case, status, step, line, agreement, firmware.get("max_abs_diff"), rtl_agreement, rtl_diff, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20, help="cases to run (the first N)")
    ap.add_argument("--start", type=int, default=0, help="first case number")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=Path("build/differential"))
    ap.add_argument("--show", type=int, metavar="N", help="print the spec of case N and exit")
    ap.add_argument("--epochs", type=int, default=EPOCHS, help="training epochs of every run (per pruning round)")
    args = ap.parse_args(argv)
    cases = draw_cases(max(args.start + args.count, (args.show or 0) + 1), args.seed)
    if args.show is not None:
        print(cases[args.show].text)
        return 0
    todo = list(range(args.start, min(args.start + args.count, len(cases))))
    args.out.mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_case, i, cases[i], args.out / f"case{i:04d}", epochs=args.epochs): i for i in todo}
        for fut in concurrent.futures.as_completed(futures):
            o = fut.result()
            outcomes.append(o)
            extra = f"agreement {o.agreement:.4f}" if isinstance(o.agreement, float) else ""
            extra += f" rtl max|diff| {o.rtl_max_abs_diff}" if o.rtl_max_abs_diff is not None else ""
            print(f"case {o.case:4d} {o.status:8s} {o.seconds:6.1f} s {o.step or ''} {extra} {o.cause or ''}", flush=True)
    outcomes.sort(key=lambda o: o.case)
    summary = {
        "seed": args.seed,
        "cases": len(outcomes),
        "ok": sum(o.status == "ok" for o in outcomes),
        "rejected": sum(o.status == "rejected" for o in outcomes),
        "approximate": sum(o.status == "approximate" for o in outcomes),
        "failed": sum(o.status == "failed" for o in outcomes),
        "rtl": sum(o.rtl_max_abs_diff is not None for o in outcomes),
        "rtl_exact": sum(o.rtl_max_abs_diff == 0 for o in outcomes),
        "wall_time_s": round(time.monotonic() - t0, 1),
        "outcomes": [o.to_dict() for o in outcomes],
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(
        f"{summary['cases']} cases: {summary['ok']} ran end to end and agreed, {summary['rejected']} rejected by qapc check, "
        f"{summary['approximate']} warned W405 and measured below the threshold, {summary['failed']} counterexamples; "
        f"{summary['rtl_exact']} of {summary['rtl']} RTL simulations bit-exact ({summary['wall_time_s']} s)"
    )
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
