"""Versions against the pins of `qapdsl.dialects` (`==2.14.1`, `>=1.3,<1.6`), with the standard library.

qapc itself depends on no `packaging`; the pins are ours and simple: the operators `==` (with a
trailing `.*`), `!=`, `>=`, `<=`, `>`, `<` and `~=` on release numbers. A pre-release sorts before its
release, a post-release after it, a local label (`+cpu`) is ignored. A test checks that every pin of
every dialect parses.
"""

from __future__ import annotations

import re

_VERSION = re.compile(r"v?(?P<release>\d+(?:\.\d+)*)(?P<pre>[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?\d*)?(?P<post>[-_.]?post[-_.]?\d*)?(?P<dev>[-_.]?dev\d*)?(?:\+.*)?", re.I)
_CLAUSE = re.compile(r"\s*(?P<op>==|!=|>=|<=|~=|>|<)\s*(?P<version>[^\s,]+)\s*")
_REQUIREMENT = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(?P<spec>.*)")


def distribution(requirement: str) -> tuple[str, str]:
    """`jax[cpu]` → ("jax", ""); the name is what `importlib.metadata.version` looks up."""
    m = _REQUIREMENT.fullmatch(requirement.strip())
    if m is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return m.group("name"), m.group("spec").strip()


def _key(version: str) -> tuple[tuple[int, ...], int, int]:
    m = _VERSION.fullmatch(version.strip())
    if m is None:
        raise ValueError(f"not a version: {version!r}")
    release = tuple(int(p) for p in m.group("release").split("."))
    release = release + (0,) * (6 - len(release))
    stage = 0 if (m.group("pre") or m.group("dev")) else (2 if m.group("post") else 1)
    post = int(re.sub(r"\D", "", m.group("post") or "") or 0)
    return release, stage, post


def _clauses(spec: str) -> list[tuple[str, str]]:
    out = []
    for part in spec.split(","):
        if not part.strip():
            continue
        m = _CLAUSE.fullmatch(part)
        if m is None:
            raise ValueError(f"not a version specifier: {spec!r}")
        out.append((m.group("op"), m.group("version")))
    return out


def check_spec(spec: str) -> None:
    """Raise ValueError unless every clause of `spec` parses (the tests call it on every pin)."""
    for op, version in _clauses(spec):
        _key(version.removesuffix(".*") if op in ("==", "!=") else version)


def satisfies(version: str, spec: str) -> bool:
    """Does `version` meet every clause of `spec`? An empty spec accepts any version."""
    have = _key(version)
    for op, want in _clauses(spec):
        if op in ("==", "!=") and want.endswith(".*"):
            prefix = tuple(int(p) for p in want[:-2].split("."))
            same = have[0][: len(prefix)] == prefix
            if same != (op == "=="):
                return False
            continue
        w = _key(want)
        ok = {
            "==": have[:2] == w[:2] and have[2] == w[2],
            "!=": not (have[:2] == w[:2] and have[2] == w[2]),
            ">=": have >= w,
            "<=": have <= w,
            ">": have > w,
            "<": have < w,
            "~=": have >= w and have[0][: max(len(want.split(".")) - 1, 1)] == w[0][: max(len(want.split(".")) - 1, 1)],
        }[op]
        if not ok:
            return False
    return True


def shown(spec: str) -> str:
    """`>=1.3,<1.6` as a person reads it: `>=1.3, <1.6`."""
    return ", ".join(f"{op}{v}" for op, v in _clauses(spec))
