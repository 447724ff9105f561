"""The generated scripts, run for real: TensorFlow, QKeras, tfmot, hls4ml and g++.

Small data made here (scikit-learn's make_classification, saved as .npz / .csv
/ .parquet / .h5), tiny models, a few epochs. Each trained model is shared by
the tests that look at it (module-scoped fixtures).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import exclusive, shared_dir

from qapdsl import ir, quant
from qapdsl.backends import build
from qapdsl.loader import load_file

pytestmark = pytest.mark.integration

np = pytest.importorskip("numpy")
pytest.importorskip("tensorflow")
pytest.importorskip("qkeras")
pytest.importorskip("hls4ml")

FEATURES, CLASSES, ROWS = 16, 4, 2400

MODEL = """model {name} {{
    input 16
    quant inputs fixed<10,4>, weights fixed<6,1>, activations ufixed<6,2>
    dense fc1 32 relu {{ batchnorm; l1 1e-5 }}
    dense fc2 16 relu {{ bias fixed<8,3> }}
    dense out 4 softmax {{ weights fixed<8,2> }}
}}
train {{
    data {data}
    split test 0.25, val 0.2
    seed 3
    optimizer adam lr 3e-3
    batch 64
    epochs 3
}}
target fpga {{ backend vitis; part "xcu250-figd2104-2L-e"; clock 5 ns; io {io}; strategy latency; reuse 1 }}
"""

SPECS: dict[str, tuple[str, str, str]] = {
    # name: (data, prune section, io)
    "lottery": ('file "data.npz"', "prune { scope global; skip out; schedule iterative { rounds 3; rate 30%; rewind init; epochs 2 } }", "parallel"),
    "perlayer": ('file "data.csv" target label', "prune { scope layer; schedule iterative { rounds 2; rate 50%; rewind none; epochs 2 } }", "parallel"),
    "constant": ('file "data.parquet"', "prune { scope layer; skip out; schedule constant { target 60%; frequency 5 } }", "stream"),
    "polynomial": ('file "data.h5"', "prune { scope layer; select fc*; schedule polynomial { initial 10%; target 80%; frequency 4 } }", "parallel"),
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
    batchnorm bn
    dense out 4 softmax
}
prune { scope global; schedule iterative { rounds 1; rate 50%; rewind none; epochs 2 } }
train { data file "data.npz"; split test 0.25, val 0.2; seed 5; optimizer adam lr 5e-3; batch 64; epochs 3 }
target fpga { backend vivado; part "xcu250-figd2104-2L-e"; clock 5 ns; io parallel; strategy latency; reuse 1 }
"""


@dataclass
class Trained:
    spec: ir.Spec
    out: Path
    metrics: dict[str, Any]
    progress: list[dict[str, Any]]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_dir(tmp_path_factory, "qap_build", make_data)


def make_data(d: Path) -> None:
    import h5py
    import pandas as pd
    from sklearn.datasets import make_classification

    features, y = make_classification(
        n_samples=ROWS, n_features=FEATURES, n_informative=10, n_classes=CLASSES, n_clusters_per_class=1, class_sep=1.5, random_state=0
    )
    x = features.astype("float32")
    np.savez(d / "data.npz", X=x, y=y)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(FEATURES)])
    frame.insert(3, "label", np.array(["a", "b", "c", "d"])[y])  # a named, non-last, string label column
    frame.to_csv(d / "data.csv", index=False)
    frame.drop(columns=["label"]).assign(y=y).to_parquet(d / "data.parquet")  # label: last column
    with h5py.File(d / "data.h5", "w") as f:
        f["X"] = x
        f["y"] = y
    (d / "cnn.qap").write_text(CNN, encoding="utf-8")
    for name, (data, prune, io) in SPECS.items():
        (d / f"{name}.qap").write_text(MODEL.format(name=name, data=data, io=io) + prune + "\n", encoding="utf-8")


def run_script(args: list[str], cwd: Path) -> tuple[str, list[dict[str, Any]]]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    events = [json.loads(line[len("@qapc ") :]) for line in proc.stdout.splitlines() if line.startswith("@qapc ")]
    return proc.stdout, events


def train(workdir: Path, name: str, *extra: str) -> Trained:
    """Build and train `name` once (shared between xdist workers)."""
    loaded = load_file(workdir / f"{name}.qap")
    assert loaded.ok and loaded.spec is not None, [d.message for d in loaded.diagnostics]
    out = workdir / "build" / name
    with exclusive(workdir / f"{name}.lock"):
        if not (out / "progress.json").exists():
            build(loaded.spec, out, sources=loaded.sources)
            _, events = run_script([str(out / "train.py"), *extra], cwd=workdir)
            (out / "progress.json").write_text(json.dumps(events))
    events = json.loads((out / "progress.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    return Trained(loaded.spec, out, metrics, events)


@pytest.fixture(scope="module")
def lottery(workdir: Path) -> Trained:
    return train(workdir, "lottery")


@pytest.fixture(scope="module")
def lottery_firmware(lottery: Trained) -> dict[str, Any]:
    return convert(lottery.out)


def h5_weights(path: Path) -> dict[str, Any]:
    """{'fc1/kernel': array, ...} read straight from model.h5."""
    import h5py

    out: dict[str, Any] = {}
    with h5py.File(path, "r") as f:

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                parts = name.split("/")  # fc1/fc1/kernel:0
                out[f"{parts[-2]}/{parts[-1].split(':')[0]}"] = obj[()]

        f["model_weights"].visititems(visit)
    return out


def declared(spec: ir.Spec) -> float:
    assert spec.prune is not None
    return spec.prune.schedule.final_sparsity


# -- training ---------------------------------------------------------------------


def test_train_outputs_and_progress(lottery: Trained) -> None:
    m = lottery.metrics
    assert m["accuracy"] > 1.5 / CLASSES  # it learned something
    assert len(m["auc"]["per_class"]) == CLASSES and 0.5 < m["auc"]["mean"] <= 1.0
    assert m["epochs"] == 3 + 3 * 2 and [r["round"] for r in m["rounds"]] == [0, 1, 2, 3]
    with np.load(lottery.out / "test_data.npz") as t:
        assert t["X_test"].shape == (ROWS // 4, FEATURES) and t["y_test"].dtype.kind == "i"
    with np.load(lottery.out / "activations.npz") as a:
        assert sorted(a.files) == ["fc1", "fc2"]
        assert a["fc1"].shape == (ROWS // 4, 32) and a["fc1"].dtype == bool and a["fc2"].shape == (ROWS // 4, 16)
    steps = [e["step"] for e in lottery.progress]
    assert steps[0] == "data" and steps[-1] == "done"
    epochs = [e for e in lottery.progress if e["step"] == "train"]
    assert len(epochs) == 9 and all({"epoch", "epochs", "round", "rounds", "loss", "val_accuracy"} <= set(e) for e in epochs)


def test_weights_on_the_declared_grid(lottery: Trained) -> None:
    weights = h5_weights(lottery.out / "model.h5")
    model = lottery.spec.model
    checked = 0
    for layer in model.layers:
        eff = quant.effective(model, layer)
        for role, q in (("kernel", eff.weights), ("bias", eff.bias)):
            fx = quant.to_fixed(q)
            assert fx is not None
            values = weights[f"{layer.name}/{role}"].astype("float64")
            scaled = values * 2.0**fx.fraction
            assert np.array_equal(scaled, np.round(scaled)), f"{layer.name}/{role} off the {fx.spec()} grid"
            lo, hi = fx.bounds()
            assert values.min() >= lo and values.max() <= hi, (layer.name, role, values.min(), values.max(), fx.spec())
            if role == "kernel":  # (fc1's bias stays 0: the batch norm after it cancels its gradient)
                assert len(np.unique(values)) > 3  # trained, not collapsed
            checked += 1
    assert checked == 6


def test_iterative_global_sparsity(lottery: Trained) -> None:
    target = declared(lottery.spec)
    got = lottery.metrics["sparsity"]["total"]
    print(f"iterative global: target {target:.4f}, achieved {got:.4f}, error {100 * abs(got - target):.3f} pp")
    assert abs(got - target) < 0.01
    # measured independently from the saved weights: at least the pruned fraction is zero
    weights = h5_weights(lottery.out / "model.h5")
    zeros = sum(int((weights[f"{n}/kernel"] == 0).sum()) for n in ("fc1", "fc2"))
    total = sum(weights[f"{n}/kernel"].size for n in ("fc1", "fc2"))
    assert zeros / total >= target - 0.01
    assert "out" not in lottery.metrics["sparsity"]["layers"]  # skip out
    assert (weights["out/kernel"] == 0).mean() < 0.2


def test_lottery_ticket_rewinds_and_keeps_pruned_weights_zero(lottery: Trained) -> None:
    initial = np.load(lottery.out / "initial_weights.npz")
    rewound = np.load(lottery.out / "rewound_weights.npz")
    final = h5_weights(lottery.out / "model.h5")
    assert sorted(initial.files) == sorted(rewound.files) == ["fc1/kernel", "fc2/kernel"]
    pruned_total = 0
    for key in initial.files:
        mask = rewound[key] != 0
        # survivors hold exactly their initial values; the rest is zero
        assert np.array_equal(rewound[key][mask], initial[key][mask]), key
        assert np.all(initial[key][~mask] != 0)  # they were pruned, not born zero
        # pruned weights stayed zero through the last round of retraining
        assert np.all(final[key][~mask] == 0), key
        # and the survivors were trained after the rewind: most moved off their initial grid point
        lsb = 2.0**-5  # fixed<6,1>
        start = np.clip(np.round(initial[key][mask] / lsb) * lsb, -1.0, 1.0 - lsb)
        assert np.mean(final[key][mask] != start) > 0.2, key
        pruned_total += int((~mask).sum())
    total = sum(initial[k].size for k in initial.files)
    # the last rewind happens after the last pruning step: the cumulative target, rounded
    assert pruned_total == round(declared(lottery.spec) * total)


def test_iterative_per_layer(workdir: Path) -> None:
    t = train(workdir, "perlayer")
    target = declared(t.spec)
    layers = t.metrics["sparsity"]["layers"]
    assert sorted(layers) == ["fc1", "fc2", "out"]
    for name, got in layers.items():
        print(f"iterative per-layer {name}: target {target:.4f}, achieved {got:.4f}, error {100 * abs(got - target):.3f} pp")
        assert abs(got - target) < 0.01, name
    for r in t.metrics["rounds"]:  # every round ends with its pruned weights still zero
        assert r["zero_fraction"] >= r["mask_sparsity"] - 1e-9


def test_tfmot_constant_schedule_and_epoch_override(workdir: Path) -> None:
    t = train(workdir, "constant", "--epochs", "2")
    assert t.metrics["epochs"] == 2
    target = declared(t.spec)
    assert sorted(t.metrics["sparsity"]["layers"]) == ["fc1", "fc2"]
    for name, got in t.metrics["sparsity"]["layers"].items():
        print(f"constant {name}: target {target:.4f}, achieved {got:.4f}, error {100 * abs(got - target):.3f} pp")
        assert abs(got - target) < 0.01
    weights = h5_weights(t.out / "model.h5")
    assert not any("mask" in k or "threshold" in k for k in weights)  # stripped
    firmware = convert(t.out)
    print(f"constant (io_stream): argmax agreement {100 * firmware['agreement']['fraction']:.2f}%")
    assert firmware["agreement"]["fraction"] >= 0.99


def test_tfmot_polynomial_schedule(workdir: Path) -> None:
    t = train(workdir, "polynomial")
    target = declared(t.spec)
    got = t.metrics["sparsity"]["total"]
    print(f"polynomial: target {target:.4f}, achieved {got:.4f}, error {100 * abs(got - target):.3f} pp")
    assert abs(got - target) < 0.01
    assert next(e for e in t.progress if e["step"] == "prune")["end_step"] > 0


def convert(out: Path) -> dict[str, Any]:
    with exclusive(out / "convert.lock"):
        if not (out / "firmware.json").exists():
            run_script([str(out / "convert.py")], cwd=out.parent)
    firmware: dict[str, Any] = json.loads((out / "firmware.json").read_text())
    return firmware


# -- hls4ml -----------------------------------------------------------------------


def test_conv_pool_and_standalone_layers_convert(workdir: Path) -> None:
    """conv1d, max/avg pooling, standalone activation and batch norm, flatten, dropout: the emulation still agrees."""
    t = train(workdir, "cnn")
    assert abs(t.metrics["sparsity"]["total"] - 0.5) < 0.01
    with np.load(t.out / "activations.npz") as a:
        assert sorted(a.files) == ["a2", "c1", "c2"] and a["c1"].shape == (ROWS // 4, 14 * 6)
    f = convert(t.out)
    print(f"cnn: argmax agreement {100 * f['agreement']['fraction']:.2f}%, max |diff| {f['max_abs_diff']:.5f}")
    assert f["agreement"]["fraction"] >= 0.99 and f["max_abs_diff"] < 0.02
    classes = {row["layer"]: row["class"] for row in f["precision"]}
    assert classes["c1"] == "Conv1D" and classes["p2"] == "Pooling1D" and "d" not in classes


def test_emulation_agrees_with_qkeras(lottery: Trained, lottery_firmware: dict[str, Any]) -> None:
    f = lottery_firmware
    print(f"argmax agreement {f['agreement']['argmax']}/{f['n_rows']} = {100 * f['agreement']['fraction']:.2f}%, max |diff| {f['max_abs_diff']:.5f}")
    assert f["n_rows"] == ROWS // 4
    assert f["agreement"]["fraction"] >= 0.99
    assert f["max_abs_diff"] < 0.02
    assert abs(f["hls_accuracy"] - f["qkeras_accuracy"]) <= 0.01
    assert math.isclose(f["qkeras_accuracy"], lottery.metrics["accuracy"], abs_tol=1e-9)
    assert f["synth"] == {"requested": False, "ran": False, "reason": "not requested (--synth)"}
    table = {row["layer"]: row for row in f["precision"]}
    assert table["fc1"]["weight"].startswith("fixed<6,1")
    assert table["fc1_relu"]["result"].startswith("ufixed<6,2,RND_CONV,SAT")
    assert table["fc2"]["bias"].startswith("fixed<8,3")
    assert (lottery.out / "hls_project" / "firmware" / "jet_tagger.cpp").exists() is False  # named after the model
    assert (lottery.out / "hls_project" / "firmware" / "lottery.cpp").exists()


def test_synth_without_tools_exits_cleanly(lottery: Trained, lottery_firmware: dict[str, Any], tmp_path: Path) -> None:
    if any((Path(p) / tool).exists() for p in os.environ.get("PATH", "").split(os.pathsep) for tool in ("vitis_hls", "vivado_hls")):
        pytest.skip("an HLS tool is installed")
    out = tmp_path / "synth"
    out.mkdir()
    for name in ("model.h5", "test_data.npz"):
        (out / name).write_bytes((lottery.out / name).read_bytes())
    run_script([str(lottery.out / "convert.py"), "--out", str(out), "--synth"], cwd=tmp_path)
    synth = json.loads((out / "firmware.json").read_text())["synth"]
    assert synth["requested"] and not synth["ran"] and "vitis_hls" in synth["reason"]


def test_config_names_are_hls4ml_names(lottery: Trained) -> None:
    """Every layer the config names exists in hls4ml's own view of the trained model."""
    import hls4ml
    import yaml
    from qkeras.utils import _add_supported_quantized_objects
    from tensorflow import keras

    objects: dict[str, Any] = {}
    _add_supported_quantized_objects(objects)
    model = keras.models.load_model(lottery.out / "model.h5", custom_objects=objects, compile=False)
    theirs = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vitis")
    ours = yaml.safe_load((lottery.out / "hls4ml_config.yml").read_text())["HLSConfig"]
    assert set(ours["LayerName"]) <= set(theirs["LayerName"]), set(ours["LayerName"]) - set(theirs["LayerName"])
    # and the quantized types agree with what hls4ml derives from the quantizers itself
    for name in ("fc1_relu", "fc2_relu", "input_q"):
        assert theirs["LayerName"][name]["Precision"]["result"].startswith(ours["LayerName"][name]["Precision"]["result"][:-1])
    for name in ("fc1", "fc2", "out"):
        for key in ("weight", "bias"):
            assert theirs["LayerName"][name]["Precision"][key].startswith(ours["LayerName"][name]["Precision"][key][:-1])


@pytest.fixture(autouse=True)
def _no_gpu() -> Iterator[None]:
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    yield


def _hls_cast(x: Any, fx: quant.Fixed) -> Any:
    """ap_fixed's cast with AP_RND_CONV (half to even) and AP_SAT, in float64."""
    scale = 2.0**fx.fraction
    lo, hi = fx.bounds()
    return np.clip(np.round(x * scale) / scale, lo, hi)


@pytest.mark.parametrize(
    "text, activation",
    [
        ("ufixed<6,2>", "relu"),
        ("ufixed<8,0>", "relu"),
        ("6 bits int 2", "relu"),
        ("fixed<6,2>", "linear"),
        ("8 bits int 3", "linear"),
        ("fixed<4,1>", "linear"),
    ],
)
def test_qkeras_activation_quantizers_hold_the_plan_type(text: str, activation: str) -> None:
    """Every value a QKeras activation quantizer outputs is what the firmware's type (the plan's) makes of the same input."""
    import qkeras

    spec = load_file_text(f"model m {{ input 4\n quant activations {text}\n dense fc 4 {activation}\n dense out 3 softmax }}\ntrain {{ data sklearn iris }}\n")
    q = quant.effective(spec.model, spec.model.layers[0]).activations
    expr = quant.qkeras_quantizer(q, "activations", activation)
    assert expr is not None
    quantizer = eval(expr, {n: getattr(qkeras, n) for n in dir(qkeras)})
    fx = quant.activation_fixed(q, activation)
    assert fx is not None
    x = np.linspace(-20, 20, 40001).astype("float32")
    got = np.asarray(quantizer(x), dtype=np.float64)
    want = _hls_cast(np.maximum(x, 0) if activation == "relu" else x, fx)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{expr} vs {fx.hls()}: x={x[bad[:3]]} QKeras {got[bad[:3]]} firmware {want[bad[:3]]}"


def load_file_text(text: str) -> ir.Spec:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.qap"
        path.write_text(text, encoding="utf-8")
        loaded = load_file(path)
        assert loaded.spec is not None, [str(x) for x in loaded.diagnostics]
        return loaded.spec
