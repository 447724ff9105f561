"""Checks on a lowered spec: shapes, bit widths, classes, reuse factors, sweep paths.

All checks run and all findings are returned, so one `qapc check` shows every
problem. (Unknown keys, bad values, selectors and duplicates are found while
lowering, where the syntax is still at hand.)

One module per job: `spec` (every check in order, `check_sound`, `check_buildable`, `check_point`), `model`
(names, output, classes), `dialect` (what the training dialect cannot express), `quantizers`, `data`, `pruning`,
`hardware` (reuse factors, strategy), `rtl` (the RTL step), `study` (sweeps and searches).
"""
