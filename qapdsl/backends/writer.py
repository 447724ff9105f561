"""Atomic output: every file is rendered in memory, staged, then moved into place all together.

- Nothing is written outside the output folder: the staging folder lives inside it.
- All or nothing: before anything is replaced, every destination is checked (a
  folder named `convert.py` stops the build with nothing changed); then each old
  file is moved aside into the staging folder and the new one moved in with
  `os.replace`; if a move fails, the files already moved are put back.
- Other files in the folder (a trained model.h5, metrics.json, ...) are kept, and
  nothing is deleted that this module did not create: a staging folder left by a
  killed build is removed only when it carries the marker file written into every
  staging folder.

The caller holds the folder (`qapdsl.outdir.lock`), so no other qapc writes there meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

STAGE_PREFIX = ".qapc-build-"
STAGE_MARKER = ".qapc-staging"  # written first into every staging folder: only such folders are ever removed
MARKER_TEXT = "staging folder of `qapc build`; safe to delete when no qapc is running\n"


class WriteError(Exception):
    """A destination cannot be replaced; nothing was changed."""


def write_files(out_dir: Path, files: Mapping[str, bytes]) -> Path:
    for name in files:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ValueError(f"refusing to write {name!r}: not a plain file name")
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_stale_stages(out_dir)
    for name in files:
        target = out_dir / name
        if target.is_dir() and not target.is_symlink():
            raise WriteError(f"{target} is a folder, so {name} cannot be written there; move it away and build again (nothing was changed)")
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
        _swap_in(out_dir, stage, list(files))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out_dir


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


def _clear_stale_stages(out_dir: Path) -> None:
    """Staging folders left by a killed build: ours only (they hold the marker file)."""
    for stale in out_dir.glob(f"{STAGE_PREFIX}*"):
        if stale.is_dir() and not stale.is_symlink() and (stale / STAGE_MARKER).is_file():
            shutil.rmtree(stale, ignore_errors=True)
