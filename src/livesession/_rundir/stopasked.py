"""The stop a sealed run was asked for, by its reason, when its seal records none.

A session stopped by its caller (``request_stop("desk closing early")``, the default
``operator``) is sealed ``COMPLETED`` with no reason of its own: the seal records a reason
for a fault, a refusal or a signal the CLI stops on, and the reason the caller gave is in
the events' ``STATE_CHANGED`` to ``STOPPING``, which ``evidence`` and ``report`` show.
``status`` said nothing of why such a run stopped. Read back from the events' end, where
the stop's few records are, no further than ``_BUDGET`` bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._artifacts import names
from .._artifacts.runread import events_back, payload
from .._domain.lifecycle import SESSION_CLOSED

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["stop_asked"]

_BUDGET: Final = 1 << 20
"""How far back the events are read for the stop (a wind-down writes a few records after it)."""


def stop_asked(run_dir: Path) -> str:
    """The reason a caller gave the run's stop (``desk closing early``), or "".

    "" when no stop is found within ``_BUDGET`` bytes of the end, or when the stop was the
    session's own close as it ended (``session closed``: the steps done, ``close()``).

    Raises:
        OSError: the host refused to read the events (``raise_if_refused``).
    """
    for event in events_back(run_dir / names.EVENTS, ("STATE_CHANGED",), budget=_BUDGET):
        body = {} if event is None else payload(event)
        if body.get("to_state") == "STOPPING":
            reason = body.get("reason")
            return reason if isinstance(reason, str) and reason != SESSION_CLOSED else ""
    return ""
