"""Property-based fuzzing: every input gives an IR or diagnostics, never another exception.

Over 10,000 generated inputs per run (the four @given tests below; their
max_examples add up to FUZZ_TOTAL, and each test asserts how many it ran):
random bytes, token-level mutations of the real specs (insert, delete, swap,
duplicate), deep nesting, huge numbers and non-UTF-8 bytes. Each input goes
through the loader (`load_bytes`: parse, imports, lowering, checks), the
diagnostic renderer and `fmt`; whatever `fmt` accepts must format to text
that parses to the same IR, formats to itself and keeps every comment.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ir_support import strip_spans

from qapdsl import ast, ir
from qapdsl.diagnostics import CODES, SpecError, render
from qapdsl.fmt import format_text
from qapdsl.loader import Loaded, load_bytes
from qapdsl.syntax import decode, parse

SPECS = Path(__file__).resolve().parent.parent / "specs"
CORPUS = [p.read_text(encoding="utf-8") for p in sorted(SPECS.glob("*.qap"))]
TOKEN = re.compile(r'"[^"\n]*"|#[^\n]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[A-Za-z_][\w.*?]*|\n|[ \t]+|\.\.|.')
TOKENS = [t for text in CORPUS for t in TOKEN.findall(text)]
EXTRA = [
    "{", "}", "[", "]", "(", ")", "<", ">", ",", ";", "..", "in", "from", "import", "model", "%", " ns", " MHz",
    " bits", "fixed<", "ufixed<", "9" * 40, "1e999", "-1", "0", "0.0", '"', "\x00", "\ufeff", "\r\n", "#", "*", "fc*",
    "layer", "remove", "sweep", "search", "prune", "target", "train", " int ", "po2", "binary", "ternary", "float",
    "quant.bits", "fc1.units", "out.reuse", "\t", "é", "''", "=", ":", "\\",
]  # fmt: skip
POOL = TOKENS + EXTRA

MAX = {"bytes": 2000, "mutated": 5000, "structured": 1500, "non_utf8": 1500}
FUZZ_TOTAL = sum(MAX.values())
RUN: Counter[str] = Counter()
# In CI the inputs are drawn from a fixed seed, so a landing never depends on luck;
# locally every run draws new ones and keeps hunting.
FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=bool(os.environ.get("CI")))


def _comments(tree: ast.File) -> Counter[str]:
    return Counter(c.text for c in tree.comments)


def check_outcome(data: bytes) -> None:
    """The property: an IR, or diagnostics from the catalogue; fmt is stable."""
    loaded = load_bytes(data, "fuzz.qap", base_dir=SPECS)
    assert isinstance(loaded, Loaded)
    if loaded.spec is not None:
        assert loaded.ok
        again = ir.Spec.model_validate_json(loaded.spec.model_dump_json())
        assert again == loaded.spec
    else:
        assert loaded.diagnostics
    for d in loaded.diagnostics:
        assert d.code in CODES, d
        assert d.span is None or (d.span.line >= 1 and d.span.column >= 1)
    render(loaded.diagnostics, loaded.sources)
    try:
        text = decode(data, "fuzz.qap")
        formatted = format_text(text, "fuzz.qap")
    except SpecError as e:
        assert e.diagnostics and all(d.code in CODES for d in e.diagnostics)
        return
    assert format_text(formatted, "fuzz.qap") == formatted, "fmt is not idempotent"
    assert _comments(parse(formatted, "fuzz.qap")) == _comments(parse(text, "fuzz.qap")), "fmt lost a comment"
    reloaded = load_bytes(formatted.encode("utf-8"), "fuzz.qap", base_dir=SPECS)
    assert (reloaded.spec is None) == (loaded.spec is None)
    if loaded.spec is not None and reloaded.spec is not None:
        assert strip_spans(reloaded.spec.model_dump(mode="json")) == strip_spans(loaded.spec.model_dump(mode="json"))
    else:
        assert [d.code for d in reloaded.diagnostics] == [d.code for d in loaded.diagnostics]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    tokens = TOKEN.findall(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "swap", "duplicate", "replace"]))
        i = draw(st.integers(0, max(len(tokens) - 1, 0)))
        if op == "insert":
            tokens.insert(i, draw(st.sampled_from(POOL)))
        elif op == "delete" and tokens:
            del tokens[i]
        elif op == "swap" and len(tokens) > 1:
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "duplicate" and tokens:
            tokens.insert(i, tokens[i])
        elif tokens:
            tokens[i] = draw(st.sampled_from(POOL))
    return "".join(tokens).encode("utf-8")


@st.composite
def structured(draw: st.DrawFn) -> bytes:
    """Deep nesting and huge numbers in otherwise plausible places."""
    depth = draw(st.one_of(st.integers(0, 40), st.integers(1000, 20000)))
    number = draw(st.sampled_from(["9" * draw(st.integers(10, 400)), "1e999", "-1e-999", "0", "2147483648", "4294967296", "1" + "0" * 30 + ".5"]))
    shape = draw(st.sampled_from(["{", "[", "(", "mixed"]))
    if shape == "{":
        value = "layer x " + "{ a " * depth + "}" * depth
    elif shape == "mixed":
        opens = "".join(draw(st.sampled_from(["[", "("])) for _ in range(min(depth, 200)))
        value = "input " + opens + number + "".join("]" if c == "[" else ")" for c in reversed(opens))
    else:
        close = "]" if shape == "[" else ")"
        value = "input " + shape * depth + number + close * depth
    where = draw(
        st.sampled_from(["input {n}", "dense fc1 {n} relu", "quant weights fixed<{n},1>", "quant weights {n} bits", "dense fc1 8 relu {{ reuse {n} }}"])
    )
    body = "model m {\n    " + where.format(n=number) + "\n    " + value + "\n    dense out 5 softmax\n}\n"
    tail = draw(
        st.sampled_from(['train { data openml "x"; classes 5 }\n', "sweep { quant.bits in [" + number + "] }\n", "target fpga { clock " + number + " ns }\n"])
    )
    return (body + tail).encode("utf-8")


@st.composite
def non_utf8(draw: st.DrawFn) -> bytes:
    base = draw(st.sampled_from(CORPUS)).encode("utf-8")
    i = draw(st.integers(0, len(base)))
    bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xe9", b"\x80\x80", b"\xed\xa0\x80", b"\xf5", b"\x00", b"\xef\xbb\xbf", b"\xfe\xff"]))
    return base[:i] + bad + base[i:]


def _run(name: str, data: bytes) -> None:
    RUN[name] += 1
    check_outcome(data)


def test_fuzz_random_bytes() -> None:
    @settings(FUZZ, max_examples=MAX["bytes"])
    @given(st.binary(max_size=400) | st.text(alphabet=st.sampled_from(list('{}[]()<>,;.#"\n model input dense5%')), max_size=200).map(str.encode))
    def run(data: bytes) -> None:
        _run("bytes", data)

    run()
    print(f"random bytes: {RUN['bytes']} inputs")
    assert RUN["bytes"] >= MAX["bytes"]


def test_fuzz_mutated_specs() -> None:
    @settings(FUZZ, max_examples=MAX["mutated"])
    @given(mutated())
    def run(data: bytes) -> None:
        _run("mutated", data)

    run()
    print(f"mutated specs: {RUN['mutated']} inputs")
    assert RUN["mutated"] >= MAX["mutated"]


def test_fuzz_deep_and_huge() -> None:
    @settings(FUZZ, max_examples=MAX["structured"])
    @given(structured())
    def run(data: bytes) -> None:
        _run("structured", data)

    run()
    print(f"deep nesting / huge numbers: {RUN['structured']} inputs")
    assert RUN["structured"] >= MAX["structured"]


def test_fuzz_non_utf8() -> None:
    @settings(FUZZ, max_examples=MAX["non_utf8"])
    @given(non_utf8())
    def run(data: bytes) -> None:
        _run("non_utf8", data)

    run()
    print(f"non-UTF-8: {RUN['non_utf8']} inputs")
    assert RUN["non_utf8"] >= MAX["non_utf8"]


def test_fuzz_total() -> None:
    assert FUZZ_TOTAL >= 10_000
