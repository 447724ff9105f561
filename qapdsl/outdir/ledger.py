"""Which files of an output folder are qapc's: the ledger, and the one rule every command follows.

An output folder belongs to its user. qapc changes or deletes a file there only when the file's
current bytes are bytes qapc recorded writing: `.qapc-files.json` (the ledger) holds a digest of
every file (and, for a folder such as `hls_project/`, of its whole tree) that a build, a run or a
study wrote. A file is not qapc's because it mentions qapc or has a name qapc uses; it is qapc's
because its digest is in the ledger. So:

- `claim(folder, names, force)` before a command writes anything: every existing name whose digest
  is not recorded (the user's own `report.md`, a hand-edited `train.py`) stops the command with
  `ForeignFiles`, which lists them, and nothing is touched. With `force`, those files are moved
  aside into `qapc-kept/<time>/` (never deleted) and the command goes on.
- `writing(folder, names)` around a step that writes `names`: the names are marked pending, the
  stale qapc outputs among them are removed, and when the step ends, done or failed (Ctrl-C
  included), the digests of what it left are recorded.
- `recover(folder)`, called with the folder held: finishes what a killed command left. A build
  killed while moving its files in is completed (atomic.py), each staged file moved only over
  nothing or over the file it replaces. The names a command killed with SIGKILL left pending are
  NOT taken as qapc's (a file put there after the kill cannot be told from the step's): they
  become `orphans`, refused like the user's files with a word on where they came from, and moved
  aside by `--force`. A study adopts the orphans of its own points' folders (`adopt_orphans`).
  Only a staging folder the ledger names, and whose name and contents are a build's, is touched.

The ledger's JSON is sorted and holds no time or process id: two builds of one spec give
identical folders. Every function reads the ledger afresh and writes it atomically, so the
atomic writer and the runner can both use it on the same folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qapdsl.outdir.folder import LEDGER_NAME, OutputDirError

STAGE_PREFIX = ".qapc-build-"  # a build's staging folder (atomic.py); the ledger names no other

FORMAT = 1
KEPT = "qapc-kept"
"""Where `--force` moves the user's files aside: `<folder>/qapc-kept/<YYYYmmdd-HHMMSS>/<name>`."""


class ForeignFiles(OutputDirError):
    """Files qapc would replace or delete but did not write; nothing was changed."""

    def __init__(self, folder: Path, names: list[str], command: str = "this command") -> None:
        self.folder = folder
        self.names = names
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        older = ""
        if not (folder / LEDGER_NAME).exists() and _old_manifest(folder / "manifest.json"):
            older = f" (the folder has no {LEDGER_NAME}, the record of what qapc wrote: a qapc from before that record may have made it)"
        else:
            with contextlib.suppress(OutputDirError):
                left = [n for n in names if n in load(folder).orphans]
                if left:
                    older = f" ({', '.join(left)}: left by a qapc command that was killed before it recorded them)"
        super().__init__(
            f"{folder} holds files qapc did not write (or that changed since it wrote them): {shown}{older}; "
            f"{command} would replace or delete them, so nothing was changed. Move them away, use another folder (-o DIR), "
            f"or add --force to keep them aside in {folder / KEPT}/ and go on"
        )


def _old_manifest(path: Path) -> bool:
    """A manifest.json an older qapc wrote (a JSON object with its version), in a folder with no ledger."""
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 16 << 20:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "qapc_version" in data


@dataclass
class Ledger:
    files: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    stage: str | None = None
    orphans: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        data: dict[str, Any] = {"format": FORMAT, "files": dict(sorted(self.files.items()))}
        if self.pending:
            data["pending"] = sorted(set(self.pending))
        if self.stage:
            data["stage"] = self.stage
        if self.orphans:
            data["orphans"] = sorted(set(self.orphans))
        return json.dumps(data, indent=1, sort_keys=True) + "\n"


def _plain(name: object) -> bool:
    return isinstance(name, str) and bool(name) and "/" not in name and "\\" not in name and name not in (".", "..") and "\0" not in name


def load(folder: Path) -> Ledger:
    """The folder's ledger (an empty one when there is none). A file at the ledger's name that is
    not a ledger is the user's: refused, never overwritten."""
    path = folder / LEDGER_NAME
    try:
        st = path.lstat()
    except FileNotFoundError:
        return Ledger()
    except OSError as e:
        raise OutputDirError(f"cannot read {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode) or st.st_size > 16 << 20:  # a FIFO would block, a link lead elsewhere
        raise OutputDirError(f"{path} is not qapc's ledger of the files it wrote (not a plain file); move it away, or use another folder (-o DIR)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "r", encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise OutputDirError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(files, dict):
        raise OutputDirError(
            f"{path} is not qapc's ledger of the files it wrote; move it away, or use another folder (-o DIR) (--force does not touch it)"
        )
    pending = data.get("pending") or []
    orphans = data.get("orphans") or []
    stage = data.get("stage")
    return Ledger(
        files={k: v for k, v in files.items() if _plain(k) and isinstance(v, str)},
        pending=[n for n in pending if _plain(n)] if isinstance(pending, list) else [],
        stage=stage if _plain(stage) and str(stage).startswith(STAGE_PREFIX) else None,
        orphans=[n for n in orphans if _plain(n)] if isinstance(orphans, list) else [],
    )


def save(folder: Path, ledger: Ledger) -> None:
    """Written to a new temporary file (O_EXCL: never through a file or link someone put there), then renamed."""
    fd, tmp = tempfile.mkstemp(prefix=f"{LEDGER_NAME}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(ledger.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / LEDGER_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def digest(path: Path) -> str | None:
    """What a file (its bytes), a symbolic link (its target) or a folder (every entry's name and
    digest, recursively) holds; None when nothing is there."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return "link:" + hashlib.sha256(os.readlink(path).encode("utf-8", "surrogateescape")).hexdigest()
    if stat.S_ISDIR(st.st_mode):
        h = hashlib.sha256()
        for entry in sorted(os.listdir(path)):
            h.update(entry.encode("utf-8", "surrogateescape") + b"\0" + (digest(path / entry) or "").encode() + b"\n")
        return "tree:" + h.hexdigest()
    if not stat.S_ISREG(st.st_mode):
        return f"special:{st.st_mode:o}"  # a FIFO or device: never ours
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def owned(folder: Path, name: str, ledger: Ledger | None = None) -> bool:
    """True when nothing is at `name` or its bytes are what qapc recorded writing there."""
    ledger = ledger or load(folder)
    now = digest(folder / name)
    return now is None or (now == ledger.files.get(name) and not now.startswith("special:"))


def foreign(folder: Path, names: Iterable[str]) -> list[str]:
    """The names in `folder` whose current bytes qapc did not record writing."""
    ledger = load(folder)
    return [n for n in dict.fromkeys(names) if not owned(folder, n, ledger)]


def claim(folder: Path, names: Iterable[str], *, force: bool = False, command: str = "this command") -> list[Path]:
    """Make sure qapc may replace or delete `names`: raises ForeignFiles (nothing changed) when one
    holds bytes qapc did not write; with `force` such files are moved aside instead, and their new
    paths returned."""
    if not folder.is_dir():
        return []
    theirs = foreign(folder, names)
    if not theirs:
        return []
    if not force:
        raise ForeignFiles(folder, theirs, command)
    return keep_aside(folder, theirs)


def keep_aside(folder: Path, names: list[str]) -> list[Path]:
    """Move the user's files out of qapc's way, into a new `qapc-kept/<time>/` inside the folder
    (never through a link, never over a file)."""
    base = folder / KEPT
    if base.is_symlink() or (base.exists() and not base.is_dir()):
        raise OutputDirError(f"{base} is not a folder (a link or a file), so --force cannot keep your files there; move it away")
    with contextlib.suppress(FileExistsError):
        base.mkdir()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    n = 1
    while True:
        dest = base / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            dest.mkdir()  # a new folder: nothing in it to overwrite
            break
        except FileExistsError:
            n += 1
    if base.is_symlink() or dest.resolve().parent != folder.resolve() / KEPT:
        raise OutputDirError(f"{base} changed while qapc used it; nothing was moved")
    moved = []
    for name in names:
        os.replace(folder / name, dest / name)
        moved.append(dest / name)
    return moved


def remove(folder: Path, names: Iterable[str]) -> None:
    """Delete the qapc outputs among `names` (a stale one must not pass for this run's). Only files
    whose bytes are recorded are removed; claim() has refused the others before."""
    ledger = load(folder)
    changed = False
    for name in names:
        path = folder / name
        now = digest(path)
        if now is None:
            changed |= ledger.files.pop(name, None) is not None
            continue
        if now != ledger.files.get(name):
            raise ForeignFiles(folder, [name])  # appeared or changed since the claim: not ours to delete
        if now.startswith("tree:"):
            shutil.rmtree(path)
        else:
            path.unlink()
        del ledger.files[name]
        changed = True
    if changed:
        save(folder, ledger)


def record(folder: Path, names: Iterable[str], digests: dict[str, str] | None = None) -> None:
    """Record the digests of what is now at `names` as qapc's (and forget the names left empty).
    With `digests`, a name is recorded only when its bytes are those (a build's own files)."""
    ledger = load(folder)
    names = list(names)
    for name in names:
        now = digest(folder / name)
        if now is None or now.startswith("special:") or (digests is not None and digests.get(name) != now):
            ledger.files.pop(name, None)
        else:
            ledger.files[name] = now
    ledger.pending = [n for n in ledger.pending if n not in names]
    ledger.orphans = [n for n in ledger.orphans if n not in names]
    save(folder, ledger)


def begin(folder: Path, names: Iterable[str], stage: str | None = None) -> None:
    """Mark `names` as being written (and the staging folder a build moves them in from)."""
    ledger = load(folder)
    ledger.pending = sorted({*ledger.pending, *names})
    if stage is not None:
        ledger.stage = stage
    save(folder, ledger)


@contextlib.contextmanager
def writing(folder: Path, names: Iterable[str], *, clear: bool = True) -> Iterator[None]:
    """Around a step that writes `names` (already claimed): pending while it runs, the stale ones
    removed first (`clear`), the digests of what it left recorded when it ends, done or failed."""
    names = list(names)
    begin(folder, names)
    try:
        if clear:
            remove(folder, names)
        yield
    finally:
        record(folder, names)


def recover(folder: Path) -> None:
    """Finish what a killed command left (call with the folder held): the build's staging folder the
    ledger names (atomic.py); then the names still pending become orphans (see the module's doc)."""
    if not (folder / LEDGER_NAME).exists() and not (folder / LEDGER_NAME).is_symlink():
        return
    ledger = load(folder)
    if ledger.stage:
        from qapdsl.outdir.atomic import finish_stage

        finish_stage(folder, folder / ledger.stage, ledger)  # saves the files it finished
        ledger = load(folder)
        ledger.stage = None
        save(folder, ledger)
    if ledger.pending:
        left = [n for n in ledger.pending if not owned(folder, n, ledger)]
        ledger.orphans = sorted({*ledger.orphans, *left})
        ledger.pending = []
        save(folder, ledger)


def adopt_orphans(folder: Path) -> None:
    """Take what killed qapc steps left in `folder` as qapc's: only for folders qapc made for itself
    (a study's points), where nobody else is expected to put files."""
    if not folder.is_dir():
        return
    recover(folder)
    ledger = load(folder)
    if ledger.orphans:
        record(folder, ledger.orphans)
