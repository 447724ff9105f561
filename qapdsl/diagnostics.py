"""Diagnostics like a modern compiler: code, location, quoted line, caret, hint.

Every stage reports problems as `Diagnostic` values instead of raising, so one
run of `qapc check` shows all of them. A stage that cannot go on raises
`SpecError` carrying what it has collected.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from qapdsl.source import SourceFile, Span

# The catalogue of diagnostic codes. docs/language.md lists them; a test keeps
# both in step.
CODES: dict[str, str] = {
    "E001": "unexpected character",
    "E002": "unexpected token",
    "E003": "unexpected end of file",
    "E004": "file is not valid UTF-8",
    "E005": "cannot read imported file",
    "E006": "import cycle",
    "E007": "nesting too deep",
    "E008": "spec too large",
    "E101": "no model in the spec",
    "E102": "section given twice",
    "E103": "unknown base model",
    "E104": "key given twice",
    "E201": "unknown key",
    "E202": "missing value",
    "E203": "wrong kind of value",
    "E204": "unknown choice",
    "E205": "value out of range",
    "E206": "unexpected extra value",
    "E207": "invalid name",
    "E208": "unknown layer kind",
    "E209": "unknown unit",
    "E301": "duplicate layer name",
    "E302": "shape mismatch",
    "E303": "kernel or pool larger than its input",
    "E304": "output width differs from the number of classes",
    "E305": "model has no layers",
    "E306": "reuse factor not accepted by hls4ml",
    "E307": "layer has no weights to set",
    "E308": "unknown layer name",
    "E309": "layer name clashes with a generated or reserved name",
    "E310": "name refused by a downstream tool",
    "E311": "output does not fit the loss",
    "E401": "bit width out of range",
    "E402": "integer bits exceed total bits",
    "E403": "quantizer not usable here",
    "E404": "unsigned type for values that can be negative",
    "E405": "a type wider than ap_fixed can hold",
    "E406": "the training dialect cannot express this",
    "E407": "the RTL step cannot build this",
    "W404": "unsigned inputs clip negative values",
    "W405": "the firmware approximates part of the model",
    "W407": "input values beyond the input type",
    "E501": "selector matches no layer",
    "E502": "no layer left to prune",
    "E503": "global scope with a tfmot schedule",
    "E504": "bias pruning needs the iterative schedule",
    "W501": "pruning that removes nothing",
    "W502": "pruning outside the training steps",
    "E601": "unsupported data file type",
    "E602": "split fractions out of range",
    "E603": "input does not match the data",
    "E604": "label column or array not in the data file",
    "W601": "data file not found",
    "E801": "sweep or search path does not exist",
    "E802": "value not valid for this path",
    "E803": "empty axis",
    "W804": "sweep or search axis changes nothing",
    "E804": "objective not usable",
    "E805": "sweep grid too large",
    "E806": "sampler cannot do this",
    "W806": "values inside a search range cannot build",
    "E807": "baseline spec not usable",
    "E808": "repeat with a train.seed axis",
    "E809": "reference point for a figure not on the front",
    "W810": "NSGA-II population as large as the trials (warning)",
    "E810": "a budget no point of the search meets",
    "W811": "search space smaller than its trials (warning)",
}


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a spec, with where it is and how to fix it."""

    code: str
    message: str
    span: Span | None
    hint: str | None = None
    severity: str = "error"

    def to_dict(self) -> dict[str, object]:
        span = self.span
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "file": span.file if span else None,
            "line": span.line if span else None,
            "column": span.column if span else None,
            "end_line": span.end_line if span else None,
            "end_column": span.end_column if span else None,
        }


@dataclass
class SpecError(Exception):
    """Raised by a stage that cannot continue; carries everything found so far."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{d.span}: {d.code}: {d.message}" for d in self.diagnostics)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' hint from the names really in scope, or None."""
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(word, pool, n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    if not close:
        return None
    if len(close) == 1:
        return f"did you mean '{close[0]}'?"
    return "did you mean " + ", ".join(f"'{c}'" for c in close[:-1]) + f" or '{close[-1]}'?"


def choices_hint(word: str, choices: Iterable[str]) -> str:
    """'did you mean' when something is close, else the full list of choices."""
    pool = sorted(set(choices))
    guess = did_you_mean(word, pool)
    listing = "expected one of: " + ", ".join(pool)
    return f"{guess} ({listing})" if guess else listing


def _shown(text: str, keep_columns: bool = False) -> str:
    """Text a terminal shows as written: control characters (escape sequences, bells) are never passed on.
    In a quoted source line each becomes one U+FFFD, so the caret below keeps its column."""
    out = []
    for ch in text:
        if ch == "\t" or ch.isprintable():
            out.append(ch)
        else:
            out.append("\ufffd" if keep_columns else repr(ch)[1:-1])
    return "".join(out)


def render(diags: Iterable[Diagnostic], sources: dict[str, SourceFile], color: bool = False) -> str:
    """Render diagnostics as `file:line:col: error[E...]: message` plus the quoted line."""
    out: list[str] = []
    red, bold, blue, reset = ("\x1b[31m", "\x1b[1m", "\x1b[34m", "\x1b[0m") if color else ("", "", "", "")
    for d in diags:
        span = d.span
        where = f"{_shown(span.file)}:{span.line}:{span.column}: " if span else ""
        out.append(f"{bold}{where}{red}{d.severity}[{d.code}]{reset}{bold}: {_shown(d.message)}{reset}")
        if span is not None and span.file in sources:
            text = _shown(sources[span.file].line_text(span.line).expandtabs(1), keep_columns=True)
            gutter = str(span.line)
            pad = " " * len(gutter)
            out.append(f"{blue}{gutter} |{reset} {text}")
            start = max(span.column - 1, 0)
            if span.end_line == span.line:
                width = max(span.end_column - span.column, 1)
            else:
                width = max(len(text) - start, 1)
            out.append(f"{blue}{pad} |{reset} " + " " * start + f"{red}" + "^" * width + f"{reset}")
        if d.hint:
            out.append(f"{blue}  = hint:{reset} {_shown(d.hint)}")
    return "\n".join(out)
