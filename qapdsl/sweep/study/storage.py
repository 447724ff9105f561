"""Where a study lives: the default SQLite file in the study's folder (claimed, locked, refused when it is not an
Optuna study's), any Optuna storage URL, the queue's lock, opening the study."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qapdsl.outdir import OutputDirError, ledger

if TYPE_CHECKING:
    import optuna
from qapdsl.sweep.study.job import ERROR_FILE, OPTUNA_TABLES, POINT_FILE, STUDY_DB, STUDY_KIND, STUDY_OPTIONS, Job
from qapdsl.sweep.study.samplers import make_sampler, study_directions


def default_storage(out_dir: Path) -> str:
    return f"sqlite:///{(out_dir / STUDY_DB).resolve()}"


def claim_points(out_dir: Path, force: bool = False) -> list[Path]:
    """Before a study runs: every file its points' folders hold at a name the study writes must be
    qapc's (what killed tries of its own left is taken as its own); a user's stops the study at
    once (qapdsl.outdir.ForeignFiles), or is kept aside with `force`."""
    from qapdsl.outdir import RUN_OUTPUTS

    points = out_dir / "points"
    if points.is_symlink() or (points.exists() and not points.is_dir()):
        raise OutputDirError(f"{points} is a link or a file; the study keeps its points' runs there: move it away")
    if not points.is_dir():
        return []
    kept: list[Path] = []
    for point in sorted(points.iterdir()):
        if point.is_symlink() or not point.is_dir():
            raise OutputDirError(f"{point} is a link or a file, not a point's folder of the study: move it away")
        runs = [point, *sorted(p for p in point.iterdir() if p.name.startswith("seed") and p.is_dir() and not p.is_symlink())]
        for folder in runs:
            ledger.adopt_orphans(folder)
            kept += ledger.claim(folder, (*RUN_OUTPUTS, POINT_FILE, ERROR_FILE), force=force, command="the study")
    return kept


def check_default_storage(out_dir: Path) -> None:
    """The study's own SQLite file in its folder: qapc's when it holds an Optuna study database (it
    changes at every trial, so no digest can say it); a user's database or a file of another kind at
    that name is refused before Optuna writes into it. Raises OutputDirError."""
    import sqlite3


    db = out_dir / STUDY_DB
    for path in (db, db.with_name(db.name + ".lock"), db.with_name(db.name + "-journal")):
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise OutputDirError(f"{path} is a link or not a plain file; qapc keeps its study there: remove it, or give --storage")
    if not db.exists():
        return
    why = None
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
        if not {"studies", "trials", "version_info"} <= tables or tables - OPTUNA_TABLES:
            why = "a database that is not an Optuna study of qapc's"
    except sqlite3.Error as e:
        why = f"not an SQLite database ({e})"
    if why:
        raise OutputDirError(f"{db} is {why}; qapc keeps its study in that file: move it away, use another folder (-o DIR), or give --storage")


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    rest = url[len("sqlite:///") :]
    return None if rest in ("", ":memory:") else Path(rest)


def make_storage(job: Job) -> optuna.storages.RDBStorage:
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if _sqlite_path(job.storage) is not None:
        engine_kwargs = {"connect_args": {"timeout": 120}}
    import sqlalchemy.exc

    for attempt in range(8):
        try:
            return optuna.storages.RDBStorage(
                job.storage,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=job.heartbeat,
                grace_period=job.grace,
                failed_trial_callback=optuna.storages.RetryFailedTrialCallback(max_retry=job.max_retry),
            )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError):
            # workers starting together on an empty database race to create Optuna's tables
            # (CREATE TYPE / CREATE TABLE collide); the loser finds them made on the next try
            if attempt == 7:
                raise
            time.sleep(0.3 + random.random() * (attempt + 1))
    raise AssertionError("unreachable")


@contextlib.contextmanager
def queue_lock(job: Job) -> Iterator[None]:
    """Serialize popping and failing trials on SQLite (it has no row locks); PostgreSQL locks rows."""
    db = _sqlite_path(job.storage)
    if db is None:
        yield
        return
    fd = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)  # never through a link
    with os.fdopen(fd, "r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def open_study(job: Job, storage: optuna.storages.RDBStorage | None = None) -> tuple[optuna.Study, bool]:
    """Create the study, or load it when it exists; True when this call created it."""
    import optuna

    spec = job.spec()
    storage = storage or make_storage(job)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = make_sampler(job, spec)
    try:
        study = optuna.create_study(storage=storage, study_name=job.study_name, directions=study_directions(job, spec), sampler=sampler)
        study.set_user_attr(STUDY_KIND, job.kind)
        study.set_user_attr(STUDY_OPTIONS, job.options)  # the tables of any machine say how it was run
        return study, True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(study_name=job.study_name, storage=storage, sampler=sampler), False


def _failed_trial_callback(study: optuna.Study) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None:
    """The storage's RetryFailedTrialCallback (the study's storage is Optuna's cache around our RDBStorage)."""
    from optuna.storages._heartbeat import BaseHeartbeat

    storage = study._storage
    return storage.get_failed_trial_callback() if isinstance(storage, BaseHeartbeat) else None
