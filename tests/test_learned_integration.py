"""Learned bit widths run for real (issue 18): HGQ2 trains the widths, hls4ml's HGQ2 frontend converts them.

A tiny MLP on small data made here, a strong resource term and a high learning rate so that the widths
move within a few epochs, and one round of iterative pruning on top.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import exclusive, shared_dir

from qapdsl import dialects, environments, learned
from qapdsl.loader import load_file
from qapdsl.runner import pipeline

pytestmark = [pytest.mark.integration, pytest.mark.hgq2]

np = pytest.importorskip("numpy")
pytest.importorskip("sklearn")

try:
    environments.find(dialects.HGQ2)
except environments.NoInterpreter as e:  # pragma: no cover - CI sets up .venv-hgq2
    pytest.skip(f"no HGQ2 environment: {e}", allow_module_level=True)

SPEC = """model tiny {
    input 16
    quant inputs fixed<10,4>, weights learned fixed<8,3> beta 1e-4..1e-3, activations ufixed<6,2>
    dense fc1 16 relu
    dense out 4 softmax { weights learned fixed<8,3> per channel beta 1e-4..1e-3 }
}
prune { scope global; schedule iterative { rounds 1; rate 30%; epochs 2 } }
train {
    dialect hgq2
    data file "data.npz"
    split test 0.25, val 0.2
    seed 3
    optimizer adam lr 1e-2
    batch 32
    epochs 6
}
target fpga { backend vitis; part "xcu250-figd2104-2L-e"; clock 5 ns; io parallel; strategy latency; reuse 1 }
"""
START_BITS = 8  # fixed<8,3>, the sign included


def make_workdir(d: Path) -> None:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=1600, n_features=16, n_informative=10, n_classes=4, n_clusters_per_class=1, class_sep=1.5, random_state=0)
    np.savez(d / "data.npz", X=x.astype("float32"), y=y)
    (d / "tiny.qap").write_text(SPEC, encoding="utf-8")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    d = shared_dir(tmp_path_factory, "learned_build", make_workdir)
    loaded = load_file(d / "tiny.qap")
    assert loaded.ok and loaded.spec is not None, [x.message for x in loaded.diagnostics]
    out = d / "build"
    with exclusive(d / "tiny.lock"):
        if not (out / "results.json").exists():
            pipeline.run_spec(loaded.spec, out)
    return out, json.loads((out / "metrics.json").read_text()), json.loads((out / "results.json").read_text())


def test_widths_change_during_training(run: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    _, metrics, _ = run
    for name, info in metrics["learned"]["layers"].items():
        print(f"learned widths {name}: histogram {info['histogram']} (started at {START_BITS} bits), EBOPs {info['ebops']:.0f}")
    fc1 = metrics["learned"]["layers"]["fc1"]["histogram"]
    assert set(fc1) - {"0", str(START_BITS)}, f"fc1's widths never left {START_BITS} bits: {fc1}"
    assert metrics["learned"]["ebops"] > 0


def test_zero_bit_weights_count_as_pruned(run: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    out, metrics, _ = run
    w = np.load(out / "weights.npz")
    total = zeros = 0
    for name in ("fc1", "out"):
        kernel = w[f"{name}/kernel"]
        bits = np.asarray(metrics["learned"]["layers"][name]["kernel_bits"]).reshape(kernel.shape)
        assert np.array_equal(bits == 0, kernel == 0), name  # a zero weight has zero bits, and the reverse
        assert metrics["sparsity"]["layers"][name] == pytest.approx(float(np.mean(kernel == 0)))
        total += kernel.size
        zeros += int(np.count_nonzero(kernel == 0))
    print(f"learned widths: {zeros} of {total} weights at zero bits (pruning asked for 30%)")
    assert metrics["sparsity"]["total"] == pytest.approx(zeros / total)
    assert metrics["sparsity"]["total"] >= 0.3 - 1e-3  # the schedule's 30% at least: its masks hold


def test_saved_weights_lie_on_their_learned_grids(run: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    out, _, _ = run
    w, widths = np.load(out / "weights.npz"), np.load(out / "widths.npz")
    for key in ("fc1/kernel", "fc1/bias", "out/kernel", "out/bias"):
        value, bits, fraction = w[key], widths[f"{key}/bits"], widths[f"{key}/fraction"]
        steps = value * 2.0**fraction
        assert np.all(steps == np.round(steps)), key
        integer = bits - 1 - fraction  # signed: the sign bit, integer bits, fraction bits
        bound = np.where(bits > 0, 2.0**integer - 2.0**-fraction, 0.0)
        assert np.all(np.abs(value) <= bound + 1e-12), key


def test_firmware_takes_the_learned_precisions_exactly(run: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    out, _, _ = run
    f = json.loads((out / "firmware.json").read_text())
    print(f"learned widths: HGQ2 ↔ HLS agreement {f['agreement']}, max |diff| {f['max_abs_diff']}")
    assert f["agreement"]["fraction"] == 1.0 and f["agreement"]["outputs_fraction"] == 1.0
    assert f["max_abs_diff"] == 0.0


def test_measured_bops_come_from_the_trained_widths(run: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    _, metrics, results = run
    layers = {row["name"]: row for row in results["report"]["layers"]}
    fc1 = learned.bops(metrics["learned"]["layers"]["fc1"]["kernel_bits"], 10)  # input fixed<10,4>
    out = learned.bops(metrics["learned"]["layers"]["out"]["kernel_bits"], 6)  # after ufixed<6,2>
    assert layers["fc1"]["bops_measured"] == pytest.approx(fc1)
    assert layers["out"]["bops_measured"] == pytest.approx(out)
