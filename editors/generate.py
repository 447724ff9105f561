"""Generate the editor grammars' word lists from the language itself.

The TextMate grammar (VS Code), the Vim syntax file, the vocabulary syntax
test of the TextMate grammar and the word tables of the Pygments lexer are
written from `qapdsl.syntax.keywords()` (grammar/qap.lark) and
`qapdsl.schema` (the vocabulary), so they cannot drift from the language.
The files written are plain files, usable without qapc installed.

    python editors/generate.py          # rewrite the files
    python editors/generate.py --check  # exit 1 when a file is out of date (CI)

tests/test_editors.py runs the check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qapdsl import schema, syntax  # noqa: E402

TMLANGUAGE = ROOT / "editors" / "vscode" / "syntaxes" / "qap.tmLanguage.json"
VOCAB_TEST = ROOT / "editors" / "vscode" / "tests" / "vocabulary.qap"
VIM_SYNTAX = ROOT / "editors" / "vim" / "syntax" / "qap.vim"
PYGMENTS = ROOT / "qapdsl" / "pygments_lexer.py"

BEGIN_MARK = "# --- BEGIN GENERATED WORDS (editors/generate.py) ---"
END_MARK = "# --- END GENERATED WORDS ---"

# Words used as sub-keys inside a statement (`optimizer adam lr 1e-4`,
# `split test 0.2, val 0.25`, `conv2d c 8 relu kernel 3 stride 1`). The
# vocabulary does not say which words play that role, so it is said here;
# every other vocabulary word that is not a key is a constant.
OPTION_WORDS = frozenset({"alpha", "per", "beta", "int", "kernel", "stride", "padding", "pool", "lr", "patience", "target", "test", "val"})


@dataclass(frozen=True)
class Words:
    """The language's words by the role an editor colours them in."""

    structure: tuple[str, ...]  # import model from in
    sections: tuple[str, ...]  # prune train target sweep search
    units: tuple[str, ...]  # ns MHz bits % ...
    fixkinds: tuple[str, ...]  # fixed ufixed
    layer_kinds: tuple[str, ...]
    layer_refs: tuple[str, ...]  # layer remove
    keys: tuple[str, ...]  # every key of every block
    activations: tuple[str, ...]
    quant_kinds: tuple[str, ...]  # bits po2 binary ternary float (fixed/ufixed are fixkinds)
    options: tuple[str, ...]
    constants: tuple[str, ...]

    def all(self) -> set[str]:
        out: set[str] = set()
        for group in self.__dict__.values():
            out.update(group)
        return out


def collect() -> Words:
    kws = syntax.keywords()
    units = tuple(sorted(schema.UNITS, key=lambda u: (-len(u), u)))  # longest first: `bits` before `bit`
    fixkinds = tuple(sorted(k for k in kws if k in schema.QUANT_KINDS and k not in schema.UNITS))
    structure = ("import", "model", "from", "in")
    missing = set(structure) - kws
    if missing:
        raise SystemExit(f"generate.py: the grammar no longer has the keywords {sorted(missing)}; update editors/generate.py")
    sections = tuple(sorted(kws - set(structure) - set(units) - set(fixkinds)))
    layer_kinds = tuple(sorted(schema.LAYER_KINDS))
    layer_refs = ("layer", "remove")
    keys: set[str] = set()
    for table in (schema.MODEL_KEYS, schema.LAYER_SETTINGS, schema.PRUNE_KEYS, schema.TRAIN_KEYS, schema.TARGET_KEYS, schema.SEARCH_KEYS, *schema.SECTIONS.values()):
        keys.update(table)
    for sched in schema.SCHEDULE_KEYS.values():
        keys.update(sched)
    keys.update(schema.RTL_KEYS)
    keys -= set(layer_kinds) - set(schema.LAYER_SETTINGS)  # a layer kind is a key only where it is also a setting (batchnorm)
    keys -= set(layer_refs)
    activations = tuple(sorted(schema.ACTIVATIONS))
    quant_kinds = tuple(sorted(set(schema.QUANT_KINDS) - set(fixkinds)))
    options = tuple(sorted(set(schema.QUANT_ROLES) | (OPTION_WORDS & schema.vocabulary())))
    taken = set(structure) | set(sections) | set(units) | set(fixkinds) | set(layer_kinds) | set(layer_refs) | keys | set(activations) | set(quant_kinds) | set(options)
    constants = tuple(sorted(w for w in schema.vocabulary() if w not in taken and re.fullmatch(r"[A-Za-z_]\w*", w)))
    return Words(
        structure=structure,
        sections=sections,
        units=units,
        fixkinds=fixkinds,
        layer_kinds=layer_kinds,
        layer_refs=layer_refs,
        keys=tuple(sorted(keys)),
        activations=activations,
        quant_kinds=quant_kinds,
        options=options,
        constants=constants,
    )


# -- regular expressions shared by the TextMate grammar (Oniguruma) and Pygments (Python re) ------------------------

NOT_BEFORE = r"(?<![\w.*?])"
NOT_AFTER = r"(?![\w.*?])"
STMT_START = r"(?:^|(?<=[{;]))\s*"
ITEM_START = r"(?:^|(?<=[};]))\s*"
NAME = r"[A-Za-z_*?][A-Za-z0-9_*?]*(?:\.[A-Za-z_*?][A-Za-z0-9_*?]*)*"
NUMBER = r"[+-]?(?:\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?|\d+)"
NUM_START = r"(?<![\w.])"


def alt(words: tuple[str, ...] | list[str]) -> str:
    """`(?:a|b|c)`, longest first so a prefix never wins."""
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))) + ")"


def word_re(words: tuple[str, ...] | list[str]) -> str:
    return NOT_BEFORE + "(" + alt(words) + ")" + NOT_AFTER


def unit_re(units: tuple[str, ...]) -> str:
    alpha = [u for u in units if u[:1].isalpha()]
    other = [u for u in units if not u[:1].isalpha()]
    parts = [alt(alpha) + NOT_AFTER] if alpha else []
    parts += [re.escape(u) for u in other]
    return "(?:" + "|".join(parts) + ")"


# -- TextMate ----------------------------------------------------------------------------------------------------------


def tmlanguage(w: Words) -> dict[str, object]:
    def cap(*names: str) -> dict[str, dict[str, str]]:
        return {str(i + 1): {"name": n} for i, n in enumerate(names)}

    def rule(regex: str, *names: str) -> dict[str, object]:
        if len(names) == 1 and "(" not in regex.replace("(?", ""):
            return {"match": regex, "name": names[0]}
        return {"match": regex, "captures": cap(*names)}

    repo: dict[str, object] = {
        "comment": {"match": r"(#).*$", "name": "comment.line.number-sign.qap", "captures": cap("punctuation.definition.comment.qap")},
        "string": {
            "begin": '"',
            "end": '"|$',
            "beginCaptures": {"0": {"name": "punctuation.definition.string.begin.qap"}},
            "endCaptures": {"0": {"name": "punctuation.definition.string.end.qap"}},
            "name": "string.quoted.double.qap",
            "patterns": [
                {"match": r'\\["\\nt]', "name": "constant.character.escape.qap"},
                {"match": r"\\.", "name": "invalid.illegal.escape.qap"},
            ],
        },
        "import": rule(word_re(["import"]), "keyword.control.import.qap"),
        "model": rule(
            NOT_BEFORE + r"(model)\s+(" + NAME + r")(?:\s+(from)\s+(" + NAME + r"))?",
            "keyword.declaration.model.qap",
            "entity.name.type.model.qap",
            "keyword.other.from.qap",
            "entity.other.inherited-class.model.qap",
        ),
        "section": rule(
            ITEM_START + "(" + alt(w.sections) + r")(?:\s+(" + NAME + r"))?(?=\s*\{)",
            "keyword.declaration.section.qap",
            "entity.name.section.qap",
        ),
        "structure": rule(word_re(["model", "from"]), "keyword.other.qap"),
        "membership": rule(STMT_START + "(" + NAME + r")\s+(in)" + NOT_AFTER, "variable.other.path.qap", "keyword.operator.in.qap"),
        "layer": rule(STMT_START + "(" + alt(w.layer_kinds) + r")\s+(" + NAME + ")", "storage.type.layer.qap", "entity.name.function.layer.qap"),
        "layer_ref": rule(STMT_START + "(" + alt(w.layer_refs) + r")\s+(" + NAME + ")", "keyword.other.key.qap", "entity.name.function.layer.qap"),
        "key": rule(STMT_START + "(" + alt(w.keys) + ")" + NOT_AFTER, "keyword.other.key.qap"),
        "layer_kind": rule(STMT_START + "(" + alt(w.layer_kinds + w.layer_refs) + ")" + NOT_AFTER, "storage.type.layer.qap"),
        "fixtype": {
            "begin": NOT_BEFORE + "(" + alt(w.fixkinds) + r")\s*(<)",
            "beginCaptures": cap("storage.type.fixed.qap", "punctuation.definition.typeparameters.begin.qap"),
            "end": ">|$",
            "endCaptures": {"0": {"name": "punctuation.definition.typeparameters.end.qap"}},
            "name": "meta.type.fixed.qap",
            "patterns": [
                {"match": r"[+-]?\d+", "name": "constant.numeric.integer.qap"},
                {"match": ",", "name": "punctuation.separator.comma.qap"},
                {"match": r"[A-Za-z_]\w*", "name": "constant.language.mode.qap"},
            ],
        },
        "range": rule(NUM_START + "(" + NUMBER + r")(\.\.)(" + NUMBER + ")", "constant.numeric.qap", "keyword.operator.range.qap", "constant.numeric.qap"),
        "quantity": rule(NUM_START + "(" + NUMBER + r")\s*(" + unit_re(w.units) + ")", "constant.numeric.qap", "keyword.other.unit.qap"),
        "number": rule(NUM_START + NUMBER + NOT_AFTER, "constant.numeric.qap"),
        "activation": rule(word_re(w.activations), "support.function.activation.qap"),
        "quant_kind": rule(word_re(w.quant_kinds + w.fixkinds), "storage.type.quant.qap"),
        "option": rule(word_re(w.options), "variable.parameter.option.qap"),
        "constant": rule(word_re(w.constants), "constant.language.qap"),
        "glob": rule(NOT_BEFORE + r"[A-Za-z0-9_.]*[*?][A-Za-z0-9_.*?]*", "variable.other.glob.qap"),
        "path": rule(NOT_BEFORE + r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", "variable.other.path.qap"),
        "name": rule(NOT_BEFORE + r"[A-Za-z_]\w*", "variable.other.name.qap"),
        "punctuation": {
            "patterns": [
                {"match": r"\{", "name": "punctuation.section.block.begin.qap"},
                {"match": r"\}", "name": "punctuation.section.block.end.qap"},
                {"match": r"\[", "name": "punctuation.section.brackets.begin.qap"},
                {"match": r"\]", "name": "punctuation.section.brackets.end.qap"},
                {"match": r"\(", "name": "punctuation.section.parens.begin.qap"},
                {"match": r"\)", "name": "punctuation.section.parens.end.qap"},
                {"match": ",", "name": "punctuation.separator.comma.qap"},
                {"match": ";", "name": "punctuation.terminator.statement.qap"},
            ]
        },
    }
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "QAP",
        "scopeName": "source.qap",
        "fileTypes": ["qap"],
        "comment": "Generated by editors/generate.py from grammar/qap.lark and qapdsl/schema.py; do not edit by hand.",
        "patterns": [{"include": f"#{k}"} for k in repo],
        "repository": repo,
    }


def vocabulary_test(w: Words) -> str:
    """A syntax test (vscode-tmgrammar-test) that puts every word in a context and asserts its scope."""
    lines = [
        '# SYNTAX TEST "source.qap" "every keyword and vocabulary word (generated by editors/generate.py)"',
        "",
    ]

    def case(line: str, word: str, scope: str, at: int | None = None) -> None:
        col = line.index(word) if at is None else at
        assert col >= 1, line
        lines.append(line)
        lines.append("#" + " " * (col - 1) + "^" * len(word) + " " + scope)

    case(' import "base.qap"', "import", "keyword.control.import.qap")
    case(" model m from base {", "model", "keyword.declaration.model.qap")
    case(" model m from base {", "from", "keyword.other.from.qap")
    case(" model m from base {", "base", "entity.other.inherited-class.model.qap")
    case(" quant.bits in [4, 8]", "in", "keyword.operator.in.qap")
    for s in w.sections:
        case(f" {s} x {{", s, "keyword.declaration.section.qap")
    for u in w.units:
        line = f" clock 5{u}" if not u[:1].isalpha() else f" clock 5 {u}"
        case(line, u, "keyword.other.unit.qap", at=line.rindex(u))
    for f in w.fixkinds:
        case(f" weights {f}<6,1>", f, "storage.type.fixed.qap")
    case(" model m from base {", "m", "entity.name.type.model.qap", at=len(" model "))
    for k in w.layer_kinds:
        case(f" {k} layer_name", k, "storage.type.layer.qap")
        case(f" {k} layer_name", "layer_name", "entity.name.function.layer.qap")
    for r in w.layer_refs:
        case(f" {r} layer_name", r, "keyword.other.key.qap")
        case(f" {r} layer_name", "layer_name", "entity.name.function.layer.qap")
    for k in w.keys:
        case(f" {k} 1", k, "keyword.other.key.qap")
    for a in w.activations:
        case(f" dense fc 4 {a}", a, "support.function.activation.qap", at=len(" dense fc 4 "))
    for q in w.quant_kinds:
        line = f" quant weights {q}"
        case(line, q, "storage.type.quant.qap", at=line.rindex(q))
    for o in w.options:
        line = f" x 1 {o} 2"
        case(line, o, "variable.parameter.option.qap", at=line.rindex(o))
    for c in w.constants:
        line = f" x {c}"
        case(line, c, "constant.language.qap", at=line.rindex(c))
    return "\n".join(lines) + "\n"


# -- Vim -----------------------------------------------------------------------------------------------------------------


def vim_syntax(w: Words) -> str:
    def keywords(group: str, words: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        line = f"syntax keyword {group}"
        for word in words:
            if len(line) + len(word) + 1 > 100:
                out.append(line)
                line = f"syntax keyword {group}"
            line += " " + word
        out.append(line)
        return out

    def valt(words: tuple[str, ...] | list[str]) -> str:
        return "(" + "|".join(sorted(words, key=lambda x: (-len(x), x))) + ")"

    alpha_units = [u for u in w.units if u[:1].isalpha()]
    other_units = [u for u in w.units if not u[:1].isalpha()]
    number = r"[+-]?(\d+\.\d+([eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+([eE][+-]?\d+)?|\d+)"
    out = [
        '" Vim syntax file',
        '" Language: QAP (.qap specs of qapc: quantization-aware pruning)',
        '" Generated by editors/generate.py from grammar/qap.lark and qapdsl/schema.py; do not edit by hand.',
        "",
        'if exists("b:current_syntax")',
        "  finish",
        "endif",
        "",
        "syntax case match",
        "syntax iskeyword @,48-57,_,46,42,63",  # names carry dots and glob characters: `quant.bits` is one word
        "",
        '" A word with several roles takes the colour of the last list it is in.',
        *keywords("qapOption", w.options),
        *keywords("qapConstant", w.constants),
        *keywords("qapQuantKind", w.quant_kinds),
        *keywords("qapActivation", w.activations),
        *keywords("qapKey", w.keys + w.layer_refs),
        *keywords("qapLayerKind", w.layer_kinds),
        *keywords("qapSection", w.sections),
        *keywords("qapStructure", ("model", "from", "in")),
        *keywords("qapImport", ("import",)),
        "",
        r'syntax match qapLayerName "\v(<' + valt(w.layer_kinds) + r'\s+)@<=[A-Za-z_][A-Za-z0-9_]*"',
        r'syntax match qapLayerName "\v(<' + valt(w.layer_refs) + r'\s+)@<=[A-Za-z_][A-Za-z0-9_*?]*"',
        r'syntax match qapModelName "\v(<(model|from)\s+)@<=[A-Za-z_][A-Za-z0-9_]*"',
        r'syntax match qapPath "\v<[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+>"',
        r'syntax match qapGlob "\v[A-Za-z0-9_]*[*?][A-Za-z0-9_*?]*"',
        r'syntax match qapNumber "\v(\w|\.)@<!' + number + r'"',
        # a range is one match (defined after qapNumber, so it wins where both start): its bounds are numbers
        r'syntax match qapRange "\v(\w|\.)@<!' + number + r'\.\.' + number + r'" contains=qapRangeBound,qapRangeDots',
        r'syntax match qapRangeBound "\v' + number + r'" contained',
        r'syntax match qapRangeDots "\.\." contained',
        # a quantity starts at its number, so its unit wins over a keyword of the same spelling (`6 bits`)
        r'syntax match qapQuantity "\v(\w|\.)@<!' + number + r'\s*(' + valt(alpha_units) + r'>' + "".join("|\\" + u for u in other_units) + r')" contains=qapUnit',
        r'syntax match qapUnit "\v(' + valt(alpha_units) + r'>' + "".join("|\\" + u for u in other_units) + r')" contained',
    ]
    out += [
        r'syntax region qapFixType matchgroup=qapQuantKind start="\v<' + valt(w.fixkinds) + r'\s*\<" end="\v\>|$" contains=qapNumber,qapFixMode oneline',
        r'syntax match qapFixMode "\v[A-Za-z_][A-Za-z0-9_]*" contained',
        r'syntax match qapEscape +\\["\\nt]+ contained',
        r'syntax match qapBadEscape +\\[^"\\nt]+ contained',
        r'syntax region qapString start=+"+ skip=+\\\\\|\\"+ end=+"\|$+ contains=qapEscape,qapBadEscape oneline',
        r'syntax keyword qapTodo TODO FIXME XXX NOTE contained',
        r'syntax match qapComment "#.*$" contains=qapTodo',
        "",
        "highlight default link qapStructure Keyword",
        "highlight default link qapImport Include",
        "highlight default link qapSection Structure",
        "highlight default link qapKey Statement",
        "highlight default link qapOption Identifier",
        "highlight default link qapConstant Constant",
        "highlight default link qapQuantKind Type",
        "highlight default link qapActivation Function",
        "highlight default link qapLayerKind Type",
        "highlight default link qapLayerName Function",
        "highlight default link qapModelName Function",
        "highlight default link qapPath Identifier",
        "highlight default link qapGlob Special",
        "highlight default link qapNumber Number",
        "highlight default link qapRangeBound Number",
        "highlight default link qapRangeDots Operator",
        "highlight default link qapQuantity Number",
        "highlight default link qapUnit Special",
        "highlight default link qapFixMode Constant",
        "highlight default link qapString String",
        "highlight default link qapEscape SpecialChar",
        "highlight default link qapBadEscape Error",
        "highlight default link qapTodo Todo",
        "highlight default link qapComment Comment",
        "",
        'let b:current_syntax = "qap"',
    ]
    return "\n".join(out) + "\n"


# -- Pygments ------------------------------------------------------------------------------------------------------------


def pygments_block(w: Words) -> str:
    lines = [BEGIN_MARK]
    for field in w.__dataclass_fields__:
        words = getattr(w, field)
        lines.append(f"{field.upper()}: tuple[str, ...] = {tuple(words)!r}")
    lines.append(END_MARK)
    return "\n".join(lines)


def pygments_source(w: Words, current: str) -> str:
    start, end = current.index(BEGIN_MARK), current.index(END_MARK) + len(END_MARK)
    return current[:start] + pygments_block(w) + current[end:]


# -- driver --------------------------------------------------------------------------------------------------------------


def outputs() -> dict[Path, str]:
    w = collect()
    return {
        TMLANGUAGE: json.dumps(tmlanguage(w), indent=2) + "\n",
        VOCAB_TEST: vocabulary_test(w),
        VIM_SYNTAX: vim_syntax(w),
        PYGMENTS: pygments_source(w, PYGMENTS.read_text(encoding="utf-8")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is out of date; write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{'out of date' if args.check else 'wrote'}: {rel}", file=sys.stderr)
    if args.check and stale:
        print("run: python editors/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
