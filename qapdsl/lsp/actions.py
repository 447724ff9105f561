"""Code actions: apply the "did you mean" of a diagnostic.

The hint of a diagnostic names the suggestion (`did you mean 'batchnorm'?`,
written by qapdsl.diagnostics.did_you_mean); its message quotes the word that
is wrong. The fix replaces that word, where it stands inside the diagnostic's
range, with each suggestion.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from qapdsl.lsp.analysis import Document, FileDiagnostic, Range, diagnostics, from_pos, to_pos
from qapdsl.lsp.cursor import split_lines

_DID_YOU_MEAN = re.compile(r"did you mean ((?:'[^'\n]+'(?:, | or )?)+)\?")
_QUOTED = re.compile(r"'([^'\n]+)'")


def suggestions(hint: str | None) -> list[str]:
    """The words a "did you mean" hint suggests, in its order."""
    m = _DID_YOU_MEAN.search(hint or "")
    return _QUOTED.findall(m.group(1)) if m else []


@dataclass(frozen=True)
class Fix:
    title: str
    range: Range
    new_text: str
    diagnostic: FileDiagnostic
    preferred: bool


def _overlaps(a: Range, b: Range) -> bool:
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (b.start.line, b.start.character) <= (a.end.line, a.end.character)


def fixes_for(lines: list[str], fd: FileDiagnostic) -> list[Fix]:
    """The replacements a diagnostic's hint suggests, each on the quoted word it corrects."""
    words = suggestions(fd.hint)
    if not words or fd.range.start.line != fd.range.end.line or fd.range.start.line >= len(lines):
        return []
    row = lines[fd.range.start.line]
    line, start = from_pos(lines, fd.range.start)
    _, end = from_pos(lines, fd.range.end)
    text = row[start - 1 : end - 1]
    wrong = [q for q in _QUOTED.findall(fd.message.split("\nhint:")[0]) if re.search(rf"(?<!\w){re.escape(q)}(?!\w)", text)]
    out: list[Fix] = []
    for word in words:
        if not wrong:
            break
        q = max(wrong, key=lambda w: difflib.SequenceMatcher(None, w, word).ratio())
        m = re.search(rf"(?<!\w){re.escape(q)}(?!\w)", text)
        assert m is not None
        rng = Range(to_pos(lines, line, start + m.start()), to_pos(lines, line, start + m.end()))
        out.append(Fix(f"Change '{q}' to '{word}'", rng, word, fd, preferred=len(words) == 1))
    return out


def quick_fixes(doc: Document, rng: Range) -> list[Fix]:
    """Fixes for the document's own diagnostics that overlap the range."""
    lines = split_lines(doc.text)
    return [fix for fd in diagnostics(doc)[doc.path] if _overlaps(fd.range, rng) for fix in fixes_for(lines, fd)]
