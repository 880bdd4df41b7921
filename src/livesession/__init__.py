"""livesession: run a trading session as an explicit, bounded, auditable state machine.

Dry-run first, deterministic, and leaving evidence a reviewer can verify.

Where to start:

- ``create_run(config, out_dir)`` makes a run directory and the session that writes into
  it; ``resume_run(run_dir)`` continues a crashed one from its last checkpoint;
  ``verify_run(run_dir)`` checks one against the artifact contract.
- ``LiveSessionOrchestrator(config, ...)`` is the session itself, over the edges you inject
  (clock, broker, feed, strategy, sinks, stores); ``open_session`` runs one from asyncio.
- ``DryrunConfig`` and ``load_config`` configure it; ``Strategy``, ``MarketFeed`` and
  ``Broker`` are the protocols your own code implements.
- Every error it raises on purpose is a ``LiveSessionError``.

docs/api.md lists every public name, grouped; ``livesession --help`` gives the command
line. Names load on first use; everything whose name starts with ``_`` is private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._support.lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from ._artifacts.alerts import ListAlertSink
    from ._artifacts.sinks import (
        FileLineSink,
        FileMetricsSink,
        MemoryLineSink,
        MemoryMetricsSink,
    )
    from ._artifacts.webhook import WebhookAlertSink
    from ._domain.alerts import Alert, AlertsConfig
    from ._domain.cancels import CancelIntent
    from ._domain.clock import FixedClock, SimClock, SystemClock
    from ._domain.config import (
        DryrunConfig,
        FillModelConfig,
        RealishConfig,
        RiskLimits,
        StrategyConfig,
        load_config,
    )
    from ._domain.ids import client_order_id, stable_id
    from ._domain.lifecycle import SessionState, SessionStatus, Trigger
    from ._domain.model import (
        AckReport,
        Bar,
        BrokerReport,
        CancelReport,
        FillReport,
        Order,
        OrderIntent,
        OrderType,
        RejectReport,
        Side,
        VenueOrder,
        VenueOrderStatus,
    )
    from ._domain.retry import RetryPolicy
    from ._domain.runtime_config import RuntimeConfig, Secret
    from ._exceptions import (
        AuditCorruption,
        BrokerError,
        CheckpointError,
        ConfigError,
        DataFileError,
        Fenced,
        IdempotencyConflict,
        InvalidTransition,
        LeaseError,
        LeaseHeld,
        LiveSessionError,
        MissingExtra,
        OutcomeUnknown,
        PluginError,
        PluginStateError,
        PostgresError,
        Rejected,
        RunDirectoryError,
        RunExists,
        RunHeld,
        SealCheckpointWritten,
        SinkFailure,
        StoreFailure,
        Transient,
        UnrecordablePath,
    )
    from ._market.datacheck import DataFileCheck
    from ._market.datafile import check_csv
    from ._market.feeds import CsvReplayFeed, RandomWalkFeed
    from ._market.parquet import ParquetReplayFeed, check_parquet
    from ._market.strategies import SmaCrossover
    from ._risk.checks import Check, CheckResult, PreflightContext, default_checks
    from ._risk.governor import TradingState
    from ._risk.rails import Rail, Rejection, RiskContext, default_rails
    from ._rundir import create_run, resume_run
    from ._session.book import BookView
    from ._session.coordinator import DryrunResult, LiveSessionOrchestrator, SessionInspection
    from ._session.outcomes import VerbOutcome, VerbResult
    from ._support.logging import configure_logging
    from ._typing import (
        AlertSink,
        Broker,
        CheckpointStore,
        Clock,
        DeclaredSimulation,
        IdempotencyRecord,
        IdempotencyStore,
        LineSink,
        MarketFeed,
        MetricsSink,
        Strategy,
        StrategyView,
    )
    from ._verdict import Verdict
    from ._version import __version__
    from .aio import AsyncSession, open_session
    from .brokers.ccxt import CcxtSandboxBroker, ccxt_preflight_checks, make_ccxt_broker
    from .brokers.mock import FillModel, MockBroker
    from .brokers.realish import FaultModel, RealishBroker
    from .leases import FileLease, LeaseGrant, PostgresLease, SessionLease
    from .stores.checkpoint_file import FileCheckpointStore
    from .stores.jsonl import JsonlIdempotencyStore
    from .stores.memory import MemoryIdempotencyStore
    from .stores.postgres import PostgresCheckpointStore, PostgresIdempotencyStore, pg_dsn_from_env
    from .stores.sqlite import SqliteIdempotencyStore
    from .verify import VerifyResult, verify_run

# Names load on first use (PEP 562), so `import livesession` stays light for the CLI.
_LAZY: dict[str, str] = {
    "AckReport": "._domain.model",
    "Alert": "._domain.alerts",
    "AlertSink": "._typing",
    "AlertsConfig": "._domain.alerts",
    "AsyncSession": ".aio",
    "AuditCorruption": "._exceptions",
    "Bar": "._domain.model",
    "BookView": "._session.book",
    "Broker": "._typing",
    "BrokerError": "._exceptions",
    "BrokerReport": "._domain.model",
    "CancelIntent": "._domain.cancels",
    "CancelReport": "._domain.model",
    "CcxtSandboxBroker": ".brokers.ccxt",
    "Check": "._risk.checks",
    "CheckResult": "._risk.checks",
    "CheckpointError": "._exceptions",
    "CheckpointStore": "._typing",
    "Clock": "._typing",
    "ConfigError": "._exceptions",
    "CsvReplayFeed": "._market.feeds",
    "DataFileCheck": "._market.datacheck",
    "DataFileError": "._exceptions",
    "DeclaredSimulation": "._typing",
    "DryrunConfig": "._domain.config",
    "DryrunResult": "._session.coordinator",
    "Fenced": "._exceptions",
    "FaultModel": ".brokers.realish",
    "FileCheckpointStore": ".stores.checkpoint_file",
    "FileLease": ".leases",
    "FileLineSink": "._artifacts.sinks",
    "FileMetricsSink": "._artifacts.sinks",
    "FillModel": ".brokers.mock",
    "FillModelConfig": "._domain.config",
    "FillReport": "._domain.model",
    "FixedClock": "._domain.clock",
    "IdempotencyConflict": "._exceptions",
    "IdempotencyRecord": "._typing",
    "IdempotencyStore": "._typing",
    "InvalidTransition": "._exceptions",
    "JsonlIdempotencyStore": ".stores.jsonl",
    "LeaseError": "._exceptions",
    "LeaseGrant": ".leases",
    "LeaseHeld": "._exceptions",
    "LineSink": "._typing",
    "LiveSessionError": "._exceptions",
    "ListAlertSink": "._artifacts.alerts",
    "LiveSessionOrchestrator": "._session.coordinator",
    "MarketFeed": "._typing",
    "MemoryIdempotencyStore": ".stores.memory",
    "MemoryLineSink": "._artifacts.sinks",
    "MemoryMetricsSink": "._artifacts.sinks",
    "MetricsSink": "._typing",
    "MissingExtra": "._exceptions",
    "MockBroker": ".brokers.mock",
    "Order": "._domain.model",
    "OrderIntent": "._domain.model",
    "OrderType": "._domain.model",
    "OutcomeUnknown": "._exceptions",
    "ParquetReplayFeed": "._market.parquet",
    "PluginError": "._exceptions",
    "PluginStateError": "._exceptions",
    "PostgresCheckpointStore": ".stores.postgres",
    "PostgresError": "._exceptions",
    "PostgresIdempotencyStore": ".stores.postgres",
    "PostgresLease": ".leases",
    "PreflightContext": "._risk.checks",
    "RandomWalkFeed": "._market.feeds",
    "RealishBroker": ".brokers.realish",
    "RejectReport": "._domain.model",
    "Rejected": "._exceptions",
    "Rail": "._risk.rails",
    "Rejection": "._risk.rails",
    "RetryPolicy": "._domain.retry",
    "RiskContext": "._risk.rails",
    "RealishConfig": "._domain.config",
    "RiskLimits": "._domain.config",
    "RunDirectoryError": "._exceptions",
    "RunExists": "._exceptions",
    "RunHeld": "._exceptions",
    "SealCheckpointWritten": "._exceptions",
    "UnrecordablePath": "._exceptions",
    "RuntimeConfig": "._domain.runtime_config",
    "Secret": "._domain.runtime_config",
    "SessionInspection": "._session.coordinator",
    "SessionLease": ".leases",
    "SessionState": "._domain.lifecycle",
    "SessionStatus": "._domain.lifecycle",
    "Side": "._domain.model",
    "SimClock": "._domain.clock",
    "SinkFailure": "._exceptions",
    "StoreFailure": "._exceptions",
    "SmaCrossover": "._market.strategies",
    "SqliteIdempotencyStore": ".stores.sqlite",
    "Strategy": "._typing",
    "StrategyConfig": "._domain.config",
    "StrategyView": "._typing",
    "SystemClock": "._domain.clock",
    "TradingState": "._risk.governor",
    "Transient": "._exceptions",
    "Trigger": "._domain.lifecycle",
    "VenueOrder": "._domain.model",
    "VenueOrderStatus": "._domain.model",
    "VerbOutcome": "._session.outcomes",
    "VerbResult": "._session.outcomes",
    "Verdict": "._verdict",
    "VerifyResult": ".verify",
    "WebhookAlertSink": "._artifacts.webhook",
    "__version__": "._version",
    "ccxt_preflight_checks": ".brokers.ccxt",
    "check_csv": "._market.datafile",
    "check_parquet": "._market.parquet",
    "client_order_id": "._domain.ids",
    "configure_logging": "._support.logging",
    "create_run": "._rundir",
    "default_checks": "._risk.checks",
    "default_rails": "._risk.rails",
    "load_config": "._domain.config",
    "make_ccxt_broker": ".brokers.ccxt",
    "open_session": ".aio",
    "pg_dsn_from_env": ".stores.postgres",
    "resume_run": "._rundir",
    "stable_id": "._domain.ids",
    "verify_run": ".verify",
}


# Hidden from type checkers: they read the imports above, so a name the package does not
# export is an error there, not Any (a module's __getattr__ answers every name).
if not TYPE_CHECKING:
    __getattr__, __dir__ = _lazy_exports(__name__, _LAZY, globals())


__all__ = [
    "AckReport",
    "Alert",
    "AlertSink",
    "AlertsConfig",
    "AsyncSession",
    "AuditCorruption",
    "Bar",
    "BookView",
    "Broker",
    "BrokerError",
    "BrokerReport",
    "CancelIntent",
    "CancelReport",
    "CcxtSandboxBroker",
    "Check",
    "CheckResult",
    "CheckpointError",
    "CheckpointStore",
    "Clock",
    "ConfigError",
    "CsvReplayFeed",
    "DataFileCheck",
    "DataFileError",
    "DeclaredSimulation",
    "DryrunConfig",
    "DryrunResult",
    "FaultModel",
    "Fenced",
    "FileCheckpointStore",
    "FileLease",
    "FileLineSink",
    "FileMetricsSink",
    "FillModel",
    "FillModelConfig",
    "FillReport",
    "FixedClock",
    "IdempotencyConflict",
    "IdempotencyRecord",
    "IdempotencyStore",
    "InvalidTransition",
    "JsonlIdempotencyStore",
    "LeaseError",
    "LeaseGrant",
    "LeaseHeld",
    "LineSink",
    "ListAlertSink",
    "LiveSessionError",
    "LiveSessionOrchestrator",
    "MarketFeed",
    "MemoryIdempotencyStore",
    "MemoryLineSink",
    "MemoryMetricsSink",
    "MetricsSink",
    "MissingExtra",
    "MockBroker",
    "Order",
    "OrderIntent",
    "OrderType",
    "OutcomeUnknown",
    "ParquetReplayFeed",
    "PluginError",
    "PluginStateError",
    "PostgresCheckpointStore",
    "PostgresError",
    "PostgresIdempotencyStore",
    "PostgresLease",
    "PreflightContext",
    "Rail",
    "RandomWalkFeed",
    "RealishBroker",
    "RealishConfig",
    "RejectReport",
    "Rejected",
    "Rejection",
    "RetryPolicy",
    "RiskContext",
    "RiskLimits",
    "RunDirectoryError",
    "RunExists",
    "RunHeld",
    "RuntimeConfig",
    "SealCheckpointWritten",
    "Secret",
    "SessionInspection",
    "SessionLease",
    "SessionState",
    "SessionStatus",
    "Side",
    "SimClock",
    "SinkFailure",
    "SmaCrossover",
    "SqliteIdempotencyStore",
    "StoreFailure",
    "Strategy",
    "StrategyConfig",
    "StrategyView",
    "SystemClock",
    "TradingState",
    "Transient",
    "Trigger",
    "UnrecordablePath",
    "VenueOrder",
    "VenueOrderStatus",
    "VerbOutcome",
    "VerbResult",
    "Verdict",
    "VerifyResult",
    "WebhookAlertSink",
    "__version__",
    "ccxt_preflight_checks",
    "check_csv",
    "check_parquet",
    "client_order_id",
    "configure_logging",
    "create_run",
    "default_checks",
    "default_rails",
    "load_config",
    "make_ccxt_broker",
    "open_session",
    "pg_dsn_from_env",
    "resume_run",
    "stable_id",
    "verify_run",
]
