"""The editor grammars agree with the language: every keyword and word is known, nothing is stale.

Word lists are read back from the committed editor files themselves (the
TextMate JSON, the Vim syntax file, the Pygments lexer's behaviour), never
copied here; the reference is grammar/qap.lark (`syntax.keywords()`) and
qapdsl/schema.py (`schema.vocabulary()`). The TextMate grammar's scopes are
checked by the real vscode-tmgrammar-test (scripts/test.d/vscode.sh).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, String, _TokenType

from qapdsl import schema, syntax
from qapdsl.pygments_lexer import QapLexer

ROOT = Path(__file__).resolve().parent.parent
EDITORS = ROOT / "editors"
TMLANGUAGE = EDITORS / "vscode" / "syntaxes" / "qap.tmLanguage.json"
VIM_SYNTAX = EDITORS / "vim" / "syntax" / "qap.vim"
VOCAB_TEST = EDITORS / "vscode" / "tests" / "vocabulary.qap"
SYNTAX_TESTS = sorted((EDITORS / "vscode" / "tests").glob("*.qap"))


def language_words() -> set[str]:
    return syntax.keywords() | schema.vocabulary()


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("qap_editors_generate", EDITORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_generated_files_are_up_to_date() -> None:
    gen = _generator()
    stale = [str(p.relative_to(ROOT)) for p, text in gen.outputs().items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"out of date (run: python editors/generate.py): {stale}"


def test_generate_check_fails_on_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = _generator()
    copy = tmp_path / "qap.vim"
    copy.write_text(VIM_SYNTAX.read_text().replace("syntax keyword qapActivation", "syntax keyword qapActivation_old"))
    monkeypatch.setattr(gen, "VIM_SYNTAX", copy)
    assert gen.main(["--check"]) == 1


# -- reading the word lists back from the editor files ---------------------------------------------------


def _alternatives(pattern: str) -> set[str]:
    """Literal words in `(...|...)` alternations of a regular expression (Oniguruma, Python or Vim very-magic)."""
    out: set[str] = set()
    for group in re.findall(r"\((?:\?:)?([^()]*)\)", pattern):
        for alt in group.split("|"):
            word = alt.replace("\\", "")
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|%", word):
                out.add(word)
    return out


def _regexes(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("match", "begin") and isinstance(v, str):
                yield v
            else:
                yield from _regexes(v)
    elif isinstance(node, list):
        for v in node:
            yield from _regexes(v)


def tmlanguage_words() -> set[str]:
    grammar = json.loads(TMLANGUAGE.read_text(encoding="utf-8"))
    words: set[str] = set()
    for rx in _regexes(grammar["repository"]):
        words |= _alternatives(rx)
    return words


def vim_words() -> set[str]:
    words: set[str] = set()
    for line in VIM_SYNTAX.read_text(encoding="utf-8").splitlines():
        if line.startswith("syntax keyword ") and "contained" not in line.split():
            words.update(line.split()[3:])
        elif line.startswith("syntax match ") or line.startswith("syntax region "):
            words |= _alternatives(line)
    return words


def test_every_word_is_in_the_textmate_grammar() -> None:
    missing = language_words() - tmlanguage_words()
    assert not missing, f"missing from {TMLANGUAGE.name}: {sorted(missing)}"


def test_every_word_is_in_the_vim_syntax() -> None:
    missing = language_words() - vim_words()
    assert not missing, f"missing from {VIM_SYNTAX.name}: {sorted(missing)}"


def test_the_textmate_regexes_compile() -> None:
    """The TextMate patterns keep to the common subset of Oniguruma and Python `re` (the Pygments lexer shares them)."""
    grammar = json.loads(TMLANGUAGE.read_text(encoding="utf-8"))
    patterns = list(_regexes(grammar["repository"]))
    assert len(patterns) > 20
    for rx in patterns:
        re.compile(rx, re.MULTILINE)


# -- syntax tests: assertions read from editors/vscode/tests/*.qap ----------------------------------------------------


def assertions(path: Path) -> Iterator[tuple[str, int, int, str]]:
    """(source line, start column, end column, first scope) for each `^^^` / `<---` assertion of a syntax test."""
    source = ""
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        m = re.match(r"#(\s*)(\^+)\s+(\S+)", line)
        lt = re.match(r"#\s*<(-+)\s+(\S+)", line)
        if m:
            start = 1 + len(m.group(1))
            yield source, start, start + len(m.group(2)), m.group(3)
        elif lt:
            yield source, 0, len(lt.group(1)), lt.group(2)
        else:
            source = line


def test_the_vocabulary_syntax_test_covers_every_word() -> None:
    asserted = {src[a:b] for src, a, b, _scope in assertions(VOCAB_TEST)}
    missing = language_words() - asserted
    assert not missing, f"{VOCAB_TEST.name} has no assertion for {sorted(missing)}"


# TextMate scope → the Pygments token type the same text must get (first matching prefix wins).
SCOPE_TOKENS: list[tuple[str, _TokenType]] = [
    ("comment", Comment),
    ("punctuation.definition.comment", Comment),
    ("constant.character.escape", String.Escape),
    ("invalid.illegal.escape", String),
    ("string", String),
    ("punctuation.definition.string", String),
    ("keyword.control.import", Keyword.Namespace),
    ("keyword.declaration", Keyword.Declaration),
    ("keyword.other.from", Keyword),
    ("keyword.other.key", Name.Attribute),
    ("keyword.other.unit", Keyword.Pseudo),
    ("keyword.operator.range", Operator),
    ("keyword.operator.in", Operator.Word),
    ("entity.name.type.model", Name.Class),
    ("entity.other.inherited-class", Name.Class),
    ("entity.name.section", Name.Namespace),
    ("entity.name.function.layer", Name.Function),
    ("storage.type", Keyword.Type),
    ("punctuation.definition.typeparameters", Punctuation),
    ("constant.numeric", Number),
    ("support.function.activation", Name.Builtin),
    ("variable.parameter.option", Name.Property),
    ("constant.language", Name.Constant),
    ("variable.other.glob", Name.Other),
    ("variable.other.path", Name.Variable),
    ("variable.other.name", Name),
    ("punctuation", Punctuation),
]


@pytest.mark.parametrize("path", SYNTAX_TESTS, ids=lambda p: p.name)
def test_pygments_agrees_with_the_textmate_syntax_tests(path: Path) -> None:
    lexer = QapLexer()
    checked = 0
    for source, start, end, scope in assertions(path):
        if scope.startswith("meta."):
            continue
        expected = next(tok for prefix, tok in SCOPE_TOKENS if scope.startswith(prefix))
        tokens = [(i, t, v) for i, t, v in lexer.get_tokens_unprocessed(source) if i < end and i + len(v) > start and v.strip()]
        assert tokens, (source, scope)
        for _i, ttype, value in tokens:
            ok = ttype is expected if expected in (Name, Keyword) else ttype in expected
            assert ok, f"{source!r}: {value!r} is {ttype}, the TextMate grammar says {scope} ({expected})"
        checked += 1
    assert checked > 50


def _repository_specs() -> list[Path]:
    found: set[Path] = set()
    for pattern in ("specs/**/*.qap", "tests/**/*.qap", "editors/**/*.qap"):
        found.update(p for p in ROOT.glob(pattern) if "node_modules" not in p.parts)
    return sorted(found)


def test_pygments_lexes_every_spec_without_errors() -> None:
    specs = _repository_specs()
    assert len(specs) >= 5
    lexer = QapLexer()
    for path in specs:
        text = path.read_text(encoding="utf-8")
        errors = [(i, v) for i, t, v in lexer.get_tokens_unprocessed(text) if t in Error]
        assert not errors, f"{path.relative_to(ROOT)}: error tokens {errors[:5]}"
        assert "".join(v for _t, v in lexer.get_tokens(text)).rstrip("\n") == text.rstrip("\n")


def test_pygments_knows_every_word() -> None:
    """Each word, in the context the vocabulary syntax test gives it, is lexed as a word of the language."""
    lexer = QapLexer()
    generic = (Name, Name.Variable, Name.Other, Error)
    known: set[str] = set()
    for source, start, end, _scope in assertions(VOCAB_TEST):
        for i, ttype, value in lexer.get_tokens_unprocessed(source):
            if i == start and i + len(value) == end and ttype not in generic:
                known.add(value)
    missing = language_words() - known
    assert not missing, f"the Pygments lexer does not know {sorted(missing)}"


def test_pygments_finds_the_lexer_by_name_and_file_name() -> None:
    assert isinstance(get_lexer_by_name("qap"), QapLexer)
    assert isinstance(get_lexer_for_filename("jet.qap"), QapLexer)


VIM_WORD_GROUPS = {"qapStructure", "qapImport", "qapSection", "qapKey", "qapOption", "qapConstant", "qapQuantKind", "qapActivation", "qapLayerKind", "qapUnit"}


@pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed")
def test_vim_highlights_every_word(tmp_path: Path) -> None:
    """Vim itself, with editors/vim on its runtime path, colours each word of the vocabulary syntax test."""
    out = tmp_path / "groups.txt"
    script = tmp_path / "dump.vim"
    script.write_text(
        "let out = []\n"
        "for lnum in range(1, line('$'))\n"
        "  let row = []\n"
        "  for col in range(1, len(getline(lnum)))\n"
        "    call add(row, synIDattr(synID(lnum, col, 1), 'name'))\n"
        "  endfor\n"
        "  call add(out, join(row, ','))\n"
        "endfor\n"
        "call writefile(out, $QAP_OUT)\n"
        "qa!\n"
    )
    cmd = ["vim", "-N", "-u", "NONE", "-i", "NONE", "-Es", "--cmd", f"set rtp^={EDITORS / 'vim'}", "-c", "filetype on", "-c", "syntax on"]
    cmd += ["-c", f"edit {VOCAB_TEST}", "-c", f"source {script}"]
    subprocess.run(cmd, env={**os.environ, "QAP_OUT": str(out)}, timeout=60, capture_output=True, check=False)
    assert out.exists(), "vim wrote nothing"
    rows = out.read_text().split("\n")
    lines = VOCAB_TEST.read_text().split("\n")
    # the filetype was detected from the extension (ftdetect) and the syntax loaded
    known: set[str] = set()
    for lnum, line in enumerate(lines):
        if line.startswith("#") or not line.strip():
            continue
        groups = rows[lnum].split(",")
        for m in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*|%", line):
            if {groups[c] for c in range(m.start(), m.end())} <= VIM_WORD_GROUPS:
                known.add(m.group())
    missing = language_words() - known
    assert not missing, f"vim does not highlight {sorted(missing)}"
