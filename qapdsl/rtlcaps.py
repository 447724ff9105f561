"""What the RTL route (da4ml → Verilog → Verilator, Yosys) can build, as data read by `qapdsl.checks`
and by `qapdsl.backends.rtl` alike. Cheap to import: no da4ml here.

One route for both training dialects, `weights`: rtl.py builds the network from the trained weights
(QKeras's kernels, HGQ2's quantized `qkernel`/`qbias`, all on their grids) and the plan's precisions
with da4ml's traced arithmetic (`quantize`, `relu`, `@`), then `comb_trace`. Both dialects round
their activations half to even (QKeras's tf.round, HGQ2's RND_CONV, hls4ml's AP_RND_CONV); da4ml's
`quantize` only truncates (TRN) or rounds half up (RND), so rtl.py builds round-half-to-even from
truncations (`ROUND_HALF_EVEN`). da4ml's own HGQ2 converter (`trace_model`) is not used: it
hands each HGQ2 quantizer's round mode to that `quantize`, which stops at RND_CONV (an assertion),
and an input quantizer that saturates (as qapc's do) fails at the input port, which takes WRAP only.

The route builds the network up to its logits: a final softmax / sigmoid is left out of the RTL (it
does not change the argmax, and a lookup table there could not equal the float model), and the RTL
is compared with the model's logits (`plan.logits_layer`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    name: str
    title: str  # for messages
    layer_kinds: frozenset[str]  # spec layer kinds it builds
    activations: frozenset[str]  # activations it builds inside the network (a final softmax / sigmoid is dropped)
    quant_kinds: frozenset[str]  # quantizer kinds of weights, biases and activations it builds exactly
    alpha: bool  # QKeras's `alpha` scale


_KINDS = frozenset({"dense", "activation", "flatten", "dropout"})
_ACTIVATIONS = frozenset({"relu", "linear"})

_WEIGHTS = Route("weights", "the trained weights and the plan's precisions through da4ml's arithmetic", _KINDS, _ACTIVATIONS, frozenset({"fixed", "bits"}), alpha=False)
ROUTES: dict[str, Route] = {"qkeras": _WEIGHTS, "hgq2": _WEIGHTS}

DROPPED_OUTPUTS = frozenset({"softmax", "sigmoid"})  # a final activation the RTL leaves out: its argmax is the logits'
LANGUAGES = frozenset({"verilog"})  # what Verilator simulates and Yosys reads: qapc writes no RTL it cannot check
WHY_NOT: dict[str, str] = {
    "conv1d": "qapc's RTL step builds dense networks (da4ml's einsum route for convolutions is not wired in yet)",
    "conv2d": "qapc's RTL step builds dense networks (da4ml's einsum route for convolutions is not wired in yet)",
    "maxpool": "qapc's RTL step builds dense networks; pooling follows convolutions",
    "avgpool": "qapc's RTL step builds dense networks; pooling follows convolutions",
    "batchnorm": "a batch normalisation keeps float scales in the model, which no fixed-point RTL equals; fold it away or drop it",
    "softmax": "an inner softmax is float in the model: no adder graph equals it (a final one is left out of the RTL)",
    "sigmoid": "an inner sigmoid is float in the model: no adder graph equals it (a final one is left out of the RTL)",
    "tanh": "tanh is float in the model: no adder graph equals it",
    "float": "a float tensor has no fixed-point grid for the RTL to hold",
    "po2": "power-of-two quantizers are not wired into the RTL step",
    "binary": "binary quantizers are not wired into the RTL step",
    "ternary": "ternary quantizers are not wired into the RTL step",
    "wide_port": "da4ml's Verilator binder passes every port's value as a 32-bit integer (the widest port counts, sign, integer and fraction bits)",
}
# da4ml's Verilator binder (ioutil.hh, RTLModel.predict): each input and output port value is an int32,
# padded to the widest port's (k, i, f) maxima.
MAX_PORT_BITS = 32

# da4ml's `quantize` rounds TRN or RND (half up). Half to even, from what it has: with the value x
# (fraction bits F) going to f < F fraction bits, odd = trunc_f(x) - trunc_{f-1}(x) is the result's
# last bit before rounding, and RNE(x) = trunc_f(x + 2^-(f+1) - 2^-F + odd·2^(f-F)):
# a tie rounds up exactly when that bit is 1, and down (to the even neighbour) when it is 0.
# Both truncations get max(i, 1 - f) integer bits: a narrow signed value (i + f <= 0) truncates to
# -2^-(f-1), below its own range (with its own i the truncation has no width, wraps, and odd is -1).
ROUND_HALF_EVEN = "RND_CONV from TRN: trunc_f(x + half - ulp + odd·ulp)"

# Yosys: synth_xilinx for a family (`help synth_xilinx`: xcup UltraScale+, xcu UltraScale, xc7 7-series, xc6v
# Virtex-6, xc6s Spartan-6, xc5v, xc4v, xc3sda, xc3sa, xc3se, xc3s, xc2vp, xc2v, xcve, xcv; all but the first four
# EXPERIMENTAL); the part's name picks it, first match. Spartan-3 and -6 have LUT4 / LUT6 cells of their own: an
# xc3s500e counted as UltraScale+ would be another device's figure. Classic ABC (no -abc9): minutes, not hours.
YOSYS_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"xcvu|xcku|xczu|xcau|xcu", "xcup"),  # UltraScale(+), Alveo U200/U250/U280: VU440/VU095 are UltraScale (same cells here)
    (r"xc7", "xc7"),
    (r"xc6v", "xc6v"),
    (r"xc6s", "xc6s"),
    (r"xc5v", "xc5v"),
    (r"xc4v", "xc4v"),
    (r"xc3sd\d+a", "xc3sda"),  # Spartan-3A DSP: xc3sd1800a
    (r"xc3s\d+an?\b", "xc3sa"),  # Spartan-3A / 3AN: xc3s700a, xc3s50an
    (r"xc3s\d+e\b", "xc3se"),  # Spartan-3E: xc3s500e
    (r"xc3s\d", "xc3s"),
    (r"xc2vp", "xc2vp"),
    (r"xc2v\d", "xc2v"),
    (r"xc2s\d+e|xcv\d+e", "xcve"),  # Spartan-2E, Virtex-E
    (r"xc2s\d|xcv\d", "xcv"),  # Spartan-2, Virtex
)
DEFAULT_FAMILY = "xcup"


def route(dialect: str) -> Route:
    return ROUTES[dialect]


def xilinx_part(part: str) -> bool:
    """Yosys' `synth_xilinx` counts Xilinx cells: a figure for an Intel (or unknown) part would be another
    device's."""
    return part.lower().startswith("xc")


def yosys_family(part: str) -> str:
    """The `synth_xilinx -family` for an FPGA part (Intel and unknown parts: UltraScale+ cells, said in rtl.json)."""
    p = part.lower()
    return next((fam for pattern, fam in YOSYS_FAMILIES if re.match(pattern, p)), DEFAULT_FAMILY)
