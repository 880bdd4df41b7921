"""Each snapshot holds the book of its moment: time, step, positions and equity.

ARTIFACTS.md gives a snapshot's ``positions`` and ``equity`` as "the session's book at that
moment". A transition's snapshot is written with its ``STATE_CHANGED`` event, the final one
with ``SESSION_STOPPED``: its ``ts_sim``, ``ts_utc`` and ``step`` (the ``BAR`` events
before it) are that event's, its positions what the fills before it add up to, its equity
their cash plus each position at its last price (``Replay.moment``). Without this, a run
re-sealed with a snapshot's time, step, positions or equity made up verified OK.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._domain.lifecycle import SessionState
from ._reading import EVENTS, SNAPSHOTS

if TYPE_CHECKING:
    from ._replay import Moment, Replay
    from ._result import Violations
    from ._stamps import Stamps

__all__ = ["check_final_moment", "check_first_snapshot", "check_moments"]


def check_first_snapshot(
    checks: Violations, snap: dict[str, Any], replay: Replay | None, stamps: Stamps | None
) -> None:
    """The first snapshot: INIT, by ``start``, with the config's ``initial_cash`` as equity.

    Its ``ts_utc`` is the clock's at its ``ts_sim`` (``stamps``), as an event's is.
    """
    if stamps is not None:
        stamps.check(checks, SNAPSHOTS, 1, snap)
    initial = SessionState.INIT.value
    found = (snap["trigger"], snap["from_state"], snap["fsm_state"], snap["status"])
    if found != ("start", initial, initial, initial):
        checks.add(SNAPSHOTS, 1, "the first snapshot is not INIT/INIT/start/INIT")
    cash = None if replay is None else replay.money.initial_cash
    if cash is not None and Decimal(snap["equity"]) != cash:
        checks.add(
            SNAPSHOTS, 1, f"equity {snap['equity']} but the initial_cash of config.json is {cash}"
        )


def check_final_moment(checks: Violations, line: Any, end: Moment | None) -> None:
    """The final snapshot holds ``SESSION_STOPPED``'s time and the equity then.

    Its positions and step have the final book's own checks (``Verifier``).
    """
    snap = line.obj
    if end is None or snap is None or snap["trigger"] != "final":
        return
    check_moments(checks, [line], [end], book=False)
    if end.equity is not None and Decimal(snap["equity"]) != end.equity:
        checks.add(
            SNAPSHOTS,
            line.number,
            f"final equity {snap['equity']} but the fills and the last prices add up to "
            f"{end.equity}",
        )


def check_moments(
    checks: Violations, snaps: list[Any], moments: list[Moment], *, book: bool = True
) -> None:
    """Hold each snapshot line of ``snaps`` to the moment beside it (the shorter list rules).

    ``book=False`` holds the times only: the final snapshot's book has checks of its own.
    """
    for line, moment in zip(snaps, moments, strict=False):
        snap = line.obj
        if snap is None:
            continue
        for key, expected in (("ts_sim", moment.ts_sim), ("ts_utc", moment.ts_utc)):
            if snap[key] != expected:
                checks.add(
                    SNAPSHOTS,
                    line.number,
                    f"{key} {snap[key]} but {EVENTS}:{moment.number} has {expected}",
                )
        if book:
            _check_book(checks, line.number, snap, moment)


def _check_book(checks: Violations, number: int, snap: dict[str, Any], moment: Moment) -> None:
    event = f"{EVENTS}:{moment.number}"
    if snap["step"] != moment.steps:
        checks.add(
            SNAPSHOTS, number, f"step {snap['step']} but {moment.steps} BAR events before {event}"
        )
    held = {symbol: Decimal(qty) for symbol, qty in snap["positions"].items() if Decimal(qty)}
    if held != moment.positions:
        shown = {symbol: str(qty) for symbol, qty in moment.positions.items()}
        checks.add(
            SNAPSHOTS,
            number,
            f"positions {snap['positions']} but the fills before {event} add up to {shown}",
        )
    if moment.equity is not None and Decimal(snap["equity"]) != moment.equity:
        checks.add(
            SNAPSHOTS,
            number,
            f"equity {snap['equity']} but the fills and the last prices before {event} add "
            f"up to {moment.equity}",
        )
