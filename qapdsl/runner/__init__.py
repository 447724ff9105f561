"""The runner: build, train, convert and emulate a spec, step by step (`qapc run`).

Only this package and the generated scripts touch the ML stack, and they do it
in subprocesses: `run_spec` itself imports neither TensorFlow nor hls4ml.
"""

from qapdsl.runner.pipeline import STEPS, StepError, run_spec

__all__ = ["STEPS", "StepError", "run_spec"]
