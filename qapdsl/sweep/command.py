"""`qapc sweep SPEC`: run the spec's sweep (a grid) or search (Bayesian optimisation) as an Optuna study.

    qapc sweep specs/digits_sweep.qap --jobs 2            # build, train, convert every point
    qapc sweep specs/digits_sweep.qap --jobs 2            # again: continues, reruns nothing done
    qapc sweep jet_sweep.qap --storage postgresql://h/db --worker   # on each machine of a shared study
    qapc sweep jet_sweep.qap --storage postgresql://h/db --report   # tables and plots from the storage

Outputs in the build directory (default build/<model>-sweep/): points/<key>/ (one
run each), study.db (the default storage), sweep.csv, sweep.md, sweep.tex,
pareto.png, pareto.svg. Cheap to import: optuna, matplotlib and the runner load
inside `run`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import queue
import signal
import sys
import time
from pathlib import Path
from typing import Any

from qapdsl.cmdutil import EXIT_OK, EXIT_SPEC, EXIT_STEP, EXIT_USAGE


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a .qap spec with a sweep { ... } or search { ... } block")
    p.add_argument("-o", "--out", metavar="DIR", help="build directory (default build/<model>-sweep or build/<model>-search)")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="points to run at once on this machine (worker processes)")
    p.add_argument("--storage", metavar="URL", help="Optuna storage: an SQLAlchemy URL (postgresql://...) to share the study; default sqlite in DIR")
    p.add_argument("--study", metavar="NAME", help="study name (default <model>-<sweep|search>-<fingerprint of spec and options>)")
    p.add_argument("--worker", action="store_true", help="join a shared study: take untried points until none is left")
    p.add_argument("--search", action="store_true", help="run the search block when the spec has both")
    p.add_argument("--model", help="build this model instead of the last one declared")
    p.add_argument("--dialect", choices=("qkeras", "hgq2"), help="build for this training dialect instead of the spec's (train.dialect)")
    p.add_argument("--epochs", type=int, metavar="N", help="override train.epochs for every point")
    p.add_argument("--data", metavar="PATH", help="override the data file for every point")
    p.add_argument("--synth", action="store_true", help="run HLS synthesis too when the vendor tool is on PATH")
    p.add_argument("--list", action="store_true", help="print the points (sweep) or axes (search) and exit")
    p.add_argument("--report", action="store_true", help="write the tables and plots from the storage; run nothing")
    p.add_argument("--heartbeat", type=int, default=10, metavar="S", help="seconds between a running trial's heartbeats (default 10)")
    p.add_argument("--grace", type=int, default=60, metavar="S", help="a trial with no heartbeat for this long was killed: rerun it (default 60)")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_outputs(study: Any, points: Any, axes: list[str], out: Path, title: str) -> list[Path]:
    from qapdsl.sweep import plots, table
    from qapdsl.sweep import study as st

    rows = st.collect_rows(study, points)
    written = [out / "sweep.csv", out / "sweep.md", out / "sweep.tex"]
    _write(written[0], table.to_csv(rows, axes))
    _write(written[1], table.to_markdown(rows, axes, title))
    _write(written[2], table.to_latex(rows, axes, title))
    written += plots.write_pareto(rows, out, title)
    return written


def run(args: argparse.Namespace) -> int:
    from qapdsl import paths
    from qapdsl.cmdutil import load_checked
    from qapdsl.loader import UsageError
    from qapdsl.sweep import expand

    if args.jobs < 1:
        raise UsageError("--jobs takes a number of at least 1")
    if not Path(args.spec).is_file():
        raise UsageError(f"cannot read {args.spec}: no such file")
    checked = load_checked(args.spec, args.model, args.dialect)
    if checked is None:
        return EXIT_SPEC
    spec = checked[0]
    if spec.sweep is None and spec.search is None:
        raise UsageError(f"{args.spec} has no sweep {{ ... }} or search {{ ... }} block")
    kind = "search" if spec.search is not None and (args.search or spec.sweep is None) else "sweep"
    block = spec.search if kind == "search" else spec.sweep
    assert block is not None
    axes = [a.path for a in block.axes]

    points: list[expand.Point] | None = None
    if kind == "sweep":
        assert spec.sweep is not None
        try:
            points = expand.expand_sweep(spec.sweep, spec)
        except expand.ExpandError as e:
            print(f"qapc: {args.spec}: {e}", file=sys.stderr)
            return EXIT_SPEC
    if args.list:
        if points is not None:
            for p in points:
                print(f"{p.key}\t{p.label}")
        else:
            for a in block.axes:
                rng = ", ".join(str(paths.token(v)) for v in a.values) if a.values else f"{a.low:g}..{a.high:g}{' (log)' if a.log else ''}"
                print(f"{a.path}\t{rng}")
        return EXIT_OK

    model = spec.model.name
    out = Path(args.out or Path("build") / f"{model}-{kind}").resolve()
    data = str(Path(args.data).resolve()) if args.data else None
    fp = expand.fingerprint(spec, kind=kind, epochs=args.epochs, data=Path(args.data).name if args.data else None, synth=args.synth)
    from qapdsl.sweep.study import Job, default_storage

    job = Job(
        kind=kind,  # type: ignore[arg-type]
        spec_json=spec.model_dump_json(),
        storage=args.storage or default_storage(out),
        study_name=args.study or f"{model}-{kind}-{fp}",
        out_dir=str(out),
        owner=args.storage is None,
        heartbeat=max(1, args.heartbeat),
        grace=max(2, args.grace),
        epochs=args.epochs,
        data=data,
        synth=args.synth,
        spec_path=str(Path(args.spec).resolve()),
        seed=spec.train.seed,
    )
    title = f"{model} {kind}"
    from qapdsl import outdir

    try:
        with outdir.lock(out, "sweep"):  # one qapc per folder: the points' folders are shared
            if args.report:
                return _report_only(job, points, axes, out, title)
            return _run_study(job, points, axes, out, title, args.jobs, args.worker)
    except outdir.OutputDirError as e:
        raise UsageError(str(e)) from None


def _report_only(job: Any, points: Any, axes: list[str], out: Path, title: str) -> int:
    import optuna

    from qapdsl.sweep import study as st

    try:
        study = optuna.load_study(study_name=job.study_name, storage=st.make_storage(job))
    except KeyError:
        print(f"qapc: no study {job.study_name} in {job.storage}", file=sys.stderr)
        return EXIT_USAGE
    for path in write_outputs(study, points, axes, out, title):
        print(f"wrote {path}")
    return EXIT_OK


def _run_study(job: Any, points: Any, axes: list[str], out: Path, title: str, jobs: int, worker: bool) -> int:
    import multiprocessing

    from qapdsl.sweep import study as st
    from qapdsl.sweep.progress import Display

    spec = job.spec()
    display = Display(f"{title} ({jobs} job{'s' if jobs != 1 else ''})", jobs)
    study = st.prepare(job, points or [], emit=display.event)
    budget = spec.search.trials if job.kind == "search" and spec.search is not None else 0

    def status() -> st.Status:
        return st.sweep_status(study, points) if points is not None else st.search_status(study, budget)

    display.set_status(status())

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    ctx = multiprocessing.get_context("spawn")
    events: Any = ctx.Queue()
    procs = []
    for i in range(jobs):
        seed = job.seed * 1000 + i + (os.getpid() % 100_000) * 7 if worker else job.seed * 1000 + i
        wjob = dataclasses.replace(job, seed=seed, owner=False)
        proc = ctx.Process(target=st.worker_main, args=(json.dumps(dataclasses.asdict(wjob)), i, events), name=f"qapc-sweep-{i}")
        proc.start()
        procs.append(proc)
    crashed = 0
    try:
        last = 0.0
        while any(p.is_alive() for p in procs) or not events.empty():
            try:
                ev = events.get(timeout=0.5)
                if ev.get("event") in ("done", "failed"):
                    with contextlib.suppress(Exception):
                        display.status = status()
                display.event(ev)
                if ev.get("event") == "worker_error":
                    crashed += 1
                    print(ev.get("traceback", ""), file=sys.stderr)
            except queue.Empty:
                pass
            if time.monotonic() - last > 2.0:
                last = time.monotonic()
                with contextlib.suppress(Exception):  # a busy database: try again on the next tick
                    display.set_status(status())
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: each worker fails and requeues its trial, then exits
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
        display.close()
        print(f"qapc: interrupted; run the same command again to continue ({out})", file=sys.stderr)
        return 130
    for p in procs:
        p.join()
    crashed += sum(1 for p in procs if p.exitcode not in (0, None) and p.exitcode != 70)
    final = status()
    display.set_status(final)
    display.close()
    for path in write_outputs(study, points, axes, out, title):
        print(f"wrote {path}")
    if job.kind == "search":
        _print_best(study)
    if crashed:
        print(f"qapc: {crashed} worker(s) crashed", file=sys.stderr)
        return 70
    finished = final.done >= final.total if points is not None else (final.done + final.failed >= final.total and final.done > 0)
    if not finished:
        missing = final.total - final.done
        print(f"qapc: {missing} of {final.total} {'points' if points is not None else 'trials'} not done (see sweep.md); run again to retry", file=sys.stderr)
        return EXIT_STEP
    return EXIT_OK


def _print_best(study: Any) -> None:
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        return
    best = study.best_trial
    params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.params.items())
    print(f"best trial {best.number}: value {best.value:.4f} with {params}")
