"""The runner: build, train, convert and emulate a spec, step by step (`qapc run`).

Only this package and the generated scripts touch the ML stack, and they do it
in subprocesses: `run_spec` itself imports neither TensorFlow nor hls4ml.
`from qapdsl.runner import run_spec, StepError` loads the pipeline on first use,
so that registering `qapc run` costs `qapc check` nothing at start-up.
"""

from __future__ import annotations

from typing import Any

__all__ = ["STEPS", "StepError", "run_spec"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from qapdsl.runner import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'qapdsl.runner' has no attribute {name!r}")
