"""`qapc run`'s step machinery with stand-in scripts (fast): progress, results, every failure path.

The real pipeline (the generated train.py / convert.py, TensorFlow, hls4ml,
g++) is exercised by tests/test_run_digits.py.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SPECS

from qapdsl import ir
from qapdsl import results as results_file
from qapdsl.cli import main
from qapdsl.loader import load_file
from qapdsl.runner import pipeline
from qapdsl.runner.pipeline import StepError, cause_from_output, run_spec
from qapdsl.runner.progress import Display, describe

# A stand-in train.py: prints @qapc lines like the generated one, writes its outputs.
# BEHAVIOUR selects a failure.
FAKE_TRAIN = r"""
import argparse, json, sys, time
import numpy as np
BEHAVIOUR = {behaviour!r}
p = argparse.ArgumentParser(); p.add_argument("--out"); p.add_argument("--epochs", type=int, default=3); p.add_argument("--data")
a = p.parse_args()
if a.data:
    np.load(a.data)  # a bad file dies here, as the real script would
for r in (1, 2):
    for e in range(1, a.epochs + 1):
        diverged = BEHAVIOUR in ("nan", "null") and r == 2
        loss = (float("nan") if BEHAVIOUR == "nan" else None) if diverged else 1.0 / (r * e)
        print("@qapc " + json.dumps({{"step": "train", "round": r, "rounds": 2, "epoch": e, "epochs": a.epochs, "loss": loss, "val_accuracy": 0.5 + 0.1 * r}}), flush=True)
        if diverged:
            time.sleep(60)  # the runner must stop it, not wait
if BEHAVIOUR == "crash":
    print("some TensorFlow noise", file=sys.stderr)
    raise ValueError("the data has 3 columns but the model wants 64")
if BEHAVIOUR == "reported":
    print("@qapc " + json.dumps({{"step": "train", "error": "data: label column 'y' not found"}}))
    sys.exit(1)
import h5py
with h5py.File("model.h5", "w") as f:
    f["model_weights/fc1/fc1/kernel:0"] = np.full((64, 32), float("nan") if BEHAVIOUR == "nanweights" else 0.5, "float32")
np.savez("test_data.npz", X_test=np.zeros((4, 64)), y_test=np.zeros(4, int))
np.savez("activations.npz", fc1=np.array([[1, 0], [0, 1], [1, 1], [1, 0]], bool))
json.dump({{"accuracy": 0.93, "auc": {{"mean": 0.99}}, "loss": 0.2, "epochs": a.epochs, "rounds": 2,
           "sparsity": {{"layers": {{"fc1": 0.8, "fc2": 0.8, "out": 0.8}}, "total": 0.8}}, "wall_time_s": 1.0}}, open("metrics.json", "w"))
"""

# A train.py that starts a grandchild and both wait: what a kill of `qapc run` must not leave behind.
FAKE_HANG = r"""
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open("pids", "w").write(f"{{os.getpid()}} {{child.pid}}")
print("@qapc {{\"step\": \"train\", \"epoch\": 1}}", flush=True)
time.sleep(600)
"""

FAKE_CONVERT = r"""
import argparse, json, sys
BEHAVIOUR = {behaviour!r}
p = argparse.ArgumentParser(); p.add_argument("--model"); p.add_argument("--data"); p.add_argument("--out"); p.add_argument("--synth", action="store_true")
a = p.parse_args()
print("@qapc " + json.dumps({{"step": "convert"}}), flush=True)
if BEHAVIOUR == "convert_error":
    raise RuntimeError("Unsupported layer type: QConv3D")
print("@qapc " + json.dumps({{"step": "emulate"}}), flush=True)
agree = 3 if BEHAVIOUR == "disagree" else 4
json.dump({{"agreement": {{"argmax": agree, "fraction": agree / 4}}, "max_abs_diff": 0.0, "mean_abs_diff": 0.0, "n_rows": 4,
           "hls_accuracy": 0.93, "qkeras_accuracy": 0.93, "synth": a.synth}}, open("firmware.json", "w"))
"""


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[Path]]:
    """Replace the backends with stand-in scripts; returns the list of build dirs used."""
    used: list[Path] = []

    def install(behaviour: str = "ok") -> list[Path]:
        def build(spec: ir.Spec, out_dir: Path, spec_path: str | None) -> None:
            used.append(out_dir)
            (out_dir / "train.py").write_text((FAKE_HANG if behaviour == "hang" else FAKE_TRAIN).format(behaviour=behaviour))
            (out_dir / "convert.py").write_text(FAKE_CONVERT.format(behaviour=behaviour))
            (out_dir / "manifest.json").write_text(json.dumps({"versions": {"qapc": "test"}}))

        monkeypatch.setattr(pipeline, "_build", build)
        return used

    return install


def _spec(path: Path = SPECS / "digits_qap.qap") -> ir.Spec:
    spec = load_file(path).spec
    assert spec is not None
    return spec


def test_run_spec_results_and_progress(tmp_path: Path, fake_build: Callable[[str], list[Path]]) -> None:
    fake_build("ok")
    events: list[dict[str, Any]] = []
    results = run_spec(_spec(), tmp_path / "b", epochs=2, progress=events.append, spec_path=str(SPECS / "digits_qap.qap"))
    out = tmp_path / "b"
    assert json.loads((out / "results.json").read_text()) == results
    assert results_file.load(out / "results.json") == results  # what `qapc report` accepts
    assert results["metrics"]["accuracy"] == 0.93 and results["firmware"]["agreement"]["fraction"] == 1.0
    assert results["report"]["measured"]["agreement"] == 1.0
    assert results["report"]["totals"]["sparsity_measured"] == pytest.approx(0.8)
    assert results["efficiency"]["layers"]["fc1"] == pytest.approx(1.5 / 2)  # 3 patterns: 1/2, 1/4, 1/4 → 1.5 bits over 2 neurons
    assert results["overrides"]["epochs"] == 2 and results["metrics"]["epochs"] == 2
    assert "# qapc run: digits_qap" in (out / "report.md").read_text()
    steps = [(e["stage"], e["status"]) for e in events if e.get("event") == "step"]
    assert steps == [(s, st) for s in pipeline.STEPS for st in ("start", "done")]
    epochs = [(e["round"], e["epoch"]) for e in events if e.get("stage") == "train" and "epoch" in e]
    assert epochs == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert [e["step"] for e in events if e.get("stage") == "convert" and "event" not in e] == ["convert", "emulate"]
    assert "@qapc" in (out / "train.log").read_text()


def test_cli_run_prints_summary(tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str]) -> None:
    fake_build("ok")
    assert main(["run", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b"), "--epochs", "1"]) == 0
    cap = capsys.readouterr()
    assert "93.00% (QKeras)" in cap.out and "100.00% of 4 test rows agree" in cap.out
    assert "[3/6] train    done in" in cap.err and "[4/6] convert  done in" in cap.err and "[6/6] verify   done in" in cap.err
    # and the report reads the run back
    assert main(["report", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["measured"]["accuracy"] == 0.93


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_script_crash_names_step_and_cause(tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str]) -> None:
    fake_build("crash")
    err = _fails(capsys, ["run", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b"), "-q"])
    assert "qapc: step 'train' failed: ValueError: the data has 3 columns but the model wants 64" in err
    assert "train.log" in err
    assert (tmp_path / "b" / "train.py").is_file()  # the build's output is kept
    assert not (tmp_path / "b" / "results.json").exists()


def test_error_reported_by_script(tmp_path: Path, fake_build: Callable[[str], list[Path]]) -> None:
    fake_build("reported")
    with pytest.raises(StepError) as e:
        run_spec(_spec(), tmp_path / "b")
    assert (e.value.step, e.value.cause) == ("train", "data: label column 'y' not found")


def test_nan_loss_stops_training(tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str]) -> None:
    fake_build("nan")
    err = _fails(capsys, ["run", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b"), "--epochs", "2"])
    assert "step 'train' failed: training diverged: loss became nan (round 2, epoch 1)" in err


def test_null_loss_is_divergence(tmp_path: Path, fake_build: Callable[[str], list[Path]]) -> None:
    # the generated train.py writes a non-finite loss as null
    fake_build("null")
    with pytest.raises(StepError) as e:
        run_spec(_spec(), tmp_path / "b", epochs=3)
    assert e.value.step == "train" and e.value.cause.startswith("training diverged: loss became NaN or infinite (round 2, epoch 1)")


def test_nan_weights_are_divergence(tmp_path: Path, fake_build: Callable[[str], list[Path]]) -> None:
    # Keras's clipped cross-entropy can stay finite while the weights turn NaN
    fake_build("nanweights")
    with pytest.raises(StepError) as e:
        run_spec(_spec(), tmp_path / "b", epochs=1)
    assert (e.value.step, e.value.cause) == ("train", "training diverged: the trained weights of fc1 are NaN or infinite; lower the learning rate")


def test_bad_data_file(tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str]) -> None:
    fake_build("ok")
    err = _fails(capsys, ["run", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b"), "--data", str(tmp_path / "nope.npz")])
    assert f"step 'tools' failed: data file not found: {tmp_path / 'nope.npz'}" in err
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not an npz file")
    err = _fails(capsys, ["run", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b"), "--data", str(garbage)])
    assert f"step 'tools' failed: data file {garbage}: not an .npz archive of numpy arrays" in err  # opened before training
    err = _fails(capsys, ["run", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b"), "--data", str(tmp_path / "x.txt")])
    assert "unsupported type '.txt'" in err


def test_missing_file_named_in_spec(tmp_path: Path, write_spec: Callable[..., Path], fake_build: Callable[[str], list[Path]]) -> None:
    fake_build("ok")
    text = (SPECS / "digits_float.qap").read_text().replace("data sklearn digits", 'data file "jets.npz"; classes 10')
    path = write_spec(text)
    loaded = load_file(path)
    assert loaded.spec is not None, loaded.diagnostics
    with pytest.raises(StepError) as e:
        run_spec(loaded.spec, tmp_path / "b", spec_path=str(path))
    assert e.value.step == "tools" and "data file not found: jets.npz" in e.value.cause


def test_gpp_missing(tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake_build("ok")
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    err = _fails(capsys, ["run", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b")])
    assert "step 'tools' failed: g++ not found on PATH" in err
    assert not (tmp_path / "b" / "model.h5").exists()  # found out before training, not after


def test_conversion_error(tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str]) -> None:
    fake_build("convert_error")
    err = _fails(capsys, ["run", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b")])
    assert "step 'convert' failed: RuntimeError: Unsupported layer type: QConv3D" in err


def test_synth_without_tools_is_skipped(tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str]) -> None:
    fake_build("ok")
    assert main(["run", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b"), "--synth"]) == 0
    cap = capsys.readouterr()
    assert "vitis_hls not found on PATH" in cap.err and "synthesis       skipped" in cap.out
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    assert results["firmware"]["synth"] is True and results["firmware"]["synth_plan"]["ran"] is False


def test_spec_and_usage_errors(tmp_path: Path, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(write_spec("model m { input 4\n dense a 3 relu }"))]) == 1
    assert main(["run", str(tmp_path / "missing.qap")]) == 2
    with pytest.raises(SystemExit) as e:
        main(["run", str(SPECS / "digits_qap.qap"), "--epochs", "0"])
    assert e.value.code == 2


def test_cause_from_output() -> None:
    lines = ["Traceback (most recent call last):", '  File "x.py", line 1', "tensorflow.python.framework.errors_impl.InvalidArgumentError: bad shape"]
    assert cause_from_output(lines, 1) == "InvalidArgumentError: bad shape"
    assert cause_from_output(["done"], -9) == "the script was killed by SIGKILL (out of memory?)"
    assert cause_from_output(["warming up", "stopped early"], 4) == "the script exited with code 4; last output: stopped early"
    own = ["train.py: warning: pruning begins late", "train.py: the data has samples of shape (3,), the model expects (64,)", "bye"]
    assert cause_from_output(own, 1, "train.py") == "the data has samples of shape (3,), the model expects (64,)"


def test_display_in_a_log() -> None:
    buf = io.StringIO()
    d = Display(buf, tty=False)
    d({"event": "step", "stage": "train", "status": "start"})
    for r in (1, 2):
        for e in (1, 2, 3):
            d({"stage": "train", "step": "train", "round": r, "rounds": 2, "epoch": e, "epochs": 3, "loss": 0.5, "val_accuracy": 0.9})
    d({"event": "step", "stage": "train", "status": "done", "elapsed_s": 3.2, "accuracy": 0.95})
    lines = buf.getvalue().splitlines()
    assert lines[0] == "[3/6] train    round 1/2 · epoch 1/3 · loss 0.5 · val accuracy 90.0%"
    assert len(lines) == 5  # first and last epoch of each round, then done
    assert lines[-1] == "[3/6] train    done in 3.2 s (accuracy 95.0%)"
    assert describe({"stage": "convert", "step": "emulate", "message": "compiling"}) == "emulate · compiling"
    assert describe({"stage": "train", "step": "train", "round": 0, "rounds": 0, "epoch": 2, "epochs": 9}) == "epoch 2/9"


def test_display_counts_and_heartbeats() -> None:
    """da4ml's cost (a float in rtl.py's events) prints as an integer with thousands separators; a long
    silent step's heartbeat (elapsed seconds) gets a line every 30 s in a log, and ticks on a terminal."""
    buf = io.StringIO()
    d = Display(buf, tty=False)
    d({"event": "step", "stage": "rtl", "status": "start", "index": 5, "total": 7})
    d({"stage": "rtl", "step": "compile", "tool": "verilator"})
    for t in range(5, 100, 5):
        d({"stage": "rtl", "step": "compile", "elapsed_s": t})
    d({"stage": "rtl", "step": "synth", "tool": "yosys"})
    d({"stage": "rtl", "step": "synth", "elapsed_s": 5})
    d({"event": "step", "stage": "rtl", "status": "done", "elapsed_s": 300.0, "agreement": 1.0, "cost": 9673.0})
    assert buf.getvalue().splitlines() == [
        "[5/7] rtl      compile",
        "[5/7] rtl      compile · 30 s",
        "[5/7] rtl      compile · 60 s",
        "[5/7] rtl      compile · 90 s",
        "[5/7] rtl      synth",
        "[5/7] rtl      done in 300.0 s (agreement 100.0% · da4ml cost 9,673)",
    ]
    tty = io.StringIO()
    Display(tty, tty=True)({"stage": "rtl", "step": "compile", "elapsed_s": 35})
    assert tty.getvalue().endswith("rtl      compile · 35 s")


def test_display_on_a_terminal() -> None:
    buf = io.StringIO()
    d = Display(buf, tty=True)
    d({"event": "step", "stage": "build", "status": "start"})
    d({"event": "step", "stage": "build", "status": "done", "elapsed_s": 0.05})
    d({"event": "step", "stage": "train", "status": "start"})
    d({"stage": "train", "epoch": 1, "epochs": 3})
    d({"event": "step", "stage": "train", "status": "failed", "elapsed_s": 1.0, "cause": "boom"})
    text = buf.getvalue()
    assert "\r\033[K[3/6] train    epoch 1/3" in text
    assert text.endswith("[3/6] train    FAILED after 1.0 s: boom\n")


def test_firmware_that_disagrees_fails_the_run(tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str]) -> None:
    fake_build("disagree")  # 3 of 4 rows agree: 75%
    out = tmp_path / "b"
    err = _fails(capsys, ["run", str(SPECS / "digits_qap.qap"), "-o", str(out), "-q"])
    assert "step 'verify' failed: the firmware disagrees with the model: QKeras ↔ HLS argmax agreement 75.00% (3/4 test rows) is below the required 99%" in err
    results = json.loads((out / "results.json").read_text())  # the figures are kept, and say it failed
    assert results["verify"] == {"min_agreement": 0.99, "agreement": 0.75, "ok": False, "reason": results["verify"]["reason"]}
    assert main(["run", str(SPECS / "digits_qap.qap"), "-o", str(out), "-q", "--min-agreement", "75%"]) == 0
    assert "75.00% of 4 test rows agree" in capsys.readouterr().out
    # the spec's own threshold
    spec = _spec().model_copy(update={"target": _spec().target.model_copy(update={"agreement": 0.7})})
    assert run_spec(spec, out)["verify"]["ok"] is True
    with pytest.raises(StepError) as e:
        run_spec(spec, out, min_agreement=0.8)
    assert e.value.step == "verify" and e.value.results is not None


def test_one_run_per_folder(tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str]) -> None:
    from qapdsl import outdir

    fake_build("ok")
    out = tmp_path / "b"
    with outdir.lock(out, "run"):
        assert main(["run", str(SPECS / "digits_qap.qap"), "-o", str(out), "-q"]) == 2
        err = capsys.readouterr().err
        assert f"{out} is in use by another `qapc run` (pid {os.getpid()}" in err
        assert main(["build", str(SPECS / "digits_qap.qap"), "-o", str(out)]) == 2
    assert not (out / "results.json").exists() and not (out / "train.py").exists()
    assert main(["run", str(SPECS / "digits_qap.qap"), "-o", str(out), "-q"]) == 0  # free again


def test_missing_ml_stack_stops_before_training(tmp_path: Path, fake_build: Callable[[str], list[Path]], monkeypatch: pytest.MonkeyPatch) -> None:
    fake_build("ok")
    import dataclasses

    from qapdsl import dialects, environments

    broken = dataclasses.replace(dialects.QKERAS, modules=(*dialects.QKERAS.modules, "qapc_no_such_module"))
    monkeypatch.setattr(dialects, "get", lambda name: broken)
    monkeypatch.setattr(environments, "CHECKOUT", tmp_path)  # no .venv next to qapc either
    monkeypatch.delenv(broken.env_var, raising=False)
    with pytest.raises(StepError) as e:
        run_spec(_spec(), tmp_path / "b")
    assert e.value.step == "tools" and "lacks " in e.value.cause and "qapc_no_such_module" in e.value.cause and "pip install" in e.value.cause
    assert "scripts/setup.sh" in e.value.cause and broken.env_var in e.value.cause
    assert not (tmp_path / "b" / "train.py").exists()


DRIVER = r"""
import sys
sys.path.insert(0, {tests!r})
import pytest
from test_runner import FAKE_HANG
from qapdsl.runner import pipeline
from qapdsl.cli import main

def build(spec, out_dir, spec_path):
    (out_dir / "train.py").write_text(FAKE_HANG.format(behaviour="hang"))

pipeline._build = build
sys.exit(main(["run", {spec!r}, "-o", {out!r}, "-q"]))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waits for its parent to reap it: it runs no more
        return f.read().split(") ")[-1][:1] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_run_leaves_no_process(sig: signal.Signals, tmp_path: Path) -> None:
    """`qapc run` killed mid-training (SIGTERM, or SIGKILL that it cannot catch): its train.py and that script's own children die too."""
    out = tmp_path / "b"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(tests=str(Path(__file__).parent), spec=str(SPECS / "digits_qap.qap"), out=str(out)))
    proc = subprocess.Popen([sys.executable, str(driver)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "pids").is_file() or len((out / "pids").read_text().split()) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pids = [int(p) for p in (out / "pids").read_text().split()]
    assert all(_alive(p) for p in pids)
    proc.send_signal(sig)
    rc = proc.wait(30)
    assert rc == (130 if sig == signal.SIGTERM else -signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids), "train.py or its child outlived qapc"


def test_data_file_of_an_imported_spec_is_relative_to_that_spec(
    tmp_path: Path, fake_build: Callable[[str], list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`data file "x.npz"` written in sub/base.qap means sub/x.npz, for the build and for the run alike."""
    import numpy as np

    from qapdsl.backends import render

    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "base.qap").write_text('model b {\n    input 4\n    dense out 3 softmax\n}\ntrain {\n    data file "x.npz"\n    classes 3\n}\n')
    (tmp_path / "main.qap").write_text('import "sub/base.qap"\nmodel m from b {\n    input 4\n}\n')
    np.savez(sub / "x.npz", X=np.zeros((30, 4)), y=np.arange(30) % 3)
    monkeypatch.chdir(tmp_path)
    loaded = load_file("main.qap")
    assert loaded.spec is not None, loaded.diagnostics
    train_py = render(loaded.spec, Path("build/m"))["train.py"].decode()
    assert "DATA_FILE = '../../sub/x.npz'" in train_py  # from the build folder to sub/x.npz
    assert pipeline.preflight(loaded.spec, None)["data"] is None  # found (no override needed), not "data file not found"
    fake_build("ok")
    assert run_spec(loaded.spec, tmp_path / "out", spec_path="main.qap")["metrics"]["accuracy"] == 0.93


def test_report_finds_the_last_run_of_a_spec(
    tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`qapc run SPEC -o DIR`, then `qapc report SPEC` without -o: the measured figures of DIR, and where they are from."""
    from qapdsl import runs

    fake_build("ok")
    monkeypatch.chdir(tmp_path)  # build/digits_qap/ (the default) does not exist here
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # no run recorded by another test
    spec = str(SPECS / "digits_qap.qap")
    assert main(["report", spec, "--json"]) == 0
    cap = capsys.readouterr()
    assert not (json.loads(cap.out)["measured"] or {}).get("accuracy")
    assert f"qapc: no results of a run of {spec}: looked at build/digits_qap/results.json, and in {runs.index_path()} (no run of it is recorded)" in cap.err
    assert main(["run", spec, "-o", str(tmp_path / "elsewhere"), "-q"]) == 0
    assert f"per layer       qapc report {spec}" in capsys.readouterr().out
    assert main(["report", spec, "--json"]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out)["measured"]["accuracy"] == 0.93
    assert f"measured figures from {tmp_path / 'elsewhere' / 'results.json'} (the last `qapc run` of {spec}" in cap.err
    (last,) = [r for r in json.loads(runs.index_path().read_text())["runs"] if r["spec"] == spec]
    assert (last["model"], last["build_dir"]) == ("digits_qap", str(tmp_path / "elsewhere"))
    # the folder of the last run gone: says so, and shows the declared figures
    import shutil

    shutil.rmtree(tmp_path / "elsewhere")
    assert main(["report", spec]) == 0
    assert f"its last run was in {tmp_path / 'elsewhere'}, which holds no results.json now" in capsys.readouterr().err
    # an explicit -o is taken as given, and a folder without results says so
    assert main(["run", spec, "-o", str(tmp_path / "again"), "-q"]) == 0
    capsys.readouterr()
    assert main(["report", spec, "-o", str(tmp_path / "nothing"), "--json"]) == 0
    cap = capsys.readouterr()
    assert cap.err.startswith(f"qapc: no results.json in {tmp_path / 'nothing'}: the table shows the declared figures only")
    assert not (json.loads(cap.out)["measured"] or {}).get("accuracy")


def test_run_index_survives_garbage_and_keeps_one_entry_per_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qapdsl import runs

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    runs.index_path().parent.mkdir(parents=True, exist_ok=True)
    runs.index_path().write_text("not json")
    assert runs.last("a.qap", "m") is None
    assert runs.record(str(tmp_path / "a.qap"), "m", tmp_path / "one")
    assert runs.record(str(tmp_path / "a.qap"), "m", tmp_path / "two")
    assert runs.record(str(tmp_path / "a.qap"), "other", tmp_path / "three")
    last = runs.last(str(tmp_path / "a.qap"), "m")
    assert last is not None and last.build_dir == str(tmp_path / "two")
    assert sum(1 for r in json.loads(runs.index_path().read_text())["runs"] if r["spec"] == str(tmp_path / "a.qap")) == 2


def test_run_changes_no_file_it_did_not_write(tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str]) -> None:
    """The review's case (`qapc run s.qap -o u` deleted the user's report.md, results.json, model.h5 and
    metrics.json before training), for every name a run writes: refused, nothing touched."""
    from test_ownership import _users_files, tree

    from qapdsl import outdir

    used = fake_build("ok")
    out = tmp_path / "u"
    for name in outdir.RUN_OUTPUTS:
        before = _users_files(out, (name,))
        assert main(["run", str(SPECS / "digits_qap.qap"), "-o", str(out), "-q"]) == 2, name
        err = capsys.readouterr().err
        assert f"holds files qapc did not write (or that changed since it wrote them): {name};" in err, err
        assert tree(out) == before
        (out / name).unlink()
    assert not used  # refused before anything ran
    # the folder's own files are replaced run after run, and --force keeps the user's aside
    assert main(["run", str(SPECS / "digits_qap.qap"), "-o", str(out), "-q"]) == 0
    assert main(["run", str(SPECS / "digits_qap.qap"), "-o", str(out), "-q"]) == 0
    (out / "report.md").write_text("my notes")
    capsys.readouterr()
    assert main(["run", str(SPECS / "digits_qap.qap"), "-o", str(out), "-q", "--force"]) == 0
    kept = list((out / outdir.KEPT).glob("*/report.md"))
    assert len(kept) == 1 and kept[0].read_text() == "my notes"
    assert "# qapc run" in (out / "report.md").read_text()


def test_a_failed_run_leaves_its_outputs_to_the_next(tmp_path: Path, fake_build: Callable[[str], list[Path]]) -> None:
    """What a failing step wrote is qapc's (recorded when the step ends, done or failed): the next run replaces it."""
    fake_build("crash")
    out = tmp_path / "b"
    assert main(["run", str(SPECS / "digits_qap.qap"), "-o", str(out), "-q"]) == 3
    assert (out / "train.log").is_file()
    fake_build("ok")
    assert main(["run", str(SPECS / "digits_qap.qap"), "-o", str(out), "-q"]) == 0


@pytest.mark.parametrize(
    ("name", "content", "cause"),
    [
        ("metrics.json", {"accuracy": "high"}, 'metrics.json: metrics.accuracy'),
        ("metrics.json", [1], "metrics.json: it holds a list, not a JSON object"),
        ("firmware.json", {"agreement": "all"}, 'firmware.json: agreement: expected an object or a number, got the string "all"'),
    ],
)
def test_a_script_output_of_another_shape_fails_its_step(name: str, content: object, cause: str, tmp_path: Path) -> None:
    """metrics.json and firmware.json are checked with results.json's models before anything reads them."""
    (tmp_path / name).write_text(json.dumps(content))
    shape = results_file.Metrics if name == "metrics.json" else results_file.Firmware
    with pytest.raises(StepError) as e:
        pipeline._read_json(tmp_path / name, "train", shape)
    assert cause.split(": ", 1)[0] in e.value.cause and cause.split(": ", 1)[-1].removeprefix("metrics.") in e.value.cause, e.value.cause
