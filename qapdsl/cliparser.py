"""argparse with the language's manners: a mistyped command, option or choice gets a "did you mean".

    qapc chek x.qap          →  qapc: error: argument COMMAND: invalid choice: 'chek' ...; did you mean 'check'?
    qapc run x.qap --epohcs 3 →  qapc: error: unrecognized arguments: --epohcs 3; did you mean '--epochs'?

The suggestions come from `qapdsl.diagnostics.did_you_mean`, the helper of the spec diagnostics, so the
command line and the language suggest the same way. Cheap to import (argparse and difflib only).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from qapdsl.diagnostics import did_you_mean

_INVALID_CHOICE = re.compile(r"argument (?P<arg>[^:]+): invalid choice: '(?P<word>[^']*)'")
_UNRECOGNIZED = "unrecognized arguments: "


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors suggest the nearest command, option or choice.

    Subparsers are made of the same class (argparse's default `parser_class` is the parent's type).
    """

    def error(self, message: str) -> NoReturn:
        m = _INVALID_CHOICE.search(message)
        if m:
            hint = did_you_mean(m.group("word"), self._choices_of(m.group("arg")))
            if hint:
                message = f"{message}; {hint}"
        super().error(message)

    def _choices_of(self, shown: str) -> Iterable[str]:
        """The choices of the argument argparse names `shown` in its message (`--format`, `COMMAND`)."""
        for action in self._actions:
            name = "/".join(action.option_strings) if action.option_strings else str(action.metavar or action.dest)
            if shown == name and action.choices:
                return [str(c) for c in action.choices]
        return []

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            hints = [h for h in (self._option_hint(parsed, word) for word in extras if word.startswith("-")) if h]
            self._parser_of(parsed).error(_UNRECOGNIZED + " ".join(extras) + "".join(f"; {h}" for h in hints))
        return parsed

    def _parser_of(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The subcommand's parser when one was chosen (its usage line is the one to show), else this one."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = getattr(parsed, action.dest, None)
                if isinstance(chosen, str) and chosen in action.choices:
                    sub: argparse.ArgumentParser = action.choices[chosen]
                    return sub
        return self

    def _option_hint(self, parsed: argparse.Namespace, word: str) -> str | None:
        """'did you mean' among the options of the parser that received `word` (the subcommand's, if any)."""
        parser = self._parser_of(parsed)
        options = [s for a in parser._actions for s in a.option_strings if s.startswith("--") or len(word) <= 2]
        return did_you_mean(word.split("=", 1)[0], options)
