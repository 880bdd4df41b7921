"""A "real-ish" venue: the deterministic mock, behind a network that misbehaves.

``RealishBroker`` wraps a ``MockBroker`` (which keeps the venue's book and journal) and
adds the faults a real exchange connection shows, each decided by
``unit_draw(seed, fault, client order id, operation, attempt)`` and never by call order,
global randomness or ``hash()``:

- **transient** (``submit``): the request never reached the venue; ``Transient`` is raised
  *before* the venue records anything, so a resend of the same client id is safe.
- **timeout** (``submit``): the venue recorded the order, then the answer was lost;
  ``OutcomeUnknown`` is raised and the caller must look the order up instead of resending.
- **duplicate ack**: the venue's acknowledgement arrives twice.
- **late fill**: fill reports arrive ``late_fill_ns`` of simulated time after the venue
  executed them. A cancel sent in that window meets the fill/cancel race: the venue
  answers ``Rejected`` (``ORDER_NOT_OPEN``) and the fill report still arrives afterwards.
- **latency**: every report is due ``latency_ns`` (at least 1 ns) after its request.

Attempt numbers count calls per (operation, client order id). They are kept in a
client-side attempt journal next to the venue journal (``<journal>.attempts.jsonl``), so a
broker rebuilt after a crash continues the count instead of replaying the first attempts'
faults; decisions about reports (duplicate ack, late fill) depend only on the client
order id, so a replayed venue re-creates exactly the reports it owed.

A checkpoint records the attempt journal's length (``journal_offset``). A session resumed
from it replays the steps after it, so ``resume_at`` rewinds the attempt counts to that
length: the replayed sends get the attempt numbers, hence the faults, retries and waits,
of the sends they replay, and an attempt that reached the venue before the crash (the
venue journal has it) is answered as it was without reaching the venue a second time.
``replays_send`` tells the session which reserved client order ids are replayed so.
The checkpoint records the venue journal's length too (``venue_journal_offset``): the
venue is rebuilt to it and the requests after it set aside, as ``MockBroker`` does, so a
send the resumed session does not make again (a wind-down's flatten) never happened.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

import attrs
import orjson

from .._domain.config import DryrunConfig
from .._domain.decimal import ZERO, int_as_decimal
from .._domain.model import AckReport, CancelReport, FillReport, RejectReport
from .._domain.random import unit_draw
from .._exceptions import OutcomeUnknown, Rejected, Transient
from .._support.torn import truncate_to
from .._typing import (
    JournaledVenue,
    MarkableVenue,
    PositionVenue,
    RelayedVenue,
    ReplayingVenue,
    ResumableVenue,
)
from ._journal import Journal, append_entry, open_journal_of
from ._venue import non_negative, share_of
from .mock import FillModel, MockBroker, VenueOptions, venue_options

if TYPE_CHECKING:
    from typing import Unpack

    from .._domain.model import Bar, BrokerReport, Order, VenueOrder

__all__ = [
    "ATTEMPT_WINDOW",
    "FAULT_KINDS",
    "FAULT_LOG_SIZE",
    "FaultModel",
    "RealishBroker",
    "attempts_path",
]

_NS_PER_MS: Final = 1_000_000
FAULT_LOG_SIZE: Final = 10_000
ATTEMPT_WINDOW: Final = 10_000
"""Attempt counters kept (the most recent client ids); memory stays flat in long runs."""
FAULT_KINDS: Final = (
    "cancel_after_fill",
    "duplicate_ack",
    "fill_after_cancel",
    "late_fill",
    "timeout",
    "transient",
)
"""The names ``RealishBroker.faults`` counts, sorted."""


_RATE: Final = share_of("fault rates")
"""A share of calls or orders (an int is its Decimal by ``int_as_decimal`` first)."""


@attrs.frozen(kw_only=True)
class FaultModel:
    """Which faults the real-ish venue injects; rates are shares of calls or orders."""

    transient_rate: Decimal = attrs.field(
        default=Decimal(0), converter=int_as_decimal, validator=_RATE
    )
    timeout_rate: Decimal = attrs.field(
        default=Decimal(0), converter=int_as_decimal, validator=_RATE
    )
    duplicate_ack_rate: Decimal = attrs.field(
        default=Decimal(0), converter=int_as_decimal, validator=_RATE
    )
    late_fill_rate: Decimal = attrs.field(
        default=Decimal(0), converter=int_as_decimal, validator=_RATE
    )
    late_fill_ns: int = attrs.field(default=0, validator=non_negative)
    latency_ns: int = attrs.field(default=0, validator=non_negative)


class RealishBroker(
    ResumableVenue, MarkableVenue, JournaledVenue, ReplayingVenue, RelayedVenue, PositionVenue
):
    """A venue with seeded network faults for dry runs. ``kind`` is ``"realish"``.

    Satisfies the ``Broker`` protocol. ``submissions`` counts how often each client order
    id reached the venue (a timed-out order reached it once); ``faults`` counts the faults
    injected by this object (not those re-created while a journal is replayed).
    """

    kind = "realish"

    def __init__(self, *, faults: FaultModel | None = None, **venue: Unpack[VenueOptions]) -> None:
        """``faults`` on the network; ``venue`` the wrapped ``MockBroker``'s own keywords."""
        given: object = faults  # a caller's mapping would fail later, naming no knob
        if given is not None and not isinstance(given, FaultModel):
            msg = f"RealishBroker(faults=...) takes a FaultModel, got {type(given).__name__}"
            raise TypeError(msg)
        self._seed = venue.get("seed", 0)
        self._faults = faults or FaultModel()
        self._fill_model = venue.get("fill_model") or FillModel()
        # The network's latency comes on top of the venue's own processing time, and is
        # never zero: a report is due strictly after its request, so a resumed venue can
        # tell reports owed after a checkpoint from those delivered before it by time alone.
        latency_ns = max(1, self._fill_model.latency_ns + self._faults.latency_ns)
        venue["fill_model"] = attrs.evolve(self._fill_model, latency_ns=latency_ns)
        self._venue = MockBroker(**venue)
        journal = venue.get("journal")
        self._attempts: dict[tuple[str, str], int] = {}
        self._attempt_ends: list[tuple[int, tuple[str, str], int]] = []
        self._replayed_sends: dict[str, set[int]] = {}
        self._attempts_path: Path | None = None
        self._held: list[tuple[int, int, FillReport]] = []
        self._held_seq = 0
        self._cancel_requested: dict[str, int] = {}
        self._fills_delivered: dict[str, Decimal] = {}
        self._replaying = False
        self.faults: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
        """How often each fault fired in this object (see ``FAULT_KINDS``)."""
        self.fault_log: deque[tuple[str, str, int]] = deque(maxlen=FAULT_LOG_SIZE)
        """The latest faults as (fault, client order id, attempt; 0 for report faults)."""
        self._attempt_log: Journal | None = None
        if journal is not None:
            path = attempts_path(journal)
            self._attempts_path = path
            self._replay_attempts(path)
            self._attempt_log = open_journal_of(self, path)  # closed too if dropped unclosed

    @classmethod
    def from_config(cls, cfg: DryrunConfig, *, journal: Path | None) -> Self:
        """The broker ``cfg`` describes: its ``fill_model`` for the venue, ``realish`` faults."""
        rc = cfg.realish
        return cls(
            faults=FaultModel(
                transient_rate=rc.transient_rate,
                timeout_rate=rc.timeout_rate,
                duplicate_ack_rate=rc.duplicate_ack_rate,
                late_fill_rate=rc.late_fill_rate,
                late_fill_ns=rc.late_fill_ms * _NS_PER_MS,
                latency_ns=rc.latency_ms * _NS_PER_MS,
            ),
            **venue_options(cfg, journal),
        )

    # -- read-only views ---------------------------------------------------------------------

    @property
    def submissions(self) -> Mapping[str, int]:
        """How often each client order id reached the venue (journal replays included)."""
        return self._venue.submissions

    @property
    def submit_attempts(self) -> dict[str, int]:
        """How many submit calls each client order id got, across crashes (a copy)."""
        return {cid: n for (op, cid), n in sorted(self._attempts.items()) if op == "submit"}

    # -- the Broker protocol ---------------------------------------------------------------

    def mark(self, symbol: str, price: Decimal) -> None:
        """Set the venue's mark price (see ``MockBroker.mark``)."""
        self._venue.mark(symbol, price)

    def on_market(self, bar: Bar) -> None:
        """Let the venue see the bar (it prices market orders and triggers resting ones)."""
        self._venue.on_market(bar)

    def submit(self, order: Order, now_ns: int) -> None:
        """Send an order; may raise ``Transient`` (not recorded) or ``OutcomeUnknown`` (recorded).

        ``Rejected`` comes from the venue itself (for example a duplicate client order id).
        """
        cid = order.client_order_id
        attempt = self._next_attempt("submit", cid, now_ns)
        replayed = self._take_replayed(cid, attempt)
        if self._fires("transient", self._faults.transient_rate, cid, "submit", attempt):
            raise Transient(
                f"connection refused before the request was sent (attempt {attempt})",
                client_order_id=cid,
            )
        # A replayed attempt that reached the venue before the crash is taken from the
        # requests set aside at the resume (the venue journals a ``replay``); after a resume
        # from an older checkpoint the replayed venue holds the order already, and the
        # attempt is answered as it was, without a second send.
        if not (replayed and self._venue.order_by_client_id(cid) is not None):
            self._venue.submit(order, now_ns)
        if self._fires("timeout", self._faults.timeout_rate, cid, "submit", attempt):
            raise OutcomeUnknown(
                f"no answer after the request was sent (attempt {attempt})", client_order_id=cid
            )

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Ask the venue to cancel; ``Rejected`` (``ORDER_NOT_OPEN``) when it already filled."""
        self._next_attempt("cancel", client_order_id, now_ns)
        self._cancel_requested[client_order_id] = now_ns
        try:
            self._venue.cancel(client_order_id, now_ns)
        except Rejected as exc:
            if exc.reason == "ORDER_NOT_OPEN" and self._fill_in_flight(client_order_id):
                self._count("cancel_after_fill", client_order_id)
            else:
                self._cancel_requested.pop(client_order_id, None)
            raise

    def poll(self, now_ns: int) -> Sequence[BrokerReport]:
        """Reports due by ``now_ns``: the venue's, with duplicates, then late fills now due."""
        out: list[BrokerReport] = []
        for report in self._venue.poll(now_ns):
            cid = report.client_order_id
            if isinstance(report, FillReport) and self._chosen(
                "late_fill", self._faults.late_fill_rate, cid
            ):
                self._count("late_fill", cid)
                self._held_seq += 1
                due = report.ts_ns + self._faults.late_fill_ns
                heapq.heappush(self._held, (due, self._held_seq, report))
                continue
            self._deliver(report, out)
            if isinstance(report, AckReport) and self._chosen(
                "duplicate_ack", self._faults.duplicate_ack_rate, cid
            ):
                self._count("duplicate_ack", cid)
                out.append(report)
        held = self._held
        while held and held[0][0] <= now_ns:
            self._deliver(heapq.heappop(held)[2], out)
        return out

    def open_orders(self) -> Sequence[VenueOrder]:
        """Orders the venue considers open (an order whose fill is still in flight is not)."""
        return self._venue.open_orders()

    def order_by_client_id(self, client_order_id: str) -> VenueOrder | None:
        """The venue's view of one order; lookups always reach the venue."""
        return self._venue.order_by_client_id(client_order_id)

    def positions(self) -> Mapping[str, Decimal]:
        """The venue's net position per symbol (fills whose reports are late included)."""
        return self._venue.positions()

    def journal_offset(self) -> int:
        """Bytes in the attempt journal so far (a checkpoint records it; 0 without one)."""
        return 0 if self._attempt_log is None else self._attempt_log.tell()

    def venue_journal_offset(self) -> int:
        """Bytes in the venue journal so far (a checkpoint records it beside the attempts').

        Reports need it for no delivery: this broker's latency is at least 1 ns, so nothing
        sent after a checkpoint is due at the checkpoint's own simulated time. The requests
        need it: those after it are set aside at a resume, and what is not made again never
        reached the venue.
        """
        return self._venue.journal_offset()

    def replays_send(self, client_order_id: str) -> bool:
        """Whether a resumed session's send of ``client_order_id`` replays an earlier one.

        True for a send made after the checkpoint (``resume_at`` rewound its attempts):
        sending it again is safe, and answered attempt by attempt as before the crash.
        """
        return client_order_id in self._replayed_sends

    def resume_at(
        self, now_ns: int, journal_offset: int | None = None, venue_offset: int | None = None
    ) -> None:
        """Forget reports delivered by ``now_ns`` (the resumed checkpoint's simulated time).

        ``journal_offset`` is the attempt journal's length the checkpoint recorded: the
        attempts after it are rewound (cut from the journal, counts taken back), since the
        resumed session makes them again; None (an older checkpoint) rewinds nothing.

        ``venue_offset`` is the venue journal's length it recorded: the venue is rebuilt to
        it and the requests after it are set aside (``MockBroker.resume_at``), each taken
        when the resumed session makes it again. A send it does not make again, such as
        the flatten of a wind-down that a stop at an unrepeatable step began, never reached
        the venue: the venue's position stays the one the checkpoint's book holds. None
        (an older checkpoint) keeps every request, as before.

        The replayed venue owes every report again; the ones whose (possibly delayed)
        delivery time is past ``now_ns`` stay due, late fills included.
        """
        if journal_offset is not None:
            self._rewind_attempts(journal_offset)
        self._venue.resume_at(now_ns, venue_offset, by_time=True)  # None: as it was built
        self._replaying = True
        try:
            self.poll(now_ns)
        finally:
            self._replaying = False

    def close(self) -> None:
        """Close the venue journal and the attempt journal."""
        self._venue.close()
        if self._attempt_log is not None:
            self._attempt_log.close()
            self._attempt_log = None

    # -- internals ---------------------------------------------------------------------------

    def _fires(self, fault: str, rate: Decimal, cid: str, op: str, attempt: int) -> bool:
        if not rate or unit_draw(self._seed, "realish", fault, cid, op, attempt) >= rate:
            return False
        self._count(fault, cid, attempt)
        return True

    def _chosen(self, fault: str, rate: Decimal, cid: str) -> bool:
        return bool(rate) and unit_draw(self._seed, "realish", fault, cid) < rate

    def _count(self, fault: str, cid: str, attempt: int = 0) -> None:
        if not self._replaying:
            self.faults[fault] += 1
            self.fault_log.append((fault, cid, attempt))

    def _deliver(self, report: BrokerReport, out: list[BrokerReport]) -> None:
        """Hand ``report`` out, noting fills that overtook a cancel request."""
        out.append(report)
        cid = report.client_order_id
        if isinstance(report, FillReport):
            if cid in self._cancel_requested:
                self._count("fill_after_cancel", cid)
            delivered = self._fills_delivered.get(cid, ZERO) + report.quantity
            venue = self._venue.order_by_client_id(cid)
            if venue is None or delivered >= venue.quantity:
                self._fills_delivered.pop(cid, None)
                self._cancel_requested.pop(cid, None)
            else:
                self._fills_delivered[cid] = delivered
        elif isinstance(report, (CancelReport, RejectReport)):
            self._fills_delivered.pop(cid, None)
            self._cancel_requested.pop(cid, None)

    def _fill_in_flight(self, cid: str) -> bool:
        """Whether the venue executed more of ``cid`` than has been reported so far."""
        venue = self._venue.order_by_client_id(cid)
        if venue is None:
            return False
        return venue.filled_quantity > self._fills_delivered.get(cid, ZERO)

    def _remember(self, key: tuple[str, str], attempt: int) -> None:
        attempts = self._attempts
        attempts[key] = attempt
        if len(attempts) > ATTEMPT_WINDOW:
            del attempts[next(iter(attempts))]

    def _next_attempt(self, op: str, cid: str, now_ns: int) -> int:
        key = (op, cid)
        attempt = self._attempts.get(key, 0) + 1
        self._remember(key, attempt)
        log = self._attempt_log
        replayed = op == "submit" and attempt in self._replayed_sends.get(cid, ())
        if log is not None and not replayed:  # a replayed attempt's line is there already
            entry = {"attempt": attempt, "cid": cid, "now_ns": now_ns, "op": op}
            append_entry(log, entry, path=self._attempts_path)
        return attempt

    def _replay_attempts(self, path: Path) -> None:
        if not path.exists():
            return
        data = path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            truncate_to(path, end)  # a torn last attempt: kept aside in <file>.torn
        offset = 0
        for raw in data[:end].splitlines(keepends=True):
            offset += len(raw)
            entry: Any = orjson.loads(raw)
            key = (str(entry["op"]), str(entry["cid"]))
            attempt = int(entry["attempt"])
            self._attempt_ends.append((offset, key, attempt))
            self._remember(key, max(self._attempts.get(key, 0), attempt))

    def _rewind_attempts(self, offset: int) -> None:
        """Take the attempt counts back to the journal's first ``offset`` bytes.

        The attempts after it are made again by the resumed session, with the same numbers.
        Their lines stay in the journal (a replayed submit attempt is not written twice):
        a resume killed before it replayed them finds them again.
        """
        if self._attempts_path is None or self._attempt_log is None:
            return
        self._attempts.clear()
        for end, key, attempt in self._attempt_ends:
            if end <= offset:
                self._remember(key, max(self._attempts.get(key, 0), attempt))
            elif key[0] == "submit":
                self._replayed_sends.setdefault(key[1], set()).add(attempt)
        self._attempt_ends = []  # only a resume, once, needs them

    def _take_replayed(self, cid: str, attempt: int) -> bool:
        """Whether this submit attempt replays one made before the crash (then forgotten)."""
        replayed = self._replayed_sends.get(cid)
        if replayed is None or attempt not in replayed:
            return False
        replayed.discard(attempt)
        if not replayed:
            del self._replayed_sends[cid]
        return True

    def __repr__(self) -> str:
        return (
            f"RealishBroker(seed={self._seed}, faults={self._faults!r}, "
            f"fill_model={self._fill_model!r})"
        )


def attempts_path(journal: Path) -> Path:
    """Where a realish broker keeps its attempt journal, next to the venue ``journal``."""
    journal = Path(journal)
    return journal.with_name(f"{journal.stem}.attempts.jsonl")
