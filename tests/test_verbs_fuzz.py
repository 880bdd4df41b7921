"""Operator verbs at any moment, from any thread, across crashes: a stateful fuzz.

A hypothesis state machine drives a run directory through the public API only
(``create_run``, ``resume_run``, the session's steps and verbs, ``close``) on the ``mock``
and ``realish`` venues with a strategy that trades (the SMA demo on short windows): steps,
``kill``, ``reduce_only``, ``reenable_trading``, ``acknowledge``, ``request_stop`` from the
owner thread or from a second thread while the owner steps, each verb twice, a crash in the
middle of a step (closed unsealed, as a killed process leaves it) or a session dropped
without ``close``, ``resume_run`` of the crashed run, the seal, and verbs after it. After
every rule it checks:

- a verb never raises for the state and says what it did (``VerbResult``); an applied kill
  halts trading, an applied reduce-only reduces it, an applied stop leaves the session
  stopping or stopped;
- the lifecycle state is one the table reaches from the one before (a resume returns one
  reachable from the crashed session's), and the status follows it (FAILED stays);
- an operator's applied kill, reduce-only or stop survives a crash (the resumed session
  still has it);
- the venue never received a client order id twice (its journal, across every resume);
- the session's book never claims a position the venue does not hold once no order is in
  flight, and a stopped session is flat at the venue too;
- after the seal, every verb changes nothing, ``resume_run`` refuses the run, and the
  report and ``status --json`` give the venue's final position.

Every run directory passes ``verify`` at teardown (the suite's plugin). The CI profile runs
a handful of examples; ``nox -s verbs`` runs the deep campaign, with fresh draws each time
(``LIVESESSION_VERBS_EXAMPLES``, 400 by default).
"""

from __future__ import annotations

import contextlib
import gc
import io
import itertools
import json
import os
import re
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from livesession import (
    DryrunConfig,
    InvalidTransition,
    LiveSessionOrchestrator,
    RunDirectoryError,
    SessionState,
    SessionStatus,
    TradingState,
    VerbOutcome,
    VerbResult,
    create_run,
    resume_run,
    verify_run,
)
from livesession._domain.lifecycle import STATUS_BY_STATE, TRANSITIONS
from livesession.cli import main as cli_main
from livesession.report import render_report
from livesession.testing import mark_verified
from test_lease_session import submits_per_client_id

S = SessionState
DEEP = os.environ.get("LIVESESSION_VERBS") == "deep"
EXAMPLES = int(os.environ.get("LIVESESSION_VERBS_EXAMPLES", "400")) if DEEP else 6
STEPS = 40 if DEEP else 25
VERBS = ("kill", "reduce_only", "reenable", "acknowledge", "stop")
LIVE = (S.INIT, S.PREFLIGHT_OK, S.DRYRUN_ACTIVE, S.STOPPING, S.ERROR_REQUIRES_OPERATOR)
MOVES: dict[SessionState, set[SessionState]] = {state: set() for state in SessionState}
for _, _source, _dest in TRANSITIONS:
    MOVES[_source].add(_dest)


def _reachable(state: SessionState) -> set[SessionState]:
    seen, todo = {state}, [state]
    while todo:
        for nxt in MOVES[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


RUN_IDS = itertools.count()
STATS: Counter[str] = Counter()  # verb outcomes by state, crashes, resumes (printed)


def _call(session: LiveSessionOrchestrator, verb: str) -> VerbResult:
    if verb == "kill":
        return session.kill("fuzz")
    if verb == "reduce_only":
        return session.reduce_only("fuzz")
    if verb == "reenable":
        return session.reenable_trading("fuzz")
    if verb == "acknowledge":
        return session.acknowledge("fuzz")
    return session.request_stop("fuzz")


def _forget(session: LiveSessionOrchestrator) -> None:
    """Let go of ``session`` as a process that died does: the suite's session tracker stops
    holding it (``mark_verified``); its run directory, under ``tmp_path``, is still verified.

    Not ``gc.get_referrers``: that scans the whole heap, and the deep campaign's heap grows
    with every example, so each drop took longer than the last (at example 160 of
    ``nox -s verbs -- 1000`` every stack sampled was in it).
    """
    mark_verified(session)


def _nonzero(positions: Any) -> dict[str, Decimal]:
    return {symbol: Decimal(qty) for symbol, qty in dict(positions).items() if Decimal(qty)}


def report_positions(run_dir: Path) -> str:
    """The report's ``final positions`` cell."""
    found = re.search(r"<td>final positions</td><td>(.*?)</td>", render_report(run_dir))
    assert found is not None, "the report has no final positions"
    return found.group(1)


class VerbMachine(RuleBasedStateMachine):
    """One run directory, its sessions (one per process life) and its venue."""

    out: Path

    def __init__(self) -> None:
        super().__init__()
        self.session: LiveSessionOrchestrator | None = None
        self.closed: LiveSessionOrchestrator | None = None  # a sealed session
        self.final: dict[str, Decimal] = {}  # the venue's position at the seal
        self.run_dir = Path()
        self.sealed = False
        self.last = S.INIT
        self.failed_seen = False
        self.kill_held = False  # an applied operator kill, not lifted since
        self.reduced = False  # an applied reduce-only, not lifted since
        self.stop_applied = False
        self.log: list[str] = []
        self.sessions: list[LiveSessionOrchestrator] = []  # each one this example built

    # -- set-up ------------------------------------------------------------------------------

    @initialize(
        broker=st.sampled_from(["mock", "realish", "realish-faulty"]),
        latency_ms=st.sampled_from([0, 90_000]),
        every=st.sampled_from([1, 3, 7]),
        backend=st.sampled_from(["sqlite", "jsonl"]),
        activate=st.booleans(),
        seed=st.integers(0, 99),
    )
    def start(
        self,
        *,
        broker: str,
        latency_ms: int,
        every: int,
        backend: str,
        activate: bool,
        seed: int,
    ) -> None:
        # One run id (client order ids and the venue's seeded draws derive from it) in a
        # directory of each example's own: an example runs the same when hypothesis replays it.
        run_id = "v"
        self.out = self.out / f"e{next(RUN_IDS)}"
        venue: dict[str, Any] = {"latency_ms": latency_ms}
        faults: dict[str, Any] = {}
        broker, faulty = broker.removesuffix("-faulty"), broker.endswith("-faulty")
        if faulty:
            # Timeouts and late fills enough that a stop (two polls) may not finish: the
            # session then needs an operator (STOP_INCOMPLETE), who acknowledges it.
            venue.update(timeout_rate="0.5", transient_rate="0.3", late_fill_rate="0.3")
            faults = {"stop_max_polls": 2, "broker_max_consecutive_failures": 3}
        config = DryrunConfig.from_mapping(
            {
                "run_id": run_id,
                "seed": seed,
                "steps": STEPS,
                "broker": broker,
                "checkpoint_every": every,
                "volatility_bps": 60,
                "stop_max_polls": 20,
                "strategy": {"fast": 2, "slow": 3, "order_qty": "0.010"},
                ("realish" if broker == "realish" else "fill_model"): venue,
                **faults,
            }
        )
        self.run_dir = self.out / run_id
        self.session = create_run(config, self.out, idempotency_backend=backend)
        self.sessions.append(self.session)
        self.log.append(f"create_run {broker} {venue} {faults} {every=} {backend} {seed=}")
        assert self.session.preflight()
        if activate:
            self.session.activate()
        self.last = self.session.state

    # -- rules -------------------------------------------------------------------------------

    @precondition(lambda self: self.session is not None)
    @rule()
    def preflight(self) -> None:
        """A run resumed before its first checkpoint starts over, from INIT."""
        session = self.session
        assert session is not None
        before = session.state
        if before is S.INIT:
            assert session.preflight()
            assert session.state is S.PREFLIGHT_OK
        else:
            with pytest.raises(InvalidTransition):
                session.preflight()
            assert session.state is before

    @precondition(lambda self: self.session is not None)
    @rule()
    def activate(self) -> None:
        session = self.session
        assert session is not None
        before = session.state
        if before is S.PREFLIGHT_OK:
            session.activate()
            assert session.state is S.DRYRUN_ACTIVE
        else:
            with pytest.raises(InvalidTransition):
                session.activate()
            assert session.state is before

    @precondition(lambda self: self.session is not None)
    @rule(n=st.integers(1, 6))
    def steps(self, n: int) -> None:
        session = self.session
        assert session is not None
        if session.state is S.DRYRUN_ACTIVE:
            session.run_n_steps(n)
        else:
            before = session.state
            with pytest.raises(InvalidTransition):
                session.step()
            assert session.state is before

    @precondition(lambda self: self.session is not None)
    @rule(verb=st.sampled_from(VERBS), twice=st.booleans())
    def verb(self, verb: str, twice: bool) -> None:
        session = self.session
        assert session is not None
        first = _call(session, verb)
        self._applied(verb, first)
        if twice:
            again = _call(session, verb)
            self._applied(verb, again)
            # An acknowledgement whose wind-down ran out of polls again (STOP_INCOMPLETE)
            # leaves the session needing an operator: the next one applies too.
            retried = verb == "acknowledge" and first.state is S.ERROR_REQUIRES_OPERATOR
            if verb in ("kill", "reduce_only", "stop", "acknowledge") and not retried:
                assert again.outcome is not VerbOutcome.APPLIED or verb == "kill", again

    @precondition(lambda self: self.session is not None)
    @rule(verb=st.sampled_from(VERBS), n=st.integers(1, 5))
    def verb_from_a_thread(self, verb: str, n: int) -> None:
        """A second thread calls the verb while this one (the owner) steps."""
        session = self.session
        assert session is not None
        results: list[VerbResult | BaseException] = []

        def operator() -> None:
            try:
                results.append(_call(session, verb))
            except BaseException as exc:
                results.append(exc)

        thread = threading.Thread(target=operator, name="operator")
        thread.start()
        if session.state is S.DRYRUN_ACTIVE:
            session.run_n_steps(n)
        thread.join(60)
        assert not thread.is_alive(), "the verb never returned"
        (result,) = results
        assert isinstance(result, VerbResult), repr(result)
        self._applied(verb, result)

    @precondition(lambda self: self.session is not None)
    @rule(verb=st.sampled_from(VERBS), n=st.integers(1, 3), crash=st.booleans())
    def verb_from_a_step_hook(self, verb: str, n: int, crash: bool) -> None:
        """A step hook (the owner, inside its step's end) calls the verb; then, maybe, the
        process dies in the next step: what the hook saw applied is in the resumed run."""
        session = self.session
        assert session is not None
        if session.state is not S.DRYRUN_ACTIVE:
            return
        results: list[VerbResult] = []

        def hook(inner: LiveSessionOrchestrator) -> None:
            if not results:
                results.append(_call(inner, verb))

        session.step_hooks.append(hook)
        try:
            session.run_n_steps(n)
        finally:
            session.step_hooks.remove(hook)
        if results:
            (result,) = results
            assert result.outcome is not VerbOutcome.DEFERRED, result  # a hook acts at once
            self._applied(verb, result)
        if crash:
            del session
            self.crash_in_a_step(1)

    @precondition(lambda self: self.session is not None)
    @rule(step=st.integers(1, 4))
    def crash_in_a_step(self, step: int) -> None:
        """A process that dies inside a step: closed unsealed, then resumed."""
        session = self.session
        assert session is not None
        if session.state is not S.DRYRUN_ACTIVE:
            del session  # the drop below needs this frame to let go of it too
            return self.drop()
        target = session.steps_done + step

        def interrupt(inner: LiveSessionOrchestrator) -> None:
            if inner.steps_done == target:
                raise KeyboardInterrupt

        session.step_hooks.append(interrupt)
        try:
            session.run_n_steps(step + 1)
        except KeyboardInterrupt:
            session.close()  # seals nothing: the run is a crash
            self.log.append("crash in a step")
            return self._resume()
        session.step_hooks.remove(interrupt)  # the session stopped before the target step
        return None

    @precondition(lambda self: self.session is not None)
    @rule()
    def drop(self) -> None:
        """A session dropped without ``close`` (the process gone): resume the run.

        The suite's session tracker keeps every session it saw (to verify it at teardown):
        it lets go of this one, as an application drops it; its run directory is still
        verified at teardown, under ``tmp_path``.
        """
        assert self.session is not None
        self.last = self.session.state  # a step hook's verb may have moved it
        _forget(self.session)
        self.sessions = [s for s in self.sessions if s is not self.session]
        self.session = None
        gc.collect()
        self.log.append("dropped")
        self._resume()

    @precondition(lambda self: self.session is not None)
    @rule()
    def seal(self) -> None:
        session = self.session
        assert session is not None
        session.close()
        self.sealed = True
        final = session.state
        assert final not in (S.INIT, S.DRYRUN_ACTIVE, S.PREFLIGHT_OK)
        for verb in VERBS:
            result = _call(session, verb)
            assert result.outcome in (VerbOutcome.NOT_APPLICABLE, VerbOutcome.ALREADY), result
        session.close()
        assert session.state is final
        self._check_venue(session)
        venue = _nonzero(self._venue_positions(session))
        if final is S.STOPPED:
            assert not venue, f"sealed STOPPED with the venue holding {venue}"
        cell = report_positions(self.run_dir)
        said = (cell, venue, final, self.log)
        if "in doubt" in cell:
            # The book and the venue disagree (a fill the book never saw, FILL_NOT_SEEN):
            # only a run that needs an operator is sealed so, and the cell says so.
            assert final is S.ERROR_REQUIRES_OPERATOR, said
            assert session.result().position_in_doubt, said
        elif venue:
            for symbol, qty in venue.items():
                assert symbol in cell, said
                assert f"{qty:f}" in cell.replace(",", ""), said
        else:
            assert cell == "flat", said
        self.session = None
        self.closed = session
        STATS[f"sealed {final.value} venue {'flat' if not venue else 'open'}"] += 1
        self.final = venue
        self.last = final
        with pytest.raises(RunDirectoryError):
            resume_run(self.run_dir)

    @precondition(lambda self: self.closed is not None)
    @rule(verb=st.sampled_from(VERBS))
    def verb_after_the_seal(self, verb: str) -> None:
        closed = self.closed
        assert closed is not None
        state = closed.state
        result = _call(closed, verb)
        assert result.outcome in (VerbOutcome.NOT_APPLICABLE, VerbOutcome.ALREADY), result
        assert closed.state is state

    @rule()
    def status(self) -> None:
        """``livesession status --json`` of the run, live or crashed or sealed, from here."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli_main(["status", "--json", str(self.run_dir)])
        seen = json.loads(out.getvalue())
        assert code == seen["exit_code"], seen
        if self.session is None and self.sealed:
            assert seen["sealed"], seen
            assert seen["state"] == self.last.value, (seen["state"], self.last)
            if seen["position_in_doubt"]:  # the book's position, and what it lacks
                assert seen["state"] == S.ERROR_REQUIRES_OPERATOR.value, seen
            else:
                assert _nonzero(seen["positions"]) == self.final, (seen, self.final)
        elif self.session is not None:
            # Running (this process holds the run), or waiting for an operator.
            waiting = self.session.state is S.ERROR_REQUIRES_OPERATOR
            assert code == (5 if waiting else 7), seen

    # -- helpers -----------------------------------------------------------------------------

    def _resume(self) -> None:
        crashed = self.last
        if crashed is S.STOPPED:
            # Nothing to resume: a stop seals the run. That ends the example.
            with pytest.raises(RunDirectoryError, match="nothing to resume: run"):
                resume_run(self.run_dir)
            self.sealed = True
            self.closed = None
            self.final = {}  # a stopped session was flat at the venue (agrees)
            return
        self.session = resume_run(self.run_dir)
        self.sessions.append(self.session)
        state = self.session.state
        self.log.append(f"resumed in {state.value}")
        STATS[f"resumed {crashed.value} -> {state.value}"] += 1
        assert state in _reachable(crashed) or crashed in _reachable(state), (crashed, state)
        if self.stop_applied:
            assert state not in (S.DRYRUN_ACTIVE, S.PREFLIGHT_OK), state
        trading = self.session.trading_state
        if self.kill_held:
            assert trading is TradingState.HALTED, (trading, self.log)
        elif self.reduced:
            assert trading in (TradingState.REDUCING, TradingState.HALTED), trading
        self.last = state

    def _applied(self, verb: str, result: VerbResult) -> None:
        assert isinstance(result, VerbResult)
        assert result.message, result
        session = self.session
        assert session is not None
        self.log.append(f"{verb} -> {result.outcome.value}")
        STATS[f"{verb} {result.outcome.value} in {result.state.value}"] += 1
        if result.outcome is not VerbOutcome.APPLIED:
            return
        if verb == "kill":
            self.kill_held = True
            self.log.append(f"  steps {session.steps_done} {session.trading_state.value}")
        elif verb == "reduce_only":
            self.reduced = True
        elif verb == "reenable":
            self.kill_held = self.reduced = False
        elif verb == "stop":
            self.stop_applied = True
            assert session.state in (S.STOPPING, S.STOPPED, S.ERROR_REQUIRES_OPERATOR)

    @staticmethod
    def _venue_positions(session: LiveSessionOrchestrator) -> dict[str, Decimal]:
        positions = getattr(session.broker, "positions", None)
        assert positions is not None, session.broker
        return dict(positions())

    def _check_venue(self, session: LiveSessionOrchestrator) -> None:
        twice = {
            cid: n
            for cid, n in submits_per_client_id(self.run_dir / "broker_journal.jsonl").items()
            if n > 1
        }
        assert not twice, f"client order ids sent twice: {twice}"
        if session.state is S.ERROR_REQUIRES_OPERATOR:
            return  # a fault may be a position the venue disagrees on: the operator's call
        book = session.book
        inspection = session.inspect()
        in_flight = book.open_orders or inspection.pending or inspection.waiting_fills
        if in_flight or session.result().position_in_doubt:
            return
        venue = _nonzero(self._venue_positions(session))
        mine = _nonzero(book.positions)
        assert mine == venue, f"book {mine} but venue {venue}"

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def agrees(self) -> None:
        session = self.session
        if session is None:
            return
        state = session.state
        assert state in _reachable(self.last), (self.last, state)
        self.last = state
        if state is S.ERROR_REQUIRES_OPERATOR:
            self.failed_seen = True
        expected = SessionStatus.FAILED if self.failed_seen else STATUS_BY_STATE[state]
        if state in LIVE and not self.failed_seen:
            assert session.status is expected, (state, session.status)
        if self.kill_held and not self.sealed and state in LIVE:
            assert session.trading_state is TradingState.HALTED
        self._check_venue(session)
        if state is S.STOPPED:
            venue = _nonzero(self._venue_positions(session))
            assert not venue, f"STOPPED with the venue holding {venue}"
            assert not _nonzero(session.book.positions), session.book

    def teardown(self) -> None:
        """Close the session, verify the run, and let go of its sessions.

        The suite's plugin verifies every run directory under ``tmp_path`` at the test's
        end too; the sessions it would keep until then, a thousand examples' worth in the
        deep campaign, each made every ``gc.collect`` of a drop slower (``_forget``).
        """
        if self.session is not None:
            self.session.close()
            self.session = None
        if (self.run_dir / "run.json").is_file():
            verified = verify_run(self.run_dir)
            assert verified.ok, (verified.violations, self.log)
        for session in self.sessions:
            mark_verified(session)


def test_verbs_at_any_moment(tmp_path: Path) -> None:
    VerbMachine.out = tmp_path
    run_state_machine_as_test(
        VerbMachine,
        settings=settings(
            settings.default,
            max_examples=EXAMPLES,
            stateful_step_count=25 if DEEP else 12,
            **({"phases": list(Phase)[:3]} if os.environ.get("LIVESESSION_VERBS_NOSHRINK") else {}),
        ),
    )
    print("\nverbs fuzz:", dict(sorted(STATS.items())))  # noqa: T201 - the campaign's counts


def test_status_json_gives_the_sealed_position(tmp_path: Path, capsys: Any) -> None:
    """``status --json`` and the report agree on a sealed run's final position."""
    session = create_run(DryrunConfig(run_id="s", steps=30), tmp_path)
    session.run_to_end(30)
    capsys.readouterr()
    assert cli_main(["status", "--json", str(tmp_path / "s")]) == 0
    status = json.loads(capsys.readouterr().out)
    assert report_positions(tmp_path / "s") == "flat"
    assert not _nonzero(status.get("positions", {}))


@pytest.mark.parametrize(
    "verbs", [("reduce_only",), ("reduce_only", "reenable"), ("kill",), ("kill", "reenable")]
)
def test_a_verb_before_activation_survives_a_crash(tmp_path: Path, verbs: tuple[str, ...]) -> None:
    """Found by the machine: ``reduce_only`` (or a re-enable after it) applied between the
    preflight and the activation said APPLIED, but only a trading session's verb was
    checkpointed: the process died before its first checkpoint, and the resumed run started
    over from INIT and traded ACTIVE. It is checkpointed as in DRYRUN_ACTIVE now: the run
    resumes PREFLIGHT_OK with the operator's trading state. A kill there (NOT_APPLICABLE
    before) is kept the same way: the run never trades unless an operator re-enables it."""
    session = create_run(DryrunConfig(run_id="pre", steps=STEPS), tmp_path)
    assert session.preflight()
    for verb in verbs:
        assert _call(session, verb).outcome is VerbOutcome.APPLIED
    expected = session.trading_state
    _forget(session)
    del session
    gc.collect()  # the process is gone
    resumed = resume_run(tmp_path / "pre")
    assert (resumed.state, resumed.trading_state) == (S.PREFLIGHT_OK, expected)
    result = resumed.run_to_end(STEPS)
    assert result.trading is expected
    assert result.state is S.STOPPED
    if expected is not TradingState.ACTIVE:
        assert result.orders_submitted == 0  # flat and reducing, or killed: nothing to send


def test_a_kill_of_a_stopping_session_survives_a_crash(tmp_path: Path) -> None:
    """Found by the machine: a run resumed ``STOPPING`` (its process died in the wind-down)
    took an operator's kill, APPLIED, trading HALTED; only a verb of a session that may trade
    was checkpointed, so a crash then resumed it ACTIVE again, the kill gone from its record.
    The kill is checkpointed in ``STOPPING`` too."""
    config = DryrunConfig.from_mapping(
        {
            "run_id": "stopping",
            "steps": STEPS,
            "volatility_bps": 60,
            "stop_max_polls": 1,  # the flatten's fill comes later: the stop is incomplete
            "strategy": {"fast": 2, "slow": 3, "order_qty": "0.010"},
            "fill_model": {"latency_ms": 90_000},
        }
    )
    session = create_run(config, tmp_path)
    session.preflight()
    session.activate()
    while not _nonzero(session.book.positions):
        session.run_n_steps(1)
    assert session.request_stop("desk").outcome is VerbOutcome.APPLIED
    assert session.state is S.ERROR_REQUIRES_OPERATOR  # STOP_INCOMPLETE: the flatten is out
    _forget(session)
    del session
    gc.collect()  # the process is gone
    resumed = resume_run(tmp_path / "stopping")
    assert resumed.state is S.STOPPING  # back to the stop's checkpoint, before its wind-down
    assert resumed.kill("desk").outcome is VerbOutcome.APPLIED
    assert resumed.trading_state is TradingState.HALTED
    _forget(resumed)
    del resumed
    gc.collect()
    again = resume_run(tmp_path / "stopping")
    assert (again.state, again.trading_state) == (S.STOPPING, TradingState.HALTED)
    again.close()


def _faulty_run(out: Path) -> LiveSessionOrchestrator:
    """A run on a venue that times out and fills late, whose stop runs out of polls (the
    machine's ``realish-faulty``; the venue's draws follow the run id)."""
    config = DryrunConfig.from_mapping(
        {
            "run_id": "v",
            "seed": 63,
            "steps": STEPS,
            "broker": "realish",
            "checkpoint_every": 1,
            "volatility_bps": 60,
            "strategy": {"fast": 2, "slow": 3, "order_qty": "0.010"},
            "realish": {
                "latency_ms": 90_000,
                "timeout_rate": "0.5",
                "transient_rate": "0.3",
                "late_fill_rate": "0.3",
            },
            "stop_max_polls": 2,
            "broker_max_consecutive_failures": 3,
        }
    )
    session = create_run(config, out, idempotency_backend="sqlite")
    assert session.preflight()
    session.activate()
    return session


def test_a_late_fill_an_acknowledgement_booked_is_not_in_doubt(tmp_path: Path, capsys: Any) -> None:
    """Found by the machine (``nox -s verbs -- 1000``): a stop out of polls
    (``STOP_INCOMPLETE``) named the flatten's fill the venue had made and not yet reported
    (``in_doubt``); the operator's acknowledgement then wound the run down, the fill came and
    was booked, the run ``STOPPED`` flat, book and venue agreeing. Yet the session's result,
    ``status`` (``position_in_doubt``), the report and the evidence still said that fill was
    not in the book: the doubt stuck to the run past the fill that settled it."""
    session = _faulty_run(tmp_path / "late")
    session.run_n_steps(5)
    assert session.request_stop("desk").outcome is VerbOutcome.APPLIED
    assert session.acknowledge("desk").outcome is VerbOutcome.APPLIED
    assert session.state is S.ERROR_REQUIRES_OPERATOR  # the flatten's fill is out: in doubt
    assert "FILL_NOT_SEEN" in session.result().position_in_doubt
    assert session.acknowledge("desk").outcome is VerbOutcome.APPLIED
    assert session.state is S.STOPPED  # the fill came, and the book took it
    assert not _nonzero(session.book.positions)
    assert not _nonzero(VerbMachine._venue_positions(session))
    assert session.result().position_in_doubt == ""
    session.close()
    capsys.readouterr()
    cli_main(["status", "--json", str(tmp_path / "late" / "v")])
    status = json.loads(capsys.readouterr().out)
    assert (status["state"], status["position_in_doubt"]) == ("STOPPED", ""), status
    assert report_positions(tmp_path / "late" / "v") == "flat"


def test_a_fill_still_out_at_the_seal_stays_in_doubt(tmp_path: Path, capsys: Any) -> None:
    """The other side of the test above: sealed in ``ERROR_REQUIRES_OPERATOR`` with the
    flatten's fill still out, the doubt is said, by the session and by ``status``."""
    session = _faulty_run(tmp_path / "out")
    session.run_n_steps(5)
    session.request_stop("desk")
    session.acknowledge("desk")
    assert session.state is S.ERROR_REQUIRES_OPERATOR
    session.close()
    assert "FILL_NOT_SEEN" in session.result().position_in_doubt
    capsys.readouterr()
    cli_main(["status", "--json", str(tmp_path / "out" / "v")])
    status = json.loads(capsys.readouterr().out)
    assert "FILL_NOT_SEEN" in status["position_in_doubt"], status
    assert "in doubt" in report_positions(tmp_path / "out" / "v")
