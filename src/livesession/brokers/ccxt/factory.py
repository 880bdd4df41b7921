"""Building a ``CcxtSandboxBroker`` from an exchange id and a ``RuntimeConfig``.

``make_ccxt_broker("binance", runtime_config=...)`` builds the exchange, switches it to its
sandbox and verifies it (see ``sandbox``) before any request is made. ccxt is imported
only here, when a broker is built; without it ``MissingExtra`` names the ``ccxt`` extra.
Credentials are revealed only to ccxt and never appear in a repr, a message or a log line
(ccxt's own request logger is switched off); the exchange holding them, and the broker,
refuse to be pickled (``credentials``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeGuard

from ..._domain.decimal import ZERO
from ..._domain.runtime_config import required_env_vars
from ..._exceptions import ConfigError
from ..._support.optional import import_optional
from ..._support.secrets import redact_text, take_environment_secrets
from .answers import json_answers_only
from .broker import CcxtSandboxBroker
from .credentials import holding_credentials
from .keptpause import KeptPause
from .pacing import MAX_PAUSE_NS, VenuePause
from .sandbox import SANDBOX_EXCHANGES, _enter_sandbox, _enter_sandbox_check_again

if TYPE_CHECKING:
    from ..._domain.runtime_config import RuntimeConfig

__all__ = ["make_ccxt_broker"]

# ccxt logs every request, API-key header included, at DEBUG: give it a logger that is off.
_WIRE_LOG: Final = logging.getLogger("livesession.brokers.ccxt_wire")
_WIRE_LOG.disabled = True
_WIRE_LOG.propagate = False


class _RedactingFilter(logging.Filter):
    """Redacts a record's message and arguments (``redact_text``) before any handler sees it.

    urllib3 logs each request's URL at DEBUG (``"GET /api/v3/account?...&signature=..."``):
    an application logging at DEBUG wrote every signed request, replayable while fresh.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in record.args)
        return True


_URLLIB3_FILTER: Final = _RedactingFilter()
_URLLIB3_LOG: Final = "urllib3.connectionpool"
MAX_LOOKUP_WAIT_NS: Final = 60_000_000_000
"""The longest one ``lookup`` may wait between its looks: ``lookup_attempts`` x the interval."""
MAX_LOOKUP_ATTEMPTS: Final = 20
"""The most attempts of one ``lookup``: each asks the venue twice per symbol, and with a
short interval (0 is allowed) more would be a burst at the venue within one step."""


def make_ccxt_broker(
    exchange_id: str,
    *,
    runtime_config: RuntimeConfig,
    symbols: Sequence[str] = ("BTC/USDT",),
    timeout_ms: int = 10_000,
    enable_rate_limit: bool = True,
    session_hook: Callable[[Any], None] | None = None,
    lookup_attempts: int = 5,
    lookup_interval_ns: int = 250_000_000,
    wait_ns: Callable[[int], None] | None = None,
    clock_ns: Callable[[], int] | None = None,
    max_pause_ns: int = MAX_PAUSE_NS,
    price_tick: Decimal | None = None,
    qty_lot: Decimal | None = None,
    pause_file: str | Path | None = None,
    wall_ns: Callable[[], int] = time.time_ns,
    run_id: str = "",
) -> CcxtSandboxBroker:
    """Build a ``CcxtSandboxBroker`` for ``exchange_id`` (``"binance"`` or ``"ccxt:binance"``).

    No request is made here. Raises ``ConfigError`` when the exchange is not one of
    ``SANDBOX_EXCHANGES``, when ``runtime_config`` lacks its credentials, or when the
    exchange cannot be put into a verified sandbox; ``MissingExtra`` without ccxt.

    Args:
        exchange_id: ``binance`` (spot testnet), ``bybit`` (testnet) or ``okx`` (simulated).
        runtime_config: Credentials, from ``RuntimeConfig.from_env(mode="ccxt:<id>")``.
        symbols: The allowlisted symbols in ccxt form (``BTC/USDT``).
        timeout_ms: ccxt's HTTP timeout, connect and read.
        enable_rate_limit: ccxt's client-side throttle; turn off only in tests.
        session_hook: Called with the exchange's ``requests.Session`` after the sandbox is
            verified (tests mount a loopback transport on it); verified again after it, so
            a proxy it sets is a ``ConfigError``.
        lookup_attempts: Default number of attempts of ``lookup``, 1 to 20.
        lookup_interval_ns: Pause between lookup attempts, an integer of nanoseconds;
            ``lookup_attempts`` x ``lookup_interval_ns`` at most 60 s.
        wait_ns: How to pause (default: sleep); tests pass a recorder.
        clock_ns: A monotonic clock in ns (default ``time.monotonic_ns``): when a pause the
            venue asked for (``Retry-After``) ends; tests pass one ``wait_ns`` moves.
        max_pause_ns: The longest wait for such a pause before one request (default 60 s);
            while a longer one lasts, each request fails ``Transient``, not sent.
        price_tick: The session's price tick: fill prices that are multiples of it are
            written with its decimal places (``30000.00``, not ccxt's ``30000.0``).
        qty_lot: The session's lot, likewise for fill and order quantities.
        pause_file: Where to keep the end of a pause the venue asked for, on the wall clock
            (``wall_ns``, Unix ns; tests pass their own), and where a broker built later
            (another process: a resume's) reads it, to wait for or refuse before its first
            request. A run's broker keeps it in ``venue_pause.json`` in the run's directory.
        wall_ns: The wall clock of ``pause_file``, Unix ns (default ``time.time_ns``).
        run_id: The run the broker serves, named in its log lines (a ``pause_file`` it
            could not believe); a run's broker is given its run's.
    """
    name = exchange_id.removeprefix("ccxt:")
    sandbox = SANDBOX_EXCHANGES.get(name)
    if sandbox is None:
        raise ConfigError(
            f"exchange {name!r} is not supported: choose one of "
            f"{', '.join(sorted(SANDBOX_EXCHANGES))} (sandbox only)"
        )
    if not _whole(timeout_ms, 1):
        raise ConfigError(f"timeout_ms must be a positive integer, got {timeout_ms!r}")
    if not _whole(lookup_attempts, 1, MAX_LOOKUP_ATTEMPTS):
        raise ConfigError(
            f"lookup_attempts must be an integer from 1 to {MAX_LOOKUP_ATTEMPTS} (each attempt "
            f"asks the venue twice per symbol), got {lookup_attempts!r}"
        )
    _check_waits(lookup_attempts, lookup_interval_ns, max_pause_ns)
    _check_grid(price_tick=price_tick, qty_lot=qty_lot)
    if not symbols or not all(isinstance(s, str) and "/" in s for s in symbols):
        raise ConfigError('symbols must be a non-empty list like ["BTC/USDT"]')
    if runtime_config.exchange != name:
        raise ConfigError(
            f"the runtime configuration is for mode {runtime_config.mode}, not ccxt:{name}"
        )
    runtime_config.validate_for(f"ccxt:{name}")
    ccxt = import_optional("ccxt", "ccxt")
    config: dict[str, Any] = {
        "timeout": timeout_ms,
        "enableRateLimit": enable_rate_limit,
        "options": {
            **sandbox.options,
            "adjustForTimeDifference": True,
            "maxRetriesOnFailure": 0,
        },
    }
    revealed: dict[str, str] = {}
    for (field, key), variable in zip(
        (("api_key", "apiKey"), ("api_secret", "secret"), ("api_password", "password")),
        required_env_vars(f"ccxt:{name}"),
        strict=False,
    ):
        secret = getattr(runtime_config, field)
        if secret is not None:
            config[key] = revealed[variable] = secret.reveal()
    # Redacted from every text from now on, as the environment's secrets are: a config
    # built from another mapping than os.environ holds values redaction would not know,
    # and a library under ccxt may quote one (requests quotes a header value it refuses).
    take_environment_secrets(revealed)
    logging.getLogger(_URLLIB3_LOG).addFilter(_URLLIB3_FILTER)  # once: a filter is a set
    # It holds them (no pickle), and refuses an answer that is not JSON (a failed call).
    exchange = holding_credentials(json_answers_only(getattr(ccxt, name)))(config)
    exchange.logger = _WIRE_LOG
    exchange.verbose = False
    exchange.session.trust_env = False
    exchange.session.max_redirects = 0  # a redirect is refused, never followed (sandbox.py)
    try:
        _enter_sandbox(exchange, sandbox)
        if session_hook is not None:
            session_hook(exchange.session)
            _enter_sandbox_check_again(exchange, sandbox)
    except BaseException:
        exchange.close()
        raise
    wait = _sleep_ns if wait_ns is None else wait_ns
    return CcxtSandboxBroker(
        exchange,
        sandbox=sandbox,
        symbols=symbols,
        lookup_attempts=lookup_attempts,
        lookup_interval_ns=lookup_interval_ns,
        wait_ns=wait,
        pause=VenuePause(
            name,
            wait_ns=wait,
            clock_ns=time.monotonic_ns if clock_ns is None else clock_ns,
            max_ns=max_pause_ns,
            kept=None if pause_file is None else KeptPause(Path(pause_file), wall_ns=wall_ns),
            run_id=run_id,
        ),
        price_tick=price_tick,
        qty_lot=qty_lot,
    )


def _check_grid(**steps: Decimal | None) -> None:
    for label, step in steps.items():
        if step is not None and (
            not isinstance(step, Decimal) or not step.is_finite() or step <= ZERO
        ):
            raise ConfigError(f"{label} must be a positive Decimal, got {step!r}")


def _whole(value: object, low: int, high: int | None = None) -> TypeGuard[int]:
    """Whether ``value`` is an integer (never a bool) from ``low`` to ``high`` (or more)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return low <= value and (high is None or value <= high)


def _check_waits(attempts: int, interval_ns: object, max_pause_ns: object) -> None:
    """The waits' options: integer nanoseconds, one lookup's waits at most 60 s in all."""
    if not _whole(max_pause_ns, 0):
        raise ConfigError(f"max_pause_ns must be an integer >= 0, got {max_pause_ns!r}")
    if not _whole(interval_ns, 0):
        raise ConfigError(
            f"lookup_interval_ns must be an integer of nanoseconds >= 0, got {interval_ns!r}"
        )
    if attempts * interval_ns > MAX_LOOKUP_WAIT_NS:
        raise ConfigError(
            f"lookup_attempts x lookup_interval_ns must be at most 60 s (a lookup waits that "
            f"long on the wall within one step of the session, which asks up to its retry "
            f"policy's max_attempts + 1 of them), got {attempts} x {interval_ns} ns"
        )


def _sleep_ns(ns: int) -> None:
    time.sleep(ns / 1_000_000_000)
