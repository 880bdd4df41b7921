"""Preflight checks: small named snapshot checks, each with a reason code.

A failed check rejects the session (PREFLIGHT_FAILED, status REJECTED) before any order
can exist, and its reason becomes the audit code ``C2_REJECT_<REASON>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs

from .._domain.config import DryrunConfig
from .._typing import Broker, VenueKind
from .rails import is_valid_symbol

__all__ = [
    "Check",
    "CheckResult",
    "PreflightContext",
    "allowlist_valid",
    "audit_sink_present",
    "broker_is_simulated",
    "config_valid",
    "default_checks",
    "live_trading_disabled",
]

SIMULATED_BROKERS = frozenset({"mock", "realish"})


@attrs.frozen(kw_only=True)
class CheckResult:
    """The outcome of one check; ``reason`` is an upper-case code when it failed."""

    name: str
    passed: bool
    reason: str = ""


@attrs.frozen(kw_only=True)
class PreflightContext:
    """What preflight checks may look at."""

    config: DryrunConfig
    broker: Broker
    audit_sink_present: bool
    live_override: bool = False
    sandbox_verified: bool = False


class Check(Protocol):
    """**Protocol:** a named preflight (snapshot) check."""

    @property
    def name(self) -> str:
        """The check name."""
        ...

    def __call__(self, ctx: PreflightContext, /) -> CheckResult:
        """Run the check."""
        ...


@attrs.frozen
class _LiveTradingDisabled:
    name: str = "live_trading_disabled"

    def __call__(self, ctx: PreflightContext) -> CheckResult:
        ok = not ctx.config.enabled or ctx.live_override
        return CheckResult(name=self.name, passed=ok, reason="" if ok else "LIVE_ENABLED")


@attrs.frozen
class _AllowlistValid:
    name: str = "allowlist_valid"

    def __call__(self, ctx: PreflightContext) -> CheckResult:
        symbols = ctx.config.allowlist
        if not symbols:
            return CheckResult(name=self.name, passed=False, reason="ALLOWLIST_EMPTY")
        if not all(is_valid_symbol(s) for s in symbols):
            return CheckResult(name=self.name, passed=False, reason="ALLOWLIST_INVALID")
        if ctx.config.symbol not in symbols:
            return CheckResult(name=self.name, passed=False, reason="SYMBOL_NOT_ALLOWED")
        return CheckResult(name=self.name, passed=True)


@attrs.frozen
class _BrokerIsSimulated:
    name: str = "broker_is_simulated"

    def __call__(self, ctx: PreflightContext) -> CheckResult:
        kind = ctx.broker.kind if isinstance(ctx.broker, VenueKind) else ""
        ok = kind in SIMULATED_BROKERS or (kind == "ccxt_sandbox" and ctx.sandbox_verified)
        return CheckResult(name=self.name, passed=ok, reason="" if ok else "BROKER_NOT_SIMULATED")


@attrs.frozen
class _AuditSinkPresent:
    name: str = "audit_sink_present"

    def __call__(self, ctx: PreflightContext) -> CheckResult:
        ok = ctx.audit_sink_present
        return CheckResult(name=self.name, passed=ok, reason="" if ok else "AUDIT_SINK_MISSING")


@attrs.frozen
class _ConfigValid:
    name: str = "config_valid"

    def __call__(self, ctx: PreflightContext) -> CheckResult:
        cfg = ctx.config
        ok = cfg.steps <= cfg.max_steps and cfg.strategy.order_qty <= cfg.risk.max_order_qty
        return CheckResult(name=self.name, passed=ok, reason="" if ok else "CONFIG_INVALID")


def live_trading_disabled() -> Check:
    """The live ``enabled`` flag is off, or an explicit test override was passed."""
    return _LiveTradingDisabled()


def allowlist_valid() -> Check:
    """The allowlist is present, non-empty, well-formed, and holds the traded symbol."""
    return _AllowlistValid()


def broker_is_simulated() -> Check:
    """The broker is the mock or realish broker, or a verified sandbox."""
    return _BrokerIsSimulated()


def audit_sink_present() -> Check:
    """An audit sink is configured (its first write proves it writable)."""
    return _AuditSinkPresent()


def config_valid() -> Check:
    """The configuration is internally consistent."""
    return _ConfigValid()


def default_checks() -> Sequence[Check]:
    """The preflight checks every session runs, in order."""
    return (
        config_valid(),
        live_trading_disabled(),
        allowlist_valid(),
        broker_is_simulated(),
        audit_sink_present(),
    )
