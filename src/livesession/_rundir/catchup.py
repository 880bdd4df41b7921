"""A resumed run's simulated venue brought to its checkpoint, after its journal's replay.

The reports the session already has are forgotten (``resume_at``), what the crashed process
sent after the checkpoint is set aside, and the venue marked with the session's last
prices (``mark``): its journal holds prices only from when requests arrived.
"""

from __future__ import annotations

import contextlib
import traceback
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._exceptions import PluginError
from .._session.broker_guard import GuardedBroker
from .._support.pluginwords import raised
from .._support.signals import STOPS_RAISED
from .._typing import MarkableVenue, RelayedVenue, ResumableVenue
from ..brokers._journal import replay_the_rest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._typing import Broker

__all__ = ["told_at_resume", "venue_catch_up"]


def venue_catch_up(broker: Broker, checkpoint: dict[str, Any], run_id: str) -> None:
    """Bring a replayed simulated venue to the checkpoint: delivered reports, mark prices.

    A caller's venue (a desk's ``MockBroker`` subclass, behind its guard) runs its own code
    here. What it raises refuses the resume with ``PluginError``, one line naming the step
    and the user's line, where it was a traceback; the resume puts back what it cut
    (``uncut``), the run as it was.
    """
    step = "resume_at"
    try:
        if isinstance(broker, RelayedVenue):
            # The venue's own journal too: what the crashed session sent after the checkpoint
            # is set aside, and what the resumed one does not send again never happened.
            broker.resume_at(
                checkpoint["ts_sim"],
                checkpoint.get("broker_journal_offset"),
                checkpoint.get("venue_journal_offset"),
            )
        elif isinstance(broker, ResumableVenue):
            broker.resume_at(checkpoint["ts_sim"], checkpoint.get("broker_journal_offset"))
        # A venue whose replay waited for a resume_at that never came (a caller's factory
        # wrapped it in a broker that is neither of those) replays as it was built, not empty.
        step = "journal replay"
        replay_the_rest()
        # The venue journal holds prices only from when requests arrived; the session's last
        # bar price is newer (a stop right after the checkpoint must not fill at an old price).
        if isinstance(broker, MarkableVenue):
            step = "mark"
            for symbol, price in sorted(checkpoint["book"]["last_price"].items()):
                broker.mark(symbol, Decimal(price))
    except STOPS_RAISED:
        raise
    except BaseException as exc:  # the caller's code: any error refuses
        if not isinstance(broker, GuardedBroker):
            raise  # livesession's own venue: a bug of ours, whose traceback is what to read
        raise _refused(run_id, step, exc, "bringing the venue to the run's checkpoint") from None


@contextlib.contextmanager
def told_at_resume(broker: Broker, run_id: str, call: str) -> Iterator[None]:
    """A resumed session's broker told what the run held: what a desk's broker raises there.

    A caller's broker is told the start its positions count from (``count_positions_from``,
    as the session is restored) and the orders the book holds (``recover``): its own code.
    What that raises refuses the resume with ``PluginError``, one line naming ``call`` and
    the desk's line, where it was a traceback (exit 1). An error raised by livesession's
    code alone passes, with its traceback.
    """
    try:
        yield
    except STOPS_RAISED:
        raise
    except BaseException as exc:
        if not isinstance(broker, GuardedBroker) or not _raised_in(exc, call):
            raise
        raise _refused(
            run_id, call, exc, "telling it what the run held at its checkpoint"
        ) from None


def _refused(run_id: str, call: str, exc: BaseException, doing: str) -> PluginError:
    """The one line that refuses the resume: the broker's ``call`` raised ``exc`` ``doing``."""
    return PluginError(
        f"cannot resume run {run_id}: the broker's {call} {raised(exc)}, {doing}: resume it "
        f"again once the broker's {call} works"
    )


_OURS: Final = str(Path(__file__).resolve().parents[1])
"""livesession's own source tree."""


def _raised_in(exc: BaseException, call: str) -> bool:
    """Whether ``exc`` came through a function ``call`` of code not livesession's own."""
    return any(
        frame.name == call and not frame.filename.startswith(_OURS)
        for frame in traceback.extract_tb(exc.__traceback__)
    )
