"""The broker a run trades on, by the name in its config, and a sandbox venue's checks.

``open_broker`` is the default ``BrokerFactory`` of ``create_run`` and ``resume_run``;
a CCXT sandbox broker also adds its venue's preflight checks to the session.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._artifacts import names
from .._domain.config import DryrunConfig
from .._domain.decimal import plain
from .._domain.ids import client_order_id
from .._exceptions import BrokerError, Rejected
from .._risk.checks import CheckResult, PreflightContext
from .._session.assembly import default_broker
from .._support.optional import import_optional
from .._typing import Broker
from .supplied import by_factory

if TYPE_CHECKING:
    from .._session.coordinator import LiveSessionOrchestrator

__all__ = [
    "BrokerFactory",
    "add_venue_checks",
    "close_broker",
    "early_broker",
    "open_broker",
    "own_credentials_taken",
    "resume_credentials",
]

BrokerFactory = Callable[[DryrunConfig, Path], Broker]

_NOT_LISTED: Final = "SYMBOL_NOT_LISTED"
_NAMED: Final = 5  # symbols named in a detail line; the rest are counted


def open_broker(cfg: DryrunConfig, run_dir: Path) -> Broker:
    """The broker ``cfg.broker`` names, with its venue journal (or pause file) in ``run_dir``."""
    if cfg.broker == "mock":
        return default_broker(cfg, journal=run_dir / names.JOURNAL)
    if cfg.broker == "realish":
        from ..brokers.realish import RealishBroker  # noqa: PLC0415 - adapter loaded when chosen

        return RealishBroker.from_config(cfg, journal=run_dir / names.JOURNAL)
    if cfg.broker.startswith("ccxt:"):  # a venue's pause outlives the process: kept beside
        return _ccxt_broker(cfg, pause_file=run_dir / names.VENUE_PAUSE, run_id=cfg.run_id)
    return default_broker(cfg)


def early_broker(
    cfg: DryrunConfig, run_dir: Path, factory: BrokerFactory, *, own: bool
) -> Broker | None:
    """A ``ccxt:`` run's broker, built by ``factory`` before ``resume`` changes anything.

    Building it reads the credentials from the environment and runs the sandbox gate (no
    request is made), so a variable missing or a gate that refuses refuses the resume while
    the run is as the crash left it: cut back to its checkpoint, it would no longer show
    the events after it (the orders and fills that reached the venue) to ``status``.
    None for another broker, or when the run has a broker plug-in of its own (``own``).
    """
    if own or not cfg.broker.startswith("ccxt:"):
        return None
    from .._domain.runtime_config import unset_env_vars  # noqa: PLC0415 - ccxt runs only
    from .._exceptions import ConfigError  # noqa: PLC0415

    try:
        broker = factory(cfg, run_dir)
    except ConfigError:
        unset = unset_env_vars(cfg.broker)
        if not unset:
            raise
        # Not dryrun's "or run with --broker mock": a resumed run keeps its broker.
        raise ConfigError(
            f"broker {cfg.broker} needs environment variable(s) {', '.join(unset)}: set them "
            "(see .env.example), then resume again; nothing was changed"
        ) from None
    try:
        _credentials_taken(broker, cfg.broker)
    except BaseException:
        close_broker(broker)
        raise
    return broker


def own_credentials_taken(broker: Broker | None, record: Mapping[str, Any] | None) -> None:
    """Refuse the resume (``ConfigError``) when the venue refuses a run's own ccxt broker.

    A ``CcxtSandboxBroker`` a caller's ``broker_factory`` built (or a reference, or one
    handed in: ``record`` is its ``sources`` record) is asked once, as ``early_broker``
    asks the config's, before anything changes. Another broker, or none: nothing asked.
    The variables named are those livesession reads the exchange's keys from; the factory
    may read them elsewhere, which the refusal says.
    """
    if broker is None or record is None:
        return
    if by_factory(record):
        origin = f", the broker {str(record.get('supplied')).removeprefix('from ')} built"
        elsewhere = " (or what the factory reads them from)"
    else:
        origin = f", the broker {record.get('ref') or record.get('object')}"
        elsewhere = " (or what it reads them from)"
    _credentials_taken(broker, None, origin=origin, elsewhere=elsewhere)


def resume_credentials(cfg: DryrunConfig | None, meta: dict[str, Any]) -> tuple[str, ...]:
    """The environment variables ``resume`` reads the run's credentials from: names only.

    A ``ccxt:`` run's (``early_broker`` refuses the resume while one is unset); none for
    another broker, or a run with a broker plug-in of its own, which builds its own.
    """
    sources = meta.get("sources")
    if cfg is None or not cfg.broker.startswith("ccxt:"):
        return ()
    if isinstance(sources, dict) and "broker" in sources:
        return ()
    from .._domain.runtime_config import required_env_vars  # noqa: PLC0415 - ccxt runs only

    return required_env_vars(cfg.broker)


def _credentials_taken(
    broker: Broker, mode: str | None, *, origin: str = "", elsewhere: str = ""
) -> None:
    """Refuse the resume (``ConfigError``) when the venue refuses the run's credentials.

    One balance read, as preflight asks a new run: with keys the venue refuses (revoked,
    another account's) every call of the resumed run would fail, so it would halt and seal
    as if nothing were open at the venue. A venue that does not answer is no refusal: the
    resumed run asks again. ``mode``: the config's ``ccxt:`` broker (None: the broker's
    own exchange); ``origin`` and ``elsewhere`` name a broker of the run's own.
    """
    from .._domain.runtime_config import required_env_vars  # noqa: PLC0415 - ccxt runs only
    from .._exceptions import ConfigError, Rejected  # noqa: PLC0415
    from ..brokers.ccxt.broker import CcxtSandboxBroker  # noqa: PLC0415 - ccxt runs only

    if not isinstance(broker, CcxtSandboxBroker):  # another venue: its preflight asks
        return
    try:
        broker.balances()
    except Rejected as exc:
        if exc.reason == "AUTH":
            mode = mode or f"ccxt:{broker.exchange_id}"
            names_ = ", ".join(required_env_vars(mode))
            raise ConfigError(
                f"the venue refuses the credentials of {mode}{origin} ({exc}): check "
                f"{names_}{elsewhere}; nothing was changed"
            ) from None
    except Exception:  # noqa: BLE001, S110 - not answered: the resumed run asks again
        pass


def close_broker(broker: Broker | None) -> None:
    """Close an ``early_broker`` that no session took (a later check refused the resume)."""
    if broker is not None:
        with contextlib.suppress(Exception):
            broker.close()


def _ccxt_broker(cfg: DryrunConfig, **options: Any) -> Broker:
    """A verified-sandbox CCXT broker; credentials come only from the environment."""
    from .._domain.runtime_config import RuntimeConfig  # noqa: PLC0415 - only for ccxt runs
    from ..brokers.ccxt import make_ccxt_broker  # noqa: PLC0415 - optional extra
    from ..brokers.ccxt.pacing import MAX_PAUSE_NS  # noqa: PLC0415 - with it

    # The extra first: a user without ccxt was told to set the API key and secret, and
    # only then that the broker cannot run here at all.
    import_optional("ccxt", "ccxt")
    runtime = RuntimeConfig.from_env(mode=cfg.broker)
    grid = {"price_tick": cfg.price_tick, "qty_lot": cfg.qty_lot}
    # A venue's pause is waited after the session's last look at its lease, before a send:
    # half the lease's TTL at most (15 s with the default), so the lease still holds.
    paced = {"max_pause_ns": min(MAX_PAUSE_NS, cfg.lease_ttl_ms * 1_000_000 // 2)}
    return make_ccxt_broker(
        cfg.broker, runtime_config=runtime, symbols=cfg.allowed_symbols, **(paced | grid | options)
    )


@attrs.define
class _VenuePreflight:
    """A sandbox venue's preflight, asked once and shared by its four session checks.

    Each check reports its own line, but all four come from one pass over the venue: one
    balance request, not four, and no check judged on a later answer than its neighbours.
    """

    broker: Any
    results: list[tuple[str, bool, str]] | None = None
    unlisted: list[str] = attrs.field(factory=list)
    """The allowlisted symbols the venue does not list (after ``SYMBOL_NOT_LISTED``)."""
    paused: str = ""
    """What is left of a pause the venue asked for (``Retry-After``) after the checks."""

    def get(self) -> list[tuple[str, bool, str]]:
        if self.results is None:
            from ..brokers.ccxt.preflight import (  # noqa: PLC0415 - optional
                ccxt_preflight_checks,
                unlisted_symbols,
            )

            self.results = ccxt_preflight_checks(self.broker)
            self.paused = self.broker.venue_pause()
            if ("symbols_listed", False, _NOT_LISTED) in self.results:
                self.unlisted = unlisted_symbols(self.broker)
        return self.results


@attrs.frozen
class _VenueCheck:
    """One of a sandbox venue's preflight checks, as a session ``Check``."""

    name: str
    preflight: _VenuePreflight

    def __call__(self, _ctx: PreflightContext, /) -> CheckResult:
        for name, passed, reason in self.preflight.get():
            if name == self.name:
                shown = self.preflight
                detail = "" if passed else _venue_detail(name, reason, shown.unlisted, shown.paused)
                return CheckResult(
                    name=f"venue_{name}", passed=passed, reason=reason, detail=detail
                )
        return CheckResult(
            name=f"venue_{self.name}",
            passed=False,
            reason="CHECK_MISSING",
            detail=f"the venue's preflight gave no {self.name} check",
        )


def _venue_detail(name: str, reason: str, unlisted: Sequence[str] = (), paused: str = "") -> str:
    """One line on a failed venue check (the reason code is the venue's answer).

    ``unlisted``: the allowlisted symbols the venue does not list, named in the line;
    ``paused``: a pause the venue asked for (``Retry-After``), said after a failed read.
    """
    if reason == "SKIPPED_NOT_SANDBOX":
        return f"{name} not asked: the venue is not a verified sandbox"
    if reason == "BALANCE_INVALID":
        return "the venue answered a balance that is no amount (not a number, NaN, below zero)"
    if reason == "SKIPPED_NO_MARKETS":
        return f"{name} not asked: the venue's markets could not be loaded"
    if reason == _NOT_LISTED and unlisted:
        shown = ", ".join(unlisted[:_NAMED]) + (
            f" and {len(unlisted) - _NAMED} more" if len(unlisted) > _NAMED else ""
        )
        verb = "is" if len(unlisted) == 1 else "are"
        return f"{shown} of the allowlist {verb} not listed by the venue"
    said = {
        "sandbox_verified": "the ccxt broker is not in verified sandbox mode",
        "markets_loaded": f"the venue's markets could not be loaded ({reason})",
        "symbols_listed": "a symbol of the allowlist is not listed by the venue",
        "balance_fetch": f"the venue's balances could not be fetched ({reason})",
    }.get(name, f"{name} failed ({reason})")
    if name in ("markets_loaded", "balance_fetch") and paused:
        return f"{said}: {paused}"
    return said


_VENUE_CHECKS: Final = ("sandbox_verified", "markets_loaded", "symbols_listed", "balance_fetch")


@attrs.frozen
class _RunIdUnused:
    """``venue_run_id_unused``: the venue has no order under this run's first client order id.

    A client order id is derived from the run id and the strategy id alone, so a run of the
    same ids that traded this account before (from another ``--out``, or another host)
    sent the ids this run would send: the venue would take this run's orders for that run's
    (a lookup adopting its fills, a "duplicate" adopting its open order). PostgreSQL
    refuses such a run id across the hosts sharing it; this asks the venue itself.
    """

    preflight: _VenuePreflight
    name: str = "venue_run_id_unused"

    def __call__(self, ctx: PreflightContext, /) -> CheckResult:
        name = self.name
        if not all(passed for _name, passed, _reason in self.preflight.get()):
            # The run is refused already, on that check's one reason: a venue that failed a
            # check is asked nothing more, and this check refuses nothing beside it.
            return CheckResult(name=name, passed=True)
        from ..brokers.ccxt.preflight import order_under  # noqa: PLC0415 - optional

        cfg = ctx.config
        cid = client_order_id(cfg.run_id, cfg.strategy_id, 1)
        try:
            found = order_under(self.preflight.broker, cid)
        except BrokerError as exc:
            reason = exc.reason if isinstance(exc, Rejected) else "LOOKUP_UNAVAILABLE"
            detail = (
                f"the venue could not say whether it knows this run's client order ids ({reason})"
            )
            return CheckResult(name=name, passed=False, reason=reason, detail=detail)
        if found is None:
            return CheckResult(name=name, passed=True)
        detail = (
            f"the venue already has an order under client order id {cid}, the id of this run's "
            f"first order ({found.status.value} {found.side.value} {plain(found.quantity)} "
            f"{found.symbol}): a run of id {cfg.run_id!r} and strategy {cfg.strategy_id!r} "
            "traded this account before (from another --out or host), and this run would "
            "send its client order ids again: start it with another --run-id"
        )
        return CheckResult(name=name, passed=False, reason="RUN_ID_USED", detail=detail)


def add_venue_checks(session: LiveSessionOrchestrator) -> None:
    """Give a session on a CCXT sandbox its venue's preflight checks (others: nothing)."""
    if session.broker.kind == "ccxt_sandbox":
        preflight = _VenuePreflight(session.broker)
        session.extra_checks.extend(_VenueCheck(name, preflight) for name in _VENUE_CHECKS)
        session.extra_checks.append(_RunIdUnused(preflight))
