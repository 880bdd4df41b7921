"""What an operator verb answers: its ``VerbResult`` and ``VerbOutcome``.

Kept apart from the session lock (``threads``), which says when a verb runs.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import attrs

from .._support.fielddocs import fields_in_doc

if TYPE_CHECKING:
    from .._domain.lifecycle import SessionState

__all__ = ["VerbOutcome", "VerbResult"]


class VerbOutcome(enum.Enum):
    """What an operator verb did."""

    APPLIED = "APPLIED"
    """It took effect now."""
    ALREADY = "ALREADY"
    """What it asks for is already so (a second stop, a second kill): nothing changed."""
    NOT_APPLICABLE = "NOT_APPLICABLE"
    """It makes no sense in the session's state (a kill after the stop): nothing changed."""
    DEFERRED = "DEFERRED"
    """Called from inside the calling thread's own work with the session (a signal handler
    that ran in the middle of a step, or of a read, or as the thread waited its turn for
    the session lock): it takes effect when that work ends (a step's: at the step boundary)."""


@fields_in_doc
@attrs.frozen(kw_only=True)
class VerbResult:
    """The return value of an operator verb: it never raises for the session's state.

    ``bool(result)`` is whether it was applied; ``message`` says in one line what happened
    or why nothing did; ``state`` is the lifecycle state once the verb returned.
    """

    verb: str
    """The verb called (``kill``, ``request_stop``, ``acknowledge``, ...)."""
    outcome: VerbOutcome
    """``APPLIED``, ``ALREADY`` (it was so already) or ``NOT_APPLICABLE`` (not in this state)."""
    state: SessionState
    """The lifecycle state once the verb returned."""
    message: str
    """What happened, or why nothing did, in one line."""

    @property
    def applied(self) -> bool:
        """Whether the verb took effect."""
        return self.outcome is VerbOutcome.APPLIED

    def __bool__(self) -> bool:
        return self.applied
