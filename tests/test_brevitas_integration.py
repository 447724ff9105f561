"""The brevitas dialect, run for real: Brevitas 0.13.4 on PyTorch 2.13 (CPU), QONNX, hls4ml's ONNX frontend and g++.

The scripts run with the interpreter `qapc run` picks for the dialect (`qapdsl.environments`:
$QAPC_PYTHON_BREVITAS, qapc's own when it has the stack, else the `.venv-brevitas` scripts/setup.sh
makes); scripts/test.sh runs these on .venv-brevitas (marker `brevitas`). Digits, a small MLP, a few
epochs; one build per pruning scope, shared by the tests that look at it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qapdsl import dialects, environments
from qapdsl.backends import build
from qapdsl.loader import load_bytes

pytestmark = [pytest.mark.integration, pytest.mark.brevitas]

np = pytest.importorskip("numpy")

try:
    PYTHON = environments.find(dialects.BREVITAS).python
except environments.NoInterpreter as e:  # pragma: no cover - CI sets up .venv-brevitas
    pytest.skip(f"no Brevitas environment: {e}", allow_module_level=True)

SPEC = """model digits_b {{
    input 64
    quant inputs fixed<8,3>, weights fixed<6,1>, activations ufixed<6,2>
    dense fc1 32 relu
    dense fc2 16 relu
    dense out 10 softmax
}}
prune {{
    scope {scope}
    schedule {schedule}
}}
train {{
    data sklearn digits
    split test 0.2, val 0.2
    scale standard
    seed 3
    optimizer adam lr 3e-3
    batch 64
    epochs 4
    dialect brevitas
}}
"""
TYPES = {"weight": (6, 1, True), "bias": (6, 1, True)}  # fixed<6,1>


def _run(script: Path, *args: str) -> str:
    proc = subprocess.run([PYTHON, str(script), *args], capture_output=True, text=True, timeout=900, check=False, cwd=script.parent)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout


ITERATIVE = "iterative { rounds 3; rate 30%; rewind none; epochs 3 }"


def _trained(folder: Path, scope: str, data: Path | None = None, schedule: str = ITERATIVE) -> dict[str, Any]:
    loaded = load_bytes(SPEC.format(scope=scope, schedule=schedule).encode(), "spec.qap", base_dir=folder)
    assert loaded.ok and loaded.spec is not None, [d.message for d in loaded.diagnostics]
    out = build(loaded.spec, folder / "build")
    _run(out / "train.py", *(["--data", str(data)] if data else []))
    _run(out / "convert.py")
    return {
        "out": out,
        "metrics": json.loads((out / "metrics.json").read_text()),
        "firmware": json.loads((out / "firmware.json").read_text()),
        "weights": dict(np.load(out / "weights.npz")),
    }


@pytest.fixture(scope="module")
def global_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _trained(tmp_path_factory.mktemp("brevitas_global"), "global")


@pytest.fixture(scope="module")
def noisy_layer_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Per-layer pruning on digits plus noise: inputs that are not on the input type's grid."""
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("brevitas_layer")
    features, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    np.savez(folder / "noisy.npz", X=(features + rng.normal(0, 0.37, features.shape)).astype("float32"), y=y)
    return _trained(folder, "layer", folder / "noisy.npz")


@pytest.fixture(scope="module")
def constant_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """tfmot's constant schedule: 75% of each layer from step 20, masks updated every 10 steps."""
    return _trained(tmp_path_factory.mktemp("brevitas_constant"), "layer", schedule="constant { target 75%; begin 20; frequency 10 }")


def test_constant_schedule(constant_run: dict[str, Any]) -> None:
    for layer, s in constant_run["metrics"]["sparsity"]["layers"].items():
        assert abs(s - 0.75) <= 0.01, (layer, s)
    for key, values in constant_run["weights"].items():
        assert _on_grid(values, *TYPES[key.split("/")[1]]), key
    fw = constant_run["firmware"]
    assert fw["agreement"]["fraction"] == 1.0 and fw["max_abs_diff"] == 0.0, fw


def _on_grid(values: Any, width: int, integer: int, signed: bool) -> bool:
    steps = values * 2.0 ** (width - integer)
    low, high = (-(2 ** (width - 1)), 2 ** (width - 1) - 1) if signed else (0, 2**width - 1)
    return bool(np.all(steps == np.round(steps)) and steps.min() >= low and steps.max() <= high)


@pytest.mark.parametrize("run", ["global_run", "noisy_layer_run"])
def test_weights_on_their_grids_and_pruned_weights_zero(run: str, request: pytest.FixtureRequest) -> None:
    r = request.getfixturevalue(run)
    for key, values in r["weights"].items():
        assert _on_grid(values, *TYPES[key.split("/")[1]]), key
    target = 1 - 0.7**3
    sparsity = r["metrics"]["sparsity"]
    assert abs(sparsity["total"] - target) <= 0.01, sparsity
    if run == "noisy_layer_run":
        for layer, s in sparsity["layers"].items():
            assert abs(s - target) <= 0.01, (layer, s)
    # the mask of the last round holds through its retraining: the zeros of each round's mask are zeros at the end
    last = r["metrics"]["rounds"][-1]
    assert last["zero_fraction"] >= last["mask_sparsity"] and last["mask_sparsity"] >= target - 0.01
    # and they reach the firmware's weights (quantization may add zeros, never remove them)
    assert r["metrics"]["sparsity_quantized"]["total"] >= sparsity["total"]


@pytest.mark.parametrize("run", ["global_run", "noisy_layer_run"])
def test_firmware_is_bit_exact(run: str, request: pytest.FixtureRequest) -> None:
    r = request.getfixturevalue(run)
    fw = r["firmware"]
    assert fw["agreement"]["fraction"] == 1.0 and fw["max_abs_diff"] == 0.0, fw
    assert fw["n_rows"] == 360 and fw["model_accuracy"] == fw["hls_accuracy"]
    # the input's type is the input quantizer's, not hls4ml's default
    assert any(row["result"].startswith("fixed<8,3") for row in fw["precision"] if row["class"] == "Input"), fw["precision"][:2]


def test_accuracy_and_the_export_check(global_run: dict[str, Any]) -> None:
    assert global_run["metrics"]["accuracy"] >= 0.85, global_run["metrics"]["accuracy"]
    assert (global_run["out"] / "model.onnx").stat().st_size > 0 and (global_run["out"] / "model.pt").is_file()
    # the export check passes on the export and refuses it when the spec's types differ from the graph's
    code = (
        "import sys; sys.path.insert(0, '.'); import train; "
        "print(sorted(train.check_export('model.onnx'))); "
        "train.QUANT_TYPES['fc1.weight'] = 'fixed<7,1>'; train.check_export('model.onnx')"
    )
    proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=300, check=False, cwd=global_run["out"])
    assert "'ufixed<6,2>'" in proc.stdout and "'fixed<8,3>'" in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode != 0 and "the spec says" in proc.stderr, proc.stderr[-2000:]


def test_qapc_run_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`qapc run` (train, convert, C++ emulation, report, verify) on the digits demo, a few epochs."""
    from qapdsl.cli import main

    spec = Path(__file__).resolve().parent.parent / "specs" / "digits_brevitas.qap"
    rc = main(["run", str(spec), "-o", str(tmp_path / "run"), "--epochs", "2", "-q"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err[-3000:]
    assert "Traceback" not in cap.err
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    fw = results["firmware"]
    assert fw["framework"] == "Brevitas" and fw["agreement"]["fraction"] == 1.0 and fw["max_abs_diff"] == 0.0, fw
    assert abs(results["metrics"]["sparsity"]["total"] - (1 - 0.8**8)) <= 0.01
    assert results["report"]["measured"]["agreement"] == 1.0
