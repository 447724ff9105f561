"""The specs on disk that references and renames look into: the workspace's `.qap` files and every file
an open document imports, each analysed as its own root and cached until it changes on disk.

A request must answer in bounded time whatever the workspace is: the walk skips loops of symbolic
links and what cannot be read, never searches a whole file system (a workspace folder of `/`), and
stops after MAX_ENTRIES names, MAX_DEPTH folders down, MAX_FILES specs or MAX_SECONDS. The deadline
holds within a file too: a spec analysed past it (a 180 KB spec takes about 5 s) is left out of that
request, its analysis going on in the background for the next one. What it did not search is said (`Scan.incomplete`, and once in the log): references answer with what was found,
and a rename, which must change every use or none, is refused.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qapdsl.loader import resolve_path
from qapdsl.lsp.analysis import Document, analyse

log = logging.getLogger("qapc.lsp")

SKIP_DIRS = frozenset({"node_modules", "build", "dist", "__pycache__", "venv", "site-packages"})
MAX_FILES = 2000  # .qap files
MAX_ENTRIES = 100_000  # names (files and folders) looked at in one request
MAX_DEPTH = 12  # folders below a workspace folder
MAX_SECONDS = 5.0  # walking and analysing, per request
MAX_BYTES = 4_000_000


def is_root(path: Path) -> bool:
    """Is this the root of a file system (`/`, `C:\\`)?"""
    p = resolve_path(path)
    return p == Path(p.anchor)


@dataclass
class Scan:
    """The specs found, and why the search stopped short of some (empty: every spec of the roots is in)."""

    documents: list[Document] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)


class _Walk:
    """One bounded search of the roots for `.qap` files."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.entries = 0
        self.files = 0
        self.incomplete: list[str] = []

    def stop(self, why: str) -> None:
        if why not in self.incomplete:
            self.incomplete.append(why)

    def out_of_budget(self) -> bool:
        if self.entries >= MAX_ENTRIES:
            self.stop(f"stopped after looking at {MAX_ENTRIES:,} files and folders")
        elif self.files >= MAX_FILES:
            self.stop(f"stopped after {MAX_FILES:,} .qap files")
        elif time.monotonic() > self.deadline:
            self.stop(f"stopped after {MAX_SECONDS:.0f} s")
        else:
            return False
        return True

    def spec_files(self, roots: Iterable[Path]) -> Iterator[Path]:
        """`.qap` files under the roots, each once, resolved (hidden folders, virtual environments and build output skipped)."""
        seen: set[Path] = set()
        for root in roots:
            if root.is_file():
                candidates: Iterable[Path] = [root]
            elif is_root(root):
                self.stop(f"the workspace folder {root} is the whole file system: not searched (open the project's folder instead)")
                continue
            else:
                candidates = self._walk(root)
            for path in candidates:
                if self.out_of_budget():
                    return
                key = resolve_path(path)
                if key in seen or not _is_file(key):  # a loop, a dangling link, a FIFO
                    continue
                seen.add(key)
                self.files += 1
                yield key

    def _walk(self, root: Path) -> Iterator[Path]:
        top = len(root.parts)
        for folder, dirs, names in os.walk(root):  # errors (unreadable folders) are skipped; links to folders not followed
            self.entries += len(dirs) + len(names)
            if len(Path(folder).parts) - top >= MAX_DEPTH:
                if dirs:
                    self.stop(f"did not look more than {MAX_DEPTH} folders deep (e.g. in {folder})")
                dirs[:] = []
            else:
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
            for name in sorted(names):
                if name.endswith(".qap"):
                    yield Path(folder) / name
            if self.out_of_budget():
                return


def _in_background(fn: Callable[[str, Path], Document], text: str, path: Path) -> concurrent.futures.Future[Document]:
    """`fn(text, path)` in a daemon thread (one the server's exit does not wait for), as a future."""
    future: concurrent.futures.Future[Document] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(fn(text, path))
        except BaseException as e:  # handed to whoever waits for the result
            future.set_exception(e)

    threading.Thread(target=run, name=f"qapc-lsp-analyse-{path.name}", daemon=True).start()
    return future


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def spec_files(roots: Iterable[Path]) -> list[Path]:
    """`.qap` files under the roots (within the limits of one request)."""
    return list(_Walk(time.monotonic() + MAX_SECONDS).spec_files(roots))


class DiskDocuments:
    """Analyses of spec files as they are on disk, kept while their size and modification time stay the same."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int], Document]] = {}
        self._logged: set[str] = set()
        # each analysis runs in a thread of its own, so that a request waits for it only until its deadline;
        # one still running is waited for again by the next request, not started twice
        self._running: dict[Path, tuple[tuple[int, int], concurrent.futures.Future[Document]]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path, deadline: float | None = None) -> Document | None:
        """The file's analysis; None when it cannot be read. Past `deadline` (time.monotonic()), TimeoutError."""
        try:
            st = path.stat()
            if not path.is_file() or st.st_size > MAX_BYTES:
                return None
            stamp = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            with self._lock:
                running = self._running.get(path)
                if running is None or running[0] != stamp:
                    text = path.read_bytes().decode("utf-8", errors="replace")
                    running = self._running[path] = (stamp, _in_background(analyse, text, path))
        except OSError:  # unreadable, gone, a loop of links
            return None
        try:
            doc = running[1].result(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"{path.name} ({st.st_size:,} bytes) was still being analysed") from None
        with self._lock:
            if self._running.get(path) is running:
                del self._running[path]
            self._cache[path] = (stamp, doc)
        return doc

    def documents(self, roots: Iterable[Path], skip: set[Path]) -> Scan:
        """The specs under the roots (but those in `skip`), analysed, within the limits of one request."""
        walk = _Walk(time.monotonic() + MAX_SECONDS)
        scan = Scan()
        for path in walk.spec_files(roots):
            if path in skip:
                continue
            try:
                doc = self.get(path, walk.deadline)
            except TimeoutError as e:  # the deadline holds within a file too
                walk.stop(f"stopped after {MAX_SECONDS:.0f} s: {e} (the next request may have it)")
                break
            if doc is not None:
                scan.documents.append(doc)
        scan.incomplete = walk.incomplete
        for why in scan.incomplete:
            if why not in self._logged:  # once: every request would say it again
                self._logged.add(why)
                log.warning("looking for .qap files for references and renames: %s", why)
        return scan
