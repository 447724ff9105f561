"""Every import runs down: the units of `qapdsl` in one order, and no module imports a unit above its own.

A unit is a sub-package (`backends/`, `checks/`, `commands/`, `lower/`, `lsp/`, `outdir/`, `runner/`, `sweep/`: all its modules) or a
top-level module. The graph is computed from the source with `ast`, every import statement counted (at module
level or inside a function, absolute or relative), so a lazy import cannot hide an upward one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qapdsl"
PACKAGES = frozenset({"backends", "checks", "commands", "lower", "lsp", "outdir", "runner", "sweep"})

# Bottom first: a unit may import only units before it in this list.
ORDER: tuple[str, ...] = (
    # foundations: text, vocabulary, tables, files qapc keeps (no spec semantics)
    "qapdsl",  # the package itself: __version__
    "source",
    "resources",
    "names",
    "schema",
    "dialects",
    "rtlcaps",
    "versions",
    "results",
    "runs",
    "probe",
    "outdir",
    "pygments_lexer",
    # the language: syntax, IR, its checks and the build plan
    "diagnostics",
    "ast",
    "ir",
    "syntax",
    "fmt",
    "quant",
    "learned",
    "brevitas_caps",
    "shapes",
    "data",
    "paths",
    "plan",
    "metrics",
    "objectives",
    "lower",
    "expressible",
    "checks",
    "loader",
    # what a spec becomes: generated files and figures
    "backends",
    "report",
    # the machine: interpreters, tools, running, studies
    "environments",
    "doctor",
    "runner",
    "sweep",
    # front ends
    "lsp",
    "scaffold",
    "commands",
    "cliparser",
    "cli",
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    line: int
    target: str  # the imported module, dotted

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports(root: Path = PACKAGE) -> list[Import]:
    """Every import of a qapdsl module by a qapdsl module (`from a import b` imports `a.b` when that is a module)."""
    files = sorted(root.rglob("*.py"))
    modules = {module_name(p, root) for p in files}
    found: list[Import] = []
    for path in files:
        name = module_name(path, root)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
            found += [Import(name, node.lineno, t) for t in targets if t == "qapdsl" or t.startswith("qapdsl.")]
    return found


def upward(found: list[Import]) -> list[Import]:
    rank = {u: i for i, u in enumerate(ORDER)}
    return [i for i in found if unit(i.module) != unit(i.target) and rank[unit(i.target)] > rank[unit(i.module)]]


def test_every_unit_has_a_place_in_the_order() -> None:
    units = {unit(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert len(ORDER) == len(set(ORDER)), "a unit is listed twice"
    assert sorted(units - set(ORDER)) == [], "new units: give them a place in ORDER"
    assert sorted(set(ORDER) - units) == [], "units that no longer exist: remove them from ORDER"
    assert {u for u in units if (PACKAGE / u).is_dir()} == PACKAGES


def test_every_import_runs_down() -> None:
    found = imports()
    assert len(found) > 300  # the walk sees the package's imports (function-local ones too)
    bad = upward(found)
    assert not bad, "imports that run up the order (tests/test_layering.py ORDER):\n" + "\n".join(map(str, bad))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    from qapdsl.cli import main\n", ["qapdsl.checks.spec:2 imports qapdsl.cli"]),
        ("from .. import loader\n", ["qapdsl.checks.spec:1 imports qapdsl.loader"]),
        ("import qapdsl.runner.pipeline\n", ["qapdsl.checks.spec:1 imports qapdsl.runner.pipeline"]),
        ("from qapdsl import ir, schema\n", []),
    ],
)
def test_an_upward_import_is_named(tmp_path: Path, source: str, expected: list[str]) -> None:
    fake = tmp_path / "qapdsl"
    for p in PACKAGE.rglob("*.py"):  # the real package's module names, empty, so that `from .. import loader` resolves
        (fake / p.relative_to(PACKAGE)).parent.mkdir(parents=True, exist_ok=True)
        (fake / p.relative_to(PACKAGE)).write_text("", encoding="utf-8")
    (fake / "checks" / "spec.py").write_text(source, encoding="utf-8")
    assert [str(i) for i in upward(imports(fake))] == expected
