"""Which Python runs a dialect's scripts.

The QKeras stack (TensorFlow 2.14, Keras 2) and the HGQ2 stack (Keras 3, JAX) cannot share an
environment (`qapdsl.dialects`), so `qapc run` may drive scripts in another interpreter than its
own. For a dialect, the first of:

1. `$QAPC_PYTHON_QKERAS` / `$QAPC_PYTHON_HGQ2` / `$QAPC_PYTHON_BREVITAS` (`Dialect.env_var`), when set: that interpreter;
2. qapc's own interpreter, when it can import the dialect's modules;
3. the environment `scripts/setup.sh` makes next to this checkout (`.venv`, `.venv-hgq2`, `.venv-brevitas`).

The modules are looked up with `importlib.util.find_spec` in that interpreter, and `stack` reads the
versions of the dialect's pinned distributions with `importlib.metadata` (`probe.py`; nothing is
imported: TensorFlow alone takes seconds). `find` raises `NoInterpreter` with what to do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qapdsl.dialects import Dialect

CHECKOUT = Path(__file__).resolve().parents[1]  # the repository, for an editable install
FROM_CHECKOUT = (CHECKOUT / "scripts" / "setup.sh").is_file()  # else installed from a wheel: no setup.sh to suggest
PROBE_SCRIPT = Path(__file__).with_name("probe.py")
PROBE_TIMEOUT_S = 60.0


class NoInterpreter(Exception):
    """No interpreter with the dialect's ML stack: `problem` says what is wrong, `fix` what to do."""

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(f"{problem}; {fix}" if fix else problem)
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class Interpreter:
    python: str
    how: str  # "$QAPC_PYTHON_HGQ2", "qapc's own", ".venv-hgq2 next to qapc"


@dataclass(frozen=True)
class Probe:
    """What an interpreter holds of a dialect's stack (`probe.py`): nothing in it was imported."""

    python_version: str
    missing: tuple[str, ...]  # the dialect's modules it cannot find
    versions: dict[str, str | None]  # pinned distribution → installed version (None: not installed)


def probe(python: str, modules: Sequence[str] = (), distributions: Sequence[str] = ()) -> Probe:
    """Ask `python` for its version, which of `modules` it cannot find, and the versions of `distributions`.

    qapc's own interpreter answers in process; any other runs `probe.py` (a fraction of a second).
    Raises NoInterpreter when it does not run or answers nonsense.
    """
    from qapdsl import probe as probe_script

    if python == sys.executable:
        found: object = probe_script.probe(list(modules), list(distributions))
    else:
        try:
            out = subprocess.run(
                [python, str(PROBE_SCRIPT), json.dumps(list(modules)), json.dumps(list(distributions))],
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT_S,
                check=False,
            )
            found = json.loads(out.stdout or "null")
        except (OSError, subprocess.SubprocessError, ValueError) as e:
            raise NoInterpreter(f"cannot run {python}: {getattr(e, 'strerror', None) or e}", "point it at a working Python 3, or unset it") from None
        if not isinstance(found, dict):
            raise NoInterpreter(f"cannot ask {python} what it has installed: {out.stderr.strip()[-300:] or 'no answer'}", "point it at a working Python 3")
    assert isinstance(found, dict)
    versions = found.get("versions")
    return Probe(
        python_version=str(found.get("python", "?")),
        missing=tuple(str(m) for m in found.get("missing") or ()),
        versions={str(k): (None if v is None else str(v)) for k, v in versions.items()} if isinstance(versions, dict) else {},
    )


def stack(python: str, dialect: Dialect) -> Probe:
    """`probe` for a dialect: its modules and its pinned distributions."""
    from qapdsl.versions import distribution

    return probe(python, dialect.modules, sorted({distribution(req)[0] for req in dialect.pins}))


def missing_modules(python: str, modules: tuple[str, ...]) -> list[str]:
    """The modules `python` cannot find (raises NoInterpreter when it does not run)."""
    return list(probe(python, modules).missing)


def sibling(dialect: Dialect) -> Path:
    return CHECKOUT / dialect.venv / "bin" / "python"


def setup_fix(dialect: Dialect) -> str:
    """How to get the dialect's stack: in this repository, and anywhere else."""
    install = f"pip install 'qapc[{dialect.extra}]' in a Python {dialect.python} environment"
    if not FROM_CHECKOUT:
        return f"{install} and point ${dialect.env_var} at its python"
    return f"in this repository run `bash scripts/setup.sh`; elsewhere {install} and point ${dialect.env_var} at its python"


def find(dialect: Dialect) -> Interpreter:
    """The interpreter for `dialect`'s scripts (see the module docstring), checked to have its modules."""
    explicit = os.environ.get(dialect.env_var)
    if explicit:
        missing = missing_modules(explicit, dialect.modules)
        if missing:
            raise NoInterpreter(f"${dialect.env_var} is {explicit}, which lacks {', '.join(missing)} ({dialect.title})", setup_fix(dialect))
        return Interpreter(explicit, f"${dialect.env_var}")
    own = missing_modules(sys.executable, dialect.modules)
    if not own:
        return Interpreter(sys.executable, "qapc's own")
    venv = sibling(dialect)
    if venv.is_file() and os.access(venv, os.X_OK) and not missing_modules(str(venv), dialect.modules):
        return Interpreter(str(venv), f"{dialect.venv} next to qapc")
    raise NoInterpreter(f"no Python with the {dialect.title} stack: {sys.executable} lacks {', '.join(own)}", setup_fix(dialect))


def versions(python: str, packages: Sequence[str]) -> dict[str, str | None]:
    """The installed versions of `packages` (distribution names; None: not installed) in `python`; {} when it cannot tell."""
    try:
        return probe(python, (), packages).versions
    except NoInterpreter:
        return {}
