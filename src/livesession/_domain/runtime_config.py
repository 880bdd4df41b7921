"""Runtime configuration from the environment: which venue, with which credentials.

``RuntimeConfig.from_env(mode=...)`` fails fast: a mode that needs credentials and does
not find them raises ``ConfigError`` naming every missing variable (names only, never
values). Credentials are held in ``Secret`` objects whose ``str`` and ``repr`` are
``***``; only ``Secret.reveal()`` gives the value, to the adapter that sends it.

Modes::

    mock            deterministic mock broker, needs nothing
    realish         simulated venue with latency and faults, needs nothing
    ccxt:binance    LIVESESSION_BINANCE_API_KEY, LIVESESSION_BINANCE_API_SECRET
    ccxt:bybit      LIVESESSION_BYBIT_API_KEY, LIVESESSION_BYBIT_API_SECRET
    ccxt:okx        LIVESESSION_OKX_API_KEY, LIVESESSION_OKX_API_SECRET,
                    LIVESESSION_OKX_API_PASSWORD
"""

from __future__ import annotations

import hmac
import os
from typing import TYPE_CHECKING, Final

import attrs

from .._exceptions import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CCXT_EXCHANGES",
    "RUNTIME_MODES",
    "RuntimeConfig",
    "Secret",
    "required_env_vars",
    "unset_env_vars",
]

_MASK: Final = "***"
_CCXT_PREFIX: Final = "ccxt:"
CCXT_EXCHANGES: Final = ("binance", "bybit", "okx")
RUNTIME_MODES: Final = ("mock", "realish", *(_CCXT_PREFIX + name for name in CCXT_EXCHANGES))
_NEEDS_PASSWORD: Final = frozenset({"okx"})


class Secret:
    """A credential that never shows itself: ``str`` and ``repr`` are ``***``.

    Equality compares in constant time; a ``Secret`` is not hashable. Call ``reveal()``
    only where the value is sent to the venue.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret holds a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return _MASK

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(
            self._value.encode("utf-8", "surrogatepass"),
            other._value.encode("utf-8", "surrogatepass"),
        )

    __hash__ = None  # type: ignore[assignment] # equal secrets must not leak through hashing

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: object) -> Secret:
        return self

    def __reduce__(self) -> str:
        # Pickling would write the value wherever the pickle goes.
        raise TypeError("a Secret cannot be pickled")


def _parse_mode(mode: object) -> str | None:
    """The exchange named by ``mode`` (None for mock and realish); ``ConfigError`` if invalid."""
    if mode not in RUNTIME_MODES:
        raise ConfigError(f"unknown mode {mode!r}: choose one of {', '.join(RUNTIME_MODES)}")
    assert isinstance(mode, str)  # noqa: S101 - every entry of RUNTIME_MODES is a str
    return mode.removeprefix(_CCXT_PREFIX) if mode.startswith(_CCXT_PREFIX) else None


def _variable(exchange: str, field: str) -> str:
    return f"LIVESESSION_{exchange.upper()}_API_{field.upper()}"


def required_env_vars(mode: str) -> tuple[str, ...]:
    """The environment variables ``mode`` needs, in a fixed order (none for mock, realish)."""
    exchange = _parse_mode(mode)
    if exchange is None:
        return ()
    fields = ("key", "secret", "password") if exchange in _NEEDS_PASSWORD else ("key", "secret")
    return tuple(_variable(exchange, field) for field in fields)


def unset_env_vars(mode: str, env: Mapping[str, str] | None = None) -> list[str]:
    """Those of ``required_env_vars(mode)`` unset (or blank) in ``env`` (``os.environ``)."""
    values = os.environ if env is None else env
    return [name for name in required_env_vars(mode) if not values.get(name, "").strip()]


@attrs.frozen(kw_only=True)
class RuntimeConfig:
    """What a session needs from its environment; frozen, and its repr shows no secret.

    Attributes:
        mode: One of ``RUNTIME_MODES``.
        exchange: The CCXT exchange id for ``ccxt:`` modes, else None.
        api_key: The exchange API key, when the mode needs one.
        api_secret: The exchange API secret, when the mode needs one.
        api_password: The API passphrase (OKX), when the mode needs one.
    """

    mode: str
    exchange: str | None = None
    api_key: Secret | None = None
    api_secret: Secret | None = None
    api_password: Secret | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, mode: str) -> RuntimeConfig:
        """Read the configuration for ``mode`` from ``environ`` (default ``os.environ``).

        An empty or blank variable counts as missing. Raises ``ConfigError`` naming every
        missing variable, a variable whose value has whitespace at its start or end or a
        control character (never the value), or the valid modes when ``mode`` is unknown.
        """
        env = os.environ if environ is None else environ
        exchange = _parse_mode(mode)
        if exchange is None:
            return cls(mode=mode)

        def secret(field: str) -> Secret | None:
            name = _variable(exchange, field)
            value = env.get(name, "")
            if not value.strip():
                return None
            if value != value.strip() or not value.isprintable():
                # A .env file saved with CRLF line ends gives "key\r": sent as a header,
                # it was refused by requests, which quoted the value in its error.
                raise ConfigError(
                    f"{name} has whitespace at its start or end, or a control character "
                    "(a .env file with Windows line ends gives a trailing \\r): remove it "
                    "(value not shown)"
                )
            return Secret(value)

        config = cls(
            mode=mode,
            exchange=exchange,
            api_key=secret("key"),
            api_secret=secret("secret"),
            api_password=secret("password") if exchange in _NEEDS_PASSWORD else None,
        )
        config.validate_for(mode)
        return config

    def validate_for(self, mode: str) -> None:
        """Raise ``ConfigError`` unless this configuration has all that ``mode`` needs.

        The message names the missing variables and never contains a value.
        """
        required = required_env_vars(mode)
        if not required:
            return
        present: set[str] = set()
        if self.exchange == _parse_mode(mode):
            held = {"key": self.api_key, "secret": self.api_secret, "password": self.api_password}
            assert self.exchange is not None  # noqa: S101 - ccxt modes always name an exchange
            present = {
                _variable(self.exchange, f) for f, value in held.items() if value is not None
            }
        missing = [name for name in required if name not in present]
        if missing:
            raise ConfigError(
                f"broker {mode} needs environment variable(s) {', '.join(missing)}: set them "
                '(see .env.example) or run with --broker mock (broker = "mock")'
            )
