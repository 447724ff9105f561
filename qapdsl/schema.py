"""The vocabulary of the language: which keys each block takes, with docs.

The grammar (grammar/qap.lark) fixes the shape of a spec; this module fixes
its words. The lowering pass, the language server's completion and hover,
the editor-grammar tests and docs/language.md all read these tables, so a new
key is added in exactly one place.
"""

from __future__ import annotations

LAYER_KINDS: dict[str, str] = {
    "dense": "dense NAME UNITS [ACTIVATION] — fully connected layer (QDense)",
    "conv1d": "conv1d NAME FILTERS [ACTIVATION] kernel K [stride S] [padding valid|same] (QConv1D)",
    "conv2d": "conv2d NAME FILTERS [ACTIVATION] kernel K|(KH,KW) [stride S] [padding valid|same] (QConv2D)",
    "maxpool": "maxpool NAME [POOL] [stride S] [padding valid|same] — 1D or 2D by the input's rank",
    "avgpool": "avgpool NAME [POOL] [stride S] [padding valid|same] — 1D or 2D by the input's rank",
    "flatten": "flatten NAME",
    "batchnorm": "batchnorm NAME — a standalone batch normalisation",
    "activation": "activation NAME ACTIVATION — a standalone (quantized) activation",
    "dropout": "dropout NAME RATE — dropout, training only",
}

ACTIVATIONS: dict[str, str] = {
    "relu": "rectified linear; quantized with quantized_relu (ufixed)",
    "softmax": "softmax; float in QKeras and a lookup table in hls4ml, HGQ2's QSoftmax (exact) in the hgq2 dialect",
    "sigmoid": "logistic sigmoid; float in QKeras and a lookup table in hls4ml, a quantized table (exact) in the hgq2 dialect",
    "tanh": "hyperbolic tangent; float in QKeras and a lookup table in hls4ml, a quantized table (exact) in the hgq2 dialect",
    "linear": "identity; quantized with quantized_bits when activations are quantized",
}

WEIGHT_LAYERS = frozenset({"dense", "conv1d", "conv2d"})

MODEL_KEYS: dict[str, str] = {
    "input": "input N | input (D1, D2, ...) — shape of one sample, without the batch axis",
    "quant": "quant weights Q, bias Q, activations Q, inputs Q — model-wide default quantizers",
    "layer": "layer NAME { settings } — change settings of a layer of the base model (derived models)",
    "remove": "remove NAME — drop a layer of the base model (derived models)",
    **LAYER_KINDS,
}

LAYER_SETTINGS: dict[str, str] = {
    "weights": "weights Q — quantizer of the kernel (default: the model's `quant weights`)",
    "bias": "bias Q — quantizer of the bias (default: the model's `quant bias`, else the weights')",
    "activations": "activations Q — quantizer of the layer's activation output",
    "batchnorm": "batchnorm — batch normalisation between the layer and its activation",
    "l1": "l1 X — L1 kernel regularisation",
    "l2": "l2 X — L2 kernel regularisation",
    "reuse": "reuse N — hls4ml reuse factor of this layer (default: target's)",
    "result": "result fixed<W,I> — hls4ml result precision override",
    "accum": "accum fixed<W,I> — hls4ml accumulator precision override",
    "nobias": "nobias — the layer has no bias",
}

QUANT_ROLES: dict[str, str] = {
    "weights": "kernel weights",
    "bias": "biases",
    "activations": "activation outputs (relu: ufixed via quantized_relu; linear: quantized_bits)",
    "inputs": "the network input (float when unset; 32 bits for BOPs)",
}

QUANT_KINDS: dict[str, str] = {
    "fixed": "fixed<W,I> — signed fixed point, W bits, I integer bits including the sign",
    "ufixed": "ufixed<W,I> — unsigned fixed point, W bits, I integer bits",
    "bits": "N bits [int K] — N-bit quantizer with K integer bits in QKeras's sense (sign excluded)",
    "po2": "po2 N bits — power-of-two quantizer (quantized_po2)",
    "binary": "binary — ±1 (QKeras binary)",
    "ternary": "ternary — -1, 0, +1 (QKeras ternary)",
    "float": "float — leave the tensor unquantized (32 bits)",
    "learned": "learned Q [per weight|channel|layer] [beta B | beta B0..B1] — a width HGQ2 trains from Q (fixed<W,I> or N bits) "
    "against its resource term (EBOPs) weighted by beta; zero bits prune a weight (dialect hgq2)",
}

PRUNE_KEYS: dict[str, str] = {
    "method": "method magnitude — what decides which weights go",
    "scope": "scope global|layer — one threshold across layers, or one per layer",
    "select": "select GLOB... — layers to prune (default: every dense/conv layer)",
    "skip": "skip GLOB... — layers never to prune",
    "bias": "bias on|off — prune biases too (default off)",
    "schedule": "schedule constant|polynomial|iterative { ... }",
}

SCHEDULE_KINDS: dict[str, str] = {
    "constant": "tfmot ConstantSparsity: target, begin, end, frequency",
    "polynomial": "tfmot PolynomialDecay: initial, target, begin, end, frequency, power",
    "iterative": "the paper's iterative magnitude pruning: rounds, rate, rewind none|init, epochs",
}

SCHEDULE_KEYS: dict[str, dict[str, str]] = {
    "constant": {
        "target": "target X% — sparsity to reach",
        "begin": "begin N — first optimizer step that prunes (default 0)",
        "end": "end N — last step that prunes (default: end of training)",
        "frequency": "frequency N — steps between pruning updates (default 100)",
    },
    "polynomial": {
        "initial": "initial X% — sparsity at `begin` (default 0%)",
        "target": "target X% — final sparsity",
        "begin": "begin N — first step (default 0)",
        "end": "end N — last step (default: end of training)",
        "frequency": "frequency N — steps between updates (default 100)",
        "power": "power P — exponent of the decay (default 3)",
    },
    "iterative": {
        "rounds": "rounds N — pruning rounds after the first training (default 11)",
        "rate": "rate X% — fraction of the remaining weights removed each round (default 20%)",
        "rewind": "rewind none|init — fine-tune, or rewind survivors to their initial values (lottery ticket)",
        "epochs": "epochs N — training epochs per round (default: train's epochs)",
    },
}

TRAIN_KEYS: dict[str, str] = {
    "data": 'data openml "NAME|ID" | data file "PATH" [target COLUMN] | data sklearn digits|iris|wine|breast_cancer',
    "split": "split test X, val Y — held-out fractions (val is taken from what test leaves)",
    "scale": "scale standard|minmax|none — feature scaling fitted on the training split",
    "seed": "seed N — seeds Python, NumPy and TensorFlow",
    "optimizer": "optimizer adam|sgd|rmsprop [lr X]",
    "loss": "loss categorical_crossentropy|sparse_categorical_crossentropy|binary_crossentropy|mse",
    "batch": "batch N — batch size",
    "epochs": "epochs N — training epochs (per pruning round for iterative pruning)",
    "early_stop": "early_stop patience N | early_stop none — stop on val_loss",
    "classes": "classes N — number of classes (checked against the output layer)",
    "dialect": "dialect qkeras|hgq2|brevitas — the training framework: QKeras on Keras 2 (default), HGQ2 on Keras 3 or Brevitas on PyTorch",
}

DIALECTS: dict[str, str] = {
    "qkeras": "QKeras 0.9 on Keras 2 / TensorFlow 2.14, pruned with tfmot or the paper's loop (the default)",
    "hgq2": "HGQ2 0.2 on Keras 3 (JAX), fixed-width quantizers, pruned by generated callbacks; hls4ml's Keras v3 frontend",
    "brevitas": "Brevitas 0.13 on PyTorch (CPU), constant power-of-two scales, pruned with torch.nn.utils.prune; QONNX into hls4ml's ONNX frontend",
}

TARGET_KEYS: dict[str, str] = {
    "backend": "backend vivado|vitis|quartus|oneapi|catapult",
    "part": 'part "xcu250-figd2104-2L-e" — FPGA part',
    "clock": "clock 5 ns | clock 200 MHz — clock period",
    "io": "io parallel|stream — hls4ml IOType",
    "strategy": "strategy latency|resource|distributed_arithmetic — hls4ml's strategy (distributed_arithmetic: da4ml's adder graphs, Vivado/Vitis, reuse 1)",
    "reuse": "reuse N — model-wide reuse factor",
    "precision": "precision fixed<W,I> — default precision of everything not set by a quantizer",
    "agreement": "agreement X% — least QKeras ↔ HLS argmax agreement for `qapc run` to pass (default 99%)",
    "rtl": "rtl verilog [{ pipeline N; synth on|off }] — also write the network as RTL (da4ml), simulate it with Verilator "
    "against the trained model and measure its hardware cost (Yosys, when installed)",
}

RTL_LANGUAGES: dict[str, str] = {
    "verilog": "Verilog: written by da4ml, simulated with Verilator, synthesised with Yosys",
    "vhdl": "VHDL: da4ml writes it, but neither Verilator nor Yosys reads it, so qapc could not check it (refused)",
}

RTL_KEYS: dict[str, str] = {
    "pipeline": "pipeline N — registers after every N adder levels (da4ml's latency_cutoff): latency in clock cycles "
    "(default: one combinational block)",
    "synth": "synth on|off — synthesise the RTL with Yosys (synth_xilinx) for LUT/FF/CARRY/DSP counts when yosys is on PATH (default on)",
}

LEARNED_GRANULARITIES: dict[str, str] = {
    "weight": "one width per value of the tensor (each weight): HGQ2's default",
    "channel": "one width per output channel (the last axis), shared by the weights of one neuron or filter",
    "layer": "one width for the whole tensor",
}

LEARNED_OPTIONS: dict[str, str] = {
    "per": "per weight|channel|layer — after a learned quantizer: one width per value (default), per output channel, or for the whole tensor",
    "beta": "beta B | beta B0..B1 — after a learned quantizer: the weight of the EBOPs term in the loss (default 1e-5), "
    "or a schedule from B0 at the first epoch to B1 at the last (geometric)",
}

QUANT_OPTIONS: dict[str, str] = {
    "alpha": "alpha auto|auto_po2|A — after a quantizer: the quantizer's scale (QKeras alpha): learned per channel, a learned power of two, or a number (default 1)",
}

# The words of the structure, for hover in editors.
KEYWORDS: dict[str, str] = {
    "import": 'import "FILE.qap" — use the models of another spec; its sections are the defaults of this one',
    "model": "model NAME [from BASE] { ... } — the network: input shape, quantizers, layers",
    "from": "model NAME from BASE { ... } — derive from BASE: replace, change (`layer`), drop (`remove`) or append layers",
    "in": "PATH in [V1, V2, ...] | PATH in LO..HI — an axis of a sweep or search",
    "prune": "prune { ... } — which weights are removed, and on which schedule",
    "train": "train { ... } — data, split, optimizer, loss and training loop",
    "target": "target fpga { ... } — hls4ml backend, FPGA part, clock, IO type, strategy, reuse",
    "sweep": "sweep { PATH in [...] ... } — a grid of variants of the spec, run by `qapc sweep`",
    "search": "search { PATH in ...; objective ...; trials N } — a search over settings, run by `qapc sweep`",
}

TARGET_KINDS = ("fpga",)

PART_NAME = r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}\Z"
"""An FPGA part as vendors spell them (xcu250-figd2104-2L-e, AGFB014R24B2E2V, 10AX115N2F40E2LG).
hls4ml writes it into Tcl between double quotes, where `[ ]`, `$` and `\\` would still substitute."""
BACKENDS = ("vivado", "vitis", "quartus", "oneapi", "catapult")
STRATEGIES = ("latency", "resource", "distributed_arithmetic")
DA_BACKENDS = ("vivado", "vitis")  # where hls4ml 1.3.0 has the distributed_arithmetic strategy

STUDY_METRICS: dict[str, str] = {
    "accuracy": "test accuracy (maximize)",
    "auc": "AUC, mean over classes (maximize)",
    "bops": "bit operations with the measured sparsity (minimize)",
    "memory": "bits of weights and biases with the measured sparsity (minimize)",
    "params": "parameters of the model (minimize)",
    "luts": "LUTs of the model's RTL from Yosys synth_xilinx (minimize; needs `rtl verilog` in the target and Yosys)",
    "rtl_cost": "da4ml's LUT estimate of the model's RTL (minimize; needs `rtl verilog` in the target)",
}
"""What a study can optimise, constrain and compare: the figures of `qapdsl.sweep.summary`."""

COST_METRICS = ("bops", "memory", "params", "luts", "rtl_cost")  # minimized; the others are maximized
HARDWARE_METRICS = ("luts", "rtl_cost")  # measured by the RTL step only: no figure is declared before training
MAX_OBJECTIVES = 3
MAX_REPEAT = 100
SAMPLERS = ("tpe", "nsga2", "random", "cmaes")

SWEEP_KEYS: dict[str, str] = {
    "objective": "objective maximize accuracy, minimize bops — one to three of accuracy, auc (maximize), bops, memory, params, luts, rtl_cost (minimize; the last two need `rtl verilog`): "
    "the Pareto front's axes (default maximize accuracy, minimize bops)",
    "repeat": "repeat N — run every point with N seeds (train.seed, +1, ...; the split and initialisation change): "
    "tables show mean ± standard deviation, the front is decided on the means",
    "baseline": 'baseline "SPEC" — a spec (e.g. the float model) run with the same seeds and compared with every point',
    "reference": "reference accuracy 0.5, bops 4e6 — the hypervolume's reference point, one value per objective "
    "(default: chance level for accuracy / AUC, the baseline's or the float model's declared figures for costs)",
}

SEARCH_KEYS: dict[str, str] = {
    "objective": "objective maximize accuracy[, minimize bops[, ...]] — one objective (single-objective search) or two to three "
    "(multi-objective: a Pareto front) of accuracy, auc (maximize), bops, memory, params, luts, rtl_cost (minimize)",
    "budget": "budget bops X, memory Y, params Z — constraints: a point above any of them is not on the front "
    "(one whose declared figures are above is not trained)",
    "trials": "trials N — number of points tried (each run `repeat` times)",
    "sampler": "sampler tpe|nsga2|random|cmaes — Optuna's sampler (tpe is multi-objective TPE with two or more objectives)",
    "population": "population N — NSGA-II's population size (default: a fifth of the trials, from 4 to 50)",
    "log": "log PATH... — sample these axes on a log scale",
    **{k: v for k, v in SWEEP_KEYS.items() if k != "objective"},
}

SKLEARN_DATASETS: dict[str, int] = {"digits": 10, "iris": 3, "wine": 3, "breast_cancer": 2}

UNITS: dict[str, str] = {
    "ns": "nanoseconds",
    "us": "microseconds",
    "ms": "milliseconds",
    "MHz": "megahertz (clock)",
    "GHz": "gigahertz (clock)",
    "kHz": "kilohertz (clock)",
    "bits": "bit count",
    "bit": "bit count",
    "%": "percent",
}

SECTIONS: dict[str, dict[str, str]] = {
    "prune": PRUNE_KEYS,
    "train": TRAIN_KEYS,
    "target": TARGET_KEYS,
    "sweep": SWEEP_KEYS,
    "search": SEARCH_KEYS,
}


def vocabulary() -> set[str]:
    """Every word with a meaning in some position (for editors and completion)."""
    words: set[str] = set()
    for table in (
        MODEL_KEYS,
        LAYER_SETTINGS,
        QUANT_ROLES,
        QUANT_KINDS,
        QUANT_OPTIONS,
        LEARNED_OPTIONS,
        LEARNED_GRANULARITIES,
        PRUNE_KEYS,
        SCHEDULE_KINDS,
        TRAIN_KEYS,
        TARGET_KEYS,
        RTL_LANGUAGES,
        RTL_KEYS,
        SWEEP_KEYS,
        SEARCH_KEYS,
        STUDY_METRICS,
        ACTIVATIONS,
    ):
        words.update(table)
    for table in SCHEDULE_KEYS.values():
        words.update(table)
    words.update(BACKENDS)
    words.update(DIALECTS)
    words.update(TARGET_KINDS)
    words.update(SKLEARN_DATASETS)
    words.update(
        {
            "int",
            "kernel",
            "stride",
            "padding",
            "pool",
            "valid",
            "same",
            "lr",
            "patience",
            "none",
            "init",
            "global",
            "magnitude",
            "openml",
            "file",
            "sklearn",
            "target",
            "test",
            "val",
            "standard",
            "minmax",
            "adam",
            "sgd",
            "rmsprop",
            "parallel",
            "stream",
            "latency",
            "resource",
            "distributed_arithmetic",
            "maximize",
            "minimize",
            "accuracy",
            "auc",
            "bops",
            "luts",
            "rtl_cost",
            *SAMPLERS,
            "on",
            "off",
            "auto",
            "auto_po2",
        }
    )
    return words
