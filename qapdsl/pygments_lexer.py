"""A Pygments lexer for .qap specs: `pygmentize -l qap spec.qap`, and docs.

Registered through the `pygments.lexers` entry point in pyproject.toml. The
word tables below are written by editors/generate.py from grammar/qap.lark and
qapdsl/schema.py (tests/test_editors.py fails when they are out of date); the
rules mirror the TextMate grammar in editors/vscode/syntaxes/.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pygments.lexer import RegexLexer, bygroups
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

# fmt: off
# --- BEGIN GENERATED WORDS (editors/generate.py) ---
STRUCTURE: tuple[str, ...] = ('import', 'model', 'from', 'in')
SECTIONS: tuple[str, ...] = ('prune', 'search', 'sweep', 'target', 'train')
UNITS: tuple[str, ...] = ('bits', 'GHz', 'MHz', 'bit', 'kHz', 'ms', 'ns', 'us', '%')
FIXKINDS: tuple[str, ...] = ('fixed', 'ufixed')
LAYER_KINDS: tuple[str, ...] = ('activation', 'avgpool', 'batchnorm', 'conv1d', 'conv2d', 'dense', 'dropout', 'flatten', 'maxpool')
LAYER_REFS: tuple[str, ...] = ('layer', 'remove')
KEYS: tuple[str, ...] = ('accum', 'activations', 'agreement', 'backend', 'baseline', 'batch', 'batchnorm', 'begin', 'bias', 'budget', 'classes', 'clock', 'data', 'dialect', 'early_stop', 'end', 'epochs', 'frequency', 'initial', 'input', 'io', 'l1', 'l2', 'log', 'loss', 'method', 'nobias', 'objective', 'optimizer', 'part', 'pipeline', 'population', 'power', 'precision', 'quant', 'rate', 'reference', 'repeat', 'result', 'reuse', 'rewind', 'rounds', 'rtl', 'sampler', 'scale', 'schedule', 'scope', 'seed', 'select', 'skip', 'split', 'strategy', 'synth', 'target', 'trials', 'weights')
ACTIVATIONS: tuple[str, ...] = ('linear', 'relu', 'sigmoid', 'softmax', 'tanh')
QUANT_KINDS: tuple[str, ...] = ('binary', 'bits', 'float', 'learned', 'po2', 'ternary')
OPTIONS: tuple[str, ...] = ('activations', 'alpha', 'beta', 'bias', 'inputs', 'int', 'kernel', 'lr', 'padding', 'patience', 'per', 'pool', 'stride', 'target', 'test', 'val', 'weights')
CONSTANTS: tuple[str, ...] = ('accuracy', 'adam', 'auc', 'auto', 'auto_po2', 'bops', 'breast_cancer', 'brevitas', 'catapult', 'channel', 'cmaes', 'constant', 'digits', 'distributed_arithmetic', 'file', 'fpga', 'global', 'hgq2', 'init', 'iris', 'iterative', 'latency', 'luts', 'magnitude', 'maximize', 'memory', 'minimize', 'minmax', 'none', 'nsga2', 'off', 'on', 'oneapi', 'openml', 'parallel', 'params', 'polynomial', 'qkeras', 'quartus', 'random', 'resource', 'rmsprop', 'rtl_cost', 'same', 'sgd', 'sklearn', 'standard', 'stream', 'tpe', 'valid', 'verilog', 'vhdl', 'vitis', 'vivado', 'weight', 'wine')
# --- END GENERATED WORDS ---
# fmt: on

_NOT_BEFORE = r"(?<![\w.*?])"
_NOT_AFTER = r"(?![\w.*?])"
_STMT_START = r"(?:^|(?<=[{;]))"
_ITEM_START = r"(?:^|(?<=[};]))"
_NAME = r"[A-Za-z_*?][A-Za-z0-9_*?]*(?:\.[A-Za-z_*?][A-Za-z0-9_*?]*)*"
_NUMBER = r"[+-]?(?:\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?|\d+)"
_NUM_START = r"(?<![\w.])"


def _alt(words: tuple[str, ...]) -> str:
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))) + ")"


def _words(words: tuple[str, ...]) -> str:
    return _NOT_BEFORE + _alt(words) + _NOT_AFTER


def _units() -> str:
    alpha = tuple(u for u in UNITS if u[:1].isalpha())
    other = "|".join(re.escape(u) for u in UNITS if not u[:1].isalpha())
    return "(?:" + _alt(alpha) + _NOT_AFTER + (f"|{other}" if other else "") + ")"


class QapLexer(RegexLexer):  # type: ignore[misc]  # Pygments is untyped
    """Lexer for qapc's .qap specs (quantized, pruned networks, their training and FPGA target)."""

    name = "QAP"
    aliases: ClassVar[list[str]] = ["qap"]
    filenames: ClassVar[list[str]] = ["*.qap"]
    mimetypes: ClassVar[list[str]] = ["text/x-qap"]
    url = "https://github.com/qapc/qapc"
    flags = re.MULTILINE

    tokens: ClassVar[dict[str, list[Any]]] = {
        "root": [
            (r"\n", Whitespace),
            (r"#.*$", Comment.Single),
            (r'"', String.Double, "string"),
            (_NOT_BEFORE + r"(import)" + _NOT_AFTER, Keyword.Namespace),
            (
                _NOT_BEFORE + r"(model)(\s+)(" + _NAME + r")(?:(\s+)(from)(\s+)(" + _NAME + r"))?",
                bygroups(Keyword.Declaration, Whitespace, Name.Class, Whitespace, Keyword, Whitespace, Name.Class),
            ),
            (
                _ITEM_START + r"(\s*)(" + _alt(SECTIONS) + r")(?:(\s+)(" + _NAME + r"))?(?=\s*\{)",
                bygroups(Whitespace, Keyword.Declaration, Whitespace, Name.Namespace),
            ),
            (_NOT_BEFORE + r"(?:model|from)" + _NOT_AFTER, Keyword),
            (_STMT_START + r"(\s*)(" + _NAME + r")(\s+)(in)" + _NOT_AFTER, bygroups(Whitespace, Name.Variable, Whitespace, Operator.Word)),
            (_STMT_START + r"(\s*)(" + _alt(LAYER_KINDS) + r")(\s+)(" + _NAME + ")", bygroups(Whitespace, Keyword.Type, Whitespace, Name.Function)),
            (_STMT_START + r"(\s*)(" + _alt(LAYER_REFS) + r")(\s+)(" + _NAME + ")", bygroups(Whitespace, Name.Attribute, Whitespace, Name.Function)),
            (_STMT_START + r"(\s*)(" + _alt(KEYS) + ")" + _NOT_AFTER, bygroups(Whitespace, Name.Attribute)),
            (_STMT_START + r"(\s*)(" + _alt(LAYER_KINDS + LAYER_REFS) + ")" + _NOT_AFTER, bygroups(Whitespace, Keyword.Type)),
            (r"[ \t\f\r]+", Whitespace),
            (_NOT_BEFORE + r"(" + _alt(FIXKINDS) + r")(\s*)(<)", bygroups(Keyword.Type, Whitespace, Punctuation), "fixtype"),
            (_NUM_START + r"(" + _NUMBER + r")(\.\.)(" + _NUMBER + ")", bygroups(Number, Operator, Number)),
            (_NUM_START + r"(" + _NUMBER + r")(\s*)(" + _units() + ")", bygroups(Number, Whitespace, Keyword.Pseudo)),
            (_NUM_START + _NUMBER + _NOT_AFTER, Number),
            (_words(ACTIVATIONS), Name.Builtin),
            (_words(QUANT_KINDS + FIXKINDS), Keyword.Type),
            (_words(OPTIONS), Name.Property),
            (_words(CONSTANTS), Name.Constant),
            (_NOT_BEFORE + r"[A-Za-z0-9_.]*[*?][A-Za-z0-9_.*?]*", Name.Other),
            (_NOT_BEFORE + r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", Name.Variable),
            (_NOT_BEFORE + r"[A-Za-z_]\w*", Name),
            (r"[{}\[\](),;]", Punctuation),
        ],
        "string": [
            (r'\\["\\nt]', String.Escape),
            (r"\\.?", String.Double),  # not an escape of the language; `qapc check` reports it, highlighting goes on
            (r'[^"\\\n]+', String.Double),
            (r'"', String.Double, "#pop"),
            (r"\n", Whitespace, "#pop"),  # an unterminated string ends with its line (as in the grammar)
        ],
        "fixtype": [
            (r"[ \t]+", Whitespace),
            (r"[+-]?\d+", Number.Integer),
            (r",", Punctuation),
            (r"[A-Za-z_]\w*", Name.Constant),
            (r">", Punctuation, "#pop"),
            (r"\n", Whitespace, "#pop"),
        ],
    }
