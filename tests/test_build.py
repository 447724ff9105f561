"""`qapc build`: generated files, determinism, safety of spec strings, atomic output, golden files.

Fast: no TensorFlow here (the generated scripts run in tests/test_build_integration.py).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from qapdsl import dialects, ir, paths, quant
from qapdsl.backends import BuildError, build, render
from qapdsl.backends.literals import SpecLines
from qapdsl.cli import main
from qapdsl.loader import load_file
from qapdsl.source import Span

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "build"
FILES = ("train.py", "hls4ml_config.yml", "convert.py", "manifest.json")
LEDGER = ".qapc-files.json"  # qapc's record of the files it wrote (qapdsl/outdir/ledger.py)

BASE = """model m {{
    input 4
    quant weights fixed<6,1>, activations ufixed<6,0>
    dense fc1 8 relu {{ batchnorm; l1 1e-4 }}
    dense out 3 softmax
}}
train {{
    data {data}
    epochs 2
}}
target fpga {{
    part {part}
}}
"""


def load(path: Path, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    loaded = load_file(path)
    assert loaded.ok and loaded.spec is not None, [d.message for d in loaded.diagnostics]
    return loaded


def example_specs() -> list[str]:
    return sorted(p.name for p in (ROOT / "specs").glob("*.qap"))


# -- contents -------------------------------------------------------------------


def test_jet_files_and_precisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    loaded = load(Path("specs/jet.qap"))
    out = build(loaded.spec, tmp_path / "jet", spec_path="specs/jet.qap", sources=loaded.sources)
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, LEDGER])
    cfg = yaml.safe_load((out / "hls4ml_config.yml").read_text())
    assert cfg["Backend"] == "Vitis" and cfg["Part"] == "xcu250-figd2104-2L-e" and cfg["ClockPeriod"] == 5
    assert cfg["IOType"] == "io_parallel" and cfg["ProjectName"] == "jet_tagger"
    model_cfg = cfg["HLSConfig"]["Model"]
    assert model_cfg == {"Precision": {"default": "fixed<16,6>"}, "ReuseFactor": 1, "Strategy": "Latency"}
    layers = cfg["HLSConfig"]["LayerName"]
    assert layers["fc1"]["Precision"]["weight"] == "fixed<6,1>"
    assert layers["out"]["Precision"]["weight"] == "fixed<8,2>"
    assert layers["fc1_relu"]["Precision"]["result"] == "ufixed<6,0,RND_CONV,SAT>"
    # exact accumulators, computed here by brute force over the extreme values
    in_t = quant.Fixed(True, 16, 6)  # float input: the default precision
    w_t = quant.Fixed(True, 6, 1)
    for name, n, a_t in (("fc1", 4, in_t), ("fc2", 64, quant.Fixed(False, 6, 0))):
        acc = layers[name]["Precision"]["accum"]
        width, integer = (int(v) for v in acc[len("fixed<") : -1].split(","))
        lo_a, hi_a = a_t.bounds()
        lo_w, hi_w = w_t.bounds()
        extremes = [x * y for x in (lo_a, hi_a) for y in (lo_w, hi_w)]
        top = n * max(extremes) + hi_w
        bottom = n * min(extremes) + lo_w
        assert top < 2 ** (integer - 1) and bottom >= -(2 ** (integer - 1)), (name, acc)
        assert width - integer >= a_t.fraction + w_t.fraction
        assert layers[name]["Precision"]["result"] == acc
        assert layers[f"{name}_linear"]["Precision"]["result"] == acc
    train = (out / "train.py").read_text()
    assert "# specs/jet.qap:6  dense fc1 64 relu { batchnorm; l1 1e-4 }" in train
    assert "quantized_bits(6, 0, keep_negative=1, alpha=1)" in train and "quantized_relu(6, 0)" in train
    assert "PRUNED = ('fc1', 'fc2', 'fc3')" in train  # `skip out`
    assert "x = QDense(\n        64," in train and "prunable" not in train  # the iterative schedule masks the weights: no tfmot wrapper
    for name in ("train.py", "convert.py"):
        compile((out / name).read_text(), name, "exec")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["spec"] == {"path": "specs/jet.qap", "sha256": hashlib.sha256(Path("specs/jet.qap").read_bytes()).hexdigest()}
    assert manifest["ml_stack"]["hls4ml"] == "==1.3.0"
    assert manifest["ir"]["model"]["name"] == "jet_tagger"


def test_imports_are_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    loaded = load(Path("specs/digits_qap.qap"))
    manifest = json.loads(render(loaded.spec, tmp_path)["manifest.json"])
    assert manifest["imports"] == [{"path": "specs/digits_float.qap", "sha256": hashlib.sha256((ROOT / "specs/digits_float.qap").read_bytes()).hexdigest()}]


@pytest.mark.parametrize("dialect", dialects.NAMES)
def test_ml_stack_matches_pyproject(dialect: str) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][dialects.get(dialect).extra]
    pins = {}
    for req in extra:
        name = req.split("#")[0].strip()
        for i, ch in enumerate(name):
            if ch in "=<>!~":
                pins[name[:i]] = name[i:]
                break
    assert pins == dialects.get(dialect).pins


@pytest.mark.parametrize("spec_name", example_specs())
def test_deterministic(spec_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    loaded = load(Path("specs") / spec_name)
    a = build(loaded.spec, tmp_path / "a", sources=loaded.sources)
    again = load(Path("specs") / spec_name)
    b = build(again.spec, tmp_path / "b", sources=again.sources)
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_build_does_not_import_the_ml_stack(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from qapdsl.cli import main\n"
        f"rc = main(['build', {str(ROOT / 'specs' / 'jet.qap')!r}, '-o', {str(tmp_path / 'o')!r}])\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'qkeras', 'hls4ml', 'numpy', 'tensorflow_model_optimization') if m in sys.modules]\n"
        "assert rc == 0 and not heavy, (rc, heavy)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# -- spec strings stay literals ---------------------------------------------------

HOSTILE = [
    r"x\"); __import__(\"os\").system(\"touch PWNED\"); (\"",
    r"a\nimport os; os.system('touch PWNED')\n#",
    r"../../../etc/passwd\\..\\x",
    r"'''\"\"\"; exec('1')",
]


def _check_literals(out: Path, expected: dict[str, str]) -> None:
    for name in ("train.py", "convert.py"):
        tree = ast.parse((out / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                assert node.id not in ("__import__", "exec", "eval"), (name, node.id)
            if isinstance(node, ast.Attribute):
                assert node.attr != "system", name
    train = (out / "train.py").read_text(encoding="utf-8")
    namespace: dict[str, object] = {}
    for node in ast.parse(train).body:  # the spec's values, evaluated as the literals they must be
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id in ("DATA_NAME", "DATA_FILE", "LABEL", "MODEL_NAME"):
            namespace[node.targets[0].id] = ast.literal_eval(node.value)
    assert isinstance(namespace["MODEL_NAME"], str)
    if "name" in expected:  # an OpenML name as written; a data file's path ends with the file's name
        assert namespace.get("DATA_NAME") == expected["name"] or Path(str(namespace.get("DATA_FILE"))).name == Path(expected["name"]).name
    if "target" in expected:
        assert namespace["LABEL"] == expected["target"]
    cfg = yaml.safe_load((out / "hls4ml_config.yml").read_text(encoding="utf-8"))
    if "part" in expected:
        assert cfg["Part"] == expected["part"]
    assert not (out / "PWNED").exists()


HOSTILE_DECODED = [t.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\") for t in HOSTILE]


def _with(spec: ir.Spec, *, part: str | None = None, data: ir.Data | None = None) -> ir.Spec:
    """The IR with hostile values put in directly: the backends must be safe on their own, whatever the checker lets through."""
    if part is not None:
        spec = spec.model_copy(update={"target": spec.target.model_copy(update={"part": part})})
    if data is not None:
        spec = spec.model_copy(update={"train": spec.train.model_copy(update={"data": data})})
    return spec


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_in_the_language(text: str, write_spec: Callable[..., Path], tmp_path: Path) -> None:
    """Through the front end: whatever the checker accepts builds into literals."""
    decoded = text.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
    spec = write_spec(BASE.format(data=f'openml "{text}"', part='"xcu250-figd2104-2L-e"'))
    loaded = load_file(spec)
    if loaded.ok and loaded.spec is not None:
        assert loaded.spec.train.data.name == decoded
        out = build(loaded.spec, tmp_path / "out", sources=loaded.sources)
        _check_literals(out, {"name": decoded})
    spec2 = write_spec(BASE.format(data=f'file "{text}.npz" target "{text}"', part='"xcu250-figd2104-2L-e"'), name="two.qap")
    loaded2 = load_file(spec2)
    if loaded2.ok and loaded2.spec is not None:
        out2 = build(loaded2.spec, tmp_path / "out2", sources=loaded2.sources)
        _check_literals(out2, {"name": decoded + ".npz"})
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("text", HOSTILE_DECODED)
def test_hostile_strings_stay_literals(text: str, write_spec: Callable[..., Path], tmp_path: Path) -> None:
    loaded = load(write_spec(BASE.format(data="sklearn iris", part='"p"')))
    for i, data in enumerate(
        [ir.Data(source="openml", name=text), ir.Data(source="file", name=text + ".npz", target=text), ir.Data(source="file", name="/abs/" + text + ".csv")]
    ):
        spec = _with(loaded.spec, data=data)
        out = build(spec, tmp_path / f"out{i}", sources=loaded.sources)
        _check_literals(out, {"name": data.name, **({"target": data.target} if data.target is not None else {})})
    with pytest.raises(BuildError, match="not an FPGA part name"):  # hls4ml writes the part into Tcl: never a hostile one
        render(_with(loaded.spec, part=text), tmp_path)
    # nothing written next to the output folders (a data path with ../ is never touched at build time)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out0", "out1", "out2", "spec.qap"]


def test_hostile_names_and_quantizers_are_refused(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    loaded = load(write_spec(BASE.format(data="sklearn iris", part='"p"')))
    spec = loaded.spec
    layers = list(spec.model.layers)
    bad_layer = layers[0].model_copy(update={"name": "fc1'); __import__('os').system('x'); ('"})
    bad = spec.model_copy(update={"model": spec.model.model_copy(update={"layers": (bad_layer, *layers[1:])})})
    with pytest.raises(BuildError, match="letters, digits"):
        render(bad, tmp_path)
    bad_model = spec.model_copy(update={"model": spec.model.model_copy(update={"name": 'm"""\nimport os#'})})
    with pytest.raises(BuildError, match="letters, digits"):
        render(bad_model, tmp_path)
    weights = spec.model.quant.weights
    assert weights is not None
    hostile_alpha = weights.model_copy(update={"alpha": "__import__('os').getcwd()"})
    quants = spec.model.quant.model_copy(update={"weights": hostile_alpha})
    bad2 = spec.model_copy(update={"model": spec.model.model_copy(update={"quant": quants})})
    with pytest.raises((BuildError, ValueError)):
        render(bad2, tmp_path)
    assert list(tmp_path.iterdir()) == [tmp_path / "spec.qap"]


def test_comment_quoting_escapes_line_breaks(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    # a spec line holding characters Python or editors treat as line breaks must not end the comment
    # (U+2028, \v and the other control characters are refused by `qapc check` already: E001; the quoting does not rely on that)
    text = BASE.format(data="sklearn iris", part='"p"').replace("dense out 3 softmax", "dense out 3 softmax  # \x0c __import__('os')")
    loaded = load(write_spec(text))
    out = build(loaded.spec, tmp_path / "o", sources=loaded.sources)
    text = (out / "train.py").read_text(encoding="utf-8")
    line = next(t for t in text.splitlines() if "dense out 3 softmax" in t)
    assert line.lstrip().startswith("# ") and "\\x0c" in line
    _check_literals(out, {})
    quoted = SpecLines({"s.qap": "dense out 3  # \u2028 __import__('os')\n"}).line(Span(file="s.qap", line=1, column=1, end_line=1, end_column=2))
    assert quoted is not None and "\\u2028" in quoted and "\u2028" not in quoted


# -- errors and atomic output -----------------------------------------------------


def diagnosed(path: Path) -> list[tuple[str, int]]:
    loaded = load_file(path)
    assert loaded.spec is None
    return [(d.code, d.span.line if d.span else 0) for d in loaded.diagnostics]


def test_name_collision_is_a_build_error(write_spec: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BASE.format(data="sklearn iris", part='"p"')
    spec = write_spec(text.replace("dense out 3 softmax", "dense fc1_relu 4 relu\n    dense out 3 softmax"))
    # `qapc check` already knows (the plan runs in the checks), at the clashing layer's line
    line = next(i for i, t in enumerate(spec.read_text().splitlines(), 1) if "fc1_relu" in t)
    assert diagnosed(spec) == [("E309", line)]
    assert main(["build", str(spec), "-o", str(tmp_path / "o")]) == 1
    assert "fc1_relu" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    # and the backend itself refuses such an IR, however it was made
    clean = load(write_spec(text, name="clean.qap")).spec
    renamed = tuple(layer.model_copy(update={"name": "fc1_relu"}) if layer.name == "out" else layer for layer in clean.model.layers)
    with pytest.raises(BuildError, match="fc1_relu"):
        render(clean.model_copy(update={"model": clean.model.model_copy(update={"layers": renamed})}), tmp_path)


def test_failed_build_keeps_previous_output(write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_spec(BASE.format(data="sklearn iris", part='"p"'))
    out = tmp_path / "o"
    assert main(["build", str(spec), "-o", str(out)]) == 0
    (out / "model.h5").write_bytes(b"trained")  # a previous run's output stays
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != LEDGER}
    # 1. a spec that cannot be built
    spec.write_text(BASE.format(data="sklearn iris", part='"other"').replace("dense out 3 softmax", "dense fc1_bn 4\n    dense out 3 softmax"))
    assert main(["build", str(spec), "-o", str(out)]) == 1
    # 2. an I/O failure while staging
    import qapdsl.outdir.atomic as writer

    real_fsync = os.fsync
    calls = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    spec.write_text(BASE.format(data="sklearn iris", part='"other"'))
    monkeypatch.setattr(writer.os, "fsync", failing_fsync)
    assert main(["build", str(spec), "-o", str(out)]) == 2
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != LEDGER} == before
    # and a successful rebuild replaces the generated files only, and keeps staging folders the ledger
    # does not name, even one that carries qapc's marker (planted, say, in a folder from a repository)
    (out / ".qapc-build-planted").mkdir()
    (out / ".qapc-build-planted" / writer.STAGE_MARKER).write_text(writer.MARKER_TEXT)
    (out / ".qapc-build-planted" / writer.SWAPPING).write_text('["model.h5"]')
    (out / ".qapc-build-planted" / "model.h5").write_text("planted")
    (out / ".qapc-build-mine").mkdir()
    assert main(["build", str(spec), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, "model.h5", ".qapc-build-mine", ".qapc-build-planted", LEDGER])
    assert (out / ".qapc-build-planted" / "model.h5").read_text() == "planted"
    assert (out / "model.h5").read_bytes() == b"trained"
    assert yaml.safe_load((out / "hls4ml_config.yml").read_text())["Part"] == "other"


def test_default_output_folder(write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_spec(BASE.format(data="sklearn iris", part='"p"'))
    monkeypatch.chdir(tmp_path)
    assert main(["build", str(spec)]) == 0
    assert sorted(p.name for p in (tmp_path / "build" / "m").iterdir()) == sorted([*FILES, LEDGER])


def test_spec_errors_exit_1(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    spec = write_spec("model m { input 4\n dense out 3 softmax }\n")  # no train section
    assert main(["build", str(spec), "-o", str(tmp_path / "o")]) == 1
    assert not (tmp_path / "o").exists()


def test_data_file_path_is_relative_to_the_script(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    spec = write_spec(BASE.format(data='file "data/jets.csv" target label', part='"p"'))
    loaded = load(spec)
    out = build(loaded.spec, tmp_path / "build" / "m", sources=loaded.sources)
    text = (out / "train.py").read_text()
    assert "DATA_FILE = '../../data/jets.csv'" in text and "LABEL = 'label'" in text


# -- golden files -----------------------------------------------------------------


@pytest.mark.parametrize("spec_name", example_specs())
def test_golden(spec_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    loaded = load(Path("specs") / spec_name)
    files = render(loaded.spec, Path("build") / loaded.spec.model.name, spec_path=f"specs/{spec_name}", sources=loaded.sources)
    folder = GOLDEN / spec_name.removesuffix(".qap")
    if os.environ.get("QAPC_UPDATE_GOLDEN"):
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    for name, data in files.items():
        golden = folder / name
        assert golden.exists(), f"{golden} missing: run QAPC_UPDATE_GOLDEN=1 pytest tests/test_build.py"
        assert data == golden.read_bytes(), f"{name} of {spec_name} differs from {golden} (QAPC_UPDATE_GOLDEN=1 to accept)"


# -- the generated data loading, without TensorFlow -------------------------------


def _train_module(spec_text: str, write_spec: Callable[..., Path], tmp_path: Path, name: str = "spec.qap") -> Any:
    import importlib.util

    loaded = load(write_spec(spec_text, name=name))
    out = build(loaded.spec, tmp_path / f"out_{name}", sources=loaded.sources)
    module_spec = importlib.util.spec_from_file_location(f"generated_train_{name.replace('.', '_')}", out / "train.py")
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_openml_code_path(write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fetch_openml is the real call (it needs the network): here it is replaced to see what the script asks for."""
    np = pytest.importorskip("numpy")
    datasets = pytest.importorskip("sklearn.datasets")
    calls: list[dict[str, Any]] = []

    def fake_fetch_openml(**kwargs: Any) -> Any:
        calls.append(kwargs)
        rng = np.random.default_rng(0)
        return datasets.load_iris().__class__(data=rng.normal(size=(40, 4)), target=np.array(["t", "g", "q", "w", "z"] * 8, dtype=object))

    monkeypatch.setattr(datasets, "fetch_openml", fake_fetch_openml)
    five = BASE.replace("dense out 3 softmax", "dense out 5 softmax")
    by_name = _train_module(five.format(data='openml "hls4ml_lhc_jets_hlf"', part='"p"'), write_spec, tmp_path)
    x, y = by_name.load_data(None)
    assert calls[-1] == {"as_frame": False, "parser": "auto", "name": "hls4ml_lhc_jets_hlf"}
    assert x.shape == (40, 4) and x.dtype == np.float32 and sorted(set(y.tolist())) == [0, 1, 2, 3, 4]
    assert y[0] == 2  # 't' among the sorted g, q, t, w, z
    by_id = _train_module(five.format(data='openml "42468" target class', part='"p"'), write_spec, tmp_path, name="id.qap")
    by_id.load_data(None)
    assert calls[-1] == {"as_frame": False, "parser": "auto", "data_id": 42468, "target_column": "class"}


def test_file_formats_and_label_columns(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 4)).astype("float32")
    y = rng.integers(0, 3, size=30)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(4)])
    frame.insert(0, "kind", np.array(["x", "y", "z"])[y])
    frame.to_csv(tmp_path / "named.csv", index=False)
    frame.drop(columns=["kind"]).assign(label=y).to_csv(tmp_path / "last.csv", index=False)
    np.savez(tmp_path / "arrays.npz", features=x, cls=y)
    with h5py.File(tmp_path / "arrays.h5", "w") as f:
        f["X"] = x
        f["y"] = y
    cases = {
        'file "named.csv" target kind': "named",
        'file "last.csv"': "last",
        'file "arrays.npz" target cls': "npz",
        'file "arrays.h5"': "h5",
    }
    for i, data in enumerate(cases):
        module = _train_module(BASE.format(data=data, part='"p"'), write_spec, tmp_path, name=f"s{i}.qap")
        got_x, got_y = module.load_data(None)
        assert np.allclose(got_x, x) and np.array_equal(got_y, y), data
    # --data overrides the file (same target)
    module = _train_module(BASE.format(data='file "named.csv" target kind', part='"p"'), write_spec, tmp_path, name="o.qap")
    (tmp_path / "other.csv").write_text(frame.iloc[:10].to_csv(index=False))
    assert len(module.load_data(str(tmp_path / "other.csv"))[0]) == 10
    four = BASE.format(data='file "named.csv" target kind', part='"p"').replace("dense out 3 softmax", "dense out 2 softmax")
    with pytest.raises(SystemExit, match="3 classes, the model has 2 outputs"):
        _train_module(four, write_spec, tmp_path, name="four.qap").load_data(None)
    # a column the file lacks: `qapc check` reads the CSV header (E604); train.py says so too if the file changes later
    bad = write_spec(BASE.format(data='file "named.csv" target nope', part='"p"'), name="bad.qap")
    assert [d.code for d in load_file(bad).diagnostics] == ["E604"]
    module = _train_module(BASE.format(data='file "named.csv" target kind', part='"p"'), write_spec, tmp_path, name="late.qap")
    frame.drop(columns=["kind"]).to_csv(tmp_path / "named.csv", index=False)
    with pytest.raises(SystemExit, match="no column 'kind'"):
        module.load_data(None)


def test_bias_pruning_needs_the_iterative_schedule(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    text = BASE.format(data="sklearn iris", part='"p"') + "prune { bias on; scope layer; schedule constant { target 50% } }\n"
    assert [code for code, _ in diagnosed(write_spec(text))] == ["E504"]
    iterative = BASE.format(data="sklearn iris", part='"p"') + "prune { bias on; schedule iterative { rounds 2 } }\n"
    spec = load(write_spec(iterative, name="it.qap")).spec
    assert b'for key in ("kernel", "bias")' in render(spec, tmp_path)["train.py"]
    assert spec.prune is not None
    constant = spec.prune.model_copy(update={"scope": "layer", "schedule": ir.Schedule(kind="constant", target=0.5)})
    with pytest.raises(BuildError, match="iterative"):
        render(spec.model_copy(update={"prune": constant}), tmp_path)


@pytest.mark.parametrize(
    ("quantizer", "expected"),
    [
        ("fixed<6,1> alpha 0.5", "quantized_bits(6, 0, keep_negative=1, alpha=0.5)"),
        ("fixed<6,1> alpha auto", "quantized_bits(6, 0, keep_negative=1, alpha='auto')"),
        ("8 bits int 2", "quantized_bits(8, 2, keep_negative=1, alpha=1)"),
        ("ternary", "ternary(alpha=1)"),
        ("po2 4 bits, bias fixed<8,3>", "quantized_po2(4)"),
    ],
)
def test_weight_quantizer_forms(quantizer: str, expected: str, write_spec: Callable[..., Path], tmp_path: Path) -> None:
    text = BASE.format(data="sklearn iris", part='"p"').replace("quant weights fixed<6,1>", f"quant weights {quantizer}")
    files = render(load(write_spec(text)).spec, tmp_path)
    assert f"kernel_quantizer={expected}" in files["train.py"].decode()


def test_po2_bias_is_refused(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    # hls4ml 1.3.0 types po2 biases as exponents, which its dense kernels cannot add: the C++ would not compile
    text = BASE.format(data="sklearn iris", part='"p"').replace("quant weights fixed<6,1>", "quant weights po2 4 bits")
    assert [code for code, _ in diagnosed(write_spec(text))] == ["E403"]
    clean = load(write_spec(BASE.format(data="sklearn iris", part='"p"'), name="clean.qap")).spec
    po2 = paths.apply(clean, "quant.weights", ir.Quant(kind="po2", width=4))
    with pytest.raises(BuildError, match="power-of-two biases"):
        render(po2, tmp_path)


def test_hostile_spec_file_name(tmp_path: Path) -> None:
    folder = tmp_path / 'we"ird\\N{x}\'\'\'"""'
    folder.mkdir()
    spec = folder / 'a"""\\N{b}.qap'
    spec.write_text(BASE.format(data="sklearn iris", part='"p"'), encoding="utf-8")
    loaded = load(spec)
    out = build(loaded.spec, tmp_path / "o", sources=loaded.sources)
    _check_literals(out, {})
    lines = (out / "train.py").read_text(encoding="utf-8").splitlines()
    assert lines[1] == "# -*- coding: utf-8 -*-"
    header = lines[2]
    assert header.startswith("# Generated by qapc") and str(spec) in header


@pytest.mark.parametrize(("dataset", "features", "classes"), [("digits", 64, 10), ("iris", 4, 3), ("wine", 13, 3), ("breast_cancer", 30, 2)])
def test_sklearn_datasets(dataset: str, features: int, classes: int, write_spec: Callable[..., Path], tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    text = f"model m {{\n input {features}\n dense out {classes} softmax\n}}\ntrain {{ data sklearn {dataset} }}\n"
    module = _train_module(text, write_spec, tmp_path)
    x, y = module.load_data(None)
    assert x.shape[1:] == (features,) and sorted(set(y.tolist())) == list(range(classes))
    (train_x, train_y), (val_x, _), (test_x, test_y) = module.split(x, y)
    assert len(test_x) == math.ceil(0.2 * len(x)) and len(val_x) == math.ceil(0.25 * (len(x) - len(test_x)))  # as scikit-learn rounds
    assert abs(float(train_x.mean())) < 1e-3 and set(test_y.tolist()) == set(range(classes))  # standard scaling fitted on train, stratified
    assert module.targets(train_y).shape == (len(train_y), classes)


@pytest.mark.parametrize("spec_name", example_specs())
def test_scripts_need_only_the_ml_stack(spec_name: str) -> None:
    """The generated scripts import the standard library and the ML stack, never qapc."""
    allowed = {"argparse", "json", "math", "os", "random", "shutil", "stat", "sys", "time", "pathlib", "__future__"}
    allowed |= {"numpy", "hls4ml", "sklearn", "yaml", "h5py", "pandas"}
    allowed |= {
        "qkeras": {"tensorflow", "qkeras", "tensorflow_model_optimization"},
        "hgq2": {"keras", "hgq"},
        "brevitas": {"torch", "brevitas", "onnx", "qonnx", "collections", "copy", "warnings"},
    }[load(ROOT / "specs" / spec_name).spec.train.dialect]
    for name in ("train.py", "convert.py"):
        tree = ast.parse((GOLDEN / spec_name.removesuffix(".qap") / name).read_text(encoding="utf-8"))
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules.add(node.module.split(".")[0])
        assert modules <= allowed, (name, modules - allowed)


def test_output_folder_that_cannot_hold_a_build(write_spec: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each gives a message that says what is wrong, exit 2, and changes nothing."""
    spec = write_spec(BASE.format(data="sklearn iris", part='"p"'))
    (tmp_path / "afile").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    cases = {
        str(tmp_path / "afile"): "is a file, not a folder",
        str(tmp_path / "afile" / "sub"): "is a file",
        str(tmp_path / "dangling"): "is a symbolic link to",
        "/": "refusing to write into the root folder",
        str(tmp_path / 'we"ird'): "which hls4ml would paste into C macros",
        str(tmp_path / "a$(x)"): "which hls4ml would paste into C macros",
    }
    for out, message in cases.items():
        assert main(["build", str(spec), "-o", out]) == 2, out
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / 'we"ird').exists()
    assert (tmp_path / "afile").read_text() == "x"


def test_a_folder_in_the_way_changes_nothing(write_spec: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(BASE.format(data="sklearn iris", part='"p"'))
    out = tmp_path / "o"
    assert main(["build", str(spec), "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != LEDGER}
    (out / "convert.py").unlink()
    (out / "convert.py").mkdir()  # a folder where a generated file goes
    (out / "convert.py" / "keep.txt").write_text("mine")
    spec.write_text(BASE.format(data="sklearn iris", part='"other"'))
    assert main(["build", str(spec), "-o", str(out)]) == 2
    assert "convert.py is a folder" in capsys.readouterr().err
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != LEDGER}
    assert after == {k: v for k, v in before.items() if k != "convert.py"}  # train.py etc. untouched: all or nothing
    assert (out / "convert.py" / "keep.txt").read_text() == "mine"


def test_replace_failing_midway_puts_everything_back(write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qapdsl.outdir.atomic as writer

    spec = write_spec(BASE.format(data="sklearn iris", part='"p"'))
    out = tmp_path / "o"
    assert main(["build", str(spec), "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != LEDGER}
    real_replace = os.replace
    moved: list[str] = []

    def flaky_replace(src: Any, dst: Any) -> None:
        if Path(dst).parent == out and Path(src).parent.name.startswith(writer.STAGE_PREFIX):
            moved.append(Path(dst).name)
            if len(moved) == 3:  # the third new file fails to move in
                raise OSError(5, "Input/output error")
        real_replace(src, dst)

    spec.write_text(BASE.format(data="sklearn iris", part='"other"'))
    monkeypatch.setattr(writer.os, "replace", flaky_replace)
    assert main(["build", str(spec), "-o", str(out)]) == 2
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != LEDGER} == before
    assert not [p for p in out.iterdir() if p.name.startswith(writer.STAGE_PREFIX)]


KILLED_BUILD = r"""
import os, signal, sys
import qapdsl.outdir.atomic as writer
from qapdsl.cli import main
real = os.replace
moved = []
def dying_replace(src, dst):
    real(src, dst)
    if os.path.basename(os.path.dirname(str(src))).startswith(writer.STAGE_PREFIX):
        moved.append(dst)
        if len(moved) == 2:  # two new files in, two old ones still there
            os.kill(os.getpid(), signal.SIGKILL)
writer.os.replace = dying_replace
sys.exit(main(["build", sys.argv[1], "-o", sys.argv[2]]))
"""


def test_a_build_killed_while_moving_files_in_is_finished_by_the_next_command(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    import subprocess
    import sys

    spec = write_spec(BASE.format(data="sklearn iris", part='"old"'))
    out = tmp_path / "o"
    assert main(["build", str(spec), "-o", str(out)]) == 0
    spec.write_text(BASE.format(data="sklearn iris", part='"new"').replace("model m {", "model m2 {"))
    new = render(load(spec).spec, out)
    proc = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(spec), str(out)], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    mixed = {name: (out / name).read_bytes() == data for name, data in new.items()}
    assert sorted(mixed.values()) == [False, False, True, True], mixed  # half old, half new: the kill landed mid-swap
    # a read-only command changes nothing; the next command that writes there finishes the build first
    assert main(["report", str(spec), "-o", str(out)]) == 0
    assert sorted(((out / name).read_bytes() == data) for name, data in new.items()) == [False, False, True, True]
    from qapdsl import outdir

    with outdir.lock(out, "build"):
        assert all((out / name).read_bytes() == data for name, data in new.items())
    assert not [p for p in out.iterdir() if p.name.startswith(".qapc-build-")]


REQUANTIZE = """model m {
    input 4
    quant inputs fixed<10,4>, weights fixed<8,2>, activations ufixed<8,3>
    dense fc 8 linear { activations fixed<10,4> }
    flatten f
    activation a relu
    activation same relu
    dense out 3 softmax
}
train { dialect hgq2; data sklearn iris }
"""


def test_hgq2_relu_after_a_quantizer_is_a_relu_and_its_own_quantizer(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    """hls4ml's bit-exact flow fuses a quantizer into the quantizer before it (through flatten) and rounds once:
    a relu that re-quantizes is Keras's ReLU and a quantizer of its own, which hls4ml keeps apart (exact)."""
    loaded = load(write_spec(REQUANTIZE))
    assert loaded.ok and not loaded.diagnostics, [d.message for d in loaded.diagnostics]
    out = build(loaded.spec, tmp_path / "o")
    code = (out / "train.py").read_text()
    assert "x = keras.layers.ReLU(name='a')(x)\n        x = Quantizer(ufixed(8, 3), name='a_quant')(x)" in code
    assert "x = Quantizer(ufixed(8, 3), name='same')(x)" in code  # the same type again: one quantizer, nothing to fuse
    assert "layers = {'fc': 'fc_quant', 'a': 'a_quant', 'same': 'same'}" in code  # activation_patterns: spec layer -> Keras layer
    # the QKeras dialect has one layer for it (QActivation(quantized_relu)), and hls4ml converts it layer by layer
    qk = build(load(write_spec(REQUANTIZE.replace("dialect hgq2; ", ""), name="qk.qap")).spec, tmp_path / "qk")
    assert "'a_quant'" not in (qk / "train.py").read_text()
    # the generated name is reserved like every other
    clash = write_spec(REQUANTIZE.replace("activation same relu", "activation same relu\n    dense a_quant 4 relu"), name="clash.qap")
    assert diagnosed(clash) == [("E309", 8)]


# -- only the spec's own code paths ---------------------------------------------------

# (data, extra sections, dialect) → words the train.py must hold, and words it must not
PATHS = {
    "sklearn, unpruned": ("sklearn iris", "", "qkeras", ["load_iris", "def read_file"], ["fetch_openml", "read_table", "read_h5", "prune_round", "gradual", "tfmot", "sparsity(model)", "EarlyStopping", "PATIENCE"]),
    "iterative": ("sklearn iris", "prune { schedule iterative { rounds 2 } }", "qkeras", ["def prune_round", "keep_masks"], ["gradual", "tfmot", "prunable", "rewound_weights", "load_digits"]),
    "lottery": ("sklearn iris", "prune { schedule iterative { rounds 2; rewind init } }", "qkeras", ["rewound_weights.npz", "initial_weights.npz"], ["gradual", "tfmot"]),
    "constant": ("sklearn iris", "prune { schedule constant { target 50% } }", "qkeras", ["ConstantSparsity", "prune_low_magnitude", "def gradual_schedule"], ["PolynomialDecay", "prune_round", "keep_masks", "POWER"]),
    "polynomial": ("sklearn iris", "prune { schedule polynomial { target 50% } }", "qkeras", ["PolynomialDecay", "POWER"], ["ConstantSparsity", "prune_round"]),
    "hgq2 constant": ("sklearn iris", "prune { schedule constant { target 50% } }", "hgq2", ["GradualPruning", "np.float32(TARGET)"], ["tensorflow_model_optimization", "prunable", "PolynomialDecay", "prune_round", "fresh_optimizer"]),
    "hgq2 iterative": ("sklearn iris", "prune { schedule iterative { rounds 2 } }", "hgq2", ["def fresh_optimizer", "class KeepMasks"], ["GradualPruning", "magnitude_mask"]),
    "csv file": ('file "d.csv" target label', "", "qkeras", ["def read_table", "pd.read_csv", "def read_npz", "LABEL = 'label'"], ["read_h5", "h5py", "load_iris", "fetch_openml"]),
    "openml": ('openml "jets"', "", "qkeras", ["fetch_openml(name=DATA_NAME", "DATA_NAME = 'jets'"], ["read_table", "load_iris", "DATA_FILE"]),
}


@pytest.mark.parametrize("case", list(PATHS))
def test_train_py_holds_only_the_specs_code_paths(case: str, write_spec: Callable[..., Path], tmp_path: Path) -> None:
    data, extra, dialect, present, absent = PATHS[case]
    text = BASE.format(data=data, part='"p"').replace("epochs 2\n", f"epochs 2\n    dialect {dialect}\n") + extra + "\n"
    (tmp_path / "d.csv").write_text("a,b,c,d,label\n1,2,3,4,0\n", encoding="utf-8")
    loaded = load(write_spec(text))
    train = render(loaded.spec, tmp_path / "o", sources=loaded.sources)["train.py"].decode()
    for word in present:
        assert word in train, (case, word)
    for word in absent:
        assert word not in train, (case, word)


def test_early_stop_is_there_only_when_asked(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    text = BASE.format(data="sklearn iris", part='"p"')
    without = render(load(write_spec(text)).spec, tmp_path / "a")["train.py"].decode()
    with_ = render(load(write_spec(text.replace("epochs 2", "epochs 2\n    early_stop patience 3"), name="e.qap")).spec, tmp_path / "b")["train.py"].decode()
    assert "EarlyStopping" not in without and "PATIENCE" not in without
    assert "PATIENCE = 3  # " in with_ and "EarlyStopping(monitor='val_loss', patience=PATIENCE, restore_best_weights=True)" in with_
    gradual = render(load(write_spec(text.replace("epochs 2", "epochs 2\n    early_stop patience 3") + "prune { schedule constant { target 50% } }\n", name="g.qap")).spec, tmp_path / "c")
    assert 'start_from_epoch=g["start_from_epoch"]' in gradual["train.py"].decode()  # early stopping starts once the schedule is done


def test_data_override_reads_npz_for_every_spec(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    """`qapc run --data PATH` passes PATH to train.py whatever the spec's data: a .npz always works; other
    types only where the spec's own data file has that type (qapc run and doctor refuse them beforehand)."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("sklearn", reason="the generated load_data imports scikit-learn's iris first")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "other.npz", X=rng.normal(size=(12, 4)).astype("float32"), y=np.arange(12) % 3)
    module = _train_module(BASE.format(data="sklearn iris", part='"p"'), write_spec, tmp_path)
    x, y = module.load_data(str(tmp_path / "other.npz"))
    assert x.shape == (12, 4) and sorted(set(y.tolist())) == [0, 1, 2]
    with pytest.raises(SystemExit, match=r"--data takes a \.npz file, not 'other\.csv'"):
        module.load_data(str(tmp_path / "other.csv"))
    spec = load(write_spec(BASE.format(data="sklearn iris", part='"p"'), name="o.qap")).spec
    from qapdsl import doctor
    from qapdsl.data import override_suffixes

    assert override_suffixes(spec) == (".npz",)
    (tmp_path / "other.csv").write_text("a,b,c,d,y\n1,2,3,4,0\n", encoding="utf-8")
    check = doctor.check_data(spec, str(tmp_path / "other.csv"))
    assert check.status == "fail" and "unsupported type '.csv' (use .npz)" in check.text
    assert doctor.check_data(spec, str(tmp_path / "other.npz")).status == "ok"
    csv_spec = load(write_spec(BASE.format(data='file "other.csv"', part='"p"'), name="c.qap")).spec
    assert override_suffixes(csv_spec) == (".csv", ".npz")


def test_convert_py_holds_only_the_specs_code_paths(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    softmax = load(write_spec(BASE.format(data="sklearn iris", part='"p"'))).spec
    convert = render(softmax, tmp_path / "a")["convert.py"].decode()
    assert "LOGITS_LAYER = 'out'" in convert and "EMULATED_BACKENDS" not in convert and "SYNTH_TOOL = 'vitis_hls'" in convert
    linear = load(write_spec(BASE.format(data="sklearn iris", part='"p"').replace("dense out 3 softmax", "dense out 3").replace("epochs 2", "epochs 2; loss mse"), name="l.qap")).spec
    convert = render(linear, tmp_path / "b")["convert.py"].decode()
    assert "LOGITS_LAYER" not in convert and "hls_model.trace" not in convert and "hls_model.compile()" in convert
    quartus = load(write_spec(BASE.format(data="sklearn iris", part='"p"').replace('part "p"', 'part "p"\n    backend quartus'), name="q.qap")).spec
    convert = render(quartus, tmp_path / "c")["convert.py"].decode()
    assert "EMULATED_BACKENDS" in convert and "SYNTH_TOOL = None" in convert
