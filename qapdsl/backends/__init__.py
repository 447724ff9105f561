"""Backends: a checked spec → the files of a build folder.

- `render(spec, out_dir, ...)` → {file name: bytes}: pure, byte-identical for the same spec.
- `build(spec, out_dir, ...)` → out_dir: render, then write atomically (`qapdsl.outdir.atomic`), replacing only
  files whose bytes qapc recorded writing (`qapdsl.outdir.ledger`).

The files: `train.py` (training in the spec's dialect: templates/<dialect>/train.py.j2,
extending templates/train.py.j2), `hls4ml_config.yml` and `convert.py` (hls4ml:
templates/<dialect>/convert.py.j2), with `rtl verilog` in the target `rtl.py` (da4ml, Verilator, Yosys:
templates/<dialect>/rtl.py.j2) and `manifest.json`. jinja2 and yaml are imported here lazily; the ML stack never.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from qapdsl import ir
from qapdsl.plan import BuildError
from qapdsl.source import SourceFile

__all__ = ["BuildError", "build", "render"]


def render(spec: ir.Spec, out_dir: Path, *, spec_path: str | None = None, sources: Mapping[str, SourceFile | str] | None = None) -> dict[str, bytes]:
    """The build folder's files. `sources` (display path → text) lets comments quote the spec lines;
    without it the spec files are read from their display paths when possible."""
    import jinja2

    from qapdsl import __version__
    from qapdsl.backends import brevitas, hgq2, hls4ml, manifest, qkeras, rtl, verify
    from qapdsl.backends.literals import SpecLines, py
    from qapdsl.plan import make_plan
    from qapdsl.resources import templates_dir

    path = spec_path or (spec.sources[0].path if spec.sources else "<spec>")
    if sources is None:
        sources = _read_sources(spec)
    lines = SpecLines(sources)
    plan = make_plan(spec)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["py"] = py
    dialect = spec.train.dialect
    context = {"qkeras": qkeras.train_context, "hgq2": hgq2.train_context, "brevitas": brevitas.train_context}[dialect]
    train = env.get_template("train.py.j2").render(**context(spec, plan, lines, out_dir, path))
    convert = env.get_template(f"{dialect}/convert.py.j2").render(**hls4ml.convert_context(spec, plan, path, __version__))
    config = hls4ml.config(spec, plan)
    manifest_data = manifest.manifest(spec, __version__)
    files = {
        "train.py": train,
        "hls4ml_config.yml": hls4ml.config_yaml(spec, plan, path, __version__),
        "convert.py": convert,
        "manifest.json": manifest.manifest_json(spec, __version__),
    }
    if rtl.wanted(spec):
        files[rtl.FILE] = env.get_template(f"{dialect}/rtl.py.j2").render(**rtl.context(spec, plan, lines, path, __version__))
    out = {name: text.encode("utf-8") for name, text in files.items()}
    # each file read back as its consumer reads it: the bytes must mean what we generated
    for name in ("train.py", "convert.py", *([rtl.FILE] if rtl.FILE in files else [])):
        verify.check_python(name, files[name], out[name])
    verify.check_yaml("hls4ml_config.yml", out["hls4ml_config.yml"], config)
    verify.check_json("manifest.json", out["manifest.json"], manifest_data)
    return out


def build(
    spec: ir.Spec,
    out_dir: Path,
    *,
    spec_path: str | None = None,
    sources: Mapping[str, SourceFile | str] | None = None,
    force: bool = False,
    kept: list[Path] | None = None,
) -> Path:
    """Render and write the build folder; returns it. Raises BuildError when the spec cannot be
    built, and qapdsl.outdir.ForeignFiles when a file in the way is not qapc's (nothing written);
    with `force` such files are moved aside, and their new paths added to `kept`."""
    from qapdsl.outdir.atomic import write_files

    out_dir = Path(out_dir)
    files = render(spec, out_dir, spec_path=spec_path, sources=sources)
    moved = write_files(out_dir, files, force=force)
    if kept is not None:
        kept.extend(moved)
    return out_dir


def _read_sources(spec: ir.Spec) -> dict[str, str]:
    out: dict[str, str] = {}
    for ref in spec.sources:
        try:
            out[ref.path] = Path(ref.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return out
