"""What a session reports: the outcome of a dry run and a read-only look inside.

``DryrunResult`` is what ``run_dryrun``/``run_to_end``/``result()`` return;
``SessionInspection`` shows what is in flight (kill switch, escalations, held reports) for
tests and operators' tools, without reaching into the collaborators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from .._domain.lifecycle import SessionState, SessionStatus
from .._domain.reasons import STOP_INCOMPLETE
from .._reconcile.reconciler import unconfirmed_doubt
from .._risk.governor import TradingState
from .._support.fielddocs import fields_in_doc
from .._support.text import valid_text

if TYPE_CHECKING:
    from collections.abc import Mapping
    from decimal import Decimal

    from .assembly import SessionParts

__all__ = ["DryrunResult", "SessionInspection", "inspect_parts", "result_of"]


@fields_in_doc
@attrs.frozen(kw_only=True)
class DryrunResult:
    """What a finished dry run reports; ``accepted`` is whether preflight passed.

    ``reason`` is the code (``CONFIG_INVALID``); ``detail`` says in one line which field and
    value a rejected preflight failed on (``order_qty 0.050 > max_order_qty 0.040``).
    """

    accepted: bool
    """Whether preflight passed (False: the session was rejected and never traded)."""
    status: SessionStatus
    """The status operators see (``RUNNING``, ``COMPLETED``, ``FAILED``, ``REJECTED``)."""
    run_id: str
    """The run's id, as in its config."""
    state: SessionState
    """The state machine's state when the result was taken (``DRYRUN_ACTIVE``, ``STOPPED``)."""
    steps: int
    """Steps run so far (one bar each)."""
    orders_submitted: int
    """Orders sent to the venue (``ORDER_SUBMITTED`` events), the wind-down's too."""
    fills: int
    """Fills the book took, partial ones included."""
    equity: Decimal
    """Cash plus each position marked at its last price, exact (as ``book.equity``)."""
    pnl: Decimal
    """``equity`` less the initial cash: realised and unrealised together."""
    reason: str = ""
    """Why the session stopped or was refused, as a code (``CONFIG_INVALID``,
    ``STRATEGY_ERROR``); empty while nothing went wrong."""
    detail: str = ""
    """What went wrong beyond ``reason`` in one line: why preflight rejected the session, or
    for a failed run what failed (a strategy or feed error: the exception's type and
    redacted message); empty otherwise."""
    trading: TradingState = TradingState.ACTIVE
    """Whether new orders were allowed when the result was taken: a run the kill switch
    (by an operator, or the daily-loss cap) halted stays HALTED to its end unless an operator
    re-enabled trading, and still ends COMPLETED."""
    kills: int = 0
    """How many times the kill switch was pulled (``KILL_SWITCH`` events)."""
    positions: Mapping[str, Decimal] = attrs.field(factory=dict, hash=False)
    """The net position of every symbol the book has held when the result was taken (as
    ``livesession status`` shows them). A stopped run is flat (its wind-down flattened);
    one sealed in ERROR_REQUIRES_OPERATOR without a wind-down may have left exposure."""
    open_orders: tuple[str, ...] = ()
    """The client order ids still open at the venue, as the book knows them."""
    position_in_doubt: str = ""
    """A fill the venue reported that the book refused (``BROKER_REPORT_INVALID``: the
    venue's fill 'T1' of ls...: its quantity ...), or fills the venue made that the book
    never saw, escalated by the reconciler (``RECONCILE_MISMATCH``, ``FILL_NOT_SEEN``: the
    venue's fills of ls...: 0.010 filled at the venue, 0 in the book (FILL_NOT_SEEN)), or a
    venue reporting another net position (``POSITION_MISMATCH``: the venue holds BTC/USDT
    0.500, the book 0.000 (POSITION_MISMATCH)): the
    venue may hold another position than ``positions`` says. Empty when the book took
    every fill the venue made, as far as the session knows."""
    torn: str = ""
    """Why a torn session takes no step (``torn by KeyboardInterrupt in the middle of its
    work (after step 12): ...``): an interrupt or an error it could not handle left a step
    or verb half done, so it let go of its run unsealed, and ``status`` is the last one it
    had (``RUNNING``); its run is a crash at its last checkpoint, to resume. Empty while
    the session is whole."""
    flattened: tuple[str, ...] = ()
    """What the wind-down's own flatten orders closed (``SELL 0.010 BTC/USDT``): the position
    the strategy still held as the run stopped, which ``positions`` (flat) no longer shows.
    A kill's flatten is not here (``kills`` says it), nor one the venue cancelled or rejected
    and that left the position open (``positions`` holds it). Empty: the strategy ended flat."""
    broker_failures: Mapping[str, int] = attrs.field(factory=dict, hash=False)
    """Broker calls that failed (a ``Transient`` error, a timeout), by operation (``poll``,
    ``reconcile``, ``submit``, ...), sorted: a venue whose polls fail while its other calls
    answer trips no health check and writes no event, and is seen here. Empty: none."""


@fields_in_doc
@attrs.frozen(kw_only=True)
class SessionInspection:
    """A read-only look inside a running session, for tests and operators' tools."""

    kill_started_ns: int | None
    """When the kill switch that is still flattening was pulled (None: none is)."""
    escalated: tuple[str, ...]
    """Differences escalated to an operator (``KIND:client_order_id``)."""
    pending: tuple[str, ...]
    """Differences the reconciler has seen and still gives their grace (not escalated)."""
    held_reports: frozenset[str]
    """Client ids whose reports arrived before the session knew the order."""
    waiting_fills: frozenset[str]
    """Trade ids of fills received and not applied yet."""
    unconfirmed_closed: tuple[str, ...]
    """Cancelled orders whose final fills the venue has not confirmed."""
    fault_cause: BaseException | None = attrs.field(default=None, repr=False, eq=False)
    """The last exception that faulted the session (the strategy's or the feed's error, or
    an unexpected one; None while none has): its traceback names the line. In memory only:
    its message is as raised, not redacted, so it is never recorded nor in the repr."""
    seal_checkpoint_error: BaseException | None = attrs.field(default=None, repr=False, eq=False)
    """Why the sealing checkpoint was not written (a full disk's ``CheckpointError``, from
    its ``OSError``); None while it was, or before the seal. The run's audit log holds the
    seal all the same, and ``resume`` writes the checkpoint once it can."""
    seal_unsynced: str = ""
    """The run is sealed, but a sync failed at or after its stop record (which file, the
    error): the seal is in the files, not known to be on disk."""
    lease_unreleased: str = ""
    """The session's lease could not be given back as it ended (its backend refused: a full
    disk under the lease file): why, and until when it stays held. "" when it was."""
    plugin_close_failed: str = ""
    """What a plug-in's ``close()`` raised as the session let go of it (``the strategy's
    close() raised OSError: ...``): the run ended as it did, its record whole. "" when none
    raised, or before the session is closed."""


def result_of(p: SessionParts, *, torn: str = "") -> DryrunResult:
    """The session's outcome so far; ``torn``: why it takes no step (``DryrunResult.torn``)."""
    view = p.book.view()
    metrics = p.recorder.metrics
    state = p.lifecycle.state
    doubt = p.reconciliation.pending_doubt
    if state is SessionState.ERROR_REQUIRES_OPERATOR and p.lifecycle.reason == STOP_INCOMPLETE:
        # The orders the stop cancelled may have filled first: the book's flat is its own.
        left = unconfirmed_doubt(p.winddown.unconfirmed_said())
        doubt = "; ".join(filter(None, (doubt, left)))
    return DryrunResult(
        accepted=state not in (SessionState.INIT, SessionState.PREFLIGHT_FAILED),
        status=p.lifecycle.status,
        run_id=p.config.run_id,
        state=state,
        steps=p.time.steps,
        orders_submitted=metrics.count("ORDER_SUBMITTED"),
        fills=metrics.count("ORDER_FILLED") + metrics.count("ORDER_PARTIALLY_FILLED"),
        equity=view.equity,
        pnl=view.pnl,
        reason=p.lifecycle.reason,
        detail=valid_text(p.lifecycle.detail),  # it may quote a plug-in (a check, a venue)
        trading=p.governor.state,
        kills=metrics.count("KILL_SWITCH"),
        positions=dict(sorted(view.positions.items())),
        open_orders=view.open_orders,
        position_in_doubt=valid_text(
            "; ".join(filter(None, (p.reports.unbooked, p.reconciliation.unbooked, doubt)))
        ),
        broker_failures=dict(sorted(p.broker_health.failed_calls.items())),
        # What a flatten closed: not one the venue cancelled or rejected (the book holds it).
        flattened=tuple(
            said for symbol, said in p.winddown.flattened.items() if not view.positions.get(symbol)
        ),
        torn=torn,
    )


def inspect_parts(p: SessionParts, *, unclosed: str = "") -> SessionInspection:
    """What is in flight inside the session right now (``unclosed``: a close that raised)."""
    return SessionInspection(
        kill_started_ns=p.winddown.kill_started_ns,
        escalated=p.reconciliation.escalated_keys(),
        pending=p.reconciliation.pending_keys(),
        held_reports=p.reports.held_orders(),
        waiting_fills=p.reports.waiting_fills(),
        unconfirmed_closed=tuple(p.winddown.unconfirmed_closed()),
        fault_cause=p.lifecycle.cause,
        seal_checkpoint_error=p.checkpointer.seal_refused,
        seal_unsynced=p.lifecycle.unsynced,
        lease_unreleased="" if p.lease is None else p.lease.unreleased,
        plugin_close_failed=unclosed,
    )
