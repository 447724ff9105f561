"""Shared fixtures. Integration tests (marker `integration`) use the real ML stack."""

from __future__ import annotations

import sys
from collections.abc import Callable
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
