"""`qapc run`'s step machinery with stand-in scripts (fast): progress, results, every failure path.

The real pipeline (the generated train.py / convert.py, TensorFlow, hls4ml,
g++) is exercised by tests/test_run_digits.py.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SPECS

from qapdsl import ir
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

FAKE_CONVERT = r"""
import argparse, json, sys
BEHAVIOUR = {behaviour!r}
p = argparse.ArgumentParser(); p.add_argument("--model"); p.add_argument("--data"); p.add_argument("--out"); p.add_argument("--synth", action="store_true")
a = p.parse_args()
print("@qapc " + json.dumps({{"step": "convert"}}), flush=True)
if BEHAVIOUR == "convert_error":
    raise RuntimeError("Unsupported layer type: QConv3D")
print("@qapc " + json.dumps({{"step": "emulate"}}), flush=True)
json.dump({{"agreement": {{"argmax": 4, "fraction": 1.0}}, "max_abs_diff": 0.0, "mean_abs_diff": 0.0, "n_rows": 4,
           "hls_accuracy": 0.93, "qkeras_accuracy": 0.93, "synth": a.synth}}, open("firmware.json", "w"))
"""


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[Path]]:
    """Replace the backends with stand-in scripts; returns the list of build dirs used."""
    used: list[Path] = []

    def install(behaviour: str = "ok") -> list[Path]:
        def build(spec: ir.Spec, out_dir: Path, spec_path: str | None) -> None:
            used.append(out_dir)
            (out_dir / "train.py").write_text(FAKE_TRAIN.format(behaviour=behaviour))
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
    assert results["metrics"]["accuracy"] == 0.93 and results["firmware"]["agreement"]["fraction"] == 1.0
    assert results["report"]["measured"]["agreement"] == 1.0
    assert results["report"]["totals"]["sparsity_measured"] == 0.8
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
    assert "[2/4] train    done in" in cap.err and "[3/4] convert  done in" in cap.err
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
    assert f"step 'train' failed: data file not found: {tmp_path / 'nope.npz'}" in err
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not an npz file")
    err = _fails(capsys, ["run", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b"), "--data", str(garbage)])
    assert "step 'train' failed: UnpicklingError" in err or "step 'train' failed: ValueError" in err
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
    assert e.value.step == "train" and "data file not found: jets.npz" in e.value.cause


def test_gpp_missing(tmp_path: Path, fake_build: Callable[[str], list[Path]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake_build("ok")
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    err = _fails(capsys, ["run", str(SPECS / "digits_qap.qap"), "-o", str(tmp_path / "b")])
    assert "step 'convert' failed: g++ not found on PATH" in err
    assert (tmp_path / "b" / "model.h5").is_file() and (tmp_path / "b" / "metrics.json").is_file()


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
    assert lines[0] == "[2/4] train    round 1/2 · epoch 1/3 · loss 0.5 · val accuracy 90.0%"
    assert len(lines) == 5  # first and last epoch of each round, then done
    assert lines[-1] == "[2/4] train    done in 3.2 s (accuracy 95.0%)"
    assert describe({"stage": "convert", "step": "emulate", "message": "compiling"}) == "emulate · compiling"
    assert describe({"stage": "train", "step": "train", "round": 0, "rounds": 0, "epoch": 2, "epochs": 9}) == "epoch 2/9"


def test_display_on_a_terminal() -> None:
    buf = io.StringIO()
    d = Display(buf, tty=True)
    d({"event": "step", "stage": "build", "status": "start"})
    d({"event": "step", "stage": "build", "status": "done", "elapsed_s": 0.05})
    d({"event": "step", "stage": "train", "status": "start"})
    d({"stage": "train", "epoch": 1, "epochs": 3})
    d({"event": "step", "stage": "train", "status": "failed", "elapsed_s": 1.0, "cause": "boom"})
    text = buf.getvalue()
    assert "\r\033[K[2/4] train    epoch 1/3" in text
    assert text.endswith("[2/4] train    FAILED after 1.0 s: boom\n")
