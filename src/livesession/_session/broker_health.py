"""Broker health: failed broker calls in a row, and silence, halt trading.

Every broker call site reports to ``BrokerHealth``: ``ok(operation)`` after any answer (a
venue rejection is an answer), ``failed(operation, error)`` after a ``Transient`` error or
a timeout (``OutcomeUnknown``), ``polled()`` after a successful poll, ``nothing_owed()`` on
a step that did not poll because the venue owed the session nothing, ``answered(operation)``
after a call whose answer ends only its own kind's row (the feed's candles). Failed calls
are counted in a row twice: of any kind (any answer ends that row), and of each kind (only
an answer of that kind ends its row). ``max_failures`` in either row, or no successful poll
for ``silence_ns`` of simulated time while something was owed, make the broker unhealthy:
a ``BROKER_UNHEALTHY`` event (audit ``C2_OPERATOR_REQUIRED``) and trading HALTED with
reason ``BROKER_UNHEALTHY``. So a venue whose sends always fail, or whose open-orders query
fails every step while its polls answer, halts trading too. Only an operator's
``reenable_trading`` lifts the halt; it also starts the counts afresh (``reset``). While the
halt stands, further failures are counted but not reported again.

Every failed call is counted by operation (``failed_calls``: the summary's ``broker`` line,
``DryrunResult.broker_failures``) and said in the session log, at ``warning`` for the
first of an operation and each tenfold after (1, 10, 100, ...: a venue down for a day logs
a handful of lines), at ``debug`` for every one.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Final

from .._risk.governor import TradingState
from .._support.logging import get_logger, logs_debug
from .._support.secrets import redact_text

if TYPE_CHECKING:
    from .context import SessionContext

__all__ = ["BROKER_UNHEALTHY", "BrokerHealth"]

BROKER_UNHEALTHY: Final = "BROKER_UNHEALTHY"
"""The reason code of a halt for an unhealthy broker."""


class BrokerHealth:
    """Consecutive failed broker calls and the time of the last successful poll."""

    def __init__(
        self, ctx: SessionContext, *, max_failures: int, silence_ns: int, start_ns: int
    ) -> None:
        self._c = ctx
        self._max = max_failures
        self._silence_ns = silence_ns
        self.failures = 0
        """Failed calls in a row, of any kind."""
        self.in_a_row: Counter[str] = Counter()
        """Failed calls in a row of each operation (only that operation's answer ends one)."""
        self.last_poll_ns = start_ns
        self.tripped = False
        self.failed_calls: Counter[str] = Counter()
        """Failed calls of the run by operation (``poll``, ``reconcile``, ``submit``, ...)."""

    def ok(self, operation: str) -> None:
        """A broker call got an answer (a rejection counts): the rows it ends end."""
        self.failures = 0
        if self.in_a_row:  # none begun, as on most steps: nothing to end
            self.in_a_row.pop(operation, None)

    def answered(self, operation: str) -> None:
        """A call of ``operation`` got an answer: that operation's row ends, not the other.

        The feed's candles (``fetch_ohlcv``) report so on every bar: their answer never ended
        the row of any kind, and a fetch that failed long before is no fetch failing now.
        """
        if self.in_a_row:  # none begun, as on most steps: nothing to end
            self.in_a_row.pop(operation, None)

    def polled(self) -> None:
        """A poll got an answer."""
        self.ok("poll")
        self.last_poll_ns = self._c.time.ts_sim

    def nothing_owed(self) -> None:
        """A step did not poll: nothing of the session's was open or closing at the venue.

        Nothing could be late, so the silence clock starts afresh; the failure streak is
        left as it is (no call was made, so none was answered).
        """
        self.last_poll_ns = self._c.time.ts_sim

    def failed(self, operation: str, error: BaseException, *, poll: bool = False) -> None:
        """A broker call failed (transient error or timeout): counted, and logged."""
        self.failures += 1
        self.in_a_row[operation] += 1
        self.failed_calls[operation] += 1
        self._log(operation, error)
        if self.tripped:
            return
        in_a_row = max(self.failures, self.in_a_row[operation])
        if in_a_row >= self._max:
            self._trip("CONSECUTIVE_FAILURES", operation, error, in_a_row)
        elif (
            poll
            and self._silence_ns
            and self._c.time.ts_sim - self.last_poll_ns >= self._silence_ns
        ):
            self._trip("SILENCE", operation, error)

    def _log(self, operation: str, error: BaseException) -> None:
        """Say the failure in the session log: every one at debug, a tenfold at warning."""
        count = self.failed_calls[operation]
        loud = str(count).rstrip("0") == "1"  # 1, 10, 100, ...
        if not (loud or logs_debug()):
            return
        said = get_logger().warning if loud else get_logger().debug
        said(
            "broker_call_failed",
            run_id=self._c.config.run_id,
            operation=operation,
            error=type(error).__name__,
            message=redact_text(str(error)),
            failed=count,
            in_a_row=max(self.failures, self.in_a_row[operation]),  # the row a halt counts
        )

    def reset(self) -> None:
        """An operator re-enabled trading: count afresh."""
        self.failures = 0
        self.in_a_row.clear()
        self.tripped = False
        self.last_poll_ns = self._c.time.ts_sim

    def _trip(
        self, reason: str, operation: str, error: BaseException, failures: int | None = None
    ) -> None:
        self.tripped = True
        ts_sim = self._c.time.ts_sim
        self._c.recorder.emit(
            "BROKER_UNHEALTHY",
            {
                "reason": reason,
                "failures": self.failures if failures is None else failures,
                "operation": operation,
                "error": type(error).__name__,
                "silent_ns": ts_sim - self.last_poll_ns,
            },
        )
        self._c.governor.set_trading(TradingState.HALTED, BROKER_UNHEALTHY)

    # -- checkpoint ----------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The checkpoint keys this collaborator owns."""
        health: dict[str, Any] = {
            "failures": self.failures,
            "last_poll_ns": self.last_poll_ns,
            "tripped": self.tripped,
        }
        if self.in_a_row:  # only then, as failed_calls: an older checkpoint has neither
            health["in_a_row"] = dict(sorted(self.in_a_row.items()))
        if self.failed_calls:  # only then: the checkpoint of a run without any is as it was
            health["failed_calls"] = dict(sorted(self.failed_calls.items()))
        return {"broker_health": health}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint made by ``get_state``.

        Older ones: without ``broker_health``, healthy and none failed; without ``in_a_row``
        (made before the rows of each kind), no kind's row begun (the row of any kind holds).
        """
        health = state.get("broker_health")
        if health is None:
            self.failures, self.last_poll_ns, self.tripped = 0, state["ts_sim"], False
            self.in_a_row, self.failed_calls = Counter(), Counter()
            return
        self.failures = health["failures"]
        self.last_poll_ns = health["last_poll_ns"]
        self.tripped = health["tripped"]
        self.in_a_row = Counter(health.get("in_a_row", {}))
        self.failed_calls = Counter(health.get("failed_calls", {}))
