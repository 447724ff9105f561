"""Checks of open documents in the background: debounced, newest edit first, stale checks interrupted.

The language server calls `update` on every edit and never checks on the
request path. A check waits a little (longer for documents whose last check
took long, so that typing into a big spec does not start a check per
keystroke), then runs in a thread of its own while the event loop keeps
answering hover and completion. An edit that arrives while its document is
being checked interrupts that check: the loader has no cancellation points, so
the check's thread gets a `Cancelled` exception raised at its next Python
instruction (`PyThreadState_SetAsyncExc`). Only the result of a document's
newest text is ever published, so diagnostics never go back to an older
version.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger("qapc.lsp")

T = TypeVar("T")


class Cancelled(BaseException):
    """Raised inside a check that a newer edit has made stale (a BaseException: nothing in a check catches it)."""


def _raise_in(ident: int, exc: type[BaseException] | None) -> bool:
    """Raise `exc` in the thread at its next instruction (None: withdraw a pending one). CPython only."""
    if sys.implementation.name != "cpython":
        return False
    obj = ctypes.py_object(exc) if exc is not None else ctypes.c_void_p(None)
    return int(ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), obj)) == 1


class _Job(Generic[T]):
    """One check in its own thread; `cancel` interrupts it only while it is inside the check."""

    def __init__(self, uri: str, seq: int, run: Callable[[], T], done: Callable[[_Job[T]], None], loop: asyncio.AbstractEventLoop) -> None:
        self.uri, self.seq = uri, seq
        self.result: T | None = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.started = time.monotonic()
        self.duration = 0.0
        self._run, self._done, self._loop = run, done, loop
        self._lock = threading.Lock()
        self._inside = False
        self.thread = threading.Thread(target=self._main, name=f"qapc-check-{seq}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._inside and self.thread.ident is not None:
                _raise_in(self.thread.ident, Cancelled)

    def _enter(self) -> bool:
        with self._lock:
            self._inside = not self.cancelled
            return self._inside

    def _leave(self) -> None:
        while True:
            try:
                with self._lock:
                    self._inside = False
                    if self.thread.ident is not None:
                        _raise_in(self.thread.ident, None)  # an interruption that came too late is withdrawn
                return
            except Cancelled:
                continue

    def _main(self) -> None:
        try:
            try:
                if self._enter():
                    self.result = self._run()
            except Cancelled:
                self.cancelled = True
            except Exception as e:  # a bug in the analysis: reported, and the server goes on
                self.error = e
            finally:
                self._leave()
        except Cancelled:
            self._leave()
            self.cancelled = True
        self.duration = time.monotonic() - self.started
        try:
            self._loop.call_soon_threadsafe(self._done, self)
        except RuntimeError:  # the loop is closed: the server is shutting down
            pass


@dataclass
class _Entry(Generic[T]):
    version: int
    text: str
    seq: int = 0  # bumped by every update and recheck
    result: T | None = None
    result_seq: int = -1
    duration: float = 0.0  # of the last finished check
    timer: asyncio.TimerHandle | None = None
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class Checker(Generic[T]):
    """Runs `analyse(uri, version, text)` for open documents in the background and hands results to `publish`."""

    def __init__(
        self,
        analyse: Callable[[str, int, str], T],
        publish: Callable[[str, T], None],
        min_delay: float = 0.03,
        max_delay: float = 0.15,
        delay_factor: float = 0.1,
        abandon_after: float = 2.0,
        detach_after: float = 10.0,
    ) -> None:
        self.analyse, self.publish = analyse, publish
        self.min_delay, self.max_delay, self.delay_factor = min_delay, max_delay, delay_factor
        self.abandon_after, self.detach_after = abandon_after, detach_after
        self._entries: dict[str, _Entry[T]] = {}
        self._ready: list[str] = []
        self._job: _Job[T] | None = None
        self._detached: set[_Job[T]] = set()  # checks that took too long: they go on beside the next ones
        self._gc = gc.isenabled()
        self.checks_started = 0
        self.checks_cancelled = 0

    # -- what the server calls ---------------------------------------------------------------------

    def update(self, uri: str, version: int, text: str, immediate: bool = False) -> None:
        """A document's new text: check it after the debounce delay (at once when `immediate`)."""
        entry = self._entries.get(uri)
        if entry is None:
            entry = self._entries[uri] = _Entry(version, text)
            immediate = True
        entry.version, entry.text = version, text
        entry.seq += 1
        for job in [self._job, *self._detached]:
            if job is not None and job.uri == uri and not job.cancelled:
                job.cancel()
                self.checks_cancelled += 1
                asyncio.get_running_loop().call_later(self.abandon_after, self._abandon, job)
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None
        if immediate:
            self._mark_ready(uri)
        else:
            delay = min(max(self.delay_factor * entry.duration, self.min_delay), self.max_delay)
            entry.timer = asyncio.get_running_loop().call_later(delay, self._mark_ready, uri)

    def recheck(self, uri: str) -> None:
        """Check the same text again (a file it imports changed)."""
        entry = self._entries.get(uri)
        if entry is not None:
            self.update(uri, entry.version, entry.text, immediate=True)

    def uris(self) -> list[str]:
        return list(self._entries)

    def latest(self, uri: str) -> T | None:
        """The newest finished analysis of the document (maybe of an older version)."""
        entry = self._entries.get(uri)
        return entry.result if entry is not None else None

    def is_current(self, uri: str) -> bool:
        entry = self._entries.get(uri)
        return entry is not None and entry.result_seq == entry.seq

    async def current(self, uri: str, timeout: float = 5.0) -> T | None:
        """The analysis of the document's newest text, checked now if it waits for its delay; None after `timeout`."""
        entry = self._entries.get(uri)
        if entry is None:
            return None
        if entry.result_seq == entry.seq:
            return entry.result
        if entry.timer is not None:
            entry.timer.cancel()
            self._mark_ready(uri)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry.waiters.append(fut)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            return None
        now = self._entries.get(uri)
        return now.result if now is not None and now.result_seq == now.seq else None

    def close(self, uri: str) -> None:
        entry = self._entries.pop(uri, None)
        if entry is None:
            return
        if entry.timer is not None:
            entry.timer.cancel()
        for job in [self._job, *self._detached]:
            if job is not None and job.uri == uri:
                job.cancel()
        self._wake(entry)

    # -- the queue --------------------------------------------------------------------------------------

    def _mark_ready(self, uri: str) -> None:
        entry = self._entries.get(uri)
        if entry is None:
            return
        entry.timer = None
        if uri not in self._ready:
            self._ready.append(uri)
        self._start_next()

    def _start_next(self) -> None:
        if self._job is not None:
            return
        while self._ready:
            uri = self._ready.pop(0)
            entry = self._entries.get(uri)
            if entry is None or entry.result_seq == entry.seq or entry.timer is not None:
                continue
            version, text = entry.version, entry.text
            job = _Job(uri, entry.seq, lambda: self.analyse(uri, version, text), self._finished, asyncio.get_running_loop())
            self._job = job
            self.checks_started += 1
            job.start()
            asyncio.get_running_loop().call_later(self.detach_after, self._detach, job)
            return

    def _finished(self, job: _Job[T]) -> None:
        if self._gc and not gc.isenabled() and (self._job is job or self._job is None):
            gc.enable()  # the loader turns the collector off while loading; an interrupted load may not have turned it back on
        if self._job is job:
            self._job = None
        elif job in self._detached:
            self._detached.discard(job)
        else:
            return  # abandoned after it was cancelled: a newer check already runs
        entry = self._entries.get(job.uri)
        if entry is not None:
            entry.duration = job.duration if not job.cancelled else max(entry.duration, job.duration)
            if job.error is not None:
                log.error("checking %s failed", job.uri, exc_info=job.error)
            if not job.cancelled and job.seq == entry.seq:
                entry.result_seq = job.seq
                if job.error is None:
                    entry.result = job.result
                    try:
                        self.publish(job.uri, job.result)  # type: ignore[arg-type]
                    except Exception:
                        log.exception("publishing the diagnostics of %s failed", job.uri)
                self._wake(entry)
            elif entry.result_seq != entry.seq and entry.timer is None and job.uri not in self._ready:
                self._ready.append(job.uri)
        self._start_next()

    def _detach(self, job: _Job[T]) -> None:
        """A check that runs for long (a huge spec): the other documents' checks need not wait for it."""
        if self._job is job and not job.cancelled:
            log.warning("checking %s takes more than %.0f s; other documents are checked meanwhile", job.uri, self.detach_after)
            self._job = None
            self._detached.add(job)
            self._start_next()

    def _abandon(self, job: _Job[T]) -> None:
        """A cancelled check that does not stop (blocked outside Python): let it run out on its own."""
        if self._job is job:
            log.warning("a stale check of %s did not stop within %.1f s; starting the next one beside it", job.uri, self.abandon_after)
            self._job = None
            entry = self._entries.get(job.uri)
            if entry is not None and entry.result_seq != entry.seq and entry.timer is None and job.uri not in self._ready:
                self._ready.append(job.uri)
            self._start_next()

    @staticmethod
    def _wake(entry: _Entry[T]) -> None:
        for fut in entry.waiters:
            if not fut.done():
                fut.set_result(None)
        entry.waiters.clear()
