"""The stderr lines of a run's end that name it: ``rejected:``, a lease or a plug-in kept.

``dryrun -q`` and ``resume -q`` print nothing else: in a batch of runs (docs/operations.md
"A batch of runs") each of these lines ends with the run directory, as the ``failed:``
line (``_cli_summary``) and the ``stopped by`` line do, so the batch's one log says which
run it was.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

from ._domain.datafeeds import stem_not_allowed
from ._support.secrets import redact_text
from ._support.text import one_line, path_text
from .status import run_status

if TYPE_CHECKING:
    from pathlib import Path

    from ._domain.config import DryrunConfig
    from ._session.coordinator import DryrunResult, LiveSessionOrchestrator

__all__ = ["say_lease_kept", "say_rejected", "say_unclosed"]


def say_rejected(result: DryrunResult, run_dir: Path, cfg: DryrunConfig) -> None:
    """The one stderr line of a rejected session: the reason code, what failed, and its run.

    It ends with the run directory, as the ``failed:`` line does: in a batch of runs
    (``dryrun -q``, nothing else printed) the line says which run it was.

    A lease another session holds is named with its holder (the lease file's, the lease
    row's in PostgreSQL, or the holder's last audit record): the run's events leave it out,
    to stay the same bytes on every host. A lease store that failed is named with its error
    (``C2_LEASE_ERROR``, audit only for the same reason).
    """
    why = result.reason + (f": {result.detail}" if result.detail else "")
    if result.reason == "LEASE_HELD":
        lease = run_status(run_dir).lease or {}
        holder, source = lease.get("holder"), lease.get("source")
        until = lease.get("expires_utc")
        if not holder and lease.get("backend") == "postgres":
            from ._rundir.backing import postgres_holder  # noqa: PLC0415 - only then

            holder, until = postgres_holder(run_dir) or (None, None)
            source = "PostgreSQL"
        if holder:
            why += f" ({holder}, per {source})"
        if holder and until:
            # A killed holder (on another host, which no one here can look into) is named
            # as any: when its lease ends, unless renewed, says how long to wait.
            why += (
                f" until {until}, unless it renews it (a holder that was killed keeps it "
                f"until then, lease_ttl_ms={lease.get('ttl_ms')})"
            )
    elif result.reason == "LEASE_UNAVAILABLE":  # what failed: the audit's, not the events'
        why += f": {(run_status(run_dir).lease or {}).get('unavailable') or 'see audit.jsonl'}"
    elif result.reason == "SYMBOL_NOT_ALLOWED":  # a 0.1.x config's data file names it now
        why += stem_not_allowed(cfg.feed, cfg.symbol, cfg.allowed_symbols)
    said = f"{one_line(redact_text(why))}; sealed REJECTED, nothing traded: {path_text(run_dir)}"
    print(f"livesession: rejected: {said}", file=sys.stderr)  # noqa: T201 - the CLI's output


def say_lease_kept(session: LiveSessionOrchestrator, run_dir: Path) -> None:
    """One stderr line when the ended session could not give its lease back.

    The lease stays held until it expires (a full disk refused the lease file's write), so
    a ``resume`` before then is refused ``LEASE_HELD``: the line says until when, and ends
    with the run directory (in a batch, the only line of a run that ended well).
    """
    with contextlib.suppress(Exception):  # never hides what ended the run
        kept = session.inspect().lease_unreleased
        if kept:
            said = f"{redact_text(kept)}: {path_text(run_dir)}"
            print(f"livesession: {said}", file=sys.stderr)  # noqa: T201 - the CLI's output


def say_unclosed(session: LiveSessionOrchestrator, run_dir: Path) -> None:
    """One stderr line when a plug-in's ``close()`` raised as the ended session let go of it.

    The run had ended (sealed, or torn before that, as its own line says): the exit code
    stays the run's, and the line names the plug-in and its error, and ends with the run
    directory (in a batch, the only line of a run that ended well).
    """
    with contextlib.suppress(Exception):  # never hides what ended the run
        unclosed = session.inspect().plugin_close_failed
        if unclosed:
            print(  # noqa: T201 - the CLI's output
                f"livesession: as the session ended, {one_line(unclosed)}: the run's outcome "
                f"stands, its record whole; what that plug-in held may still be open: "
                f"{path_text(run_dir)}",
                file=sys.stderr,
            )
