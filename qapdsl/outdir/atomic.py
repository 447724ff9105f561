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
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qapdsl.outdir.folder import STEP_OUTPUTS
from qapdsl.outdir.ledger import STAGE_PREFIX

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
    new = {name: "sha256:" + hashlib.sha256(data).hexdigest() for name, data in files.items()}
    stage = out_dir / (STAGE_PREFIX + secrets.token_hex(8))
    ledger.begin(out_dir, files, stage=stage.name)  # named before it exists: a kill at any point leaves nothing unknown
    done = False
    try:
        stage.mkdir()
        (stage / STAGE_MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        for name, data in files.items():
            with open(stage / name, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if name.endswith(".py"):
                os.chmod(stage / name, 0o755)
        _durable(stage / SWAPPING, json.dumps(new, sort_keys=True).encode())  # from here on, a killed build is finished by the next one
        _swap_in(out_dir, stage, list(files))
        done = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        state = ledger.load(out_dir)
        state.stage = None
        if done:
            state.files.update(new)
        state.pending = [n for n in state.pending if n not in files]  # on failure the old files are back, recorded as before
        ledger.save(out_dir, state)
    return kept


def _durable(path: Path, data: bytes) -> None:
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def finish_stage(out_dir: Path, stale: Path, state: Any) -> None:
    """Finish or discard the staging folder of a killed build (`state`: the ledger, which names it).

    With the swap list it was killed while moving files in: every new file was already written in
    full, so the move is completed (all of the new files), each moved only over nothing or over the
    recorded file it replaces, never over a file someone put there since. Without the list, it was
    killed before any move: it is removed (all of the old files stay). Only a build's own file names
    move, and only out of a folder whose name and contents are a staging folder's.
    """
    from qapdsl.outdir import ledger

    if not stale.name.startswith(STAGE_PREFIX) or stale.parent != out_dir or stale.is_symlink() or not stale.is_dir():
        return
    allowed = {STAGE_MARKER, SWAPPING, ".old", *STEP_OUTPUTS["build"]}
    if not set(os.listdir(stale)) <= allowed:
        return  # not what a build stages: never touched
    swap = stale / SWAPPING
    finished: dict[str, str] = {}
    if swap.is_file() and not swap.is_symlink():
        try:
            listed = json.loads(swap.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            listed = {}
        if isinstance(listed, dict):
            for name, want in listed.items():
                if name not in STEP_OUTPUTS["build"] or name not in state.pending or not isinstance(want, str):
                    continue
                now = ledger.digest(out_dir / name)
                staged = stale / name
                if now == want:
                    finished[name] = want  # moved in before the kill
                elif (now is None or now == state.files.get(name)) and staged.is_file() and not staged.is_symlink() and ledger.digest(staged) == want:
                    os.replace(staged, out_dir / name)
                    finished[name] = want
    shutil.rmtree(stale, ignore_errors=True)
    state.files.update(finished)
    state.pending = [n for n in state.pending if n not in finished]
    ledger.save(out_dir, state)


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
