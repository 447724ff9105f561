"""Which Python runs a dialect's scripts.

The QKeras stack (TensorFlow 2.14, Keras 2) and the HGQ2 stack (Keras 3, JAX) cannot share an
environment (`qapdsl.dialects`), so `qapc run` may drive scripts in another interpreter than its
own. For a dialect, the first of:

1. `$QAPC_PYTHON_QKERAS` / `$QAPC_PYTHON_HGQ2` (`Dialect.env_var`), when set: that interpreter;
2. qapc's own interpreter, when it can import the dialect's modules;
3. the environment `scripts/setup.sh` makes next to this checkout (`.venv`, `.venv-hgq2`).

The modules are looked up with `importlib.util.find_spec` in that interpreter (nothing is
imported: TensorFlow alone takes seconds). `find` raises `NoInterpreter` with what to do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from qapdsl.dialects import Dialect

CHECKOUT = Path(__file__).resolve().parents[2]  # the repository, for an editable install
PROBE = "import importlib.util, json, sys; print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m) is None]))"
VERSIONS = r"""
import importlib.metadata as md, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = md.version(name)
    except md.PackageNotFoundError:
        found[name] = None
print(json.dumps(found))
"""


class NoInterpreter(Exception):
    """No interpreter with the dialect's ML stack; the message says how to get one."""


@dataclass(frozen=True)
class Interpreter:
    python: str
    how: str  # "$QAPC_PYTHON_HGQ2", "qapc's own", ".venv-hgq2 next to qapc"


def missing_modules(python: str, modules: tuple[str, ...]) -> list[str]:
    """The modules `python` cannot find (raises NoInterpreter when it does not run)."""
    if python == sys.executable:
        import importlib.util

        return [m for m in modules if importlib.util.find_spec(m) is None]
    try:
        out = subprocess.run([python, "-c", PROBE, *modules], capture_output=True, text=True, timeout=60, check=False)
        found = json.loads(out.stdout or "null")
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        raise NoInterpreter(f"cannot run {python}: {e}") from None
    if not isinstance(found, list):
        raise NoInterpreter(f"cannot check the ML stack of {python}: {out.stderr.strip()[-300:]}")
    return [str(m) for m in found]


def sibling(dialect: Dialect) -> Path:
    return CHECKOUT / dialect.venv / "bin" / "python"


def find(dialect: Dialect) -> Interpreter:
    """The interpreter for `dialect`'s scripts (see the module docstring), checked to have its modules."""
    setup = "bash scripts/setup.sh"
    install = f"pip install 'qapc[{dialect.extra}]' in a Python {dialect.python} environment"
    explicit = os.environ.get(dialect.env_var)
    if explicit:
        missing = missing_modules(explicit, dialect.modules)
        if missing:
            raise NoInterpreter(f"${dialect.env_var} is {explicit}, which lacks {', '.join(missing)} ({dialect.title}); {install}")
        return Interpreter(explicit, f"${dialect.env_var}")
    if not missing_modules(sys.executable, dialect.modules):
        return Interpreter(sys.executable, "qapc's own")
    venv = sibling(dialect)
    if venv.is_file() and os.access(venv, os.X_OK) and not missing_modules(str(venv), dialect.modules):
        return Interpreter(str(venv), f"{dialect.venv} next to qapc")
    own = missing_modules(sys.executable, dialect.modules)
    raise NoInterpreter(
        f"no Python with the {dialect.title} stack: {sys.executable} lacks {', '.join(own)}. "
        f"In this repository run `{setup}`; elsewhere {install} and point ${dialect.env_var} at its python"
    )


def versions(python: str, packages: list[str]) -> dict[str, str | None]:
    """The installed versions of `packages` (distribution names; None: not installed) in `python`; {} when it cannot tell."""
    try:
        out = subprocess.run([python, "-c", VERSIONS, *packages], capture_output=True, text=True, timeout=60, check=False)
        found = json.loads(out.stdout or "null")
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    return {str(k): (str(v) if v is not None else None) for k, v in found.items()} if isinstance(found, dict) else {}
