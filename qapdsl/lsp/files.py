"""The specs on disk that references and renames look into: the workspace's `.qap` files and every file
an open document imports, each analysed as its own root and cached until it changes on disk."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from qapdsl.lsp.analysis import Document, analyse

SKIP_DIRS = frozenset({"node_modules", "build", "dist", "__pycache__", "venv", "site-packages"})
MAX_FILES = 2000
MAX_BYTES = 4_000_000


def spec_files(roots: Iterable[Path]) -> Iterator[Path]:
    """`.qap` files under the roots (hidden folders, virtual environments and build output skipped), at most MAX_FILES."""
    count = 0
    seen: set[Path] = set()
    for root in roots:
        if root.is_file():
            candidates: Iterable[Path] = [root]
        else:
            candidates = _walk(root)
        for path in candidates:
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            yield key
            count += 1
            if count >= MAX_FILES:
                return


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(names):
            if name.endswith(".qap"):
                yield Path(folder) / name


class DiskDocuments:
    """Analyses of spec files as they are on disk, kept while their size and modification time stay the same."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int], Document]] = {}

    def get(self, path: Path) -> Document | None:
        try:
            st = path.stat()
            if not path.is_file() or st.st_size > MAX_BYTES:
                return None
            stamp = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return None
        doc = analyse(text, path)
        self._cache[path] = (stamp, doc)
        return doc

    def documents(self, roots: Iterable[Path], skip: set[Path]) -> list[Document]:
        return [doc for path in spec_files(roots) if path not in skip for doc in [self.get(path)] if doc is not None]
