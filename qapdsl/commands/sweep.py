"""`qapc sweep SPEC`: run the spec's sweep (a grid) or search (Bayesian optimisation) as an Optuna study.

    qapc sweep specs/digits_sweep.qap --jobs 2            # build, train, convert every point
    qapc sweep specs/digits_sweep.qap --jobs 2            # again: continues, reruns nothing done
    qapc sweep jet_sweep.qap --storage postgresql://h/db --worker   # on each machine of a shared study
    qapc sweep jet_sweep.qap --storage postgresql://h/db --report   # tables and plots from the storage

Outputs in the build directory (default build/<model>-sweep/): points/<key>/ (one
run each, or seed<S>/ per run with `repeat`), study.db (the default storage),
sweep.csv / sweep.md (every point), sweep.tex (the paper's table, booktabs),
runs.csv (every run), front.csv / front.md (the Pareto front and its
hypervolume), study.json, pareto.png, pareto.svg. Cheap to import: optuna,
matplotlib and the runner load inside `run`.
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

from qapdsl.commands.common import EXIT_OK, EXIT_SPEC, EXIT_STEP, EXIT_USAGE


def add_arguments(p: argparse.ArgumentParser) -> None:
    from qapdsl.commands.common import folder_arg

    p.add_argument("spec", metavar="SPEC", help="a .qap spec with a sweep { ... } or search { ... } block")
    p.add_argument("-o", "--out", metavar="DIR", type=folder_arg, help="build directory (default build/<model>-sweep or build/<model>-search)")
    p.add_argument(
        "-j", "--jobs", type=int, default=1, metavar="N", help=f"points to run at once on this machine (worker processes; at most the trials left and the cores, up to {MAX_JOBS})"
    )
    p.add_argument("--storage", metavar="URL", help="Optuna storage: an SQLAlchemy URL (postgresql://...) to share the study; default sqlite in DIR")
    p.add_argument("--study", metavar="NAME", help="study name (default <model>-<sweep|search>-<fingerprint of spec and options>)")
    p.add_argument("--worker", action="store_true", help="join a shared study: take untried points until none is left")
    p.add_argument("--search", action="store_true", help="run the search block when the spec has both")
    p.add_argument("--model", help="build this model instead of the last one declared")
    p.add_argument("--dialect", choices=("qkeras", "hgq2", "brevitas"), help="build for this training dialect instead of the spec's (train.dialect)")
    p.add_argument("--epochs", type=int, metavar="N", help="override train.epochs for every point")
    p.add_argument("--data", metavar="PATH", help="override the data file for every point")
    p.add_argument("--synth", action="store_true", help="run HLS synthesis too when the vendor tool is on PATH")
    p.add_argument("--list", action="store_true", help="print the points (sweep) or axes (search) and exit")
    p.add_argument("--report", action="store_true", help="write the tables and plots from the storage; run nothing")
    p.add_argument("--heartbeat", type=int, default=10, metavar="S", help="seconds between a running trial's heartbeats (default 10)")
    p.add_argument("--grace", type=int, default=60, metavar="S", help="a trial with no heartbeat for this long was killed: rerun it (default 60)")
    p.add_argument("--json", action="store_true", help="print progress as JSON lines on stdout (events, and the study's status with its front)")
    p.add_argument(
        "--force",
        action="store_true",
        help="when the folder (or a point's) holds files of the names a study writes that qapc did not write, "
        "move them aside into qapc-kept/<time>/ and go on (without it: nothing is changed, exit 2)",
    )


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


MAX_JOBS = 256
"""`--jobs` above this is refused: no machine trains that many models at once (each worker is a process with its own TensorFlow)."""


def cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and `taskset` narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_count(jobs: int, left: int, ncores: int) -> tuple[int, str | None]:
    """How many worker processes `--jobs N` starts: no more than the runs left to take, nor than the cores (each
    trains a model, CPU-bound), and at least one (a study with nothing left to run still gets its tables, and a
    worker of a shared study waits for the retries of trials running elsewhere). With the reason when it is fewer."""
    n, why = jobs, None
    for limit, reason in (
        (left, f"{'only ' if left else ''}{left} point{'s' if left != 1 else ''} left to run"),
        (ncores, f"this machine has {ncores} core{'s' if ncores != 1 else ''}"),
    ):
        if max(1, limit) < n:
            n, why = max(1, limit), reason
    return n, (f"--jobs {jobs}: starting {n} worker{'s' if n != 1 else ''}, {why}" if why else None)


OUTPUTS = ("sweep.csv", "sweep.md", "sweep.tex", "runs.csv", "front.csv", "front.md", "study.json")
PLOTS = ("pareto.png", "pareto.svg", "hardware.png", "hardware.svg")  # plots.write_pareto, plots.write_hardware
WRITES = (*OUTPUTS, *PLOTS, *(f".{n}.tmp" for n in (*OUTPUTS, *PLOTS)))
"""Everything a study writes into its folder itself (the points' runs write into points/, each under its own ledger)."""


def load_view(job: Any, title: str, studies: tuple[Any, Any | None] | None = None, points: Any = None, base_points: Any = None) -> Any:
    """The study's results (and its baseline's) from the storage, as the tables see them.

    `points` / `base_points`: the sweep's grid and the baseline's point when the caller has them
    (expanding a grid checks every point: not every two seconds)."""
    from qapdsl import ir
    from qapdsl.sweep import study as st
    from qapdsl.sweep import view

    spec = job.spec()
    main, base = studies if studies is not None else open_studies(job)
    if job.kind == "sweep" and points is None:
        points = job.points(spec)
    rows = st.collect_rows(main, points if job.kind == "sweep" else None)
    baseline = None
    if base is not None:
        bjob = st.baseline_job(job)
        assert bjob is not None
        baseline = st.collect_rows(base, base_points or bjob.points(spec))[0]
    notes = [*st.malformed(main), *(st.malformed(base) if base is not None else [])]
    block = job.study_block(spec)
    ended = main.user_attrs.get(st.STUDY_ENDED) if job.kind == "search" else None
    if ended and isinstance(block, ir.Search):
        counted = len([r for r in rows if r.get("state") in ("complete", "failed")])
        notes.append(f"The search ended after {counted} of its {block.trials} trials: {ended}.")
    return view.make(spec, block, rows, baseline, title, options=st.run_options(main), notes=notes)


def open_studies(job: Any) -> tuple[Any, Any | None]:
    """The study and its baseline's (None without a baseline); KeyError when the study does not exist."""
    import optuna

    from qapdsl.sweep import study as st

    storage = st.make_storage(job)
    main = optuna.load_study(study_name=job.study_name, storage=storage)
    bjob = st.baseline_job(job)
    base = None
    if bjob is not None:
        try:
            base = optuna.load_study(study_name=bjob.study_name, storage=storage)
        except KeyError:
            base = None
    return main, base


def write_outputs(v: Any, out: Path) -> list[Path]:
    """The tables and plots; only over files qapc wrote (`run` claimed them), recorded as written."""
    from qapdsl.outdir import ledger

    with ledger.writing(out, WRITES, clear=False):
        return _write_outputs(v, out)


def _write_outputs(v: Any, out: Path) -> list[Path]:
    from qapdsl.sweep import plots, report, table

    texts = {
        "sweep.csv": table.to_csv(v),
        "sweep.md": table.to_markdown(v),
        "sweep.tex": report.to_latex(v),
        "runs.csv": table.runs_csv(v),
        "front.csv": table.front_csv(v),
        "front.md": table.front_markdown(v),
        "study.json": report.to_json(v),
    }
    written = []
    for name in OUTPUTS:
        _write(out / name, texts[name])
        written.append(out / name)
    return written + plots.write_pareto(v, out) + plots.write_hardware(v, out)


def front_status(v: Any) -> tuple[list[dict[str, Any]], float | None]:
    """The current front for the progress display: each point's label and its objectives' means and deviations."""
    from qapdsl.sweep.view import num

    points = [
        {
            "point": r.get("point"),
            "label": r.get("label"),
            "objectives": {o.metric: num(r.get(o.metric)) for o in v.objectives},
            "std": {o.metric: num(r.get(f"{o.metric}_std")) for o in v.objectives},
        }
        for r in v.front()
    ]
    return points, v.hypervolume()


def run(args: argparse.Namespace) -> int:
    from qapdsl import paths
    from qapdsl.commands.common import load_checked
    from qapdsl.loader import UsageError
    from qapdsl.sweep import expand

    if args.jobs < 1:
        raise UsageError("--jobs takes a number of at least 1")
    if args.jobs > MAX_JOBS:
        raise UsageError(f"--jobs {args.jobs:,} is more worker processes than qapc starts (at most {MAX_JOBS}; this machine has {cores()} cores): give at most the number of cores")
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
        block=kind,  # type: ignore[arg-type]
        force=args.force,
        options={k: v for k, v in (("epochs", args.epochs), ("data", args.data), ("synth", args.synth), ("dialect", args.dialect), ("model", args.model)) if v not in (None, False)},
    )
    title = f"{model} {kind}"
    from qapdsl import outdir
    from qapdsl.commands.common import report_kept
    from qapdsl.outdir import ledger

    warning = outdir.location_warning(out, args.spec)
    if warning:
        print(f"qapc: warning: {warning}", file=sys.stderr)

    try:
        with outdir.lock(out, "sweep"):  # one qapc per folder: the points' folders are shared
            report_kept(ledger.claim(out, WRITES, force=args.force, command="the study"))
            if args.storage is None:
                from qapdsl.sweep.study import check_default_storage, claim_points

                check_default_storage(out)
                if not args.report:
                    report_kept(claim_points(out, force=args.force))
            if args.report:
                return _report_only(job, out, title)
            return _run_study(job, points, out, title, args.jobs, args.worker, args.json)
    except outdir.OutputDirError as e:
        raise UsageError(str(e)) from None


def _report_only(job: Any, out: Path, title: str) -> int:
    try:
        v = load_view(job, title)
    except KeyError:
        print(f"qapc: no study {job.study_name} in {job.storage}", file=sys.stderr)
        return EXIT_USAGE
    for path in write_outputs(v, out):
        print(f"wrote {path}")
    _print_front(v, job.kind, print)
    return EXIT_OK


def _run_study(job: Any, points: Any, out: Path, title: str, jobs: int, worker: bool, as_json: bool) -> int:
    import multiprocessing

    from qapdsl.sweep import study as st
    from qapdsl.sweep.progress import Display, JsonEvents

    spec = job.spec()
    early: list[dict[str, Any]] = []  # what preparing the studies says, shown once the display knows its workers
    bjob = st.baseline_job(job)
    base_points = bjob.points(spec) if bjob is not None else None
    base_study = st.prepare(bjob, base_points, emit=early.append) if bjob is not None and base_points is not None else None
    study = st.prepare(job, points or [], emit=early.append)
    budget = spec.search.trials if job.kind == "search" and spec.search is not None else 0

    def status() -> st.Status:
        now = st.sweep_status(study, points) if points is not None else st.search_status(study, budget)
        if base_study is not None:
            b = st.sweep_status(base_study, base_points or [])
            now.running += b.running
            now.running_labels += b.running_labels
        now.front, now.hypervolume = front_status(load_view(job, title, (study, base_study), points, base_points))
        return now

    left = st.left_to_run(study, points, budget) + (st.left_to_run(base_study, base_points, 0) if base_study is not None else 0)
    jobs, capped = worker_count(jobs, left, cores())
    from qapdsl.sweep.view import options_flags

    flags = options_flags(job.options)
    display: Any = JsonEvents() if as_json else Display(f"{title} ({jobs} job{'s' if jobs != 1 else ''}{', ' + flags if flags else ''})", jobs)
    if capped:
        print(f"qapc: {capped}", file=sys.stderr)
    for ev in early:
        display.event(ev)
    display.set_status(status())

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    ctx = multiprocessing.get_context("spawn")
    events: Any = ctx.Queue()
    procs = []
    # the samplers' seeds: another set for every run of the study, or a resumed search would propose again,
    # in the same order, the points its first run proposed (and ran)
    rerun = len(study.get_trials(deepcopy=False)) * 7919
    for i in range(jobs):
        seed = job.seed * 1000 + i + rerun + ((os.getpid() % 100_000) * 7 if worker else 0)
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
                if ev.get("event") in ("done", "failed", "over", "same"):
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
    v = load_view(job, title, (study, base_study), points, base_points)
    say = (lambda text: print(text, file=sys.stderr)) if as_json else print
    for path in write_outputs(v, out):
        say(f"wrote {path}")
    _print_front(v, job.kind, say)
    if crashed:
        print(f"qapc: {crashed} worker(s) crashed", file=sys.stderr)
        return 70
    finished = final.done >= final.total if points is not None else (final.done + final.failed >= final.total and final.done > 0)
    ended = points is None and final.ended is not None and final.running == 0 and final.waiting == 0
    if ended:
        print(f"qapc: the search ended after {final.done + final.failed} of its {final.total} trials: {final.ended}", file=sys.stderr)
        finished = final.done > 0
    if not finished:
        missing = final.total - final.done
        if points is None and (ended or final.done + final.failed >= final.total):  # a search's failed trials count: a rerun adds none
            print(f"qapc: none of the {final.total} trials completed (see sweep.md for why)", file=sys.stderr)
        else:
            print(f"qapc: {missing} of {final.total} {'points' if points is not None else 'trials'} not done (see sweep.md); run again to retry", file=sys.stderr)
        return EXIT_STEP
    if bjob is not None and (v.baseline is None or v.baseline.get("state") != "complete"):
        print(f"qapc: the baseline did not complete ({(v.baseline or {}).get('error', 'not run')}); run again to retry", file=sys.stderr)
        return EXIT_STEP
    return EXIT_OK


def _print_front(v: Any, kind: str, say: Any) -> None:
    """The best point of a single-objective search, and the front with its hypervolume."""
    from qapdsl.sweep.progress import front_text
    from qapdsl.sweep.table import hypervolume_line, preamble
    from qapdsl.sweep.view import num

    feasible = v.feasible()
    if kind == "search" and len(v.optimised) == 1 and feasible:
        o = v.optimised[0]
        pick = max if o.direction == "maximize" else min
        best = pick(feasible, key=lambda r: num(r.get(o.metric)) or 0.0)
        params = ", ".join(f"{a}={best.get(a):g}" if isinstance(best.get(a), float) else f"{a}={best.get(a)}" for a in v.axes)
        say(f"best trial {best.get('trial')}: value {num(best.get(o.metric)) or 0.0:.4f} with {params}")
    points, _ = front_status(v)
    say(f"Pareto front: {len(points)} point{'s' if len(points) != 1 else ''}" + (":" if points else ""))
    for p in points:
        say(f"  {front_text(p)}")
    line = hypervolume_line(v)
    if line:
        say(line)
    for text in preamble(v):
        say(text)


def report_study(spec: Any, out: str | None, storage: str | None, study: str | None, search: bool, fmt: str) -> int:
    """`qapc report SPEC` for a spec with a sweep or search: the paper's table of its finished study, from the storage.
    A storage that is not an Optuna study's (a damaged study.db, another program's database) is a usage error."""
    from qapdsl.loader import UsageError

    try:
        import optuna
        import sqlalchemy.exc
    except ImportError as e:
        raise UsageError(f"reporting a study needs Optuna, which is not installed here ({e}): pip install 'qapc[sweep]'") from None
    from qapdsl.sweep.study import default_storage

    kind = "search" if spec.search is not None and (search or spec.sweep is None) else "sweep"
    model = spec.model.name
    folder = Path(out or Path("build") / f"{model}-{kind}").resolve()
    url = storage or default_storage(folder)
    if storage is None and not (folder / "study.db").is_file():
        raise UsageError(f"no study in {folder}: run `qapc sweep` on the spec first (or `qapc report --layers` for the per-layer table)")
    try:
        return _report_from(spec, kind, folder, url, study, fmt)
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.OptunaError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"cannot read the study in {url}: {first}") from None


def _report_from(spec: Any, kind: str, folder: Path, url: str, study: str | None, fmt: str) -> int:
    import optuna

    from qapdsl.loader import UsageError
    from qapdsl.sweep import expand, report
    from qapdsl.sweep.study import Job

    model = spec.model.name
    if study is None:
        names = optuna.get_all_study_names(url)
        exact = f"{model}-{kind}-{expand.fingerprint(spec, kind=kind, epochs=None, data=None, synth=False)}"
        candidates = [n for n in names if n.startswith(f"{model}-{kind}-") and not n.endswith("-baseline")]
        if exact in names:
            study = exact
        else:
            from qapdsl.sweep.study import run_options
            from qapdsl.sweep.view import options_flags

            def said(name: str) -> str:
                options = run_options(optuna.load_study(study_name=name, storage=url))
                if options is None:
                    return "run options not recorded"
                return f"run with {options_flags(options)}" if options else "run with the spec's own settings, so from another version of the spec"

            if len(candidates) != 1:
                found = ", ".join(f"{n} ({said(n)})" for n in candidates) or "none"
                raise UsageError(f"no single study of {model}'s {kind} in {url} (found: {found}); name one with --study")
            study = candidates[0]
            print(f"qapc: reporting study {study} ({said(study)})", file=sys.stderr)
    job = Job(kind=kind, spec_json=spec.model_dump_json(), storage=url, study_name=study, out_dir=str(folder), block=kind)  # type: ignore[arg-type]
    try:
        v = load_view(job, f"{model} {kind}")
    except KeyError:
        raise UsageError(f"no study {study} in {url}") from None
    sys.stdout.write(report.render(v, fmt))
    return EXIT_OK
