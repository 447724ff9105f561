"""The output folder: what may be one (`folder`), one qapc at a time (`lock`), which of its files
are qapc's to change (`ledger`), and writing a build's files all together (`atomic`).

The rule every command follows: qapc changes or deletes only files whose current bytes it recorded
writing; read-only commands write nothing into the folder; two builds of one spec give identical
trees. See docs/architecture.md.
"""

from __future__ import annotations

from qapdsl.outdir.folder import (
    BUILD_FILES,
    LEDGER_NAME,
    OUTPUTS,
    PATH_UNSAFE,
    RUN_OUTPUTS,
    STEP_OUTPUTS,
    OutputDirError,
    check,
    location_warning,
    unsafe_path,
    writable,
)
from qapdsl.outdir.ledger import KEPT, ForeignFiles
from qapdsl.outdir.lock import lock

__all__ = [
    "BUILD_FILES",
    "KEPT",
    "LEDGER_NAME",
    "OUTPUTS",
    "PATH_UNSAFE",
    "RUN_OUTPUTS",
    "STEP_OUTPUTS",
    "ForeignFiles",
    "OutputDirError",
    "check",
    "location_warning",
    "lock",
    "unsafe_path",
    "writable",
]
