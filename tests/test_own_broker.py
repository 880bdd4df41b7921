"""A user's own broker: what preflight lets trade, and what the session makes of its calls.

Each test is one of the prober's repros (round 34, a desk's broker plug-in): a
``MockBroker`` subclass that misbehaves the way a desk's adapter did. Every run directory
made here is verified at teardown (the conftest), in-memory runs explicitly.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from livesession import DryrunConfig, MockBroker, SessionStatus
from livesession._rundir import create_run

from _helpers import session

D = Decimal


class RealAccount(MockBroker):
    """The desk's adapter, built on the mock: kind "mock" inherited, declared NOT simulated."""

    simulated = False

    def __init__(self) -> None:
        super().__init__(seed=1)
        self.sent: list[str] = []

    def submit(self, order: Any, now_ns: int) -> None:
        self.sent.append(order.client_order_id)
        super().submit(order, now_ns)


class TestTheLiveGate:
    """Before, preflight passed a broker by its kind "mock" first, so a MockBroker subclass
    declaring ``simulated = False`` passed with live trading off and sent 14 orders."""

    def test_a_broker_declared_not_simulated_is_refused_whatever_its_kind(self):
        broker = RealAccount()
        orch, sinks = session(broker=broker)
        assert orch.preflight() is False
        assert orch.status is SessionStatus.REJECTED
        assert "C2_REJECT_BROKER_NOT_SIMULATED" in sinks.audit_codes()
        assert orch.result().detail == (
            "broker RealAccount (kind 'mock') declares simulated = False, and live trading "
            "is off (enabled = true and the live override)"
        )
        orch.close()
        assert broker.sent == []

    def test_a_caller_s_broker_that_declares_nothing_is_refused(self):
        class Quiet(MockBroker):
            pass

        orch, sinks = session(broker=Quiet(seed=1))
        assert orch.preflight() is False
        assert "C2_REJECT_BROKER_NOT_SIMULATED" in sinks.audit_codes()
        assert "Quiet (kind 'mock') does not declare simulated" in orch.result().detail
        orch.close()

    def test_it_trades_only_with_live_trading_explicitly_enabled(self):
        orch, _ = session(broker=RealAccount(), enabled=True, live_override=True)
        assert orch.preflight() is True
        orch.close()

    def test_livesession_s_own_brokers_and_declared_ones_still_pass(self):
        class Declared(MockBroker):
            simulated = True

        for broker in (MockBroker(seed=1), Declared(seed=1)):
            orch, _ = session(broker=broker)
            assert orch.preflight() is True, orch.result().detail
            orch.close()

    def test_a_run_directory_records_one_refusal_under_user_broker(self, tmp_path: Path):
        """create_run runs the ``user_broker`` check too: the refusal is said once, as
        docs/plugins.md has it (``USER_BROKER_NOT_SIMULATED``)."""
        broker = RealAccount()
        run = create_run(DryrunConfig(run_id="gate", steps=20), tmp_path, broker=broker)
        assert run.preflight() is False
        run.close()
        result = run.result()
        assert (result.status, result.reason) == (
            SessionStatus.REJECTED,
            "USER_BROKER_NOT_SIMULATED",
        )
        assert broker.sent == []
        lines = (tmp_path / "gate" / "audit.jsonl").read_bytes().splitlines()
        codes = [orjson.loads(line)["code"] for line in lines]
        assert codes.count("C2_REJECT_USER_BROKER_NOT_SIMULATED") == 1
        assert "C2_REJECT_BROKER_NOT_SIMULATED" not in codes
