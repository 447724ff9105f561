"""Which model and layer names the tools downstream accept.

A spec's names travel far: the model name becomes hls4ml's C++ top function,
its header guard (`NAME_H_`), its file names (`NAME.cpp`, `NAME_bridge.cpp`,
`NAME-STAMP.so`) and the project name in Tcl; layer names become Keras layer
names and hls4ml typedefs (`fc1_accum_t`, `fc1_relu_table_t`). What is refused
here was found by compiling hls4ml 1.3.0's generated firmware and bridge with
g++ 12 under each candidate name (`-fsyntax-only`, C++23, as hls4ml builds it):

- C++ keywords and alternative tokens (`int`, `and`, `class`, ...);
- names the firmware already uses: the namespaces `std`, `nnet`, `hls`,
  `main`, the top function's arguments and types (`inputs`, `input_t`,
  `result_t`), hls4ml's numbered names (`w3`, `b3`, `config3`, `layer3_t`,
  `layer11_out`, `relu_config5`, ...), the `ap_` types, and what glibc's headers
  declare at global scope under g++'s `_GNU_SOURCE` (`uint`, `ulong`, `u_char`,
  `fd_set`, `timezone`, `errno`, the `htobe16`-style macros, ...; found by
  compiling a declaration of each name the headers mention next to the bridge);
- macros of the headers it includes: all-caps names (`EOF`, `NULL`, `MIN`,
  `MAX`, `DIV_ROUNDUP`, `M_PI`, ...) and a few lower-case ones (`assert`,
  `errno`, `stdin`, `offsetof`, ...), and names whose header guard is another
  header's (`defines`, `parameters`, `nnet_dense`: `NNET_DENSE_H_`);
- type names ending in `_t` (`size_t`, `int32_t`, and every hls4ml typedef).

TensorFlow refuses layer names starting with `_`; a leading `_` or a `__`
anywhere is also reserved in C++. Names are capped at 64 characters (file
names have 255 bytes; nothing else needs more).
"""

from __future__ import annotations

import re

MAX_LENGTH = 64

CXX_KEYWORDS = frozenset(
    """alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class compl
    concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype default delete do
    double dynamic_cast else enum explicit export extern false float for friend goto if inline int long mutable namespace
    new noexcept not not_eq nullptr operator or or_eq private protected public register reinterpret_cast requires return
    short signed sizeof static static_assert static_cast struct switch template this thread_local throw true try typedef
    typeid typename union unsigned using virtual void volatile wchar_t while xor xor_eq""".split()
)

# Identifiers of the generated firmware and of the headers it includes (lower-case macros among them).
FIRMWARE_NAMES = frozenset(
    """main std nnet hls abi inputs defines parameters myproject af_bit_ref af_range_ref ap_bigint ap_biguint
    alloca assert assert_perror errno offsetof stdin stdout stderr math_errhandling issubnormal strdupa strndupa sched_priority
    daylight timezone tzname signgam getdate_err program_invocation_name program_invocation_short_name va_list
    uint ulong ushort u_char u_short u_int u_long fd_set fd_mask
    be16toh be32toh be64toh le16toh le32toh le64toh htobe16 htobe32 htobe64 htole16 htole32 htole64
    pthread_cleanup_push pthread_cleanup_pop pthread_cleanup_pop_restore_np pthread_cleanup_push_defer_np""".split()
)

IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# hls4ml's numbered names: its weight variables (w3, b3, s4, wr5, ... : the `var_name`s of hls4ml 1.3.0's layers),
# configs (config3, relu_config5, softmax_config11) and tensors (layer3_out, layer3_index, weight3_t, ...)
GENERATED = re.compile(r"(?:a|b|br|d|e|p|s|t|th|tl|w|wr|z)\d+|(?:[a-z]+_)?config\d+|(?:layer|weight|bias|scale|zero|mask|table)\d+(?:_[a-z]+)?", re.IGNORECASE)
HEADER_PREFIXES = ("nnet", "ap_", "hls_")  # their headers' guards (NNET_DENSE_H_, ...) and types (ap_fixed, ...)


def model_name_problem(name: str) -> str | None:
    """Why hls4ml's C++ (or the file system) cannot take `name` as the model's name, or None."""
    if not IDENTIFIER.match(name):
        return "it must start with a letter and hold only letters, digits and '_'"
    if len(name) > MAX_LENGTH:
        return f"it is {len(name)} characters long; names have at most {MAX_LENGTH}"
    if "__" in name:
        return "C++ reserves names with '__'"
    if name in CXX_KEYWORDS:
        return f"'{name}' is a C++ keyword, and hls4ml names its C++ top function after the model"
    if name in FIRMWARE_NAMES:
        return f"the generated C++ firmware already uses '{name}'"
    if name.upper() == name and any(c.isalpha() for c in name):
        return "all-capitals names are what C headers use for macros (EOF, NULL, MIN, MAX, ...), which would rewrite the top function"
    if re.match(r"[A-Z]_", name):
        return "names like M_PI or L_tmpnam are C library macros"
    if name.endswith("_t"):
        return "names ending in '_t' are type names (size_t, and every typedef hls4ml writes)"
    if GENERATED.fullmatch(name):
        return f"hls4ml numbers its own C++ names like '{name}'"
    if name.lower().startswith(HEADER_PREFIXES):
        return "names starting with nnet, ap_ or hls_ are taken by hls4ml's and Xilinx's headers"
    return None


# The RTL step (`rtl verilog`): da4ml names the Verilog module after the model (`NAME`, `NAME_wrapper`,
# `NAME_stage0`, ...), beside its own modules. Verilator and Yosys read the sources as SystemVerilog / Verilog:
# IEEE 1800-2017's reserved words (Annex B; Verilog-2005's are among them) cannot name a module.
VERILOG_KEYWORDS = frozenset(
    """accept_on alias always always_comb always_ff always_latch and assert assign assume automatic before begin bind bins
    binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle checker class clocking cmos config const constraint
    context continue cover covergroup coverpoint cross deassign default defparam design disable dist do edge else end endcase
    endchecker endclass endclocking endconfig endfunction endgenerate endgroup endinterface endmodule endpackage endprimitive
    endprogram endproperty endspecify endsequence endtable endtask enum event eventually expect export extends extern final
    first_match for force foreach forever fork forkjoin function generate genvar global highz0 highz1 if iff ifnone
    ignore_bins illegal_bins implements implies import incdir include initial inout input inside instance int integer
    interconnect interface intersect join join_any join_none large let liblist library local localparam logic longint
    macromodule matches medium modport module nand negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1
    null or output package packed parameter pmos posedge primitive priority program property protected pull0 pull1 pulldown
    pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase randsequence rcmos real realtime ref reg reject_on
    release repeat restrict return rnmos rpmos rtran rtranif0 rtranif1 s_always s_eventually s_nexttime s_until
    s_until_with scalared sequence shortint shortreal showcancelled signed small soft solve specify specparam static string
    strong strong0 strong1 struct super supply0 supply1 sync_accept_on sync_reject_on table tagged task this throughout time
    timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand trior trireg type typedef union unique unique0 unsigned
    until until_with untyped use uwire var vectored virtual void wait wait_order wand weak weak0 weak1 while wildcard wire
    with within wor xnor xor""".split()
)
# da4ml 0.x's own modules (src/static/*.v): a model of the same name defines one twice, or instantiates itself
DA4ML_MODULES = frozenset({"binop", "lookup_table", "multiplier", "mux", "negative", "shift_adder"})


def rtl_model_name_problem(name: str) -> str | None:
    """Why the RTL step's Verilog (da4ml's module, Verilator, Yosys) cannot take `name` as the model's name, or None."""
    if name in VERILOG_KEYWORDS:
        return f"'{name}' is a Verilog / SystemVerilog keyword, and da4ml names the RTL's module after the model"
    if name in DA4ML_MODULES:
        return f"da4ml's RTL already has a module '{name}' (src/static/{name}.v)"
    return None


def layer_name_problem(name: str) -> str | None:
    """Why TensorFlow or hls4ml cannot take `name` as a layer's name, or None."""
    if name.startswith("_"):
        return "TensorFlow refuses layer names that start with '_'"
    if not IDENTIFIER.match(name):
        return "it must start with a letter and hold only letters, digits and '_'"
    if len(name) > MAX_LENGTH:
        return f"it is {len(name)} characters long; names have at most {MAX_LENGTH}"
    if "__" in name:
        return "C++ reserves names with '__', and hls4ml makes typedefs from layer names"
    return None


def suggestion(name: str) -> str:
    """A model name in the same spirit that passes (for the hint)."""
    base = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()[: MAX_LENGTH - 4] or "model"
    if not base[0].isalpha():
        base = "m_" + base
    return next((c for c in (base, f"{base}_net") if model_name_problem(c) is None), "my_model")
