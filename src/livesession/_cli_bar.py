"""Progress on the terminal: the bars of a dry run, verify, report, a data file; evidence's.

Drawn on stderr, and only when stderr is a terminal this process has the foreground of
(``on_terminal``): piped or redirected output, ``--json`` on stdout, and a command started in
the background with ``&`` are the same with or without it. ``rich`` is imported only then.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import TYPE_CHECKING, Final

from ._market.checkshown import showing_check
from ._support.signals import act_on_owed_stops

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["check_bar", "on_terminal", "phase_lines", "redraws", "run_bar", "terminal_bar"]

RUN_BAR_AFTER_NS: Final = 1_000_000_000
"""A dry run still stepping after this long draws its bar, however few steps it has."""
_RUN_BAR_EVERY_NS: Final = 200_000_000
"""How often the run's bar takes the steps done: a few times a second, at any step's pace."""


def on_terminal() -> bool:
    """Whether to draw on stderr: it is a terminal, and this process is its foreground job.

    A dry run started in the background (``livesession dryrun ... &``, as RUNBOOK's drills
    do) redrew its bar several times a second over ``status``'s output and the shell's
    prompt. A terminal that is not this process's own (``tcgetpgrp`` refuses it) is drawn
    on, as before.

    Nor in a Jupyter notebook's ``!livesession dryrun``: the kernel runs the command on a
    terminal of its own (a pty), and the notebook's cell, which keeps every redraw as a
    line of its own, showed hundreds of bars. A Jupyter kernel's children carry
    ``JPY_PARENT_PID`` (jupyter_client sets it as it starts a kernel).
    """
    if not sys.stderr.isatty() or os.environ.get("JPY_PARENT_PID"):
        return False
    try:
        return os.tcgetpgrp(sys.stderr.fileno()) == os.getpgrp()
    except (OSError, ValueError):
        return True


def redraws() -> bool:
    """Whether to draw a bar: on the terminal (``on_terminal``), if it redraws a line in place.

    A dumb terminal (``TERM=dumb``: an editor's shell, a terminal a log keeper such as
    ``script`` records) does not, and each bar left an empty line in its output.
    """
    return os.environ.get("TERM") != "dumb" and on_terminal()


def _dim() -> str:
    """The phase lines' style: dim, or none under ``NO_COLOR`` (a non-empty value).

    rich honours ``NO_COLOR`` for colour but not for dim: its escape codes stayed.
    """
    return "" if os.environ.get("NO_COLOR") else "dim"


@contextlib.contextmanager
def terminal_bar(description: str) -> Iterator[Callable[[int, int], None] | None]:
    """A ``progress(done, total)`` callback drawing a bar of bytes, or None off a terminal.

    The bar goes when the block ends (it is transient): what the command prints after
    it stands alone.
    """
    if not redraws():
        yield None
        return
    from rich.console import Console  # noqa: PLC0415 - only on a terminal
    from rich.progress import (  # noqa: PLC0415 - only on a terminal
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def progress(done: int, total: int) -> None:
            act_on_owed_stops()  # a safe point: a Ctrl-C a finalizer swallowed ends it here
            bar.update(task, completed=done, total=total)

        yield progress


def phase_lines(command: str) -> Callable[[str], None] | None:
    """Show each phase of a long command as a line on stderr, only when it is a terminal."""
    if not on_terminal():
        return None
    from rich.console import Console  # noqa: PLC0415 - only on a terminal
    from rich.text import Text  # noqa: PLC0415 - only on a terminal

    console = Console(stderr=True, highlight=False)
    started = time.monotonic()

    def show(phase: str) -> None:
        act_on_owed_stops()  # a safe point, as the bar's
        line = f"{command} {time.monotonic() - started:6.1f} s  {phase}"
        console.print(Text(line, _dim()))

    return show


@contextlib.contextmanager
def check_bar(*, quiet: bool = False) -> Iterator[None]:
    """A data file checked in the block (``dryrun``, ``resume``) drawn as a bar of bytes.

    Drawn from the check's first report on (``_market.checkshown``: after its first
    ``EVERY`` lines, so a file of a few thousand rows draws nothing), on a terminal only,
    and gone when the block ends: the run's own bar, or its summary, stands alone.
    """
    if quiet or not redraws():
        yield
        return
    with contextlib.ExitStack() as drawn:
        shown: list[Callable[[int, int | None], None]] = []

        def progress(done: int, total: int | None) -> None:
            if not shown:
                bar = _bar_of_bytes("checking the data file", done, total)
                shown.append(drawn.enter_context(bar))
            shown[0](done, total)

        with showing_check(progress):
            yield


@contextlib.contextmanager
def _bar_of_bytes(
    description: str, done: int, total: int | None
) -> Iterator[Callable[[int, int | None], None]]:
    from rich.console import Console  # noqa: PLC0415 - only on a terminal
    from rich.progress import (  # noqa: PLC0415 - only on a terminal
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    bar = Progress(*columns, TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    task = bar.add_task(description, total=total, completed=done)  # its first frame: these
    with bar:
        yield lambda done, total: bar.update(task, completed=done, total=total)


@contextlib.contextmanager
def run_bar(
    on_step: Callable[[int], int], *, total: int, done: int, at_once: bool
) -> Iterator[Callable[[int], None]]:
    """``on_step(steps done)`` (which returns ``perf_counter_ns()``) that also draws the bar.

    Drawn from the first step when ``at_once`` (a run of many steps), else once the run has
    stepped for ``RUN_BAR_AFTER_NS``: a strategy that takes 5 ms a bar ran 10,000 steps for
    a minute with nothing on the terminal, the bar being kept for runs of 20,000 steps or
    more. Only the caller decides whether this is a terminal (``redraws``). The bar goes
    when the block ends (it is transient): the summary after it stands alone.
    """
    with contextlib.ExitStack() as drawn:
        bar: list[Callable[[int], None]] = []
        next_ns = time.perf_counter_ns() + (0 if at_once else RUN_BAR_AFTER_NS)

        def tick(step: int) -> None:
            nonlocal next_ns
            now = on_step(step)
            if now >= next_ns:  # a few times a second: a step's own cost is one comparison
                if not bar:
                    bar.append(drawn.enter_context(_bar_of_steps(total, step)))
                bar[0](step)
                next_ns = now + _RUN_BAR_EVERY_NS

        if at_once:
            bar.append(drawn.enter_context(_bar_of_steps(total, done)))
        yield tick


@contextlib.contextmanager
def _bar_of_steps(total: int, done: int) -> Iterator[Callable[[int], None]]:
    from rich.console import Console  # noqa: PLC0415 - only on a terminal
    from rich.progress import (  # noqa: PLC0415 - only on a terminal
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("dry run"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    # On stderr, which is the terminal tested: stdout may be a pipe or --json.
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("dry run", total=total, completed=done)
        yield lambda step: progress.update(task, completed=step)
