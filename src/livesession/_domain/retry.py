"""Retries with exponential backoff and deterministic jitter.

``RetryPolicy.delay_ns`` is a pure function of the policy, a key and the attempt number:
the same inputs give the same delay on every machine and every ``PYTHONHASHSEED``, so a
replayed session waits exactly as the original did. ``call_with_retry`` never sleeps on its
own; it hands each delay to an injected ``wait_ns`` (for example ``SimClock.advance``) and
measures elapsed time with an injected ``now_ns``.

Only ``Transient`` errors are retried by default. ``OutcomeUnknown`` must be reconciled
(look the order up by client order id) before anything is resent, and ``Rejected`` is final.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, TypeVar

import attrs

from .._exceptions import ConfigError, Transient

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["RetryPolicy", "call_with_retry"]

T = TypeVar("T")

_JITTER_BITS = 64


def _non_negative_int(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"RetryPolicy.{attribute.name} must be an integer, got {value!r}")
    if value < 0:
        raise ConfigError(f"RetryPolicy.{attribute.name} must be >= 0, got {value}")


def _at_least_one(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    _non_negative_int(_instance, attribute, value)
    if value == 0:
        raise ConfigError(f"RetryPolicy.{attribute.name} must be >= 1 (1 means no retries)")


def _integer(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"RetryPolicy.{attribute.name} must be an integer, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how long to retry; all durations are integer nanoseconds.

    Attributes:
        max_attempts: Total calls including the first one (1 means never retry).
        base_delay_ns: Backoff before the second attempt, before jitter.
        max_delay_ns: No single delay exceeds this.
        max_elapsed_ns: Give up rather than wait past this much time since the first call.
        seed: Mixed into the jitter so separate runs can spread their retries differently.
    """

    max_attempts: int = attrs.field(default=5, validator=_at_least_one)
    base_delay_ns: int = attrs.field(default=100_000_000, validator=_non_negative_int)
    max_delay_ns: int = attrs.field(default=5_000_000_000, validator=_non_negative_int)
    max_elapsed_ns: int = attrs.field(default=30_000_000_000, validator=_non_negative_int)
    seed: int = attrs.field(default=0, validator=_integer)

    def __attrs_post_init__(self) -> None:
        if self.max_delay_ns < self.base_delay_ns:
            raise ConfigError(
                f"RetryPolicy.max_delay_ns ({self.max_delay_ns}) must be >= base_delay_ns "
                f"({self.base_delay_ns})"
            )

    def delay_ns(self, key: str, attempt: int) -> int:
        """The wait after failed attempt number ``attempt`` (1-based) of the call ``key``.

        Equal jitter: the backoff ``min(max_delay_ns, base_delay_ns * 2**(attempt - 1))``
        is split in half; the first half is always waited, the second half is scaled by a
        fraction taken from SHA-256 of (seed, attempt, key). The result lies between half
        the backoff and the whole backoff, and never exceeds ``max_delay_ns``.
        """
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise ValueError(f"attempt must be an integer >= 1, got {attempt!r}")
        backoff = self._backoff_ns(attempt)
        floor = backoff // 2
        span = backoff - floor
        return floor + (self._jitter(key, attempt) * (span + 1) >> _JITTER_BITS)

    def _backoff_ns(self, attempt: int) -> int:
        if self.base_delay_ns == 0:
            return 0
        # Past this many doublings any base exceeds any sensible cap; skip the huge shift.
        if attempt - 1 >= self.max_delay_ns.bit_length():
            return self.max_delay_ns
        return min(self.max_delay_ns, self.base_delay_ns << (attempt - 1))

    def _jitter(self, key: str, attempt: int) -> int:
        # The key goes last so that no choice of key can collide with another (seed, attempt).
        material = b"livesession.retry\x00%d\x00%d\x00" % (self.seed, attempt)
        digest = hashlib.sha256(material + key.encode("utf-8", "surrogatepass")).digest()
        return int.from_bytes(digest[: _JITTER_BITS // 8], "big")


def call_with_retry(
    fn: Callable[[int], T],
    *,
    policy: RetryPolicy,
    key: str,
    wait_ns: Callable[[int], None],
    now_ns: Callable[[], int],
    retry_on: tuple[type[BaseException], ...] = (Transient,),
    on_retry: Callable[[int, BaseException, int], None] | None = None,
) -> T:
    """Call ``fn(attempt)`` until it returns, retrying errors listed in ``retry_on``.

    ``attempt`` counts from 1. After a failed attempt the call waits
    ``policy.delay_ns(key, attempt)`` through ``wait_ns``; ``on_retry(attempt, error,
    delay_ns)`` is told first. Gives up, re-raising the last error unchanged, when
    ``policy.max_attempts`` calls have been made or when waiting would take the time since
    the first call (read from ``now_ns``) past ``policy.max_elapsed_ns``. Errors not in
    ``retry_on`` propagate at once; by default that includes ``OutcomeUnknown`` and
    ``Rejected``.
    """
    for kind in retry_on:
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise TypeError(f"retry_on must hold exception classes, got {kind!r}")
    started_ns = now_ns()
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return fn(attempt)
        except retry_on as error:
            if attempt == policy.max_attempts:
                raise
            delay = policy.delay_ns(key, attempt)
            if now_ns() - started_ns + delay > policy.max_elapsed_ns:
                raise
            if on_retry is not None:
                on_retry(attempt, error, delay)
            wait_ns(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover
