"""The differential property end to end, on the first generated specs (tests/differential.py).

check ok ⇒ build ok ⇒ train ok ⇒ convert + C++ emulation ok ⇒ QKeras ↔ HLS argmax
agreement ≥ 99% (the run's verify step). Real TensorFlow, QKeras, tfmot, hls4ml
and g++; the cases are the same on every run (a fixed seed). A local campaign
runs hundreds: `python tests/differential.py --count 300 --jobs 2`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from differential import draw_cases, run_case

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CI_CASES = 20
CASES = draw_cases(CI_CASES)


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ for hls4ml's C++ emulation")
@pytest.mark.parametrize("case", range(CI_CASES))
def test_checked_specs_run_and_agree(case: int, tmp_path: Path) -> None:
    pytest.importorskip("qkeras")
    outcome = run_case(case, CASES[case], tmp_path)
    print(f"case {case}: {outcome.status} in {outcome.seconds:.1f} s, agreement {outcome.agreement}, max |diff| {outcome.max_abs_diff}")
    assert outcome.status != "failed", f"counterexample {case}: {outcome.step}: {outcome.cause}\n{CASES[case].text}"
