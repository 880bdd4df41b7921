"""A stop left STOPPING before its wind-down, as a crash in the wind-down leaves one.

A run stopped (a signal, ``request_stop``) is checkpointed STOPPING before its wind-down
sends anything; when the process dies in the wind-down, ``resume_run`` gives the session
back STOPPING, and its operator may act on it (a kill) before ``close`` winds it down. The
evidence re-run repeats that run by stopping here, taking the operator's verb, and then
closing: a stop that wound down at once would leave the verb nothing to act on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import verbs

if TYPE_CHECKING:
    from .coordinator import LiveSessionOrchestrator
    from .threads import VerbResult

__all__ = ["stop_before_wind_down"]


def stop_before_wind_down(
    session: LiveSessionOrchestrator, reason: str, *, sealed_as: bool = False
) -> VerbResult:
    """``session.request_stop(reason)`` up to its checkpoint: STOPPING, nothing sent yet.

    ``close`` (or ``acknowledge``, after a fault) winds it down, as it does a session
    resumed STOPPING.
    """
    return verbs.under_lock(
        session._gate,  # noqa: SLF001 - the session's own verb, held before its wind-down
        session._parts,  # noqa: SLF001
        verbs.request_stop,
        reason,
        sealed_as=sealed_as,
        wind_down=False,
    )
