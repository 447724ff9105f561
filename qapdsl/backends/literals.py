"""Spec values as Python literals and comments: the only way spec text reaches generated code.

Names are checked identifiers, but every string still goes out through
`repr()`; comments quoting the spec have every character that could end the
comment line (or is otherwise unprintable) escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from qapdsl.source import SourceFile, Span


def py(value: object) -> str:
    """A Python literal for plain data: None, bool, int, float, str, tuples, lists and str-keyed dicts."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot emit {value!r}")
        return repr(float(value))
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, tuple):
        items = [py(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(py(v) for v in value) + "]"
    if isinstance(value, Mapping):
        parts = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"dict keys must be strings, not {type(k).__name__}")
            parts.append(f"{py(k)}: {py(v)}")
        return "{" + ", ".join(parts) + "}"
    raise TypeError(f"cannot emit a {type(value).__name__} as a literal")


def comment_text(text: str) -> str:
    """Text safe inside a `#` comment: unprintable characters (line breaks included) escaped."""
    out = []
    for ch in text:
        if ch == "\t":
            out.append(" ")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


class SpecLines:
    """Quotes spec lines in comments: `# specs/jet.qap:6  dense fc1 64 relu { batchnorm; l1 1e-4 }`."""

    def __init__(self, sources: Mapping[str, SourceFile | str] | None = None) -> None:
        self._sources: dict[str, list[str]] = {}
        for path, src in (sources or {}).items():
            text = src.text if isinstance(src, SourceFile) else src
            # lines as the parser counts them (\n only): str.splitlines would also split at \v, \f, \u2028, ...
            self._sources[path] = [line.removesuffix("\r") for line in text.split("\n")]

    def line(self, span: Span | None) -> str | None:
        if span is None:
            return None
        lines = self._sources.get(span.file)
        text = lines[span.line - 1].strip() if lines is not None and 1 <= span.line <= len(lines) else ""
        where = f"{span.file}:{span.line}"
        return comment_text(f"{where}  {text}" if text else where)

    def block(self, span: Span | None, indent: str = "") -> str:
        """Every non-blank line of a section, each quoted with its location."""
        if span is None:
            return ""
        lines = self._sources.get(span.file)
        if lines is None:
            return self.comment(span, indent)
        out = []
        for number in range(span.line, min(span.end_line, len(lines)) + 1):
            text = lines[number - 1].strip()
            if text:
                out.append(f"{indent}# " + comment_text(f"{span.file}:{number}  {text}"))
        return "\n".join(out)

    def comment(self, span: Span | None, indent: str = "") -> str:
        text = self.line(span)
        return f"{indent}# {text}" if text else ""

    def comments(self, spans: Sequence[Span | None], indent: str = "") -> str:
        seen: list[str] = []
        for span in spans:
            text = self.line(span)
            if text and text not in seen:
                seen.append(text)
        return "\n".join(f"{indent}# {t}" for t in seen)
