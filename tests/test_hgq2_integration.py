"""The hgq2 dialect, run for real: HGQ2 0.2 on Keras 3 (JAX), hls4ml's Keras 3 frontend and g++.

The scripts run with the interpreter `qapc run` picks for the dialect
(`qapdsl.environments`: qapc's own when it has the HGQ2 stack, else the
`.venv-hgq2` scripts/setup.sh makes), so these tests run from either
environment. Small data made here, tiny models, a few epochs; each build is
shared by the tests that look at it.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import exclusive, shared_dir

from qapdsl import dialects, environments, ir, quant
from qapdsl.backends import build
from qapdsl.loader import load_file
from qapdsl.runner import pipeline

pytestmark = [pytest.mark.integration, pytest.mark.hgq2]

np = pytest.importorskip("numpy")
pytest.importorskip("sklearn")

try:
    PYTHON = environments.find(dialects.HGQ2).python
except environments.NoInterpreter as e:  # pragma: no cover - CI sets up .venv-hgq2
    pytest.skip(f"no HGQ2 environment: {e}", allow_module_level=True)

FEATURES, CLASSES, ROWS = 16, 4, 2400

MLP = """model {name} {{
    input 16
    quant inputs fixed<10,4>, weights fixed<6,1>, activations ufixed<6,2>
    dense fc1 32 relu {{ batchnorm; l1 1e-5 }}
    dense fc2 16 relu {{ bias fixed<8,3>; activations 6 bits int 1 }}
    dense fc3 16 tanh
    dense out 4 softmax {{ weights fixed<8,2> }}
}}
train {{
    dialect hgq2
    data file "data.npz"
    split test 0.25, val 0.2
    seed 3
    optimizer adam lr 3e-3
    batch 64
    epochs {epochs}
}}
target fpga {{ backend vitis; part "xcu250-figd2104-2L-e"; clock 5 ns; io {io}; strategy latency; reuse 1 }}
"""

SPECS: dict[str, tuple[str, str, int]] = {
    # name: (prune section, io, epochs)
    "lottery": ("prune { scope global; skip fc3, out; schedule iterative { rounds 3; rate 30%; rewind init; epochs 2 } }", "parallel", 3),
    "constant": ("prune { scope layer; skip fc3, out; schedule constant { target 60%; frequency 5 } }", "stream", 3),
}

CNN = """model cnn {
    input (16, 1)
    quant inputs fixed<10,4>, weights fixed<8,2>, activations ufixed<8,3>
    conv1d c1 6 relu kernel 3
    maxpool p1 2
    conv1d c2 6 linear kernel 3 { activations fixed<10,4> }
    activation a2 relu
    avgpool p2 2
    flatten f
    dropout d 0.1
    dense out 4 softmax
}
prune { scope layer; select c*; schedule polynomial { initial 10%; target 70%; frequency 4 } }
train { dialect hgq2; data file "data.npz"; split test 0.25, val 0.2; seed 5; optimizer adam lr 5e-3; batch 64; epochs 4 }
target fpga { backend vitis; part "xcu250-figd2104-2L-e"; clock 5 ns; io stream; strategy resource; reuse 3 }
"""


def make_workdir(d: Path) -> None:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=ROWS, n_features=FEATURES, n_informative=10, n_classes=CLASSES, n_clusters_per_class=1, class_sep=1.5, random_state=0)
    np.savez(d / "data.npz", X=x.astype("float32"), y=y)
    (d / "cnn.qap").write_text(CNN, encoding="utf-8")
    for name, (prune, io, epochs) in SPECS.items():
        (d / f"{name}.qap").write_text(MLP.format(name=name, io=io, epochs=epochs) + prune + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_dir(tmp_path_factory, "hgq2_build", make_workdir)


@dataclass
class Run:
    spec: ir.Spec
    out: Path
    results: dict[str, Any]
    metrics: dict[str, Any]
    firmware: dict[str, Any]


def run(workdir: Path, name: str) -> Run:
    """`qapc run` on `name`, once (shared between xdist workers)."""
    loaded = load_file(workdir / f"{name}.qap")
    assert loaded.ok and loaded.spec is not None, [d.message for d in loaded.diagnostics]
    out = workdir / "build" / name
    with exclusive(workdir / f"{name}.lock"):
        if not (out / "results.json").exists():
            pipeline.run_spec(loaded.spec, out)
    read = lambda f: json.loads((out / f).read_text())  # noqa: E731
    return Run(loaded.spec, out, read("results.json"), read("metrics.json"), read("firmware.json"))


@pytest.fixture(scope="module")
def lottery(workdir: Path) -> Run:
    return run(workdir, "lottery")


def declared(spec: ir.Spec) -> float:
    assert spec.prune is not None
    return spec.prune.schedule.final_sparsity


def assert_tfmot_sparsity(r: Run, schedule: str) -> None:
    """Every pruned layer at exactly the sparsity tfmot's schedule reaches on it."""
    target = declared(r.spec)
    for name, got in r.metrics["sparsity"]["layers"].items():
        print(f"hgq2 {schedule} {name}: target {target:.4f}, achieved {got:.4f}")
        assert got == pytest.approx(tfmot_sparsity(r, name, target), abs=1e-9), name


def tfmot_sparsity(r: Run, layer: str, target: float) -> float:
    """What tfmot's magnitude pruning reaches on `layer`'s kernel: it keeps max(round(size * (1 - target)), 1)
    weights, rounding in float32 (an 18-weight kernel at 70% keeps 5: 72.2%)."""
    size = np.load(r.out / "weights.npz")[f"{layer}/kernel"].size
    kept = max(int(np.round(np.float32(size) * (np.float32(1) - np.float32(target)))), 1)
    return 1 - kept / size


def test_the_scripts_run_with_the_hgq2_interpreter(lottery: Run) -> None:
    log = (lottery.out / "train.log").read_text()
    assert log.splitlines()[0].startswith(f"$ {PYTHON} ")
    assert (lottery.out / "model.keras").is_file() and not (lottery.out / "model.h5").exists()
    assert lottery.firmware["framework"] == "HGQ2"
    assert "HGQ2 ↔ HLS" in (lottery.out / "report.md").read_text()


def test_firmware_is_bit_exact(lottery: Run) -> None:
    """Every quantizer converts exactly, the tanh table and QSoftmax too: the C++ emulation computes the model's outputs."""
    f = lottery.firmware
    print(f"hgq2 lottery: agreement {f['agreement']}, max |diff| {f['max_abs_diff']}")
    assert f["agreement"]["fraction"] == 1.0 and f["agreement"]["outputs_fraction"] == 1.0
    assert f["max_abs_diff"] <= 1e-5  # QSoftmax's exp table may differ from glibc's expf in one entry (FINDINGS)
    assert lottery.results["verify"]["ok"]
    classes = {row["layer"]: row["class"] for row in f["precision"]}
    assert classes["fc3_tanh"] == "UnaryLUT" and "Softmax" in classes["out_softmax"]


def test_iterative_global_sparsity_and_rewind(lottery: Run) -> None:
    target = declared(lottery.spec)
    got = lottery.metrics["sparsity"]["total"]
    print(f"hgq2 iterative global: target {target:.4f}, achieved {got:.4f}")
    assert abs(got - target) < 0.01
    initial = np.load(lottery.out / "initial_weights.npz")
    rewound = np.load(lottery.out / "rewound_weights.npz")
    final = np.load(lottery.out / "weights.npz")
    assert sorted(initial.files) == ["fc1/kernel", "fc2/kernel"]
    pruned = 0
    for key in initial.files:
        mask = rewound[key] != 0
        assert np.array_equal(rewound[key][mask], initial[key][mask]), key  # survivors rewound bit for bit
        assert np.all(final[key][~mask] == 0), key  # pruned weights stayed zero through retraining
        pruned += int((~mask).sum())
    assert pruned == round(target * sum(initial[k].size for k in initial.files))
    for r in lottery.metrics["rounds"]:
        assert r["zero_fraction"] >= r["mask_sparsity"] - 1e-9


def test_weights_on_the_declared_grid(lottery: Run) -> None:
    w = np.load(lottery.out / "weights.npz")
    for key, (width, integer) in {"fc1/kernel": (6, 1), "fc1/bias": (6, 1), "fc2/bias": (8, 3), "out/kernel": (8, 2)}.items():
        fx = quant.Fixed(True, width, integer)
        lo, hi = fx.bounds()
        steps = w[key] / fx.lsb()
        assert np.all(steps == np.round(steps)) and w[key].min() >= lo and w[key].max() <= hi, key


def test_gradual_constant_schedule(workdir: Path) -> None:
    r = run(workdir, "constant")
    assert_tfmot_sparsity(r, "constant")
    assert sorted(r.metrics["sparsity"]["layers"]) == ["fc1", "fc2"]
    assert r.firmware["agreement"]["fraction"] == 1.0  # io_stream


def test_conv_pool_polynomial_stream_resource(workdir: Path) -> None:
    """conv1d, max/avg pooling, a standalone relu, flatten, dropout; polynomial pruning; io_stream with Resource."""
    r = run(workdir, "cnn")
    assert_tfmot_sparsity(r, "polynomial")
    f = r.firmware
    print(f"hgq2 cnn: agreement {f['agreement']['fraction']}, max |diff| {f['max_abs_diff']}")
    assert f["agreement"]["fraction"] == 1.0 and f["max_abs_diff"] <= 1e-5


# -- the quantizers, value by value -------------------------------------------------

GRID = [
    # (spec type, activation): every value the HGQ2 quantizer outputs is the firmware type's
    ("ufixed<6,2>", "relu"),
    ("6 bits int 2", "relu"),
    ("ufixed<5,-1>", "relu"),  # negative integer bits: HGQ2 has them, QKeras does not
    ("fixed<6,2>", "linear"),
    ("8 bits int 3", "linear"),
    ("fixed<6,-1>", "linear"),
    ("fixed<4,4>", "linear"),  # integers only
]


def test_quantizers_hold_the_plan_type(tmp_path: Path) -> None:
    """The generated `fixed` / `ufixed` helpers make HGQ2 quantizers whose outputs are exactly the
    firmware type's cast (half to even, saturating; relu included) on a dense input grid."""
    cases = []
    for text, activation in GRID:
        spec = _spec(
            tmp_path,
            f"model m {{ input 4\n quant activations {text}\n dense fc 4 {activation}\n dense out 3 softmax }}\ntrain {{ dialect hgq2; data sklearn iris }}\n",
        )
        q = quant.effective(spec.model, spec.model.layers[0]).activations
        fx = quant.activation_fixed(q, activation)
        expr = quant.hgq2_quantizer(q, "activations", activation)
        assert fx is not None and expr is not None
        cases.append({"expr": expr, "relu": activation == "relu", "signed": fx.signed, "fraction": fx.fraction, "bounds": list(fx.bounds())})
    loaded = load_file(tmp_path / "m.qap")
    assert loaded.spec is not None
    build(loaded.spec, tmp_path / "b", sources=loaded.sources)
    probe = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        sys.path.insert(0, sys.argv[1])
        import train  # the generated script: its fixed() / ufixed() helpers
        from hgq.quantizer import Quantizer
        x = np.linspace(-40, 40, 160001).astype("float32")
        report = []
        for case in json.loads(sys.argv[2]):
            layer = Quantizer(eval(case["expr"], vars(train)))
            got = np.asarray(layer(x[:, None]), dtype=np.float64)[:, 0]
            v = np.maximum(x, 0) if case["relu"] else x
            scale = 2.0 ** case["fraction"]
            want = np.clip(np.round(v.astype(np.float64) * scale) / scale, *case["bounds"])
            bad = np.flatnonzero(got != want)
            report.append({"expr": case["expr"], "bad": int(bad.size), "x": x[bad[:3]].tolist(), "got": got[bad[:3]].tolist(), "want": want[bad[:3]].tolist()})
        print(json.dumps(report))
        """
    )
    env = dict(os.environ, KERAS_BACKEND="jax")
    proc = subprocess.run([PYTHON, "-c", probe, str(tmp_path / "b"), json.dumps(cases)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in json.loads(proc.stdout.strip().splitlines()[-1]):
        assert row["bad"] == 0, row


def _spec(d: Path, text: str) -> ir.Spec:
    (d / "m.qap").write_text(text, encoding="utf-8")
    loaded = load_file(d / "m.qap")
    assert loaded.spec is not None, [str(x) for x in loaded.diagnostics]
    return loaded.spec


def test_a_relu_after_a_lookup_table_converts_exactly(tmp_path: Path) -> None:
    """tanh's table quantizes its output; a relu after it quantizes again: generated as Keras's ReLU and a
    quantizer of its own (hls4ml would otherwise fuse the two quantizers and round once)."""
    spec = _spec(
        tmp_path,
        "model m {\n    input 4\n    quant weights fixed<6,1>, activations ufixed<6,2>\n    dense fc1 16 relu\n    dense fc2 16 tanh\n"
        "    activation r relu\n    dense out 3 softmax\n}\ntrain { dialect hgq2; data sklearn iris; epochs 3; batch 16 }\n",
    )
    out = tmp_path / "run"
    pipeline.run_spec(spec, out)
    assert "x = keras.layers.ReLU(name='r')(x)" in (out / "train.py").read_text()
    f = json.loads((out / "firmware.json").read_text())
    print(f"hgq2 tanh → relu: agreement {f['agreement']['fraction']}, max |diff| {f['max_abs_diff']}")
    assert f["agreement"]["fraction"] == 1.0 and f["max_abs_diff"] <= 1e-5
