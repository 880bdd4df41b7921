"""livesession: run a trading session as an explicit, bounded, auditable state machine.

Dry-run first, deterministic, and leaving evidence a reviewer can verify.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._artifacts.sinks import MemoryLineSink, MemoryMetricsSink
    from ._domain.clock import FixedClock, SimClock, SystemClock
    from ._domain.config import (
        DryrunConfig,
        FillModelConfig,
        RiskLimits,
        StrategyConfig,
        load_config,
    )
    from ._domain.ids import client_order_id, stable_id
    from ._domain.lifecycle import SessionState, SessionStatus, Trigger
    from ._domain.model import Bar, Order, OrderIntent, OrderType, Side
    from ._domain.retry import RetryPolicy
    from ._exceptions import (
        AuditCorruption,
        BrokerError,
        CheckpointError,
        ConfigError,
        IdempotencyConflict,
        InvalidTransition,
        LeaseError,
        LeaseHeld,
        LiveSessionError,
        MissingExtra,
        OutcomeUnknown,
        PostgresError,
        Rejected,
        RunDirectoryError,
        SinkFailure,
        Transient,
    )
    from ._market.feeds import CsvReplayFeed, RandomWalkFeed
    from ._market.strategies import SmaCrossover
    from ._risk.checks import Check, CheckResult, PreflightContext, default_checks
    from ._risk.governor import TradingState
    from ._risk.rails import Rejection, RiskContext
    from ._session.book import BookView
    from ._session.coordinator import DryrunResult, LiveSessionOrchestrator, SessionInspection
    from ._typing import (
        Broker,
        CheckpointStore,
        Clock,
        IdempotencyStore,
        LineSink,
        MarketFeed,
        MetricsSink,
        Strategy,
    )
    from ._version import __version__
    from .brokers.mock import FillModel, MockBroker

# Names load on first use (PEP 562), so `import livesession` stays light for the CLI.
_LAZY: dict[str, str] = {
    "AuditCorruption": "._exceptions",
    "Bar": "._domain.model",
    "BookView": "._session.book",
    "Broker": "._typing",
    "BrokerError": "._exceptions",
    "Check": "._risk.checks",
    "CheckResult": "._risk.checks",
    "CheckpointError": "._exceptions",
    "CheckpointStore": "._typing",
    "Clock": "._typing",
    "ConfigError": "._exceptions",
    "CsvReplayFeed": "._market.feeds",
    "DryrunConfig": "._domain.config",
    "DryrunResult": "._session.coordinator",
    "FillModel": ".brokers.mock",
    "FillModelConfig": "._domain.config",
    "FixedClock": "._domain.clock",
    "IdempotencyConflict": "._exceptions",
    "IdempotencyStore": "._typing",
    "InvalidTransition": "._exceptions",
    "LeaseError": "._exceptions",
    "LeaseHeld": "._exceptions",
    "LineSink": "._typing",
    "LiveSessionError": "._exceptions",
    "LiveSessionOrchestrator": "._session.coordinator",
    "MarketFeed": "._typing",
    "MemoryLineSink": "._artifacts.sinks",
    "MemoryMetricsSink": "._artifacts.sinks",
    "MetricsSink": "._typing",
    "MissingExtra": "._exceptions",
    "MockBroker": ".brokers.mock",
    "Order": "._domain.model",
    "OrderIntent": "._domain.model",
    "OrderType": "._domain.model",
    "OutcomeUnknown": "._exceptions",
    "PostgresError": "._exceptions",
    "PreflightContext": "._risk.checks",
    "RandomWalkFeed": "._market.feeds",
    "Rejected": "._exceptions",
    "Rejection": "._risk.rails",
    "RetryPolicy": "._domain.retry",
    "RiskContext": "._risk.rails",
    "RiskLimits": "._domain.config",
    "RunDirectoryError": "._exceptions",
    "SessionInspection": "._session.coordinator",
    "SessionState": "._domain.lifecycle",
    "SessionStatus": "._domain.lifecycle",
    "Side": "._domain.model",
    "SimClock": "._domain.clock",
    "SinkFailure": "._exceptions",
    "SmaCrossover": "._market.strategies",
    "Strategy": "._typing",
    "StrategyConfig": "._domain.config",
    "SystemClock": "._domain.clock",
    "TradingState": "._risk.governor",
    "Transient": "._exceptions",
    "Trigger": "._domain.lifecycle",
    "__version__": "._version",
    "client_order_id": "._domain.ids",
    "default_checks": "._risk.checks",
    "load_config": "._domain.config",
    "stable_id": "._domain.ids",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'livesession' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AuditCorruption",
    "Bar",
    "BookView",
    "Broker",
    "BrokerError",
    "Check",
    "CheckResult",
    "CheckpointError",
    "CheckpointStore",
    "Clock",
    "ConfigError",
    "CsvReplayFeed",
    "DryrunConfig",
    "DryrunResult",
    "FillModel",
    "FillModelConfig",
    "FixedClock",
    "IdempotencyConflict",
    "IdempotencyStore",
    "InvalidTransition",
    "LeaseError",
    "LeaseHeld",
    "LineSink",
    "LiveSessionError",
    "LiveSessionOrchestrator",
    "MarketFeed",
    "MemoryLineSink",
    "MemoryMetricsSink",
    "MetricsSink",
    "MissingExtra",
    "MockBroker",
    "Order",
    "OrderIntent",
    "OrderType",
    "OutcomeUnknown",
    "PostgresError",
    "PreflightContext",
    "RandomWalkFeed",
    "Rejected",
    "Rejection",
    "RetryPolicy",
    "RiskContext",
    "RiskLimits",
    "RunDirectoryError",
    "SessionInspection",
    "SessionState",
    "SessionStatus",
    "Side",
    "SimClock",
    "SinkFailure",
    "SmaCrossover",
    "Strategy",
    "StrategyConfig",
    "SystemClock",
    "TradingState",
    "Transient",
    "Trigger",
    "__version__",
    "client_order_id",
    "default_checks",
    "load_config",
    "stable_id",
]
