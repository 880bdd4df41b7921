"""The command's own ``sys.stdout`` and ``sys.stderr``, kept from plug-ins that replace them.

A strategy may set ``sys.stdout = open("strategy.log", "w")`` to keep its prints, or a
library silence output so: the CLI then printed its summary and its error lines there. And
what a plug-in logs with ``logging`` (or warns) reaches them redacted (``runs_plugins``).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator

__all__ = ["runs_plugins", "streams_back", "streams_kept"]

_KEPT: list[tuple[TextIO, TextIO]] = []
"""The CLI's ``sys.stdout`` and ``sys.stderr`` while a command runs (``streams_kept``)."""


@contextlib.contextmanager
def streams_kept() -> Iterator[None]:
    """Keep the command's ``sys.stdout`` and ``sys.stderr``: ``streams_back`` puts them back.

    A plug-in may replace them for good (``sys.stdout = open("strategy.log", "w")`` to keep
    its prints, a library silencing output): the command's own summary and error lines then
    went where the plug-in's output goes, and the terminal showed nothing. They are put
    back once the plug-ins have run (``streams_back``) and as the command ends.
    """
    _KEPT.append((sys.stdout, sys.stderr))
    try:
        yield
    finally:
        streams_back()
        _KEPT.pop()


def streams_back() -> None:
    """Put back the command's ``sys.stdout`` and ``sys.stderr`` (``streams_kept``)."""
    if _KEPT:
        sys.stdout, sys.stderr = _KEPT[-1]


def runs_plugins(
    command: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """``command``, which imports a run's plug-ins, with their log records and warnings redacted.

    A strategy's ``log.warning("key %s", os.environ["..._SECRET"])`` reached the command's
    stderr through Python's own handlers with the value in it (``plugin_records_redacted``).
    Only for ``dryrun``, ``resume``, ``evidence`` and ``burnin`` (its ``--drill``): the
    read-only tools import no plug-in, nor ``logging``.
    """

    @functools.wraps(command)
    def redacting(args: argparse.Namespace) -> int:
        from ._support.logging import plugin_records_redacted  # noqa: PLC0415 - as said

        with plugin_records_redacted():
            return command(args)

    return redacting
