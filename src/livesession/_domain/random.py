"""Counter-based deterministic randomness: a seeded stream (the random walk's), and one-off draws.

Each component draws from ``DeterministicStream(seed, component)``: block ``k`` is the
SHA-256 of (``stable_id(seed, component)``, k), whose 32 bytes are four 64-bit draws
(big-endian, in order). ``next_u64`` takes the first draw of the next block; ``block4``
takes all four (one hash for the four numbers a random-walk bar needs). A stream's whole
state is one counter (blocks used), so checkpoints stay tiny and a resumed run draws exactly
what the uninterrupted one did. No global ``random``, no ``hash()``.
"""

from __future__ import annotations

import hashlib
import struct
from decimal import Decimal
from typing import Final

from .ids import stable_id

__all__ = ["DeterministicStream", "unit_draw"]

_SCALE: Final = 1 << 64
_FOUR_U64: Final = struct.Struct(">4Q")


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

    def block4(self) -> tuple[int, int, int, int]:
        """The next block's four 64-bit unsigned integers, from one SHA-256."""
        digest = self._base.copy()
        digest.update(self.counter.to_bytes(8, "big"))
        self.counter += 1
        return _FOUR_U64.unpack(digest.digest())


def unit_draw(seed: int, *parts: object) -> Decimal:
    """A decimal in ``[0, 1)`` determined only by ``seed`` and ``parts``."""
    value = int(stable_id(seed, *parts)[:16], 16)
    return Decimal(value) / Decimal(_SCALE)
