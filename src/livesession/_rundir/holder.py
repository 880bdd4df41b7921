"""Who holds a run directory, and how a second writer's refusal names it.

The holder is what ``writer.lock``'s content says (pid, host, since when, command): the
lock proves it, the content names it. A refusal of this very process names where it still
refers to the session that holds the run (``shellrefs``).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import attrs

from .._exceptions import RunHeld
from .shellrefs import referred_as

__all__ = ["Holder", "held_refusal", "program_name", "writer_command"]


@attrs.frozen
class Holder:
    """The process that holds a run directory (as its lock file names it)."""

    pid: int
    host: str
    since: str
    """When it took the lock: wall time, RFC 3339 UTC (operational, not evidence)."""
    command: str

    def describe(self) -> str:
        """``pid 4242 on host-a since 2026-11-30T10:00:00Z (livesession resume)``.

        A holder whose name is not written yet (pid 0: it took the lock a moment ago) is
        ``another process (starting: its name is not written yet)``.
        """
        if not self.pid:
            return "another process (starting: its name is not written yet)"
        return f"pid {self.pid} on {self.host} since {self.since} ({self.command})"

    @property
    def this_process(self) -> bool:
        """Whether the holder is the process asking: a session it opened and has not closed.

        Its pid and host name alone said so of another container's first process (pid 1 on
        the pod's host name, in a PID namespace of its own) to a container's first process
        that asked: a ``resume`` there was refused ``which is this very process: a session it
        opened still holds the run; ... close() that session first``. It must hold a run too.
        """
        if self.pid != os.getpid() or self.host != socket.gethostname():
            return False
        from .lock import holds_a_run  # noqa: PLC0415 - lock imports this module

        return holds_a_run()


def held_refusal(
    run_dir: Path,
    holder: Holder | None,
    *,
    advice: str,
    own: str = "close() that session first, or drop every reference to it",
) -> RunHeld:
    """The refusal of a second writer of ``run_dir``, naming the holder and what to do.

    ``advice`` is for a holder that is another process; ``own`` for one that is this very
    process (a session it opened is still open): ``livesession stop`` would signal the
    application itself, and waiting would never end. A session never closed holds its run
    while anything refers to it (a stored exception's traceback does): ``RunLock.acquire``
    collects the garbage before refusing, so one merely dropped is not the holder.
    """
    who = "another process" if holder is None else holder.describe()
    if holder is not None and holder.this_process:
        who += ", which is this very process: a session it opened still holds the run"
        who += referred_as(run_dir)  # `del s` in a shell leaves its copies: name them
        advice = own
    return RunHeld(
        f"{run_dir} is being written by {who}; nothing was changed (one writer per run: {advice})"
    )


def writer_command(verb: str) -> str:
    """How a holder names itself: the program's name and the verb (``livesession resume``)."""
    return f"{program_name()} {verb}"


def program_name() -> str:
    """The name of the program this process runs, as a holder names itself (``livesession``).

    The CLI is ``livesession`` however it was started (its script, ``python -m
    livesession``, ``python -m livesession.cli``); a package run as ``python -m desk`` is
    ``desk``. Any ``__main__.py`` was named ``livesession``: an application's own too, so
    ``status`` and a second writer's refusal named the CLI as the writer of the
    application's run (and ``livesession stop`` trusts that name where ``/proc`` shows no
    command line).
    """
    path = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    name = path.name  # a script, or python -c's "-c"
    if path.name == "__main__.py":  # python -m PACKAGE: the package's name
        name = path.parent.name or name
    elif path.name == "cli.py" and path.parent.name == "livesession":
        name = "livesession"  # python -m livesession.cli
    return name
