"""The command-line verbs above the packages they drive: `qapc build` (build.py), `run`, `report`, `sweep`,
`doctor`, `new`, `lsp`, and what they share (common.py: exit codes, loading a spec with its diagnostics shown).

Each module provides `add_arguments(parser)` and `run(args) -> int` for `qapdsl.cli` and stays cheap to import
(heavy imports go inside `run`)."""
