"""livesession: run a trading session as an explicit, bounded, auditable state machine.

Dry-run first, deterministic, and leaving evidence a reviewer can verify.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._book import BookView
    from ._checks import Check, CheckResult, PreflightContext, default_checks
    from ._clock import FixedClock, SimClock, SystemClock
    from ._config import DryrunConfig, FillModelConfig, RiskLimits, StrategyConfig, load_config
    from ._exceptions import (
        AuditCorruption,
        BrokerError,
        CheckpointError,
        ConfigError,
        IdempotencyConflict,
        InvalidTransition,
        LiveSessionError,
        MissingExtra,
        OutcomeUnknown,
        Rejected,
        RunDirectoryError,
        SinkFailure,
        Transient,
    )
    from ._feeds import CsvReplayFeed, RandomWalkFeed
    from ._ids import client_order_id, stable_id
    from ._lifecycle import SessionState, SessionStatus, Trigger
    from ._model import Bar, Order, OrderIntent, OrderType, Side
    from ._orchestrator import DryrunResult, LiveSessionOrchestrator, TradingState
    from ._rails import Rejection, RiskContext
    from ._retry import RetryPolicy
    from ._sinks import MemoryLineSink, MemoryMetricsSink
    from ._strategy import SmaCrossover
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
    "Bar": "._model",
    "BookView": "._book",
    "Broker": "._typing",
    "BrokerError": "._exceptions",
    "Check": "._checks",
    "CheckResult": "._checks",
    "CheckpointError": "._exceptions",
    "CheckpointStore": "._typing",
    "Clock": "._typing",
    "ConfigError": "._exceptions",
    "CsvReplayFeed": "._feeds",
    "DryrunConfig": "._config",
    "DryrunResult": "._orchestrator",
    "FillModel": ".brokers.mock",
    "FillModelConfig": "._config",
    "FixedClock": "._clock",
    "IdempotencyConflict": "._exceptions",
    "IdempotencyStore": "._typing",
    "InvalidTransition": "._exceptions",
    "LineSink": "._typing",
    "LiveSessionError": "._exceptions",
    "LiveSessionOrchestrator": "._orchestrator",
    "MarketFeed": "._typing",
    "MemoryLineSink": "._sinks",
    "MemoryMetricsSink": "._sinks",
    "MetricsSink": "._typing",
    "MissingExtra": "._exceptions",
    "MockBroker": ".brokers.mock",
    "Order": "._model",
    "OrderIntent": "._model",
    "OrderType": "._model",
    "OutcomeUnknown": "._exceptions",
    "PreflightContext": "._checks",
    "RandomWalkFeed": "._feeds",
    "Rejected": "._exceptions",
    "Rejection": "._rails",
    "RetryPolicy": "._retry",
    "RiskContext": "._rails",
    "RiskLimits": "._config",
    "RunDirectoryError": "._exceptions",
    "SessionState": "._lifecycle",
    "SessionStatus": "._lifecycle",
    "Side": "._model",
    "SimClock": "._clock",
    "SinkFailure": "._exceptions",
    "SmaCrossover": "._strategy",
    "Strategy": "._typing",
    "StrategyConfig": "._config",
    "SystemClock": "._clock",
    "TradingState": "._orchestrator",
    "Transient": "._exceptions",
    "Trigger": "._lifecycle",
    "__version__": "._version",
    "client_order_id": "._ids",
    "default_checks": "._checks",
    "load_config": "._config",
    "stable_id": "._ids",
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
    "PreflightContext",
    "RandomWalkFeed",
    "Rejected",
    "Rejection",
    "RetryPolicy",
    "RiskContext",
    "RiskLimits",
    "RunDirectoryError",
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
