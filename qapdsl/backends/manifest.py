"""`manifest.json`: what a build was made from (spec and import digests, versions, the resolved IR)."""

from __future__ import annotations

import json
from typing import Any

from qapdsl import dialects, ir
from qapdsl.outdir import BUILD_FILES as FILES


def manifest(spec: ir.Spec, version: str) -> dict[str, Any]:
    sources = list(spec.sources)
    return {
        "qapc_version": version,
        "ir_version": spec.ir_version,
        "model": spec.model.name,
        "spec": {"path": sources[0].path, "sha256": sources[0].sha256} if sources else None,
        "imports": [{"path": s.path, "sha256": s.sha256} for s in sources[1:]],
        "dialect": spec.train.dialect,
        # the ML stack the generated scripts are written for: the dialect's pip extra (a test keeps
        # qapdsl/dialects.py and pyproject.toml in step; pyproject is not in the wheel)
        "ml_stack": {**dialects.get(spec.train.dialect).pins, **(dialects.RTL_PINS if spec.target.rtl is not None else {})},
        "files": list(FILES) + (["rtl.py"] if spec.target.rtl is not None else []),
        "ir": spec.model_dump(mode="json"),
    }


def manifest_json(spec: ir.Spec, version: str) -> str:
    return json.dumps(manifest(spec, version), indent=2, sort_keys=True, ensure_ascii=True) + "\n"
