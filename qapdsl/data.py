"""The data a spec names: what is known about it before training, and where its file is.

- scikit-learn's bundled datasets are fixed: their sample, feature and class counts
  are facts `qapc check` uses (an `input 128` on digits, 64 features, is an error
  at check time rather than a crash in train.py). A test compares these figures
  with scikit-learn's own.
- A `data file "PATH"` is relative to the spec file that declares it, also when
  that spec is imported; `file_path` is the one place that resolves it (the
  build writes it into train.py, the runner checks it exists before training).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from qapdsl import ir

FILE_SUFFIXES = (".npz", ".h5", ".hdf5", ".csv", ".parquet")  # what `data file` may name
# data file format → its suffixes; train.py reads .npz for every spec and a `data file` spec's own format
FORMATS: dict[str, tuple[str, ...]] = {"npz": (".npz",), "h5": (".h5", ".hdf5"), "csv": (".csv",), "parquet": (".parquet",)}


@dataclass(frozen=True)
class Known:
    samples: int
    features: int
    classes: int
    max_abs: float  # the largest magnitude of a raw (unscaled) feature value


SKLEARN: dict[str, Known] = {
    "digits": Known(samples=1797, features=64, classes=10, max_abs=16.0),
    "iris": Known(samples=150, features=4, classes=3, max_abs=7.9),
    "wine": Known(samples=178, features=13, classes=3, max_abs=1680.0),
    "breast_cancer": Known(samples=569, features=30, classes=2, max_abs=4254.0),
}


def known(spec: ir.Spec) -> Known | None:
    """Sample, feature and class counts when the data is fixed (scikit-learn's), else None."""
    data = spec.train.data
    return SKLEARN.get(data.name) if data.source == "sklearn" else None


def file_format(name: str) -> str | None:
    """The format of a data file name (by its suffix), or None."""
    lower = name.lower()
    return next((fmt for fmt, suffixes in FORMATS.items() if lower.endswith(suffixes)), None)


def read_formats(spec: ir.Spec) -> tuple[str, ...]:
    """The file formats the spec's train.py reads: its data file's (a `data file` spec), and .npz for `--data`."""
    own = file_format(spec.train.data.name) if spec.train.data.source == "file" else None
    return ("npz",) if own in (None, "npz") else (own, "npz")


def override_suffixes(spec: ir.Spec) -> tuple[str, ...]:
    """The suffixes `--data PATH` may have (train.py's and `qapc run`'s): what the spec's train.py reads."""
    return tuple(s for fmt in read_formats(spec) for s in FORMATS[fmt])


def split_sizes(samples: int, test: float, val: float) -> tuple[int, int, int]:
    """(train, val, test) rows as train.py's `train_test_split` makes them (it rounds the held-out part up)."""
    n_test = math.ceil(test * samples)
    rest = samples - n_test
    n_val = math.ceil(val * rest)
    return rest - n_val, n_val, n_test


def file_path(spec: ir.Spec) -> Path | None:
    """The data file of a `data file` spec, resolved against the spec file that declares it (None for other sources).

    Absolute paths stay as they are; a relative one is joined to the folder of the
    file the `data` statement was written in (its span), which is the imported
    file when the train section comes from an import.
    """
    data = spec.train.data
    if data.source != "file":
        return None
    path = Path(data.name)
    if path.is_absolute():
        return path
    origin = data.span.file if data.span else (spec.sources[0].path if spec.sources else "<spec>")
    base = Path(origin).parent if origin not in ("<spec>", "") else Path(".")
    return base / path


HEADER_LIMIT = 1024 * 1024  # bytes of a CSV's first line read at check time
# numpy's .npy header: a flat dict literal of descr, fortran_order and shape (nothing that nests or computes)
NPY_HEADER = re.compile(r"\{\s*(?:'[a-z_]+'\s*:\s*(?:'[^']*'|True|False|\((?:\s*\d+\s*,?)*\))\s*,?\s*)*\}")


@dataclass(frozen=True)
class FileFacts:
    """What a data file says about itself without loading it: its columns (tables) or arrays and their shapes."""

    columns: tuple[str, ...] | None = None  # a CSV's header
    arrays: dict[str, tuple[int, ...]] | None = None  # an .npz's arrays and shapes


def file_facts(path: Path) -> FileFacts | None:
    """The header of a CSV or the array shapes of an .npz, read with the standard library only
    (`qapc check` imports no numpy); None for other formats or an unreadable file."""
    import ast
    import csv
    import zipfile

    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with open(path, encoding="utf-8", errors="replace") as f:
                first = f.readline(HEADER_LIMIT)  # the header line only, and a bounded one
            header = next(csv.reader([first]), None)
            return FileFacts(columns=tuple(header)) if header and len(header) <= 100_000 else None
        if suffix == ".npz":
            arrays: dict[str, tuple[int, ...]] = {}
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
                if len(names) > 1000:
                    return None
                for name in names:
                    if not name.endswith(".npy"):
                        continue
                    with z.open(name) as f:  # streamed: only the header is inflated
                        head = f.read(10)  # magic, version, header length (2 bytes in version 1, 4 after)
                        if head[:6] != b"\x93NUMPY":
                            return None
                        size = int.from_bytes(head[8:10], "little") if head[6] == 1 else int.from_bytes(head[8:10] + f.read(2), "little")
                        if size > 4096:  # numpy writes a few dozen bytes: anything else is not an array header
                            return None
                        text = f.read(size).decode("latin1")
                    if not NPY_HEADER.fullmatch(text.strip()):
                        return None
                    meta = ast.literal_eval(text.strip())
                    arrays[name[: -len(".npy")]] = tuple(int(n) for n in meta["shape"])
            return FileFacts(arrays=arrays)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError, UnicodeError, RecursionError, MemoryError, csv.Error, zipfile.BadZipFile):
        return None
    return None


@dataclass(frozen=True)
class Misfit:
    """Why a data file does not fit a spec, in the words of `qapc check` (and `qapc doctor`)."""

    code: str  # E604: no such label column or array; E603: the samples do not fit the model's input
    message: str
    hint: str
    at_input: bool  # the model's `input` is what to change (else the `data` statement)


def misfit(facts: FileFacts, shown: str, target: str | None, features: int) -> Misfit | None:
    """Does a file with these columns or arrays give train.py a label and samples of `features` values?
    The label is `target`, else the last column (tables) or the array `y`; the samples are the other
    columns, or the array `X` (`x`, else the first other one), as train.py's `load_file` takes them."""
    from qapdsl.diagnostics import did_you_mean
    from qapdsl.shapes import fmt

    if facts.columns is not None:
        label = target if target is not None else facts.columns[-1]
        if label not in facts.columns:
            return Misfit("E604", f"{shown} has no column {label!r}", did_you_mean(label, facts.columns) or "columns: " + ", ".join(facts.columns[:12]), False)
        if len(facts.columns) - 1 != features:
            return Misfit(
                "E603",
                f"{shown} has {len(facts.columns) - 1} feature columns besides {label!r}, but the model's input takes {features}",
                f"write `input {len(facts.columns) - 1}`" if len(facts.columns) > 1 else "the file holds no feature column: give one with the samples' values",
                len(facts.columns) > 1,
            )
    if facts.arrays is not None:
        keys = list(facts.arrays)
        label = target if target is not None else "y"
        if label not in facts.arrays:
            return Misfit("E604", f"{shown} has no array {label!r}", did_you_mean(label, keys) or "arrays: " + (", ".join(keys) or "none"), False)
        x_key = "X" if "X" in keys else ("x" if "x" in keys else next((k for k in keys if k != label), None))
        if x_key is None:
            return Misfit("E604", f"{shown} has no feature array besides {label!r}", "save the samples as an array `X` beside the labels", False)
        shape = facts.arrays[x_key]
        if len(shape) >= 1 and math.prod(shape[1:]) != features:
            return Misfit(
                "E603",
                f"{shown}'s {x_key!r} holds samples of shape {fmt(shape[1:])}, but the model's input takes {features} values",
                f"write `input {fmt(shape[1:]) if len(shape) > 2 else math.prod(shape[1:])}`",
                True,
            )
    return None

