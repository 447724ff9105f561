"""`qapc new`'s spec: a commented starting point from a few answers, formatted and checked before anyone sees it.

    text, loaded = scaffold.render(Answers(name="my_model", data=DataChoice("sklearn", "digits")), Path("my_model.qap"))

`render` writes the spec as text, puts it through `qapc fmt` (`qapdsl.fmt.format_text`, so it is in the
canonical layout by construction) and loads it with `qapdsl.loader.load_text` as the file it will be:
it returns the text only when the spec checks without errors, and raises `NotChecked` with the
loader's diagnostics otherwise (an answer that does not fit the data, a part name hls4ml refuses, ...).
No TensorFlow, no numpy: what is known about the data comes from `qapdsl.data`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from qapdsl import __version__, data, dialects
from qapdsl.backends.literals import comment_text
from qapdsl.loader import Loaded, load_text
from qapdsl.names import model_name_problem, suggestion
from qapdsl.syntax import quote

PRUNE_KINDS = ("none", "constant", "polynomial", "iterative")
BACKENDS = ("vitis", "vivado", "quartus", "oneapi", "catapult")
DEFAULT_PART = "xcu250-figd2104-2L-e"
ITERATIVE_RATE = 0.2  # the paper's: a fifth of the remaining weights per round
MIN_BITS, MAX_BITS = 2, 16
DATA_TITLES = {"digits": "8x8 images of handwritten digits", "iris": "iris flowers", "wine": "wine cultivars", "breast_cancer": "breast cancer diagnoses"}


@dataclass(frozen=True)
class DataChoice:
    source: str  # "sklearn", "file", "openml"
    name: str  # data set name, file path (as the user gave it), OpenML name or id
    target: str | None = None  # label column or array

    def shown(self) -> str:
        if self.source == "sklearn":
            return f"scikit-learn's {self.name}"
        return f"file {self.name}" if self.source == "file" else f"OpenML '{self.name}'"


@dataclass(frozen=True)
class Answers:
    name: str
    data: DataChoice
    input_shape: tuple[int, ...] | None = None  # None: the data's (scikit-learn's sets, a file's header)
    classes: int | None = None  # None: the data's
    hidden: tuple[int, ...] = (32, 32)
    bits: int | None = 6  # None: a float model
    prune: str = "iterative"
    sparsity: float = 0.8
    backend: str = "vitis"
    part: str = DEFAULT_PART
    dialect: str = dialects.DEFAULT
    epochs: int | None = None  # None: 60 for scikit-learn's small sets, else 100


class NotChecked(Exception):
    """The answers make a spec that does not check: `loaded` holds the diagnostics and the text."""

    def __init__(self, loaded: Loaded, text: str) -> None:
        super().__init__("the spec made from these answers does not check")
        self.loaded = loaded
        self.text = text


def model_name(stem: str) -> str:
    """A model name from a file name: as written when hls4ml's C++ takes it, else one in its spirit."""
    return stem if model_name_problem(stem) is None else suggestion(stem)


def data_path_in_spec(path: str, spec_path: Path) -> str:
    """A data file given relative to the working directory, as the spec must say it: relative to the spec's folder."""
    if os.path.isabs(path):
        return path
    return os.path.relpath(os.path.abspath(path), os.path.abspath(spec_path.parent)).replace(os.sep, "/")


def input_from_file(path: Path, target: str | None) -> tuple[int, ...] | None:
    """The sample shape a data file declares in its header (a CSV's columns but the label, an .npz's X), or None."""
    facts = data.file_facts(path) if path.is_file() else None
    if facts is None:
        return None
    if facts.columns is not None:
        n = len(facts.columns) - 1
        return (n,) if n >= 1 and (target is None or target in facts.columns) else None
    if facts.arrays is not None:
        x_key = "X" if "X" in facts.arrays else ("x" if "x" in facts.arrays else None)
        shape = facts.arrays.get(x_key) if x_key else None
        return tuple(shape[1:]) if shape is not None and len(shape) >= 2 else None
    return None


def iterative_rounds(sparsity: float) -> int:
    """Rounds of ITERATIVE_RATE that reach at least `sparsity` of the weights pruned."""
    return max(1, min(100, math.ceil(math.log(1 - sparsity) / math.log(1 - ITERATIVE_RATE) - 1e-9)))


def _pct(x: float) -> str:
    return f"{100 * x:.3g}%"


def _shape(shape: tuple[int, ...]) -> str:
    return str(shape[0]) if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"


def _lines(a: Answers, spec_path: Path) -> list[str]:
    known = data.SKLEARN.get(a.data.name) if a.data.source == "sklearn" else None
    shape = a.input_shape or ((known.features,) if known else None)
    classes = a.classes or (known.classes if known else None)
    if shape is None or classes is None:
        raise ValueError("the input shape and the number of classes are needed for this data")
    small = known is not None
    epochs = a.epochs or (60 if small else 100)
    if known is not None:
        n_train, _, _ = data.split_sizes(known.samples, 0.2, 0.2)
        batch = min(64, max(8, n_train // 8))
        steps_per_epoch = math.ceil(n_train / batch)
    else:
        batch, steps_per_epoch = 256, None
    what = f"{a.bits}-bit quantization-aware training" if a.bits else "a float (32-bit) baseline"
    if a.prune == "iterative":
        rounds = iterative_rounds(a.sparsity)
        reached = 1 - (1 - ITERATIVE_RATE) ** rounds
        what += f" with iterative magnitude pruning ({rounds} rounds of {_pct(ITERATIVE_RATE)}: {_pct(reached)} of the weights pruned)"
    elif a.prune != "none":
        what += f" with tfmot's {a.prune} pruning schedule to {_pct(a.sparsity)} sparsity"
    out = [
        f"# {a.name}: {what},",
        comment_text(f"# on {a.data.shown()}; firmware for the FPGA part {a.part} ({a.backend} backend)."),
        comment_text(f"# Written by `qapc new` (qapc {__version__}). Next: `qapc check {spec_path.name}`, then `qapc run {spec_path.name}`."),
        "# Every key and its default: docs/language.md in qapc's repository.",
        "",
        f"model {a.name} {{",
    ]
    if known is not None:
        out.append(f"    input {_shape(shape)}  # {known.features} features per sample ({DATA_TITLES.get(a.data.name, a.data.name)})")
    else:
        out.append(f"    input {_shape(shape)}  # the shape of one sample")
    if a.bits:
        b = a.bits
        out += [
            "    # fixed<W,I>: W bits, I of them integer bits (the sign included); ufixed<W,I>: unsigned, for relu outputs",
            f"    quant inputs fixed<{b + 2},3>, weights fixed<{b},1>, activations ufixed<{b},2>",
        ]
    else:
        out.append("    # no `quant`: float weights and activations (add e.g. `quant weights fixed<6,1>, activations ufixed<6,2>`)")
    if len(shape) > 1:
        out.append("    flatten flat  # dense layers take a flat vector")
    for i, units in enumerate(a.hidden, 1):
        out.append(f"    dense fc{i} {units} relu")
    out += [f"    dense out {classes} softmax  # one output per class", "}", ""]
    if a.prune != "none":
        out += ["prune {", "    method magnitude"]
        if a.prune == "iterative":
            out += [
                "    scope global  # one threshold across all layers",
                "    # the paper's loop: train, remove the smallest 20% of the weights left, train again (rewind init: lottery ticket)",
                f"    schedule iterative {{ rounds {rounds}; rate {_pct(ITERATIVE_RATE)}; rewind none; epochs {max(1, epochs // 2)} }}",
            ]
        else:
            frequency = f"; frequency {max(1, min(100, steps_per_epoch))}" if steps_per_epoch else ""
            initial = "initial 0%; " if a.prune == "polynomial" else ""
            out += [
                "    # each layer pruned to the target by tfmot's schedule (in optimizer steps; frequency: steps between pruning steps)",
                f"    schedule {a.prune} {{ {initial}target {_pct(a.sparsity)}{frequency} }}",
            ]
        out += ["}", ""]
    out += ["train {"]
    if a.data.source == "sklearn":
        out.append(f"    data sklearn {a.data.name}  # bundled with scikit-learn: no download")
    elif a.data.source == "file":
        where = quote(data_path_in_spec(a.data.name, spec_path))
        target = f" target {quote(a.data.target)}" if a.data.target is not None else ""
        label = comment_text(a.data.target) if a.data.target is not None else "the last column, or the array y"
        out.append(f"    data file {where}{target}  # relative to this spec's folder; the label: {label}")
    else:
        name = a.data.name if re.fullmatch("[1-9][0-9]*", a.data.name) else quote(a.data.name)  # an id as the number it is
        target = f" target {quote(a.data.target)}" if a.data.target is not None else ""
        out.append(f"    data openml {name}{target}  # downloaded once, then read from scikit-learn's cache")
    out += [
        "    split test 0.2, val 0.2  # held-out fractions: test first, then validation from the rest",
        "    scale standard",
        "    seed 42",
    ]
    if known is None:
        out.append(f"    classes {classes}")
    out += [
        f"    optimizer adam lr {'3e-3' if small else '1e-3'}",
        f"    batch {batch}",
        f"    epochs {epochs}" + ("  # the first, dense training; each pruning round trains the schedule's `epochs`" if a.prune == "iterative" else ""),
        # a polynomial schedule reaches its target at the end of training: stopping early would stop short of it
        "    early_stop none  # the polynomial schedule reaches its target only at the last step"
        if a.prune == "polynomial"
        else "    early_stop patience 10",
        f"    dialect {a.dialect}  # " + ("QKeras on Keras 2 (TensorFlow 2.14); or hgq2: HGQ2 on Keras 3" if a.dialect == "qkeras" else "HGQ2 on Keras 3 (JAX); or qkeras"),
        "}",
        "",
        "target fpga {",
        f"    backend {a.backend}",
        f"    part {quote(a.part)}",
        "    clock 5 ns",
        "    io parallel",
        "    strategy latency  # or resource, with a `reuse` factor above 1",
        "    reuse 1",
        "}",
    ]
    return out


def render(a: Answers, spec_path: Path) -> tuple[str, Loaded]:
    """The spec's text, formatted, and what loading it as the file `spec_path` found (warnings, at most).

    Raises NotChecked when it has errors, ValueError when the answers lack the input shape or the
    classes and the data cannot tell them."""
    from qapdsl.fmt import format_text

    raw = "\n".join(_lines(a, spec_path)) + "\n"
    text = format_text(raw, str(spec_path))
    loaded = load_text(text, str(spec_path), base_dir=spec_path.parent if str(spec_path.parent) else Path("."))
    if not loaded.ok:
        raise NotChecked(loaded, text)
    return text, loaded
