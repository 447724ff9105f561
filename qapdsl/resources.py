"""Where the grammar and templates live: inside the wheel, or next to the package in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """`grammar` or `templates`: force-included in the wheel, top-level in a checkout."""
    installed = _PACKAGE / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def grammar_path() -> Path:
    return resource_dir("grammar") / "qap.lark"


def templates_dir() -> Path:
    return resource_dir("templates")
