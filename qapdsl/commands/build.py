"""`qapc build SPEC [-o DIR]`: write train.py, hls4ml_config.yml, convert.py and manifest.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from qapdsl.commands.common import folder_arg

    parser.add_argument("spec", metavar="SPEC", help="the .qap spec to build")
    parser.add_argument(
        "-o", "--out", metavar="DIR", type=folder_arg, help="output folder (default: build/<model>/, build/<model>-hgq2/ for the hgq2 dialect)"
    )
    parser.add_argument("--model", help="build this model instead of the last one declared")
    parser.add_argument("--dialect", choices=("qkeras", "hgq2", "brevitas"), help="build for this training dialect instead of the spec's (train.dialect)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="when the folder holds files of the same names that qapc did not write (or that were edited since), "
        "move them aside into DIR/qapc-kept/<time>/ and build (without it: nothing is changed, exit 2)",
    )


def run(args: argparse.Namespace) -> int:
    from qapdsl import outdir
    from qapdsl.backends import BuildError, build
    from qapdsl.commands.common import EXIT_OK, EXIT_SPEC, EXIT_USAGE, load_checked, report_kept
    from qapdsl.commands.report import default_build_dir
    from qapdsl.outdir.atomic import WriteError

    checked = load_checked(args.spec, args.model, args.dialect)
    if checked is None:
        return EXIT_SPEC
    spec, loaded = checked
    out = Path(args.out) if args.out else default_build_dir(spec)
    warning = outdir.location_warning(out, args.spec)
    if warning:
        print(f"qapc: warning: {warning}", file=sys.stderr)
    try:
        with outdir.lock(out, "build"):
            kept: list[Path] = []
            written = build(spec, out, spec_path=args.spec, sources=loaded.sources, force=args.force, kept=kept)
    except BuildError as e:
        print(f"qapc: cannot build {args.spec}: {e}", file=sys.stderr)
        return EXIT_SPEC
    except (outdir.OutputDirError, WriteError) as e:
        print(f"qapc: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        where = e.filename or out
        print(f"qapc: cannot write {where}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    report_kept(kept)
    names = ["train.py", "hls4ml_config.yml", "convert.py", *(["rtl.py"] if (written / "rtl.py").is_file() and spec.target.rtl is not None else []), "manifest.json"]
    print(f"{args.spec}: wrote {out}/ ({', '.join(names)})")
    return EXIT_OK
