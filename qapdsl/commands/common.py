"""What every `qapc` command shares: exit codes, and loading a spec with its diagnostics shown.

Cheap to import (the command modules import it at start-up).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qapdsl import ir
    from qapdsl.loader import Loaded

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_STEP, EXIT_INTERNAL = 0, 1, 2, 3, 70


def use_color(stream: object) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


def print_diagnostics(loaded: Loaded, as_json: bool = False) -> None:
    from qapdsl.diagnostics import render

    diags = loaded.diagnostics
    if as_json:
        print(json.dumps([d.to_dict() for d in diags], indent=2))
        return
    if diags:
        text = render(diags, loaded.sources, color=use_color(sys.stderr))
        n = sum(1 for d in diags if d.severity == "error")
        w = len(diags) - n
        counts = [f"{n} error{'s' if n != 1 else ''}"] if n else []
        counts += [f"{w} warning{'s' if w != 1 else ''}"] if w else []
        print(text, file=sys.stderr)
        print(", ".join(counts), file=sys.stderr)


def load_checked(path: str, model_name: str | None = None, dialect: str | None = None) -> tuple[ir.Spec, Loaded] | None:
    """Load and check a spec and print its diagnostics: (IR, what was loaded), or None on errors.

    `dialect` (the command line's --dialect) replaces the spec's training dialect before the checks
    run, so what only one dialect cannot express is judged for the one asked for.
    Raises qapdsl.loader.UsageError when the file cannot be read (exit 2).
    """
    from qapdsl.loader import load_file

    loaded = load_file(path, model_name=model_name, dialect=dialect)
    print_diagnostics(loaded)
    if not loaded.ok or loaded.spec is None:
        return None
    return loaded.spec, loaded


def folder_arg(value: str) -> str:
    """argparse type of -o DIR: an empty path is a mistake (`-o "$UNSET"`), not the default folder."""
    import argparse

    if not value.strip():
        raise argparse.ArgumentTypeError("an empty folder name; leave -o out for the default folder, or give one (e.g. -o build/model)")
    return value


def report_kept(kept: list[Path]) -> None:
    """Say where `--force` moved the user's files."""
    if kept:
        where = kept[0].parent
        names = ", ".join(p.name for p in kept)
        print(f"qapc: kept your {names} aside in {where}/ (they were in qapc's way)", file=sys.stderr)
