"""`qapc lsp`: the language server over stdio (the server is the package `qapdsl.lsp`).

This module stays tiny: `qapc` imports it to build its argument parser, and
pygls is imported only when the server really starts (qapdsl.lsp.server).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default and only transport; accepted for editors that pass it)")
    parser.add_argument("--log-file", metavar="PATH", help="write the server's log here (stdout carries the protocol)")


def run(args: argparse.Namespace) -> int:
    try:
        from qapdsl.lsp.server import serve
    except ImportError as e:  # pygls is an optional extra
        print(f"qapc lsp: {e}; install the language-server extra: pip install 'qapc[lsp]'", file=sys.stderr)
        return 2
    return serve(log_file=args.log_file)
