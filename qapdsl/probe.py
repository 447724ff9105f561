"""What an interpreter has, asked without importing anything heavy (standard library only; run as a script).

    python probe.py '["tensorflow", "qkeras"]' '["tensorflow", "qkeras", "scikit-learn"]'

prints one JSON object: {"python": "3.11.7", "executable": ..., "missing": [modules it cannot find],
"versions": {distribution: version or null}}. Modules are looked up with `importlib.util.find_spec`
and versions read with `importlib.metadata`: TensorFlow is never imported (that alone takes seconds).
`qapdsl.environments` runs this file in another interpreter, and calls `probe` directly for its own.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    # Run as a script, its own folder (qapdsl/) comes first on sys.path, and qapdsl/ast.py would then stand in
    # for the standard library's `ast` (importlib.metadata → inspect → ast on Python 3.13: a circular import).
    del sys.path[0]

import importlib.metadata
import importlib.util
import json
import platform


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def probe(modules: list[str], distributions: list[str]) -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "missing": [m for m in modules if importlib.util.find_spec(m) is None],
        "versions": {d: _version(d) for d in distributions},
    }


if __name__ == "__main__":
    print(json.dumps(probe(json.loads(sys.argv[1]), json.loads(sys.argv[2]))))
