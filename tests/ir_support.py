"""Helpers of the language tests: comparing IRs regardless of where things were written."""

from __future__ import annotations

from typing import Any


def strip_spans(obj: Any) -> Any:
    """IR as plain data without spans and file digests (formatting and imports move them)."""
    if isinstance(obj, dict):
        return {k: strip_spans(v) for k, v in obj.items() if k not in ("span", "spans", "input_span", "name_span", "value_spans", "sources")}
    if isinstance(obj, list):
        return [strip_spans(v) for v in obj]
    return obj
