"""Preflight checks: small named snapshot checks, each with a reason code.

A failed check rejects the session (PREFLIGHT_FAILED, status REJECTED) before any order
can exist, and its reason becomes the audit code ``C2_REJECT_<REASON>``. Its ``detail``
says in one line which field and value made it fail (``order_qty 0.050 > max_order_qty
0.040``), for the audit payload, the CLI and the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Protocol, TypeAlias

import attrs

from .._domain.config import DryrunConfig
from .._domain.decimal import plain, with_context
from .._domain.ids import SYMBOL_FORMS, derivative_note, is_valid_symbol
from .._typing import Broker, DeclaredSimulation, VenueKind

__all__ = [
    "OWN_VENUE",
    "AnyCheck",
    "Check",
    "CheckResult",
    "PreflightContext",
    "UserBrokerCheck",
    "allowlist_valid",
    "audit_sink_present",
    "broker_is_simulated",
    "config_valid",
    "default_checks",
    "live_trading_disabled",
    "session_checks",
]

SIMULATED_BROKERS = frozenset({"mock", "realish"})
OWN_VENUE: Final = "livesession's own simulated venue"
"""How ``user_broker`` says a broker is one of livesession's own (the evidence reads it)."""


@attrs.frozen(kw_only=True)
class CheckResult:
    """The outcome of one check; ``reason`` is an upper-case code when it failed.

    ``detail`` names the field and the value that failed it, in one line for a person
    (empty when the check passed, or when a caller's check gives none).
    """

    name: str
    passed: bool
    reason: str = ""
    detail: str = ""


@attrs.frozen(kw_only=True)
class PreflightContext:
    """What preflight checks may look at."""

    config: DryrunConfig
    broker: Broker
    audit_sink_present: bool
    live_override: bool = False
    sandbox_verified: bool = False
    demo_strategy: bool = True
    """Whether the session runs the demo strategy as the config's ``[strategy]`` table sets
    it up: only then does that table's ``order_qty`` say what the session trades."""
    own_broker: bool = True
    """Whether the broker is one of livesession's own (not a caller's, which the session
    wraps in its guard): only then does its ``kind`` say whether it is simulated."""
    user_broker_checked: bool = False
    """Whether a ``UserBrokerCheck`` runs too (a run directory's session on a caller's
    broker): that check then judges the declaration, under its own reason, once."""


class Check(Protocol):
    """**Protocol:** a named preflight (snapshot) check.

    A check has a ``name`` and is called once at preflight as ``check(ctx)`` with the
    ``PreflightContext``, answering a ``CheckResult``; one that fails rejects the session
    before it trades (``REJECTED``, the result's ``reason``: free text is made an
    upper-case code, and an empty one is ``CHECK_FAILED``). A plain function taking the
    context will do, named by its ``__name__``. Give yours as
    ``LiveSessionOrchestrator(checks=...)``: they run after the built-in ones
    (``default_checks()``), which always run.
    """

    @property
    def name(self) -> str:
        """The check name."""
        ...

    def __call__(self, ctx: PreflightContext, /) -> CheckResult:
        """Run the check."""
        ...


AnyCheck: TypeAlias = Check | Callable[[PreflightContext], CheckResult]
"""What a session takes as a check of the caller's: a ``Check``, or a plain function taking
the ``PreflightContext`` (named by its ``__name__`` where a check that fails says which)."""


@attrs.frozen
class _Named:
    """What the built-in checks share: a name, and the result they answer under it."""

    name: str

    def _pass(self) -> CheckResult:
        return CheckResult(name=self.name, passed=True)

    def _fail(self, reason: str, detail: str) -> CheckResult:
        return CheckResult(name=self.name, passed=False, reason=reason, detail=detail)


@attrs.frozen
class _Condition(_Named):
    """A check one condition decides; it fails with ``reason`` and ``detail``."""

    holds: Callable[[PreflightContext], bool]
    reason: str
    detail: str

    @with_context  # the library's context, whoever calls it (docs/embedding.md)
    def __call__(self, ctx: PreflightContext) -> CheckResult:
        return self._pass() if self.holds(ctx) else self._fail(self.reason, self.detail)


def _live_off(ctx: PreflightContext) -> bool:
    return not ctx.config.enabled or ctx.live_override


def _audit_sink_given(ctx: PreflightContext) -> bool:
    return ctx.audit_sink_present


@attrs.frozen
class _AllowlistValid(_Named):
    name: str = "allowlist_valid"

    @with_context  # the library's context, whoever calls it (docs/embedding.md)
    def __call__(self, ctx: PreflightContext) -> CheckResult:
        symbols = ctx.config.allowed_symbols
        if not symbols:
            return self._fail("ALLOWLIST_EMPTY", "allowlist is empty")
        bad = [s for s in symbols if not is_valid_symbol(s)]
        if bad:
            return self._fail(
                "ALLOWLIST_INVALID",
                f"allowlist symbol {bad[0]!r} is not {SYMBOL_FORMS}{derivative_note(bad[0])}",
            )
        if ctx.config.symbol not in symbols:
            listed = ", ".join(symbols)
            return self._fail(
                "SYMBOL_NOT_ALLOWED", f"symbol {ctx.config.symbol!r} is not in allowlist [{listed}]"
            )
        # With no allowlist given the feed's symbols are allowed: preflight says so in the
        # session log (not in the events: a resumed run reads its allowlist back written out).
        return self._pass()


@attrs.frozen
class _BrokerIsSimulated(_Named):
    """A broker trades only while it is simulated, or live trading is explicitly enabled.

    A broker's declaration (``DeclaredSimulation``) comes first, whatever its ``kind``: a
    ``MockBroker`` subclass that says ``simulated = False`` inherited the kind ``mock``,
    and is a venue its author says is real. Only livesession's own brokers are known by
    their kind; a caller's broker that declares nothing says nothing the gate can trust.
    """

    name: str = "broker_is_simulated"

    @with_context  # the library's context, whoever calls it (docs/embedding.md)
    def __call__(self, ctx: PreflightContext) -> CheckResult:
        broker = ctx.broker
        kind = broker.kind if isinstance(broker, VenueKind) else ""
        declared = broker.simulated if isinstance(broker, DeclaredSimulation) else None
        if declared is True or (ctx.user_broker_checked and not ctx.own_broker):
            return self._pass()  # a user's broker, declared (or judged by user_broker)
        if declared is False:
            if ctx.config.enabled and ctx.live_override:
                return self._pass()  # live, explicitly enabled
            return self._fail(
                "BROKER_NOT_SIMULATED",
                f"broker {_named(broker, kind)} declares simulated = False, and live trading "
                "is off (enabled = true and the live override)",
            )
        own = ctx.own_broker
        if _known_simulated(ctx, kind):
            return self._pass()
        if own and kind == "ccxt_sandbox":
            detail = "broker 'ccxt_sandbox' is not a verified sandbox"
        elif kind in SIMULATED_BROKERS or kind == "ccxt_sandbox" or not own:  # a caller's
            detail = (
                f"broker {_named(broker, kind)} does not declare simulated: a broker of your "
                "own sets simulated = True to trade in a dry run (its kind says nothing)"
            )
        elif kind:  # taken for livesession's own (a desk's PreflightContext), of no kind of it
            detail = f"broker {kind!r} is not simulated (mock, realish or a verified sandbox)"
        else:
            detail = f"broker {type(broker).__name__} does not say what kind of venue it is"
        return self._fail("BROKER_NOT_SIMULATED", detail)


def _known_simulated(ctx: PreflightContext, kind: str) -> bool:
    """Whether the broker is one of livesession's own simulated venues, known by its kind.

    ``MockBroker``, ``RealishBroker``, the testing kit's ``FaultBroker``, a verified ccxt
    sandbox: exactly such a class (``own_broker``: the session does not guard it), never a
    subclass of one, which is the caller's own and declares (``DeclaredSimulation``).
    """
    if not ctx.own_broker:
        return False
    return kind in SIMULATED_BROKERS or (kind == "ccxt_sandbox" and ctx.sandbox_verified)


def _named(broker: object, kind: str) -> str:
    """The broker as a refusal names it: its class (the wrapped one's) and its kind."""
    inner = getattr(broker, "inner", broker)
    return f"{type(inner).__name__} (kind {kind!r})" if kind else type(inner).__name__


@attrs.frozen
class UserBrokerCheck:
    """Preflight's audit of a user's broker: which one (``record``), and what it declares.

    A run directory's session on a caller's broker runs it (``user_broker``): it passes a
    broker that declares ``simulated = True``, and one that declares ``simulated = False``
    only with live trading explicitly enabled. One of livesession's own simulated venues
    handed in (exactly a ``MockBroker``, ``RealishBroker``, ``FaultBroker``, a verified
    sandbox) declares nothing and passes, known by its kind as preflight knows it; a
    subclass of one is the caller's own and declares. Any other is
    ``USER_BROKER_NOT_SIMULATED``.
    """

    record: dict[str, Any]
    name: str = "user_broker"

    @with_context  # the library's context, whoever calls it (docs/embedding.md)
    def __call__(self, ctx: PreflightContext, /) -> CheckResult:
        what = f"user-supplied broker {self.record.get('ref') or self.record.get('object')}"
        simulated = ctx.broker.simulated if isinstance(ctx.broker, DeclaredSimulation) else None
        if simulated is True:
            return CheckResult(name=self.name, passed=True, detail=f"{what}, declared simulated")
        if simulated is False and ctx.config.enabled and ctx.live_override:
            return CheckResult(
                name=self.name,
                passed=True,
                detail=f"{what}, declared NOT simulated: live trading explicitly enabled",
            )
        kind = ctx.broker.kind if isinstance(ctx.broker, VenueKind) else ""
        if simulated is None and _known_simulated(ctx, kind):
            return CheckResult(
                name=self.name,
                passed=True,
                detail=f"{what}, {OWN_VENUE} (kind {kind!r})",
            )
        said = "declares simulated = False" if simulated is False else "does not declare simulated"
        return CheckResult(
            name=self.name,
            passed=False,
            reason="USER_BROKER_NOT_SIMULATED",
            detail=f"{what} {said}, and live trading is off",
        )


@attrs.frozen
class _ConfigValid(_Named):
    name: str = "config_valid"

    @with_context  # the library's context, whoever calls it (docs/embedding.md)
    def __call__(self, ctx: PreflightContext) -> CheckResult:
        cfg = ctx.config
        broken = []
        if cfg.steps > cfg.max_steps:
            broken.append(f"steps {cfg.steps} > max_steps {cfg.max_steps}")
        # Another strategy trades its own quantities (the rails hold them): the demo's
        # order_qty, a default the user may never have set, says nothing about it.
        if ctx.demo_strategy and cfg.strategy.order_qty > cfg.risk.max_order_qty:
            broken.append(  # written out, never 1E-7: the reason is the run's record
                f"order_qty {plain(cfg.strategy.order_qty)} > max_order_qty "
                f"{plain(cfg.risk.max_order_qty)}"
            )
        # An order is a whole number of lots: below one lot the rail refuses every order.
        if cfg.risk.max_order_qty < cfg.qty_lot:
            broken.append(
                f"max_order_qty {plain(cfg.risk.max_order_qty)} < qty_lot {plain(cfg.qty_lot)} "
                "(no order of one lot could pass)"
            )
        if not broken:
            return self._pass()
        return self._fail("CONFIG_INVALID", "; ".join(broken))


def live_trading_disabled() -> Check:
    """The live ``enabled`` flag is off, or an explicit test override was passed."""
    return _Condition(
        "live_trading_disabled",
        _live_off,
        "LIVE_ENABLED",
        "enabled = true: live trading is off in this version",
    )


def allowlist_valid() -> Check:
    """The allowlist is present, non-empty, well-formed, and holds the traded symbol."""
    return _AllowlistValid()


def broker_is_simulated() -> Check:
    """The broker is simulated: declared so, or livesession's mock, realish or verified sandbox.

    A broker that declares ``simulated = False`` passes only with live trading explicitly
    enabled; a caller's broker that declares nothing never does.
    """
    return _BrokerIsSimulated()


def audit_sink_present() -> Check:
    """An audit sink is configured (its first write proves it writable)."""
    return _Condition(
        "audit_sink_present",
        _audit_sink_given,
        "AUDIT_SINK_MISSING",
        "no audit sink was given (audit_sink is None)",
    )


def config_valid() -> Check:
    """The configuration is internally consistent."""
    return _ConfigValid()


def default_checks() -> Sequence[Check]:
    """The preflight checks every session runs, in order.

    A session runs them whatever ``checks=`` it is given (those run after them); a run
    directory's session on a caller's broker adds ``user_broker``.
    """
    return (
        config_valid(),
        live_trading_disabled(),
        allowlist_valid(),
        broker_is_simulated(),
        audit_sink_present(),
    )


def session_checks(own: Iterable[AnyCheck] | None) -> tuple[AnyCheck, ...]:
    """The checks a session runs: the built-in ones, then the caller's ``own``, in order.

    The caller's never replace the built-in ones: the live-trading gate, the audit sink and
    the simulated broker hold whatever a desk adds. A built-in check the caller lists too
    (``[*default_checks(), mine]``) runs once.
    """
    builtin: tuple[AnyCheck, ...] = tuple(default_checks())
    return builtin + tuple(check for check in own or () if check not in builtin)
