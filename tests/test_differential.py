"""The differential property end to end, on the first generated specs (tests/differential.py).

check ok ⇒ build ok ⇒ train ok ⇒ convert + C++ emulation ok ⇒ QKeras ↔ HLS argmax
agreement ≥ 99% (the run's verify step), and for a spec with `rtl verilog`
model = Verilator simulation bit for bit. Real TensorFlow, QKeras, tfmot, hls4ml
and g++; the cases are the same on every run (a fixed seed). A local campaign
runs hundreds: `python tests/differential.py --count 300 --jobs 2`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from differential import draw_cases, run_case

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CASES = draw_cases(40)
# CI's subset: the first 18 cases that stop at the C++ emulation and the first 2 that also go to RTL
# (each of those compiles a Verilator model, 30-100 s): the same cases on every run
HLS_ONLY = [i for i, c in enumerate(CASES) if "rtl verilog" not in c.text][:18]
WITH_RTL = [i for i, c in enumerate(CASES) if "rtl verilog" in c.text][:2]
CI_CASES = sorted(HLS_ONLY + WITH_RTL)


def test_the_subset_holds_both_kinds() -> None:
    assert len(HLS_ONLY) == 18 and len(WITH_RTL) == 2, "draw more cases: the generator's mix changed"


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ for hls4ml's C++ emulation")
@pytest.mark.parametrize("case", CI_CASES)
def test_checked_specs_run_and_agree(case: int, tmp_path: Path) -> None:
    pytest.importorskip("qkeras")
    outcome = run_case(case, CASES[case], tmp_path)
    print(
        f"case {case}: {outcome.status} in {outcome.seconds:.1f} s, agreement {outcome.agreement}, max |diff| {outcome.max_abs_diff}, RTL max |diff| {outcome.rtl_max_abs_diff}"
    )
    assert outcome.status != "failed", f"counterexample {case}: {outcome.step}: {outcome.cause}\n{CASES[case].text}"
