"""The record every idempotency store returns, and the checks every store applies."""

from __future__ import annotations

import attrs

__all__ = ["Reservation", "check_key", "check_text", "unknown_key"]


@attrs.frozen(kw_only=True)
class Reservation:
    """What a store remembers about one idempotency key (an ``IdempotencyRecord``).

    Attributes:
        key: The reserved key, usually a client order id.
        fingerprint: A digest of the order parameters the key was reserved for.
        outcome: The outcome recorded by ``complete``, or None while the call is open.
        created: True only on the ``reserve`` call that created the record.
    """

    key: str
    fingerprint: str
    outcome: str | None = None
    created: bool = False


def check_text(name: str, value: object) -> str:
    """``value`` when it is a non-empty string; otherwise raise ``TypeError``/``ValueError``."""
    if not isinstance(value, str):
        raise TypeError(f"idempotency {name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"idempotency {name} must not be empty")
    return value


def check_key(key: object) -> str:
    """``key`` when it is a valid idempotency key (a non-empty string)."""
    return check_text("key", key)


def unknown_key(key: str) -> KeyError:
    """The error raised when completing a key that was never reserved (or has expired)."""
    return KeyError(f"idempotency key {key!r} was never reserved: reserve it before completing")
