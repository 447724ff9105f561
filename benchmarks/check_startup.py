"""How fast `qapc check` starts and how it scales: figures, measured in one run.

1. `qapc check specs/jet.qap` as a fresh process, against the floor
   `python -c "import lark, pydantic"` (the two libraries the check path
   cannot avoid), interleaved so all see the same machine load; medians of
   N runs and their ratio (target: at most 1.3x). `import pydantic` alone is
   lazy and loads no BaseModel machinery, so a second floor also defines
   one frozen BaseModel class, which a Pydantic IR cannot avoid. Also one run with
   an empty Lark grammar cache (a cold first run after install).
   Bytecode: the processes run as an installed qapc does, with .pyc files
   (PYTHONDONTWRITEBYTECODE is removed from their environment); one more
   figure shows the cost of compiling our sources on every start.
2. Proof that the check path imports no part of the ML stack: `qapc check` in
   a fresh interpreter, then a look at `sys.modules`.
3. Generated 250 to 8,000-layer specs (with a 2×2 sweep, every point checked),
   checked in a fresh process and in-process (load + lower + checks + build
   plan); the time per layer should stay flat: linear growth.

Usage: python benchmarks/check_startup.py [--runs N] [--no-scaling]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JET = ROOT / "specs" / "jet.qap"
PY = sys.executable
HEAVY = ("tensorflow", "keras", "qkeras", "hls4ml", "tensorflow_model_optimization", "numpy", "jinja2", "yaml", "sklearn")


def qapc_argv() -> list[str]:
    """The installed `qapc` script when there is one (what users run), else `python -m qapdsl.cli`."""
    script = Path(PY).with_name("qapc")
    return [str(script)] if script.exists() else [PY, "-m", "qapdsl.cli"]


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=env or ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def startup(runs: int) -> float:
    floor_argv = [PY, "-c", "import lark, pydantic"]
    model_argv = [PY, "-c", "import lark, pydantic\n" + PYDANTIC_MODEL]
    check_argv = [*qapc_argv(), "check", str(JET)]
    timed(check_argv)  # warm the OS file cache, the .pyc files and the grammar cache
    floor, model, check = [], [], []
    for _ in range(runs):
        floor.append(timed(floor_argv))
        model.append(timed(model_argv))
        check.append(timed(check_argv))
    f, m, c = statistics.median(floor), statistics.median(model), statistics.median(check)
    print(f"startup, median of {runs} fresh processes (interleaved):")
    print(f"  floor  python -c 'import lark, pydantic'             {f * 1000:7.1f} ms  (min {min(floor) * 1000:.1f})")
    print(f"  floor + one frozen pydantic BaseModel class         {m * 1000:7.1f} ms  (min {min(model) * 1000:.1f})")
    print(f"  qapc check specs/jet.qap                            {c * 1000:7.1f} ms  (min {min(check) * 1000:.1f})")
    ratio = c / f
    print(f"  ratio to the floor                                  {ratio:7.2f}x  (target <= 1.30x: {'met' if ratio <= 1.3 else 'NOT met'})")
    print(f"  ratio to the floor with BaseModel                   {c / m:7.2f}x  (what our own code costs on top of Pydantic)")
    print(f"  ratio of medians, min to min                        {min(check) / min(floor):7.2f}x / {min(check) / min(model):.2f}x")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**ENV, "TMPDIR": tmp}  # an empty Lark cache: the grammar is analysed from scratch
        cold = timed(check_argv, env)
    print(f"  qapc check with a cold grammar cache                {cold * 1000:7.1f} ms  (first run after install)")
    nopyc = statistics.median(timed(check_argv, {**ENV, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": tmp_prefix()}) for _ in range(5))
    print(f"  qapc check compiling qapdsl from source every time  {nopyc * 1000:7.1f} ms  (no .pyc: PYTHONDONTWRITEBYTECODE=1)")
    return ratio


PYDANTIC_MODEL = """from pydantic import BaseModel, ConfigDict, Field
class _P(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)
    x: int | None = Field(default=None)
"""
BREAKDOWN = """
import time, io, contextlib, json
t0 = time.perf_counter()
import lark, pydantic
t1 = time.perf_counter()
PYDANTIC_MODEL
t2 = time.perf_counter()
import qapdsl.cli, qapdsl.loader, qapdsl.checks
t3 = time.perf_counter()
from qapdsl.syntax import _lark
_lark()
t4 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    qapdsl.cli.main(["check", JET])
t5 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]))
"""


def breakdown(runs: int) -> None:
    """Where the time of one start goes, measured inside fresh processes."""
    rows = []
    for _ in range(runs):
        proc = subprocess.run(
            [PY, "-c", BREAKDOWN.replace("JET", repr(str(JET))).replace("PYDANTIC_MODEL", PYDANTIC_MODEL)],
            cwd=ROOT,
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    names = [
        "import lark, pydantic (the floor)",
        "pydantic BaseModel machinery (one model class)",
        "import qapdsl (cli, loader, ir, checks, ...)",
        "Lark parser from the grammar cache",
        "check jet.qap (parse, imports, lower, checks)",
    ]
    print(f"where the time goes, median of {runs} fresh processes:")
    for i, name in enumerate(names):
        print(f"  {name:<48} {statistics.median(r[i] for r in rows) * 1000:7.1f} ms")


def tmp_prefix() -> str:
    """An empty pycache prefix, so the sources really are compiled."""
    return tempfile.mkdtemp(prefix="qapc-nopyc-")


def no_ml_stack() -> None:
    code = (
        "import sys, json\n"
        "from qapdsl.cli import main\n"
        f"rc = main(['check', {str(JET)!r}])\n"
        f"print(json.dumps({{'rc': rc, 'loaded': [m for m in {HEAVY!r} if m in sys.modules], 'modules': len(sys.modules)}}))\n"
    )
    proc = subprocess.run([PY, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0, proc.stderr
    assert "tensorflow" not in result["loaded"], result
    print(f"ML stack on the check path: none of {', '.join(HEAVY)} imported" if not result["loaded"] else f"imported: {result['loaded']}")
    print(f"  modules loaded by `qapc check`: {result['modules']}")
    assert not result["loaded"], f"the check path imports {result['loaded']}"


def layered_spec(n: int) -> str:
    layers = "\n".join(f"    dense fc{i} 8 relu {{ reuse 2 }}" for i in range(n - 1))
    return (
        f"model deep {{\n    input 8\n    quant weights fixed<6,1>, activations ufixed<6,0>\n{layers}\n    dense out 5 softmax\n}}\n\n"
        "prune {\n    skip out\n    schedule iterative { rounds 4; rate 20% }\n}\n\n"
        'train {\n    data openml "jets"\n    classes 5\n}\n\n'
        "sweep {\n    quant.bits in [4, 8]\n    fc1.units in [8, 16]\n}\n"
    )


def scaling() -> None:
    sys.path.insert(0, str(ROOT))
    from qapdsl.loader import load_file

    print("scaling (generated specs, dense layers of 8 units):")
    print(f"  {'layers':>6}  {'process ms':>10}  {'in-process ms (min of 7)':>24}  {'us/layer':>9}")
    per_layer, totals, sizes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (250, 500, 1000, 2000, 4000, 8000):
            path = Path(tmp) / f"deep{n}.qap"
            path.write_text(layered_spec(n), encoding="utf-8")
            process = statistics.median(timed([*qapc_argv(), "check", str(path)]) for _ in range(3))
            samples = []
            for _ in range(7):
                start = time.perf_counter()
                loaded = load_file(path)
                samples.append(time.perf_counter() - start)
                assert loaded.ok, [str(d) for d in loaded.diagnostics[:3]]
            inproc = min(samples)  # the least disturbed of 7 runs: the machine may be shared
            per_layer.append(inproc / n)
            totals.append(inproc)
            sizes.append(n)
            print(f"  {n:>6}  {process * 1000:>10.1f}  {inproc * 1000:>24.1f}  {inproc / n * 1e6:>9.1f}")
    spread = max(per_layer) / min(per_layer)
    doublings = [b / a for a, b in itertools.pairwise(totals)]  # the layer count doubles at each step
    marginal = [(b - a) / (m - n) * 1e6 for a, b, n, m in zip(totals, totals[1:], sizes, sizes[1:])]
    print(f"  time per layer varies by {spread:.2f}x from {sizes[0]} to {sizes[-1]} layers (fixed costs weigh more in small specs)")
    print("  time ratio at each doubling of the layers: " + ", ".join(f"{d:.2f}x" for d in doublings) + " (linear: 2x, quadratic: 4x)")
    print("  marginal cost per added layer: " + ", ".join(f"{c:.0f} us" for c in marginal))
    verdict = "linear" if max(doublings) <= 2.5 else "NOT linear"
    print(f"  growth: {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--no-scaling", action="store_true")
    args = ap.parse_args()
    if not shutil.which(PY):
        raise SystemExit("no python")
    startup(args.runs)
    breakdown(max(args.runs // 2, 3))
    no_ml_stack()
    if not args.no_scaling:
        scaling()


if __name__ == "__main__":
    main()
