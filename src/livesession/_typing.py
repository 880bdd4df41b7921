"""Every protocol at the edges of the session, in one place: clock, venue, feed, strategy, sinks.

But for two: a rail's and a preflight check's (``Rail``, ``Check``) are in ``_risk``,
beside the built-in rails and checks they join.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from decimal import Decimal

    from ._domain.alerts import Alert
    from ._domain.cancels import CancelIntent
    from ._domain.lease import LeaseGrant
    from ._domain.model import Bar, BrokerReport, Order, OrderIntent, VenueOrder

__all__ = [
    "AlertSink",
    "Broker",
    "CheckpointStore",
    "Clock",
    "Closable",
    "ConfirmingLookup",
    "CountedPositionVenue",
    "DeclaredSimulation",
    "Fenceable",
    "IdempotencyRecord",
    "IdempotencyStore",
    "JournaledVenue",
    "LineSink",
    "ListableStore",
    "MarkableVenue",
    "MarketFeed",
    "MetricsSink",
    "PositionVenue",
    "RecoveringVenue",
    "RelayedVenue",
    "ReplayingVenue",
    "ResumableVenue",
    "SandboxAware",
    "SessionLease",
    "Strategy",
    "StrategyView",
    "VenueKind",
]


@runtime_checkable
class Clock(Protocol):
    """**Protocol:** a source of time; ``now()`` is stamped into ``ts_utc``.

    A reading that is not a timezone-aware ``datetime`` rejects the session at preflight
    (``CLOCK_INVALID``), or fails it later in the run (``UNEXPECTED_ERROR``).
    """

    def now(self) -> dt.datetime:
        """The current moment, timezone-aware UTC."""


@runtime_checkable
class MarketFeed(Protocol):
    """**Protocol:** yields one bar per step; its state can be saved and restored.

    A feed whose bars carry their own times sets ``dated = True`` (optional; absent means
    False): each step then takes its bar's ``ts_ns``, never earlier than the session's
    time, and ``first_ts_ns`` (the first bar's time, if it has one) starts the session.
    """

    @property
    def symbol(self) -> str:
        """The symbol of every bar it gives (an attribute will do; the session never sets it)."""

    def next_bar(self, ts_ns: int, /) -> Bar | None:
        """The bar for simulated time ``ts_ns``, or None when the feed is exhausted."""

    def get_state(self) -> dict[str, Any]:
        """A JSON-compatible snapshot of the feed's position (for checkpoints)."""

    def set_state(self, state: Mapping[str, Any], /) -> None:
        """Restore a snapshot made by ``get_state``."""


@runtime_checkable
class Closable(Protocol):
    """**Protocol:** an edge holding a resource (a file, a connection) until it is closed.

    A feed that reads a file implements it; the session closes it when it closes. So may a
    strategy: the session closes one it made from the config's ``strategy_factory`` (never
    one passed in), once, as it closes.
    """

    def close(self) -> None:
        """Release the resource."""


@runtime_checkable
class StrategyView(Protocol):
    """**Protocol:** what a strategy may read about the session (read-only).

    The session passes the same view to every ``on_bar``; each read is of the live book,
    and nothing reachable from the view changes the session (assignment raises
    ``AttributeError``; what it returns is immutable or a copy).
    """

    @property
    def cash(self) -> Decimal:
        """The session's cash."""

    @property
    def equity(self) -> Decimal:
        """Cash plus positions marked at the last price."""

    def position(self, symbol: str) -> Decimal:
        """Net position in ``symbol`` (0 when none)."""

    def avg_price(self, symbol: str) -> Decimal | None:
        """Average entry price of the position in ``symbol``; None while it is flat."""

    def open_orders(self, symbol: str | None = None) -> tuple[Order, ...]:
        """The open orders (of ``symbol``, or all), ordered by client order id."""

    def has_open_orders(self, symbol: str) -> bool:
        """Whether any order in ``symbol`` is still open."""


@runtime_checkable
class Strategy(Protocol):
    """**Protocol:** turns bars into order intents, deterministically."""

    @property
    def strategy_id(self) -> str:
        """The strategy's id (an attribute will do; the session never sets it)."""

    def on_bar(self, bar: Bar, view: StrategyView, /) -> Sequence[OrderIntent | CancelIntent]:
        """The intents for this bar (possibly none): orders, and cancels of open orders."""

    def get_state(self) -> dict[str, Any]:
        """A JSON-compatible snapshot of the strategy's memory (for checkpoints)."""

    def set_state(self, state: Mapping[str, Any], /) -> None:
        """Restore a snapshot made by ``get_state``."""


@runtime_checkable
class VenueKind(Protocol):
    """**Protocol:** a venue that says what kind of venue it is (every ``Broker`` does)."""

    @property
    def kind(self) -> str:
        """``"mock"``, ``"realish"`` or ``"ccxt_sandbox"``; preflight reads it."""


@runtime_checkable
class Broker(VenueKind, Protocol):
    """**Protocol:** a venue; calls raise ``Transient``, ``OutcomeUnknown`` or ``Rejected``."""

    def on_market(self, bar: Bar, /) -> None:
        """See the latest bar (simulated venues price fills from it)."""

    def submit(self, order: Order, now_ns: int, /) -> None:
        """Send an order; returns once the venue has the request."""

    def cancel(self, client_order_id: str, now_ns: int, /) -> None:
        """Ask the venue to cancel an order."""

    def poll(self, now_ns: int, /) -> Sequence[BrokerReport]:
        """Reports (acks, fills, rejects, cancels) due by ``now_ns``, in venue order."""

    def open_orders(self) -> Sequence[VenueOrder]:
        """Orders the venue considers open."""

    def order_by_client_id(self, client_order_id: str, /) -> VenueOrder | None:
        """Look an order up by client order id; None when the venue does not know it."""

    def close(self) -> None:
        """Release connections and files."""


# -- optional broker abilities: the session checks for each with isinstance -----------------


@runtime_checkable
class ConfirmingLookup(Protocol):
    """**Protocol:** a broker whose lookup can confirm that an order is absent.

    A real venue implements it (``CcxtSandboxBroker``): there one ``order_by_client_id``
    that answers None proves nothing, and only ``lookup`` (bounded polling) confirms an
    absence, which is what allows the one legitimate resend of a client order id. The
    simulated venues do not: their single look is the truth.
    """

    def lookup(self, client_order_id: str, attempts: int | None = None) -> VenueOrder | None:
        """The venue's order, or None once every one of ``attempts`` looks found nothing."""


@runtime_checkable
class RecoveringVenue(Protocol):
    """**Protocol:** a real venue whose broker reports only on orders it was told about.

    ``CcxtSandboxBroker`` implements it: it polls the venue for the orders it sent, and a
    process started by a resume sent none. The resumed session tells it of every order
    the run sent before the crash (those the checkpoint's book holds, and a send made
    again after the checkpoint that the venue already has), so their acks and fills are
    reported again and the book ends with the venue's position.
    """

    def recover(
        self,
        order: Order,
        *,
        acked: bool = False,
        trade_ids: Sequence[str] = (),
        filled: Decimal | None = None,
        closed: bool = False,
        booked: Mapping[str, tuple[Decimal, Decimal]] | None = None,
    ) -> None:
        """Track ``order`` (sent by an earlier process) once a lookup finds it at the venue.

        ``acked``, ``trade_ids`` and ``filled`` are what the book already has of it (those
        reports are not sent again); ``closed``: the book has its cancel or reject already.
        ``booked``: the (quantity, price) the run's fills booked under those trade ids (a
        resume reads them from its events): a trade the venue lists again with others is
        reported again, for the session to refuse, as within one process. Until a lookup
        has answered, submitting its client order id raises ``OutcomeUnknown``: the venue
        may have it.
        """


@runtime_checkable
class JournaledVenue(Protocol):
    """**Protocol:** a venue whose journal position a checkpoint records.

    ``MockBroker`` implements it (0 without a journal). ``RealishBroker`` records its
    attempt journal's length here (its latency of at least 1 ns already tells the reports
    owed after a checkpoint from those delivered before it): a resume rewinds the attempts
    made after the checkpoint, so the replayed sends fault and retry as before. Its venue
    journal's length goes beside it (``RelayedVenue``).
    """

    def journal_offset(self) -> int:
        """Bytes in the venue journal so far."""


@runtime_checkable
class ResumableVenue(Protocol):
    """**Protocol:** a simulated venue rebuilt from its journal that a resume catches up.

    ``MockBroker`` and ``RealishBroker`` implement it: a resumed session calls it once,
    after the journal replay, so the venue forgets the reports the session already has.
    """

    def resume_at(self, now_ns: int, journal_offset: int | None = None) -> None:
        """Forget reports due by ``now_ns`` (the checkpoint's simulated time)."""


@runtime_checkable
class RelayedVenue(Protocol):
    """**Protocol:** a simulated venue behind a client that journals apart from it.

    ``RealishBroker`` implements it: ``journal_offset`` is its attempt journal's length,
    and a checkpoint records the venue journal's beside it (``venue_journal_offset``), so
    a resume rebuilds the venue as it stood at the checkpoint. The sends made after it are
    set aside, as ``MockBroker`` does: one the resumed session does not make again (a
    wind-down's flatten, when the stop came at a step no replay repeats) never happened.
    """

    def venue_journal_offset(self) -> int:
        """Bytes in the venue journal so far (0 without one)."""

    def resume_at(
        self, now_ns: int, journal_offset: int | None = None, venue_offset: int | None = None
    ) -> None:
        """``ResumableVenue.resume_at``, the venue rebuilt to ``venue_offset`` first."""


@runtime_checkable
class ReplayingVenue(Protocol):
    """**Protocol:** a simulated venue that replays the sends a resumed session makes again.

    ``RealishBroker`` implements it: its attempt journal tells which sends after the
    checkpoint the session is about to replay, and it answers them attempt by attempt as
    before the crash (same faults, no second order at the venue), so the replayed send
    retries and waits as the original did instead of being recovered without them.
    ``MockBroker`` too: it sets those sends aside at the resume and takes each when the
    session makes it again, so its reports come when they came.
    """

    def replays_send(self, client_order_id: str) -> bool:
        """Whether sending ``client_order_id`` again replays a send made before a crash."""


@runtime_checkable
class PositionVenue(Protocol):
    """**Protocol:** a venue that reports the net position it holds per symbol.

    ``MockBroker`` and ``RealishBroker`` implement it, so the reconciler checks the book's
    positions as well as its orders: a position the venue does not hold (a fill the book
    never heard of) is a difference no order shows. The ccxt sandbox broker counts a spot
    account's trades since the session began (``CountedPositionVenue``).
    """

    def positions(self) -> Mapping[str, Decimal]:
        """The venue's net position per symbol, from every fill it matched (reported or not)."""


@runtime_checkable
class CountedPositionVenue(Protocol):
    """**Protocol:** a ``PositionVenue`` that counts its trades from a start (ccxt's)."""

    @property
    def positions_since(self) -> int | None:
        """The start (venue epoch ms; None before the first ``positions``), checkpointed."""

    def count_positions_from(self, since_ms: int) -> None:
        """Count from ``since_ms``: a resumed run's start, so fills made while down count."""


@runtime_checkable
class MarkableVenue(Protocol):
    """**Protocol:** a simulated venue whose mark price the session can set.

    ``MockBroker`` and ``RealishBroker`` implement it: their journal holds prices only
    from when requests arrived, so a resumed session marks the venue with its last prices.
    """

    def mark(self, symbol: str, price: Decimal) -> None:
        """Set the price market orders fill at, without triggering resting orders."""


@runtime_checkable
class SandboxAware(Protocol):
    """**Protocol:** a broker on a real venue that can say whether it is a verified sandbox.

    ``CcxtSandboxBroker`` implements it; preflight lets a non-simulated broker trade only
    while this says True. A broker without it counts as not verified.
    """

    @property
    def sandbox_verified(self) -> bool:
        """Whether the venue is a verified sandbox right now."""


@runtime_checkable
class DeclaredSimulation(Protocol):
    """**Protocol:** a user's broker that declares whether it is simulated.

    A broker plugged in by reference (``broker = "package.module:callable"``) or handed to
    ``create_run`` or ``LiveSessionOrchestrator`` must carry ``simulated = True`` to trade
    in a dry run: preflight's ``user_broker`` check audits the declaration (a run
    directory's session), and ``broker_is_simulated`` accepts it. ``simulated = False``
    trades only with live trading explicitly enabled (``enabled = true`` and the live
    override), whatever the broker's ``kind`` (a ``MockBroker`` subclass inherits
    ``"mock"``); a broker of the caller's that declares nothing is refused.
    """

    @property
    def simulated(self) -> bool:
        """Whether the broker is simulated (an attribute will do; the session never sets it)."""


@runtime_checkable
class LineSink(Protocol):
    """**Protocol:** an append-only line sink for one JSON Lines artifact."""

    def write_line(self, line: bytes, /) -> None:
        """Append one line; ``line`` ends with a newline."""

    def flush(self) -> None:
        """Hand buffered lines to the operating system."""

    def sync(self) -> None:
        """Make every written line durable (fsync where there is a file)."""


@runtime_checkable
class AlertSink(Protocol):
    """**Protocol:** where a session's alerts go (a webhook, a pager, a queue of your own).

    ``post`` is called on the session's owner thread, inside a step: it must return at once
    (hand the alert to a worker of its own) and never raise. A sink that also has ``close``
    is closed by the session when it closes, after the seal's ``RUN_SEALED`` was posted;
    one shared by several sessions, by the last of them to close.
    """

    def post(self, alert: Alert, /) -> None:
        """Take one alert for delivery, without blocking."""


@runtime_checkable
class MetricsSink(Protocol):
    """**Protocol:** a sink that holds one document and replaces it whole."""

    def replace(self, content: bytes, /) -> None:
        """Replace the document atomically."""


class IdempotencyRecord(Protocol):
    """**Protocol:** what an idempotency store remembers about one key (read-only)."""

    @property
    def key(self) -> str:
        """The idempotency key (a client order id)."""

    @property
    def fingerprint(self) -> str:
        """What defines the order the key was reserved for."""

    @property
    def outcome(self) -> str | None:
        """The recorded outcome, or None while the key is only reserved."""

    @property
    def created(self) -> bool:
        """True when this ``reserve`` call created the record."""


@runtime_checkable
class IdempotencyStore(Protocol):
    """**Protocol:** durable reservations of client order ids, made before sending."""

    def reserve(self, key: str, fingerprint: str, /) -> IdempotencyRecord:
        """Reserve ``key``; returns the new record or the existing one for this fingerprint.

        Raises ``IdempotencyConflict`` when the key exists with another fingerprint.
        """

    def complete(self, key: str, outcome: str, /) -> None:
        """Record the final outcome of a reserved key."""

    def get(self, key: str, /) -> IdempotencyRecord | None:
        """The record for ``key``, or None."""

    def close(self) -> None:
        """Release files and connections."""


@runtime_checkable
class ListableStore(Protocol):
    """**Protocol:** an idempotency store that can list the keys it holds (optional).

    Every built-in store implements it (``PostgresIdempotencyStore`` lists its namespace).
    A resume on a venue it does not rewind (the ccxt broker, a broker of yours) looks each
    key the checkpoint does not account for up at the venue before its first step, so an
    order the crashed process sent after the checkpoint is tracked again even if the
    re-run never reaches it. Without it, the resume's ``C2_RESUME`` says so
    (``after_checkpoint`` null): only a re-run that reaches such an order finds it.
    """

    def reservations(self) -> Sequence[IdempotencyRecord]:
        """Every key held (``created`` False), with its fingerprint and outcome, by key."""


@runtime_checkable
class CheckpointStore(Protocol):
    """**Protocol:** holds the latest checkpoint of a run, replaced atomically."""

    def save(self, checkpoint: Mapping[str, Any], /) -> None:
        """Replace the stored checkpoint atomically and durably."""

    def load(self) -> dict[str, Any] | None:
        """The stored checkpoint, or None when there is none."""


@runtime_checkable
class Fenceable(Protocol):
    """**Protocol:** a store of shared state whose writes carry a lease's fencing token.

    After ``fence_with(grant)`` every write is refused with ``Fenced`` (nothing written)
    once the (account, strategy) lease is no longer ``grant``'s: a token newer than
    ``grant.token``, or its row reset (gone, or another token or holder). A session
    with a lease fences the stores it was given that implement this.
    """

    def fence_with(self, grant: LeaseGrant) -> None:
        """Carry ``grant``'s token on every write from now on."""


@runtime_checkable
class SessionLease(Protocol):
    """**Protocol:** a single-active-session lease for one (account, strategy) pair.

    The rules every backend keeps are in the ``livesession.leases`` docstring.
    """

    def acquire(self, holder_id: str, now_ns: int, ttl_ns: int, /) -> LeaseGrant | None:
        """A grant with a new, larger fencing token; None while another holder has it."""

    def renew(self, grant: LeaseGrant, now_ns: int, /) -> bool:
        """Extend to ``now_ns + grant.ttl_ns``; False once lost; ``Fenced``: its store was reset."""

    def release(self, grant: LeaseGrant, /) -> None:
        """Free the lease if ``grant`` still holds it; otherwise do nothing."""

    def close(self) -> None:
        """Release files and connections (not the lease)."""
