"""livesession: run a trading session as an explicit, bounded, auditable state machine.

Dry-run first, deterministic, and leaving evidence a reviewer can verify.
"""

from __future__ import annotations

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
