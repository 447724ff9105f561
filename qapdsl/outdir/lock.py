"""One qapc at a time per output folder, with the lock kept out of the folder's tree.

`lock(path, command)` holds an exclusive `flock` while a build, a run or a study writes into
`path`: a second one into the same folder fails at once, naming the process that holds it,
instead of both writing and one reporting the other's figures. `lock(path, command, shared=True)`
is for commands that only read (`qapc report`): they wait for no one but a writer, and write
nothing.

The lock file lives outside the folder, in `$XDG_RUNTIME_DIR/qapc-locks/` (else
`<tmp>/qapc-<uid>-locks/`), named by a digest of the folder's resolved path, so a finished build
leaves nothing behind (two builds of one spec give identical trees) and a read-only folder can
still be read under the lock. `flock` dies with its process: a run killed with SIGKILL never
leaves the folder locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from qapdsl.outdir.folder import LEDGER_NAME, OUTPUTS, OutputDirError, check, writable


def lock_dir(avoid: Path | None = None) -> Path:
    """The folder of the lock files (created, private to this user), never inside `avoid` (the folder
    being locked: `-o /tmp` must not get a lock folder in its tree)."""
    candidates = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        candidates.append(Path(runtime) / "qapc-locks")
    candidates.append(Path(tempfile.gettempdir()) / f"qapc-{os.getuid()}-locks")
    candidates.append(Path.home() / ".cache" / "qapc" / "locks")
    candidates.append(Path("/tmp") / f"qapc-{os.getuid()}-locks")
    problems = []
    for d in candidates:
        try:
            if avoid is not None and d.resolve().is_relative_to(avoid.resolve()):
                continue
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            if d.is_symlink() or d.lstat().st_uid != os.getuid():
                problems.append(f"{d} is a link or someone else's")
                continue
            return d
        except (OSError, RuntimeError) as e:
            problems.append(f"{d}: {getattr(e, 'strerror', None) or e}")
    raise OutputDirError("cannot make a folder for qapc's locks (" + "; ".join(problems) + "); set XDG_RUNTIME_DIR to a folder of your own")


def lock_path(folder: Path, avoid: Path | None = None) -> Path:
    key = hashlib.sha256(str(folder.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return lock_dir(avoid) / f"{key}.lock"


def _open(path: Path) -> IO[str]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise OutputDirError(f"cannot open qapc's lock file {path}: {e.strerror or e}") from None
    return os.fdopen(fd, "r+", encoding="utf-8")


@contextlib.contextmanager
def lock(path: Path, command: str, *, shared: bool = False) -> Iterator[Path]:
    """Hold the folder for `command` ('build', 'run', ...); creates it when missing (not `shared`).

    An exclusive holder first finishes what a killed command left (`ledger.recover`). A folder this
    call created is removed again if the body fails and left nothing in it but the ledger.
    """
    from qapdsl.outdir import ledger

    check(path)
    created = False
    if not shared:
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
    fh = _open(lock_path(path, avoid=path))
    # the folders above it too, shared: a study writes into its points' folders under its own lock,
    # so a build into points/<key>/ while the study runs is refused (and the study waits for no one)
    above = [_open(lock_path(p, avoid=path)) for p in path.resolve().parents]
    ok = False
    try:
        try:
            fcntl.flock(fh, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputDirError(f"{path} is in use by {_holder(fh)}; wait for it to finish, or use another folder (-o DIR)") from None
        for parent, pfh in zip(path.resolve().parents, above, strict=True):
            try:
                fcntl.flock(pfh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutputDirError(f"{path} is inside {parent}, which is in use by {_holder(pfh)}; wait for it to finish, or use another folder (-o DIR)") from None
        if not shared:
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps({"pid": os.getpid(), "command": command, "folder": str(path.resolve()), "since": time.strftime("%H:%M:%S")}) + "\n")
            fh.flush()
            ledger.recover(path)  # a build killed halfway is finished before anyone reads the folder
        yield path
        ok = True
    finally:
        fh.close()  # releases the lock
        for pfh in above:
            pfh.close()
        if not ok and created:
            with contextlib.suppress(OSError):
                if {p.name for p in path.iterdir()} <= {LEDGER_NAME}:
                    (path / LEDGER_NAME).unlink(missing_ok=True)
                path.rmdir()  # only when empty: nothing that someone else put there is removed


def _holder(fh: IO[str]) -> str:
    try:
        fh.seek(0)
        info = json.loads(fh.read() or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another qapc process"
    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, TypeError):
        return "another qapc process"  # the last writer is gone: a reader holds it now
    return f"another `qapc {info.get('command', '?')}` (pid {info['pid']}, since {info.get('since', '?')})"
