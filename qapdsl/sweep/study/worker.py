"""A worker: popping and running trials until the queue is empty, in a process that dies with its parent."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
import traceback
import warnings
from typing import TYPE_CHECKING, Any

from qapdsl import ir

if TYPE_CHECKING:
    import optuna
from qapdsl.sweep.study.job import Emit, Job, baseline_job
from qapdsl.sweep.study.queue import _ask_new, pop_trial
from qapdsl.sweep.study.status import Status, search_status, sweep_status
from qapdsl.sweep.study.storage import make_storage, open_study
from qapdsl.sweep.study.trial import _give_back, run_trial


class _Queue:
    """One study a worker takes part in: its job, storage, study, and how to get its next trial."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.spec = job.spec()
        self.storage = make_storage(job)
        self.study, _ = open_study(job, self.storage)
        block = job.study_block(self.spec)
        self.budget = block.trials if job.kind == "search" and isinstance(block, ir.Search) else 0
        self.points = job.points(self.spec)

    def next_trial(self, emit: Emit) -> optuna.Trial | None:
        import optuna

        trial = pop_trial(self.study, self.job, self.storage)
        if trial is None and self.job.kind == "search":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                warnings.filterwarnings("ignore", message="Heartbeat")
                trial = _ask_new(self.study, self.job, self.budget, emit)
            if trial is not None:
                self.storage.record_heartbeat(trial._trial_id)
        return trial

    def status(self) -> Status:
        return search_status(self.study, self.budget) if self.job.kind == "search" else sweep_status(self.study, self.points)


def work(job: Job, emit: Emit, stop: threading.Event | None = None) -> dict[str, int]:
    """One worker: take points until none is left anywhere in the study (and its baseline's); returns counts by outcome.

    The baseline's point comes first: every comparison needs it."""
    queues = [_Queue(j) for j in (baseline_job(job), job) if j is not None]
    outcomes: dict[str, int] = {}
    while not (stop and stop.is_set()):
        found = next(((q, t) for q in queues for t in [q.next_trial(emit)] if t is not None), None)
        if found is None:
            if all(st.running == 0 and st.waiting == 0 for st in (q.status() for q in queues)):
                break  # nothing left here or anywhere; a running trial elsewhere may still need a retry
            time.sleep(job.poll)
            continue
        q, trial = found
        try:
            outcome = run_trial(q.study, trial, q.job, q.storage, emit)
        except KeyboardInterrupt:
            _give_back(q.study, trial)
            raise
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies, so a killed `qapc sweep` leaves no worker behind."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def worker_main(job_json: str, index: int, events: Any) -> None:
    """Entry point of a worker process (multiprocessing, spawn): run `work`, report over `events`."""
    _die_with_parent()
    stopping = False

    def stop(*_: object) -> None:
        # the first SIGTERM / SIGINT stops the trial (which is failed and requeued); later ones
        # (Ctrl-C reaches the whole process group, then the parent sends SIGTERM) must not cut that short
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, stop)
    job = Job(**json.loads(job_json))

    def emit(ev: dict[str, Any]) -> None:
        events.put({"worker": index, **ev})

    try:
        outcomes = work(job, emit)
        emit({"event": "worker_done", "outcomes": outcomes})
    except KeyboardInterrupt:
        emit({"event": "worker_stopped"})
    except Exception as e:
        emit({"event": "worker_error", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()})
        raise SystemExit(70) from None
