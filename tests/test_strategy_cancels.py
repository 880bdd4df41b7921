"""A strategy cancels its own resting orders: ``CancelIntent``.

The strategy names the order by the client order id its view shows; the cancel takes no
rail, is recorded once as ``STRATEGY_CANCEL`` with its outcome, and the order's
``ORDER_CANCELED`` says ``STRATEGY_CANCEL``. A cancel of an order that is not open is a
recorded no-op; a fill that reached the venue first wins; a cancel sent before a crash
reaches the (rewound) simulated venue once, and the resumed run repeats the uninterrupted
one byte for byte.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from _scripted import SYMBOL, ScriptedFeed, ScriptedStrategy, at, buy
from livesession import (
    CancelIntent,
    DryrunConfig,
    OrderType,
    TradingState,
    client_order_id,
    create_run,
    resume_run,
)
from livesession._session.answers import checked_intents
from livesession._session.assembly import SessionParts
from livesession._support.built import built
from livesession.evidence import write_evidence
from livesession.report import render_report
from livesession.testing import FaultBroker
from livesession.verify import verify_run

from _helpers import cli_child, crash_in_step, session

D = Decimal
LIMIT = {"order_type": OrderType.LIMIT, "limit_price": D("39900.00")}


def _cid(seq: int, leg: str = "main") -> str:
    return client_order_id("t", "scripted", seq, leg)


def _cancel(seq: int = 1, reason: str = "") -> CancelIntent:
    return CancelIntent(client_order_id=_cid(seq), reason=reason)


def _run(prices: list[str], script: dict, *, steps: int, **cfg: Any):
    orch, sinks = session(feed=ScriptedFeed(prices), strategy=ScriptedStrategy(at(script)), **cfg)
    orch.preflight()
    orch.activate()
    orch.run_n_steps(steps)
    return orch, sinks


def _raced_protected_entry(steps: int):
    """A protected LIMIT entry the strategy cancels on bar 2, the venue filling half of it
    first (``fill_race``: the cancel reported first, the fill late); ``steps`` after bar 1."""
    broker = FaultBroker()
    protect = {"take_profit_pct": D("0.01"), "stop_loss_pct": D("0.01")}
    script = {1: [buy("0.010", **LIMIT, **protect)], 2: [_cancel(1)]}
    orch, sinks = _run(["40000.00"] * 5, script, steps=1, broker=broker)
    broker.arm("fill_race")
    orch.run_n_steps(steps)
    return orch, sinks


def _requested(sinks) -> list[dict]:
    return [e["payload"] for e in sinks.events_of("STRATEGY_CANCEL")]


class TestTheIntent:
    def test_a_cancel_is_taken_beside_orders_in_the_order_given(self):
        cfg = DryrunConfig()
        given = [_cancel(1, "stale"), buy("0.010")]
        assert checked_intents(given, cfg) == tuple(given)

    @pytest.mark.parametrize(
        ("intent", "said"),
        [
            (CancelIntent(client_order_id=""), "client_order_id must be a client order id"),
            (CancelIntent(client_order_id="ls-1"), "1 to 32 letters and digits"),
            (CancelIntent(client_order_id="a" * 33), "got 'aaaa"),
            (CancelIntent(client_order_id=7), "got 7"),  # type: ignore[arg-type]
            (CancelIntent(client_order_id="ls1", reason=3), "reason must be a str, got 3"),  # type: ignore[arg-type]
            (CancelIntent(client_order_id="ls1", reason="\udcff"), "lone surrogate U+DCFF"),
        ],
    )
    def test_a_cancel_the_session_cannot_act_on_is_named(self, intent, said):
        with pytest.raises(ValueError, match="a CancelIntent's") as raised:
            checked_intents([intent], DryrunConfig())
        assert said in str(raised.value)

    def test_one_cancel_returned_alone_says_to_return_a_list(self):
        with pytest.raises(TypeError, match=r"^on_bar returned a CancelIntent, not a list"):
            checked_intents(_cancel(), DryrunConfig())  # type: ignore[arg-type]

    def test_a_secret_in_its_reason_is_refused_unwritten(self, monkeypatch):
        """The environment's secrets are taken as a session is built: the cancel's reason
        holding one fails the step, naming the field and the variable, never the value."""
        value = "s3cr3t-value-for-the-test"
        monkeypatch.setenv("DESK_API_SECRET", value)
        intent = CancelIntent(client_order_id="ls1", reason=f"key {value}")
        orch, sinks = _run(["40000.00"], {1: [intent]}, steps=1)
        (error,) = sinks.events_of("STRATEGY_ERROR")
        said = "a CancelIntent's reason holds the value of $DESK_API_SECRET"
        assert error["payload"]["message"].startswith(said)
        assert value.encode() not in b"".join(sinks.events.lines + sinks.audit.lines)
        assert orch.state.value == "ERROR_REQUIRES_OPERATOR"

    def test_a_malformed_id_fails_the_step_as_the_strategys_error(self):
        orch, sinks = _run(["40000.00"], {1: [CancelIntent(client_order_id="not-an-id")]}, steps=1)
        (error,) = sinks.events_of("STRATEGY_ERROR")
        assert "client_order_id must be a client order id" in error["payload"]["message"]
        assert not sinks.events_of("STRATEGY_CANCEL")
        assert orch.state.value == "ERROR_REQUIRES_OPERATOR"


class TestOnTheMockVenue:
    def test_a_resting_limit_is_cancelled_and_says_so(self):
        orch, sinks = _run(
            ["40000.00"] * 4, {1: [buy("0.010", **LIMIT)], 3: [_cancel(1, "stale")]}, steps=4
        )
        (submitted,) = sinks.events_of("ORDER_SUBMITTED")
        (asked,) = sinks.events_of("STRATEGY_CANCEL")
        assert asked["payload"] == {
            "client_order_id": _cid(1),
            "order_event_id": submitted["event_id"],
            "outcome": "SENT",
            "reason": "stale",
        }
        (cancelled,) = sinks.events_of("ORDER_CANCELED")
        assert cancelled["seq"] > asked["seq"]
        assert cancelled["payload"]["reason"] == "STRATEGY_CANCEL"
        assert orch.book.open_orders == ()
        assert orch.state.value == "DRYRUN_ACTIVE"

    def test_cancel_and_replace_at_a_new_price(self):
        """A cancel then a new order in one answer: the old price is gone before the new
        one rests, and the bar that trades through the old price fills nothing."""
        replace = [_cancel(1), buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39700.00"))]
        orch, sinks = _run(
            ["40000.00", "40000.00", "39800.00", "39600.00"],
            {1: [buy("0.010", **LIMIT)], 2: replace},
            steps=4,
        )
        events = map(orjson.loads, sinks.events.lines)
        kinds = [
            e["event_type"] for e in events if e["event_type"] in ("STRATEGY_CANCEL", "SIGNAL")
        ]
        assert kinds == ["SIGNAL", "STRATEGY_CANCEL", "SIGNAL"]
        (filled,) = sinks.events_of("ORDER_FILLED")
        assert filled["payload"]["client_order_id"] == _cid(2)
        assert filled["payload"]["price"] == "39600.00"  # it opened past the limit
        assert orch.book.positions[SYMBOL] == D("0.010")

    def test_a_cancel_of_an_order_not_open_is_a_recorded_no_op(self):
        """Unknown, finished, or asked twice: nothing is sent, nothing faults."""
        script = {
            1: [buy("0.010"), buy("0.010", **LIMIT)],
            2: [_cancel(1, "filled already"), CancelIntent(client_order_id="ls0unknown")],
            3: [_cancel(2), _cancel(2)],
            4: [_cancel(2)],
        }
        broker = FaultBroker()
        orch, sinks = _run(["40000.00"] * 5, script, steps=5, broker=broker)
        outcomes = [(p["client_order_id"], p["outcome"]) for p in _requested(sinks)]
        assert outcomes == [
            (_cid(1), "NOT_OPEN"),
            ("ls0unknown", "NOT_OPEN"),
            (_cid(2), "SENT"),
            (_cid(2), "ALREADY_REQUESTED"),
            (_cid(2), "NOT_OPEN"),
        ]
        assert "order_event_id" not in _requested(sinks)[0]
        assert len(sinks.events_of("ORDER_CANCELED")) == 1
        assert orch.state.value == "DRYRUN_ACTIVE"

    def test_the_fill_wins_over_a_cancel_that_came_too_late(self):
        """The bar reaches the limit and the venue fills it whole, in two reports, the second
        on its way (latency) when the strategy, seeing half of it filled, cancels the rest:
        the venue says it is not open, and the fill that follows is booked."""
        orch, sinks = _run(
            ["40000.00", "39800.00", "39800.00"],
            {1: [buy("0.010", **LIMIT)], 2: [_cancel(1)]},
            steps=3,
            fill_model={"latency_ms": 500, "partial_fill_ratio": "1"},
        )
        (asked,) = sinks.events_of("STRATEGY_CANCEL")
        assert asked["payload"]["outcome"] == "NOT_OPEN_AT_VENUE"
        (part,) = sinks.events_of("ORDER_PARTIALLY_FILLED")
        (filled,) = sinks.events_of("ORDER_FILLED")
        assert part["seq"] < asked["seq"] < filled["seq"]
        assert filled["payload"]["client_order_id"] == _cid(1)
        assert not sinks.events_of("ORDER_CANCELED")
        assert orch.book.positions[SYMBOL] == D("0.010")

    def test_a_fill_racing_the_cancel_keeps_what_it_filled(self):
        """The venue executes part of the order before the cancel lands: the part filled
        is booked, the rest cancelled (reason STRATEGY_CANCEL)."""
        broker = FaultBroker()
        orch, sinks = _run(
            ["40000.00"] * 5, {1: [buy("0.010", **LIMIT)], 2: [_cancel(1)]}, steps=1, broker=broker
        )
        broker.arm("fill_race")
        orch.run_n_steps(4)  # the fill's report comes late: after the cancel's
        assert _requested(sinks)[0]["outcome"] == "SENT"
        (cancelled,) = sinks.events_of("ORDER_CANCELED")
        assert cancelled["payload"]["reason"] == "STRATEGY_CANCEL"
        assert orch.book.positions[SYMBOL] == D("0.005")

    def test_a_fill_racing_the_cancel_of_a_protected_entry_gets_its_legs(self):
        """The entry asked for protection; the cancel's report comes before the report of
        the part the venue filled first: that part is protected all the same (before, the
        position was held to the end with no leg, and nothing said so)."""
        orch, sinks = _raced_protected_entry(4)
        (part,) = sinks.events_of("ORDER_PARTIALLY_FILLED")
        assert part["payload"]["after_cancel"] is True
        legs = [e for e in sinks.events_of("ORDER_SUBMITTED") if e["payload"]["reduce_only"]]
        assert [e["payload"]["client_order_id"] for e in legs] == [_cid(1, "sl"), _cid(1, "tp")]
        assert {e["payload"]["quantity"] for e in legs} == {"0.005"}
        assert {e["payload"]["fill_event_id"] for e in legs} == {part["event_id"]}
        assert orch.book.positions[SYMBOL] == D("0.005")
        assert orch.book.open_orders == (_cid(1, "sl"), _cid(1, "tp"))

    def test_the_late_fills_protection_survives_a_checkpoint(self):
        """Checkpointed between the cancel's report and the late fill's: the protection is
        in the checkpoint (``late_protect``), and a session restored from it holds it."""
        orch, _ = _raced_protected_entry(1)  # the cancel is reported now, the fill 2 min later
        state = orch.get_state()
        assert list(state["late_protect"]) == [_cid(1)]
        with built(SessionParts) as made:
            _run(["40000.00"] * 2, {}, steps=1)
        (fresh,) = made
        fresh.exits.set_state(state)
        assert fresh.exits.get_state()["late_protect"] == state["late_protect"]

    def test_a_protected_entry_cancelled_unfilled_places_no_legs(self):
        """No fill raced the cancel: nothing to protect, and nothing is kept once the venue
        has confirmed the order closed."""
        protect = {"take_profit_pct": D("0.01"), "stop_loss_pct": D("0.01")}
        with built(SessionParts) as made:
            orch, sinks = _run(
                ["40000.00"] * 8, {1: [buy("0.010", **LIMIT, **protect)], 2: [_cancel(1)]}, steps=8
            )
        assert len(sinks.events_of("ORDER_SUBMITTED")) == 1
        (parts,) = made
        assert not parts.book.closed
        assert "late_protect" not in orch.get_state()

    def test_no_rail_blocks_a_cancel(self):
        """Reduce-only trading refuses new exposure, not a cancel of it."""
        script = {1: [buy("0.010", **LIMIT)], 2: [_cancel(1), buy("0.010", **LIMIT)]}
        orch, sinks = _run(["40000.00"] * 3, script, steps=1)
        orch.reduce_only("desk")
        assert orch.trading_state is TradingState.REDUCING
        orch.run_n_steps(1)
        assert _requested(sinks)[0]["outcome"] == "SENT"
        assert sinks.events_of("ORDER_CANCELED")[0]["payload"]["reason"] == "STRATEGY_CANCEL"
        assert sinks.events_of("RISK_REJECTED")[0]["payload"]["intent_seq"] == 2

    def test_a_protective_leg_may_be_cancelled_and_its_sibling_still_protects(self):
        """The strategy lets a winner run: its take profit cancelled, the stop stays and
        closes the position when the price falls to it."""
        protect = {"take_profit_pct": D("0.01"), "stop_loss_pct": D("0.01")}
        tp = CancelIntent(client_order_id=_cid(1, "tp"), reason="let it run")
        orch, sinks = _run(
            ["40000.00"] * 3 + ["39500.00"], {1: [buy("0.010", **protect)], 2: [tp]}, steps=4
        )
        assert _requested(sinks)[0]["outcome"] == "SENT"
        (cancelled,) = sinks.events_of("ORDER_CANCELED")
        assert cancelled["payload"]["client_order_id"] == _cid(1, "tp")
        stopped = [e["payload"]["client_order_id"] for e in sinks.events_of("ORDER_FILLED")]
        assert stopped == [_cid(1), _cid(1, "sl")]
        assert orch.book.positions[SYMBOL] == 0

    def test_a_cancel_that_never_reached_the_venue_is_not_named_when_the_venue_cancels(self):
        """The strategy's cancel failed ``Transient`` (it never reached the venue); the
        venue then cancels the order of its own accord (an expiry, a cancel-all): its
        ORDER_CANCELED does not say STRATEGY_CANCEL, which the record would pin on the
        strategy, hiding that the venue did it."""
        broker = FaultBroker()
        orch, sinks = _run(
            ["40000.00"] * 4, {1: [buy("0.010", **LIMIT)], 2: [_cancel(1)]}, steps=1, broker=broker
        )
        broker.arm("cancel_transient")
        orch.run_n_steps(1)
        assert _requested(sinks)[-1]["outcome"] == "FAILED"
        broker._cancel(broker._open[_cid(1)], broker.now_ns)  # the venue's own cancel
        orch.run_n_steps(1)
        (cancelled,) = sinks.events_of("ORDER_CANCELED")
        assert cancelled["payload"]["client_order_id"] == _cid(1)
        assert "reason" not in cancelled["payload"]

    def test_a_cancel_that_failed_leaves_the_order_open_to_ask_again(self):
        broker = FaultBroker()
        orch, sinks = _run(
            ["40000.00"] * 4,
            {1: [buy("0.010", **LIMIT)], 2: [_cancel(1)], 3: [_cancel(1)]},
            steps=1,
            broker=broker,
        )
        broker.arm("cancel_transient")
        orch.run_n_steps(1)
        assert _requested(sinks)[-1] == {
            "client_order_id": _cid(1),
            "error": "Transient",
            "order_event_id": sinks.events_of("ORDER_SUBMITTED")[0]["event_id"],
            "outcome": "FAILED",
            "reason": "",
        }
        assert orch.book.open_orders == (_cid(1),)
        orch.run_n_steps(1)
        assert _requested(sinks)[-1]["outcome"] == "SENT"
        assert sinks.events_of("ORDER_CANCELED")[0]["payload"]["reason"] == "STRATEGY_CANCEL"

    def test_a_cancel_whose_answer_was_lost_is_reconciled(self):
        """Applied at the venue, then the answer lost, and the venue's report lost too:
        the reconciler closes the order as the venue shows it, as the strategy's cancel."""
        broker = FaultBroker()
        orch, sinks = _run(
            ["40000.00"] * 4, {1: [buy("0.010", **LIMIT)], 2: [_cancel(1)]}, steps=1, broker=broker
        )
        broker.arm("cancel_timeout_after")
        broker.arm("lose_close_report")
        orch.run_n_steps(6)  # the reconciler's grace
        (asked,) = _requested(sinks)
        assert (asked["outcome"], asked["error"]) == ("FAILED", "OutcomeUnknown")
        (cancelled,) = sinks.events_of("ORDER_CANCELED")
        assert cancelled["payload"]["reason"] == "STRATEGY_CANCEL"
        (closed,) = sinks.events_of("RECONCILED")
        assert closed["payload"]["venue_status"] == "CANCELED"
        assert closed["seq"] < cancelled["seq"]
        assert orch.book.open_orders == ()
        assert orch.state.value == "DRYRUN_ACTIVE"


REQUOTE = textwrap.dedent('''
    from decimal import Decimal

    from livesession import CancelIntent, OrderIntent, OrderType, Side

    TICK = Decimal("0.01")


    class Requote:
        """A bid below the close; one resting more than max_age bars is replaced."""

        def __init__(self, *, strategy_id, offset="0.001", max_age=2):
            self.strategy_id = strategy_id
            self.offset = Decimal(offset)
            self.max_age = max_age
            self.ages = {}

        def on_bar(self, bar, view):
            bids = [o for o in view.open_orders(bar.symbol) if not o.reduce_only]
            self.ages = {o.client_order_id: self.ages.get(o.client_order_id, 0) + 1 for o in bids}
            stale = sorted(cid for cid, age in self.ages.items() if age > self.max_age)
            intents = [CancelIntent(client_order_id=cid, reason="stale") for cid in stale]
            if view.position(bar.symbol) == 0 and len(stale) == len(bids):
                price = (bar.close * (1 - self.offset)).quantize(TICK)
                intents.append(
                    OrderIntent(
                        symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.010"),
                        order_type=OrderType.LIMIT, limit_price=price,
                        take_profit_pct=Decimal("0.002"), stop_loss_pct=Decimal("0.002"),
                    )
                )
            return intents

        def get_state(self):
            return {"ages": self.ages}

        def set_state(self, state):
            self.ages = dict(state["ages"])


    def make(*, strategy_id, offset="0.001", max_age=2):
        return Requote(strategy_id=strategy_id, offset=offset, max_age=max_age)
''')


def _desk(
    root: Path, run_id: str, *, broker: str, name: str, steps: int = 120, every: int = 10
) -> Path:
    """A package holding the requoting strategy, named ``name`` (a process imports a
    package once: one name per test), and a config running it."""
    package = root / name
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "requote.py").write_text(REQUOTE)
    config = root / f"{run_id}.toml"
    config.write_text(
        f'run_id = "{run_id}"\nsteps = {steps}\ncheckpoint_every = {every}\nbroker = "{broker}"\n'
        f'strategy_factory = "{name}.requote:make"\n[fill_model]\nlatency_ms = 30000\n'
    )
    return config


def _package(tmp_path: Path) -> str:
    return "rq_" + re.sub(r"\W", "_", tmp_path.name)


def _events(run_dir: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]


def _venue_cancels(run_dir: Path) -> list[str]:
    """The client order ids of the cancels the venue journal holds (voided ones too)."""
    journal = run_dir / "broker_journal.jsonl"
    return [
        e["cid"]
        for e in map(orjson.loads, journal.read_bytes().splitlines())
        if e["op"] == "cancel"
    ]


def _first_cancel_step(run_dir: Path) -> int:
    bars = 0
    for event in _events(run_dir):
        bars += event["event_type"] == "BAR"
        if event["event_type"] == "STRATEGY_CANCEL" and event["payload"]["outcome"] == "SENT":
            return bars
    raise AssertionError("no cancel sent")


@pytest.mark.parametrize("broker", ["mock", "realish"])
class TestARunThatCancels:
    def test_it_verifies_and_its_report_counts_the_cancels(self, tmp_path: Path, broker: str):
        from livesession import load_config

        cfg = load_config(_desk(tmp_path, "rq", broker=broker, name=_package(tmp_path)))
        with create_run(cfg, tmp_path / "runs") as run:
            result = run.run_to_end(cfg.steps)
        assert result.status.value == "COMPLETED", result
        run_dir = tmp_path / "runs" / "rq"
        assert verify_run(run_dir).ok
        events = _events(run_dir)
        asked = [e["payload"] for e in events if e["event_type"] == "STRATEGY_CANCEL"]
        sent = [p["client_order_id"] for p in asked if p["outcome"] == "SENT"]
        assert len(sent) >= 3
        cancelled = {
            e["payload"]["client_order_id"]
            for e in events
            if e["event_type"] == "ORDER_CANCELED"
            and e["payload"].get("reason") == "STRATEGY_CANCEL"
        }
        assert cancelled <= set(sent)
        assert cancelled
        # Counted by what became of them: a no-op or a failure is no cancel sent.
        outcomes = Counter(p["outcome"] for p in asked)
        said = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        assert f"<td>strategy cancels</td><td>{len(asked)} ({said})</td>" in render_report(run_dir)
        # The evidence's determinism re-run (another process) makes the same cancels.
        evidence = write_evidence(run_dir, out_dir=tmp_path / "ev")
        assert evidence.ok, evidence.problems
        manifest = orjson.loads(evidence.manifest.read_bytes())
        assert manifest["determinism"]["status"] == "match", manifest["determinism"]

    def test_a_crash_after_the_cancel_was_sent_resumes_byte_for_byte(
        self, tmp_path: Path, broker: str
    ):
        """SIGKILL right after a cancel reached the venue, before its answer: the resumed
        run sends it again to the venue rewound to the checkpoint (once at the venue) and
        ends with the uninterrupted run's events and state snapshots, byte for byte."""
        whole = tmp_path / "whole"
        whole.mkdir()
        config = _desk(whole, "rq", broker=broker, name="rq_crash", steps=60)
        done = cli_child(whole, "dryrun", "-c", config.name, "--out", "runs", "-q")
        assert done.returncode == 0, done.stderr
        crashed_dir = tmp_path / "crashed"
        crashed_dir.mkdir()
        config = _desk(crashed_dir, "rq", broker=broker, name="rq_crash", steps=60)
        crashed = cli_child(
            crashed_dir, "dryrun", "-c", config.name, "--out", "runs", "-q", crash_at="after_cancel"
        )
        assert crashed.returncode == -9, crashed.stderr
        run_dir = crashed_dir / "runs" / "rq"
        sent_before = _venue_cancels(run_dir)
        assert len(sent_before) == 1
        resumed = cli_child(crashed_dir, "resume", "runs/rq", "-q")
        assert resumed.returncode == 0, resumed.stderr
        reference = whole / "runs" / "rq"
        for name in ("events.jsonl", "state_snapshots.jsonl"):
            assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), name
        assert verify_run(run_dir).ok
        # The journal holds the crashed process's cancel (voided by the resume) and the
        # re-run's: the venue rewound to the checkpoint applied it once.
        assert _venue_cancels(run_dir).count(sent_before[0]) == 2
        assert _venue_cancels(run_dir)[1:] == _venue_cancels(reference)

    def test_a_cancel_awaiting_its_answer_at_the_checkpoint_is_answered_after_resume(
        self, tmp_path: Path, broker: str
    ):
        """Checkpointed with the cancel taken and its report still owed (the venue's
        latency), then the process dies: the resumed run does not send it again, and gets
        the report the venue owed; the run ends as the uninterrupted one does."""
        from livesession import load_config

        whole = load_config(_desk(tmp_path, "rq", broker=broker, name=_package(tmp_path), steps=60))
        whole = attrs.evolve(whole, checkpoint_every=1)
        with create_run(whole, tmp_path / "whole") as run:
            run.run_to_end(whole.steps)
        reference = tmp_path / "whole" / "rq"
        step = _first_cancel_step(reference)
        # Its hook runs after step+1, before that step's checkpoint: the last is step's.
        crash_in_step(create_run(whole, tmp_path / "crashed"), step + 1, whole.steps)
        run_dir = tmp_path / "crashed" / "rq"
        checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
        asked = [o for o in checkpoint["book"]["open"] if o.get("cancel_requested")]
        assert [o["cancel_reason"] for o in asked] == ["STRATEGY_CANCEL"]
        sent_before = _venue_cancels(run_dir)
        with resume_run(run_dir) as resumed:
            assert resumed.run_to_end(whole.steps).status.value == "COMPLETED"
        for name in ("events.jsonl", "state_snapshots.jsonl"):
            assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), name
        assert _venue_cancels(run_dir).count(sent_before[-1]) == 1  # not sent again


@pytest.mark.ccxt
class TestOnTheCcxtSandbox:
    """The ccxt broker's cancel (the wind-down's ``cancel_order`` by client order id) on the
    loopback fake Binance, where the strategy's bids rest until it cancels them."""

    @pytest.fixture
    def fake(self, monkeypatch: pytest.MonkeyPatch):
        pytest.importorskip("ccxt")
        pytest.importorskip("requests")
        from _ccxt_route import route_to
        from fake_binance import FakeBinance

        fake = FakeBinance()
        fake.start()
        route_to(fake, monkeypatch)
        yield fake
        fake.stop()

    def _args(self, tmp_path: Path, run_id: str, every: int = 10) -> list[str]:
        from _ccxt_route import dryrun_args

        name = _package(tmp_path)
        config = _desk(tmp_path, run_id, broker="mock", name=name, steps=12, every=every)
        return [*dryrun_args(tmp_path / "runs", run_id, 12), "--config", str(config)]

    def test_the_strategys_cancels_reach_the_venue(self, tmp_path: Path, fake, capsys):
        from livesession.cli import main

        assert main(self._args(tmp_path, "cx")) == 0, capsys.readouterr().err
        run_dir = tmp_path / "runs" / "cx"
        assert verify_run(run_dir).ok
        events = _events(run_dir)
        asked = [e["payload"] for e in events if e["event_type"] == "STRATEGY_CANCEL"]
        assert [p["outcome"] for p in asked] == ["SENT"] * len(asked)
        assert len(asked) >= 2
        by_strategy = [
            e["payload"]["client_order_id"]
            for e in events
            if e["event_type"] == "ORDER_CANCELED"
            and e["payload"].get("reason") == "STRATEGY_CANCEL"
        ]
        assert by_strategy == [p["client_order_id"] for p in asked]
        cids = [
            e["payload"]["client_order_id"] for e in events if e["event_type"] == "ORDER_SUBMITTED"
        ]
        assert dict(fake.created) == dict.fromkeys(cids, 1)  # each bid sent once, none twice

    @pytest.mark.parametrize(("every", "found_as"), [(10, "after_checkpoint"), (1, "in_flight")])
    def test_a_crash_after_the_cancel_reached_the_venue_resumes_to_a_verified_end(
        self, tmp_path: Path, fake, every: int, found_as: str
    ):
        """The venue is not rewound: the resume finds the order the crashed process
        cancelled after its checkpoint cancelled at the venue, whether the order itself was
        sent after the checkpoint too (``after_checkpoint``) or before it (``in_flight``),
        and closes it from there; the re-run's strategy sees it closed and never asks again."""
        from livesession.cli import main

        from _ccxt_route import crashed_dryrun

        assert crashed_dryrun(fake, self._args(tmp_path, "cy", every), "after_cancel") == -9
        run_dir = tmp_path / "runs" / "cy"
        assert main(["resume", str(run_dir), "-q"]) == 0
        assert verify_run(run_dir).ok
        audit = [orjson.loads(line) for line in (run_dir / "audit.jsonl").read_bytes().splitlines()]
        (resumed,) = [r["payload"] for r in audit if r["code"] == "C2_RESUME"]
        (found,) = resumed[found_as]
        assert found["venue_status"] == "CANCELED"
        cid = found["client_order_id"]
        events = _events(run_dir)
        mine = [e for e in events if e["payload"].get("client_order_id") == cid]
        kinds = [e["event_type"] for e in mine]
        assert kinds == ["ORDER_SUBMITTED", "ORDER_ACCEPTED", "ORDER_CANCELED"]
        assert "reason" not in mine[-1]["payload"]  # what the crashed process asked died with it
        submitted = [p["client_order_id"] for p in _payloads(events, "ORDER_SUBMITTED")]
        assert dict(fake.created) == dict.fromkeys(submitted, 1)
        asked = _payloads(events, "STRATEGY_CANCEL")
        assert cid not in [p["client_order_id"] for p in asked]
        assert [p["outcome"] for p in asked] == ["SENT"] * len(asked)
        final = orjson.loads((run_dir / "state_snapshots.jsonl").read_bytes().splitlines()[-1])
        assert (final["status"], final["open_orders"]) == ("COMPLETED", [])


def _payloads(events: list[dict], event_type: str) -> list[dict]:
    return [e["payload"] for e in events if e["event_type"] == event_type]


def test_a_cancel_of_an_order_in_doubt_waits_for_the_reconciler():
    """An order whose own send's outcome is unknown cannot be cancelled yet: IN_DOUBT,
    nothing sent; once the reconciler adopted it, the strategy's next cancel is sent."""
    script = {1: [buy("0.010", **LIMIT)], 2: [_cancel(1)], 3: [_cancel(1)]}
    with built(SessionParts) as made:
        orch, sinks = _run(["40000.00"] * 4, script, steps=1)
    (parts,) = made
    parts.book.open[_cid(1)].in_doubt = True  # as a lost answer leaves it
    orch.run_n_steps(2)
    assert [p["outcome"] for p in _requested(sinks)] == ["IN_DOUBT", "SENT"]
    (adopted,) = sinks.events_of("RECONCILED")
    assert adopted["payload"]["action"] == "ADOPTED"
    assert sinks.events_of("ORDER_CANCELED")[0]["payload"]["reason"] == "STRATEGY_CANCEL"
    assert orch.book.open_orders == ()


@pytest.mark.broken_run("the test points a STRATEGY_CANCEL's link at another order")
def test_verify_holds_a_cancels_link_to_its_order(tmp_path: Path):
    """A STRATEGY_CANCEL names the order's ORDER_SUBMITTED (``order_event_id``): one naming
    another order's is a violation verify reports."""
    from livesession import load_config

    cfg = load_config(_desk(tmp_path, "rq", broker="mock", name=_package(tmp_path), steps=40))
    with create_run(cfg, tmp_path / "runs") as run:
        run.run_to_end(cfg.steps)
    run_dir = tmp_path / "runs" / "rq"
    lines = (run_dir / "events.jsonl").read_bytes().splitlines(keepends=True)
    events = [orjson.loads(line) for line in lines]
    first = next(e["event_id"] for e in events if e["event_type"] == "ORDER_SUBMITTED")
    at = max(n for n, e in enumerate(events) if e["event_type"] == "STRATEGY_CANCEL")
    assert events[at]["payload"]["order_event_id"] != first
    events[at]["payload"]["order_event_id"] = first
    lines[at] = orjson.dumps(events[at], option=orjson.OPT_SORT_KEYS) + b"\n"
    (run_dir / "events.jsonl").write_bytes(b"".join(lines))
    result = verify_run(run_dir)
    assert not result.ok
    assert any("order_event_id names the order" in str(v) for v in result.violations), result
