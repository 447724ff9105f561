"""The progress display of a study: the whole study at a glance, and what each worker is doing.

On a terminal, a block of lines redrawn in place: a header with the study's
counts (from the storage, so other machines' work shows too), the current Pareto
front, and one line per local worker (its point, seed, step, round and epoch).
Elsewhere (a log, CI), one line per event that matters: a point started, finished,
failed, was requeued, the front changed. `qapc sweep --json`: `JsonEvents`, one
JSON object per line instead.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from qapdsl.sweep.study import Status


def _fmt_secs(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def describe(ev: dict[str, Any]) -> str:
    """What a worker is doing, from a runner progress event (`stage`, `round`, `epoch`, ...)."""
    parts: list[str] = []
    stage = ev.get("stage")
    if stage:
        parts.append(str(stage))
    if ev.get("round") is not None and ev.get("rounds"):
        parts.append(f"round {ev['round']}/{ev['rounds']}")
    if ev.get("runs", 1) > 1:
        parts.insert(0, f"seed {ev.get('seed')} ({ev.get('run')}/{ev.get('runs')})")
    if ev.get("epoch") is not None and ev.get("epochs"):
        parts.append(f"epoch {ev['epoch']}/{ev['epochs']}")
    for key in ("accuracy", "val_accuracy"):
        if isinstance(ev.get(key), float):
            parts.append(f"{key} {ev[key]:.3f}")
            break
    return " ".join(parts)


FRONT_LINES = 6  # front points shown


def front_text(p: dict[str, Any]) -> str:
    """A point of the front in a line: its settings and the objectives' means (± standard deviation)."""
    figures = []
    for name, value in p.get("objectives", {}).items():
        std = p.get("std", {}).get(name)
        text = f"{value:,.0f}" if name in ("bops", "memory", "params") else f"{value:.4f}"
        if std is not None:
            text += f" ± {std:,.0f}" if name in ("bops", "memory", "params") else f" ± {std:.4f}"
        figures.append(f"{name} {text}")
    return f"{p.get('label')}: " + ", ".join(figures)


class JsonEvents:
    """`--json`: every event, and the study's status whenever it changes, as one JSON object per line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.t0 = time.monotonic()
        self.status: Status | None = None
        self._last: dict[str, Any] | None = None

    def _write(self, obj: dict[str, Any]) -> None:
        self.stream.write(json.dumps({"time": round(time.monotonic() - self.t0, 3), **obj}, sort_keys=True, default=str) + "\n")
        self.stream.flush()

    def event(self, ev: dict[str, Any]) -> None:
        self._write(ev)

    def set_status(self, status: Status) -> None:
        self.status = status
        now = status.to_dict()
        if now != self._last:
            self._last = now
            self._write({"event": "status", **now})

    def close(self) -> None:
        if self.status is not None:
            self._write({"event": "status", "final": True, **self.status.to_dict()})


class Display:
    def __init__(self, title: str, workers: int, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)()) if live is None else live
        self.title = title
        self.lines: dict[int, str] = {i: "idle" for i in range(workers)}
        self.status: Status | None = None
        self.t0 = time.monotonic()
        self._drawn = 0
        self._last = 0.0

    def header(self) -> str:
        st = self.status
        counts = st.line() if st else "starting"
        return f"{self.title}: {counts} [{_fmt_secs(time.monotonic() - self.t0)}]"

    def set_status(self, status: Status) -> None:
        before = self.status.front if self.status is not None else None
        self.status = status
        if not self.live and status.front and [p.get("point") for p in status.front] != [p.get("point") for p in before or []]:
            self._log(f"front  {len(status.front)} point{'s' if len(status.front) != 1 else ''}: " + "; ".join(front_text(p) for p in status.front[:FRONT_LINES]))
        self._redraw()

    def event(self, ev: dict[str, Any]) -> None:
        kind = ev.get("event")
        w = int(ev.get("worker", 0))
        label = ev.get("label", "")
        if kind == "start":
            self.lines[w] = f"{label}: starting"
            self._log(f"start  {label} (trial {ev.get('trial')})")
        elif kind == "progress":
            what = describe(ev)
            if what:
                self.lines[w] = f"{label}: {what}"
        elif kind == "done":
            s = ev.get("summary") or {}
            acc, bops = s.get("accuracy"), s.get("bops")
            figures = ", ".join(
                x for x in (f"accuracy {acc:.4f}" if isinstance(acc, float) else "", f"BOPs {bops:,.0f}" if isinstance(bops, float) else "") if x
            )
            self.lines[w] = "idle"
            self._log(f"done   {label}" + (f": {figures}" if figures else ""))
        elif kind == "failed":
            self.lines[w] = "idle"
            self._log(f"FAILED {label}: {ev.get('error')}")
        elif kind == "over":
            self._log(f"over   {label}: {ev.get('error')}")
        elif kind == "same":
            self._log(f"same   {label}: trial {ev.get('trial')} proposed the point of trial {ev.get('of')} again; not run, not counted")
        elif kind == "ended":
            self._log(f"ended  the search stops: {ev.get('reason')}")
        elif kind == "run" and ev.get("runs", 1) > 1:
            s = ev.get("summary") or {}
            acc = s.get("accuracy")
            self._log(f"run    {label} seed {ev.get('seed')} ({ev.get('run')}/{ev.get('runs')})" + (f": accuracy {acc:.4f}" if isinstance(acc, float) else ""))
        elif kind == "discarded":
            self._log(f"skip   {label}: trial {ev.get('trial')} duplicates trial {ev.get('of')}; not counted")
        elif kind == "lost":
            self._log(f"lost   {label}: trial {ev.get('trial')} was failed as stale meanwhile; its retry counts")
        elif kind == "malformed":
            self._log(f"warning {ev.get('message')}")
        elif kind == "requeued":
            self._log(f"requeued {ev.get('count')} trial(s) left running by a stopped run")
        elif kind == "worker_error":
            self._log(f"worker {w} crashed: {ev.get('error')}")
        elif kind in ("worker_done", "worker_stopped"):
            self.lines[w] = "finished" if kind == "worker_done" else "stopped"
        self._redraw()

    def _log(self, text: str) -> None:
        line = f"[{_fmt_secs(time.monotonic() - self.t0)}] {text}"
        if self.live:
            self._clear()
            self.stream.write(line + "\n")
            self._drawn = 0
        else:
            st = f" ({self.status.line()})" if self.status else ""
            self.stream.write(line + st + "\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _redraw(self, force: bool = False) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        self._clear()
        front = self.status.front if self.status is not None and self.status.front else []
        rows = [self.header()] + [f"  ★ {front_text(p)}" for p in front[:FRONT_LINES]]
        rows += [f"  [{i + 1}] {text}" for i, text in sorted(self.lines.items())]
        self.stream.write("\n".join(r[:200] for r in rows) + "\n")
        self._drawn = len(rows)
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self._redraw(force=True)
        else:
            self.stream.write(self.header() + "\n")
            self.stream.flush()
