"""The spec generator of the differential tests, and the fast half of its property.

Every generated spec either passes `qapc check` and then builds (render, no ML stack
needed: the generated code is compiled and the config read back), or is refused
with a diagnostic from the catalogue; and the generator keeps producing mostly
valid specs, so the end-to-end property (tests/test_differential.py) is not
starved.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from specgen import GeneratedSpec, valid_specs

from qapdsl.backends import render
from qapdsl.diagnostics import CODES
from qapdsl.loader import load_text

SEEN: Counter[str] = Counter()


@settings(max_examples=300, phases=[Phase.generate], database=None, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(valid_specs())
def test_generated_specs_check_then_build(gen: GeneratedSpec) -> None:
    folder = Path("/nonexistent-build-root")  # render writes nothing; the folder only shapes relative data paths
    loaded = load_text(gen.text, "spec.qap", base_dir=Path.cwd())
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    assert all(d.code in CODES for d in loaded.diagnostics)
    if errors:
        SEEN["rejected:" + errors[0].code] += 1
        assert loaded.spec is None
        return
    assert loaded.spec is not None
    files = render(loaded.spec, folder, sources=loaded.sources)  # compiles the scripts, reads the YAML back
    rtl = {"rtl.py"} if loaded.spec.target.rtl is not None else set()  # a spec with `rtl verilog` also gets rtl.py
    assert set(files) == {"train.py", "hls4ml_config.yml", "convert.py", "manifest.json"} | rtl
    SEEN["ok"] += 1
    SEEN["rtl"] += bool(rtl)


def test_the_generator_mostly_writes_valid_specs() -> None:
    if not SEEN:
        test_generated_specs_check_then_build()
    total = sum(n for k, n in SEEN.items() if k != "rtl")
    assert total >= 250
    assert SEEN["ok"] >= 0.85 * total, SEEN
    assert SEEN["rtl"] >= 0.1 * total, SEEN  # the RTL path is among the generated features
