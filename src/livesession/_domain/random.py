"""Counter-based deterministic randomness.

Each component draws from ``DeterministicStream(seed, component)``: draw ``k`` is a
SHA-256 of (``stable_id(seed, component)``, k). A stream's whole state is one counter,
so checkpoints stay tiny and a resumed run draws exactly what the uninterrupted one did.
No global ``random``, no ``hash()``.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Final

from .ids import stable_id

__all__ = ["DeterministicStream", "unit_draw"]

_SCALE: Final = 1 << 64


class DeterministicStream:
    """A reproducible stream of integers derived from (seed, component)."""

    __slots__ = ("_base", "counter")

    def __init__(self, seed: int, component: str, counter: int = 0) -> None:
        self._base = hashlib.sha256(stable_id(seed, component).encode("ascii"))
        self.counter = counter

    def next_u64(self) -> int:
        """The next 64-bit unsigned integer."""
        digest = self._base.copy()
        digest.update(self.counter.to_bytes(8, "big"))
        self.counter += 1
        return int.from_bytes(digest.digest()[:8], "big")

    def draws(self, n: int) -> list[int]:
        """The next ``n`` 64-bit unsigned integers (``n`` calls of ``next_u64``, in one)."""
        base = self._base
        first = self.counter
        self.counter = first + n
        out = []
        for k in range(first, first + n):
            digest = base.copy()
            digest.update(k.to_bytes(8, "big"))
            out.append(int.from_bytes(digest.digest()[:8], "big"))
        return out

    def randint(self, low: int, high: int) -> int:
        """An integer in ``[low, high]`` (inclusive)."""
        span = high - low + 1
        return low + self.next_u64() % span


def unit_draw(seed: int, *parts: object) -> Decimal:
    """A decimal in ``[0, 1)`` determined only by ``seed`` and ``parts``."""
    value = int(stable_id(seed, *parts)[:16], 16)
    return Decimal(value) / Decimal(_SCALE)
