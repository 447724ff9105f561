"""qapc: a compiler from `.qap` specs to QKeras training scripts and hls4ml projects.

The package is importable without TensorFlow, QKeras, tfmot or hls4ml; only
`qapdsl.runner` and the generated scripts touch the ML stack, and only lazily.
"""

__version__ = "0.1.0"
