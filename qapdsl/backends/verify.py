"""Every generated file, read back exactly as its consumer will read it, before anything is written.

Spec text reaches generated files only as data (`literals`), but "as data" is
only true if nothing in that text can change how the file is *read*:

- Python decides a source file's encoding from a PEP 263 `coding` comment on its
  first two lines. A spec path holding `coding:raw_unicode_escape` on line 2 once
  made `\\u000a` inside a quoted comment a line break, so that the rest of the
  comment ran as code. The templates now declare UTF-8 on line 2 themselves, and
  this module checks the encoded bytes: the encoding Python detects must be UTF-8,
  and the bytes, compiled as Python compiles a file, must give the same code
  objects as the text we meant.
- YAML decides types from tags (`!!python/object`) and from plain scalars; the
  config must load with `yaml.safe_load` back to the very dictionary we dumped,
  with no explicit tag anywhere.
- JSON must load back to the same value.

A failure here is a bug in qapc, not in the spec: it raises `GeneratedFileError`
and no file is written.
"""

from __future__ import annotations

import io
import json
import tokenize
from typing import Any


class GeneratedFileError(Exception):
    """A generated file would not be read as written (a qapc bug: report it)."""


def check_python(name: str, text: str, data: bytes) -> None:
    """`data` is what Python will read; it must mean exactly `text`."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    if encoding not in ("utf-8", "utf-8-sig"):
        raise GeneratedFileError(f"{name}: Python would read it as {encoding}, not UTF-8")
    if data.decode("utf-8") != text:
        raise GeneratedFileError(f"{name}: the encoded bytes do not decode to the generated text")
    try:
        from_bytes = compile(data, name, "exec", dont_inherit=True)
        from_text = compile(text, name, "exec", dont_inherit=True)
    except SyntaxError as e:  # a template bug must fail the build, not the run
        raise GeneratedFileError(f"{name}: generated code does not compile: {e}") from e
    if _code_fingerprint(from_bytes) != _code_fingerprint(from_text):
        raise GeneratedFileError(f"{name}: Python would compile the file differently from the generated text")


def _code_fingerprint(code: Any) -> tuple[Any, ...]:
    """Bytecode, constants and names of a code object and all the code nested in it."""
    consts = tuple(_code_fingerprint(c) if hasattr(c, "co_code") else repr(c) for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames)


def check_yaml(name: str, data: bytes, expected: Any) -> None:
    """`yaml.safe_load(data)` gives back `expected`, and the document carries no explicit tag."""
    import yaml

    text = data.decode("utf-8")
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    stack = [node]
    while stack:
        n = stack.pop()
        if n is None:
            continue
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack += [k, v]
        elif isinstance(n, yaml.SequenceNode):
            stack += list(n.value)
        elif isinstance(n, yaml.ScalarNode) and n.style is None and n.tag not in _PLAIN_TAGS:
            raise GeneratedFileError(f"{name}: scalar {n.value!r} would be read with tag {n.tag}")
    loaded = yaml.safe_load(text)
    if loaded != expected:
        raise GeneratedFileError(f"{name}: YAML reads back a different configuration")


_PLAIN_TAGS = frozenset(
    {
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null",
    }
)


def check_json(name: str, data: bytes, expected: Any) -> None:
    if json.loads(data.decode("utf-8")) != expected:
        raise GeneratedFileError(f"{name}: JSON reads back a different value")
