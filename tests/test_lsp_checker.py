"""The language server's background checks (qapdsl.lsp.checker): debounce, newest text first, stale checks interrupted."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from qapdsl.lsp.analysis import Document, analyse
from qapdsl.lsp.checker import Checker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from check_startup import layered_spec


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Let the event loop run until the condition holds (or the time is up)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def blocking(release: threading.Event, slow: str) -> Callable[[str, int, str], str]:
    """An analysis that, for the text `slow`, blocks in C (where no interruption lands) until `release` is set."""

    def analyse(uri: str, version: int, text: str) -> str:
        if text == slow:
            release.wait(10)
        return text

    return analyse


class Recorder:
    """An analysis that records what it was asked, optionally busy in Python for a while."""

    def __init__(self, busy: Callable[[str], float] = lambda text: 0.0) -> None:
        self.busy = busy
        self.started: list[str] = []
        self.finished: list[str] = []
        self.interrupted: list[tuple[str, float]] = []
        self.published: list[tuple[int, str]] = []

    def analyse(self, uri: str, version: int, text: str) -> tuple[int, str]:
        self.started.append(text)
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < self.busy(text):
                sum(range(1000))  # pure Python: an interruption lands here
        except BaseException:
            self.interrupted.append((text, time.monotonic() - t0))
            raise
        self.finished.append(text)
        return version, text

    def publish(self, uri: str, result: tuple[int, str]) -> None:
        self.published.append(result)


def test_quick_edits_are_debounced_into_one_check() -> None:
    rec = Recorder()

    async def main() -> None:
        checker: Checker[tuple[int, str]] = Checker(rec.analyse, rec.publish, min_delay=0.3)
        checker.update("u", 1, "v1")  # a new document: checked at once
        await until(lambda: bool(rec.published))
        for v in range(2, 7):
            checker.update("u", v, f"v{v}")
            await asyncio.sleep(0.01)
        await until(lambda: len(rec.published) == 2)
        await asyncio.sleep(0.4)  # and nothing after it

    asyncio.run(main())
    assert rec.started == ["v1", "v6"]
    assert rec.published == [(1, "v1"), (6, "v6")]


def test_an_edit_interrupts_the_stale_check_and_only_the_newest_is_published() -> None:
    rec = Recorder(busy=lambda text: 5.0 if text == "slow" else 0.0)

    async def main() -> None:
        checker: Checker[tuple[int, str]] = Checker(rec.analyse, rec.publish, min_delay=0.0)
        checker.update("u", 1, "slow")
        await asyncio.sleep(0.2)  # the slow check is running
        checker.update("u", 2, "fast")
        await until(lambda: bool(rec.published))
        assert checker.checks_cancelled == 1

    t0 = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - t0 < 2.0, "the stale check ran to its end"
    assert [t for t, _ in rec.interrupted] == ["slow"]
    assert rec.interrupted[0][1] < 1.0
    assert rec.published == [(2, "fast")]


def test_results_are_never_older_than_what_was_published() -> None:
    durations = {f"v{i}": d for i, d in enumerate([0.0, 0.3, 0.05, 0.2, 0.0, 0.1, 0.0, 0.25, 0.02, 0.0])}
    rec = Recorder(busy=lambda text: durations[text])

    async def main() -> None:
        checker: Checker[tuple[int, str]] = Checker(rec.analyse, rec.publish, min_delay=0.0, max_delay=0.02)
        for i in range(10):
            checker.update("u", i, f"v{i}")
            await asyncio.sleep(0.07)
        await asyncio.sleep(0.5)

    asyncio.run(main())
    versions = [v for v, _ in rec.published]
    assert versions == sorted(versions) and versions[-1] == 9


def test_current_checks_at_once_and_waits_for_the_newest_text() -> None:
    rec = Recorder()

    async def main() -> None:
        checker: Checker[tuple[int, str]] = Checker(rec.analyse, rec.publish, min_delay=10.0, max_delay=10.0)
        checker.update("u", 1, "a")
        assert await checker.current("u", timeout=2.0) == (1, "a")
        checker.update("u", 2, "b")  # would wait 10 s for its check
        assert checker.latest("u") == (1, "a")
        t0 = time.monotonic()
        assert await checker.current("u", timeout=2.0) == (2, "b")
        assert time.monotonic() - t0 < 1.0
        assert await checker.current("other", timeout=0.1) is None

    asyncio.run(main())


def test_documents_are_checked_one_after_the_other_and_close_drops_one() -> None:
    rec = Recorder(busy=lambda text: 0.1)
    active: list[int] = []
    peak: list[int] = []

    def analyse(uri: str, version: int, text: str) -> tuple[int, str]:
        active.append(1)
        peak.append(len(active))
        try:
            return rec.analyse(uri, version, text)
        finally:
            active.pop()

    async def main() -> None:
        checker: Checker[tuple[int, str]] = Checker(analyse, rec.publish, min_delay=0.0)
        for name in ("a", "b", "c"):
            checker.update(name, 1, name)
        checker.close("c")
        await asyncio.sleep(0.6)
        assert checker.uris() == ["a", "b"]

    asyncio.run(main())
    assert max(peak) == 1
    assert sorted(t for _, t in rec.published) == ["a", "b"]


def test_a_check_that_cannot_be_interrupted_is_left_behind() -> None:
    release = threading.Event()
    published: list[str] = []

    async def main() -> None:
        checker: Checker[str] = Checker(blocking(release, "stuck"), lambda uri, r: published.append(r), min_delay=0.0, abandon_after=0.2)
        checker.update("u", 1, "stuck")
        await asyncio.sleep(0.05)
        checker.update("u", 2, "next")  # the stuck check is stale now: left behind, its result dropped
        await until(lambda: bool(published))
        release.set()
        await asyncio.sleep(0.1)

    asyncio.run(main())
    assert published == ["next"]


def test_interrupting_a_real_load_of_a_big_spec() -> None:
    """The loader turns the garbage collector off while it loads; an interrupted load must not leave it off."""
    big = layered_spec(2000)
    small = "model m { input 64; dense out 10 softmax }\ntrain { data sklearn digits }\n"
    published: list[Document] = []
    assert gc.isenabled()

    async def main() -> float:
        checker: Checker[Document] = Checker(lambda uri, v, text: analyse(text, None, v), lambda uri, d: published.append(d), min_delay=0.0)
        checker.update("u", 1, big)
        await asyncio.sleep(0.15)  # well inside the load
        t0 = time.monotonic()
        checker.update("u", 2, small)
        doc = await checker.current("u", timeout=10.0)
        assert doc is not None and doc.version == 2
        return time.monotonic() - t0

    took = asyncio.run(main())
    t0 = time.monotonic()
    full = analyse(big, None)
    full_load = time.monotonic() - t0
    assert full.loaded.ok
    assert [d.version for d in published] == [2]
    assert published[0].loaded.ok
    assert took < full_load, f"the small spec waited {took:.2f} s, longer than a whole load of the big one ({full_load:.2f} s)"
    assert gc.isenabled()


@pytest.mark.parametrize("text", ["\ud800 model", "model m { input 4 }\n\udcff"])
def test_lone_surrogates_are_invalid_utf8_not_a_crash(text: str) -> None:
    doc = analyse(text, None)
    assert [d.code for d in doc.loaded.diagnostics] == ["E004"]


def test_a_long_check_does_not_hold_up_other_documents() -> None:
    release = threading.Event()
    published: list[str] = []

    async def main() -> None:
        checker: Checker[str] = Checker(blocking(release, "long"), lambda uri, r: published.append(r), min_delay=0.0, detach_after=0.2)
        checker.update("big", 1, "long")
        await asyncio.sleep(0.05)
        checker.update("small", 1, "short")
        await until(lambda: bool(published))
        assert published == ["short"]
        release.set()  # the long check ends: its result is still the newest of its document, so it is published
        await until(lambda: len(published) == 2)

    asyncio.run(main())
    assert published == ["short", "long"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_importing_a_named_pipe_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.qap")
    doc = analyse('import "pipe.qap"\nmodel m { input 4; dense out 2 softmax }\n', tmp_path / "main.qap")
    assert [(d.code, d.message) for d in doc.loaded.diagnostics] == [("E005", "cannot read imported file 'pipe.qap': not a regular file")]
