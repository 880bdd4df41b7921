"""What ``livesession status`` reads of a run beside its state, and without the lock.

Whether a directory is a run at all (``not_a_run``), its heartbeat (when ``checkpoint.json``
was last written), the plug-ins it was started with as objects (``objects_given``), and its
book: position and open orders (``book``), and for a run that goes on, what they are read
from (``run_book``); the words ``status`` prints of them are ``statuswords``'. Read only,
never written.

The product's promise: never report flat while a position is open. A checkpoint comes
every ``checkpoint_every`` steps (100 by default), and a fill in between moves the
position, so a live run's position is read from its newest ``POSITION_CHANGED`` since the
checkpoint; a crashed run's is the checkpoint's (what ``resume`` restores), said so, with
what the events after it show when that differs. Open orders are the checkpoint's, said
so (unknown before the first); a crashed run's with the ones its events after the
checkpoint show open when it died where they differ (``ordersafter``), read in the same
pass.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, Literal

import attrs

from .._artifacts import names
from .._artifacts.runfiles import not_there
from .._artifacts.runfind import archive_said, named_otherwise, runs_inside
from .._artifacts.runread import RUN_MARKERS, events_back
from .._domain import clock as _clock
from .._domain.lifecycle import SessionState
from .._domain.reasons import BROKER_REPORT_INVALID, LEASE_LOST, RECONCILE_MISMATCH, STOP_INCOMPLETE
from .._reconcile.reconciler import position_doubts, unconfirmed_doubt
from .livecut import live_trading, positions_since
from .ordersafter import OrdersAfter, order_of
from .supplied import objects_given

__all__ = [
    "NO_CHECKPOINT",
    "GoingOn",
    "RunBook",
    "book",
    "heartbeat",
    "keeps_checkpoints",
    "not_a_run",
    "objects_given",
    "run_book",
    "trading_of",
    "unbooked_fill",
]

GoingOn = Literal["live", "crashed"] | None
"""A run that goes on: ``live`` (a writer holds it) or ``crashed`` (unsealed, none does)."""
NO_CHECKPOINT: Final = "no checkpoint yet"
"""What a run that goes on before its first checkpoint holds, as far as a checkpoint says."""

_NS_PER_S: Final = 1_000_000_000
_SAME_INSTANT_S: Final = 1.0
"""How far ahead of ``now`` a checkpoint may be written and still read as just written."""


def not_a_run(run_dir: Path) -> str:
    """What is missing for ``run_dir`` to be a run ("" when it is one)."""
    if not run_dir.exists():
        return f"{run_dir}{not_there(run_dir)}"
    if not run_dir.is_dir():
        return f"{run_dir} is not a directory{archive_said(run_dir)}"
    if (run_dir / names.RUN_META).is_file():
        return ""
    missing = [name for name in RUN_MARKERS if not (run_dir / name).is_file()]
    if missing:
        return (
            f"{run_dir} is not a run: no {names.RUN_META}, and {' and '.join(missing)} missing"
            f"{named_otherwise(run_dir, [names.RUN_META, *missing])}{runs_inside(run_dir)}"
        )
    return ""


def heartbeat(run_dir: Path, now: dt.datetime) -> tuple[str | None, float | None]:
    """When ``checkpoint.json`` was last written (RFC 3339 UTC), and how long before ``now``.

    A live session rewrites it every ``checkpoint_every`` steps: its mtime is the beat. A
    copy that keeps no times (``cp -r``) shows the copy's: no verdict rests on it (``running``
    is a held writer lock, which no copy carries), and no record of the run holds a better one.
    (None, None): there is none yet. The age is negative when the file's time is ahead of
    ``now`` (a clock stepped back, a copy from a host whose clock was ahead), never clamped to
    0.0: a monitor would read that as a fresh heartbeat however long the writer had hung.
    """
    try:
        mtime_ns = (run_dir / names.CHECKPOINT).stat().st_mtime_ns
    except OSError:
        return None, None
    written = dt.datetime.fromtimestamp(mtime_ns / _NS_PER_S, tz=dt.UTC).replace(microsecond=0)
    age = (_clock.epoch_ns(now) - mtime_ns) / _NS_PER_S
    # A write in the instant ``now`` was read is no skew; more than that ahead stays negative:
    # this machine's clock is behind the file's, and how stale the writer is cannot be told.
    return _clock.format_utc(written), round(0.0 if -_SAME_INSTANT_S < age < 0 else age, 1)


def keeps_checkpoints(run_dir: Path, checkpoint: dict[str, Any]) -> bool:
    """Whether the run keeps checkpoints: it has one, or a ``config.json``, loadable or not.

    An unsealed one nobody holds is said as a crash (its checkpoint's book, and what its
    events after it show), resumable or not: one whose config no longer loads was shown a
    sealed run's book, ``flat``, while its events after the checkpoint held a position.
    Only the runbook's four files keep none: their last snapshot is their book.
    """
    return bool(checkpoint) or (run_dir / names.CONFIG).exists()


def book(
    checkpoint: dict[str, Any], snapshot: dict[str, Any] | None
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Positions and open orders: the checkpoint's, else (a run that keeps none) the snapshot's."""
    held = checkpoint.get("book")
    if isinstance(held, dict):
        positions = {str(k): str(v) for k, v in dict(held.get("positions") or {}).items()}
        orders = []
        for item in held.get("open") or []:
            order = item.get("order", {}) if isinstance(item, dict) else {}
            orders.append(
                order_of(
                    order,
                    filled=item.get("filled"),
                    in_doubt=bool(item.get("in_doubt")),
                    cancel_requested=bool(item.get("cancel_requested")),
                )
            )
        return positions, orders
    if snapshot is not None:
        positions = {str(k): str(v) for k, v in dict(snapshot.get("positions") or {}).items()}
        return positions, [{"client_order_id": c} for c in snapshot.get("open_orders") or []]
    return {}, []


@attrs.frozen(kw_only=True)
class RunBook:
    """Positions and open orders, and what they are read from (``status``'s ``--json``)."""

    positions: dict[str, str]
    open_orders: list[dict[str, Any]]
    positions_as_of: str = ""
    """"": a sealed run's end. Else ``as of POSITION_CHANGED at run time ...`` (a live run),
    ``as of the last checkpoint (step 100), what resume restores`` (a crashed run), ..."""
    positions_after_checkpoint: dict[str, str] = attrs.field(factory=dict)
    """A crashed run: the positions its events after the checkpoint show, where they differ
    from the checkpoint's (what the process held when it died; a resume goes back)."""
    open_orders_as_of: str = ""
    """"": a sealed run's end; ``as of the last checkpoint (step 100)``, or ``unknown: no
    checkpoint yet``; a crashed run's adds ``; events after it show 2 open``."""
    open_orders_after_checkpoint: list[dict[str, Any]] | None = None
    """A crashed run whose events after the checkpoint show other orders open than it holds:
    those open when it died (sent and not seen closed: they may rest at the venue)."""


def run_book(
    run_dir: Path,
    checkpoint: dict[str, Any],
    snapshot: dict[str, Any] | None,
    *,
    going_on: GoingOn,
    resumable: bool = True,
) -> RunBook:
    """The book ``status`` shows, and for a run that goes on, what it is read from.

    ``going_on``: ``live`` (a writer holds it), ``crashed`` (unsealed, and none does), or
    None (a sealed run: the checkpoint's book or, keeping none, the snapshot's). A crashed
    run ``resumable`` by nobody (another release's, a changed config) is not said to be
    what resume restores.
    """
    positions, orders = book(checkpoint, snapshot)
    if going_on is None:
        return RunBook(positions=positions, open_orders=orders)
    kept = isinstance(checkpoint.get("book"), dict)
    if not kept:
        positions, orders = {}, []  # a snapshot is no checkpoint: nothing would be restored
    at = f"the last checkpoint (step {checkpoint.get('steps')})" if kept else ""
    sent = OrdersAfter() if going_on == "crashed" else None
    found, read_all = positions_since(run_dir, checkpoint if kept else {}, sent)
    orders_as_of = f"as of {at}" if kept else f"unknown: {NO_CHECKPOINT}"
    if going_on == "live":
        now = positions | {symbol: held for symbol, (held, *_) in found.items()}
        return RunBook(
            positions=now,
            open_orders=orders,
            positions_as_of=_live_as_of(found, at, read_all=read_all),
            open_orders_as_of=orders_as_of,
        )
    differ = {
        symbol: held
        for symbol, (held, *_) in found.items()
        if not _same(held, positions.get(symbol, "0"))
    }
    restores = ", what resume restores" if resumable else ""
    as_of = f"as of {at}{restores}" if kept else NO_CHECKPOINT
    since = "events after it show" if kept else "its events show"
    if differ:
        as_of += f"; {since} " + ", ".join(f"{s} {q}" for s, q in sorted(differ.items()))
    elif not read_all:
        as_of += "; the events after it were not read"
    after = sent.open_at_end(orders) if sent is not None and read_all else None
    if after == orders:
        after = None  # as the checkpoint holds them: nothing more to say
    if after is not None:  # what the process had open at the venue when it died
        orders_as_of = f"{orders_as_of}; {since} {len(after) or 'none'} open"
    elif kept and not read_all:
        orders_as_of += "; the events after it were not read"
    return RunBook(
        positions=positions,
        open_orders=orders,
        positions_as_of=as_of,
        positions_after_checkpoint=differ,
        open_orders_as_of=orders_as_of,
        open_orders_after_checkpoint=after,
    )


def unbooked_fill(run_dir: Path, checkpoint: dict[str, Any]) -> str:
    """What the venue filled that the book did not take, of a faulted run; "" for any other.

    After ``BROKER_REPORT_INVALID``, the fill the book refused; after ``RECONCILE_MISMATCH``,
    the venue's fills the book never saw (``FILL_NOT_SEEN``) or the venue's other position
    (``POSITION_MISMATCH``), as ``position_doubts`` says them; after ``STOP_INCOMPLETE``,
    the fault's ``in_doubt`` (fills the venue made that had not reported when the
    wind-down ran out of polls) and its ``unconfirmed`` (orders it cancelled whose final
    fills the venue never confirmed), unless an acknowledgement's wind-down settled them: the run
    stopped after it with no difference left pending (the book took the fills). The venue
    may hold another position than the book's: status never says flat then.
    """
    reason = checkpoint.get("reason")
    if reason == RECONCILE_MISMATCH:
        return _position_doubts(run_dir)
    if reason not in (BROKER_REPORT_INVALID, STOP_INCOMPLETE) or (
        reason == STOP_INCOMPLETE and _settled(checkpoint)
    ):
        return ""
    for event in events_back(run_dir / names.EVENTS, ("STATE_CHANGED",)):
        payload = (event or {}).get("payload", {})
        detail = payload.get("detail")
        if reason == STOP_INCOMPLETE:
            if payload.get("reason") != STOP_INCOMPLETE or not isinstance(detail, dict):
                continue  # not the fault's own record (an acknowledgement's, after it)
            doubt, unconfirmed = detail.get("in_doubt"), detail.get("unconfirmed")
            said = (doubt, unconfirmed_doubt(unconfirmed if isinstance(unconfirmed, str) else ""))
            return "; ".join(text for text in said if isinstance(text, str) and text)
        if isinstance(detail, dict) and "trade_id" in detail:
            return (
                f"the venue's fill {detail['trade_id']!r} of {detail.get('client_order_id')}: "
                f"{detail.get('problem')}"
            )
    if reason == STOP_INCOMPLETE:  # the fault's record not read (too far back): where it is
        return f"fills the venue may have made ({STOP_INCOMPLETE}: STATE_CHANGED in {names.EVENTS})"
    return (
        f"a fill the venue reported ({BROKER_REPORT_INVALID}: C2_OPERATOR_REQUIRED in "
        f"{names.AUDIT})"
    )


def _settled(checkpoint: dict[str, Any]) -> bool:
    """Stopped with no difference of book and venue left pending or escalated.

    ``STOPPED``: a wind-down reaches it only with no order open, flat, every fill confirmed.
    """
    recon = checkpoint.get("reconcile")
    clear = isinstance(recon, dict) and not (recon.get("pending") or recon.get("escalated"))
    return clear and checkpoint.get("fsm_state") == SessionState.STOPPED.value


def _position_doubts(run_dir: Path) -> str:
    """Where the venue's position may differ, as the newest ``RECONCILE_ESCALATED`` says.

    That one faulted the run (the fault follows it at once). Not read (too far back), where
    to find them.
    """
    for event in events_back(run_dir / names.EVENTS, ("RECONCILE_ESCALATED",)):
        if event is None:
            break
        items = event.get("payload", {}).get("discrepancies")
        if isinstance(items, list):
            return position_doubts(item for item in items if isinstance(item, dict))
    return (
        f"fills the venue may have made ({RECONCILE_MISMATCH}: RECONCILE_ESCALATED in "
        f"{names.EVENTS})"
    )


def _live_as_of(found: dict[str, tuple[str, str, str]], at: str, *, read_all: bool) -> str:
    """What a live run's positions are read from.

    The newest ``POSITION_CHANGED`` since the checkpoint (or a fill newer than it, whose
    ``POSITION_CHANGED`` is not written out yet); else the checkpoint (none since it, or too
    much written since to read). With no checkpoint and no such event, ``no checkpoint
    yet``: never flat on the word of events that may not be written out yet.
    """
    if found:
        newest, kind = max((when, kind) for _, when, kind in found.values())
        if kind != "POSITION_CHANGED":
            return f"as of {kind} at run time {newest} (its POSITION_CHANGED not written yet)"
        return f"as of POSITION_CHANGED at run time {newest}"
    if not at:  # a run starting, or before its first checkpoint: nothing says it is flat
        return NO_CHECKPOINT
    if not read_all:
        return f"as of {at}: the events after it were not read"
    return f"no POSITION_CHANGED since {at}"


def _same(a: str, b: str) -> bool:
    """Whether two quantities are one (``0.010`` and ``0.01``); text that is no number: equal."""
    try:
        return Decimal(a) == Decimal(b)
    except (InvalidOperation, ValueError):
        return a == b


def trading_of(run_dir: Path, checkpoint: dict[str, Any], *, live: bool) -> dict[str, Any]:
    """``RunStatus``'s trading fields (``trading``, ``kill_halted``, ``halted_by``, ...).

    The trading state, what it is read from, and whether the kill switch halted it. A live
    run's are its events' since its checkpoint, where it wrote one (``live_trading``); else
    the checkpoint's: its ``kill_halted`` (``kill_started_ns`` in a checkpoint written
    before that key, as the governor reads it). A lost lease halts as the kill switch does,
    with no kill: that halt is told by the reason ``LEASE_LOST``, not as the kill switch's.
    A run HALTED, live or not, says by what (``halted_by_in``: a broker halt, the
    execution throttle; ``killed_by_in``: the kill switch and its newest kill's reason).
    """
    from .halts import halted_by_in, killed_by_in  # noqa: PLC0415 - halts reads statuswords

    killed = bool(checkpoint.get("kill_halted")) or checkpoint.get("kill_started_ns") is not None
    killed = killed and checkpoint.get("reason") != LEASE_LOST
    if live:
        trading, as_of, since = live_trading(run_dir, checkpoint)
        killed = killed if since is None else since
        # Named as a sealed run's halt is: `halted_by` was "" while the run went on.
        by = killed_by_in(run_dir) if killed else halted_by_in(run_dir, trading, killed=False)
        return {"trading": trading, "trading_as_of": as_of, "kill_halted": killed, "halted_by": by}
    state = checkpoint.get("trading")
    trading = state if isinstance(state, str) else None
    killed = killed and trading == "HALTED"
    by = killed_by_in(run_dir) if killed else halted_by_in(run_dir, trading, killed=False)
    return {
        "trading": trading,
        "kill_halted": killed,
        "halted_by": by,
    }
