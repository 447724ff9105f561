"""Source text and spans: the currency every later stage uses to point at a line."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """A region of a source file, 1-based lines and columns, end exclusive."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class SourceFile:
    """A spec file's text, kept so diagnostics can quote the offending line."""

    path: str
    text: str

    def line_text(self, line: int) -> str:
        """Line `line` as the parser counts lines (at \\n only: str.splitlines would also break at \\f, \\v, \\x1c, ...)."""
        lines = self.text.split("\n")
        if 1 <= line <= len(lines):
            return lines[line - 1].removesuffix("\r")
        return ""
