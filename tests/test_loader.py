"""Imports, derived models and section merging, on real files in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from ir_support import strip_spans

from qapdsl import ir
from qapdsl.loader import Loaded, UsageError, load_file, load_text
from qapdsl.syntax import parse

BASE = """model base {
    input 16
    quant weights fixed<6,1>, activations ufixed<6,0>
    dense fc1 64 relu { l1 1e-4 }
    dense fc2 32 relu
    dense out 5 softmax { weights fixed<8,2> }
}

prune {
    scope global
    skip out
    schedule iterative { rounds 11; rate 20%; rewind none }
}

train {
    data openml "jets"
    classes 5
    epochs 250
    batch 1024
}

target fpga {
    backend vitis
    clock 5 ns
    reuse 1
}
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def ok(loaded: Loaded) -> ir.Spec:
    assert loaded.ok and loaded.spec is not None, [(d.code, d.message, str(d.span)) for d in loaded.diagnostics]
    return loaded.spec


def codes(loaded: Loaded) -> list[str]:
    return [d.code for d in loaded.diagnostics]


# -- imports ---------------------------------------------------------------------


def test_relative_import_from_subfolder(tmp_path: Path) -> None:
    write(tmp_path, {"lib/base.qap": BASE, "studies/a/spec.qap": 'import "../../lib/base.qap"\n'})
    spec = ok(load_file(tmp_path / "studies/a/spec.qap"))
    assert spec.model.name == "base"
    assert [s.path for s in spec.sources] == [str(tmp_path / "studies/a/spec.qap"), str(tmp_path / "lib/base.qap")]


def test_import_is_relative_to_the_importing_file_not_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"a/base.qap": BASE, "a/mid.qap": 'import "base.qap"\n', "spec.qap": 'import "a/mid.qap"\n'})
    monkeypatch.chdir(tmp_path / "a")  # a wrong resolution would find a/base.qap from here too; go elsewhere
    monkeypatch.chdir(tmp_path.parent)
    spec = ok(load_file(tmp_path / "spec.qap"))
    assert spec.model.name == "base" and len(spec.sources) == 3


def test_diamond_import_loads_the_shared_file_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "base.qap": BASE,
            "left.qap": 'import "base.qap"\nmodel left from base {\n    layer fc1 { reuse 2 }\n}\n',
            "right.qap": 'import "base.qap"\ntrain {\n    epochs 7\n}\n',
            "spec.qap": 'import "left.qap"\nimport "right.qap"\nmodel top from left {\n}\n',
        },
    )
    spec = ok(load_file(tmp_path / "spec.qap"))
    assert [Path(s.path).name for s in spec.sources] == ["spec.qap", "base.qap", "left.qap", "right.qap"]
    assert spec.train.epochs == 7 and spec.train.batch == 1024
    assert spec.model.layers[0].reuse == 2


def test_missing_import_is_e005_at_the_path(tmp_path: Path) -> None:
    write(tmp_path, {"spec.qap": 'import "nope.qap"\n' + BASE})
    loaded = load_file(tmp_path / "spec.qap")
    (d,) = loaded.diagnostics
    assert (d.code, d.span and (d.span.line, d.span.column)) == ("E005", (1, 8))
    assert "nope.qap" in d.message and loaded.spec is None


def test_import_of_a_directory_is_e005(tmp_path: Path) -> None:
    (tmp_path / "dir.qap").mkdir()
    write(tmp_path, {"spec.qap": 'import "dir.qap"\n' + BASE})
    assert codes(load_file(tmp_path / "spec.qap")) == ["E005"]


def test_import_cycle_is_e006_with_the_chain(tmp_path: Path) -> None:
    write(tmp_path, {"a.qap": 'import "b.qap"\n' + BASE, "b.qap": 'import "c.qap"\n', "c.qap": 'import "a.qap"\n'})
    loaded = load_file(tmp_path / "a.qap")
    (d,) = loaded.diagnostics
    assert d.code == "E006" and d.span is not None and d.span.file.endswith("c.qap")
    assert "a.qap → " in d.message and "b.qap → " in d.message and d.message.endswith("a.qap")


def test_self_import_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, {"a.qap": 'import "a.qap"\n' + BASE})
    assert codes(load_file(tmp_path / "a.qap")) == ["E006"]


def test_errors_in_an_imported_file_point_into_it(tmp_path: Path) -> None:
    write(tmp_path, {"base.qap": BASE.replace("epochs 250", "epoch 250"), "spec.qap": 'import "base.qap"\n'})
    (d,) = load_file(tmp_path / "spec.qap").diagnostics
    assert d.code == "E201" and d.span is not None and d.span.file.endswith("base.qap") and d.span.line == 18


def test_unreadable_main_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        load_file(tmp_path / "missing.qap")


# -- derivation ------------------------------------------------------------------


def derived(tmp_path: Path, body: str) -> Loaded:
    write(tmp_path, {"base.qap": BASE, "spec.qap": f'import "base.qap"\n\nmodel d from base {{\n{body}\n}}\n'})
    return load_file(tmp_path / "spec.qap")


def test_from_copies_the_base(tmp_path: Path) -> None:
    spec = ok(derived(tmp_path, ""))
    base = ok(load_text(BASE)).model
    assert spec.model.name == "d" and spec.model.base == "base"
    assert strip_spans(spec.model.model_dump(mode="json")["layers"]) == strip_spans(base.model_dump(mode="json")["layers"])


def test_layer_block_changes_settings_and_keeps_others(tmp_path: Path) -> None:
    spec = ok(derived(tmp_path, "    layer fc1 { reuse 4; batchnorm }"))
    fc1 = spec.model.layers[0]
    assert (fc1.reuse, fc1.batchnorm, fc1.l1, fc1.units) == (4, True, 1e-4, 64)
    assert fc1.spans["reuse"].file.endswith("spec.qap")  # the new setting points at the derived file
    assert fc1.spans["name"].file.endswith("base.qap")


def test_remove_drops_a_layer(tmp_path: Path) -> None:
    spec = ok(derived(tmp_path, "    remove fc2"))
    assert [layer.name for layer in spec.model.layers] == ["fc1", "out"]


def test_same_name_replaces_in_place_and_new_name_appends(tmp_path: Path) -> None:
    spec = ok(derived(tmp_path, "    dense fc2 16 relu\n    dense head 5 softmax"))
    assert [(layer.name, layer.units) for layer in spec.model.layers] == [("fc1", 64), ("fc2", 16), ("out", 5), ("head", 5)]
    assert spec.model.layers[1].spans["units"].file.endswith("spec.qap")


def test_skip_of_a_removed_layer_is_reported(tmp_path: Path) -> None:
    loaded = derived(tmp_path, "    remove out\n    dense head 5 softmax")
    (d,) = loaded.diagnostics
    assert d.code == "E501" and d.hint == "layers: fc1, fc2, head"


def test_quant_roles_override_one_by_one(tmp_path: Path) -> None:
    spec = ok(derived(tmp_path, "    quant weights 4 bits, bias fixed<8,3>"))
    q = spec.model.quant
    assert q.weights is not None and (q.weights.kind, q.weights.width) == ("bits", 4)
    assert q.bias is not None and (q.bias.width, q.bias.integer) == (8, 3)
    assert q.activations is not None and (q.activations.width, q.activations.signed) == (6, False)  # kept from base
    assert spec.model.layers[-1].quant.weights is not None  # the per-layer override survives


def test_input_replaced(tmp_path: Path) -> None:
    spec = ok(derived(tmp_path, "    input 8"))
    assert spec.model.input_shape == (8,)


def test_derivation_chain_and_unknown_layer(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "spec.qap": BASE + "model a from base {\n    remove fc2\n}\nmodel b from a {\n    layer fc2 { reuse 2 }\n}\n",
        },
    )
    loaded = load_file(tmp_path / "spec.qap")
    (d,) = loaded.diagnostics
    assert (d.code, d.hint) == ("E308", "did you mean 'fc1'?")


def test_model_option_picks_a_model(tmp_path: Path) -> None:
    write(tmp_path, {"spec.qap": BASE + "model small from base {\n    dense fc1 8 relu\n}\n"})
    assert ok(load_file(tmp_path / "spec.qap")).model.name == "small"
    assert ok(load_file(tmp_path / "spec.qap", model_name="base")).model.name == "base"
    assert codes(load_file(tmp_path / "spec.qap", model_name="bsae")) == ["E103"]


# -- section merge -----------------------------------------------------------------


def test_sections_merge_key_by_key_across_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "base.qap": BASE,
            "spec.qap": 'import "base.qap"\n\ntrain {\n    epochs 10\n}\n\ntarget fpga {\n    clock 200 MHz\n}\n\nprune {\n    schedule iterative { rewind init }\n}\n',
        },
    )
    spec = ok(load_file(tmp_path / "spec.qap"))
    assert (spec.train.epochs, spec.train.batch, spec.train.classes) == (10, 1024, 5)
    assert (spec.target.clock_ns, spec.target.backend) == (5.0, "vitis")
    assert spec.prune is not None and spec.prune.skip == ("out",)
    s = spec.prune.schedule
    assert (s.kind, s.rounds, s.rate, s.rewind) == ("iterative", 11, 0.2, "init")


def test_a_schedule_of_another_kind_replaces_the_block(tmp_path: Path) -> None:
    write(tmp_path, {"base.qap": BASE, "spec.qap": 'import "base.qap"\nprune {\n    scope layer\n    schedule constant { target 50% }\n}\n'})
    s = ok(load_file(tmp_path / "spec.qap")).prune.schedule  # type: ignore[union-attr]
    assert (s.kind, s.target, s.rounds) == ("constant", 0.5, 11)


def test_an_inherited_global_scope_does_not_silently_vanish_with_a_tfmot_schedule(tmp_path: Path) -> None:
    # the base prunes globally (iterative); switching to tfmot's per-layer schedule must say so
    write(tmp_path, {"base.qap": BASE, "spec.qap": 'import "base.qap"\nprune {\n    schedule constant { target 50% }\n}\n'})
    loaded = load_file(tmp_path / "spec.qap")
    assert codes(loaded) == ["E503"]
    assert loaded.diagnostics[0].span is not None and loaded.diagnostics[0].span.file.endswith("base.qap")


def test_section_twice_in_one_file_is_e102_but_across_files_merges(tmp_path: Path) -> None:
    write(tmp_path, {"spec.qap": BASE + "train {\n    epochs 3\n}\n"})
    assert codes(load_file(tmp_path / "spec.qap")) == ["E102"]


# -- syntax corner cases found while testing ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "prune { schedule constant {\n target 80% } }",  # `target` as a key after a line break
        "prune { schedule constant { begin 1; target 80% } }",
        'train {\n    data file "x.csv" target label\n}',
        "sweep {\n    train.lr in [1e-3, 1e-4]\n}",
    ],
)
def test_section_words_are_keys_inside_blocks(text: str) -> None:
    parse(text)


def test_emit_ir_round_trip() -> None:
    spec = ok(load_text(BASE))
    again = ir.Spec.model_validate_json(spec.model_dump_json())
    assert again == spec


def test_comments_inside_multiline_lists_and_tuples(tmp_path: Path) -> None:
    """A value list over several lines may carry comments, at the ends of lines and on lines of their own."""
    text = (
        "model m {\n    input (\n        # the features\n        16,\n    )\n    dense out 5 softmax\n}\n"
        'train {\n    data openml "x"\n    classes 5\n}\n'
        "sweep {\n    quant.bits in [\n        4,  # small\n        # medium\n        6,\n\n        8,  # large\n    ]\n}\n"
    )
    loaded = load_text(text, str(tmp_path / "spec.qap"), base_dir=tmp_path)
    assert loaded.ok and loaded.spec is not None, loaded.diagnostics
    assert loaded.spec.model.input_shape == (16,)
    assert loaded.spec.sweep is not None and loaded.spec.sweep.axes[0].values == (4, 6, 8)


BASE_MODEL = "model b {\n    input 16\n    quant weights fixed<6,1>, activations ufixed<6,0>\n    dense fc1 8 relu\n    dense out 5 softmax { reuse 1 }\n}\n"
TRAIN = 'train {\n    data openml "x"\n    classes 5\n}\n'


@pytest.mark.parametrize("where", ["same file", "imported"])
def test_derived_models_follow_one_rule_wherever_the_base_is(where: str, tmp_path: Path) -> None:
    """A derived body may replace each thing of its base once; saying it twice is an error: the same
    whether the base model is in the same file or in an imported one."""

    def load(body: str) -> Loaded:
        derived = f"model d from b {{\n{body}}}\n"
        if where == "same file":
            (tmp_path / "spec.qap").write_text(BASE_MODEL + derived + TRAIN)
        else:
            (tmp_path / "base.qap").write_text(BASE_MODEL + TRAIN)
            (tmp_path / "spec.qap").write_text('import "base.qap"\n' + derived)
        return load_file(tmp_path / "spec.qap")

    ok = load("    input 32\n    dense fc1 4 relu\n    quant weights fixed<8,2>\n    layer out { reuse 2 }\n")
    assert ok.ok and ok.spec is not None, ok.diagnostics
    model = ok.spec.model
    assert model.input_shape == (32,) and [layer.units for layer in model.layers] == [4, 5]
    assert model.quant.weights is not None and model.quant.weights.width == 8
    assert model.layers[1].reuse == 2
    for body, code in [
        ("    input 32\n    input 8\n", "E104"),
        ("    dense fc1 4 relu\n    dense fc1 2 relu\n", "E301"),
        ("    dense fc1 4 relu\n    layer fc1 { reuse 2 }\n", "E104"),
        ("    quant weights fixed<8,2>, weights fixed<4,1>\n", "E104"),
        ("    quant weights fixed<8,2>\n    quant weights fixed<4,1>\n", "E104"),
        ("    layer out { reuse 2; reuse 4 }\n", "E104"),
    ]:
        bad = load(body)
        assert not bad.ok and [d.code for d in bad.diagnostics] == [code], (body, bad.diagnostics)


def test_chains_of_a_thousand_imports_and_derivations(tmp_path: Path) -> None:
    """Deep chains end in a model, not in Python's recursion limit."""
    n = 1200
    for i in range(n):
        imp = f'import "f{i + 1}.qap"\n' if i + 1 < n else BASE_MODEL + TRAIN
        (tmp_path / f"f{i}.qap").write_text(imp)
    loaded = load_file(tmp_path / "f0.qap")
    assert loaded.ok and loaded.spec is not None and loaded.spec.model.name == "b"
    chain = BASE_MODEL + "".join(f"model level{i} from {'b' if i == 0 else f'level{i - 1}'} {{\n    layer out {{ reuse 1 }}\n}}\n" for i in range(n)) + TRAIN
    (tmp_path / "chain.qap").write_text(chain)
    loaded = load_file(tmp_path / "chain.qap")
    assert loaded.ok and loaded.spec is not None and loaded.spec.model.name == f"level{n - 1}"
