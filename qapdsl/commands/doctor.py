"""`qapc doctor [SPEC]`: is everything a run needs there? ✓ / ✗ lines, each ✗ with its fix.

Without a spec: qapc's Python, every training dialect's environment and its versions against the
pins, g++, and the default output folder. With a spec: what `qapc run SPEC` checks before training
(its dialect, its data, its output folder; the vendor's HLS tool with --synth), so the doctor and the
run never disagree (`qapdsl.doctor`). Exit codes: 0 all needed checks pass, 1 spec errors, 2 usage,
3 something needed is missing (what makes `qapc run`'s tools step fail).

Cheap to import; the checks take a second or two (a subprocess per environment; an OpenML data set
that is not cached costs a connection attempt of at most 3 s).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qapdsl.commands.common import EXIT_OK, EXIT_SPEC, EXIT_STEP


def add_arguments(p: argparse.ArgumentParser) -> None:
    from qapdsl.commands.common import folder_arg
    from qapdsl.dialects import NAMES

    p.add_argument("spec", metavar="SPEC", nargs="?", help="check what `qapc run SPEC` needs (default: check every dialect, no data)")
    p.add_argument("--model", help="with SPEC: check this model instead of the last one declared")
    p.add_argument(
        "--dialect",
        choices=NAMES,
        action="append",
        help="check this training dialect's environment (repeatable; default: the spec's, or all of them without SPEC)",
    )
    p.add_argument("-o", "--out", metavar="DIR", type=folder_arg, help="the output folder to check (default with SPEC: where `qapc run SPEC` writes, build/<model>/ or build/<model>-hgq2/; else build/)")
    p.add_argument("--data", metavar="PATH", help="with SPEC: check this data file instead of the spec's (as `qapc run --data`)")
    p.add_argument("--synth", action="store_true", help="with SPEC: also check the HLS tool of the spec's backend (as `qapc run --synth`)")
    p.add_argument("--json", action="store_true", help='print {"ok": ..., "checks": [{key, status, text, fix, found}, ...]} instead')


def run(args: argparse.Namespace) -> int:
    from qapdsl import dialects, doctor
    from qapdsl.commands.common import load_checked, use_color
    from qapdsl.loader import UsageError

    if args.spec is None:
        for flag in ("model", "data", "synth"):
            if getattr(args, flag):
                raise UsageError(f"doctor --{flag} needs a SPEC")
        checks = doctor.everything(tuple(dict.fromkeys(args.dialect)) if args.dialect else dialects.NAMES, Path(args.out or "build"))
    else:
        if args.dialect and len(set(args.dialect)) > 1:
            raise UsageError("with a SPEC, give at most one --dialect (the one to run it with)")
        checked = load_checked(args.spec, args.model, args.dialect[0] if args.dialect else None)
        if checked is None:
            return EXIT_SPEC
        spec = checked[0]
        from qapdsl.commands.report import default_build_dir

        out = Path(args.out) if args.out else default_build_dir(spec)
        checks = doctor.for_run(spec, data=args.data, out_dir=out, synth=args.synth)
    failed = doctor.failures(checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [c.to_dict() for c in checks]}, indent=2))
    else:
        print(doctor.render(checks, color=use_color(sys.stdout)))
        if failed:
            n = len(failed)
            print(f"\n{n} problem{'s' if n != 1 else ''}: `qapc run` stops before training until {'they are' if n != 1 else 'it is'} fixed")
        else:
            what = f"`qapc run {args.spec}`" if args.spec else "`qapc run`"
            print(f"\neverything {what} needs is there")
    return EXIT_STEP if failed else EXIT_OK
