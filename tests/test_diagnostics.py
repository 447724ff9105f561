"""Golden diagnostics: one small spec per mistake, asserting code, line, column and hint.

Each case starts from a valid spec and introduces one mistake, the way users
make them; the first diagnostic reported must be exactly the expected one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qapdsl.diagnostics import CODES, render
from qapdsl.loader import load_bytes, load_file

BASE = """model m {
    input 16
    dense fc1 8 relu
    dense out 5 softmax
}
train {
    data openml "x"
    classes 5
}
"""


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    code: str
    line: int
    column: int
    hint: str | None
    files: dict[str, str] = field(default_factory=dict)  # other files next to spec.qap


CASES: list[Case] = [
    Case("single_quote", BASE.replace('"x"', "'x'"), "E001", 7, 17, 'strings are written in double quotes: "..."'),
    Case("equals", BASE.replace("input 16", "input = 16"), "E001", 2, 11, "settings are written `key value`, without '='"),
    Case("unclosed", BASE[:-2], "E003", 9, 1, "the '{' at line 6, column 7 is not closed: add '}'"),
    Case(
        "extra_brace",
        BASE.replace("dense fc1 8 relu", "dense fc1 8 relu }"),
        "E002",
        4,
        5,
        "only `import`, `model` and sections (prune, train, target, sweep, search) go at the top level; does a '}' above close a block too early?",
    ),
    Case("section_typo", BASE.replace("train {", "trian {"), "E002", 6, 1, "did you mean 'train'?"),
    Case("no_model", 'train {\n    data openml "x"\n}\n', "E101", 1, 1, "add `model NAME { input N; dense out K softmax }` or import one"),
    Case("section_twice", BASE + "train {\n    epochs 3\n}\n", "E102", 10, 1, "merge it with the one at line 6"),
    Case("base_unknown", BASE + "model n from mm {\n}\n", "E103", 10, 14, "did you mean 'm'?"),
    Case("key_twice", BASE.replace("input 16", "input 16\n    input 8"), "E104", 3, 5, "first given at line 2"),
    Case(
        "unknown_train_key",
        BASE.replace("classes 5", "classes 5\n    epoch 10"),
        "E201",
        9,
        5,
        "did you mean 'epochs'? (expected one of: batch, classes, data, dialect, early_stop, epochs, loss, optimizer, scale, seed, split)",
    ),
    Case(
        "unknown_layer_setting",
        BASE.replace("dense fc1 8 relu", "dense fc1 8 relu { batchnrom }"),
        "E201",
        3,
        24,
        "did you mean 'batchnorm'? (expected one of: accum, activations, batchnorm, bias, l1, l2, nobias, result, reuse, weights)",
    ),
    Case(
        "unknown_layer_kind",
        BASE.replace("dense fc1 8 relu", "dens fc1 8 relu"),
        "E208",
        3,
        5,
        "did you mean 'dense'? (expected one of: activation, avgpool, batchnorm, conv1d, conv2d, dense, dropout, flatten, maxpool)",
    ),
    Case("dense_no_units", BASE.replace("dense fc1 8 relu", "dense fc1 relu"), "E202", 3, 15, "dense NAME UNITS [ACTIVATION] — fully connected layer (QDense)"),
    Case("batch_string", BASE.replace("classes 5", 'classes 5\n    batch "big"'), "E203", 9, 11, "write a whole number from 1 to 1000000"),
    Case(
        "optimizer_typo",
        BASE.replace("classes 5", "classes 5\n    optimizer adma lr 1e-3"),
        "E204",
        9,
        15,
        "did you mean 'adam'? (expected one of: adam, rmsprop, sgd)",
    ),
    Case(
        "backend_typo",
        BASE + "target fpga {\n    backend vivdo\n}\n",
        "E204",
        11,
        13,
        "did you mean 'vivado'? (expected one of: catapult, oneapi, quartus, vitis, vivado)",
    ),
    Case("target_kind", BASE + "target gpu {\n    backend vivado\n}\n", "E204", 10, 8, "expected one of: fpga"),
    Case("split_range", BASE.replace("classes 5", "classes 5\n    split test 1.5"), "E205", 9, 16, "a fraction is written 0.2 or 20%"),
    Case("split_leaves", BASE.replace("classes 5", "classes 5\n    split test 0.9, val 0.9"), "E602", 9, 5, "e.g. split test 0.2, val 0.25"),
    Case("input_extra", BASE.replace("input 16", "input 16 32"), "E206", 2, 14, "input N | input (D1, D2, ...) — shape of one sample, without the batch axis"),
    Case("bad_layer_name", BASE.replace("dense fc1 8", "dense fc.1 8"), "E207", 3, 11, "names are letters, digits and '_', starting with a letter"),
    Case("clock_unit", BASE + "target fpga {\n    clock 5\n}\n", "E209", 11, 11, "write `clock 5 ns` or `clock 5 MHz`"),
    Case("dup_layer", BASE.replace("dense out 5", "dense fc1 5"), "E301", 4, 11, "first used at line 3"),
    Case("conv_flat", BASE.replace("dense fc1 8 relu", "conv2d c1 8 relu kernel 3\n    flatten f"), "E302", 3, 12, "declare e.g. `input (28, 28, 1)`"),
    Case(
        "kernel_big",
        BASE.replace("input 16", "input (4, 4, 1)").replace("dense fc1 8 relu", "conv2d c1 8 relu kernel 5\n    flatten f"),
        "E303",
        3,
        29,
        "use a smaller kernel or `padding same`",
    ),
    Case("classes_mismatch", BASE.replace("dense out 5", "dense out 4"), "E304", 4, 15, "make it `dense out 5 ...`"),
    Case("no_layers", 'model m {\n    input 16\n}\ntrain {\n    data openml "x"\n}\n', "E305", 1, 7, "add e.g. `dense out 5 softmax`"),
    Case("reuse_bad", BASE.replace("dense fc1 8 relu", "dense fc1 8 relu { reuse 7 }"), "E306", 3, 30, "nearest valid: 2, 4, 8"),
    Case(
        "weights_on_flatten",
        BASE.replace("dense fc1 8 relu", "flatten f { weights fixed<6,1> }\n    dense fc1 8 relu"),
        "E307",
        3,
        17,
        "set it on a dense or conv layer",
    ),
    Case("derived_unknown_layer", BASE + "model n from m {\n    layer fc2 { reuse 2 }\n}\n", "E308", 11, 11, "did you mean 'fc1'?"),
    Case("width_range", BASE.replace("input 16", "input 16\n    quant weights fixed<40,2>"), "E401", 3, 19, "use 1 to 32 bits"),
    Case("int_exceeds", BASE.replace("input 16", "input 16\n    quant weights fixed<6,8>"), "E402", 3, 19, "use at most 6 integer bits"),
    Case("bits_int_exceeds", BASE.replace("input 16", "input 16\n    quant weights 6 bits int 8"), "E402", 3, 30, "use at most 6 integer bits"),
    Case("relu_signed", BASE.replace("input 16", "input 16\n    quant activations fixed<6,1>"), "E403", 3, 23, "use ufixed<6,0> (QKeras quantized_relu)"),
    Case(
        "softmax_quant",
        BASE.replace("dense out 5 softmax", "dense out 5 softmax { activations ufixed<6,0> }"),
        "E403",
        4,
        39,
        "its type is that of the lookup table hls4ml computes it with (QKeras keeps it float; HGQ2 uses the same table); remove `activations`",
    ),
    Case(
        "quant_role",
        BASE.replace("input 16", "input 16\n    quant wieghts fixed<6,1>"),
        "E204",
        3,
        11,
        "did you mean 'weights'? (expected one of: activations, bias, inputs, weights)",
    ),
    Case("skip_typo", BASE + "prune {\n    skip ot\n    schedule iterative { rounds 2 }\n}\n", "E501", 11, 10, "did you mean 'out'?"),
    Case("skip_all", BASE + "prune {\n    skip *\n    schedule iterative { rounds 2 }\n}\n", "E502", 11, 5, "prunable layers: fc1, out"),
    Case(
        "tfmot_global",
        BASE + "prune {\n    scope global\n    schedule constant { target 80% }\n}\n",
        "E503",
        11,
        5,
        "write `scope layer`, or use `schedule iterative { ... }` for one threshold across layers",
    ),
    Case(
        "reserved_name",
        BASE.replace("dense fc1 8 relu", "dense input 8 relu"),
        "E309",
        3,
        11,
        "rename the layer (qapc adds _bn, _relu, _linear, _quant, _softmax, ... to layer names; hls4ml reserves `input`)",
    ),
    Case(
        "tfmot_bias",
        BASE + "prune {\n    scope layer\n    bias on\n    schedule constant { target 80% }\n}\n",
        "E504",
        12,
        5,
        "write `bias off`, or use `schedule iterative { ... }`",
    ),
    Case("data_file", BASE.replace('openml "x"', 'file "x.txt"'), "E601", 7, 15, "use a .npz, .h5, .csv or .parquet file"),
    Case("sweep_path", BASE + "sweep {\n    quant.bitz in [4, 6]\n}\n", "E801", 11, 5, "did you mean 'quant.bits', 'quant.bias' or 'quant.beta'?"),
    Case("sweep_layer", BASE + "sweep {\n    fc9.units in [4, 6]\n}\n", "E801", 11, 5, "did you mean 'fc1'?"),
    Case("sweep_value", BASE + "sweep {\n    fc1.units in [4, big]\n}\n", "E802", 11, 22, "e.g. fc1.units in [8, 16, 32]"),
    Case("sweep_empty", BASE + "sweep {\n    quant.bits in []\n}\n", "E803", 11, 19, "list at least one value, e.g. `quant.bits in [4, 6, 8]`"),
    Case("sweep_noprune", BASE + "sweep {\n    prune.rounds in [1, 2]\n}\n", "E802", 11, 22, "add prune { schedule iterative { ... } }"),
    Case("bits_no_unit", BASE.replace("input 16", "input 16\n    quant weights 6"), "E209", 3, 19, "write `6 bits`"),
    Case("rewind_typo", BASE + "prune {\n    schedule iterative { rewind initial }\n}\n", "E204", 11, 33, "did you mean 'init'? (expected one of: init, none)"),
    Case(
        "schedule_key",
        BASE + "prune {\n    schedule iterative { round 3 }\n}\n",
        "E201",
        11,
        26,
        "did you mean 'rounds'? (expected one of: epochs, rate, rewind, rounds)",
    ),
    Case(
        "padding_typo",
        BASE.replace("input 16", "input (8, 1)").replace("dense fc1 8 relu", "conv1d c1 4 relu kernel 3 padding sme\n    flatten f"),
        "E204",
        3,
        39,
        "did you mean 'same'? (expected one of: same, valid)",
    ),
    Case(
        "activation_typo",
        BASE.replace("dense fc1 8 relu", "dense fc1 8 rleu"),
        "E204",
        3,
        17,
        "did you mean 'relu'? (expected one of: linear, relu, sigmoid, softmax, tanh)",
    ),
    Case("colon", BASE.replace("classes 5", "classes: 5"), "E001", 8, 12, "settings are written `key value`, without ':'"),
    Case("no_train", "model m {\n    input 16\n    dense out 5 softmax\n}\n", "E202", 1, 7, 'add `train { data sklearn digits }` (or data file "...")'),
    Case("fixed_noint", BASE.replace("input 16", "input 16\n    quant weights fixed<6>"), "E002", 3, 26, "write fixed<W,I>: W bits in total, I integer bits"),
    Case(
        "scope_typo",
        BASE + "prune {\n    scope globl\n    schedule iterative { rounds 2 }\n}\n",
        "E204",
        11,
        11,
        "did you mean 'global'? (expected one of: global, layer)",
    ),
    Case(
        "conv_no_kernel",
        BASE.replace("input 16", "input (8, 1)").replace("dense fc1 8 relu", "conv1d c1 4 relu\n    flatten f"),
        "E202",
        3,
        5,
        "conv1d NAME FILTERS [ACTIVATION] kernel K [stride S] [padding valid|same] (QConv1D)",
    ),
    Case("unknown_import", 'import "nothere.qap"\n' + BASE, "E005", 1, 8, "looked for nothere.qap (import paths are relative to the importing file)"),
    Case("dropout_rate", BASE.replace("dense fc1 8 relu", "dense fc1 8 relu\n    dropout d 1.5"), "E205", 4, 15, "a fraction is written 0.2 or 20%"),
    Case("po2_bits", BASE.replace("input 16", "input 16\n    quant weights po2 12 bits"), "E205", 3, 23, "QKeras quantized_po2 takes 2 to 8 bits"),
    Case("model_keyword", BASE.replace("model m {", "modle m {"), "E002", 1, 1, "did you mean 'model'?"),
    Case("import_cycle", 'import "b.qap"\n' + BASE, "E006", 1, 8, "remove one of the imports", {"b.qap": 'import "spec.qap"\n'}),
    Case("import_not_qap", 'import "base.txt"\n' + BASE, "E005", 1, 8, 'import another spec, e.g. import "jet.qap"'),
    Case("deep_nesting", BASE.replace("dense fc1 8 relu", "dense fc1 8 relu " + "{ a " * 40 + "}" * 40), "E007", 3, 48, "flatten the spec"),
    Case("derive_cycle", BASE + "model a from b {\n}\nmodel b from a {\n}\n", "E006", 10, 14, None),
    Case("layer_in_base_model", BASE.replace("dense fc1 8 relu", "layer fc1 { reuse 2 }"), "E201", 3, 5, "write `model m from BASE { ... }`"),
    Case("remove_unknown", BASE + "model n from m {\n    remove fc3\n}\n", "E308", 11, 12, "did you mean 'fc1'?"),
    Case(
        "lone_cr",
        BASE.replace("input 16\n", "input 16  # no line feed\r    dense fc0 8 relu\n"),
        "E001",
        2,
        29,
        "editors show a line break here but the spec would not have one: save the file with LF (or CRLF) line endings",
    ),
    Case(
        "line_separator",
        BASE.replace("input 16\n", "input 16  # \u2028dense fc0 8 relu\n"),
        "E001",
        2,
        17,
        "some editors break the line here and others do not: use a plain line break",
    ),
    Case("bidi_override", BASE.replace('"x"', '"x\u202e"'), "E001", 7, 19, "it makes editors show the text in another order than it is read: remove it"),
    # -- what would fail at run time, or build firmware that disagrees with the model --------------
    Case(
        "data_file_column",
        BASE.replace('openml "x"', 'file "d.csv" target lable'),
        "E604",
        7,
        5,
        "did you mean 'label'?",
        {"d.csv": ",".join(f"f{i}" for i in range(16)) + ",label\n" + ",".join(["0"] * 17) + "\n"},
    ),
    Case(
        "data_file_width",
        BASE.replace('openml "x"', 'file "d.csv"'),
        "E603",
        2,
        11,
        "write `input 13`",
        {"d.csv": ",".join(f"f{i}" for i in range(13)) + ",label\n" + ",".join(["0"] * 14) + "\n"},
    ),
    Case(
        "ap_fixed_too_wide",
        BASE.replace("input 16", "input 16\n    quant inputs fixed<32,16>, weights fixed<32,16>").replace(
            "dense fc1 8 relu", "\n    ".join(f"dense h{i} 4" for i in range(40))
        ),
        "E405",
        32,
        11,
        "quantize the activations between layers (each layer's exact sum widens the next one), narrow the weights, or set `accum` and `result`",
    ),
    Case(
        "qkeras_negative_integer",
        BASE.replace("input 16", "input 16\n    quant weights fixed<6,0>"),
        "E406",
        3,
        19,
        "use fixed<7,1> (the same step, a wider range), or `dialect hgq2` in the train section",
    ),
    # the RTL step (`rtl verilog` in the target): what da4ml / Verilator / Yosys cannot build or check here
    Case(
        "rtl_vhdl",
        BASE.replace("input 16", "input 16\n    quant weights fixed<6,1>, activations ufixed<6,2>") + "target fpga {\n    rtl vhdl\n}\n",
        "E407",
        12,
        9,
        "write `rtl verilog`",
    ),
    Case(
        "rtl_float_model",
        BASE + "target fpga {\n    rtl verilog\n}\n",
        "E407",
        2,
        11,
        "quantize the model (e.g. `quant inputs fixed<8,3>, weights fixed<6,1>, activations ufixed<6,2>`)",
    ),
    Case(
        "rtl_inner_tanh",
        BASE.replace("input 16", "input 16\n    quant weights fixed<6,1>, activations ufixed<6,2>").replace("dense fc1 8 relu", "dense fc1 8 tanh")
        + "target fpga {\n    rtl verilog\n}\n",
        "E407",
        4,
        11,
        "use relu or linear inside the network",
    ),
    Case(
        "rtl_batchnorm",
        BASE.replace("input 16", "input 16\n    quant weights fixed<6,1>, activations ufixed<6,2>").replace("dense fc1 8 relu", "dense fc1 8 relu { batchnorm }")
        + "target fpga {\n    rtl verilog\n}\n",
        "E407",
        4,
        11,
        "remove `batchnorm` from the layer, or `rtl` from the target",
    ),
    Case(
        "rtl_po2_weights",
        BASE.replace("input 16", "input 16\n    quant weights po2 4 bits, bias fixed<8,3>, activations ufixed<6,2>") + "target fpga {\n    rtl verilog\n}\n",
        "E407",
        3,
        19,
        "give it a fixed-point quantizer, e.g. fixed<6,1> (weights) or ufixed<6,2> (relu activations)",
    ),
    Case(
        "rtl_conv",
        "model m {\n    input (8, 8, 1)\n    quant weights fixed<6,1>, activations ufixed<6,2>\n    conv2d c1 4 relu kernel 3\n    flatten f\n    dense out 5 softmax\n}\n"
        'train {\n    data openml "x"\n    classes 5\n}\ntarget fpga {\n    rtl verilog\n}\n',
        "E407",
        4,
        12,
        "remove `rtl` from the target, or the layer",
    ),
    Case(
        "rtl_synth_intel_part",
        BASE.replace("input 16", "input 16\n    quant weights fixed<6,1>, activations ufixed<6,2>")
        + 'target fpga {\n    backend quartus\n    part "AGFB014R24A2E2V"\n    rtl verilog\n}\n',
        "E407",
        13,
        5,
        "write `rtl verilog { synth off }` (da4ml's cost and the Verilator simulation remain), or a Xilinx part",
    ),
    Case(
        "rtl_wide_output_port",  # ufixed<16,4> x fixed<16,2> summed over 8 (+ bias): a 36-bit exact sum at the logits
        BASE.replace("input 16", "input 16\n    quant inputs fixed<16,4>, weights fixed<16,2>, activations ufixed<16,4>") + "target fpga {\n    rtl verilog\n}\n",
        "E407",
        5,
        11,
        "narrow the inputs or weights feeding 'out' to at most 32 bits of sum, or quantize its output "
        "(`linear { activations fixed<16,6> }`, then an `activation` layer for a softmax)",
    ),
    Case(
        "rtl_model_named_a_verilog_keyword",
        BASE.replace("model m {", "model module {").replace("input 16", "input 16\n    quant weights fixed<6,1>, activations ufixed<6,2>")
        + "target fpga {\n    rtl verilog\n}\n",
        "E310",
        1,
        7,
        "rename the model, e.g. `model module_net`",
    ),
    Case(
        "rtl_model_named_a_da4ml_module",
        BASE.replace("model m {", "model mux {").replace("input 16", "input 16\n    quant weights fixed<6,1>, activations ufixed<6,2>")
        + "target fpga {\n    rtl verilog\n}\n",
        "E310",
        1,
        7,
        "rename the model, e.g. `model mux_net`",
    ),
    Case("rtl_key_typo", BASE + "target fpga {\n    rtl verilog { pipline 4 }\n}\n", "E201", 11, 19, "did you mean 'pipeline'? (expected one of: pipeline, synth)"),
    Case("rtl_no_language", BASE + "target fpga {\n    rtl\n}\n", "E202", 11, 5, "write `rtl verilog`, optionally with `{ pipeline 5 }`"),
    Case("rtl_pipeline_zero", BASE + "target fpga {\n    rtl verilog { pipeline 0 }\n}\n", "E205", 11, 28, None),
    # the hgq2 dialect: what HGQ2 layers cannot say, and what hls4ml's bit-exact flow converts wrongly
    Case(
        "hgq2_float_input",
        BASE.replace("classes 5", "classes 5\n    dialect hgq2").replace("input 16", "input 16\n    quant inputs float, weights fixed<6,1>"),
        "E406",
        3,
        18,
        "remove `inputs float` (the input is then quantized as the firmware takes it, fixed<16,6>), give it a type, or use `dialect qkeras`",
    ),
    Case(
        "hgq2_float_bias",
        BASE.replace("classes 5", "classes 5\n    dialect hgq2").replace("input 16", "input 16\n    quant weights fixed<6,1>, bias float"),
        "E406",
        3,
        36,
        "give 'fc1' a bias type (e.g. `bias fixed<16,6>`), or leave both in float",
    ),
    Case(
        "hgq2_accum",
        BASE.replace("classes 5", "classes 5\n    dialect hgq2")
        .replace("input 16", "input 16\n    quant inputs fixed<8,3>, weights fixed<6,1>, bias fixed<6,1>")
        .replace("dense fc1 8 relu", "dense fc1 8 relu { accum fixed<20,8> }"),
        "E406",
        4,
        24,
        "remove `accum` (the derived types are exact), or use `dialect qkeras`",
    ),
    Case(
        "hgq2_fraction",
        BASE.replace("classes 5", "classes 5\n    dialect hgq2").replace(
            "input 16", "input 16\n    quant inputs fixed<8,3>, weights fixed<6,1>, bias fixed<6,1>, activations ufixed<24,6>"
        ),
        "E406",
        3,
        79,
        "use ufixed<16,6>: the same range, and every value the sum can take",
    ),
    Case(
        "hgq2_requantize",
        BASE.replace("classes 5", "classes 5\n    dialect hgq2")
        .replace("input 16", "input 16\n    quant inputs fixed<8,3>, weights fixed<6,1>, bias fixed<6,1>, activations ufixed<8,3>")
        .replace("dense out", "activation a linear { activations fixed<6,2> }\n    dense out"),
        "E406",
        5,
        39,
        "quantize once: give 'a' the type of the activations of 'fc1' (the same type again changes nothing), or remove the layer",
    ),
    Case(
        "hgq2_table_after_quantizer",
        BASE.replace("classes 5", "classes 5\n    dialect hgq2")
        .replace("input 16", "input 16\n    quant inputs fixed<8,3>, weights fixed<6,1>, bias fixed<6,1>, activations ufixed<8,3>")
        .replace("dense out", "activation t tanh\n    dense out"),
        "E406",
        5,
        18,
        "put a dense or conv layer between them (or pooling), or use `dialect qkeras`",
    ),
    Case("one_bit_signed", BASE.replace("input 16", "input 16\n    quant weights fixed<1,1>"), "E403", 3, 19, "use `binary` for ±1, or at least 2 bits"),
    Case(
        "ufixed_weights",
        BASE.replace("input 16", "input 16\n    quant weights ufixed<6,0>"),
        "E404",
        3,
        19,
        "use fixed<7,1>: the same step and range, with a sign bit",
    ),
    Case(
        "ufixed_bias",
        BASE.replace("dense fc1 8 relu", "dense fc1 8 relu { bias ufixed<4,1> }"),
        "E404",
        3,
        29,
        "use fixed<5,2>: the same step and range, with a sign bit",
    ),
    Case(
        "ufixed_linear",
        BASE.replace("dense fc1 8 relu", "dense fc1 8 linear { activations ufixed<6,0> }"),
        "E404",
        3,
        38,
        "write `relu` if negative values should become 0, else use fixed<7,1>: the same step and range, with a sign bit",
    ),
    Case("ufixed_precision", BASE + "target fpga {\n    precision ufixed<16,6>\n}\n", "E404", 11, 15, "use fixed<17,7>"),
    Case("model_cxx_keyword", BASE.replace("model m {", "model int {"), "E310", 1, 7, "rename the model, e.g. `model int_net`"),
    Case("model_macro", BASE.replace("model m {", "model EOF {"), "E310", 1, 7, "rename the model, e.g. `model eof`"),
    Case("model_too_long", BASE.replace("model m {", "model " + "m" * 300 + " {"), "E310", 1, 7, "rename the model, e.g. `model " + "m" * 60 + "`"),
    Case("layer_underscore", BASE.replace("dense fc1 8 relu", "dense _fc1 8 relu"), "E310", 3, 11, "rename the layer, e.g. fc1 or conv_a"),
    Case(
        "typedef_clash",
        BASE.replace("dense out 5 softmax", "dense out 5\n    activation p_exp relu\n    activation p softmax"),
        "E309",
        5,
        16,
        "rename one of them",
    ),
    Case(
        "softmax_one_unit",
        BASE.replace("dense out 5 softmax", "dense out 1 softmax").replace("classes 5", "classes 2\n    loss binary_crossentropy"),
        "E311",
        4,
        17,
        "use sigmoid for one output (with `loss binary_crossentropy`), or give the layer one unit per class",
    ),
    Case(
        "sparse_ce_no_softmax",
        BASE.replace("dense out 5 softmax", "dense out 5").replace("classes 5", "classes 5\n    loss sparse_categorical_crossentropy"),
        "E311",
        4,
        11,
        "write `dense out 5 softmax`",
    ),
    Case(
        "activation_after_output",
        BASE.replace("dense out 5 softmax", "dense out 5 softmax\n    activation act relu"),
        "E311",
        5,
        20,
        "write `activation act softmax`",
    ),
    Case(
        "dropout_after_output",
        BASE.replace("dense out 5 softmax", "dense out 5 softmax\n    dropout d 0.1"),
        "E311",
        5,
        13,
        "end the model with the layer whose activation is softmax",
    ),
    Case(
        "digits_input",
        BASE.replace("input 16", "input 128")
        .replace('data openml "x"', "data sklearn digits")
        .replace("classes 5", "classes 10")
        .replace("dense out 5", "dense out 10"),
        "E603",
        2,
        11,
        "write `input 64`, or `input (8, 8, 1)` for the 8×8 images",
    ),
    Case(
        "digits_classes",
        BASE.replace("input 16", "input 64").replace('data openml "x"', "data sklearn digits"),
        "E304",
        8,
        5,
        "write `classes 10`, or leave `classes` out",
    ),
    Case("split_test_zero", BASE.replace("classes 5", "classes 5\n    split test 0, val 0.25"), "E602", 9, 5, "e.g. split test 0.2, val 0.25"),
    Case(
        "prune_nothing_prunable",
        BASE.replace("input 16\n    dense fc1 8 relu\n    dense out 5 softmax", "input 5\n    activation out softmax")
        + "prune {\n    schedule iterative { rounds 2 }\n}\n",
        "E502",
        9,
        1,
        "remove the prune section",
    ),
    Case("derived_input_twice", BASE + "model n from m {\n    input 8\n    input 4\n}\n", "E104", 12, 5, "first given at line 11"),
    Case(
        "derived_layer_twice",
        BASE + "model n from m {\n    dense fc1 4 relu\n    layer fc1 { reuse 2 }\n}\n",
        "E104",
        12,
        11,
        "first at line 11; say everything about it in one statement",
    ),
    Case("sweep_point_classes", BASE + "sweep {\n    out.units in [5, 10]\n}\n", "E304", 11, 22, "make it `dense out 5 ...`"),
    Case("sweep_seed_range", BASE + "sweep {\n    train.seed in [1, 4294967296]\n}\n", "E802", 11, 23, None),
    Case(
        "sweep_grid_too_large",
        BASE + "sweep {\n" + "".join(f"    train.{k} in [1, 2, 3, 4, 5, 6, 7, 8, 9]\n" for k in ("seed", "epochs", "batch", "patience")) + "}\n",
        "E805",
        10,
        1,
        "give the axes fewer values, or explore the space with a `search { ... }` block",
    ),
    Case(
        "search_range_end",
        BASE + "search {\n    fc1.reuse in 1..3\n}\n",
        "E306",
        11,
        21,
        "nearest valid: 1, 2, 4",
    ),
    Case(
        "objective_twice",
        BASE + "search {\n    objective maximize accuracy, maximize accuracy\n    fc1.units in 4..8\n}\n",
        "E804",
        11,
        34,
        "each figure is one objective",
    ),
    Case(
        "objective_wrong_way",
        BASE + "search {\n    objective maximize accuracy, maximize bops\n    fc1.units in 4..8\n}\n",
        "E804",
        11,
        34,
        "write `minimize bops`",
    ),
    Case(
        "objective_metric_typo",
        BASE + "search {\n    objective maximize acuracy\n    fc1.units in 4..8\n}\n",
        "E204",
        11,
        24,
        "did you mean 'accuracy' or 'auc'? (expected one of: accuracy, auc, bops, luts, memory, params, rtl_cost)",
    ),
    Case(
        "objective_no_metric",
        BASE + "search {\n    objective maximize accuracy, bops\n    fc1.units in 4..8\n}\n",
        "E202",
        11,
        34,
        "e.g. objective maximize accuracy, minimize bops",
    ),
    Case(
        "cmaes_two_objectives",
        BASE + "search {\n    objective maximize accuracy, minimize bops\n    sampler cmaes\n    fc1.units in 4..8\n}\n",
        "E806",
        12,
        5,
        "use `sampler tpe` or `sampler nsga2`",
    ),
    Case(
        "population_without_nsga2",
        BASE + "search {\n    population 8\n    fc1.units in 4..8\n}\n",
        "E806",
        11,
        5,
        "add `sampler nsga2`",
    ),
    Case(
        "baseline_missing",
        BASE + 'sweep {\n    baseline "float.qap"\n    fc1.units in [4, 8]\n}\n',
        "E807",
        11,
        14,
        "looked for float.qap (relative to the spec that names it)",
    ),
    Case(
        "baseline_other_data",
        BASE + 'sweep {\n    baseline "b.qap"\n    fc1.units in [4, 8]\n}\n',
        "E807",
        11,
        14,
        "a baseline runs on the study's data, split and seeds",
        files={"b.qap": BASE.replace('openml "x"', 'openml "y"')},
    ),
    Case(
        "baseline_with_errors",
        BASE + 'sweep {\n    baseline "b.qap"\n    fc1.units in [4, 6]\n}\n',
        "E201",
        8,
        5,
        "did you mean 'classes' or 'loss'? (expected one of: batch, classes, data, dialect, early_stop, epochs, loss, optimizer, scale, seed, split)",
        files={"b.qap": BASE.replace("classes 5", "clases 5")},
    ),
    Case("repeat_seed_axis", BASE + "sweep {\n    repeat 3\n    train.seed in [1, 2]\n}\n", "E808", 12, 5, "remove the train.seed axis, or `repeat`"),
    Case("repeat_too_many", BASE + "sweep {\n    repeat 1000\n    fc1.units in [4, 8]\n}\n", "E205", 11, 12, None),
    Case(
        "reference_not_on_front",
        BASE + "search {\n    objective maximize accuracy, minimize bops\n    reference memory 100\n    fc1.units in 4..8\n}\n",
        "E809",
        12,
        22,
        "give the reference point's value for each objective",
    ),
    Case(
        "budget_no_point_meets",
        BASE + "search {\n    objective maximize accuracy, minimize bops\n    budget bops 1\n    trials 4\n    fc1.units in 4..8\n}\n",
        "E810",
        12,
        17,
        "a budget of at least 91,688, or axes that reach cheaper points (fewer units, fewer bits, more pruning)",
    ),
    Case("budget_on_sweep", BASE + "sweep {\n    budget bops 1e6\n    fc1.units in [4, 8]\n}\n", "E201", 11, 5, "a sweep runs every point of its grid"),
    Case(
        "overlapping_axes",
        BASE + "search {\n    fc*.weights in 2..8\n    fc1.weights in 4..6\n}\n",
        "E104",
        12,
        5,
        "one axis per setting: the later would override the earlier (line 11)",
    ),
    Case(
        "early_stop_typo",
        BASE.replace("classes 5", "classes 5\n    early_stop patiense 3"),
        "E201",
        9,
        16,
        "did you mean 'patience'? (expected one of: patience)",
    ),
]


def _first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case) -> tuple[object, list[object]]:
    (tmp_path / "spec.qap").write_text(case.text, encoding="utf-8")
    for name, text in case.files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    loaded = load_file("spec.qap")
    assert loaded.diagnostics, f"{case.name}: no diagnostic"
    assert loaded.spec is None and not loaded.ok
    return loaded.diagnostics[0], list(loaded.diagnostics)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d, _ = _first(tmp_path, monkeypatch, case)
    got = (d.code, d.span.line if d.span else None, d.span.column if d.span else None, d.hint)  # type: ignore[attr-defined]
    assert got == (case.code, case.line, case.column, case.hint)
    assert d.span is None or d.span.file in ("spec.qap", "b.qap")  # type: ignore[attr-defined]


def test_cases_are_distinct_and_many() -> None:
    assert len({c.name for c in CASES}) == len(CASES)
    assert len({c.text for c in CASES}) == len(CASES)
    assert len(CASES) >= 30
    assert len({c.code for c in CASES}) >= 30  # they cover the catalogue, not one code many times


def test_base_is_clean() -> None:
    loaded = load_bytes(BASE.encode(), "spec.qap", base_dir=Path.cwd())
    assert loaded.ok and [d.code for d in loaded.diagnostics] == ["W405"]  # a float model: the firmware approximates it


def test_every_code_is_exercised_or_documented() -> None:
    used = {c.code for c in CASES + WARNINGS} | {"E004", "E008"}  # E004 and E008 are tested on raw text below
    docs = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"`{code}`" in docs, f"{code} missing from docs/language.md"
    unexercised = set(CODES) - used
    assert not unexercised, f"no golden case for {sorted(unexercised)}"


WARNINGS = [
    Case(
        "input_saturates",
        BASE.replace("input 16", "input 30\n    quant weights fixed<6,1>, activations ufixed<6,2>")
        .replace('data openml "x"', "data sklearn breast_cancer\n    scale none")
        .replace("classes 5", "classes 2")
        .replace("dense out 5", "dense out 2"),
        "W407",
        9,
        5,
        "write `scale standard` or `scale minmax`, or give the input a wider type (`quant inputs fixed<W,I>`)",
    ),
    Case(
        "axis_changes_nothing",
        BASE.replace("input 16", "input 16\n    quant weights float, bias float, activations float") + "sweep {\n    quant.bits in [4, 8]\n}\n",
        "W804",
        12,
        5,
        "quant.bits changes the width of fixed-point and `N bits` quantizers, not float ones: give the model quantizers, or drop the axis",
    ),
    Case("range_interior", BASE + "search {\n    fc1.reuse in 1..8\n}\n", "W806", 11, 5, "search a list of the values that build: fc1.reuse in [1, 2, 4, 8]"),
    Case("data_file_missing", BASE.replace('openml "x"', 'file "nothere.csv"'), "W601", 7, 5, "`qapc run` needs it there, or another file with --data PATH"),
    Case(
        "narrow_accumulator",
        BASE.replace("input 16", "input 16\n    quant inputs fixed<8,3>, weights fixed<6,1>, activations ufixed<6,2>").replace(
            "dense fc1 8 relu", "dense fc1 8 relu { accum fixed<8,2> }"
        ),
        "W405",
        4,
        24,
        "leave `accum` and `result` out (qapc derives exact ones) or make them as wide as said",
    ),
    Case(
        "firmware_approximates",
        BASE.replace("dense fc1 8 relu", "dense fc1 8 tanh"),
        "W405",
        3,
        11,
        "quantize the weights (e.g. `quant weights fixed<8,2>`; float ones become fixed<16,6> in the firmware); prefer relu to tanh and sigmoid in hidden layers; a float baseline is approximate by nature",
    ),
    Case(
        "unsigned_inputs",
        BASE.replace("input 16", "input 16\n    quant inputs ufixed<8,3>"),
        "W404",
        3,
        18,
        "write `scale minmax` in the train section (values in [0, 1]), or use a signed fixed<W,I> input",
    ),
    Case(
        "prune_rounds_zero",
        BASE + "prune {\n    schedule iterative { rounds 0 }\n}\n",
        "W501",
        11,
        5,
        "remove the prune section, or prune e.g. rounds 4; rate 20%",
    ),
    Case(
        "prune_rate_zero",
        BASE + "prune {\n    schedule iterative { rate 0% }\n}\n",
        "W501",
        11,
        5,
        "remove the prune section, or prune e.g. rounds 4; rate 20%",
    ),
    Case(
        "prune_after_training",
        BASE.replace("input 16", "input 4")
        .replace('data openml "x"', "data sklearn iris")
        .replace("classes 5", "epochs 3")
        .replace("dense out 5", "dense out 3")
        + "prune {\n    schedule constant { target 50%; begin 5000 }\n}\n",
        "W502",
        11,
        5,
        "begin before step 3, or train longer",
    ),
    Case(
        "search_space_smaller_than_trials",
        BASE + "search {\n    trials 10\n    fc1.units in 4..8\n}\n",
        "W811",
        11,
        5,
        "trials 5, or a `sweep { ... }` (a grid runs every point once)",
    ),
    Case(
        "nsga2_population_all_random",
        BASE + "search {\n    trials 10\n    sampler nsga2\n    population 10\n    fc1.units in 4..8\n}\n",
        "W810",
        13,
        5,
        "give a population of at most a quarter of the trials",
    ),
]


@pytest.mark.parametrize("case", WARNINGS, ids=[c.name for c in WARNINGS])
def test_golden_warnings(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Specs that run, but not as written: a warning with its caret, and the spec still checks."""
    (tmp_path / "spec.qap").write_text(case.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    loaded = load_file("spec.qap")
    assert loaded.ok and loaded.spec is not None
    (d,) = [x for x in loaded.diagnostics if x.code == case.code]  # (BASE is a float model: W405 besides)
    got = (d.code, d.severity, d.span.line if d.span else None, d.span.column if d.span else None, d.hint)
    assert got == (case.code, "warning", case.line, case.column, case.hint)


def test_not_utf8() -> None:
    loaded = load_bytes(b"model m {\n    input 16 # caf\xe9\n}\n", "spec.qap", base_dir=Path.cwd())
    (d,) = loaded.diagnostics
    assert (d.code, d.span.line, d.span.column, d.hint) == ("E004", 2, 19, "save the file as UTF-8")  # type: ignore[union-attr]


def test_a_huge_spec_is_refused_at_once() -> None:
    """The review's 200,000-layer spec ran `qapc check` for over 120 s and 2.8 GB before it was killed:
    past the size limit it is one diagnostic, before any parsing."""
    import time

    from qapdsl.syntax import MAX_CHARS

    layers = "".join(f"    dense fc{i} 8 relu\n" for i in range(200_000))
    text = f"model deep {{\n    input 8\n{layers}    dense out 5 softmax\n}}\n"
    t0 = time.perf_counter()
    loaded = load_bytes(text.encode(), "spec.qap", base_dir=Path.cwd())
    assert time.perf_counter() - t0 < 5  # a bound a loaded CI machine keeps (measured: milliseconds)
    (d,) = loaded.diagnostics
    upto = text[:MAX_CHARS]
    assert (d.code, d.span.line) == ("E008", upto.count("\n") + 1)  # type: ignore[union-attr]
    assert "more than the 1,000,000 qapc reads" in d.message and d.hint


def test_all_errors_in_one_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = BASE.replace("dense fc1 8 relu", "dense fc1 8 rleu { reuse 7 }").replace("classes 5", "classes 5\n    epoch 3\n    optimizer adma")
    text += "target fpga {\n    backend vivdo\n}\nsweep {\n    quant.bitz in [4]\n}\n"
    _d, all_diags = _first(tmp_path, monkeypatch, Case("many", text, "", 0, 0, None))
    codes = [x.code for x in all_diags]  # type: ignore[attr-defined]
    assert codes == ["E204", "E306", "E201", "E204", "E204", "E801"], codes


def test_render_has_location_line_caret_and_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = next(c for c in CASES if c.name == "unknown_train_key")
    (tmp_path / "spec.qap").write_text(case.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    loaded = load_file("spec.qap")
    out = render(loaded.diagnostics, loaded.sources).splitlines()
    assert out[0] == "spec.qap:9:5: error[E201]: unknown key 'epoch' in train"
    assert out[1] == "9 |     epoch 10"
    assert out[2] == "  |     ^^^^^"
    assert out[3].startswith("  = hint: did you mean 'epochs'?")


def test_json_diagnostics_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = next(c for c in CASES if c.name == "reuse_bad")
    d, _ = _first(tmp_path, monkeypatch, case)
    data = json.loads(json.dumps(d.to_dict()))  # type: ignore[attr-defined]
    assert data == {
        "code": "E306",
        "severity": "error",
        "message": "reuse factor 7 is not accepted by hls4ml for 'fc1' (16 inputs × 8 outputs)",
        "hint": "nearest valid: 2, 4, 8",
        "file": "spec.qap",
        "line": 3,
        "column": 30,
        "end_line": 3,
        "end_column": 31,
    }


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        # a bad kernel is reported once, at the kernel, not also as a missing one
        (BASE.replace("input 16", "input (8, 8, 1)").replace("dense fc1 8 relu", "conv2d c1 4 relu kernel (3, 3, 3)\n    flatten f"), ["E302"]),
        # an axis with a bad range is one error, not also "search has no axes" and "log names no axis"
        (BASE + "search {\n    fc1.units in 4..2\n    log fc1.units\n}\n", ["E205"]),
        # a bad `input` value is not also a missing `input`
        (BASE.replace("input 16", "input 0"), ["E205"]),
        # an unknown base model is not also "no input" and "no layers"
        (BASE + "model n from mm {\n}\n", ["E103"]),
        # `fc.1` is one invalid name, not three errors
        (BASE.replace("dense fc1 8", "dense fc.1 8"), ["E207"]),
        # a target that cannot be read is not also a target of 0% that prunes nothing (W501) ...
        (BASE + "prune {\n    schedule constant { target 100% }\n}\n", ["E205"]),
        (BASE + "prune {\n    schedule constant { target nan }\n}\n", ["E203"]),
        # ... nor one below the initial sparsity
        (BASE + "prune {\n    schedule polynomial { initial 10%; target 1.5 }\n}\n", ["E205"]),
        # a scope that cannot be read is not also `scope global` with a tfmot schedule (E503)
        (BASE + "prune {\n    scope globl\n    schedule constant { target 50% }\n}\n", ["E204"]),
        # a sampler that cannot be read is not also tpe with NSGA-II's population (E806)
        (BASE + "search {\n    sampler nsga\n    population 4\n    trials 20\n    fc1.units in 4..8\n}\n", ["E204"]),
    ],
    ids=["bad-kernel", "bad-range", "bad-input", "unknown-base", "dotted-name", "target-100", "target-nan", "target-over-initial", "bad-scope", "bad-sampler"],
)
def test_no_cascades(text: str, codes: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, diags = _first(tmp_path, monkeypatch, Case("cascade", text, "", 0, 0, None))
    assert [d.code for d in diags] == codes  # type: ignore[attr-defined]


def test_open_lower_bound_message() -> None:
    loaded = load_bytes(BASE.replace("classes 5", "classes 5\n    optimizer adam lr 0").encode(), "spec.qap", base_dir=Path.cwd())
    (d,) = loaded.diagnostics
    assert (d.code, d.message) == ("E205", "learning rate must be greater than 0 and at most 10, not 0")
