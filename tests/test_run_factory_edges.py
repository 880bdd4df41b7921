"""The testing kit's ``run_factory`` takes the session's edges as the orchestrator does.

Bug: it passed six edges on (``strategy``, ``feed``, ``broker``, ``clock``, ``idempotency``,
``checks``) and every other keyword to ``DryrunConfig``: ``alerts=sink`` failed with
``ConfigError: alerts must be a table``, ``retry_policy=`` and ``checkpoints=`` with
``TypeError: DryrunConfig.__init__() got an unexpected keyword argument``, and ``rails=``
of rail objects with a ``ConfigError`` about references. A name that is both an edge and a
config field is the config's only in the config's own form (text, references, a table).
"""

from __future__ import annotations

from typing import Any

import pytest

from livesession import (
    AlertsConfig,
    DryrunConfig,
    ListAlertSink,
    OrderIntent,
    PluginError,
    Rejection,
    RetryPolicy,
    RiskContext,
    default_rails,
)
from livesession.testing import RunFactory


class RefuseAll:
    """A desk rail that refuses every intent."""

    rule = "DESK_CLOSED"

    def __call__(self, intent: OrderIntent, ctx: RiskContext) -> Rejection | None:
        return Rejection(rule=self.rule, detail={}, reason="the desk is closed")


def test_rail_objects_alerts_and_a_retry_policy_are_the_sessions_edges():
    factory = RunFactory()
    config = DryrunConfig(run_id="test", steps=300)
    alerts = ListAlertSink()
    policy = RetryPolicy(max_attempts=2, seed=7)
    run = factory.run(
        steps=300,
        rails=(*default_rails(config.risk, config.allowed_symbols), RefuseAll()),
        alerts=alerts,
        retry_policy=policy,
    )
    refused = run.events_of("RISK_REJECTED")
    assert refused
    assert {event["payload"]["rule"] for event in refused} == {"DESK_CLOSED"}
    assert run.orch.result().orders_submitted == 0
    assert alerts.codes() == ["RUN_SEALED"]  # the sink was the session's
    assert factory.problems() == []


@pytest.mark.parametrize(
    ("edge", "said"),
    [
        ({"retry_policy": 3}, "retry_policy= got an int, not a RetryPolicy"),
        ({"checkpoints": 3}, "checkpoints= got an int, not a CheckpointStore"),
        ({"alerts": "yes"}, "alerts= got a str, not an AlertSink"),
    ],
)
def test_an_edge_of_the_wrong_kind_is_refused_as_the_session_refuses_it(
    edge: dict[str, Any], said: str
):
    with pytest.raises(PluginError, match=said):
        RunFactory()(steps=5, **edge)


def test_the_configs_own_forms_stay_the_configs():
    """References, a table: the config's fields, as before."""
    factory = RunFactory()
    run = factory.run(steps=5, rails=[], alerts={"retries": 1})
    assert run.orch.config.rails == ()
    assert run.orch.config.alerts == AlertsConfig(retries=1)
    assert factory.problems() == []


@pytest.mark.parametrize("sink", ["event_sink", "state_sink", "audit_sink", "metrics_sink"])
def test_a_sink_is_refused_naming_it_and_what_to_do(sink: str):
    """The factory's sinks are memory sinks it reads back; another would be lost quietly."""
    with pytest.raises(TypeError) as caught:
        RunFactory()(steps=5, **{sink: object()})
    said = str(caught.value)
    assert "\n" not in said
    assert said.startswith(f"run_factory does not take {sink}=: it writes to memory sinks")
    assert "LiveSessionOrchestrator(config, ...)" in said
