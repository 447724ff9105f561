"""The output folder of `qapc build` / `qapc run`: what may be used as one, and one qapc at a time.

- `check(path)` refuses, with a message a person can act on, what cannot hold a
  build: a file, a dangling symbolic link, the root of the file system, and a path
  with characters that hls4ml would paste into C macros, Tcl and shell scripts.
- `lock(path, command)` holds an exclusive `flock` on `<path>/.qapc.lock` while a
  build or a run writes there: a second `qapc build` / `qapc run` into the same
  folder fails at once, naming the process that holds it, instead of both
  writing and one reporting the other's figures. The lock dies with its process
  (a killed run never leaves the folder locked).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".qapc.lock"
# Every file qapc and the generated scripts write into an output folder. None of them may be a symbolic
# link: a folder checked out from a repository could hold `train.log -> ~/.bashrc`, and writing the log
# would overwrite the link's target.
OUTPUTS = (
    LOCK_NAME,
    "train.py",
    "convert.py",
    "hls4ml_config.yml",
    "manifest.json",
    "train.log",
    "convert.log",
    "model.h5",
    "model.keras",
    "weights.npz",
    "metrics.json",
    "test_data.npz",
    "activations.npz",
    "initial_weights.npz",
    "rewound_weights.npz",
    "firmware.json",
    "hls_project",
    "rtl.py",
    "rtl.log",
    "rtl.json",
    "rtl_project",
    "results.json",
    ".results.json.tmp",
    "report.md",
)
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


@contextlib.contextmanager
def lock(path: Path, command: str) -> Iterator[Path]:
    """Hold the folder for `command` ('build', 'run', ...); creates it when missing.

    A folder this call created is removed again if the body fails and left nothing in it.
    """
    check(path)
    problem = writable(path)
    if problem is not None:
        raise OutputDirError(f"{problem[0]}; fix: {problem[1]}")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputDirError(f"cannot create {path}: {e.strerror or e}") from None
    for name in OUTPUTS:
        if (path / name).is_symlink():
            raise OutputDirError(f"{path / name} is a symbolic link (to {os.readlink(path / name)}); qapc writes that file itself: remove the link")
    lock_path = path / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        fh = os.fdopen(fd, "r+", encoding="utf-8")
    except OSError as e:
        raise OutputDirError(f"cannot write in {path}: {e.strerror or e}") from None
    ok = False
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputDirError(f"{path} is in use by {_holder(lock_path)}; wait for it to finish, or use another folder (-o DIR)") from None
        from qapdsl.backends.writer import recover

        recover(path)  # a build killed halfway is finished before anyone reads the folder
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "command": command, "since": time.strftime("%H:%M:%S")}) + "\n")
        fh.flush()
        yield path
        ok = True
    finally:
        fh.close()  # releases the lock
        if not ok and created:
            with contextlib.suppress(OSError):
                lock_path.unlink()
                path.rmdir()  # only when empty: nothing that someone else put there is removed


def _holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another qapc process"
    return f"another `qapc {info.get('command', '?')}` (pid {info['pid']}, since {info.get('since', '?')})"
