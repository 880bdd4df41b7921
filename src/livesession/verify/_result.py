"""What a verification returns, and the list of violations it builds on the way."""

from __future__ import annotations

import types
from collections import Counter
from typing import TYPE_CHECKING, Final

import attrs
import orjson

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["VerifyResult", "Violations", "short"]

_MAX_PER_FILE: Final = 50
_MAX_MESSAGE: Final = 200
_MAX_VALUE: Final = 80


def _as_mapping(value: Mapping[str, int]) -> Mapping[str, int]:
    return types.MappingProxyType(dict(sorted(value.items())))


@attrs.frozen(kw_only=True)
class VerifyResult:
    """The outcome of ``verify_run``.

    ``ok`` is true exactly when ``violations`` is empty. Each violation is one line,
    ``<file>:<line>: <what>``; line 0 means the file as a whole. ``counts`` holds what
    was read (lines per artifact, bars, orders submitted, fills), read-only.
    """

    ok: bool
    violations: tuple[str, ...]
    counts: Mapping[str, int] = attrs.field(converter=_as_mapping, hash=False)


class Violations:
    """Collects violations, at most ``_MAX_PER_FILE`` listed per file."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._per_file: Counter[str] = Counter()

    def add(self, name: str, line: int, message: str) -> None:
        """Record that line ``line`` of ``name`` (0: the whole file) breaks the contract."""
        self._per_file[name] += 1
        if self._per_file[name] <= _MAX_PER_FILE:
            self.lines.append(f"{name}:{line}: {_one_line(message)}")

    def finish(self) -> tuple[str, ...]:
        """The listed violations, then one line per file for those not listed."""
        hidden = [
            f"{name}:0: {count - _MAX_PER_FILE} more violations not listed"
            for name, count in sorted(self._per_file.items())
            if count > _MAX_PER_FILE
        ]
        return (*self.lines, *hidden)


def _one_line(message: str) -> str:
    text = message.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def short(value: object) -> str:
    """``value`` as canonical JSON, cut to ``_MAX_VALUE`` characters for a message."""
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."
