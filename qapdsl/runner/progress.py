"""The terminal display of `qapc run`: one line per step, updated in place on a terminal.

It consumes the events of `run_spec`: the runner's step events and the
scripts' `@qapc` lines (step, round, epoch, loss, accuracy, sparsity, ...).
On a terminal the current step's line is rewritten as events arrive; in a log
(not a TTY) a line is printed per phase and per pruning round, so CI logs stay short.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from typing import Any, TextIO

from qapdsl.runner.pipeline import STEPS


def _fmt_num(key: str, v: Any) -> str | None:
    if not isinstance(v, int | float) or isinstance(v, bool):
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return f"{key} {v}"
    if key in ("accuracy", "val_accuracy", "sparsity", "agreement", "hls_accuracy"):
        return f"{key.replace('_', ' ')} {100 * v:.1f}%"
    if key in _COUNTS or isinstance(v, int):  # counts: integers with thousands separators, as the summary prints them
        return f"{_COUNTS.get(key, key.replace('_', ' '))} {round(v):,}"
    return f"{key.replace('_', ' ')} {v:.4g}"


_COUNTS = {"cost": "da4ml cost"}  # figures that are counts even when a script writes them as floats (da4ml's cost, in LUTs)
HEARTBEAT_S = 30  # in a log, a step that only reports its elapsed seconds gets a line this often (as scripts/setup.sh)


def describe(event: dict[str, Any]) -> str:
    """A script event as a short status text: `round 3/8 · epoch 12/20 · loss 0.231 · val accuracy 95.1%`."""
    parts: list[str] = []
    phase = event.get("step")
    if isinstance(phase, str) and phase != event.get("stage"):
        parts.append(phase)
    for key in ("round", "epoch"):
        if key == "round" and event.get("rounds") == 0:
            continue  # no pruning rounds: training only
        if event.get(key) is not None:
            total = event.get(key + "s")
            parts.append(f"{key} {event[key]}/{total}" if total is not None else f"{key} {event[key]}")
    for key in ("loss", "val_loss", "accuracy", "val_accuracy", "sparsity", "agreement", "hls_accuracy"):
        text = _fmt_num(key, event.get(key))
        if text:
            parts.append(text)
    if isinstance(event.get("message"), str):
        parts.append(event["message"])
    elapsed = event.get("elapsed_s")  # a long step's heartbeat (rtl.py's Verilator compile and Yosys synthesis)
    if isinstance(elapsed, int | float) and not isinstance(elapsed, bool) and math.isfinite(elapsed):
        parts.append(f"{round(elapsed)} s")
    return " · ".join(parts)


class Display:
    """Callable progress sink for `run_spec`."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self._open = False  # a status line is on screen without its newline
        self._last_key: tuple[Any, ...] | None = None
        self._started = time.monotonic()
        self._order: dict[str, tuple[int, int]] = {}  # stage → (index, total), from the runner's start events

    def _prefix(self, stage: str) -> str:
        if stage in self._order:
            i, n = self._order[stage]
        else:
            i, n = (STEPS.index(stage) + 1 if stage in STEPS else 0), len(STEPS)
        return f"[{i}/{n}] {stage:<8}"

    def _write_line(self, text: str) -> None:
        if self._open:
            self.stream.write("\r\033[K")
            self._open = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def _status(self, text: str) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r\033[K" + text[:width])
        self.stream.flush()
        self._open = True

    def __call__(self, event: dict[str, Any]) -> None:
        stage = str(event.get("stage", ""))
        if event.get("event") == "step":
            status = event.get("status")
            if status == "start":
                self._last_key = None
                if isinstance(event.get("index"), int) and isinstance(event.get("total"), int):
                    self._order[stage] = (event["index"], event["total"])
                if self.tty:
                    self._status(f"{self._prefix(stage)} …")
                return
            elapsed = f"{event.get('elapsed_s', 0.0):.1f} s"
            if status == "done":
                extra = " · ".join(t for t in (_fmt_num(k, event.get(k)) for k in ("accuracy", "sparsity", "agreement", "hls_accuracy", "cost")) if t)
                self._write_line(f"{self._prefix(stage)} done in {elapsed}" + (f" ({extra})" if extra else ""))
            elif status == "failed":
                self._write_line(f"{self._prefix(stage)} FAILED after {elapsed}: {event.get('cause', '')}")
            return
        if event.get("event") == "warning":
            self._write_line(f"{self._prefix(stage)} warning: {event.get('message', '')}")
            return
        if event.get("step") == "done":
            return  # the script's own summary: the step's "done" line says it
        text = describe(event)
        if not text:
            return
        if self.tty:
            self._status(f"{self._prefix(stage)} {text}")
            return
        # in a log: one line when the phase or the pruning round changes, at each round's last epoch,
        # and every HEARTBEAT_S seconds of a step that reports only its elapsed time
        seconds = event.get("elapsed_s")
        beat = int(seconds // HEARTBEAT_S) if isinstance(seconds, int | float) and not isinstance(seconds, bool) and math.isfinite(seconds) else 0
        key = (event.get("step"), event.get("round"), beat)
        last_epoch = event.get("epoch") is not None and event.get("epoch") == event.get("epochs")
        if key != self._last_key or last_epoch or event.get("message"):
            self._last_key = key
            self._write_line(f"{self._prefix(stage)} {text}")

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
