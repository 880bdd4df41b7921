"""What the stores share: records, argument checks, errors and checkpoint decoding.

Every idempotency store is a ``RecordStore``: the contract (argument checks, conflicts, the
``Reservation`` it answers, the errors' words) is written once here, and a store adds only
how it keeps a key's (fingerprint, outcome). Every checkpoint store decodes what it read
back with ``decode_checkpoint``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias, TypeVar

import attrs
import orjson

from .._exceptions import CheckpointError, IdempotencyConflict, StoreFailure
from .._support.handlerraised import raised_in_handler

__all__ = [
    "RecordStore",
    "Reservation",
    "check_complete",
    "check_key",
    "check_reserve",
    "check_text",
    "conflict",
    "decode_checkpoint",
    "describe",
    "reserved_before",
    "stored_record",
    "unknown_key",
]

_T = TypeVar("_T")

Stored: TypeAlias = tuple[str, str | None]
"""A key's (fingerprint, outcome) as a store keeps them: a tuple in memory, a row in a table."""


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


def describe(exc: BaseException) -> str:
    """``OSError: [Errno 28] No space left on device`` as ``OSError: No space left on device``."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"{type(exc).__name__}: {text}"


def check_text(name: str, value: object, what: str = "idempotency") -> str:
    """``value`` when it is a non-empty string; otherwise raise ``TypeError``/``ValueError``.

    The refusal names ``what`` the store keeps and the argument: ``checkpoint run_key``.
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} {name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} {name} must not be empty")
    return value


def check_key(key: object) -> str:
    """``key`` when it is a valid idempotency key (a non-empty string)."""
    return check_text("key", key)


def unknown_key(key: str) -> KeyError:
    """The error raised when completing a key that was never reserved (or has expired)."""
    return KeyError(f"idempotency key {key!r} was never reserved: reserve it before completing")


def check_reserve(key: object, fingerprint: object) -> None:
    """The checks on ``reserve``'s arguments, the same in every store."""
    check_key(key)
    check_text("fingerprint", fingerprint)


def check_complete(key: object, outcome: object) -> None:
    """The checks on ``complete``'s arguments, the same in every store."""
    check_key(key)
    check_text("outcome", outcome)


def conflict(key: str) -> IdempotencyConflict:
    """The error raised when reserving a key that is held for other order parameters."""
    return IdempotencyConflict(
        f"idempotency key {key!r} is already reserved with different order parameters"
    )


def reserved_before(key: str, fingerprint: str, stored: Stored) -> Reservation:
    """The record of a key reserved earlier, for ``reserve`` asking again with ``fingerprint``.

    Raises ``IdempotencyConflict`` when the key was reserved for other order parameters.
    """
    if stored[0] != fingerprint:
        raise conflict(key)
    return Reservation(key=key, fingerprint=stored[0], outcome=stored[1])


def stored_record(key: str, stored: Stored | None) -> Reservation | None:
    """The record of ``key`` for ``get`` (``created`` is False), or None when not stored."""
    if stored is None:
        return None
    return Reservation(key=key, fingerprint=stored[0], outcome=stored[1])


def decode_checkpoint(
    stored: bytes | str, *, not_json: Callable[[orjson.JSONDecodeError], str], not_object: str
) -> dict[str, Any]:
    """The checkpoint a store read back; ``CheckpointError`` when it is not a JSON object.

    Each store words the two errors for where it keeps checkpoints (``not_json`` gets the
    parse error), since what to do about a damaged one differs.
    """
    try:
        checkpoint = orjson.loads(stored)
    except orjson.JSONDecodeError as error:
        raise CheckpointError(not_json(error)) from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(not_object)
    return checkpoint


class RecordStore(abc.ABC):
    """An idempotency store: ``reserve``, ``complete`` and ``get`` as every store does them.

    A store says how it keeps a key's (fingerprint, outcome): ``_insert``, ``_set_outcome``
    and ``_lookup``. Each runs after the arguments were checked, and writes durably before
    it returns. A write the store's medium refuses (one of ``refused_writes``) is raised as
    ``StoreFailure``, naming the store and the cause.
    """

    refused_writes: tuple[type[Exception], ...] = (OSError,)
    """What the medium raises when it refuses a write (a full disk, say)."""

    def reserve(self, key: str, fingerprint: str) -> Reservation:
        """Reserve ``key`` for ``fingerprint``; see ``IdempotencyStore.reserve``."""
        check_reserve(key, fingerprint)
        stored = self._store_write(self._insert, key, fingerprint)
        if stored is None:
            return Reservation(key=key, fingerprint=fingerprint, created=True)
        return reserved_before(key, fingerprint, stored)

    def complete(self, key: str, outcome: str) -> None:
        """Record ``outcome`` for a reserved key; a later call replaces it."""
        check_complete(key, outcome)
        if not self._store_write(self._set_outcome, key, outcome):
            raise self._unknown_key(key)

    def _unknown_key(self, key: str) -> KeyError:
        """What ``complete`` raises for a key the store does not keep (``unknown_key``)."""
        return unknown_key(key)

    def _store_write(self, write: Callable[[str, str], _T], key: str, value: str) -> _T:
        """``write(key, value)``; a write the medium refuses is raised as ``StoreFailure``."""
        try:
            return write(key, value)
        except self.refused_writes as exc:
            if raised_in_handler(exc):  # a user's timer (a TimeoutError), not the medium
                raise
            raise StoreFailure(
                f"the idempotency store {self!r} refused a write ({describe(exc)})"
            ) from exc

    def get(self, key: str) -> Reservation | None:
        """The record for ``key`` (``created`` is False), or None."""
        check_key(key)
        return stored_record(key, self._lookup(key))

    def reservations(self) -> tuple[Reservation, ...]:
        """Every key held (``created`` is False), sorted by key, for a resume to look up."""
        return tuple(
            Reservation(key=key, fingerprint=fingerprint, outcome=outcome)
            for key, (fingerprint, outcome) in sorted(self._every())
        )

    @abc.abstractmethod
    def _insert(self, key: str, fingerprint: str) -> Stored | None:
        """Keep a new ``key`` for ``fingerprint`` (None), or answer what is kept already."""

    @abc.abstractmethod
    def _set_outcome(self, key: str, outcome: str) -> bool:
        """Keep ``outcome`` for a kept ``key``; False when the key is not kept."""

    @abc.abstractmethod
    def _lookup(self, key: str) -> Stored | None:
        """What is kept for ``key``, or None."""

    @abc.abstractmethod
    def _every(self) -> Iterable[tuple[str, Stored]]:
        """Every kept key with what is kept for it, in any order."""
