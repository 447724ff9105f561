"""Atomic output: every file is rendered in memory, staged, then moved into place all together.

- Nothing is written outside the output folder: the staging folder lives inside it.
- All or nothing: before anything is replaced, every destination is checked (a
  folder named `convert.py` stops the build with nothing changed); then each old
  file is moved aside into the staging folder and the new one moved in with
  `os.replace`; if a move fails, the files already moved are put back.
- A build killed while moving files in is completed by the next command that holds the
  folder (`ledger.recover` → `finish_stage`): the ledger names the staging folder, the
  staging folder lists what it was moving, and every new file in it is complete by then.
  One killed earlier is discarded. Either way the folder ends with all new files or all
  old ones.
- Other files in the folder (a trained model.h5, metrics.json, ...) are kept, and
  nothing is replaced that qapc did not write (`ledger.claim`: the bytes must be the ones
  recorded). A staging folder is touched only when the ledger names it and it carries
  the marker file written into every staging folder: one planted in the folder (say,
  checked out from a repository) is never moved from or removed.

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


def write_files(out_dir: Path, files: Mapping[str, bytes], *, force: bool = False, command: str = "the build") -> list[Path]:
    """Write `files` into `out_dir` all together; returns the user's files `force` moved aside."""
    from qapdsl.outdir import ledger

    for name in files:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ValueError(f"refusing to write {name!r}: not a plain file name")
    out_dir.mkdir(parents=True, exist_ok=True)
    ledger.recover(out_dir)
    for name in files:
        target = out_dir / name
        if target.is_dir() and not target.is_symlink():
            raise WriteError(f"{target} is a folder, so {name} cannot be written there; move it away and build again (nothing was changed)")
    kept = ledger.claim(out_dir, files, force=force, command=command)
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
        ledger.begin(out_dir, files, stage=stage.name)
        _durable(stage / SWAPPING, json.dumps(list(files)).encode())  # from here on, a killed build is finished by the next one
        _swap_in(out_dir, stage, list(files))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        done = ledger.load(out_dir)
        if done.stage == stage.name:  # the new files, or the old ones put back: qapc's either way
            done.stage = None
            ledger.save(out_dir, done)
            ledger.record(out_dir, files)
    return kept


def _durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def finish_stage(out_dir: Path, stale: Path, pending: list[str]) -> None:
    """Finish or discard the staging folder of a killed build (the ledger names it).

    With the swap list it was killed while moving files in: every new file was already written in
    full, so the move is completed (all of the new files). Without it, it was killed before any
    move: it is removed (all of the old files stay). Only names the ledger marked pending move.
    """
    if not stale.is_dir() or stale.is_symlink() or stale.parent != out_dir or not (stale / STAGE_MARKER).is_file():
        return  # not a staging folder of ours: never touched
    swap = stale / SWAPPING
    if swap.is_file():
        try:
            names = [n for n in json.loads(swap.read_text(encoding="utf-8")) if isinstance(n, str) and n in pending]
        except (OSError, ValueError):
            names = []
        for name in names:
            if (stale / name).is_file() and not (stale / name).is_symlink():
                os.replace(stale / name, out_dir / name)
    shutil.rmtree(stale, ignore_errors=True)


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
