"""Where the last `qapc run` of each spec wrote its results, so that `qapc report SPEC` finds them
without `-o DIR` again.

The index is one JSON file in the user's state folder: `$XDG_STATE_HOME/qapc/runs.json` (by default
`~/.local/state/qapc/runs.json`). An entry per (resolved spec path, model): the build folder and when
the run finished; the newest `MAX_ENTRIES` are kept. Writes are atomic and serialised with a lock
file, so runs finishing at once lose nothing. Recording is best effort: a run whose index cannot be
written (a read-only home) still succeeds, and `qapc report` then says where it looked.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

MAX_ENTRIES = 500


def index_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "qapc" / "runs.json"


@dataclass(frozen=True)
class Run:
    spec: str  # resolved path of the spec file
    model: str
    build_dir: str  # absolute
    finished: str  # ISO time, UTC


def _key(spec_path: str) -> str:
    return str(Path(spec_path).resolve())


def _read(path: Path) -> list[Run]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    runs = data.get("runs") if isinstance(data, dict) else None
    out = []
    for r in runs if isinstance(runs, list) else []:
        if isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("spec", "model", "build_dir", "finished")):
            out.append(Run(r["spec"], r["model"], r["build_dir"], r["finished"]))
    return out


def record(spec_path: str, model: str, build_dir: Path) -> bool:
    """Remember that the run of `model` from `spec_path` wrote into `build_dir`; False when the index cannot be written."""
    path = index_path()
    entry = Run(_key(spec_path), model, str(build_dir.resolve()), datetime.now(timezone.utc).isoformat(timespec="seconds"))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            runs = [r for r in _read(path) if (r.spec, r.model) != (entry.spec, entry.model)] + [entry]
            tmp.write_text(json.dumps({"runs": [r.__dict__ for r in runs[-MAX_ENTRIES:]]}, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    return True


def last(spec_path: str, model: str) -> Run | None:
    """The last recorded run of `model` from `spec_path`, or None."""
    key = _key(spec_path)
    return next((r for r in reversed(_read(index_path())) if (r.spec, r.model) == (key, model)), None)
