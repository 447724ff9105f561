"""Helpers of the sweep tests: a tiny real study (data file, spec), reading a study back, a PostgreSQL server."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

QAPC = [sys.executable, "-m", "qapdsl.cli"]

TRAIN = """\
train {
    data file "tiny.npz"
    split test 0.2, val 0.2
    seed 1
    optimizer adam lr 1e-2
    batch 64
    epochs 1
}
"""

TINY = (
    """\
model tiny {{
    input 8
    quant inputs fixed<8,3>, weights fixed<6,1>, activations ufixed<6,2>
    dense fc1 8 relu
    dense out 3 softmax
}}

prune {{
    method magnitude
    scope global
    schedule iterative {{ rounds 1; rate 30%; rewind none; epochs 1 }}
}}

"""
    + TRAIN.replace("{", "{{").replace("}", "}}")
    + """
target fpga {{
    backend vitis
    part "xcu250-figd2104-2L-e"
    clock 5 ns
    io parallel
    strategy latency
    reuse 1
}}

{block} {{
{axes}
}}
"""
)

# the float, unpruned tiny model on the same data and split: a baseline for `tiny_study`
TINY_FLOAT = "model tiny_float {\n    input 8\n    dense fc1 8 relu\n    dense out 3 softmax\n}\n\n" + TRAIN


def tiny_study(folder: Path, axes: str, block: str = "sweep") -> Path:
    """Write tiny.npz (600 rows, 8 features, 3 classes, learnable) and a spec with a `block` (sweep / search) of `axes`."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 8)).astype("float32")
    y = np.argmax(x @ rng.normal(size=(8, 3)), axis=1)
    np.savez(folder / "tiny.npz", X=x, y=y)
    spec = folder / "tiny_sweep.qap"
    spec.write_text(TINY.format(block=block, axes=axes), encoding="utf-8")
    return spec


def tiny_float(folder: Path) -> Path:
    """The float, unpruned version of the tiny model on the same data: a baseline for `tiny_study`."""
    path = folder / "tiny_float.qap"
    path.write_text(TINY_FLOAT, encoding="utf-8")
    return path


def load_studies(storage: str) -> tuple[Any, Any | None]:
    """A study and its baseline's study (None when it has none)."""
    import optuna

    names = optuna.get_all_study_names(storage)
    main = [n for n in names if not n.endswith("-baseline")]
    assert len(main) == 1, names
    base = [n for n in names if n == f"{main[0]}-baseline"]
    return optuna.load_study(study_name=main[0], storage=storage), (optuna.load_study(study_name=base[0], storage=storage) if base else None)


def point_keys(spec: Path) -> list[str]:
    """The point keys `qapc sweep --list` prints, in grid order."""
    r = subprocess.run([*QAPC, "sweep", str(spec), "--list"], capture_output=True, text=True, check=True)
    return [line.split("\t")[0] for line in r.stdout.splitlines()]


def load_study(storage: str) -> Any:
    import optuna

    names = optuna.get_all_study_names(storage)
    assert len(names) == 1, names
    return optuna.load_study(study_name=names[0], storage=storage)


def trials_by_point(study: Any) -> dict[str, list[Any]]:
    """Trials that were not discarded as duplicates, by point key."""
    out: dict[str, list[Any]] = {}
    for t in study.get_trials(deepcopy=False):
        if "qapc_discarded" in t.user_attrs:
            continue
        out.setdefault(str(t.user_attrs.get("qapc_point")), []).append(t)
    return out


def check_point_dir(folder: Path, key: str) -> dict[str, Any]:
    """A finished point's folder: results.json from the runner and point.json for this key; returns the summary."""
    assert (folder / "results.json").is_file(), f"{folder}: no results.json"
    results = json.loads((folder / "results.json").read_text())
    point = json.loads((folder / "point.json").read_text())
    assert point["key"] == key
    s = point["summary"]
    assert 0.0 <= s["accuracy"] <= 1.0
    assert 0.0 <= s["hls_agreement"] <= 1.0
    assert 0.0 <= s["auc"] <= 1.0
    assert s["bops"] > 0
    assert 0.0 <= s["sparsity"] < 1.0
    assert s["accuracy"] == results["report"]["measured"]["accuracy"]
    return dict(s)


# -- a throwaway PostgreSQL server on loopback -------------------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    return Path(which).resolve().parent if which else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """initdb + pg_ctl on a temporary data folder, listening on 127.0.0.1 only; yields an SQLAlchemy URL.

    PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user (runuser).
    """
    bindir = _pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found: run scripts/test.d/postgres.sh (installs Debian's postgresql)")
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="qapc-pg-"))
    data = base / "data"
    data.mkdir()
    prefix: list[str] = []
    if as_root:
        pw = pwd.getpwnam("postgres")
        for p in (base, data):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}

    def pg(*args: str, timeout: float = 120) -> None:
        subprocess.run([*prefix, *args], check=True, env=env, cwd=base, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    try:
        pg(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        opts = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "server.log"), "-w", "-t", "60", "start")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(Exception):
            pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop", timeout=60)
        time.sleep(0.2)
        shutil.rmtree(base, ignore_errors=True)
