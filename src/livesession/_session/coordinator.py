"""The live session orchestrator: a small coordinator over the session's collaborators.

Public verbs (``preflight``, ``activate``, ``step``, ``run_n_steps``, ``request_stop``,
``kill``, ``acknowledge``, ``close``) fire the lifecycle machine; nothing else changes
the state. One step in DRYRUN_ACTIVE runs, in order: market feed, clock tick, bar, broker
reports, runtime checks, strategy, rails, idempotency reserve, broker, reports, kill switch
progress, reconciliation, step hooks, checkpoint (``pipeline.py``).

The coordinator keeps that order and the verbs; each concern is a collaborator that owns
its state (``_session/assembly.py`` wires them): ``Timekeeper`` (steps and simulated
time), ``SessionLifecycle`` (machine, failed/sealed/reason, snapshots, seal),
``TradingGovernor`` (ACTIVE/REDUCING/HALTED, executions, order rate, daily loss),
``Execution`` (intents, rails, idempotency, sending), ``ReportRouter`` (acks, fills,
cancels), ``OcoExits``, ``WindDown`` (wind-down and kill switch), ``Reconciliation``,
``LeaseKeeper`` and ``Checkpointer``. The operator verbs' rules are in ``verbs.py``; the
owner thread and the session lock that lets other threads call them are in ``threads.py``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Final, Self, Unpack

from .._domain.lifecycle import SESSION_CLOSED, SessionState, SessionStatus, Trigger
from .._exceptions import LiveSessionError
from .._risk.governor import TradingState
from .._typing import Closable
from . import verbs
from .aftercheckpoint import recover_orders
from .assembly import SessionEdges, SessionParts, assemble
from .closing import LateSeal, let_go, release, sealed_late, stop_and_seal
from .pipeline import check_step_count, guarded_reconcile, guarded_step, run_hooks
from .preflight import ready_to_activate, refuse_again, refused_call, run_preflight
from .results import DryrunResult, SessionInspection, inspect_parts, result_of
from .threads import DeferredInterrupt, InProcessOnly, SessionGate, VerbOutcome, VerbResult
from .verbs import under_lock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .._artifacts.recorder import Recorder
    from .._domain.config import DryrunConfig
    from .._domain.model import Order
    from .._risk.checks import Check
    from .._typing import Broker, Clock
    from ..leases import LeaseGrant
    from .book import BookView

__all__ = [
    "ONE_SHOT_OPERATOR",
    "SESSION_CLOSED",
    "DryrunResult",
    "LiveSessionOrchestrator",
    "SessionInspection",
    "VerbOutcome",
    "VerbResult",
    "give_strategy",
    "restore_resumed",
]

S = SessionState
ONE_SHOT_OPERATOR: Final = "cli"
"""The operator name the one-shot CLI acknowledges a fault of its inputs with."""


class LiveSessionOrchestrator(InProcessOnly):
    """Runs one trading session as a state machine over injected edges.

    Build it with a config and (optionally) a clock, broker, feed, strategy, sinks and
    stores; or build it bare and call ``run_dryrun`` once, as the operator runbook does.
    Live trading is off: preflight rejects ``enabled=True`` unless ``live_override``.
    """

    def __init__(self, config: DryrunConfig | None = None, **edges: Unpack[SessionEdges]) -> None:
        """A session for ``config`` over the injected ``edges`` (see ``SessionEdges``).

        The edges, keyword-only: ``clock``, ``broker``, ``feed``, ``strategy``, ``event_sink``,
        ``state_sink``, ``audit_sink``, ``metrics_sink``, ``idempotency``, ``checkpoints``,
        ``rails``, ``checks``, ``retry_policy``, ``live_override``, ``lease``, ``lease_clock``,
        ``lease_holder``, ``alerts`` (an ``AlertSink``, closed with the last session using
        it); an unknown one is a ``TypeError``. Without ``audit_sink`` (no default)
        preflight rejects it.
        """
        self.extra_checks: list[Check] = []
        self.step_hooks: list[Callable[[LiveSessionOrchestrator], None]] = []
        self._released = False
        self._owns_strategy = False
        self._unclosed = ""
        self._closes_with: list[Closable] = []
        self._p: SessionParts | None = None
        self._gate = SessionGate()
        self._gate.on_torn = self._let_go  # torn: it lets go of its run at once
        self._run_hooks = functools.partial(_run_hooks, self)
        if config is not None:
            self._build(config, edges)

    def _build(self, config: DryrunConfig, edges: SessionEdges) -> None:
        self._gate.claim()  # the thread that builds the session owns it
        self._p = assemble(config, edges, seal=self._seal)
        self._gate.done = lambda: self._parts().lifecycle.sealed
        self._owns_strategy = edges.get("strategy") is None  # made here: closed here

    def _parts(self) -> SessionParts:
        p = self._p
        if p is None:
            raise LiveSessionError(
                "this orchestrator has no config: pass one to LiveSessionOrchestrator(config) "
                "or call run_dryrun(cfg, ...)"
            )
        return p

    # -- read-only view ------------------------------------------------------------------

    @property
    def config(self) -> DryrunConfig:
        """The session's configuration."""
        return self._parts().config

    @property
    def state(self) -> SessionState:
        """The lifecycle state."""
        return self._parts().lifecycle.state

    @property
    def status(self) -> SessionStatus:
        """The operator-facing status (FAILED stays FAILED once reached)."""
        return self._parts().lifecycle.status

    @property
    def trading_state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""
        return self._parts().governor.state

    @property
    def steps_done(self) -> int:
        """Steps completed so far."""
        return self._parts().time.steps

    @property
    def ts_sim(self) -> int:
        """Current simulated time in nanoseconds."""
        return self._parts().time.ts_sim

    @property
    def book(self) -> BookView:
        """A frozen picture of positions, cash, equity and open orders."""
        with self._gate.read("book"):
            return self._parts().book.view()

    @property
    def recorder(self) -> Recorder:
        """The artifact recorder (counts, offsets, digests)."""
        return self._parts().recorder

    @property
    def broker(self) -> Broker:
        """The broker the session trades with."""
        return self._parts().broker

    @property
    def lease_grant(self) -> LeaseGrant | None:
        """The session lease this session holds now (None without a lease or once lost)."""
        keeper = self._parts().lease
        return None if keeper is None else keeper.grant

    def inspect(self) -> SessionInspection:
        """What is in flight inside the session right now (read-only)."""
        with self._gate.read("inspect()"):
            return inspect_parts(self._parts(), unclosed=self._unclosed)

    def iter_open_orders(self) -> Iterator[Order]:
        """The orders the session considers open (taken under the session lock)."""
        with self._gate.read("iter_open_orders()"):
            orders = [live.order for live in self._parts().book.open.values()]
        yield from orders

    # -- the operator runbook's one-shot entry point -----------------------------------------

    def run_dryrun(
        self,
        cfg: DryrunConfig,
        *,
        clock: Clock | None = None,
        event_sink: object,
        state_sink: object,
        metrics_sink: object,
        audit_sink: object,
        broker: Broker | None = None,
        live_override: bool = False,
    ) -> DryrunResult:
        """Preflight, run ``cfg.steps`` steps, stop, and write the four artifacts."""
        if self._p is not None:
            raise LiveSessionError(
                "run_dryrun needs a fresh LiveSessionOrchestrator(); this one is already set up"
            )
        self._build(
            cfg,
            SessionEdges(
                clock=clock,
                broker=broker,
                event_sink=event_sink,
                state_sink=state_sink,
                audit_sink=audit_sink,
                metrics_sink=metrics_sink,
                live_override=live_override,
            ),
        )
        return self.run_to_end(cfg.steps)

    def run_to_end(
        self,
        steps: int,
        *,
        progress: Callable[[int], None] | None = None,
        operator: str | None = None,
    ) -> DryrunResult:
        """From wherever the session is, run to ``steps`` completed steps and close it.

        ``steps`` is a positive int (``max_steps`` stops the run first). A run ending in
        ERROR_REQUIRES_OPERATOR is sealed as it stands (FAILED) unless ``operator`` is given
        and the fault is a strategy or feed error (``STRATEGY_ERROR``, ``FEED_ERROR``):
        ``operator`` acks it, so it cancels, flattens and stops (FAILED; the CLI's is ``cli``).
        """
        p = self._parts()
        verbs.check_run_to_end(steps, operator)  # before a step: a typo faults nothing
        self._gate.check_runner("run_to_end", p.config.run_id)
        if p.lifecycle.state is S.INIT and not self.preflight():
            self.close()
            return self.result()
        _activate(p, self._gate, only_if_ready=True)
        time = p.time
        with DeferredInterrupt(self._gate.inside, self, closes=True) as interrupt:
            while (done := time.steps) < steps and self._step_if_active():
                interrupt.check()
                if progress is not None and time.steps > done:  # the run's end, no bar: no step
                    progress(time.steps)
            if p.lifecycle.state is S.DRYRUN_ACTIVE:  # before the operator's turn: the stop's
                self.request_stop(SESSION_CLOSED)  # state check may fault the run instead
            if operator is not None and verbs.input_fault(p):
                self.acknowledge(operator)
            self.close()
        return self.result()

    def result(self) -> DryrunResult:
        """The session's outcome so far."""
        with self._gate.read("result()"):
            return result_of(self._parts(), torn=self._gate.torn_said(self.steps_done))

    # -- lifecycle verbs -------------------------------------------------------------------

    def preflight(self) -> bool:
        """The startup checks: True (PREFLIGHT_OK) if all pass, else False (PREFLIGHT_FAILED)."""
        p = self._parts()
        lifecycle, seal = p.lifecycle, LateSeal(self._seal, p.lifecycle)
        with self._gate.owned("preflight", p.config.run_id):
            self._gate.refuse_torn("preflight", p.config.run_id, p.time.steps)
            refuse_again(lifecycle.state, lifecycle.reason)  # once, from INIT
            passed = run_preflight(p, extra_checks=self.extra_checks, seal=seal)
        seal.raise_late(self.close)
        return passed

    def activate(self) -> None:
        """Start trading in dry-run mode (PREFLIGHT_OK -> DRYRUN_ACTIVE).

        The venue is reconciled at once, with no grace: an order it has open that this
        fresh session does not know is escalated to an operator before any step runs.
        (A resumed session instead reconciles before its first step, and holds back
        grace-based decisions until it has re-run past the point the venue had reached.)
        """
        _activate(self._parts(), self._gate, only_if_ready=False)

    def step(self) -> None:
        """Run one bounded step; needs DRYRUN_ACTIVE.

        The first step after ``restore_state`` reconciles the venue first. An exception
        from the feed or the strategy does not escape: trading halts, open orders are
        cancelled, ``FEED_ERROR``/``STRATEGY_ERROR`` records its type and redacted message,
        and the session enters ERROR_REQUIRES_OPERATOR. ``KeyboardInterrupt`` and ``SystemExit``
        go on and tear it, its run left a crash to resume (``run_n_steps`` defers a Ctrl-C).

        Only the thread that built the session may step it. A verb another thread calls
        meanwhile waits for the step to end; ``run_n_steps`` checks the state under the
        same lock, so it is the race-free way to step while other threads may stop.
        """
        if not self._step_if_active():
            raise refused_call("step", self.state, self._parts().lifecycle.reason)

    def _step_if_active(self, what: str = "step") -> bool:
        """One step under the session lock if the session is DRYRUN_ACTIVE; else False."""
        p = self._parts()
        gate = self._gate
        gate.enter_owned(what, p.config.run_id)
        try:
            if gate.torn_by:
                gate.refuse_torn(what, p.config.run_id, p.time.steps)
            if p.lifecycle.machine.state is not S.DRYRUN_ACTIVE:
                return False
            guarded_step(p, after_step=self._run_hooks if self.step_hooks else None)
        except BaseException as exc:
            gate.tear(exc, unhandled=Exception)
            raise
        finally:
            gate.leave()
        if gate.deferred:
            gate.run_deferred()  # verbs a signal handler called during the step
        return True

    def run_n_steps(self, n: int) -> int:
        """Run up to ``n`` steps; the number run (fewer once it leaves DRYRUN_ACTIVE).

        It stops at ``max_steps``, never past. Not activated: ``InvalidTransition``. The
        attempt that ends the session without a bar (the feed ran out, or raised) is none.
        """
        p = self._parts()
        self._gate.check_runner("run_n_steps", p.config.run_id)
        if p.lifecycle.state in (S.INIT, S.PREFLIGHT_OK):
            raise refused_call("run_n_steps", p.lifecycle.state)
        check_step_count(n)
        tried, before = 0, p.time.steps
        step = self._step_if_active
        with DeferredInterrupt(self._gate.inside, self) as interrupt:
            while tried < n and step("run_n_steps"):
                tried += 1
                interrupt.check()
        return p.time.steps - before

    def request_stop(self, reason: str = "operator", *, sealed_as: bool = False) -> VerbResult:
        """Stop: cancel open orders, flatten, final snapshot, STOPPED (bounded).

        ``sealed_as``: ``reason`` is also the one the seal records (the CLI's signal stops).
        Any thread may call it; stopping or stopped, it does nothing and says so (``ALREADY``);
        a feed's or strategy's state it cannot record faults the session (its error's).
        """
        return under_lock(self._gate, self._parts, verbs.request_stop, reason, sealed_as=sealed_as)

    def kill(self, reason: str = "operator") -> VerbResult:
        """Kill switch: HALTED, cancel everything, flatten, audit ``C2_KILL_SWITCH``.

        Needs PREFLIGHT_OK (it activates HALTED), DRYRUN_ACTIVE or STOPPING (else
        ``NOT_APPLICABLE``); a second kill is ``ALREADY``. Any thread may call it.
        """
        return under_lock(self._gate, self._parts, verbs.kill, reason)

    def acknowledge(self, operator: str = "operator") -> VerbResult:
        """Operator acknowledges ERROR_REQUIRES_OPERATOR: STOPPING, cancel, flatten, STOPPED.

        Audited as ``C2_OPERATOR_ACK``. The operator takes over every discrepancy the
        reconciler escalated (no longer tracked: ``RECONCILED``, ``DROPPED``), so the
        wind-down can flatten what the book knows and stop. Elsewhere, or after a lost lease
        (the new holder owns the orders), ``NOT_APPLICABLE``: after a kill or halt,
        ``reenable_trading`` (``livesession ack``) is meant, as it says. Any thread may call it.
        """
        return under_lock(self._gate, self._parts, verbs.acknowledge, operator)

    def reduce_only(self, reason: str = "operator") -> VerbResult:
        """Trading REDUCING (only orders that reduce exposure pass) until ``reenable_trading``.

        Applies while the session may trade and is not HALTED; ``TRADING_STATE_CHANGED``.
        """
        return under_lock(self._gate, self._parts, verbs.reduce_only, reason)

    def reenable_trading(self, operator: str = "operator") -> VerbResult:
        """Trading ACTIVE again, with fresh throttle and broker-failure counts.

        Applies while the session may trade and no kill is flattening; ``TRADING_REENABLED``.
        """
        return under_lock(self._gate, self._parts, verbs.reenable_trading, operator)

    def close(self) -> None:
        """End the session: stop if still running, then seal the artifacts (idempotent).

        A session in ERROR_REQUIRES_OPERATOR is sealed as it stands, status FAILED (never
        COMPLETED); ``acknowledge`` it first to cancel and flatten before the seal. A resumed
        STOPPING finishes that stop. Any thread may call it; the owner's running step ends first.
        A torn session let go of its run as it was torn: its ``close`` writes nothing.
        """
        if not self._gate.deferring(self.close):  # called inside a step: at its end
            with self._gate.hold():
                late = self._close()
            if late is not None:  # the seal is on disk, the session let go: nothing is torn
                raise late

    def _close(self) -> BaseException | None:
        p, late = self._parts(), None
        if not self._gate.torn_by and not p.lifecycle.sealed:  # a torn one has let go
            late = sealed_late(lambda: stop_and_seal(p, self._seal), p.lifecycle)
        if not self._released:
            self._released = True
            self._unclosed = release(p, self._closes_with, strategy=self._owns_strategy)
        return late

    def _let_go(self) -> None:
        """A torn session lets go of its run, writing nothing more to it (``let_go``)."""
        if not self._released:
            self._released = True
            gate, owns = self._gate, self._owns_strategy
            self._unclosed = let_go(self._parts(), gate, self._closes_with, strategy=owns)

    def close_with(self, resource: Closable) -> None:
        """Close ``resource`` when the session closes, after all it holds (a writer lock)."""
        self._closes_with.append(resource)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        p = self._p
        if p is None:
            return "LiveSessionOrchestrator(<unconfigured>)"
        torn = self._gate.torn_by  # a torn session takes no step: say so, not only RUNNING
        torn = f", torn by {torn}: it takes no step; resume its run" if torn else ""
        return (
            f"LiveSessionOrchestrator(run_id={p.config.run_id!r}, "
            f"state={p.lifecycle.state.value}, status={p.lifecycle.status.value}, "
            f"steps={p.time.steps}{torn})"
        )

    # -- the lease -------------------------------------------------------------------------

    def acquire_lease(self) -> bool:
        """Acquire the session lease now (False while another holder has it).

        Audits ``C2_LEASE_ACQUIRED`` with the fencing token. True without a lease.
        """
        keeper = self._parts().lease
        return True if keeper is None else keeper.acquire()

    def adopt_lease(self, grant: LeaseGrant, *, audit: bool = True) -> None:
        """Hold ``grant`` (taken by the caller, as resume does).

        With ``audit`` it is audited (``C2_LEASE_ACQUIRED``) now; otherwise at preflight.
        """
        keeper = self._parts().lease
        if keeper is None:
            raise LiveSessionError("adopt_lease needs a session built with a lease")
        keeper.adopt(grant, audit=audit)

    def _seal(self) -> None:
        """Close the run's evidence, then the sealing checkpoint and the lease."""
        p = self._parts()
        if not p.lifecycle.seal(durable=p.config.durability != "none"):
            return
        p.settle()  # the sealing checkpoint, unless a sink died, then the seal's alert
        if p.lease is not None:
            p.lease.release(close=self._released)

    # -- checkpoints ---------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Everything needed to resume this session (JSON-compatible)."""
        return self._parts().checkpoint_state()

    def restore_state(self, state: dict[str, Any], digests: dict[str, Any]) -> None:
        """Restore a checkpoint made by ``get_state``; a real venue hears of its orders."""
        parts = self._parts()
        parts.restore(state, digests)
        recover_orders(parts)


def restore_resumed(
    session: LiveSessionOrchestrator, state: dict[str, Any], digests: dict[str, Any]
) -> SessionParts:
    """``restore_state`` but for the feed's and strategy's states (``resume`` restored them).

    Their ``set_state`` is the caller's code, tried before anything changes.
    """
    parts = session._parts()  # noqa: SLF001 - its own module
    parts.restore(state, digests, plugins=False)
    return parts


def _activate(p: SessionParts, gate: SessionGate, *, only_if_ready: bool) -> None:
    """``activate``; ``only_if_ready`` (run_to_end): from PREFLIGHT_OK only, under the lock."""
    lifecycle = p.lifecycle
    with gate.owned("activate", p.config.run_id):
        gate.refuse_torn("activate", p.config.run_id, p.time.steps)
        if not ready_to_activate(lifecycle.state, quietly=only_if_ready, reason=lifecycle.reason):
            return  # another thread stopped or closed it during run_to_end's preflight
        lifecycle.guarded(lambda: lifecycle.transition(Trigger.ACTIVATE, "activated"))
        if lifecycle.in_(S.DRYRUN_ACTIVE):
            lifecycle.guarded(lambda: guarded_reconcile(p, grace_ns=0))
        lifecycle.guarded(p.checkpointer.save)


def _run_hooks(session: LiveSessionOrchestrator) -> None:
    """The step hooks, once the step's bar is done (``pipeline.run_hooks``)."""
    run_hooks(session._gate, session.step_hooks, session)  # noqa: SLF001 - its own


def give_strategy(session: LiveSessionOrchestrator) -> None:
    """The strategy ``session`` was built with is its own (made from the config): closed with it."""
    session._owns_strategy = True  # noqa: SLF001 - its own module
