"""Crash points for the crash-test harness, in a module with no dependencies.

``LIVESESSION_CRASH_AT="label:n"`` kills the process with SIGKILL the n-th time
``crashpoint(label)`` is reached (n defaults to 1). The variable is read once, at import;
when it is unset every crash point is a no-op. The module imports nothing from the
package but ``numbertext`` (which imports nothing), so low-level modules (``_fsutil``) can
carry crash points without a cycle.

Labels in use (``LABELS``; any other is refused, as a junk count is): ``before_send``,
``after_send``, ``after_flatten`` (the wind-down to STOPPED sent its flatten orders),
``after_cancel`` (a strategy's cancel reached the venue), ``checkpoint``,
``checkpoint_tmp`` (inside ``atomic_write_bytes``, after the temporary file is durable
and before it is renamed), ``write_<sink>`` (before a line is written) and
``torn_<sink>`` (half a line is written and flushed, then the process dies), for the sinks
``events``, ``states`` and ``audit``; ``uncut_write`` and ``uncut_torn`` (a refused resume
putting a cut tail back: written back to its file, then cut from its ``.torn``).

``LIVESESSION_PAUSE_AT="label:n"`` instead stops the process with SIGSTOP there (once, at
the n-th hit): a holder frozen at an exact point, for the fencing tests to SIGCONT later.

A count that is no whole number from 1 (``before_send:x``, ``before_send:0``), or no
label, is ``ARMING_PROBLEM``, which the CLI and a session's start refuse in one line: it
used to raise ``ValueError`` from ``int()`` in the middle of a run, at the crash point.
"""

from __future__ import annotations

import os
import signal
from typing import Final

from .numbertext import integer_form_problem

__all__ = [
    "ARMING_PROBLEM",
    "CRASH_COUNT",
    "CRASH_LABEL",
    "LABELS",
    "PAUSE_LABEL",
    "crash_hits",
    "crashpoint",
]

_DIGITS: Final = 18
"""The most digits a count may have (more is no count: ``int`` would refuse 4301)."""


_SINKS: Final = ("events", "states", "audit")
LABELS: Final = frozenset(
    {"before_send", "after_send", "after_flatten", "after_cancel", "checkpoint", "checkpoint_tmp"}
    | {"uncut_write", "uncut_torn"}
    | {f"{kind}_{sink}" for kind in ("write", "torn") for sink in _SINKS}
)
"""Every label a crash point carries: one not here would never be reached."""


def _armed(variable: str) -> tuple[str, int, str | None]:
    """The label and count ``variable`` arms (``label:n``), and why it arms none, or None."""
    spec = os.environ.get(variable, "")
    label, _, text = spec.partition(":")
    if not spec:
        return "", 1, None
    counted = len(text) <= _DIGITS and integer_form_problem(text) is None and int(text) >= 1
    if label and label not in LABELS and (not text or counted):
        known = ", ".join(sorted(LABELS))
        why = f"{variable}={spec!r} names no crash point (a typo would never act): one of {known}"
        return "", 1, why
    if label and (not text or counted):
        return label, int(text or "1"), None
    why = f"{variable}={spec!r} is not LABEL or LABEL:N (N: the hit it acts at, from 1)"
    return "", 1, why


CRASH_LABEL, CRASH_COUNT, _CRASH_PROBLEM = _armed("LIVESESSION_CRASH_AT")
"""The armed label (``""``: none armed) and the hit count at which it kills."""
PAUSE_LABEL, _PAUSE_COUNT, _PAUSE_PROBLEM = _armed("LIVESESSION_PAUSE_AT")
"""The label armed to pause (SIGSTOP) at (``""``: none), and at which hit."""
ARMING_PROBLEM: Final = _CRASH_PROBLEM or _PAUSE_PROBLEM
"""Why a crash or pause variable is refused, or None: the start of a run says it."""
crash_hits: dict[str, int] = {}
"""How often each armed label has been reached in this process."""


def crashpoint(label: str) -> None:
    """Die here (SIGKILL) when the crash harness armed ``label``; otherwise nothing.

    Or stop here (SIGSTOP, once) when ``LIVESESSION_PAUSE_AT`` armed it.
    """
    if PAUSE_LABEL and label == PAUSE_LABEL:
        key = f"pause:{label}"
        crash_hits[key] = crash_hits.get(key, 0) + 1
        if crash_hits[key] == _PAUSE_COUNT:
            os.kill(os.getpid(), signal.SIGSTOP)
    if not CRASH_LABEL or label != CRASH_LABEL:
        return
    crash_hits[label] = crash_hits.get(label, 0) + 1
    if crash_hits[label] >= CRASH_COUNT:
        os.kill(os.getpid(), signal.SIGKILL)
