"""Atomic output: every file is rendered in memory, staged, then moved into place all together.

- Nothing is written outside the output folder: the staging folder lives inside it.
- All or nothing: before anything is replaced, every destination is checked (a
  folder named `convert.py` stops the build with nothing changed); then each old
  file is moved aside into the staging folder and the new one moved in with
  `os.replace`; if a move fails, the files already moved are put back.
- A build killed while moving files in is completed by the next command that holds the
  folder (`recover`): the staging folder lists what it was moving, and every new file
  in it is complete by then. One killed earlier is discarded. Either way the folder
  ends with all new files or all old ones.
- Other files in the folder (a trained model.h5, metrics.json, ...) are kept, and
  nothing is deleted that this module did not create: a staging folder left by a
  killed build is touched only when it carries the marker file written into every
  staging folder, and a file qapc did not write is never replaced.

The caller holds the folder (`qapdsl.outdir.lock`), so no other qapc writes there meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

STAGE_PREFIX = ".qapc-build-"
STAGE_MARKER = ".qapc-staging"  # written first into every staging folder: only such folders are ever removed
SWAPPING = ".qapc-swapping"  # the names being moved in: a build killed while moving is completed by the next
MARKER_TEXT = "staging folder of `qapc build`; safe to delete when no qapc is running\n"


class WriteError(Exception):
    """A destination cannot be replaced; nothing was changed."""


def write_files(out_dir: Path, files: Mapping[str, bytes]) -> Path:
    for name in files:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ValueError(f"refusing to write {name!r}: not a plain file name")
    out_dir.mkdir(parents=True, exist_ok=True)
    recover(out_dir)
    for name in files:
        target = out_dir / name
        if target.is_dir() and not target.is_symlink():
            raise WriteError(f"{target} is a folder, so {name} cannot be written there; move it away and build again (nothing was changed)")
        if target.is_file() and not target.is_symlink() and not generated_by_qapc(target):
            raise WriteError(f"{target} was not written by qapc, and a build would replace it; move it away or build into another folder (nothing was changed)")
    stage = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=out_dir))
    try:
        (stage / STAGE_MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        for name, data in files.items():
            with open(stage / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if name.endswith(".py"):
                os.chmod(stage / name, 0o755)
        _durable(stage / SWAPPING, json.dumps(list(files)).encode())  # from here on, a killed build is finished by the next one
        _swap_in(out_dir, stage, list(files))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out_dir


def _durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def recover(out_dir: Path) -> None:
    """Finish or discard what a killed build left (call with the folder held).

    A staging folder with the swap list was killed while moving files in: every new file was
    already written in full, so the move is completed (all of the new files). One without it
    was killed before any move: it is removed (all of the old files stay).
    """
    if not out_dir.is_dir():
        return
    for stale in sorted(out_dir.glob(f"{STAGE_PREFIX}*")):
        if not stale.is_dir() or stale.is_symlink() or not (stale / STAGE_MARKER).is_file():
            continue  # not ours: never touched
        swap = stale / SWAPPING
        if swap.is_file():
            try:
                names = [n for n in json.loads(swap.read_text(encoding="utf-8")) if isinstance(n, str) and "/" not in n and n not in (".", "..")]
            except (OSError, ValueError):
                names = []
            for name in names:
                if (stale / name).is_file():
                    os.replace(stale / name, out_dir / name)
        shutil.rmtree(stale, ignore_errors=True)


def generated_by_qapc(path: Path) -> bool:
    """Was this file written by a qapc build? (The header of a script or config, the manifest's version key.)"""
    try:
        with open(path, "rb") as f:
            head = f.read() if path.suffix == ".json" else f.read(4096)  # the manifest's keys are sorted: the version comes late
    except OSError:
        return False
    if path.suffix == ".json":
        return b'"qapc_version"' in head
    return b"enerated by qapc" in head


def _swap_in(out_dir: Path, stage: Path, names: list[str]) -> None:
    """Move the staged files in; on any failure put back what was there before."""
    old = stage / ".old"
    old.mkdir()
    moved_aside: list[str] = []
    moved_in: list[str] = []
    try:
        for name in names:
            target = out_dir / name
            if target.exists() or target.is_symlink():
                os.replace(target, old / name)
                moved_aside.append(name)
            os.replace(stage / name, target)
            moved_in.append(name)
    except BaseException:
        for name in reversed(moved_in):
            with contextlib.suppress(OSError):
                os.unlink(out_dir / name)
        for name in reversed(moved_aside):
            with contextlib.suppress(OSError):
                os.replace(old / name, out_dir / name)
        raise
