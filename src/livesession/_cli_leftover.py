"""The words argparse left over: several run directories given to a command on one run.

``parse_known_args`` leaves what no argument took; the refusal says what they look like
rather than argparse's bare ``unrecognized arguments``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ._support.text import path_text, shell_word

if TYPE_CHECKING:
    import argparse

__all__ = ["left_over"]


def left_over(args: argparse.Namespace, extra: list[str]) -> str:
    """The one-line refusal of the words ``extra`` no argument of the command took."""
    return _one_run(args, extra) or f"unrecognized arguments: {' '.join(extra)}"


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
