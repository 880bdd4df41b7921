"""How ``stop``, ``kill`` and ``ack`` end when their signal's effect does not show.

Each sends its signal to the run's holder, then waits for the effect in the run's files
(``control``). The wait may end without it in two ways, and each line says that the signal
went out and stands:

- out of time (``--timeout``, exit 9): ``no_effect``'s line, which says why when it can;
  a holder stopped by SIGSTOP or Ctrl-Z, which acts on nothing until it runs again, is
  said so at once (exit 9 too), without the wait;
- cut by Ctrl-C, SIGTERM or SIGHUP (exit 130 / 143 / 129): the command said a bare
  ``livesession: interrupted``, as of a command that had changed nothing, when the holder
  had its signal all the same and acts on it (a stop seals the run). ``cut_after`` raises
  the interrupt again saying what was sent, and ``ended_as`` gives ``main`` its line and
  exit code.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ._cli_output import EXIT_INTERRUPTED
from ._cli_signals import Terminated, ended_as_signal, interrupted
from ._rundir.lock import stopped
from ._rundir.onestop import stop_checkpointed
from ._support.secrets import redact_text
from ._support.text import command, path_text, valid_text

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from ._rundir.lock import Holder
    from ._rundir.watch import RunWatch

__all__ = [
    "InterruptedAfterSending",
    "TerminatedAfterSending",
    "cut_after",
    "ended_as",
    "no_effect",
]


class InterruptedAfterSending(KeyboardInterrupt):
    """Ctrl-C cut the wait of a command that had sent its signal: ``str`` says what it sent."""


class TerminatedAfterSending(Terminated):
    """SIGTERM or SIGHUP cut the wait of a command that had sent its signal: ``str`` says it."""


@contextlib.contextmanager
def cut_after(sent: str, holder: Holder, run_dir: Path) -> Iterator[None]:
    """A wait after ``sent`` (``sent SIGTERM to pid N``) that a Ctrl-C or SIGTERM cuts says so."""
    try:
        yield
    except (KeyboardInterrupt, Terminated) as exc:
        line = (
            f"{sent} before this command stopped waiting for its effect: the signal stands, "
            f"and pid {holder.pid} acts on it at its next step boundary (once it runs again, "
            f"if it is stopped): `{command('status', run_dir)}` says where the run stands"
        )
        if isinstance(exc, Terminated):
            after = TerminatedAfterSending(line)
            after.signum = exc.signum  # SIGTERM's, or SIGHUP's: its own line and code
            raise after from exc
        raise InterruptedAfterSending(line) from exc


def ended_as(exc: BaseException) -> tuple[str, int]:
    """The line (after ``livesession: ``) and the exit code of a command a signal ended."""
    if isinstance(exc, Terminated):
        said, code = ended_as_signal(exc)  # SIGTERM's, or SIGHUP's
    else:
        said, code = interrupted(exc), EXIT_INTERRUPTED
    if isinstance(exc, InterruptedAfterSending | TerminatedAfterSending):
        said = f"{said}: {valid_text(redact_text(str(exc)))}"
    return said, code


def no_effect(
    watch: RunWatch, holder: Holder, sent: str, timeout_s: float, *, under_way: bool, held: str = ""
) -> str:
    """What a signal whose effect did not show within ``timeout_s`` left to do (exit 9).

    ``held``: how the holder is stopped (SIGSTOP, Ctrl-Z), seen before the timeout: said at
    once, as it acts on nothing till it runs again (the command waited out its timeout first,
    and an operator waited on it).
    ``under_way``: this command sent nothing, as a stop was under way; the line ends with how
    to end the holder at once.
    """
    waited, held = not held, held or stopped(holder)  # stopped: it acts on nothing till it runs
    run_dir = watch.run_dir
    if watch.waiting:  # seen in part: what it lacks, and (stopped) why it cannot come yet
        then = f"; {held}" if held else f": check again with `{command('status', run_dir)}` or wait"
        within = f"within {timeout_s:g} s " if waited else ""
        line = f"{sent}; {within}{watch.waiting}{then}"
    elif held:  # the signal (or the stop it took before it stopped) waits for it to run
        what = "the stop under way waits" if under_way else "the signal stays pending"
        line = f"{sent}; {held}; {what} till then: `{command('status', run_dir)}`"
    else:
        line = (
            f"{sent}; no effect seen in {path_text(run_dir)} within {timeout_s:g} s (a long "
            f"step or wind-down?): check again with `{command('status', run_dir)}` or wait"
        )
    if under_way and held:  # stopped, it takes the second signal only once it runs again
        line += (
            f"; to end it as soon as it runs again, send the second signal: `kill -TERM "
            f"{holder.pid}` (`kill -KILL {holder.pid}` ends it at once, stopped as it is)"
        )
    elif under_way:
        line += f"; to end it at once, send the second signal: `kill -TERM {holder.pid}`"
    if under_way and not stop_checkpointed(run_dir):
        line += (
            " (no checkpoint holds the stop yet: a resume would then go on without it, "
            f"so `{command('stop', run_dir)}` again after `{command('resume', run_dir)}`)"
        )
    return line
