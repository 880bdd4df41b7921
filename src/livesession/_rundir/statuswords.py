"""The words ``livesession status`` prints of what ``standing`` read: the book and the lease.

A run's position (``describe_positions``: never ``flat`` before the first checkpoint of a
run that goes on), its open orders (``describe_orders``), its trading state
(``describe_trading``) and its lease (``describe_lease``), each with what it is read from.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from .._domain.decimal import finite_decimal
from .._domain.lifecycle import SessionState
from .._support.text import command
from .standing import NO_CHECKPOINT

__all__ = [
    "DIFFERED_MID_WIND_DOWN",
    "FAULTED_MID_WIND_DOWN",
    "FAULTED_WOUND_DOWN",
    "NEVER_TRADED",
    "UNCONFIRMED_WIND_DOWN",
    "WOUND_DOWN_THEN_DIFFERED",
    "closing_says",
    "describe_lease",
    "describe_orders",
    "describe_positions",
    "describe_trading",
    "nonzero",
]


NEVER_TRADED: Final = "never traded (rejected at preflight)"
"""A REJECTED run's trading: its checkpoint keeps the ACTIVE it was built with, unused."""
UNCONFIRMED_WIND_DOWN: Final = (
    "after a wind-down the venue did not confirm (its cancels and flatten may be there)"
)
"""How a run sealed in ERROR_REQUIRES_OPERATOR by ``STOP_INCOMPLETE`` got there."""
WOUND_DOWN_THEN_DIFFERED: Final = (
    "after a wind-down (its orders cancelled, the book flat) that found the venue holding "
    "what the book does not"
)
"""How a run the reconciler escalated once its wind-down was done got to ERROR_REQUIRES_OPERATOR
(``faulted_in_wind_down``: ``WOUND_DOWN``): wound down, yet the venue differs from the book."""
FAULTED_MID_WIND_DOWN: Final = (
    "during a wind-down, before its orders were all cancelled and the book flat"
)
"""How a run that faulted while its wind-down was under way (an order still open, a
position held) got to ERROR_REQUIRES_OPERATOR (``faulted_in_wind_down``: ``MID_WIND_DOWN``)."""
FAULTED_WOUND_DOWN: Final = (
    "during a wind-down, once its orders were cancelled and the book flat, before it was done"
)
"""How a run that faulted in its wind-down once the book had no order open and was flat,
before the wind-down was done (the venue's final fills confirmed, the run sealed), got to
ERROR_REQUIRES_OPERATOR (``faulted_in_wind_down``: ``WOUND_DOWN``, any fault but a
reconciler's escalation, which says ``WOUND_DOWN_THEN_DIFFERED``)."""
DIFFERED_MID_WIND_DOWN: Final = (
    f"{FAULTED_MID_WIND_DOWN}, on finding the venue holding what the book does not"
)
"""How a run the reconciler escalated while its wind-down was under way (an order still
open, a position held) got to ERROR_REQUIRES_OPERATOR (``MID_WIND_DOWN``)."""


def closing_says(pid: int, command_name: str) -> str:
    """A sealed run the process ``pid`` still holds: what it still does, and what stays.

    A session seals its run, then closes: it hands its last alerts to the webhook (bounded
    by ``[alerts]`` ``timeout_ms`` and a second), closes its files, and lets the run go. A
    slow webhook keeps the lock that long, and ``status`` said ``running`` of a sealed run.
    """
    return (
        f"pid {pid} ({command_name}) sealed the run and has not let it go yet: as its session "
        "closes it hands the last alerts to the webhook (for at most [alerts] timeout_ms and "
        "a second), then lets the run go. The run's records will not change: it still writes "
        "only alerts.jsonl's deliveries, its session log and timings.json, and closes its "
        "idempotency store"
    )


def describe_lease(lease: dict[str, Any] | None) -> str:
    if lease is None:
        return "none (the run takes no lease)"
    holder = lease.get("holder") or "nobody"
    fence = lease.get("fence")
    held = lease.get("held")
    state = "" if held is None else (" (held)" if held else " (free or expired)")
    said = f"{holder}, fence {fence}{state}"
    if fence is None and not lease.get("holder"):  # its audit holds no grant, no loss
        said = "never granted to this run"
        if lease.get("unavailable"):  # C2_LEASE_ERROR: the store failed at preflight
            said += f": the lease store failed at preflight ({lease['unavailable']})"
    elif lease.get("released"):  # a sealed run's last grant: the seal gave it back
        said = f"released when the run sealed (its last grant: fence {fence})"
    lost = lease.get("lost")
    if lost:  # who holds it now, where the backend says (a lease file); then how it was lost
        said = f"{said}; {lost}" if lease.get("holder") else lost
    return f"{lease['backend']}: {said} [{lease['source']}]"


def describe_positions(positions: dict[str, str], as_of: str) -> str:
    """``BTC/USDT 0.010`` or ``flat``, and what that is read from.

    Never ``flat`` before the first checkpoint of a run that goes on: ``no checkpoint yet``.
    """
    # Flat is flat however its zero is written (``0.000``): as the dryrun summary says it.
    held = ", ".join(f"{k} {v}" for k, v in sorted(positions.items()) if nonzero(v))
    if not held and as_of.startswith(NO_CHECKPOINT):
        return as_of
    held = held or "flat"
    return f"{held}; {as_of}" if as_of else held


def _terms(order: dict[str, Any]) -> str:
    """`` (STOP 116.78, protective leg, 5.000 filled, cancel asked)``: what a checkpoint says.

    An operator deciding on a crashed run with an exit pair open reads which leg is which,
    what of it filled and whether its cancel was on its way; a snapshot's order (its id
    alone) says nothing more.
    """
    words = []
    kind, price = order.get("order_type"), order.get("limit_price")
    if kind:
        words.append(f"{kind} {price}" if price is not None else str(kind))
    if order.get("oco_group"):
        words.append(f"protective leg of {order.get('oco_group')}")
    elif order.get("reduce_only"):
        words.append("reduce-only")
    filled = order.get("filled")
    if filled is not None and finite_decimal(filled, allow_int=True):
        words.append(f"{filled} filled")
    if order.get("cancel_requested"):
        words.append("cancel asked")
    if order.get("in_doubt"):
        words.append("its send in doubt")
    return f" ({', '.join(words)})" if words else ""


def describe_orders(
    orders: list[dict[str, Any]], as_of: str, after: list[dict[str, Any]] | None = None
) -> str:
    """``1: c-1 BUY 0.010 BTC/USDT``, or ``none``; and what that is read from, if anything.

    Before the first checkpoint of a run that goes on they are unknown (``as_of`` says so).
    ``after``: a crashed run's orders open when it died, as its events after the checkpoint
    show them (``as_of`` ends ``events after it show 2 open``), listed after it.
    """
    listed = f": {_listed(after)}" if after else ""
    if as_of and not as_of.startswith("as of"):
        return f"{as_of}{listed}"
    said = f"; {as_of}{listed}" if as_of else ""
    if not orders:
        return f"none{said}"
    return f"{len(orders)}: {_listed(orders)}{said}"


def _listed(orders: list[dict[str, Any]]) -> str:
    """``c-1 BUY 0.010 BTC/USDT (LIMIT 99.5); ...``: the first five, and how many more."""
    shown = "; ".join(
        f"{o.get('client_order_id')} {o.get('side')} {o.get('quantity')} {o.get('symbol')}"
        f"{_terms(o)}"
        for o in orders[:5]
    )
    more = f"; and {len(orders) - 5} more" if len(orders) > 5 else ""  # noqa: PLR2004
    return f"{shown}{more}"


def describe_trading(
    trading: str,
    *,
    run_dir: str,
    live: bool,
    state: str | None = None,
    killed: bool = False,
    halted_by: str = "",
    as_of: str = "",
    sealed: bool = False,
    as_user: str = "",
    program: str = "",
    from_python: str = "",
) -> str:
    """``live``: a run that goes on (held now, or crashed: a resumed run stays halted).

    ``run_dir`` is named in the command that re-enables a live halted run's trading, and
    ``as_user`` whom it must run as (the writer is another user's process). ``program``
    names the writer when it is an application embedding livesession (``uvicorn dryrun``),
    which ``livesession ack`` refuses: its session's ``reenable_trading()`` is said instead.
    ``from_python`` is the call that continues a crashed run started with objects
    (``resume_call``), which ``livesession resume`` cannot rebuild, so no ``ack`` reaches it:
    that call, then its session's ``reenable_trading()``, is said instead.

    A run preflight refused (``state`` ``PREFLIGHT_FAILED``) never traded: ``NEVER_TRADED``.
    ``killed``: the kill switch halted it (``trading_of``), which the words name, as they
    name ``halted_by``, what halted it (a broker halt, the throttle, the kill switch and its
    kill's reason: ``the kill switch (DAILY_LOSS)``); ``as_of``
    (what a live run's state is read from) follows them. A ``sealed`` run trades no more,
    whatever state its trading was left in: said so, not ``ACTIVE`` (``FAILED`` sealed it,
    ``STOP_INCOMPLETE`` say, when a wind-down ran out of polls).
    """
    said = trading
    by = f" by {halted_by}" if halted_by else (" by the kill switch" if killed else "")
    if state == SessionState.PREFLIGHT_FAILED.value:
        return NEVER_TRADED
    if trading == "HALTED" and live and from_python:
        said = (
            f"HALTED{by}: new orders refused (a resume keeps the halt: continue it with "
            f"{from_python} from Python, as it was started with objects the command line "
            "cannot rebuild, then the session's reenable_trading() re-enables trading)"
        )
    elif trading == "HALTED" and live and program:
        said = (
            f"HALTED{by}: new orders refused (`livesession ack` signals only `livesession "
            f"dryrun` and `resume`: in {program}, which holds the run, the session's "
            "reenable_trading() re-enables trading)"
        )
    elif trading == "HALTED" and live:
        ack = command("ack", run_dir)
        as_who = f", run as {as_user}," if as_user else ""
        said = f"HALTED{by}: new orders refused (`{ack}`{as_who} re-enables trading)"
    elif trading == "HALTED":
        said = f"HALTED at the end{by}: new orders were refused from the halt on"
    elif sealed:
        said = f"ended: the run is sealed ({trading} until its end)"
    return f"{said}; {as_of}" if as_of else said


def nonzero(quantity: str) -> bool:
    """Whether a recorded quantity is not zero (one that is not a number: said as it is)."""
    try:
        return Decimal(quantity) != 0
    except ArithmeticError:  # not a number: say it as it is
        return True
