"""Sweeps and searches: the paper's study from one spec, on Optuna.

- `expand`  axes → points (deterministic ids), each a checked variant spec.
- `study`   the Optuna study: storage, enqueueing, popping, stale trials, workers.
- `progress` the progress display over the whole study.
- `table`   sweep.csv and the Markdown / LaTeX tables from the results.
- `plots`   pareto.png / pareto.svg (matplotlib, Agg, deterministic svg).
- `command` `qapc sweep`.

Nothing here imports optuna, matplotlib or the ML stack at module level:
`qapc check` imports the CLI, and the CLI imports `command`.
"""
