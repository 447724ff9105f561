"""Lowering: resolved statements (`qapdsl.ast`) → IR (`qapdsl.ir`), with diagnostics.

Each block is read against its vocabulary in `qapdsl.schema`. Every problem is
recorded and reading goes on, so one run reports all of them; a value that
cannot be read falls back to its default so later checks still run.

One module per job (the loader calls the `lower_*` of each section):

- `values`: one value (numbers, words, names, periods, shapes); `Bad`, `Ctx`;
- `quantizers`: quantizers and precisions (fixed-point types);
- `statements`: statements against the vocabulary (pairs, single values, keys said twice);
- `model`: the `model` block and its layers; `prune`, `train`, `target`: those sections;
- `study`: the `sweep` and `search` sections.
"""
