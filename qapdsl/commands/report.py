"""`qapc report SPEC`: the per-layer table of a spec, with the measured figures once it has run;
for a spec with a sweep or search, the paper's table of its finished study (`qapdsl.sweep.report`).

Cheap to import: no TensorFlow, no numpy at module level (numpy only to read
activations.npz for the neural efficiency).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qapdsl import ir

from qapdsl.commands.common import EXIT_OK, EXIT_SPEC


def default_build_dir(spec: ir.Spec) -> Path:
    """`qapc build`'s default output folder under the working directory: build/<model>/, or
    build/<model>-hgq2/ for the hgq2 dialect (a run of the other dialect must not overwrite it)."""
    return Path("build") / (spec.model.name if spec.train.dialect == "qkeras" else f"{spec.model.name}-{spec.train.dialect}")


def last_run_dir(spec_path: str, spec: ir.Spec, default: Path) -> Path:
    """The folder of the last `qapc run` of this spec (`qapdsl.runs`), else `default`; says on stderr
    where the measured figures come from when that is not `default`, and where it looked when none are found."""
    from qapdsl import runs

    last = runs.last(spec_path, spec.model.name)
    if last is not None and (Path(last.build_dir) / "results.json").is_file():
        found = Path(last.build_dir)
        if found.resolve() != default.resolve():
            print(f"qapc: measured figures from {found / 'results.json'} (the last `qapc run` of {spec_path}, finished {last.finished})", file=sys.stderr)
        return found
    if not (default / "results.json").is_file():
        recorded = f"its last run was in {last.build_dir}, which holds no results.json now" if last else "no run of it is recorded"
        print(
            f"qapc: no results of a run of {spec_path}: looked at {default / 'results.json'}, and in {runs.index_path()} ({recorded}); "
            f"the table shows the declared figures only (`qapc run {spec_path}` measures the rest, or give -o DIR / --results PATH)",
            file=sys.stderr,
        )
    return default


def add_arguments(p: argparse.ArgumentParser) -> None:
    from qapdsl.commands.common import folder_arg

    p.add_argument("spec", metavar="SPEC", help="the .qap spec to report")
    p.add_argument("--model", help="report this model instead of the last one declared")
    p.add_argument(
        "-o",
        "--out",
        metavar="DIR", type=folder_arg,
        help="build directory to read results.json from (default: where the last `qapc run SPEC` wrote, else build/<model>/)",
    )
    p.add_argument("--results", metavar="PATH", help="a results.json written by `qapc run` (default: DIR/results.json when present)")
    p.add_argument("--format", choices=("markdown", "latex", "json"), default="markdown", help="table format (default markdown)")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument(
        "--columns",
        choices=("all", "declared", "measured"),
        default="all",
        help="the per-layer table's columns: all (declared, then measured after a run), declared, or measured "
        "(each layer's precisions and measured sparsity, BOPs, memory and efficiency: narrow enough for a paper's column)",
    )
    p.add_argument("--layers", action="store_true", help="the per-layer table, also for a spec with a sweep or search")
    p.add_argument("--storage", metavar="URL", help="a study's Optuna storage (default: the study.db in DIR)")
    p.add_argument("--study", metavar="NAME", help="the study to report (default: the spec's)")
    p.add_argument("--search", action="store_true", help="report the search when the spec has both a sweep and a search")


def run(args: argparse.Namespace) -> int:
    from qapdsl import report
    from qapdsl.commands.common import load_checked
    from qapdsl.loader import UsageError

    checked = load_checked(args.spec, args.model)
    if checked is None:
        return EXIT_SPEC
    spec = checked[0]
    fmt = "json" if args.json else args.format
    if (spec.sweep is not None or spec.search is not None) and not args.layers and not args.results:
        from qapdsl.commands.sweep import report_study  # a study: the paper's table of its results

        return report_study(spec, args.out, args.storage, args.study, args.search, fmt)
    build_dir = Path(args.out) if args.out else default_build_dir(spec)
    if not args.out and not args.results:
        build_dir = last_run_dir(args.spec, spec, build_dir)
    results_path = Path(args.results) if args.results else build_dir / "results.json"
    if args.out and not args.results and not results_path.is_file():
        print(f"qapc: no results.json in {build_dir}: the table shows the declared figures only (`qapc run {args.spec} -o {build_dir}` measures the rest)", file=sys.stderr)
    results: dict[str, Any] | None = None
    efficiency = None
    if args.results or results_path.is_file():
        from qapdsl import results as results_file

        try:
            results = results_file.load(results_path)
        except results_file.ResultsError as e:
            raise UsageError(str(e)) from None
        except OSError as e:
            raise UsageError(f"cannot read results {results_path}: {e.strerror or e}") from None
        if results["model"] != spec.model.name:
            raise UsageError(f"{results_path} holds results of model '{results['model']}', not '{spec.model.name}'")
        activations = results_path.parent / "activations.npz"
        if activations.is_file():
            try:
                efficiency = report.load_efficiency(activations)
            except (OSError, ValueError, ImportError) as e:
                why = "numpy, which reads it, is not installed here" if isinstance(e, ImportError) else (getattr(e, "strerror", None) or str(e))
                print(f"qapc: warning: cannot read {activations}: {why}; using the efficiency stored in results.json", file=sys.stderr)
    if args.columns == "measured" and results is None:
        raise UsageError(f"--columns measured: there are no measured figures of {args.spec} (`qapc run` it, or give -o DIR / --results PATH)")
    rep = report.build(spec, results, efficiency)
    if results is not None:
        want = spec.sources[0].sha256 if spec.sources else None
        got = results.get("spec_sha256")
        if want and got and want != got:
            rep.notes.append(f"{results_path} was produced from a different version of the spec: rerun `qapc run` to refresh the measured figures")
    sys.stdout.write(report.render(rep, fmt, args.columns))
    return EXIT_OK
