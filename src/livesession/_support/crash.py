"""Crash points for the crash-test harness, in a module with no dependencies.

``LIVESESSION_CRASH_AT="label:n"`` kills the process with SIGKILL the n-th time
``crashpoint(label)`` is reached (n defaults to 1). The variable is read once, at import;
when it is unset every crash point is a no-op. The module imports nothing from the
package, so low-level modules (``_fsutil``) can carry crash points without a cycle.

Labels in use: ``before_send``, ``after_send``, ``after_flatten`` (the wind-down to STOPPED
sent its flatten orders), ``checkpoint``, ``checkpoint_tmp`` (inside
``atomic_write_bytes``, after the temporary file is durable and before it is renamed),
``write_<sink>`` (before a line is written) and ``torn_<sink>`` (half a line is written
and flushed, then the process dies), for the sinks ``events``, ``states`` and ``audit``.

``LIVESESSION_PAUSE_AT="label:n"`` instead stops the process with SIGSTOP there (once, at
the n-th hit): a holder frozen at an exact point, for the fencing tests to SIGCONT later.
"""

from __future__ import annotations

import os
import signal
from typing import Final

__all__ = ["CRASH_COUNT", "CRASH_LABEL", "PAUSE_LABEL", "crash_hits", "crashpoint"]

_SPEC: Final = os.environ.get("LIVESESSION_CRASH_AT", "")
CRASH_LABEL: Final = _SPEC.partition(":")[0]
"""The armed label, or ``""`` when no crash point is armed."""
CRASH_COUNT: Final = _SPEC.partition(":")[2]
"""The hit count (as text, ``""`` meaning 1) at which the armed label kills."""
_PAUSE: Final = os.environ.get("LIVESESSION_PAUSE_AT", "")
PAUSE_LABEL: Final = _PAUSE.partition(":")[0]
"""The label armed to pause (SIGSTOP) at, or ``""``."""
crash_hits: dict[str, int] = {}
"""How often each armed label has been reached in this process."""


def crashpoint(label: str) -> None:
    """Die here (SIGKILL) when the crash harness armed ``label``; otherwise nothing.

    Or stop here (SIGSTOP, once) when ``LIVESESSION_PAUSE_AT`` armed it.
    """
    if PAUSE_LABEL and label == PAUSE_LABEL:
        key = f"pause:{label}"
        crash_hits[key] = crash_hits.get(key, 0) + 1
        if crash_hits[key] == int(_PAUSE.partition(":")[2] or "1"):
            os.kill(os.getpid(), signal.SIGSTOP)
    if not CRASH_LABEL or label != CRASH_LABEL:
        return
    crash_hits[label] = crash_hits.get(label, 0) + 1
    if crash_hits[label] >= int(CRASH_COUNT or "1"):
        os.kill(os.getpid(), signal.SIGKILL)
