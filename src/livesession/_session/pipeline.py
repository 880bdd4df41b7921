"""The step pipeline: what one step in DRYRUN_ACTIVE does, in order.

clock tick -> market feed -> broker reports -> runtime checks (book invariants, daily
loss) -> strategy -> per intent: rails, idempotency reserve, broker -> reports -> kill
switch progress -> reconciliation -> step hooks -> checkpoint. A step whose feed has run
out, or that reaches ``max_steps``, starts the wind-down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._domain.lifecycle import SessionState
from .._exceptions import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._domain.model import Bar
    from .assembly import SessionParts

__all__ = ["FEED_EXHAUSTED", "check_step_count", "step_once"]

_ACTIVE = SessionState.DRYRUN_ACTIVE
FEED_EXHAUSTED: Final = "FEED_EXHAUSTED"
"""The stop reason of a run whose feed ran out of bars before ``steps``."""


def check_step_count(n: object, *, done: int, max_steps: int) -> None:
    """``run_n_steps(n)`` is bounded: ``n`` must be a positive int within ``max_steps``."""
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ConfigError(f"run_n_steps needs a positive integer, got {n!r}")
    remaining = max_steps - done
    if n > remaining:
        raise ConfigError(
            f"run_n_steps({n}) would pass the bound max_steps={max_steps} ({remaining} steps left)"
        )


def step_once(p: SessionParts, *, after_step: Callable[[], None]) -> None:
    """Run one step; ``after_step`` runs once the step's bar is done (the step hooks)."""
    time, lifecycle = p.time, p.lifecycle
    regression = time.next_tick()
    if regression is not None:
        previous, now = regression
        lifecycle.fault("CLOCK_REGRESSION", {"previous": previous, "now": now})
        return
    bar = p.feed.next_bar(time.ts_sim)
    if bar is None:
        # No bar, no step: the run ends cleanly after the last bar it had.
        lifecycle.reason = FEED_EXHAUSTED
        p.winddown.request_stop(FEED_EXHAUSTED)
        return
    _on_bar(p, bar)
    if lifecycle.machine.state is not _ACTIVE:
        return
    time.steps += 1
    after_step()
    p.checkpointer.end_of_step(time.steps)
    if time.steps >= p.config.max_steps and lifecycle.machine.state is _ACTIVE:
        p.winddown.request_stop("max_steps reached")


def _on_bar(p: SessionParts, bar: Bar) -> None:
    book = p.book
    book.mark(bar.symbol, bar.close)
    p.broker.on_market(bar)
    p.recorder.emit(
        "BAR",
        {
            "symbol": bar.symbol,
            "open": str(bar.open),
            "high": str(bar.high),
            "low": str(bar.low),
            "close": str(bar.close),
            "volume": str(bar.volume),
        },
    )
    p.reports.process()
    violation = book.invariant_violation()
    if violation is not None:
        p.lifecycle.fault(*violation)
        return
    winddown, governor = p.winddown, p.governor
    if governor.daily_loss_breached(book, p.time.ts_sim):
        winddown.kill("DAILY_LOSS")
    if not governor.halted:
        for intent in p.strategy.on_bar(bar, book):
            p.execution.handle_intent(intent)
    p.reports.process()
    winddown.continue_kill()
    p.reconciliation.reconcile()
    if winddown.killing:
        winddown.check_flat()  # the reconciler may just have confirmed the last cancel
