"""The words argparse left over (several run directories, a misspelt option), or missing.

``parse_known_args`` leaves what no argument took; the refusal says what they look like
rather than argparse's bare ``unrecognized arguments``: several run directories given to a
command on one run, or an option the command does not have, with the one it has that is
nearest (``--stpes 5``: did you mean ``--steps``?), as a misspelt config key is told.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
from pathlib import Path
from typing import Final

from ._support.text import path_text, shell_word

__all__ = ["left_over", "missing_said"]


def left_over(parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]) -> str:
    """The one-line refusal of the words ``extra`` no argument of the command took."""
    return _one_run(args, extra) or (
        f"unrecognized arguments: {' '.join(extra)}{_nearest_option(parser, args, extra)}"
    )


_CLOSE: Final = 0.75
"""How alike a misspelt option and the one it names are (difflib's ratio): ``--bogus`` is
none's, where the default 0.6 took it for ``--out``."""


def _nearest_option(
    parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]
) -> str:
    """`` (did you mean --steps?)`` for the first misspelt long option, else "".

    The options are the command's own and the parser's (``--help``), never one it hides
    (``resume``'s refused ``--steps``, which would only be refused next).
    """
    actions = list(parser._actions)  # noqa: SLF001 - argparse keeps its actions so
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            command = action.choices.get(getattr(args, "command", None) or "")
            actions += command._actions if command is not None else []  # noqa: SLF001
    return _nearest(extra, _long_options(actions))


def _long_options(actions: list[argparse.Action]) -> list[str]:
    """The long options of ``actions`` a user may give (none argparse hides)."""
    return sorted(
        {
            option
            for action in actions
            if action.help != argparse.SUPPRESS
            for option in action.option_strings
            if option.startswith("--")
        }
    )


def _nearest(words: list[str], known: list[str]) -> str:
    """`` (did you mean --steps?)`` for the first of ``words`` not in ``known`` but near one."""
    for word in words:
        name = word.partition("=")[0]
        if name.startswith("--") and name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=_CLOSE)
            if close:
                return f" (did you mean {close[0]}?)"
    return ""


_INVALID_COMMAND: Final = re.compile(
    r"argument COMMAND: invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)"
)
"""argparse's refusal of a command it lacks (its choices quoted, or bare as newer Pythons say)."""

_NAMED: Final = 3
"""How many of the run directories given ``_one_run`` names."""


def _one_run(args: argparse.Namespace, extra: list[str]) -> str:
    """A command on one run given several (``verify out/runs/*``): say so, and the loop.

    "" when it takes no run directory, or when an option is among the words left over.
    """
    run_dir = getattr(args, "run_dir", None)
    if run_dir is None or any(word.startswith("-") for word in extra):
        return ""
    given = [os.fspath(run_dir), *extra]
    named = ", ".join(path_text(path) for path in given[:_NAMED])
    named += ", ..." if len(given) > _NAMED else ""
    out = shell_word(os.fspath(Path(given[0]).parent))
    return (
        f"{args.command} takes one run directory, given {len(given)} ({named}): run it once "
        f'for each, `for run in {out}/*/; do livesession {args.command} "$run"; done`'
    )


def missing_said(parser: argparse.ArgumentParser, message: str, words: list[str]) -> str:
    """What argparse said of ``parser`` given ``words`` (``message``), and the way out.

    ``livesession verify`` alone said ``the following arguments are required: run_dir``,
    which names neither what a run directory is nor where ``dryrun`` put one. A misspelt
    option before the command (``livesession --versoin``) said only that a command is
    required, and a misspelt command (``dryrn``) listed every command: each names the one
    it is near, as a command's misspelt option does.
    """
    verb = parser.prog.rpartition(" ")[2]
    if message.endswith("required: COMMAND"):  # ``livesession`` alone, or only options
        known = _long_options(list(parser._actions))  # noqa: SLF001 - argparse keeps them so
        near = _nearest(words, known)
        if near:
            stray = " ".join(word for word in words if word.partition("=")[0] not in known)
            return f"unrecognized arguments: {stray}{near}"
        return f"{message} (`livesession --help` lists the commands)"
    command = _INVALID_COMMAND.fullmatch(message)
    if command is not None:
        commands = [word.strip("'") for word in command["choices"].split(", ")]
        close = difflib.get_close_matches(command["given"], commands, n=1, cutoff=_CLOSE)
        if close:
            return message.replace("(choose from", f"(did you mean {close[0]}? choose from", 1)
    if message.endswith(("required: run_dir", "required: RUN_DIR")):
        return (
            f"{message} ({verb} takes a run directory, OUT/<run_id>, as dryrun names it after "
            f"`artifacts`: `livesession {verb} out/runs/demo-001`; `livesession list out/runs` "
            "shows the runs there)"
        )
    if message.endswith("required: out_dir"):
        return (
            f"{message} (the directory that holds the runs: `livesession {verb} out/runs`, "
            "where dryrun puts them without --out)"
        )
    return message
