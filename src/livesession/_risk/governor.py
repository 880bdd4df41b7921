"""The trading state and the counts the risk rules look at.

``TradingGovernor`` is the one owner of whether new orders may be sent (``TradingState``:
ACTIVE, REDUCING or HALTED), of the execution count the throttle reads, of the orders sent
in the current simulated second (ORDER_RATE) and of the simulated UTC day whose peak equity
the daily-loss cap measures from. Other concerns ask it; none keeps a copy.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Final, Protocol

from .shares import daily_loss_figures

if TYPE_CHECKING:
    from collections.abc import Mapping
    from decimal import Decimal

    from .._artifacts.recorder import Recorder

__all__ = ["NS_PER_DAY", "DayBook", "TradingGovernor", "TradingState"]

NS_PER_SEC: Final = 1_000_000_000
NS_PER_DAY: Final = 86_400 * NS_PER_SEC


class DayBook(Protocol):
    """What the daily-loss cap reads of the book, and the day's peak it keeps there."""

    day_peak_equity: Decimal

    @property
    def positions(self) -> Mapping[str, Decimal]:
        """Net position per symbol."""
        ...

    def equity(self) -> Decimal:
        """Cash plus positions at their last price."""
        ...

    def adding_orders(self) -> list[str]:
        """The open orders that could add exposure."""
        ...


class TradingState(enum.Enum):
    """Whether new orders may be sent: all, only reducing ones, or none."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class TradingGovernor:
    """Trading state, executions, the order rate's second and the daily-loss day."""

    def __init__(self, recorder: Recorder, *, daily_loss_pct: Decimal, start_ns: int) -> None:
        self._recorder = recorder
        self._daily_loss_pct = daily_loss_pct
        self.state = TradingState.ACTIVE
        self._kill_halted = False
        self.executions = 0
        self._rate_second = -1
        self._rate_count = 0
        self._day = start_ns // NS_PER_DAY

    @property
    def halted(self) -> bool:
        """No new orders: only cancels and the kill switch's flatten orders."""
        return self.state is TradingState.HALTED

    @property
    def kill_halted(self) -> bool:
        """Whether the halt is the kill switch's (``halt``), which flattens the position.

        A halt by the execution throttle or an unhealthy broker leaves the position held:
        the daily-loss cap still pulls the kill switch then.
        """
        return self._kill_halted

    def set_trading(self, new: TradingState, reason: str) -> None:
        """Change the trading state, recorded as ``TRADING_STATE_CHANGED``."""
        before = self.state
        if before is new:
            return
        self.state = new
        self._kill_halted = False
        self._recorder.emit(
            "TRADING_STATE_CHANGED", {"from": before.value, "to": new.value, "reason": reason}
        )
        self._out_now()

    def halt(self) -> TradingState:
        """The kill switch's HALTED (or a lost lease's); the state before.

        No record of its own (the caller records why); ``kill_halted`` until an operator
        re-enables.
        """
        before, self.state = self.state, TradingState.HALTED
        self._kill_halted = True
        return before

    def reenable(self, operator: str) -> None:
        """ACTIVE again by an operator; the throttle's execution count starts afresh."""
        before = self.state
        self.executions = 0
        self.state = TradingState.ACTIVE
        self._kill_halted = False
        self._recorder.emit(
            "TRADING_REENABLED", {"operator": operator, "trading_state": before.value}
        )
        self._out_now()

    def _out_now(self) -> None:
        """Out to the files at once, not at the next checkpoint (durability ``none``).

        A halt waits for a person, and ``livesession status`` reads a live run's trading
        state from the newest such event in events.jsonl.
        """
        self._recorder.flush(sync=False)

    def count_execution(self) -> None:
        """One more fill applied (the execution throttle counts these)."""
        self.executions += 1

    def orders_this_second(self, ts_sim: int) -> int:
        """Orders sent in the simulated second of ``ts_sim`` so far (for ORDER_RATE)."""
        self._roll_second(ts_sim)
        return self._rate_count

    def count_order(self, ts_sim: int) -> None:
        """Count an order sent in the simulated second of ``ts_sim``."""
        self._roll_second(ts_sim)
        self._rate_count += 1

    def _roll_second(self, ts_sim: int) -> None:
        second = ts_sim // NS_PER_SEC
        if second != self._rate_second:
            self._rate_second = second
            self._rate_count = 0

    def open_day(self, book: DayBook, ts_sim: int) -> None:
        """Before a bar is marked: a bar of a new simulated UTC day starts the day's peak.

        At the equity the day opened with, marked at the last closes before its first bar
        (as a desk counts a day's PnL, and ``trader_daily_pnl`` does): the move into the
        day's first bar (an overnight gap; on daily bars, the whole day) is the day's, not
        forgiven. Started from the equity after that bar, a cap on daily bars never bound.
        """
        day = ts_sim // NS_PER_DAY
        if day != self._day:
            self._day = day
            book.day_peak_equity = book.equity()

    def daily_loss_breach(self, book: DayBook, ts_sim: int) -> Mapping[str, str] | None:
        """Track the day's peak equity; what pulls the kill switch when the daily-loss cap must.

        What pulls it: ``shares.daily_loss_figures`` (the drawdown, the limit, the peak, the
        equity), for the ``KILL_SWITCH`` payload; None while the cap need not.

        Days are simulated UTC days; ``open_day`` starts a day's peak, before its first
        bar is marked. Only the kill switch's own halt (``kill_halted``: it is
        flattening, or has) keeps the cap from tripping: a halt by the throttle or an
        unhealthy broker leaves the position held, losing, so the cap still pulls it. Flat,
        it trips only while an order rests that could open exposure (an entry placed before
        the cap was reached): its kill cancels it; with nothing to cut, the ``DAILY_LOSS``
        rail refuses what would add.
        """
        self.open_day(book, ts_sim)  # a no-op after the step's own ``open_day``
        equity = book.equity()
        if equity > book.day_peak_equity:
            book.day_peak_equity = equity
            return None
        if self._kill_halted:
            return None
        figures = daily_loss_figures(self._daily_loss_pct, book.day_peak_equity, equity)
        # Flat, only an order resting that could open exposure is something to cut; both
        # are looked for once the cap is reached, not on every step a session waits.
        if figures is None or not (any(book.positions.values()) or book.adding_orders()):
            return None
        return figures

    # -- checkpoint ----------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The checkpoint keys this collaborator owns (``kill_halted`` only when set)."""
        state: dict[str, Any] = {
            "executions": self.executions,
            "rate": [self._rate_second, self._rate_count],
            "trading": self.state.value,
            "day": self._day,
        }
        if self._kill_halted:
            state["kill_halted"] = True
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint made by ``get_state``.

        A checkpoint written before ``kill_halted`` existed tells a kill switch still
        flattening by the wind-down's ``kill_started_ns``.
        """
        self.executions = state["executions"]
        self._rate_second, self._rate_count = state["rate"]
        self.state = TradingState(state["trading"])
        self._kill_halted = bool(state.get("kill_halted")) or (
            state.get("kill_started_ns") is not None
        )
        self._day = state["day"] if "day" in state else state["ts_sim"] // NS_PER_DAY
