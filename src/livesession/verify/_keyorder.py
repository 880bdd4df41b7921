"""Whether ``metrics.json``'s text writes its keys in order, as the contract asks.

The contract's ``metrics.json`` is one JSON object, pretty-printed or not, its keys sorted;
a parser forgets the order (and keeps one of a key written twice), so it is read from the
text itself.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import orjson

__all__ = ["unsorted_key"]


def unsorted_key(raw: bytes, obj: dict[str, Any]) -> str | None:
    """Where ``raw``, the JSON text of ``obj``, has a key out of order or twice; or None.

    The contract's metrics.json is one JSON object, pretty-printed or not, its keys sorted:
    any whitespace JSON allows is taken (as the session writes it, two-space indent and a
    final newline, or as ``json.dumps(indent=4)`` does), and the order of keys is read from
    the text itself (a key written twice, which a reader takes either way, is out of order).
    """
    for option in (orjson.OPT_INDENT_2, 0):
        if raw == orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | option) + b"\n":
            return None  # as the session writes it: sorted
    found: list[str] = []

    def in_order(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if not found and len(set(keys)) < len(keys):
            found.append(f"key {next(k for n, k in enumerate(keys) if k in keys[:n])!r} twice")
        for before, key in itertools.pairwise(keys):
            if not found and key < before:
                found.append(f"{key!r} after {before!r}")
        return dict(pairs)

    try:
        json.loads(raw, object_pairs_hook=in_order)
    except RecursionError:
        return "nested too deep to read the order of its keys"
    except ValueError as exc:  # orjson took it; Python's json may not (a 5,000-digit int)
        return f"the order of its keys cannot be read ({exc})"
    return found[0] if found else None
