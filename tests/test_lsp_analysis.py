"""The language server's analyses without the protocol: the cursor, hover, completion, names, fixes, outline."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from qapdsl import diagnostics as qdiag
from qapdsl import paths, schema
from qapdsl.loader import load_text
from qapdsl.lsp import actions, analysis, completion, cursor, files, navigation, symbols
from qapdsl.lsp import hover as hovers
from qapdsl.lsp.vocab import LAYER_PATH_KINDS, layer_paths, usage_choices

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.qap")) + [ROOT / "tests" / "specs" / "all_layers.qap"]
JET = (ROOT / "specs" / "jet.qap").read_text(encoding="utf-8")


def at(text: str, needle: str, nth: int = 0, offset: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of `needle`, plus `offset`."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += offset
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def doc_of(text: str, path: Path | None = None) -> analysis.Document:
    return analysis.analyse(text, path)


def hover_at(text: str, needle: str, offset: int = 0, doc: analysis.Document | None = None, clean: analysis.Document | None = None) -> str | None:
    hit = cursor.word_at(text, *at(text, needle, offset=offset))
    assert hit is not None, needle
    d = doc if doc is not None else doc_of(text)
    return hovers.hover(hovers.Analyses(d, clean), text, hit)


# -- the cursor ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_the_cursor_reads_every_name_as_the_parser_does(spec: Path) -> None:
    """At every model and layer name of the example specs, the tolerant scan says what the syntax tree says."""
    text = spec.read_text(encoding="utf-8")
    tree = doc_of(text, spec).tree
    assert tree is not None
    names = list(navigation.occurrences(tree))
    assert names or not re.search(r"^\s*(model|layer)\b", text, re.M)  # digits_hgq2.qap only imports and sets a key
    for occ in names:
        for column in (occ.span.column, occ.span.end_column):  # on the word, and right after it
            hit = cursor.word_at(text, occ.span.line, column)
            assert hit is not None, (occ, column)
            assert (hit.role, hit.name, hit.model, hit.section) == (occ.role, occ.name, occ.model, occ.section)
            if occ.key is not None:
                assert hit.key == occ.key


def test_the_cursor_knows_keys_values_and_blocks() -> None:
    hit = cursor.word_at(JET, *at(JET, "batchnorm"))
    assert hit is not None and (hit.role, hit.model, hit.parents) == ("key", "jet_tagger", ("dense",))
    hit = cursor.word_at(JET, *at(JET, "rewind"))
    assert hit is not None and (hit.role, hit.section, hit.parents, hit.schedule) == ("key", "prune", ("schedule",), "iterative")
    hit = cursor.word_at(JET, *at(JET, "vitis"))
    assert hit is not None and (hit.role, hit.key, hit.section) == ("word", "backend", "target")
    hit = cursor.word_at(JET, *at(JET, '"hls4ml'))
    assert hit is None  # a string that is not an import
    hit = cursor.word_at(JET, *at(JET, "16"))
    assert hit is None  # a number
    assert cursor.word_at(JET, *at(JET, "# keep", offset=3)) is None  # a comment
    assert cursor.word_at(JET, 999, 1) is None
    # while the spec does not parse
    broken = JET.replace("weights fixed<8,2> }", "weights fixed<8, }")
    assert doc_of(broken).tree is None
    hit = cursor.word_at(broken, *at(broken, "fc3"))
    assert hit is not None and (hit.role, hit.name) == ("layer", "fc3")


# -- hover -------------------------------------------------------------------------------------------------


def test_hover_documents_keywords_values_and_types() -> None:
    assert "signed fixed point" in hover_at(JET, "fixed<6,1>") and "quantized_bits(6, 0, keep_negative=1, alpha=1)" in hover_at(JET, "fixed<6,1>")
    text = hover_at(JET, "ufixed<6,0>")
    assert text is not None and "from 0 to 0.984375 in steps of 0.015625" in text and "quantized_relu(6, 0)" in text
    for needle, expected in [
        ("method magnitude", schema.PRUNE_KEYS["method"]),
        ("vitis", schema.TARGET_KEYS["backend"]),
        ("openml", schema.TRAIN_KEYS["data"]),
        ("global", schema.PRUNE_KEYS["scope"]),
        ("adam", schema.TRAIN_KEYS["optimizer"]),
        ("patience", schema.TRAIN_KEYS["early_stop"]),
    ]:
        offset = len("method ") if needle.startswith("method") else 0
        text = hover_at(JET, needle, offset=offset)
        assert text is not None and expected in text, needle
    assert schema.SCHEDULE_KINDS["iterative"] in (hover_at(JET, "schedule iterative", offset=9) or "")
    assert schema.KEYWORDS["model"] in (hover_at(JET, "model jet") or "")
    assert schema.KEYWORDS["prune"] in (hover_at(JET, "prune {") or "")
    assert schema.KEYWORDS["target"] in (hover_at(JET, "fpga") or "")
    assert schema.UNITS["ns"] in (hover_at(JET, "5 ns", offset=2) or "")
    assert schema.ACTIVATIONS["relu"] in (hover_at(JET, "relu") or "")
    assert schema.LAYER_SETTINGS["batchnorm"] in (hover_at(JET, "batchnorm") or "")
    assert schema.SCHEDULE_KEYS["iterative"]["rewind"] in (hover_at(JET, "rewind") or "")
    text = JET.replace("weights fixed<8,2> }", "weights fixed<8,2> alpha auto_po2 }")
    assert schema.QUANT_OPTIONS["alpha"] in (hover_at(text, "alpha") or "")
    assert "a value of `alpha`" in (hover_at(text, "auto_po2") or "")


def test_hover_on_a_layer_when_the_spec_has_an_error_elsewhere() -> None:
    clean = doc_of(JET)
    expected = hover_at(JET, "fc2", doc=clean)
    assert expected is not None and "BOPs" in expected
    # a typo in another section: the figures, computed without that statement, are the same
    typo = JET.replace("    seed 42\n", "    sed 42\n")
    broken = doc_of(typo)
    assert not broken.loaded.ok
    text = hover_at(typo, "fc2", doc=broken)
    assert text is not None and text.startswith(expected) and "without the statements that have errors (line 22)" in text
    # a spec that does not parse: the figures of the last version that checked clean
    unparsable = JET.replace("weights fixed<8,2> }", "weights fixed<8, }")
    text = hover_at(unparsable, "fc2", doc=doc_of(unparsable), clean=clean)
    assert text is not None and text.startswith(expected) and "last version that checked clean" in text
    # nothing checked clean yet, and the error is outside any statement: the layer's kind only
    headless = JET.replace("model jet_tagger {", "model jet_tagger from nowhere {")
    text = hover_at(headless, "fc2", doc=doc_of(headless))
    assert text is not None and "fully connected" in text and "appear when the spec checks clean" in text and "- BOPs" not in text


def test_hover_on_paths_and_models() -> None:
    text = (ROOT / "specs" / "jet_sweep.qap").read_text(encoding="utf-8") + "\nsearch {\n    fc1.units in 8..64\n    trials 3\n}\n"
    doc = doc_of(text, ROOT / "specs" / "jet_sweep.qap")
    path = hover_at(text, "quant.bits", doc=doc)
    assert path is not None and paths.GLOBAL_PATHS["quant.bits"] in path
    layer = hover_at(text, "fc1.units", doc=doc)
    assert layer is not None and paths.LAYER_PATHS["units"] in layer and "**fc1** · dense" in layer
    qap = (ROOT / "specs" / "digits_qap.qap").read_text(encoding="utf-8")
    model = hover_at(qap, "digits_float {", doc=doc_of(qap, ROOT / "specs" / "digits_qap.qap"))
    assert model is not None and "model **digits_float** (digits_float.qap)" in model and "`fc1`" in model


# -- completion ------------------------------------------------------------------------------------------


def complete(text: str, needle: str, offset: int, doc: analysis.Document | None = None) -> list[str]:
    return [i.label for i in completion.completions(doc or doc_of(JET), text, *at(text, needle, offset=offset))]


def test_completion_of_losses_alpha_and_bases() -> None:
    src = JET.replace("    seed 42\n", "    loss \n")
    assert complete(src, "loss \n", 5) == ["categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy", "mse"]
    src = JET.replace("fixed<8,2> }", "fixed<8,2> al }")
    assert complete(src, " al }", 3) == ["alpha"]
    src = JET.replace("fixed<8,2> }", "fixed<8,2> alpha  }")
    assert complete(src, "alpha  }", 6) == ["auto", "auto_po2"]
    src = JET.replace("weights fixed<6,1>, activations", "weights fixed<6,1> a, activations")
    assert complete(src, "fixed<6,1> a", 12) == ["alpha"]
    src = JET.replace("weights fixed<6,1>, activations", "weights , activations")
    assert set(complete(src, "weights ,", 8)) == set(schema.QUANT_KINDS)
    # `from`: every model but the one being defined, and none that derives from it
    base = JET + "\nmodel small from jet_tagger { remove fc3 }\n"
    src = base.replace("model jet_tagger {", "model jet_tagger from  {")
    assert complete(src, "from  {", 5, doc_of(base)) == []
    src = base + "model other from \n"
    assert complete(src, "other from \n", 11, doc_of(base)) == ["jet_tagger", "small"]


def test_completion_of_sweep_paths_by_layer_kind() -> None:
    text = (ROOT / "tests" / "specs" / "all_layers.qap").read_text(encoding="utf-8")
    doc = doc_of(text)
    src = text.replace("    trials 10\n", "    trials 10\n    \n")
    labels = complete(src, "trials 10\n    ", 15, doc)
    assert "fc.units" in labels and "c1.filters" in labels and "d.rate" in labels
    assert "fc.filters" not in labels and "fc.rate" not in labels and "f.units" not in labels and "p1.weights" not in labels
    assert complete(src.replace("10\n    \n", "10\n    c1.\n"), "    c1.", 7, doc) == [f"c1.{p}" for p in layer_paths("conv2d")]


def test_layer_path_kinds_agree_with_paths_apply() -> None:
    """The per-kind sweep paths offered are exactly those qapdsl.paths accepts."""
    text = (ROOT / "tests" / "specs" / "all_layers.qap").read_text(encoding="utf-8")
    conv1d = "model m { input (32, 2); conv1d k 4 relu kernel 3; flatten f; dense out 10 softmax }\ntrain { data sklearn digits }\n"
    samples = {"units": 8, "filters": 8, "weights": 6, "bias": 6, "activations": 6, "activation": "relu", "reuse": 1, "l1": 0.001, "l2": 0.001, "rate": 0.1}
    assert set(samples) == set(paths.LAYER_PATHS)
    seen: set[str] = set()
    for source in (text, conv1d):
        loaded = load_text(source)
        assert loaded.spec is not None, loaded.diagnostics
        for layer in loaded.spec.model.layers:
            seen.add(layer.kind)
            for p, value in samples.items():
                try:
                    paths.apply(loaded.spec, f"{layer.name}.{p}", value)
                    accepted = True
                except paths.PathError:
                    accepted = False
                assert accepted == (p in layer_paths(layer.kind)), (layer.kind, p)
    assert seen == set(schema.LAYER_KINDS)
    assert set(LAYER_PATH_KINDS) <= set(paths.LAYER_PATHS)


def test_usage_choices() -> None:
    assert usage_choices(schema.TRAIN_KEYS["scale"]) == ["standard", "minmax", "none"]
    assert usage_choices(schema.TRAIN_KEYS["optimizer"]) == ["adam", "sgd", "rmsprop", "lr"]
    assert usage_choices(schema.LAYER_KINDS["conv2d"]) == ["kernel", "stride", "padding", "valid", "same"]
    assert usage_choices(schema.MODEL_KEYS["input"]) == []


# -- names: definition, references, rename ------------------------------------------------------------------

BASE = """\
model base_net {
    input 16
    dense fc1 64 relu
    dense fc2 32 relu
    dense out 5 softmax
}

train {
    data openml "jets"
    classes 5
}
"""

MAIN = """\
import "base.qap"

model small from base_net {
    layer fc1 { reuse 2 }
    dense fc2 16 relu
}

prune {
    skip out
    select fc*
    schedule iterative { rounds 2 }
}

sweep {
    fc1.units in [8, 16]
}
"""


@pytest.fixture
def project(tmp_path: Path) -> list[analysis.Document]:
    (tmp_path / "base.qap").write_text(BASE)
    (tmp_path / "main.qap").write_text(MAIN)
    return [doc_of(BASE, tmp_path / "base.qap"), doc_of(MAIN, tmp_path / "main.qap")]


def symbol_at(doc: analysis.Document, needle: str, offset: int = 0) -> navigation.Symbol | None:
    hit = cursor.word_at(doc.text, *at(doc.text, needle, offset=offset))
    assert hit is not None
    return navigation.Resolver(doc).resolve(hit)


def places(refs: list[navigation.Reference]) -> set[tuple[str, int, int]]:
    return {(r.path.name if r.path else "?", r.span.line, r.span.column) for r in refs}


def test_references_follow_a_layer_through_derived_models_and_imports(project: list[analysis.Document]) -> None:
    base, main = project
    for doc, needle, offset in [(main, "layer fc1", 6), (main, "fc1.units", 1), (base, "fc1", 0)]:
        symbol = symbol_at(doc, needle, offset)
        assert symbol is not None and symbol.kind == "layer" and symbol.root.path is not None and symbol.root.path.name == "base.qap"
        refs = navigation.references(project, symbol)
        assert places(refs) == {("base.qap", 3, 11), ("main.qap", 4, 11), ("main.qap", 15, 5)}
        assert [r.declaration for r in refs if r.path and r.path.name == "base.qap"] == [True]
    # an override in the derived model is the same layer as the base's
    refs = navigation.references(project, symbol_at(main, "dense fc2", 6))  # type: ignore[arg-type]
    assert places(refs) == {("base.qap", 4, 11), ("main.qap", 5, 11)}
    # `skip out` names the layer of the built model (inherited from the base)
    refs = navigation.references(project, symbol_at(main, "skip out", 5))  # type: ignore[arg-type]
    assert places(refs) == {("base.qap", 5, 11), ("main.qap", 9, 10)}
    # models
    refs = navigation.references(project, symbol_at(main, "base_net"))  # type: ignore[arg-type]
    assert places(refs) == {("base.qap", 1, 7), ("main.qap", 3, 18)}
    # a glob is not a name
    assert symbol_at(main, "fc*") is None


def test_definition(project: list[analysis.Document]) -> None:
    base, main = project
    hit = cursor.word_at(MAIN, *at(MAIN, "base.qap", offset=2))
    assert hit is not None
    where = navigation.definition(main, hit)
    assert where is not None and where.path == base.path
    hit = cursor.word_at(MAIN, *at(MAIN, "skip out", offset=6))
    assert hit is not None
    where = navigation.definition(main, hit)
    assert where is not None and where.path == base.path and (where.span.line, where.span.column) == (5, 11)
    hit = cursor.word_at(MAIN, *at(MAIN, "fc1.units"))
    where = navigation.definition(main, hit) if hit else None
    assert where is not None and where.path == base.path and where.span.line == 3


def test_rename_checks_the_new_name(project: list[analysis.Document]) -> None:
    _base, main = project
    fc1 = symbol_at(main, "layer fc1", 6)
    assert fc1 is not None
    navigation.check_new_name(fc1, "first", project)
    for bad, why in [
        ("fc2", "already has a layer named 'fc2'"),
        ("2x", "not a valid layer name"),
        ("a.b", "not a valid"),
        ("model", "keyword"),
        ("", "not a valid"),
    ]:
        with pytest.raises(navigation.RenameError, match=why):
            navigation.check_new_name(fc1, bad, project)
    model = symbol_at(main, "base_net")
    assert model is not None
    with pytest.raises(navigation.RenameError, match="model named 'small' already exists"):
        navigation.check_new_name(model, "small", project)
    assert navigation.glob_warnings(project, "fc1", "first") == ["main.qap:10: 'fc*' matches 'fc1' but not 'first'"]
    assert navigation.glob_warnings(project, "fc1", "fc9") == []


@pytest.mark.parametrize(
    ("new", "why"),
    [
        ("input", "hls4ml reserves it"),
        ("out_softmax", "E309 layer name 'out_softmax' clashes with a name qapc generates"),  # the softmax of `out`
        ("fc2_relu", "E309 layer name 'fc2_relu' clashes with a name qapc generates"),  # the relu of `fc2`
    ],
)
def test_rename_refuses_names_qapc_check_refuses(project: list[analysis.Document], tmp_path: Path, new: str, why: str) -> None:
    base, main = project
    assert base.loaded.ok and main.loaded.ok
    fc1 = symbol_at(main, "layer fc1", 6)
    assert fc1 is not None
    with pytest.raises(navigation.RenameError, match=re.escape(why)):
        navigation.check_buildable(fc1, new, project)
    # what `qapc check` says of the renamed spec: E309
    renamed = load_text(BASE.replace("fc1", new), str(tmp_path / "renamed.qap"), base_dir=tmp_path)
    assert "E309" in [d.code for d in renamed.diagnostics]


def test_rename_to_a_name_qapc_check_accepts(project: list[analysis.Document]) -> None:
    _base, main = project
    for needle, offset, new in [("layer fc1", 6, "first"), ("layer fc1", 6, "fc1_wide"), ("dense fc2", 6, "fc1_relu2")]:
        symbol = symbol_at(main, needle, offset)
        assert symbol is not None
        navigation.check_buildable(symbol, new, project)
    # a spec with errors is held to the names hls4ml reserves only
    broken = doc_of(BASE.replace("dense fc2 32 relu", "dense fc2 32 rleu"))
    fc1 = symbol_at(broken, "fc1")
    assert fc1 is not None and not broken.loaded.ok
    navigation.check_buildable(fc1, "out_softmax", [broken])
    with pytest.raises(navigation.RenameError, match="reserves"):
        navigation.check_buildable(fc1, "input", [broken])


# -- the files of the workspace ----------------------------------------------------------------------------------------


def test_the_walk_skips_loops_and_links_that_lead_nowhere(tmp_path: Path) -> None:
    (tmp_path / "good.qap").write_text(BASE)
    (tmp_path / "loop.qap").symlink_to(tmp_path / "loop.qap")
    (tmp_path / "a.qap").symlink_to(tmp_path / "b.qap")
    (tmp_path / "b.qap").symlink_to(tmp_path / "a.qap")
    (tmp_path / "gone.qap").symlink_to(tmp_path / "nowhere.qap")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to(tmp_path)  # a folder loop: links to folders are not followed
    os.mkfifo(tmp_path / "fifo.qap")
    scan = files.DiskDocuments().documents([tmp_path], set())
    assert [d.path for d in scan.documents] == [tmp_path / "good.qap"] and scan.incomplete == []
    # an open document named after a loop is checked as its text (no traceback)
    doc = doc_of(BASE, tmp_path / "loop.qap")
    assert doc.loaded.ok


def test_the_walk_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tmp_path.joinpath(*[f"d{i}" for i in range(files.MAX_DEPTH + 2)])
    deep.mkdir(parents=True)
    (deep / "deep.qap").write_text(BASE)
    (tmp_path / "top.qap").write_text(BASE)
    scan = files.DiskDocuments().documents([tmp_path], set())
    assert [d.path for d in scan.documents] == [tmp_path / "top.qap"]
    assert len(scan.incomplete) == 1 and f"did not look more than {files.MAX_DEPTH} folders deep" in scan.incomplete[0]
    # the whole file system is never searched
    scan = files.DiskDocuments().documents([Path("/")], set())
    assert scan.documents == [] and "is the whole file system: not searched" in scan.incomplete[0]
    # at most MAX_ENTRIES names, MAX_FILES specs
    for i in range(30):
        (tmp_path / f"x{i:02}.qap").write_text(BASE)
    monkeypatch.setattr(files, "MAX_ENTRIES", 10)
    scan = files.DiskDocuments().documents([tmp_path], set())
    assert len(scan.documents) < 30 and scan.incomplete == ["stopped after looking at 10 files and folders"]
    monkeypatch.setattr(files, "MAX_ENTRIES", 10_000)
    monkeypatch.setattr(files, "MAX_FILES", 5)
    scan = files.DiskDocuments().documents([tmp_path], set())
    assert len(scan.documents) == 5 and scan.incomplete[-1] == "stopped after 5 .qap files"


def test_the_deadline_holds_within_one_large_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One spec whose analysis takes longer than the request's budget (4,000 layers, about 90 KB: seconds) does
    not hold the request past its deadline: the scan says it stopped, and a later request has the file."""
    import time

    layers = "".join(f"    dense l{i} 4 relu\n" for i in range(4000))
    (tmp_path / "big.qap").write_text(f"model big {{\n    input 4\n{layers}    dense out 3 softmax\n}}\ntrain {{ data sklearn iris }}\n")
    (tmp_path / "a.qap").write_text(BASE)  # before it in the walk: in the answer
    monkeypatch.setattr(files, "MAX_SECONDS", 0.3)
    disk = files.DiskDocuments()
    t0 = time.monotonic()
    scan = disk.documents([tmp_path], set())
    asked = time.monotonic() - t0
    assert asked < 0.3 + 0.7, asked
    assert [d.path for d in scan.documents] == [tmp_path / "a.qap"]
    assert len(scan.incomplete) == 1 and "big.qap (" in scan.incomplete[0] and "was still being analysed" in scan.incomplete[0]
    while True:  # the analysis goes on; a later request gets it, without starting it again
        scan = disk.documents([tmp_path], set())
        if not scan.incomplete:
            break
        assert time.monotonic() - t0 < 120
    assert [d.path for d in scan.documents] == [tmp_path / "a.qap", tmp_path / "big.qap"]
    assert time.monotonic() - t0 > 2 * asked  # it was longer than the deadline: the first request did not wait for it


# -- quick fixes -----------------------------------------------------------------------------------------------


def test_suggestions_read_what_did_you_mean_writes() -> None:
    for word, candidates in (("batchnrom", ["batchnorm"]), ("fcx", ["fc1", "fc2"]), ("layer_1x", ["layer_1a", "layer_1b", "layer_1c"])):
        hint = qdiag.did_you_mean(word, candidates) or ""
        found = actions.suggestions(hint)
        assert found and set(found) <= set(candidates) and len(found) == hint.count("'") // 2
    assert actions.suggestions(qdiag.choices_hint("rleu", ["relu", "tanh"])) == ["relu"]
    assert actions.suggestions("expected one of: a, b") == []
    assert actions.suggestions(None) == []


@pytest.mark.parametrize(
    ("wrong", "right", "code"),
    [
        ("{ batchnorm; l1 1e-4 }", "{ batchnrom; l1 1e-4 }", "E201"),
        ("dense fc2 32 relu", "dense fc2 32 rleu", "E204"),
        ("dense fc3", "dens fc3", "E208"),
        ("skip out", "skip ot", "E501"),
        ("backend vitis", "backend vitsi", "E204"),
    ],
)
def test_a_quick_fix_applies_the_suggestion(wrong: str, right: str, code: str) -> None:
    broken = JET.replace(wrong, right, 1)
    doc = doc_of(broken)
    (diag,) = [d for d in analysis.diagnostics(doc)[None] if d.code == code]
    fixes = actions.quick_fixes(doc, diag.range)
    assert fixes, diag
    fix = fixes[0]
    lines = broken.split("\n")
    row = lines[fix.range.start.line]
    fixed = "\n".join(
        lines[: fix.range.start.line] + [row[: fix.range.start.character] + fix.new_text + row[fix.range.end.character :]] + lines[fix.range.start.line + 1 :]
    )
    assert fixed == JET
    assert doc_of(fixed).loaded.ok


def test_a_quick_fix_of_a_sweep_path_changes_the_wrong_part() -> None:
    text = JET + "\nsweep {\n    fc1.unitz in [8, 16]\n    fc9.units in [8, 16]\n}\n"
    doc = doc_of(text)
    titles = {f.title for f in actions.quick_fixes(doc, analysis.whole_range(text))}
    assert {"Change 'fc9' to 'fc1'", "Change 'unitz' to 'units'"} <= titles
    assert all(t.startswith(("Change 'fc9' to 'fc", "Change 'unitz'")) for t in titles)


# -- outline -------------------------------------------------------------------------------------------------------


def test_outline_of_models_layers_and_sections() -> None:
    out = symbols.outline(doc_of(MAIN).tree, MAIN)  # type: ignore[arg-type]
    assert [(s.name, s.kind) for s in out] == [("base.qap", "import"), ("small", "model"), ("prune", "section"), ("sweep", "section")]
    small = out[1]
    assert small.detail == "from base_net"
    assert [(c.name, c.kind, c.detail) for c in small.children] == [("fc1", "layer", "layer"), ("fc2", "layer", "dense 16 relu")]
    prune = out[2]
    assert [c.name for c in prune.children] == ["skip", "select", "schedule"]
    assert [c.name for c in prune.children[2].children] == ["rounds"]
    assert out[3].children[0].detail == "in [8, 16]"
    # ranges: the whole declaration, and the name inside it
    assert (small.range.start.line, small.range.end.line) == (2, 5) and small.selection.start == analysis.Pos(2, 6)


# -- diagnostics of imported files ------------------------------------------------------------------------------------


def test_problems_of_files_imported_through_other_files(tmp_path: Path) -> None:
    (tmp_path / "a.qap").write_text('import "b.qap"\n')
    (tmp_path / "b.qap").write_text(BASE.replace("dense fc2 32 relu", "dense fc2 32 rleu"))
    (tmp_path / "self.qap").write_text('import "self.qap"\n' + BASE)
    main = 'import "a.qap"\n\nmodel m from base_net { remove fc1 }\n'
    mine = analysis.diagnostics(doc_of(main, tmp_path / "main.qap"))[tmp_path / "main.qap"]
    assert [(d.range.start.line, d.code) for d in mine] == [(0, "E204")]
    assert mine[0].message.startswith("a.qap (with its imports) has 1 error; first: b.qap:4: unknown activation 'rleu'")
    assert [r.path for r in mine[0].related] == [tmp_path / "b.qap"]
    # a file that imports itself
    mine = analysis.diagnostics(doc_of('import "self.qap"\n', tmp_path / "other.qap"))[tmp_path / "other.qap"]
    assert [(d.range.start.line, d.code) for d in mine] == [(0, "E006")]
    assert mine[0].message.startswith("self.qap has 1 error; first: self.qap:1: import cycle")
