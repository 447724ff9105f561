"""`qapc`: the command line. One subcommand per job; heavy modules load lazily.

Exit codes: 0 clean, 1 spec errors (diagnostics printed), 2 usage or I/O
errors, 3 a pipeline step failed (`run`, `sweep`), 70 an internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from qapdsl import __version__
from qapdsl.cliparser import Parser
from qapdsl.commands.common import EXIT_INTERNAL, EXIT_OK, EXIT_SPEC, EXIT_STEP, EXIT_USAGE, print_diagnostics, use_color

# modules of the optional extras (pyproject.toml) → the extra: a command that needs one says how to get it
OPTIONAL_MODULES = {
    **dict.fromkeys(("optuna", "sqlalchemy", "psycopg2", "matplotlib"), "sweep"),
    **dict.fromkeys(("pygls", "lsprotocol"), "lsp"),
}

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_SPEC", "EXIT_STEP", "EXIT_USAGE", "main", "print_diagnostics"]


def cmd_check(args: argparse.Namespace) -> int:
    from qapdsl.loader import load_file

    status = EXIT_OK
    found: list[dict[str, object]] = []  # --json: one list for all the files, one JSON document
    for path in args.files:
        loaded = load_file(path, model_name=args.model, dialect=args.dialect)
        if args.json:
            found += [d.to_dict() for d in loaded.diagnostics]
        else:
            print_diagnostics(loaded)
        if not loaded.ok or loaded.spec is None:
            status = EXIT_SPEC
            continue
        if args.emit_ir:
            print(loaded.spec.model_dump_json(indent=2))
        elif not args.json:
            m = loaded.spec.model
            print(f"{path}: ok (model {m.name}, {len(m.layers)} layer{'s' if len(m.layers) != 1 else ''})")
    if args.json:
        print(json.dumps(found, indent=2))
    return status


def cmd_fmt(args: argparse.Namespace) -> int:
    import difflib

    from qapdsl.diagnostics import SpecError, render
    from qapdsl.fmt import format_text
    from qapdsl.source import SourceFile
    from qapdsl.syntax import decode

    status = EXIT_OK
    for path in args.files:
        try:
            from qapdsl.loader import read_spec

            data = read_spec(Path(path))
        except OSError as e:
            print(f"qapc: cannot read {path}: {e.strerror or e}", file=sys.stderr)
            return EXIT_USAGE
        try:
            text = decode(data, path)
            formatted = format_text(text, path)
        except SpecError as e:
            src = {path: SourceFile(path, data.decode("utf-8", errors="replace"))}
            print(render(e.diagnostics, src, color=use_color(sys.stderr)), file=sys.stderr)
            status = EXIT_SPEC
            continue
        if formatted == text:
            continue
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), formatted.splitlines(True), f"{path}", f"{path} (formatted)"))
        if args.check or args.diff:
            if args.check:
                print(f"would reformat {path}", file=sys.stderr)
            status = max(status, EXIT_SPEC)
            continue
        try:
            _rewrite(Path(path), formatted)
        except OSError as e:
            print(f"qapc: cannot rewrite {path}: {e.strerror or e}", file=sys.stderr)
            return EXIT_USAGE
        print(f"reformatted {path}", file=sys.stderr)
    return status


def _rewrite(path: Path, text: str) -> None:
    """Replace a spec's text at once, as the file it is: through a symbolic link to the real file, with
    its permissions; a read-only file is left alone. The temporary file is created anew (never an existing
    name, never through a link someone planted next to the spec)."""
    import stat
    import tempfile

    try:
        target = path.resolve(strict=True)
    except RuntimeError:
        raise OSError(f"{path} is a loop of symbolic links") from None
    mode = stat.S_IMODE(os.stat(target).st_mode)
    if not os.access(target, os.W_OK) or not mode & 0o222:  # no write bit: read-only, even for root
        raise OSError(f"{path} is read-only")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".qapfmt", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# Commands implemented outside this file: (name, help, module). The module
# provides `add_arguments(parser)` and `run(args) -> int`, and must stay cheap
# to import (heavy imports go inside `run`).
COMMAND_MODULES: list[tuple[str, str, str]] = [
    ("build", "write train.py, hls4ml_config.yml, convert.py and manifest.json", "qapdsl.commands.build"),
    ("run", "build, train (QAP), convert with hls4ml, emulate in C++, with `rtl verilog` make RTL (da4ml, Verilator, Yosys), and report", "qapdsl.commands.run"),
    ("report", "per-layer figures (shapes, precisions, sparsity, BOPs, memory); measured ones after a run", "qapdsl.commands.report"),
    ("lsp", "run the language server over stdio", "qapdsl.commands.lsp"),
    ("sweep", "run a sweep or search study with Optuna", "qapdsl.commands.sweep"),
    ("new", "write a commented spec that checks, from flags or a few questions", "qapdsl.commands.new"),
    ("doctor", "check that everything a run needs is there (Python, ML stacks and their versions, g++, data, output folder)", "qapdsl.commands.doctor"),
]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with `only`, the modules of the other commands are not imported.

    `qapc check` must start fast, so it does not pay for importing `build`,
    `run` or `sweep` (their modules are listed, not loaded).
    """
    import importlib

    p = Parser(
        prog="qapc",
        description="Compile .qap specs into QKeras / HGQ2 training scripts and hls4ml projects, and run them.",
        epilog="`qapc COMMAND --help` describes a command's arguments. Start with `qapc new my.qap` or `qapc doctor`.",
    )
    p.add_argument("--version", action="version", version=f"qapc {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("check", help="parse and check specs; print diagnostics", description="Parse and check specs; print every diagnostic with its line, caret and hint.")
    c.add_argument("files", nargs="+", metavar="SPEC", help="the .qap files to check")
    c.add_argument("--emit-ir", action="store_true", help="print the checked IR as JSON")
    c.add_argument("--json", action="store_true", help="print the diagnostics of all the files as one JSON list")
    c.add_argument("--model", help="build this model instead of the last one declared")
    c.add_argument("--dialect", choices=("qkeras", "hgq2", "brevitas"), help="check for this training dialect instead of the spec's (train.dialect), as `build/run --dialect` would build")
    c.set_defaults(func=cmd_check)

    f = sub.add_parser("fmt", help="format specs canonically (comments kept)", description="Format specs in the one canonical layout; comments are kept.")
    f.add_argument("files", nargs="+", metavar="SPEC", help="the .qap files to format (rewritten in place unless --check or --diff)")
    f.add_argument("--check", action="store_true", help="exit 1 when a file would change; write nothing")
    f.add_argument("--diff", action="store_true", help="print a unified diff; write nothing")
    f.set_defaults(func=cmd_fmt)

    for name, help_text, module_name in COMMAND_MODULES:
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        cp = sub.add_parser(name, help=help_text, description=help_text[:1].upper() + help_text[1:] + ".")
        module.add_arguments(cp)
        cp.set_defaults(func=module.run)
    return p


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line, when it is plain to see (else None: load all)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    known = {"check", "fmt", *(name for name, _, _ in COMMAND_MODULES)}
    return first if first in known and not any(a in ("-h", "--help") for a in argv[: argv.index(first)]) else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from qapdsl.loader import UsageError

    try:
        return int(args.func(args))
    except UsageError as e:
        print(f"qapc: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qapc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:
        missing = (e.name or "") if isinstance(e, ModuleNotFoundError) else ""
        extra = OPTIONAL_MODULES.get(missing.split(".")[0])
        if extra is not None:  # a command of an extra that is not installed
            print(f"qapc {args.command}: needs {missing}, which comes with an extra: pip install 'qapc[{extra}]'", file=sys.stderr)
            return EXIT_USAGE
        if os.environ.get("QAPC_DEBUG"):
            raise
        print(f"qapc: internal error: {type(e).__name__}: {e}\n(set QAPC_DEBUG=1 for the traceback, and please report it)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
