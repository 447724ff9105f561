"""What may be used as an output folder, and the names qapc writes there.

- `check(path)` refuses, with a message a person can act on, what cannot hold a
  build: a file, a dangling symbolic link, the root of the file system, and a path
  with characters that hls4ml would paste into C macros, Tcl and shell scripts.
- `writable(path)` tries (does not guess) whether files can be made there.
- `STEP_OUTPUTS`: every name a command or a generated script writes into the folder,
  by the step that writes it; the ledger (`ledger.py`) owns exactly these.
- `location_warning(path, spec_path)`: a folder that is not one of its own (the home
  folder, the spec's own folder) gets a word before anything is written there.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

LEDGER_NAME = ".qapc-files.json"
"""The ledger: the digest of every file qapc wrote into the folder (see ledger.py)."""
BUILD_FILES = ("train.py", "hls4ml_config.yml", "convert.py", "manifest.json")
# Every name qapc and the generated scripts write into an output folder, by the step that writes it.
# None of them may be a symbolic link: a folder checked out from a repository could hold
# `train.log -> ~/.bashrc`, and writing the log would overwrite the link's target.
STEP_OUTPUTS: dict[str, tuple[str, ...]] = {
    "build": (*BUILD_FILES, "rtl.py"),  # rtl.py with `rtl verilog` in the target
    "train": (
        "train.log",
        "metrics.json",
        "model.h5",
        "model.keras",
        "model.onnx",  # the brevitas dialect's QONNX export, beside its state dict
        "model.pt",
        "weights.npz",
        "test_data.npz",
        "activations.npz",
        "initial_weights.npz",
        "rewound_weights.npz",
        "widths.npz",  # learned widths (qapdsl.learned)
    ),
    "convert": ("convert.log", "firmware.json", "hls_project"),
    "rtl": ("rtl.log", "rtl.json", "rtl_project"),
    "report": ("results.json", ".results.json.tmp", "report.md"),
}
RUN_OUTPUTS: tuple[str, ...] = tuple(n for names in STEP_OUTPUTS.values() for n in names)
OUTPUTS: tuple[str, ...] = (LEDGER_NAME, *RUN_OUTPUTS)
PATH_UNSAFE = frozenset("\"'\\$`[]{};")
"""Characters refused in a build folder's path: hls4ml puts that path into a C macro
(`-D WEIGHTS_DIR="..."`), Tcl scripts and shell commands, where each of these
characters can end a string or start a substitution."""


def unsafe_path(path: str) -> str | None:
    """The first character of `path` that must not reach hls4ml's C, Tcl and shell, or None."""
    for ch in path:
        if ch in PATH_UNSAFE or not ch.isprintable():
            return ch
    return None


class OutputDirError(Exception):
    """The folder cannot be used; the message says why and what to do (exit code 2)."""


def check(path: Path) -> Path:
    """`path` if a build may go there (it need not exist yet); raises OutputDirError."""
    shown = str(path)
    if path.is_symlink() and not path.exists():
        raise OutputDirError(f"{shown} is a symbolic link to {os.readlink(path)}, which does not exist; remove the link or create its target")
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"{shown} is a file, not a folder; give -o a folder (it is created when missing)")
    try:
        resolved = path.resolve()
    except RuntimeError:
        raise OutputDirError(f"{shown} runs through a loop of symbolic links") from None
    if resolved == Path(resolved.anchor):
        raise OutputDirError(f"refusing to write into the root folder {resolved}; give -o a folder of its own, e.g. -o build/model")
    for parent in [resolved, *resolved.parents]:
        if parent.exists() and not parent.is_dir():
            raise OutputDirError(f"cannot create {shown}: {parent} is a file")
    bad = unsafe_path(str(resolved))
    if bad is not None:
        raise OutputDirError(
            f"the path of {shown} ({resolved}) holds {bad!r}, which hls4ml would paste into C macros, Tcl and shell scripts; "
            "choose a folder whose path has none of \" ' \\ $ ` [ ] { } ; or control characters"
        )
    return path


def writable(path: Path) -> tuple[str, str] | None:
    """(problem, fix) when files cannot be written in `path`, or in the folder it would be created in; else None.

    Tried, not guessed from the mode bits: a temporary file is made and removed at once (root writes
    into a 0555 folder, nobody writes on a read-only file system). `qapc doctor` and `lock` say the same.
    """
    existing = path
    try:
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
    except OSError as e:
        return f"cannot reach {existing}: {e.strerror or e}", "choose a folder you can reach with -o DIR"
    if not existing.is_dir():
        return f"cannot create {path}: {existing} is a file", "choose another folder with -o DIR"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        where = str(existing) if existing == path else f"{existing} (to create {path} there)"
        return (
            f"cannot write in {where}: {e.strerror or e}",
            "choose a folder you can write to with -o DIR, or make this one writable (e.g. `chmod u+w`)",
        )
    return None


def location_warning(path: Path, spec_path: str | None = None) -> str | None:
    """A sentence when `path` is a folder people keep other things in: the home folder, or the
    folder of the spec itself (`-o .` from a project root). None for a folder of its own."""
    try:
        resolved = path.resolve()
        home = Path.home().resolve()
    except (OSError, RuntimeError):
        return None
    if resolved == home:
        return f"{path} is your home folder: qapc's files go among your own there; give -o a folder of its own, e.g. -o build/model"
    if spec_path:
        try:
            spec_dir = Path(spec_path).resolve().parent
        except (OSError, RuntimeError):
            return None
        if resolved == spec_dir:
            return f"{path} is the folder of {spec_path} itself: qapc's files go beside your sources there; give -o a folder of its own, e.g. -o build/model"
    return None
