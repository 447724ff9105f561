"""`manifest.json`: what a build was made from (spec and import digests, versions, the resolved IR)."""

from __future__ import annotations

import json
from typing import Any

from qapdsl import ir

# The ML stack the generated scripts are written for: the `ml` extra of
# pyproject.toml (a test keeps the two in step; pyproject is not in the wheel).
ML_STACK: dict[str, str] = {
    "tensorflow": "==2.14.1",
    "keras": "==2.14.0",
    "qkeras": "==0.9.0",
    "tensorflow-model-optimization": "==0.7.5",
    "hls4ml": "==1.3.0",
    "numpy": "==1.26.4",
    "pyparsing": ">=3",
    "scikit-learn": ">=1.3,<1.6",
    "h5py": ">=3.9",
    "pandas": ">=2",
    "pyarrow": ">=14,<21",
}

FILES = ("train.py", "hls4ml_config.yml", "convert.py", "manifest.json")


def manifest(spec: ir.Spec, version: str) -> dict[str, Any]:
    sources = list(spec.sources)
    return {
        "qapc_version": version,
        "ir_version": spec.ir_version,
        "model": spec.model.name,
        "spec": {"path": sources[0].path, "sha256": sources[0].sha256} if sources else None,
        "imports": [{"path": s.path, "sha256": s.sha256} for s in sources[1:]],
        "ml_stack": dict(ML_STACK),
        "files": list(FILES),
        "ir": spec.model_dump(mode="json"),
    }


def manifest_json(spec: ir.Spec, version: str) -> str:
    return json.dumps(manifest(spec, version), indent=2, sort_keys=True, ensure_ascii=True) + "\n"
