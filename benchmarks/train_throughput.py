"""Training throughput: qapc's generated train.py against a hand-written script of the same dialect.

Both train the same model on the same data (the digits MLP of specs/digits_qap.qap
with 80% constant sparsity), one after the other, in the dialect's interpreter
(`qapdsl.environments`): for `--dialect qkeras` (default) the hand-written one is
benchmarks/handwritten_digits.py (QKeras + tfmot, in the hls4ml tutorial's style), for
`--dialect hgq2` benchmarks/handwritten_digits_hgq2.py (HGQ2 on Keras 3 / JAX, pruned by a
Keras callback), for `--dialect brevitas` benchmarks/handwritten_digits_brevitas.py (Brevitas on
PyTorch, pruned with torch.nn.utils.prune). They run `--repeats`
times, interleaved so both see the same machine load. Each is timed the same way,
from its own output: the arrival times of its epoch lines give the duration of
every epoch after the first (start-up, data loading, graph tracing and saving
left out); a run's throughput is the training-set size over its median epoch
time, which a burst of load from other processes on the machine does not move.
Prints samples/s of both (median over the repeats), their ratio (generated /
hand-written, the median of each repeat's back-to-back pair; the target is at least 0.9)
and both test accuracies.

    python benchmarks/train_throughput.py [--dialect qkeras|hgq2|brevitas] [--learned] [--epochs N] [--repeats R] [--min-ratio 0.9]

`--learned` (with `--dialect hgq2`): the weights learn their widths (against EBOPs, beta 1e-5), in the
generated train.py and in benchmarks/handwritten_digits_learned.py alike.

Exits 1 when the median ratio is below --min-ratio.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPEC = """# train_throughput.py: digits_qap with tfmot's ConstantSparsity, as the hand-written script
import "digits_qap.qap"

model digits_bench from digits_qap {
}

prune {
    scope layer
    schedule constant { target 80%; begin 90; frequency 18 }
}

train {
    dialect {dialect}
    epochs 40
}
"""
SPEC_LEARNED = """# train_throughput.py --learned: digits_qap's types, the weights learning their widths, as the hand-written script
import "digits_float.qap"

model digits_bench from digits_float {
    quant inputs fixed<8,3>, weights learned fixed<6,1> beta 1e-5, activations ufixed<6,2>
}

train {
    dialect hgq2
    epochs 40
    early_stop none
}
"""
HANDWRITTEN = {"qkeras": "handwritten_digits.py", "hgq2": "handwritten_digits_hgq2.py", "learned": "handwritten_digits_learned.py", "brevitas": "handwritten_digits_brevitas.py"}


@dataclass
class Timing:
    epochs: int
    n_train: int
    epoch_seconds: float  # median time of one epoch (after the first)
    accuracy: float

    @property
    def throughput(self) -> float:
        return self.n_train / self.epoch_seconds


def _run(cmd: list[str], cwd: Path, is_epoch: Callable[[str], bool]) -> list[float]:
    """Run a training script; return the arrival times of its epoch lines."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=_env())
    stamps: list[float] = []
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        now = time.perf_counter()
        lines.append(line.rstrip("\n"))
        if is_epoch(line):
            stamps.append(now)
    if proc.wait() != 0:
        sys.exit(f"train_throughput: {' '.join(cmd)} failed:\n" + "\n".join(lines[-20:]))
    return stamps


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def _is_qapc_epoch(line: str) -> bool:
    if not line.startswith("@qapc "):
        return False
    event = json.loads(line[6:])
    return event.get("step") == "train" and event.get("epoch") is not None


def _timing(stamps: list[float], metrics: dict[str, float]) -> Timing:
    if len(stamps) < 2:
        sys.exit("train_throughput: fewer than two epochs ran (early stopping?): nothing to time")
    epoch_times = [b - a for a, b in itertools.pairwise(stamps)]
    return Timing(len(stamps), int(metrics["n_train"]), statistics.median(epoch_times), float(metrics["accuracy"]))


def run_generated(python: str, build: Path, epochs: int) -> Timing:
    stamps = _run([python, str(build / "train.py"), "--out", str(build), "--epochs", str(epochs)], build, _is_qapc_epoch)
    metrics = json.loads((build / "metrics.json").read_text())
    return _timing(stamps, metrics)


def run_handwritten(python: str, dialect: str, work: Path, epochs: int) -> Timing:
    script = ROOT / "benchmarks" / HANDWRITTEN[dialect]
    stamps = _run([python, str(script), "--out", str(work), "--epochs", str(epochs)], work, lambda s: s.startswith("epoch "))
    metrics = json.loads((work / "handwritten_metrics.json").read_text())
    return _timing(stamps, metrics)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialect", choices=sorted(HANDWRITTEN), default="qkeras", help="the training dialect (default: qkeras)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-ratio", type=float, default=0.9)
    parser.add_argument("--learned", action="store_true", help="learned bit widths (hgq2): benchmarks/handwritten_digits_learned.py")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.learned and args.dialect != "hgq2":
        parser.error("--learned needs --dialect hgq2 (QKeras has fixed widths)")
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (throughput is measured between the first and the last epoch)")

    from qapdsl import dialects, environments
    from qapdsl.backends import build
    from qapdsl.loader import load_file

    try:
        python = environments.find(dialects.get(args.dialect)).python
    except environments.NoInterpreter as e:
        sys.exit(f"train_throughput: {e}")

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="qapc-throughput-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for name in ("digits_float.qap", "digits_qap.qap"):
            shutil.copy(ROOT / "specs" / name, work / name)
        (work / "bench.qap").write_text(SPEC_LEARNED if args.learned else SPEC.replace("{dialect}", args.dialect), encoding="utf-8")
        loaded = load_file(work / "bench.qap")
        if loaded.spec is None:
            sys.exit(f"train_throughput: the benchmark spec does not check: {[d.message for d in loaded.diagnostics]}")
        gen_dir, hand_dir = work / "generated", work / "handwritten"
        hand_dir.mkdir(exist_ok=True)
        build(loaded.spec, gen_dir, spec_path=str(work / "bench.qap"))

        gen: list[Timing] = []
        hand: list[Timing] = []
        for r in range(args.repeats):
            # alternate which goes first, so a change of machine load hits both alike
            order = [("generated", gen_dir), ("handwritten", hand_dir)]
            for label, d in order if r % 2 == 0 else order[::-1]:
                t = run_generated(python, d, args.epochs) if label == "generated" else run_handwritten(python, "learned" if args.learned else args.dialect, d, args.epochs)
                (gen if label == "generated" else hand).append(t)
                print(f"run {r + 1}/{args.repeats} {label:<11} {t.epochs} epochs, {t.throughput:8.0f} samples/s, test accuracy {t.accuracy:.4f}", flush=True)

        g = statistics.median(t.throughput for t in gen)
        h = statistics.median(t.throughput for t in hand)
        # each repeat's pair ran back to back: the median of their ratios is what load changes least
        ratio = statistics.median(a.throughput / b.throughput for a, b in zip(gen, hand, strict=True))
        print()
        print(f"{args.dialect}{' with learned widths' if args.learned else ''} ({python})")
        print(f"generated train.py   {g:8.0f} samples/s   accuracy {statistics.mean(t.accuracy for t in gen):.4f}")
        print(f"hand-written         {h:8.0f} samples/s   accuracy {statistics.mean(t.accuracy for t in hand):.4f}")
        print(f"throughput ratio (generated / hand-written, median of the {args.repeats} pairs): {ratio:.3f}  (target >= {args.min_ratio})")
        return 0 if ratio >= args.min_ratio else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
