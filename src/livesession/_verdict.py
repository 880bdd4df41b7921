"""``Verdict``: what a supervisor should make of a run (``livesession status``'s exit code).

``status`` re-exports it; it lives here so that its modules can name it without ``status``.
"""

from __future__ import annotations

import enum

__all__ = ["Verdict"]


class Verdict(enum.Enum):
    """What a supervisor should make of a run; ``value`` is ``livesession status``'s exit code."""

    COMPLETED = 0
    NOT_A_RUN = 2
    REJECTED = 3
    FAILED = 4
    NEEDS_OPERATOR = 5
    CRASHED = 6
    RUNNING = 7

    @property
    def label(self) -> str:
        """``needs_operator``: the verdict as ``--json`` and the text output name it."""
        return self.name.lower()
