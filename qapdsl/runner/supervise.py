"""Run one command so that it never outlives `qapc` (standard library only; run as a script).

    python supervise.py COMMAND [ARG...]

`qapc run` starts this in a new session, so the supervisor leads a process group
that holds the command and everything the command starts (hls4ml's `sh
build_lib.sh`, g++, ...). The whole group is killed when:

- `qapc` dies in any way, SIGKILL included: Linux sends the supervisor SIGTERM
  (`PR_SET_PDEATHSIG`), and it kills its group;
- the supervisor is told to stop (SIGTERM, SIGINT, SIGHUP).

Otherwise it waits for the command and exits as the command did (the same exit
code, or the same signal), so the caller sees no difference.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(Exception):  # not Linux: SIGTERM from qapc still stops the group
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # qapc died before the line above took effect
        _kill_group()


def _kill_group(*_: object) -> None:
    os.killpg(os.getpgrp(), signal.SIGKILL)  # the command, its children, and this process


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: supervise.py COMMAND [ARG...]", file=sys.stderr)
        return 2
    parent = int(os.environ.get("QAPC_SUPERVISOR_PARENT", os.getppid()))
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _kill_group)
    _die_with_parent(parent)
    child = subprocess.Popen(argv)
    rc = child.wait()
    if rc < 0:  # killed by a signal: end the same way, so the caller can tell
        signal.signal(-rc, signal.SIG_DFL)
        os.kill(os.getpid(), -rc)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
