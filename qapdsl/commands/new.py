"""`qapc new SPEC`: write a commented spec that checks, from flags, or from questions on a terminal.

    qapc new my_model.qap                                   # on a terminal: asks what the flags do not say
    qapc new jets.qap --data jets.csv --target label --classes 5 --bits 6 --prune iterative --sparsity 90%
    qapc new - --data iris --yes                            # print it; ask nothing (defaults for the rest)

Questions are asked only when stdin is a terminal, `--yes` is not given and the flag is missing; every
answer goes through the parser of its flag, and a bad one is asked again. The spec is made by
`qapdsl.scaffold` (formatted, checked as the file it becomes); nothing is written when it does not
check, and an existing file is kept unless `--force`. Exit codes: 0 written, 1 the answers make a spec
with errors (shown with their carets), 2 usage (a missing answer, an existing file, a bad flag).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from qapdsl.commands.common import EXIT_OK, EXIT_SPEC

if TYPE_CHECKING:
    from qapdsl.scaffold import Answers

T = TypeVar("T")

SKLEARN_NAMES = ("digits", "iris", "wine", "breast_cancer")


# -- parsers: one per answer, shared by the flag and the question -----------------------------


def parse_data(text: str) -> tuple[str, str]:
    """`sklearn:digits` / `digits`, `file:PATH` / `PATH.csv`, `openml:NAME` / `openml:ID` → (source, name)."""
    from qapdsl.data import FILE_SUFFIXES
    from qapdsl.diagnostics import did_you_mean
    from qapdsl.syntax import string_problem

    source, sep, rest = text.partition(":")
    if sep and source in ("sklearn", "file", "openml"):
        if not rest:
            raise ValueError(f"`{source}:` needs a name")
        if string_problem(rest):
            raise ValueError(f"{'a data file' if source == 'file' else 'the name'} cannot be written in a spec: {string_problem(rest)}")
        if source == "sklearn" and rest not in SKLEARN_NAMES:
            guess = did_you_mean(rest, SKLEARN_NAMES)
            raise ValueError(f"scikit-learn data sets: {', '.join(SKLEARN_NAMES)}" + (f"; {guess}" if guess else ""))
        if source == "file" and not rest.lower().endswith(FILE_SUFFIXES):
            raise ValueError(f"a data file is one of {', '.join(FILE_SUFFIXES)}")
        return source, rest
    if text in SKLEARN_NAMES:
        return "sklearn", text
    if text.lower().endswith(FILE_SUFFIXES):
        if string_problem(text):
            raise ValueError(f"a data file cannot be written in a spec: {string_problem(text)}")
        return "file", text
    guess = did_you_mean(text, SKLEARN_NAMES)
    raise ValueError(
        "write sklearn:NAME (digits, iris, wine, breast_cancer), a file (file:PATH, or a path ending in "
        + ", ".join(FILE_SUFFIXES)
        + "), or openml:NAME"
        + (f"; {guess}" if guess else "")
    )


def parse_shape(text: str) -> tuple[int, ...]:
    """`16`, `28,28,1`, `(28, 28, 1)` or `28x28x1`."""
    parts = [p for p in re.split(r"[\s,x×]+", text.strip().strip("()")) if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"not a shape: {text!r} (write e.g. 16, or 28,28,1)") from None
    if not shape or any(n < 1 for n in shape) or len(shape) > 3:
        raise ValueError(f"not a shape: {text!r} (one to three positive sizes, e.g. 16, or 28,28,1)")
    return shape


def parse_count(text: str) -> int:
    try:
        n = int(text.strip())
    except ValueError:
        raise ValueError(f"not a whole number: {text!r}") from None
    if n < 2:
        raise ValueError("a classifier has at least 2 classes")
    return n


def parse_bits(text: str) -> int | None:
    """2..16 bits, or `float` (also `32`, `none`): an unquantized model."""
    from qapdsl.scaffold import MAX_BITS, MIN_BITS

    t = text.strip().lower().removesuffix("bits").strip()
    if t in ("float", "none", "32"):
        return None
    try:
        n = int(t)
    except ValueError:
        raise ValueError(f"not a bit width: {text!r} (write {MIN_BITS} to {MAX_BITS}, or float)") from None
    if not MIN_BITS <= n <= MAX_BITS:
        raise ValueError(f"{n} bits: write {MIN_BITS} to {MAX_BITS}, or float")
    return n


def parse_sparsity(text: str) -> float:
    """`80%` or `0.8`: the fraction of the weights to prune, above 0 and at most 99%."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise ValueError(f"not a fraction: {text!r} (write 80% or 0.8)") from None
    if not 0 < value <= 0.99:
        raise ValueError(f"{text}: the target sparsity is above 0% and at most 99%")
    return value


def parse_widths(text: str) -> tuple[int, ...]:
    """`32,32` (the hidden dense layers' widths), or `none`."""
    if text.strip().lower() in ("none", ""):
        return ()
    try:
        widths = tuple(int(p) for p in re.split(r"[\s,]+", text.strip()) if p)
    except ValueError:
        raise ValueError(f"not a list of widths: {text!r} (write e.g. 64,32)") from None
    if any(w < 1 for w in widths):
        raise ValueError("layer widths are positive")
    return widths


def parse_target(text: str) -> str:
    """A label column or array: any text a spec string can hold (it is written quoted)."""
    from qapdsl.syntax import string_problem

    if not text:
        raise ValueError("the label column's name is empty")
    if string_problem(text):
        raise ValueError(f"a column name that cannot be written in a spec: {string_problem(text)}")
    return text


def parse_choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        from qapdsl.diagnostics import choices_hint

        t = text.strip()
        if t not in choices:
            raise ValueError(f"{t!r}: {choices_hint(t, choices)}")
        return t

    return parse


def parse_part(text: str) -> str:
    """An FPGA part name as the spec's `part` takes it (`schema.PART_NAME`, the rule `qapc check` applies)."""
    from qapdsl.schema import PART_NAME

    if not re.match(PART_NAME, text):
        raise ValueError("a part name starts with a letter or digit and holds letters, digits, '-', '_', '.' and '+' only, at most 80 (e.g. xcu250-figd2104-2L-e)")
    return text


def _arg(parse: Callable[[str], T]) -> Callable[[str], T]:
    """A parser as an argparse type: its ValueError becomes argparse's error message."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = parse.__name__.removeprefix("parse_")
    return convert


def add_arguments(p: argparse.ArgumentParser) -> None:
    from qapdsl.dialects import NAMES
    from qapdsl.scaffold import BACKENDS, DEFAULT_PART, PRUNE_KINDS

    p.add_argument("spec", metavar="SPEC", help="the .qap file to write (its folder is created); - prints the spec instead")
    p.add_argument("--name", help="the model's name (default: from the file name, e.g. my_model.qap → my_model)")
    p.add_argument(
        "--data",
        type=_arg(parse_data),
        metavar="SOURCE",
        help="sklearn:digits|iris|wine|breast_cancer (or just digits), file:PATH (or a path ending in .npz/.h5/.csv/.parquet), openml:NAME|ID (default digits)",
    )
    p.add_argument("--target", type=_arg(parse_target), metavar="COLUMN", help="the label column (CSV, parquet, OpenML) or array (.npz, .h5) of the data (default: the last column, or y)")
    p.add_argument("--input", type=_arg(parse_shape), metavar="SHAPE", help="shape of one sample: 16, or 28,28,1 (default: what the data says)")
    p.add_argument("--classes", type=_arg(parse_count), metavar="N", help="number of classes (default: what the data says)")
    p.add_argument("--hidden", type=_arg(parse_widths), metavar="W,W", help="widths of the hidden relu dense layers (default 32,32)")
    p.add_argument("--bits", type=_arg(parse_bits_or_float), metavar="N", help="bit width of weights and activations, 2-16, or float (default 6)")
    p.add_argument("--prune", choices=PRUNE_KINDS, help="pruning schedule: none, tfmot's constant or polynomial, the paper's iterative (default iterative)")
    p.add_argument("--sparsity", type=_arg(parse_sparsity), metavar="X", help="target fraction of weights pruned, e.g. 80%% or 0.8 (default 80%%)")
    p.add_argument("--backend", choices=BACKENDS, help="hls4ml backend (default vitis)")
    p.add_argument("--part", type=_arg(parse_part), help=f"FPGA part (default {DEFAULT_PART})")
    p.add_argument("--dialect", choices=NAMES, help="training dialect: qkeras (Keras 2) or hgq2 (Keras 3) (default qkeras)")
    p.add_argument("--epochs", type=int, metavar="N", help="training epochs (default 60 for scikit-learn's data, else 100)")
    p.add_argument("-y", "--yes", action="store_true", help="ask nothing: the defaults for whatever the flags do not say")
    p.add_argument("-f", "--force", action="store_true", help="overwrite SPEC when it exists")


# -- questions --------------------------------------------------------------------------------


class Asker:
    """Asks on a terminal (prompts on stderr, so `qapc new -` keeps stdout for the spec)."""

    def __init__(self, read: Callable[[str], str] | None = None, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        self.read = read or self._readline

    def _readline(self, prompt: str) -> str:
        """input(), but the prompt on `out`: input() writes it to stdout, where `qapc new -` writes the spec."""
        self.out.write(prompt)
        self.out.flush()
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    def __call__(self, prompt: str, default: str | None, parse: Callable[[str], T]) -> T:
        """Ask until `parse` takes the answer; Enter takes `default` (when there is one; "" is one too)."""
        from qapdsl.loader import UsageError

        shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
        while True:
            self.out.flush()
            try:
                answer = self.read(shown).strip()
            except EOFError:
                raise UsageError(f"no answer to '{prompt}': nothing written") from None
            if not answer and default is None:
                print("  an answer is needed", file=self.out)
                continue
            try:
                return parse(answer or (default or ""))
            except ValueError as e:
                print(f"  {e}", file=self.out)


def gather(args: argparse.Namespace, spec_path: Path, ask: Asker | None) -> Answers:
    """The scaffold's answers: each flag given, else its question (with `ask`), else its default."""
    from qapdsl import dialects, scaffold
    from qapdsl.backends.literals import comment_text
    from qapdsl.loader import UsageError

    def pick(given: T | None, prompt: str, default: str, parse: Callable[[str], T]) -> T:
        if given is not None:
            return given
        return ask(prompt, default, parse) if ask is not None else parse(default)

    source, name = pick(args.data, "Data: digits, iris, wine, breast_cancer, a file (.npz .h5 .csv .parquet), or openml:NAME", "digits", parse_data)
    target: str | None = args.target
    if source != "sklearn" and target is None and ask is not None and args.data is None:
        target = ask("Label column or array (Enter: the last column, or the array y)", "", lambda t: parse_target(t) if t else None)
    if source == "sklearn" and target is not None:
        raise UsageError(f"--target {comment_text(target)}: scikit-learn's {name} has its labels; --target names the label column of a file or an OpenML data set")
    choice = scaffold.DataChoice(source, name, target)
    shape: tuple[int, ...] | None = args.input
    classes: int | None = args.classes
    if source == "file" and shape is None:
        shape = scaffold.input_from_file(Path(name), target)
    if source != "sklearn" and (shape is None or classes is None):
        if ask is None:
            missing = [flag for flag, v in (("--input", shape), ("--classes", classes)) if v is None]
            raise UsageError(
                f"cannot tell the {' and the '.join('input shape' if m == '--input' else 'classes' for m in missing)} of {choice.shown()}: "
                f"give {' and '.join(missing)} (or run `qapc new` on a terminal to be asked)"
            )
        if shape is None:
            shape = ask("Input shape of one sample (e.g. 16, or 28,28,1)", None, parse_shape)
        if classes is None:
            classes = ask("Number of classes", None, parse_count)
    bits = pick(args.bits, "Bit width of weights and activations (2-16, or float)", "6", parse_bits_or_float)
    prune = pick(args.prune, "Pruning: none, constant, polynomial or iterative", "iterative", parse_choice(scaffold.PRUNE_KINDS))
    if prune == "none" and args.sparsity is not None:
        raise UsageError("--sparsity: with --prune none nothing is pruned (give --prune constant, polynomial or iterative, or no --sparsity)")
    sparsity = pick(args.sparsity, "Target sparsity (the fraction of the weights pruned)", "80%", parse_sparsity) if prune != "none" else 0.8
    return scaffold.Answers(
        name=args.name or scaffold.model_name(spec_path.stem),
        data=choice,
        input_shape=shape,
        classes=classes,
        hidden=args.hidden if args.hidden is not None else (32, 32),
        bits=None if bits == "float" else int(bits),
        prune=prune,
        sparsity=sparsity,
        backend=pick(args.backend, "hls4ml backend: " + ", ".join(scaffold.BACKENDS), "vitis", parse_choice(scaffold.BACKENDS)),
        part=pick(args.part, "FPGA part", scaffold.DEFAULT_PART, parse_part),
        dialect=pick(args.dialect, "Training dialect: qkeras (QKeras, Keras 2), hgq2 (HGQ2, Keras 3) or brevitas (Brevitas, PyTorch)", dialects.DEFAULT, parse_choice(dialects.NAMES)),
        epochs=args.epochs,
    )


def parse_bits_or_float(text: str) -> int | str:
    """--bits and its question: 2..16, or the word `float` (an unquantized model)."""
    bits = parse_bits(text)
    return "float" if bits is None else bits


# -- the command ------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    from qapdsl import scaffold
    from qapdsl.backends.literals import comment_text
    from qapdsl.commands.common import use_color
    from qapdsl.diagnostics import render
    from qapdsl.loader import UsageError
    from qapdsl.names import model_name_problem, suggestion

    to_stdout = args.spec == "-"
    path = Path("my_model.qap") if to_stdout else Path(args.spec)
    if not to_stdout:
        unwritable = next((ch for ch in args.spec if not ch.isprintable()), None)
        if unwritable is not None:
            what = "a byte that is not UTF-8" if "\udc80" <= unwritable <= "\udcff" else f"U+{ord(unwritable):04X}, an unprintable character"
            raise UsageError(f"{comment_text(args.spec)}: the spec's file name holds {what}; choose a name of printable characters")
        if path.suffix != ".qap":
            raise UsageError(f"{args.spec}: a spec's file name ends in .qap (e.g. {path.with_suffix('.qap') if path.suffix else path.name + '.qap'})")
        if (path.exists() or path.is_symlink()) and not args.force:
            raise UsageError(f"{path} exists: nothing written (--force overwrites it, or choose another name)")
        if path.is_dir():
            raise UsageError(f"{path} is a folder")
    if args.epochs is not None and args.epochs < 1:
        raise UsageError("--epochs must be at least 1")
    if args.name is not None and model_name_problem(args.name):
        raise UsageError(f"--name {args.name}: {model_name_problem(args.name)} (e.g. {suggestion(args.name)})")
    interactive = not args.yes and sys.stdin.isatty()
    answers = gather(args, path, Asker() if interactive else None)
    # the spec's folder exists while it is checked: paths in it (`data file "../x.csv"`) are resolved from there
    made = [] if to_stdout else _make_folders(path.parent)
    try:
        text, loaded = scaffold.render(answers, path)
    except scaffold.NotChecked as e:
        _remove_folders(made)
        print(render(e.loaded.diagnostics, e.loaded.sources, color=use_color(sys.stderr)), file=sys.stderr)
        print(f"qapc new: these answers make a spec that does not check; nothing written to {path}", file=sys.stderr)
        return EXIT_SPEC
    if loaded.diagnostics:
        print(render(loaded.diagnostics, loaded.sources, color=use_color(sys.stderr)), file=sys.stderr)
    if to_stdout:
        sys.stdout.write(text)
        return EXIT_OK
    _write(path, text, args.force)
    spec = loaded.spec
    assert spec is not None
    q = shlex.quote(str(path))
    widths = [_shown_shape(spec.model.input_shape), *(str(w) for w in answers.hidden), str(spec.model.layers[-1].units)]
    bits = "float" if answers.bits is None else f"{answers.bits}-bit"
    print(f"wrote {path}: model {spec.model.name} ({' → '.join(widths)}), {bits}, {_pruning(answers)}, {comment_text(answers.data.shown())}")
    qapc = _qapc_command()
    print("next:")
    print(f"  {qapc} check {q}     # diagnostics, with line, caret and hint")
    print(f"  {qapc} doctor {q}    # is everything the run needs there? (the ML stack, g++, the data)")
    print(f"  {qapc} run {q}       # train, convert with hls4ml, emulate in C++, report")
    return EXIT_OK


def _shown_shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def _pruning(a: Answers) -> str:
    from qapdsl import scaffold

    if a.prune == "none":
        return "no pruning"
    if a.prune == "iterative":
        rounds = scaffold.iterative_rounds(a.sparsity)
        return f"iterative pruning ({rounds} rounds of 20%)"
    return f"{a.prune} pruning to {100 * a.sparsity:.3g}%"


def _make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; the ones created, innermost first."""
    from qapdsl.loader import UsageError

    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create {folder}: {e.strerror or e}") from None
    return missing


def _remove_folders(folders: list[Path]) -> None:
    """Remove the folders `_make_folders` created, when nothing was put in them."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _write(path: Path, text: str, force: bool) -> None:
    """Create the file (never over one that appeared meanwhile, unless --force), with its folder."""
    import tempfile

    from qapdsl.loader import UsageError

    try:
        if not force:
            with open(path, "x", encoding="utf-8", newline="") as f:
                f.write(text)
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except FileExistsError:
        raise UsageError(f"{path} exists: nothing written (--force overwrites it)") from None
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None


def _qapc_command() -> str:
    """How to call this qapc again: `qapc` when the shell finds this one, else its path (e.g. .venv/bin/qapc)."""
    import shutil

    here = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    on_path = shutil.which("qapc")
    if here is None or here.name != "qapc" or (on_path is not None and Path(on_path).resolve() == here.resolve()):
        return "qapc"
    try:
        rel = os.path.relpath(here)
    except ValueError:
        rel = ".."
    return shlex.quote(rel if not rel.startswith("..") else str(here.absolute()))
