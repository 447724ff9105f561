"""Shared fixtures. Integration tests (marker `integration`) use the real ML stack."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
PYTHON = sys.executable


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write a spec (and optional extra files) into a temporary folder."""

    def write(text: str, name: str = "spec.qap", **extra: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        for other, body in extra.items():
            (tmp_path / other.replace("__", ".")).write_text(body, encoding="utf-8")
        return path

    return write


@pytest.fixture(autouse=True, scope="session")
def private_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The run index (`qapdsl.runs`, under $XDG_STATE_HOME) of the tests is theirs, not the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
        yield


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """One process at a time (pytest-xdist workers share the trained models instead of each training them)."""
    import fcntl

    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def shared_dir(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """A folder `make` fills once for all xdist workers (their base temps share a parent)."""
    base = factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    d = root / name
    d.mkdir(exist_ok=True)
    with exclusive(root / f"{name}.lock"):
        if not (d / "ready").exists():
            make(d)
            (d / "ready").write_text("ok")
    return d
