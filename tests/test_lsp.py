"""`qapc lsp` tested as an editor uses it: a subprocess spoken to in JSON-RPC over stdio (tests/lsp_client.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsp_client import TIMEOUT, Client, ResponseError, position

from qapdsl import metrics
from qapdsl.fmt import format_text
from qapdsl.loader import load_file

pytest.importorskip("pygls")

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
# a base model in its own file
model base_net {
    input 16
    quant weights fixed<6,1>, activations ufixed<6,0>
    dense fc1 64 relu { batchnorm; l1 1e-4 }
    dense fc2 32 relu
    dense out 5 softmax
}

train {
    data openml "hls4ml_lhc_jets_hlf"
    classes 5
}
"""

MAIN = """\
import "base.qap"

model small from base_net {
    layer fc1 { reuse 2 }
    remove fc2
}

prune {
    method magnitude
    skip out
    schedule iterative { rounds 4; rate 20% }
}
"""


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(tmp_path)
    try:
        caps = c.initialize(tmp_path)["capabilities"]
        assert caps["hoverProvider"] and caps["documentFormattingProvider"] and caps["definitionProvider"]
        assert caps["referencesProvider"] and caps["renameProvider"] == {"prepareProvider": True}
        assert caps["documentSymbolProvider"] and caps["codeActionProvider"]
        assert "completionProvider" in caps
        yield c
    finally:
        c.close()


def _open(client: Client, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "qap", "version": 1, "text": path.read_text() if text is None else text}})
    return uri


_pos = position


def _labels(result: Any) -> set[str]:
    items = result["items"] if isinstance(result, dict) else result
    return {i["label"] for i in items}


def test_diagnostics_match_qapc_check_and_clear_when_fixed(client: Client, tmp_path: Path) -> None:
    good = (ROOT / "specs" / "jet.qap").read_text()
    broken = good.replace("{ batchnorm; l1 1e-4 }", "{ batchnrom; l1 1e-4 }", 1)
    path = tmp_path / "jet.qap"
    path.write_text(broken)
    uri = _open(client, path)
    diags = client.diagnostics(uri)
    assert len(diags) == 1
    d = diags[0]
    start = _pos(broken, "batchnrom")
    assert d["range"] == {"start": start, "end": {"line": start["line"], "character": start["character"] + len("batchnrom")}}
    assert d["code"] == "E201" and d["severity"] == 1 and d["source"] == "qapc"
    # the same message as `qapc check`
    check = subprocess.run([sys.executable, "-m", "qapdsl.cli", "check", "--json", str(path)], capture_output=True, text=True, timeout=TIMEOUT)
    expected = json.loads(check.stdout)
    assert d["message"].split("\n")[0] == expected[0]["message"] == "unknown key 'batchnrom' in layer 'fc1'"
    assert "did you mean 'batchnorm'" in d["message"]

    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": good}]})
    assert client.diagnostics(uri) == []

    # an incremental change that breaks the syntax: unclosed block → the end of the file
    end = _pos(good, "}", nth=good.count("}") - 1)
    client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 3},
            "contentChanges": [{"range": {"start": end, "end": {**end, "character": end["character"] + 1}}, "text": ""}],
        },
    )
    diags = client.diagnostics(uri)
    assert [x["code"] for x in diags] == ["E003"]


def test_syntax_error_range_and_utf16_columns(client: Client, tmp_path: Path) -> None:
    text = '# 𝔮 is outside the BMP\nmodel m { input 4; dense out 2 softmax; part "𝔮" = 3 }\n'
    path = tmp_path / "u.qap"
    uri = _open(client, path, text)
    diags = client.diagnostics(uri)
    assert diags and diags[0]["code"] == "E001"
    # '=' sits after a string holding one astral character: 2 UTF-16 units, 1 code point
    col = text.split("\n")[1].index("=") + 1
    assert diags[0]["range"]["start"] == {"line": 1, "character": col}


def test_diagnostics_of_imported_files(client: Client, tmp_path: Path) -> None:
    (tmp_path / "base.qap").write_text(BASE.replace("dense fc1 64 relu", "dense fc1 64 rleu"))
    main = tmp_path / "main.qap"
    main.write_text(MAIN)
    uri = _open(client, main)
    base_diags = client.diagnostics((tmp_path / "base.qap").as_uri())
    assert [d["code"] for d in base_diags] == ["E204"]
    assert base_diags[0]["range"]["start"] == _pos(BASE, "relu")
    # the importing buffer says so on its import line, with the problem as related information
    (summary,) = client.diagnostics(uri)
    start = _pos(MAIN, '"base.qap"')
    assert summary["range"] == {"start": start, "end": {**start, "character": start["character"] + len('"base.qap"')}}
    assert summary["severity"] == 1 and summary["message"].startswith("base.qap has 1 error; first: base.qap:5: unknown activation 'rleu'")
    (related,) = summary["relatedInformation"]
    assert related["location"] == {"uri": (tmp_path / "base.qap").as_uri(), "range": base_diags[0]["range"]}
    assert related["message"].startswith("E204: unknown activation 'rleu'")


def test_hover_on_a_layer_shows_shape_precisions_and_bops(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "jet.qap"
    shutil.copy(ROOT / "specs" / "jet.qap", path)
    text = path.read_text()
    uri = _open(client, path)
    assert client.diagnostics(uri) == []
    result = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": _pos(text, "fc2", offset=1)})
    value = result["contents"]["value"]
    loaded = load_file(path)
    assert loaded.spec is not None
    row = next(r for r in metrics.layer_figures(loaded.spec) if r.name == "fc2")
    assert "**fc2**" in value and "dense" in value
    assert "(64,) → (32,)" in value
    assert "weights `fixed<6,1>`" in value and "activation `ufixed<6,0>`" in value
    assert f"BOPs {row.bops:,.0f}" in value and row.bops > 0
    start = _pos(text, "fc2")
    assert result["range"] == {"start": start, "end": {**start, "character": start["character"] + 3}}
    # a reference (`skip out`) shows the same figures as the declaration
    ref = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": _pos(text, "skip out", offset=6)})
    decl = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": _pos(text, "dense out", offset=6)})
    assert ref["contents"]["value"] == decl["contents"]["value"]
    assert "(32,) → (5,)" in decl["contents"]["value"] and "weights `fixed<8,2>`" in decl["contents"]["value"]
    # a key shows its documentation from the schema
    key = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": _pos(text, "rewind")})
    assert "lottery ticket" in key["contents"]["value"]
    # white space: nothing
    assert client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": text.split("\n").index(""), "character": 0}}) is None


def test_formatting_is_qapc_fmt(client: Client, tmp_path: Path) -> None:
    messy = "model m {\n  input 4   # four\n dense   out 2 softmax {weights fixed<8,2>}\n}\ntrain { data sklearn digits;seed 1 }\n"
    path = tmp_path / "messy.qap"
    path.write_text(messy)
    uri = _open(client, path)
    edits = client.request("textDocument/formatting", {"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}})
    assert len(edits) == 1
    lines = messy.split("\n")
    assert edits[0]["range"] == {"start": {"line": 0, "character": 0}, "end": {"line": len(lines) - 1, "character": len(lines[-1])}}
    subprocess.run([sys.executable, "-m", "qapdsl.cli", "fmt", str(path)], check=True, capture_output=True, timeout=TIMEOUT)
    assert edits[0]["newText"] == path.read_text() == format_text(messy, str(path))
    assert "# four" in edits[0]["newText"]
    # already formatted: no edits; a syntax error: no edits (the diagnostics say why)
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": path.read_text()}]})
    assert client.request("textDocument/formatting", {"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}}) == []
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": "model m {"}]})
    assert client.request("textDocument/formatting", {"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}}) is None


def test_completion_by_context(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "jet.qap"
    shutil.copy(ROOT / "specs" / "jet.qap", path)
    text = path.read_text()
    uri = _open(client, path)
    client.diagnostics(uri)

    def complete(source: str, pos: dict[str, int]) -> set[str]:
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": source}]})
        return _labels(client.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": pos}))

    # top level: the structure keywords
    assert {"import", "model", "prune", "train", "target", "sweep", "search"} <= complete(text + "\n", {"line": text.count("\n"), "character": 0})
    # a key of the train section, by prefix
    src = text.replace("    seed 42\n", "    seed 42\n    opt\n")
    got = complete(src, _pos(src, "    opt\n", offset=7))
    assert got == {"optimizer"}
    # statement start in a model: model keys and layer kinds, not train keys
    src = text.replace("    input 16\n", "    input 16\n    \n")
    got = complete(src, _pos(src, "    \n", offset=4))
    assert {"dense", "conv2d", "quant", "input"} <= got and "optimizer" not in got
    # in a layer's block: layer settings
    src = text.replace("{ batchnorm; l1 1e-4 }", "{ batchnorm; l1 1e-4; r }", 1)
    assert complete(src, _pos(src, "; r }", offset=3)) == {"reuse", "result"}
    # a value: the choices the schema gives
    src = text.replace("    backend vitis\n", "    backend \n")
    assert {"vivado", "vitis", "quartus"} <= complete(src, _pos(src, "backend \n", offset=8))
    src = text.replace("    io parallel\n", "    io \n")
    assert complete(src, _pos(src, "io \n", offset=3)) == {"parallel", "stream"}
    # iterative schedule keys inside `schedule iterative { ... }`
    src = text.replace("rewind none }", "rewind none; e }")
    assert complete(src, _pos(src, "; e }", offset=3)) == {"epochs"}
    # layer names in scope for a selector (the text does not parse while typing: names of the last good parse)
    src = text.replace("    skip out", "    skip fc")
    assert complete(src, _pos(src, "skip fc", offset=7)) == {"fc1", "fc2", "fc3"}
    # nothing inside a comment or a string
    assert complete(text, _pos(text, "# default for all", offset=5)) == set()
    assert complete(text, _pos(text, "hls4ml_lhc", offset=3)) == set()
    # activations after a layer's units
    src = text.replace("dense fc2 32 relu", "dense fc2 32 s", 1)
    assert {"softmax", "sigmoid"} <= complete(src, _pos(src, "32 s", offset=4))


def test_definition_of_imports_and_base_models(client: Client, tmp_path: Path) -> None:
    base = tmp_path / "base.qap"
    base.write_text(BASE)
    main = tmp_path / "main.qap"
    main.write_text(MAIN)
    uri = _open(client, main)
    assert client.diagnostics(uri) == []

    loc = client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "base.qap", offset=2)})
    assert loc["uri"] == base.as_uri() and loc["range"]["start"] == {"line": 0, "character": 0}

    loc = client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "base_net", offset=3)})
    start = _pos(BASE, "base_net")
    assert loc == {"uri": base.as_uri(), "range": {"start": start, "end": {**start, "character": start["character"] + len("base_net")}}}

    # `layer fc1` in the derived model → the layer in the base model, in the other file
    loc = client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "layer fc1", offset=7)})
    assert loc["uri"] == base.as_uri() and loc["range"]["start"] == _pos(BASE, "fc1")
    # `skip out` → the layer of the model that is built
    loc = client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "skip out", offset=6)})
    assert loc["uri"] == base.as_uri() and loc["range"]["start"] == _pos(BASE, "out 5")

    # hover in a derived model: the layer as the derived model builds it; a model name lists its layers
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "layer fc1", offset=7)})
    assert "**fc1**" in hover["contents"]["value"] and "model `small`" in hover["contents"]["value"] and "(16,) → (64,)" in hover["contents"]["value"]
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "base_net")})
    assert "`fc1`, `fc2`, `out`" in hover["contents"]["value"] and "base.qap" in hover["contents"]["value"]

    # a base model in the same file wins over the import (as in the loader)
    local = MAIN.replace("model small", "model base_net { input 2; dense out 5 softmax }\n\nmodel small")
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": local}]})
    loc = client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": _pos(local, "from base_net", offset=6)})
    assert loc["uri"] == uri and loc["range"]["start"] == _pos(local, "base_net")

    # nothing to go to: a number
    assert client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": _pos(local, "rounds 4", offset=7)}) is None


def test_completion_of_models_and_base_layers(client: Client, tmp_path: Path) -> None:
    (tmp_path / "base.qap").write_text(BASE)
    main = tmp_path / "main.qap"
    main.write_text(MAIN)
    uri = _open(client, main)
    assert client.diagnostics(uri) == []

    def complete(source: str, pos: dict[str, int]) -> set[str]:
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": source}]})
        return _labels(client.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": pos}))

    # `layer` and `remove` in a derived model name the base model's layers (from the imported file)
    src = MAIN.replace("    remove fc2\n", "    remove fc2\n    layer \n")
    assert complete(src, _pos(src, "layer \n", offset=6)) == {"fc1", "fc2", "out"}
    # `from` takes a model name, the imported ones included
    src = MAIN + "\nmodel other from \n"
    assert complete(src, _pos(src, "other from ", offset=11)) == {"base_net", "small"}


def test_unsaved_document(client: Client) -> None:
    uri = "untitled:Untitled-1"
    text = "model m {\n    input 4\n    dense out 2 softmax\n    dropuot d 0.5\n}\n"
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "qap", "version": 1, "text": text}})
    diags = client.diagnostics(uri)
    codes = sorted(d["code"] for d in diags)
    assert "E201" in codes or "E208" in codes
    bad = next(d for d in diags if d["code"] in ("E201", "E208"))
    assert bad["range"]["start"] == _pos(text, "dropuot")


def test_shutdown_and_exit(tmp_path: Path) -> None:
    c = Client(tmp_path)
    try:
        c.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        c.notify("initialized", {})
        assert c.request("shutdown", None) is None
        c.notify("exit", None)
        assert c.proc.wait(timeout=TIMEOUT) == 0
    finally:
        c.close()


def test_lsp_module_is_cheap_to_import() -> None:
    code = "import sys, qapdsl.cli; qapdsl.cli.build_parser(); print('pygls' in sys.modules, 'lsprotocol' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout.split()
    assert out == ["False", "False"]


def test_rename_references_symbols_and_quick_fix(client: Client, tmp_path: Path) -> None:
    base = tmp_path / "base.qap"
    base.write_text(BASE)
    main = tmp_path / "main.qap"
    main.write_text(MAIN)
    (tmp_path / "other.qap").write_text('import "base.qap"\n\nmodel wide from base_net { layer fc1 { reuse 4 } }\n')
    uri = _open(client, main)
    assert client.diagnostics(uri) == []
    # references: across the open file, the imported base and another file of the workspace
    refs = client.request(
        "textDocument/references", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "layer fc1", offset=7), "context": {"includeDeclaration": True}}
    )
    got = sorted((Path(r["uri"][len("file://") :]).name, r["range"]["start"]["line"]) for r in refs)
    assert got == [("base.qap", 4), ("main.qap", 3), ("other.qap", 2)]
    refs = client.request(
        "textDocument/references", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "layer fc1", offset=7), "context": {"includeDeclaration": False}}
    )
    assert len(refs) == 2
    # prepare: the name under the cursor; a key cannot be renamed
    prep = client.request("textDocument/prepareRename", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "layer fc1", offset=7)})
    assert prep == {"range": {"start": _pos(MAIN, "fc1"), "end": _pos(MAIN, "fc1", offset=3)}, "placeholder": "fc1"}
    with pytest.raises(ResponseError, match="only the names of models and layers"):
        client.request("textDocument/prepareRename", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "reuse")})
    # rename: versioned edits of the open file, plain ones of the files on disk
    edit = client.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "layer fc1", offset=7), "newName": "first"})
    changes = {Path(c["textDocument"]["uri"][len("file://") :]).name: c for c in edit["documentChanges"]}
    assert set(changes) == {"base.qap", "main.qap", "other.qap"}
    assert changes["main.qap"]["textDocument"]["version"] == 1 and changes["base.qap"]["textDocument"]["version"] is None
    assert all(e["newText"] == "first" for c in changes.values() for e in c["edits"])
    # invalid names are refused with the reason
    for bad, why in [("2fast", "not a valid layer name"), ("fc2", "already has a layer named 'fc2'"), ("in", "keyword")]:
        with pytest.raises(ResponseError, match=why) as err:
            client.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": _pos(MAIN, "layer fc1", offset=7), "newName": bad})
        assert err.value.code == -32803
    # document symbols
    syms = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    assert [(s["name"], s["kind"]) for s in syms] == [("base.qap", 1), ("small", 5), ("prune", 3)]
    assert [c["name"] for c in syms[1]["children"]] == ["fc1", "fc2"]
    # a quick fix for a misspelled key
    typo = MAIN.replace("rounds 4", "rouns 4")
    client.change(uri, 2, typo)
    (diag,) = client.diagnostics(uri, 2)
    actions = client.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": diag["range"], "context": {"diagnostics": [diag]}})
    assert [a["title"] for a in actions] == ["Change 'rouns' to 'rounds'"]
    assert actions[0]["kind"] == "quickfix" and actions[0]["isPreferred"] is True
    assert actions[0]["edit"]["changes"][uri] == [{"range": diag["range"], "newText": "rounds"}]


def test_hover_and_completion_do_not_wait_for_the_check(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "jet.qap"
    text = (ROOT / "specs" / "jet.qap").read_text()
    uri = _open(client, path, text)
    assert client.diagnostics(uri, 1) == []
    # the spec no longer parses: hover still shows the figures (of the last clean version), completion still knows the layers
    broken = text.replace("weights fixed<8,2> }", "weights fixed<8, }").replace("    skip out", "    skip f")
    client.change(uri, 2, broken)
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": _pos(broken, "fc2", offset=1)})
    assert "(64,) → (32,)" in hover["contents"]["value"]
    got = client.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": _pos(broken, "skip f", offset=6)})
    assert _labels(got) == {"fc1", "fc2", "fc3"}
    # requests about positions that no longer exist answer nothing instead of failing
    far = {"line": 500, "character": 80}
    assert client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": far}) is None
    assert client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": far}) is None
    assert client.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {"start": far, "end": far}, "context": {"diagnostics": []}}) == []
    assert [d["code"] for d in client.diagnostics(uri, 2)] == ["E002"]
    # a document the client never opened: nothing (not an error, and not read from disk)
    closed = (tmp_path / "never-opened.qap").as_uri()
    assert client.request("textDocument/hover", {"textDocument": {"uri": closed}, "position": {"line": 0, "character": 0}}) is None
    assert _labels(client.request("textDocument/completion", {"textDocument": {"uri": closed}, "position": {"line": 0, "character": 0}})) == set()


def test_rename_refuses_names_qapc_check_refuses(client: Client, tmp_path: Path) -> None:
    (tmp_path / "base.qap").write_text(BASE)
    main = tmp_path / "main.qap"
    main.write_text(MAIN)
    uri = _open(client, main)
    assert client.diagnostics(uri) == []
    at = _pos(MAIN, "layer fc1", offset=7)
    for new, why in [("input", "hls4ml reserves it"), ("out_softmax", "E309 layer name 'out_softmax' clashes with a name qapc generates")]:
        with pytest.raises(ResponseError, match=why) as err:
            client.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": at, "newName": new})
        assert err.value.code == -32803
    assert client.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": at, "newName": "first"})["documentChanges"]


def test_rename_never_edits_files_outside_the_workspace(tmp_path: Path) -> None:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    (outside / "base.qap").write_text(BASE)
    text = MAIN.replace('import "base.qap"', 'import "../outside/base.qap"')
    (ws / "main.qap").write_text(text)
    c = Client(ws)
    try:
        c.initialize(ws)
        uri = _open(c, ws / "main.qap")
        assert c.diagnostics(uri) == []
        at = _pos(text, "layer fc1", offset=7)
        # fc1 is declared in ../outside/base.qap: refused, naming the file, before and at the rename
        with pytest.raises(ResponseError, match=r"'fc1' is declared in \.\./outside/base\.qap, which is outside the workspace \("):
            c.request("textDocument/prepareRename", {"textDocument": {"uri": uri}, "position": at})
        with pytest.raises(ResponseError, match=r"cannot rename 'fc1': it is used in \.\./outside/base\.qap, which is outside the workspace \("):
            c.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": at, "newName": "first"})
        # references are no edits: the declaration over there is one of them
        refs = c.request("textDocument/references", {"textDocument": {"uri": uri}, "position": at, "context": {"includeDeclaration": True}})
        assert sorted(r["uri"] for r in refs) == sorted([(outside / "base.qap").as_uri(), uri])
        # a name that lives in the workspace only is renamed as before
        edit = c.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": _pos(text, "small"), "newName": "tiny"})
        assert [ch["textDocument"]["uri"] for ch in edit["documentChanges"]] == [uri]
    finally:
        c.close()
    # without a workspace folder, the folders of the open files stand for it
    (ws / "base.qap").write_text(BASE)
    (ws / "other.qap").write_text(MAIN)
    c = Client(ws)
    try:
        c.initialize(None)
        uri = _open(c, ws / "main.qap")
        other = _open(c, ws / "other.qap")
        assert c.diagnostics(uri) == [] and c.diagnostics(other) == []
        with pytest.raises(ResponseError, match=r"\.\./outside/base\.qap, which is outside the folders of the open files \("):
            c.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": _pos(text, "layer fc1", offset=7), "newName": "first"})
        edit = c.request("textDocument/rename", {"textDocument": {"uri": other}, "position": _pos(MAIN, "layer fc1", offset=7), "newName": "first"})
        assert sorted(Path(ch["textDocument"]["uri"]).name for ch in edit["documentChanges"]) == ["base.qap", "other.qap"]
    finally:
        c.close()


def test_a_loop_of_links_in_the_workspace_and_a_workspace_at_the_root(tmp_path: Path) -> None:
    (tmp_path / "base.qap").write_text(BASE)
    (tmp_path / "main.qap").write_text(MAIN)
    (tmp_path / "loop.qap").symlink_to(tmp_path / "loop.qap")
    at = _pos(MAIN, "layer fc1", offset=7)
    c = Client(tmp_path)
    try:
        c.initialize(tmp_path)
        uri = _open(c, tmp_path / "main.qap")
        assert c.diagnostics(uri) == []
        refs = c.request("textDocument/references", {"textDocument": {"uri": uri}, "position": at, "context": {"includeDeclaration": True}})
        assert len(refs) == 2
        assert c.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": at, "newName": "first"})["documentChanges"]
        # a buffer named after the loop is checked as its text
        loop_uri = _open(c, tmp_path / "loop.qap", "model m { input 64; dense out 10 softmax }\ntrain { data sklearn digits }\n")
        assert all(d["severity"] > 1 for d in c.diagnostics(loop_uri))
    finally:
        c.close()
    c = Client(tmp_path)
    try:
        c.initialize(Path("/"))  # the whole file system: not walked
        uri = _open(c, tmp_path / "main.qap")
        assert c.diagnostics(uri) == []
        refs = c.request("textDocument/references", {"textDocument": {"uri": uri}, "position": at, "context": {"includeDeclaration": True}}, timeout=10)
        assert len(refs) == 2  # the open file and what it imports
        c.wait_for("window/logMessage", lambda p: "is the whole file system: not searched" in p["message"], timeout=10)
        with pytest.raises(ResponseError, match=r"not every \.qap file of the workspace could be searched"):
            c.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": at, "newName": "first"}, timeout=10)
    finally:
        c.close()
