"""Whether a table that was already there is one the backends can use as they rely on it.

A table of a backend is created when absent, but one that exists is taken as it is: one a
DBA made by hand, or another release made. Its shape is what the guarantees rest on.
Without a unique key on ``(namespace, key)``, ``INSERT ... ON CONFLICT DO NOTHING`` never
conflicts: every ``reserve`` of a key reports it new (``created=True``) and two senders
both send, so idempotency is gone without a word. A missing column, another type (an
``integer`` token or expiry overflows on the first nanosecond time) or a ``NOT NULL``
column the statements never fill fail the first write that meets them, mid-run, after an
order went out. So an existing table is read from the catalog on open and refused, in
one line naming each difference, before anything uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .connection import PgTable

__all__ = ["COLUMNS_QUERY", "UNIQUE_KEYS_QUERY", "declared_key", "shape_differences"]

COLUMNS_QUERY: Final = """
SELECT attname::text, format_type(atttypid, atttypmod), attnotnull, atthasdef
FROM pg_attribute
WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped
"""
"""Each column of a table: its name, SQL type, ``NOT NULL`` and whether it has a default."""
UNIQUE_KEYS_QUERY: Final = """
SELECT array_agg(a.attname::text ORDER BY a.attname)
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indisvalid AND i.indimmediate
    AND i.indpred IS NULL AND i.indexprs IS NULL
GROUP BY i.indexrelid
"""
"""The columns of each unique index ``ON CONFLICT`` can use (whole, valid, not deferred)."""
# format_type's names for the types the tables declare by their short names.
_TYPE_NAMES: Final = {"timestamptz": "timestamp with time zone"}
# Types a DBA may have chosen that hold every value the statements write, as the declared.
_ALSO: Final = {"text": frozenset({"character varying"})}


def declared_key(table: PgTable) -> tuple[str, ...]:
    """The columns of ``table``'s primary key, as its ``CREATE TABLE`` declares them."""
    if table.primary_key:
        return tuple(name.strip() for name in table.primary_key.split(","))
    return tuple(name for name, spec in table.columns.items() if "PRIMARY KEY" in spec)


def shape_differences(
    table: PgTable,
    columns: Iterable[tuple[str, str, bool, bool]],
    unique_keys: Iterable[Iterable[str]],
) -> list[str]:
    """How an existing table differs from ``table`` in what the statements rely on.

    ``columns`` are rows of ``COLUMNS_QUERY``, ``unique_keys`` those of
    ``UNIQUE_KEYS_QUERY``. Extra columns are fine when the statements need not fill them.
    Empty: the table will do.
    """
    found = {name: (kind, not_null, has_default) for name, kind, not_null, has_default in columns}
    differences = []
    if lacking := [name for name in table.columns if name not in found]:
        differences.append(f"it lacks column(s) {', '.join(lacking)}")
    for name, spec in table.columns.items():
        if name in found:
            differences.extend(_column_differences(name, spec, found[name]))
    for name, (_, not_null, has_default) in found.items():
        if name not in table.columns and not_null and not has_default:
            differences.append(f"its column {name} is NOT NULL without a default")
    key = declared_key(table)
    if key and sorted(key) not in [sorted(columns) for columns in unique_keys]:
        differences.append(f"it has no primary key or unique index on ({', '.join(key)})")
    return differences


def _column_differences(name: str, spec: str, found: tuple[str, bool, bool]) -> Iterable[str]:
    """What the column ``name`` found as ``found`` lacks of its declaration ``spec``."""
    kind, not_null, has_default = found
    declared = spec.split(maxsplit=1)[0]
    want = _TYPE_NAMES.get(declared, declared)
    if kind != want and kind not in _ALSO.get(want, ()):
        yield f"its column {name} is {kind}, not {want}"
    if not_null and not has_default:
        if "NOT NULL" not in spec and "PRIMARY KEY" not in spec:
            yield f"its column {name} is NOT NULL, where the statements write NULL"
        elif "DEFAULT" in spec:
            yield f"its column {name} has no default ({_default(spec)})"


def _default(spec: str) -> str:
    """The ``DEFAULT ...`` clause of a column's declaration."""
    return spec[spec.index("DEFAULT") :]
