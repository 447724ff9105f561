"""Shared fixtures. Integration tests (marker `integration`) use the real ML stack."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
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
