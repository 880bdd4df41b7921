"""From an intent to an order at the venue: signal, rails, durable key, send.

``Execution`` numbers the session's intents (``intent_seq``), records each as ``SIGNAL``,
asks the safety rails, reserves the client order id durably and sends the order once,
retrying with backoff only what never reached the venue. An order whose outcome stays
unknown is tracked *in doubt* and never resent blindly: the reconciler adopts it once
the venue shows it, or gives it up as never sent.

With a lease, nothing is sent unless the lease is current (``SessionContext.may_trade``,
the lease clock, before the reservation; ``may_send``, which also confirms it with the
lease's store, right before the send), and a reservation the store refuses (``Fenced``: a
newer holder exists) is never sent.
"""

from __future__ import annotations

import contextlib
from decimal import ROUND_DOWN
from typing import TYPE_CHECKING, Any

from .._artifacts.recorder import crashpoint
from .._domain.decimal import ZERO, plain, quantize
from .._domain.grid import intent_on_grid
from .._domain.ids import client_order_id, record_code
from .._domain.model import Order, OrderIntent, OrderType, Side
from .._domain.reasons import CLIENT_ID_IN_USE
from .._domain.retry import call_with_retry
from .._exceptions import BrokerError, Fenced, OutcomeUnknown, Rejected, SinkFailure, Transient
from .._risk.governor import TradingState
from .._risk.kinds import QTY_BELOW_LOT
from .._risk.orderchecks import beyond_the_position, off_the_tick, unpriced
from .._risk.rails import Rejection, RiskContext
from .._typing import ConfirmingLookup, ReplayingVenue
from .aftercheckpoint import lists_sent_after, tracked_or_recovered
from .book import submitted_payload
from .desk import rail_answer
from .exits import Protection
from .resends import NotResent, resend_or_raise

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Mapping, Sequence

    from .._domain.retry import RetryPolicy
    from .._risk.rails import Rail
    from .._typing import IdempotencyStore
    from .book import Book
    from .broker_health import BrokerHealth
    from .context import SessionContext

__all__ = ["Execution"]


class Execution:
    """Intents to orders: ``SIGNAL``, rails, idempotency reserve, broker, ``ORDER_SUBMITTED``."""

    def __init__(
        self,
        ctx: SessionContext,
        *,
        idempotency: IdempotencyStore,
        rails: Sequence[Rail],
        retry: RetryPolicy,
        protect: Callable[[str, Protection], None],
        health: BrokerHealth,
        id_in_use: Callable[[Rejected], None],
    ) -> None:
        self._c = ctx
        self._id_in_use = id_in_use
        self._health = health
        self._idem = idempotency
        self._rails = tuple(rails)
        self._retry = retry
        self._protect = protect
        broker = ctx.broker
        self._confirming = broker if isinstance(broker, ConfirmingLookup) else None
        self._replays = broker if isinstance(broker, ReplayingVenue) else None
        self._listed = lists_sent_after(broker, idempotency)  # a resume looks those keys up
        self.intent_seq = 0

    def handle_intent(self, intent: OrderIntent) -> None:
        """One intent of the strategy: SIGNAL, then rails, then (maybe) an order.

        Dropped unrecorded once the session's lease is lost (the session has faulted).
        """
        if not self._c.may_trade():
            return
        cfg = self._c.config
        self.intent_seq += 1
        seq = self.intent_seq
        qty = quantize(intent.quantity, cfg.qty_lot, rounding=ROUND_DOWN)  # never above the ask
        if qty <= 0:
            # Below the lot: nothing can be sent, and the record says so.
            asked = plain(intent.quantity)
            signal_id = self._signal(seq, intent, asked)
            lot = plain(cfg.qty_lot)
            reason = f"quantity {asked} is below the lot {lot}"
            below = Rejection(rule=QTY_BELOW_LOT, reason=reason, detail={"lot": lot})
            self._reject(seq, signal_id, intent, asked, below)
            return
        intent = intent_on_grid(intent, quantity=qty, tick=cfg.price_tick)  # lot's, tick's places
        quantity = plain(qty)
        signal_id = self._signal(seq, intent, quantity)
        refused = _beyond_the_position(self._c.book, intent) or off_the_tick(intent, cfg.price_tick)
        if refused is not None:
            self._reject(seq, signal_id, intent, quantity, refused)
            return
        ctx = _risk_context(self._c, intent)
        for rail in self._rails:
            rejection = rail_answer(rail, intent, ctx)  # a junk answer names the rail
            if rejection is not None:
                self._reject(seq, signal_id, intent, quantity, rejection)
                if rejection.rule == "EXECUTION_THROTTLE":
                    # Too many executions: no new orders until an operator re-enables.
                    self._c.governor.set_trading(TradingState.HALTED, "EXECUTION_THROTTLE")
                return
        refused = unpriced(intent, ctx)  # the rails could not value it: fail closed
        if refused is not None:
            self._reject(seq, signal_id, intent, quantity, refused)
            return
        order = Order(
            client_order_id=client_order_id(cfg.run_id, cfg.strategy_id, seq, "main"),
            symbol=intent.symbol,
            side=intent.side,
            quantity=qty,
            order_type=intent.order_type,
            limit_price=intent.limit_price,
            reduce_only=intent.reduce_only,
        )
        sent = self.send(order, seq, reason=intent.reason, links={"signal_id": signal_id})
        if sent and not intent.reduce_only and (intent.take_profit_pct or intent.stop_loss_pct):
            self._protect(
                order.client_order_id,
                Protection(
                    intent_seq=seq,
                    take_profit_pct=intent.take_profit_pct,
                    stop_loss_pct=intent.stop_loss_pct,
                ),
            )

    def _signal(self, seq: int, intent: OrderIntent, quantity: str) -> str:
        """Record the intent (``SIGNAL``); its event id."""
        return self._c.recorder.emit(
            "SIGNAL",
            {
                "intent_seq": seq,
                "symbol": intent.symbol,
                "side": intent.side.value,
                "quantity": quantity,
                "reason": intent.reason,
            },
        )

    def _reject(
        self, seq: int, signal_id: str, intent: OrderIntent, quantity: str, no: Rejection
    ) -> None:
        """Record a rail's (or the lot's) refusal of the intent (``RISK_REJECTED``)."""
        self._c.recorder.emit(
            "RISK_REJECTED",
            {
                "intent_seq": seq,
                "signal_id": signal_id,
                "rule": record_code(no.rule, default="USER_RAIL"),  # a plug-in rail's own
                "symbol": intent.symbol,
                "side": intent.side.value,
                "quantity": quantity,
                **no.detail,
                "reason": no.reason or no.rule,
            },
        )

    def flatten(self, not_at_venue: Container[str] = ()) -> list[Order]:
        """A reduce-only market order against every open position (the final exit): those sent.

        None for a symbol in ``not_at_venue``: the venue says it holds none of it.
        """
        cfg = self._c.config
        sent = []
        for symbol, qty in sorted(self._c.book.positions.items()):
            if not qty or symbol in not_at_venue:
                continue
            self.intent_seq += 1
            order = Order(
                client_order_id=client_order_id(
                    cfg.run_id, cfg.strategy_id, self.intent_seq, "flatten"
                ),
                symbol=symbol,
                side=Side.SELL if qty > 0 else Side.BUY,
                quantity=abs(qty),
                order_type=OrderType.MARKET,
                reduce_only=True,
            )
            self.send(order, self.intent_seq, reason="flatten")
            sent.append(order)
        return sent

    def send(
        self,
        order: Order,
        intent_seq: int,
        *,
        reason: str,
        links: Mapping[str, str] | None = None,
    ) -> bool:
        """Reserve the key durably, then send once; True when the book tracks the order.

        ``links`` are the causal links (``signal_id``, ``fill_event_id``) that the order's
        ``ORDER_SUBMITTED`` (or ``ORDER_REJECTED``) carries; the book keeps the
        ``ORDER_SUBMITTED`` event id, which the venue's reports on the order link to.

        An order whose send outcome stays unknown (the venue may have it, and no lookup
        could tell) is tracked *in doubt*: never resent, adopted by the reconciler once
        the venue shows it, or given up as never sent when the venue still does not know
        it after the grace period. Its ``ORDER_SUBMITTED`` carries ``send_outcome``.
        """
        cid = order.client_order_id
        if not self._c.may_trade():
            return False  # the lease is lost: the session has faulted, nothing is written
        try:
            record = self._idem.reserve(cid, order.fingerprint())
        except Fenced:
            return False  # a newer holder exists: the lease is lost (the store's watch said)
        crashpoint("before_send")
        outcome = "submitted"
        in_doubt = False
        # A simulated venue that replays this send (made after the checkpoint, before a
        # crash) answers it as before: sent again, it retries and waits as the original did.
        fresh = record.created or (self._replays is not None and self._replays.replays_send(cid))
        if not fresh and tracked_or_recovered(self._c, order, record.outcome, listed=self._listed):
            return True  # the resume found it at the venue (``aftercheckpoint``): tracked once
        known = None if fresh else self.venue_knows(cid)
        if known:
            outcome = "recovered"
        elif known is None and not fresh:
            in_doubt = True  # reserved before, and the venue cannot say: never resend blindly
            outcome = "unknown"
            try:
                self._outcome_unknown(cid, 0)
            except Exception:
                self._in_doubt_after_failure(order, intent_seq, reason, links)
                raise
        else:
            if not self._c.may_send():
                return False  # lost while reserving (a pause can outlast the TTL): not sent
            sent = self._first_send(order, intent_seq, reason, links)
            if sent is None:
                return False
            outcome = sent
            in_doubt = sent == "unknown"
        crashpoint("after_send")
        book = self._c.book
        book.add_order(order, in_doubt=in_doubt)
        self._c.governor.count_order(self._c.time.ts_sim)
        payload = submitted_payload(order, reason, intent_seq=intent_seq, in_doubt=in_doubt)
        if links:
            payload.update(links)
        book.open[cid].event_id = self._c.recorder.emit("ORDER_SUBMITTED", payload)
        self._idem.complete(cid, outcome)
        return True

    def _first_send(
        self, order: Order, intent_seq: int, reason: str, links: Mapping[str, str] | None
    ) -> str | None:
        """Send a freshly reserved order: ``submitted``, ``unknown`` (in doubt), or None.

        None: it was not sent (rejected, or it never reached the venue: ``ORDER_REJECTED``).
        """
        cid = order.client_order_id
        try:
            self._submit_with_retry(order)
        except Rejected as exc:
            self._idem.complete(cid, f"rejected:{exc.reason}")
            _not_sent(self._c, cid, intent_seq, {"reason": exc.reason, **(links or {})})
            if exc.reason == CLIENT_ID_IN_USE:  # another session sends this run's ids
                self._id_in_use(exc)
            return None
        except Transient as exc:
            self._idem.complete(cid, "not_sent")
            failed = {"reason": "SEND_FAILED", "error": type(exc).__name__, **(links or {})}
            _not_sent(self._c, cid, intent_seq, failed)
            return None
        except OutcomeUnknown:
            return "unknown"
        except NotResent:
            return None  # the lease lapsed as the send was retried: as ``send``'s own check
        except Exception:
            # Recording what happened failed (a sink died) after the venue may have got the
            # order: the book tracks it in doubt before the failure goes on, so the wind-down's
            # reconciler finds it, rather than a stop that calls itself flat.
            self._in_doubt_after_failure(order, intent_seq, reason, links)
            raise
        return "submitted"

    def _in_doubt_after_failure(
        self, order: Order, intent_seq: int, reason: str, links: Mapping[str, str] | None
    ) -> None:
        """Track ``order`` in doubt; record it as sent (``send_outcome`` UNKNOWN) if a sink can.

        Its later reports then link to an ``ORDER_SUBMITTED``, as any order's do.
        """
        book = self._c.book
        book.add_order(order, in_doubt=True)
        payload = submitted_payload(order, reason, intent_seq=intent_seq, in_doubt=True)
        if links:
            payload.update(links)
        with contextlib.suppress(SinkFailure):
            book.open[order.client_order_id].event_id = self._c.recorder.emit(
                "ORDER_SUBMITTED", payload
            )

    def venue_knows(self, cid: str) -> bool | None:
        """Whether the venue has ``cid``; None when it did not answer.

        A broker with its own confirming lookup (the CCXT adapter) is asked through it, its
        bounded polling whole: only that confirms an absence, allowing the one resend.
        """
        return self._ask(cid)[0]

    def _ask(self, cid: str) -> tuple[bool | None, BrokerError | None]:
        """``venue_knows``, with the error of a lookup that got no answer."""
        try:
            if self._confirming is not None:
                known = self._confirming.lookup(cid) is not None
            else:
                known = self._c.broker.order_by_client_id(cid) is not None
        except BrokerError as exc:
            self._health.failed("lookup", exc)
            return None, exc
        self._health.ok("lookup")
        return known, None

    def _submit_with_retry(self, order: Order) -> None:
        """Send with backoff on Transient; on OutcomeUnknown look up before any resend.

        A lookup that confirms the venue lacks the order makes it a ``Transient`` failure, which
        the retry loop resends (``resend_or_raise``); a lookup with no answer resends nothing.
        """
        cid = order.client_order_id
        policy = self._retry
        time = self._c.time
        health = self._health
        failed_with = [""]

        def attempt(number: int) -> None:
            try:
                self._c.broker.submit(order, time.ts_sim)
            except Rejected:
                health.ok("submit")  # an answer, not a failure
                raise
            except Transient as exc:
                health.failed("submit", exc)
                failed_with[0] = type(exc).__name__
                raise
            except OutcomeUnknown as exc:
                health.failed("submit", exc)
                failed_with[0] = type(exc).__name__
                self._outcome_unknown(cid, number)
                found = self._lookup(cid)
                if found is not None:
                    self.outcome_resolved(cid, "AT_VENUE" if found else "NOT_AT_VENUE")
                if found:
                    return
                if found is None or number == policy.max_attempts:
                    raise  # the venue may have it: resending could send it twice
                raise Transient("not at the venue", client_order_id=cid) from None
            health.ok("submit")

        def retried(number: int, error: BaseException, delay_ns: int) -> None:
            resend_or_raise(order, self._c, error)  # its send never reached the venue
            self._c.recorder.emit(
                "BROKER_CALL_RETRIED",
                {
                    "operation": "submit",
                    "client_order_id": cid,
                    "attempt": number,
                    "error": failed_with[0],
                    "delay_ns": delay_ns,
                },
            )

        call_with_retry(
            attempt,
            policy=policy,
            key=cid,
            wait_ns=time.wait,
            now_ns=lambda: time.ts_sim,
            on_retry=retried,
        )

    def _outcome_unknown(self, cid: str, attempt: int) -> None:
        """The send of ``cid`` timed out (``attempt`` 0: before a resume): the venue may have it.

        ``outcome_resolved`` follows once a lookup or the reconciler knows.
        """
        self._c.recorder.emit(
            "ORDER_OUTCOME_UNKNOWN",
            {"client_order_id": cid, "operation": "submit", "attempt": attempt},
        )

    def outcome_resolved(self, cid: str, resolution: str) -> None:
        """What became of a send whose outcome was unknown (``ORDER_OUTCOME_RESOLVED``).

        ``AT_VENUE`` or ``NOT_AT_VENUE`` from the lookup right after the timeout;
        ``ADOPTED`` or ``NOT_SENT`` from the reconciler for an order sent in doubt.
        """
        self._c.recorder.emit(
            "ORDER_OUTCOME_RESOLVED", {"client_order_id": cid, "resolution": resolution}
        )

    def _lookup(self, cid: str) -> bool | None:
        """Bounded polling for an order whose send outcome is unknown.

        True when the venue has it, False when the venue answered that it does not, None
        when no lookup got an answer.
        """
        policy = self._retry
        answered = False
        for attempt in range(1, policy.max_attempts + 2):
            known, error = self._ask(cid)
            if known:
                return True
            answered = answered or known is not None
            if attempt > policy.max_attempts:
                break
            delay = policy.delay_ns(f"lookup:{cid}", attempt)
            if error is not None:  # asked again because no answer came (not mere polling)
                self._c.recorder.emit(
                    "BROKER_CALL_RETRIED",
                    {
                        "operation": "lookup",
                        "client_order_id": cid,
                        "attempt": attempt,
                        "error": type(error).__name__,
                        "delay_ns": delay,
                    },
                )
            self._c.time.wait(delay)
        return False if answered else None

    def get_state(self) -> dict[str, Any]:
        """The checkpoint keys this collaborator owns."""
        return {"intent_seq": self.intent_seq}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint made by ``get_state``."""
        self.intent_seq = state["intent_seq"]


def _not_sent(c: SessionContext, cid: str, intent_seq: int, why: Mapping[str, str]) -> None:
    """``ORDER_REJECTED`` of an order not sent; ``why``: its reason (and a leg's links)."""
    c.recorder.emit("ORDER_REJECTED", {"client_order_id": cid, "intent_seq": intent_seq, **why})


def _beyond_the_position(book: Book, intent: OrderIntent) -> Rejection | None:
    """``beyond_the_position`` on ``book``: the position, and what its other orders close."""
    held = book.positions.get(intent.symbol, ZERO)
    closing = book.open_quantity(intent.symbol, intent.side, reducing=False)
    return beyond_the_position(intent, held, closing)


def _risk_context(c: SessionContext, intent: OrderIntent) -> RiskContext:
    """What the rails may look at for ``intent``, from the book and the governor."""
    book = c.book
    price = book.last_price.get(intent.symbol, ZERO)
    governor = c.governor
    held = book.position(intent.symbol)
    on_side = book.open_quantity(intent.symbol, intent.side)
    against = held > 0 if intent.side is Side.SELL else held < 0
    return RiskContext(
        last_price=price,
        equity=book.equity(),
        day_peak_equity=book.day_peak_equity,
        position=held,
        open_exposure=book.exposure(intent.symbol, price) + book.stop_risk(),
        orders_this_second=governor.orders_this_second(c.time.ts_sim),
        executions=governor.executions,
        trading_state=governor.state.value,
        open_on_side=on_side,
        open_reducing_on_side=(
            book.open_quantity(intent.symbol, intent.side, reducing=True)
            if on_side and against
            else ZERO
        ),
    )
