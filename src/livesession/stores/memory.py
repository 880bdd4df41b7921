"""An idempotency store in memory, with an optional time to live.

Nothing survives the process: use it for tests and throw-away dry-runs. Expiry is driven
by the injected clock's ``monotonic_ns``, so a ``SimClock`` makes it deterministic.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from ._record import RecordStore, Stored

__all__ = ["MemoryIdempotencyStore"]


class _MonotonicClock(Protocol):
    def monotonic_ns(self) -> int: ...


@attrs.frozen(kw_only=True)
class _Entry:
    fingerprint: str
    outcome: str | None
    reserved_ns: int


class MemoryIdempotencyStore(RecordStore):
    """Reservations held in a dict; a key older than ``ttl_ns`` is forgotten.

    ``clock`` is anything with ``monotonic_ns()`` (a ``SimClock``, which makes expiry
    deterministic, or a ``SystemClock``): a key's age is measured on it, in nanoseconds.
    Once expired, a key reads as absent: ``get`` returns None, ``complete`` raises
    ``KeyError`` and ``reserve`` creates it afresh (with any fingerprint). ``ttl_ns=None``
    keeps every key for the life of the store. Nothing survives the process: for tests
    and throw-away dry runs. Used from one thread at a time.
    """

    def __init__(self, clock: _MonotonicClock, ttl_ns: int | None = None) -> None:
        if ttl_ns is not None and (
            isinstance(ttl_ns, bool) or not isinstance(ttl_ns, int) or ttl_ns <= 0
        ):
            raise ValueError(f"ttl_ns must be a positive integer or None, got {ttl_ns!r}")
        self._clock = clock
        self._ttl_ns = ttl_ns
        # Insertion order is reservation order, so expired keys sit at the front.
        self._entries: dict[str, _Entry] = {}

    def _insert(self, key: str, fingerprint: str) -> Stored | None:
        now_ns = self._clock.monotonic_ns()
        entry = self._live_entry(key, now_ns)
        if entry is None:
            self._entries[key] = _Entry(fingerprint=fingerprint, outcome=None, reserved_ns=now_ns)
            return None
        return (entry.fingerprint, entry.outcome)

    def _set_outcome(self, key: str, outcome: str) -> bool:
        entry = self._live_entry(key, self._clock.monotonic_ns())
        if entry is None:
            return False
        self._entries[key] = attrs.evolve(entry, outcome=outcome)
        return True

    def _lookup(self, key: str) -> Stored | None:
        entry = self._live_entry(key, self._clock.monotonic_ns())
        return None if entry is None else (entry.fingerprint, entry.outcome)

    def _every(self) -> list[tuple[str, Stored]]:
        now_ns = self._clock.monotonic_ns()
        live = ((key, self._live_entry(key, now_ns)) for key in list(self._entries))
        return [(key, (e.fingerprint, e.outcome)) for key, e in live if e is not None]

    def close(self) -> None:
        """Nothing to release; safe to call more than once."""

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryIdempotencyStore(keys={len(self._entries)}, ttl_ns={self._ttl_ns})"

    def _live_entry(self, key: str, now_ns: int) -> _Entry | None:
        """The entry for ``key`` unless it has expired; drops expired entries on the way."""
        if self._ttl_ns is None:
            return self._entries.get(key)
        # Entries are in reservation order, so the expired ones are a prefix (unless the
        # clock was set back); dropping that prefix keeps memory bounded by the TTL.
        for _ in range(len(self._entries)):
            oldest = next(iter(self._entries))
            if now_ns - self._entries[oldest].reserved_ns < self._ttl_ns:
                break
            del self._entries[oldest]
        entry = self._entries.get(key)
        if entry is not None and now_ns - entry.reserved_ns >= self._ttl_ns:
            del self._entries[key]
            return None
        return entry
