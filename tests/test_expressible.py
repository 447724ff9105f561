"""`qapdsl.expressible` is what the generators spell: the same ops and quantizer kinds, the same refusals."""

from __future__ import annotations

import pytest

from qapdsl import dialects, expressible
from qapdsl.backends.brevitas import Brevitas
from qapdsl.backends.generator import Generator
from qapdsl.backends.hgq2 import HGQ2
from qapdsl.backends.qkeras import QKeras
from qapdsl.loader import load_text
from qapdsl.plan import BuildError, make_plan

GENERATORS: dict[str, type[Generator]] = {"qkeras": QKeras, "hgq2": HGQ2, "brevitas": Brevitas}


@pytest.mark.parametrize("dialect", dialects.NAMES)
def test_the_table_is_what_the_generator_renders(dialect: str) -> None:
    gen = GENERATORS[dialect]
    assert gen.name() == dialect
    assert set(gen.TRANSFORMS) == expressible.OPS[dialect]
    assert set(gen.TYPE_MAPPING) == expressible.quant_kinds(dialect)


SPEC = """model m {{
    input 16
    quant inputs fixed<8,3>, weights fixed<6,1>, bias fixed<6,1>, activations ufixed<8,3>
    dense fc1 8 relu
    {layer}
    dense out 5 softmax
}}
train {{
    data openml "x"
    classes 5
    dialect {dialect}
}}
"""


@pytest.mark.parametrize("layer", ["activation a linear { activations fixed<6,2> }", "activation t tanh"])
def test_check_and_the_generator_refuse_the_same_layer(layer: str) -> None:
    """A quantizer right after a quantized relu: HGQ2's generator and `qapc check` say the same, from one table;
    QKeras rounds twice, as the model does."""
    qkeras = load_text(SPEC.format(layer=layer, dialect="qkeras"), "m.qap")
    assert qkeras.spec is not None, qkeras.diagnostics
    expressible.refuse("qkeras", make_plan(qkeras.spec))
    hgq2 = load_text(SPEC.format(layer=layer, dialect="hgq2"), "m.qap")
    errors = [d.message for d in hgq2.diagnostics if d.code == "E406"]
    plan = make_plan(qkeras.spec.model_copy(update={"train": qkeras.spec.train.model_copy(update={"dialect": "hgq2"})}))
    with pytest.raises(BuildError) as refused:
        expressible.refuse("hgq2", plan)
    gen = HGQ2(exact_tables=plan.quantized)
    with pytest.raises(BuildError) as rendered:
        for pl in plan.layers:
            gen.keras_layers(pl)
    assert refused.value.message == rendered.value.message
    assert errors == [refused.value.message]
