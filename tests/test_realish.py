"""RealishBroker: each seeded fault fires, and a dry run on it handles every one."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from livesession import (
    Bar,
    ConfigError,
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryLineSink,
    Order,
    OutcomeUnknown,
    Rejected,
    SessionStatus,
    Side,
    Transient,
)
from livesession._rundir import create_run
from livesession._typing import Broker
from livesession.brokers.mock import FillModel
from livesession.brokers.realish import (
    ATTEMPT_WINDOW,
    FAULT_KINDS,
    FaultModel,
    RealishBroker,
    attempts_path,
)
from livesession.cli import main

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
MS = 1_000_000
ARTIFACTS = ("events.jsonl", "state_snapshots.jsonl", "audit.jsonl", "metrics.json")

FAULTY = {
    "transient_rate": "0.3",
    "timeout_rate": "0.2",
    "duplicate_ack_rate": "0.3",
    "late_fill_rate": "0.5",
    "late_fill_ms": 600_000,
    "latency_ms": 250,
}


def _config(seed: int = 2, run_id: str = "realish", **overrides) -> DryrunConfig:
    data = {
        "run_id": run_id,
        "seed": seed,
        "steps": 200,
        "broker": "realish",
        "strategy": {"fast": 2, "slow": 5},
        "realish": FAULTY,
        # These runs are about the venue's faults: at these rates a send that fails all
        # its attempts (5 failed calls in a row) would halt trading as an unhealthy broker.
        "broker_max_consecutive_failures": 1_000,
    }
    data.update(overrides)
    return DryrunConfig.from_mapping(data)


def _run(cfg: DryrunConfig, out: Path):
    session = create_run(cfg, out, idempotency_backend="jsonl")
    broker = session.broker
    result = session.run_to_end(cfg.steps)
    return result, broker, out / cfg.run_id


def _events(run_dir: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]


def _order(cid: str = "c1", side: Side = Side.BUY) -> Order:
    return Order(client_order_id=cid, symbol="BTC/USDT", side=side, quantity=Decimal("0.010"))


def _bar(ts_ns: int = T0) -> Bar:
    price = Decimal("42000.00")
    return Bar(
        symbol="BTC/USDT",
        ts_ns=ts_ns,
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
    )


def _broker(journal: Path | None = None, seed: int = 1, **faults) -> RealishBroker:
    broker = RealishBroker(seed=seed, faults=FaultModel(**faults), journal=journal)
    broker.on_market(_bar())
    return broker


def _send_until_accepted(broker: RealishBroker, cid: str, limit: int = 50) -> int:
    """Resend ``cid`` after each Transient, as the orchestrator does; the attempts it took."""
    for attempt in range(1, limit + 1):
        try:
            broker.submit(_order(cid), T0)
        except Transient:
            continue
        except OutcomeUnknown:
            return attempt
        return attempt
    raise AssertionError("never accepted")


@pytest.fixture(name="faulty_run", scope="module")
def _faulty_run(tmp_path_factory):
    return _run(_config(), tmp_path_factory.mktemp("realish"))


class TestFaults:
    """Each fault is injected where the failure taxonomy puts it."""

    def test_transient_never_reaches_the_venue(self):
        """A transient failure raises Transient and the venue records nothing."""
        broker = _broker(transient_rate=Decimal(1))
        with pytest.raises(Transient):
            broker.submit(_order(), T0)
        assert broker.order_by_client_id("c1") is None
        assert broker.submissions == {}
        assert broker.fault_log[-1] == ("transient", "c1", 1)

    def test_transient_resends_reach_the_venue_once(self):
        """Resending the same client id after transient failures records it exactly once."""
        broker = _broker(transient_rate=Decimal("0.5"))
        attempts = {cid: _send_until_accepted(broker, cid) for cid in map(str, range(40))}
        assert max(attempts.values()) > 1
        assert broker.submissions == dict.fromkeys(attempts, 1)
        assert broker.submit_attempts == attempts

    def test_timeout_is_recorded_then_unknown(self):
        """A timeout raises OutcomeUnknown after the venue recorded the order."""
        broker = _broker(timeout_rate=Decimal(1))
        with pytest.raises(OutcomeUnknown):
            broker.submit(_order(), T0)
        assert broker.order_by_client_id("c1") is not None
        assert broker.submissions == {"c1": 1}

    def test_duplicate_ack_arrives_twice(self):
        """A duplicated acknowledgement is delivered twice, identical."""
        broker = _broker(duplicate_ack_rate=Decimal(1))
        broker.submit(_order(), T0)
        reports = broker.poll(T0 + 1)
        assert [type(r).__name__ for r in reports] == ["AckReport", "AckReport", "FillReport"]
        assert reports[0] == reports[1]

    def test_late_fill_arrives_after_the_delay(self):
        """A late fill is held back by late_fill_ns of simulated time."""
        broker = _broker(late_fill_rate=Decimal(1), late_fill_ns=90_000 * MS)
        broker.submit(_order(), T0)
        assert [type(r).__name__ for r in broker.poll(T0 + 1)] == ["AckReport"]
        assert broker.poll(T0 + 90_000 * MS) == []
        (fill,) = broker.poll(T0 + 1 + 90_000 * MS)
        assert fill.client_order_id == "c1"
        assert fill.ts_ns == T0 + 1

    def test_cancel_after_fill_is_rejected_and_the_fill_still_arrives(self):
        """A cancel racing a late fill gets ORDER_NOT_OPEN, then the fill report arrives."""
        broker = _broker(late_fill_rate=Decimal(1), late_fill_ns=90_000 * MS)
        broker.submit(_order(), T0)
        broker.poll(T0 + 1)
        with pytest.raises(Rejected) as info:
            broker.cancel("c1", T0 + 2)
        assert info.value.reason == "ORDER_NOT_OPEN"
        assert [type(r).__name__ for r in broker.poll(T0 + 100_000 * MS)] == ["FillReport"]
        assert broker.faults["cancel_after_fill"] == 1
        assert broker.faults["fill_after_cancel"] == 1

    def test_only_submits_are_faulted_as_the_config_docs_say(self):
        """docs/config.md: transient and timeout faults hit submits; cancels, lookups and
        polls always reach the venue (a desk's drill at rate 1 still cancels and looks up)."""
        broker = _broker(timeout_rate=Decimal(1))
        with pytest.raises(OutcomeUnknown):
            broker.submit(_order("c1"), T0)
        assert broker.order_by_client_id("c1") is not None  # the lookup answers
        assert [type(r).__name__ for r in broker.poll(T0 + 1)] == ["AckReport", "FillReport"]
        with pytest.raises(Rejected) as filled:  # reaches the venue, which has filled it
            broker.cancel("c1", T0 + 2)
        assert filled.value.reason == "ORDER_NOT_OPEN"
        assert broker.faults["timeout"] == 1
        failing = _broker(transient_rate=Decimal(1))
        with pytest.raises(Rejected) as info:  # the venue's own answer, not a Transient
            failing.cancel("c9", T0)
        assert info.value.reason == "ORDER_NOT_OPEN"
        assert failing.faults["transient"] == 0

    def test_latency_delays_every_report(self):
        """Reports are due latency_ns after the request, never at the same instant."""
        broker = _broker(latency_ns=250 * MS)
        broker.submit(_order(), T0)
        assert broker.poll(T0 + 250 * MS - 1) == []
        assert len(broker.poll(T0 + 250 * MS)) == 2
        zero = _broker()
        zero.submit(_order(), T0)
        assert zero.poll(T0) == []
        assert len(zero.poll(T0 + 1)) == 2

    def test_decisions_depend_on_seed_and_client_id_only(self):
        """The same seed gives the same faults in any order; another seed gives others."""

        def outcomes(seed: int, cids: list[str]) -> dict[str, str]:
            broker = _broker(seed=seed, transient_rate=Decimal("0.3"), timeout_rate=Decimal("0.3"))
            seen = {}
            for cid in cids:
                try:
                    broker.submit(_order(cid), T0)
                    seen[cid] = "ok"
                except (Transient, OutcomeUnknown) as exc:
                    seen[cid] = type(exc).__name__
            return seen

        cids = [f"c{n}" for n in range(60)]
        assert outcomes(3, cids) == outcomes(3, cids[::-1])
        assert outcomes(3, cids) != outcomes(4, cids)


class TestJournal:
    """Attempt counters and owed reports survive a rebuilt broker."""

    def test_attempts_are_restored_from_the_journal(self, tmp_path):
        """A broker rebuilt on the same journal continues each client id's attempt count."""
        journal = tmp_path / "broker_journal.jsonl"
        first = _broker(journal, transient_rate=Decimal(1))
        for _ in range(3):
            with pytest.raises(Transient):
                first.submit(_order(), T0)
        first.close()
        second = _broker(journal, transient_rate=Decimal(1))
        assert second.submit_attempts == {"c1": 3}
        with pytest.raises(Transient, match="attempt 4"):
            second.submit(_order(), T0)
        second.close()
        assert attempts_path(journal).exists()

    def test_torn_attempt_line_is_cut_aside(self, tmp_path):
        """A half-written last attempt line is moved to a .torn file, not misread."""
        journal = tmp_path / "broker_journal.jsonl"
        first = _broker(journal, transient_rate=Decimal(1))
        with pytest.raises(Transient):
            first.submit(_order(), T0)
        first.close()
        path = attempts_path(journal)
        path.write_bytes(path.read_bytes() + b'{"attempt":2,"ci')
        second = _broker(journal, transient_rate=Decimal(1))
        second.close()
        assert second.submit_attempts == {"c1": 1}
        assert path.with_name(path.name + ".torn").read_bytes() == b'{"attempt":2,"ci'

    def test_resume_keeps_owed_late_fills(self, tmp_path):
        """After a rebuild, reports delivered by the checkpoint are dropped, owed ones stay."""
        journal = tmp_path / "broker_journal.jsonl"
        faults = {"late_fill_rate": Decimal(1), "late_fill_ns": 90_000 * MS}
        first = _broker(journal, **faults)
        first.submit(_order(), T0)
        assert len(first.poll(T0 + 1)) == 1
        first.close()
        second = _broker(journal, **faults)
        second.resume_at(T0 + 1)
        assert second.poll(T0 + 2) == []
        assert [type(r).__name__ for r in second.poll(T0 + 1 + 90_000 * MS)] == ["FillReport"]
        second.close()
        assert second.faults == dict.fromkeys(FAULT_KINDS, 0)

    def test_resume_rewinds_attempts_after_the_checkpoint(self, tmp_path):
        """Attempts after the checkpoint's offset are replayed: same numbers, no resend."""
        journal = tmp_path / "broker_journal.jsonl"
        first = _broker(journal, seed=7, transient_rate=Decimal("0.5"))
        before = _send_until_accepted(first, "before")
        offset = first.journal_offset()
        attempts = _send_until_accepted(first, "after")
        first.close()
        assert attempts > 1, "seed 7 must retry the send after the checkpoint"
        second = _broker(journal, seed=7, transient_rate=Decimal("0.5"))
        second.resume_at(T0, offset)
        assert second.replays_send("after")
        assert not second.replays_send("before")
        assert second.submit_attempts == {"before": before}
        assert _send_until_accepted(second, "after") == attempts
        assert not second.replays_send("after")
        assert second.submissions["after"] == 1  # answered as before, not sent twice
        second.close()
        assert [
            orjson.loads(line)["cid"] for line in attempts_path(journal).read_bytes().splitlines()
        ] == [*["before"] * before, *["after"] * attempts]
        third = _broker(journal, seed=7)  # no resume: a resend is a second send
        with pytest.raises(Rejected, match="duplicate"):
            third.submit(_order("after"), T0)
        third.close()


class TestSurface:
    """The adapter fits the Broker protocol and describes itself."""

    def test_is_a_broker(self):
        """RealishBroker satisfies the Broker protocol with kind 'realish'."""
        broker = RealishBroker()
        assert isinstance(broker, Broker)
        assert broker.kind == "realish"

    def test_repr_shows_seed_and_models(self):
        """The repr names the seed, the fault model and the fill model."""
        text = repr(RealishBroker(seed=9, faults=FaultModel(timeout_rate=Decimal("0.1"))))
        assert text.startswith("RealishBroker(seed=9, faults=FaultModel(")
        assert "timeout_rate=Decimal('0.1')" in text
        assert "fill_model=FillModel(" in text

    def test_from_config_maps_the_realish_table(self):
        """from_config turns milliseconds into nanoseconds and keeps every rate."""
        broker = RealishBroker.from_config(_config(), journal=None)
        assert broker._faults == FaultModel(
            transient_rate=Decimal("0.3"),
            timeout_rate=Decimal("0.2"),
            duplicate_ack_rate=Decimal("0.3"),
            late_fill_rate=Decimal("0.5"),
            late_fill_ns=600_000 * MS,
            latency_ns=250 * MS,
        )
        assert broker._fill_model == FillModel()

    def test_attempt_counters_stay_bounded(self):
        """Only the most recent ATTEMPT_WINDOW client ids keep an attempt counter."""
        broker = _broker(transient_rate=Decimal(1))
        for n in range(ATTEMPT_WINDOW + 5):
            with pytest.raises(Transient):
                broker.submit(_order(f"c{n}"), T0)
        attempts = broker.submit_attempts
        assert len(attempts) == ATTEMPT_WINDOW
        assert "c4" not in attempts
        assert f"c{ATTEMPT_WINDOW + 4}" in attempts

    def test_rates_must_be_decimals_in_range(self):
        """A float or out-of-range rate is refused."""
        with pytest.raises(ValueError, match="fault rates"):
            FaultModel(transient_rate=0.5)
        with pytest.raises(ValueError, match="fault rates"):
            FaultModel(timeout_rate=Decimal(2))

    @pytest.mark.parametrize(
        ("knob", "value"),
        [
            ("transient_rate", True),
            ("timeout_rate", Decimal("NaN")),
            ("duplicate_ack_rate", Decimal("sNaN")),
            ("late_fill_rate", Decimal("Infinity")),
            ("late_fill_rate", "0.5"),
        ],
    )
    def test_a_bad_rate_is_refused_naming_its_knob(self, knob, value):
        """A bool, NaN or infinity is a ValueError naming the knob, never InvalidOperation."""
        with pytest.raises(ValueError, match=rf"^FaultModel\.{knob}: fault rates ") as caught:
            FaultModel(**{knob: value})
        assert "\n" not in str(caught.value)
        assert repr(value) in str(caught.value)

    def test_a_bad_duration_is_refused_with_its_value(self):
        """A negative or boolean duration names the knob and the value given."""
        with pytest.raises(ValueError, match=r"^FaultModel\.late_fill_ns .* got -1$"):
            FaultModel(late_fill_ns=-1)
        with pytest.raises(ValueError, match=r"^FaultModel\.latency_ns .* got True$"):
            FaultModel(latency_ns=True)

    def test_an_int_rate_is_its_decimal(self):
        """0 and 1 may be written as ints; the model holds Decimals."""
        model = FaultModel(transient_rate=1, timeout_rate=0)
        assert model.transient_rate == Decimal(1)
        assert isinstance(model.transient_rate, Decimal)
        assert isinstance(model.timeout_rate, Decimal)

    @pytest.mark.parametrize(
        ("knob", "value", "said"),
        [
            ("reject_rate", Decimal("NaN"), "shares are Decimals in [0, 1]"),
            ("partial_fill_ratio", Decimal(2), "shares are Decimals in [0, 1]"),
            ("reject_rate", -1, "shares are Decimals in [0, 1]"),
            ("reject_rate", 0.5, "shares are Decimals in [0, 1]"),
            ("slippage_bps", Decimal("-Infinity"), "must be a Decimal from 0 to 1000"),
            ("slippage_bps", Decimal(10_000), "must be a Decimal from 0 to 1000"),
            ("latency_ns", -1, "must be a non-negative integer"),
        ],
    )
    def test_a_bad_fill_model_is_refused_naming_its_knob(self, knob, value, said):
        """The mock venue's ``FillModel`` took ``reject_rate=Decimal("NaN")`` and the run
        then FAILED ``UNEXPECTED_ERROR`` (``InvalidOperation: [<class
        'decimal.InvalidOperation'>]``, naming nothing) at its first order, and
        ``slippage_bps=-Infinity`` filled an order at a price of ``-Infinity``; the config's
        ``[fill_model]`` refuses both. Refused as it is built now, as ``FaultModel`` is."""
        with pytest.raises(ValueError) as caught:
            FillModel(**{knob: value})
        assert (
            str(caught.value)
            == f"FillModel.{knob}{':' if 'shares' in said else ''} {said}, got {value!r}"
        )

    def test_a_fill_model_within_its_bounds_is_taken(self):
        model = FillModel(
            latency_ns=5, partial_fill_ratio=Decimal(1), reject_rate=0, slippage_bps=1000
        )
        assert (model.reject_rate, model.slippage_bps) == (0, 1000)

    def test_faults_must_be_a_fault_model(self):
        """A mapping for ``faults`` is refused at once, not an AttributeError later."""
        with pytest.raises(TypeError, match=r"takes a FaultModel, got dict$"):
            RealishBroker(faults={"transient_rate": Decimal(1)})  # type: ignore[arg-type]


class TestRealishDryRun:
    """A dry run on the realish broker completes and handles every fault."""

    def test_completes(self, faulty_run):
        """The session ends COMPLETED with orders and fills."""
        result, _, _ = faulty_run
        assert result.status is SessionStatus.COMPLETED
        assert result.orders_submitted > 10

    def test_every_fault_fires(self, faulty_run):
        """Transients, timeouts, duplicate acks, late fills and both races all happen."""
        _, broker, _ = faulty_run
        assert all(broker.faults[kind] > 0 for kind in FAULT_KINDS), broker.faults

    def test_each_client_id_reaches_the_venue_once(self, faulty_run):
        """Every submitted client order id reached the venue exactly once."""
        _, broker, run_dir = faulty_run
        submitted = {
            e["payload"]["client_order_id"]
            for e in _events(run_dir)
            if e["event_type"] == "ORDER_SUBMITTED"
        }
        assert broker.submissions == dict.fromkeys(submitted, 1)

    def test_transient_resends_keep_the_client_id(self, faulty_run):
        """After a transient failure the same client id is resent, and recorded once."""
        _, broker, run_dir = faulty_run
        events = _events(run_dir)
        submitted = Counter(
            e["payload"]["client_order_id"] for e in events if e["event_type"] == "ORDER_SUBMITTED"
        )
        failed: dict[str, int] = {}
        for fault, cid, attempt in broker.fault_log:
            if fault == "transient":
                failed[cid] = max(failed.get(cid, 0), attempt)
        resent = [cid for cid in failed if cid in submitted]
        assert resent
        for cid in resent:
            assert submitted[cid] == broker.submissions[cid] == 1
            assert broker.submit_attempts[cid] > failed[cid]

    def test_timed_out_orders_are_looked_up_not_resent(self, faulty_run):
        """A timed-out order counts as reached once and gets no further attempt."""
        _, broker, _ = faulty_run
        timeouts = [(cid, n) for fault, cid, n in broker.fault_log if fault == "timeout"]
        assert timeouts
        for cid, attempt in timeouts:
            assert broker.submissions[cid] == 1
            assert broker.submit_attempts[cid] == attempt

    def test_duplicate_acks_give_one_order_accepted(self, faulty_run):
        """Each order is accepted once in events, duplicates or not."""
        _, broker, run_dir = faulty_run
        accepted = Counter(
            e["payload"]["client_order_id"]
            for e in _events(run_dir)
            if e["event_type"] == "ORDER_ACCEPTED"
        )
        duplicated = {cid for fault, cid, _ in broker.fault_log if fault == "duplicate_ack"}
        assert duplicated
        assert duplicated <= set(accepted)
        assert set(accepted.values()) == {1}

    def test_position_equals_the_sum_of_fills(self, faulty_run):
        """The final position equals the signed sum of every fill in events.jsonl."""
        result, _, run_dir = faulty_run
        events = _events(run_dir)
        sides = {
            e["payload"]["client_order_id"]: e["payload"]["side"]
            for e in events
            if e["event_type"] == "ORDER_SUBMITTED"
        }
        total = Decimal(0)
        for e in events:
            if e["event_type"] in ("ORDER_FILLED", "ORDER_PARTIALLY_FILLED"):
                qty = Decimal(e["payload"]["quantity"])
                total += qty if sides[e["payload"]["client_order_id"]] == "BUY" else -qty
        positions = [e for e in events if e["event_type"] == "POSITION_CHANGED"]
        assert Decimal(positions[-1]["payload"]["position"]) == total
        final = orjson.loads((run_dir / "state_snapshots.jsonl").read_bytes().splitlines()[-1])
        assert Decimal(final["positions"].get("BTC/USDT", "0")) == total
        assert final["open_orders"] == []
        assert result.fills == len(
            [e for e in events if e["event_type"] in ("ORDER_FILLED", "ORDER_PARTIALLY_FILLED")]
        )

    def test_same_seed_same_bytes(self, faulty_run, tmp_path):
        """The same config and seed give byte-identical artifacts."""
        _, _, first = faulty_run
        _, _, again = _run(_config(), tmp_path)
        for name in ARTIFACTS:
            assert (again / name).read_bytes() == (first / name).read_bytes(), name

    def test_other_seed_other_bytes(self, faulty_run, tmp_path):
        """Another seed gives other events."""
        _, _, first = faulty_run
        result, _, other = _run(_config(seed=9), tmp_path)
        assert result.status is SessionStatus.COMPLETED
        assert (other / "events.jsonl").read_bytes() != (first / "events.jsonl").read_bytes()

    def test_cli_runs_realish(self, tmp_path, capsys):
        """`livesession dryrun --broker realish` completes with exit code 0."""
        config = tmp_path / "realish.toml"
        config.write_text('[realish]\ntransient_rate = "0.3"\ntimeout_rate = "0.2"\n')
        argv = ["dryrun", "-c", str(config), "--broker", "realish", "--steps", "120"]
        argv += ["--run-id", "cli", "--out", str(tmp_path), "--durability", "none", "-q"]
        assert main(argv) == 0
        metrics = orjson.loads((tmp_path / "cli" / "metrics.json").read_bytes())
        assert metrics["status"] == "COMPLETED"
        assert capsys.readouterr().err == ""


class TestEmbeddedOnTheConfigsVenue:
    """``LiveSessionOrchestrator(config)`` of a config naming ``broker = "realish"`` (a desk's
    TOML, loaded and embedded) was refused, ``broker 'realish' needs an explicit broker
    object; the default is 'mock'``, though the config describes the venue whole and a run
    directory builds it. The session builds it now, as ``dryrun`` does."""

    def test_the_session_builds_the_realish_venue_the_config_describes(self):
        config = DryrunConfig(run_id="embedded", steps=200, broker="realish", seed=3)
        session = LiveSessionOrchestrator(config, audit_sink=MemoryLineSink())
        assert session.broker.kind == "realish"
        result = session.run_to_end(config.steps)
        assert result.status is SessionStatus.COMPLETED
        assert result.orders_submitted > 0

    def test_a_ccxt_venue_is_not_built_alone_and_the_line_says_how(self):
        config = DryrunConfig(run_id="embedded", broker="ccxt:binance")
        with pytest.raises(ConfigError) as caught:
            LiveSessionOrchestrator(config)
        assert str(caught.value) == (
            "broker 'ccxt:binance' is not built by a session alone: pass it as broker= "
            "(make_ccxt_broker('ccxt:binance', ...)), or create_run(config, out_dir) builds it"
        )
