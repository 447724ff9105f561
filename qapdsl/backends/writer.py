"""Atomic output: every file is rendered in memory, staged, then moved into place.

Nothing is written outside the output folder: the staging folder lives inside
it and each file is moved in with `os.replace` (atomic on one file system).
A build that fails before the move leaves the previous output as it was;
other files in the folder (a trained model.h5, metrics.json, ...) are kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

STAGE_PREFIX = ".qapc-build-"


def write_files(out_dir: Path, files: Mapping[str, bytes]) -> Path:
    for name in files:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ValueError(f"refusing to write {name!r}: not a plain file name")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(f"{STAGE_PREFIX}*"):  # left by a build that was killed
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=out_dir))
    try:
        for name, data in files.items():
            with open(stage / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if name.endswith(".py"):
                os.chmod(stage / name, 0o755)
        for name in files:
            os.replace(stage / name, out_dir / name)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    shutil.rmtree(stage, ignore_errors=True)
    return out_dir
