"""Open the idempotency store a run asked for, by backend name."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._artifacts import names
from .._exceptions import ConfigError, RunDirectoryError
from .jsonl import JsonlIdempotencyStore
from .memory import MemoryIdempotencyStore
from .sqlite import SqliteIdempotencyStore

if TYPE_CHECKING:
    from .._typing import IdempotencyStore
    from .memory import _MonotonicClock

__all__ = ["IDEMPOTENCY_BACKENDS", "JSONL_FILE_NAME", "SQLITE_FILE_NAME", "open_idempotency_store"]

IDEMPOTENCY_BACKENDS: Final = ("memory", "jsonl", "sqlite")
JSONL_FILE_NAME: Final = names.IDEMPOTENCY_JSONL
SQLITE_FILE_NAME: Final = names.IDEMPOTENCY_SQLITE


def open_idempotency_store(
    backend: str, run_dir: Path, *, clock: _MonotonicClock, durable: bool = True
) -> IdempotencyStore:
    """Open the ``backend`` store of the run in ``run_dir``.

    ``memory`` keeps keys for the life of the process (``clock`` drives its expiry);
    ``jsonl`` and ``sqlite`` use ``idempotency.jsonl`` / ``idempotency.sqlite`` in
    ``run_dir``, which must exist. An unknown backend raises ``ConfigError`` listing the
    choices.
    """
    if backend not in IDEMPOTENCY_BACKENDS:
        raise ConfigError(
            f"unknown idempotency backend {backend!r}: choose one of "
            f"{', '.join(IDEMPOTENCY_BACKENDS)}"
        )
    if backend == "memory":
        store: IdempotencyStore = MemoryIdempotencyStore(clock)
    else:
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise RunDirectoryError(
                f"run directory {run_dir} does not exist: create the run before opening its "
                "idempotency store"
            )
        if backend == "jsonl":
            store = JsonlIdempotencyStore(run_dir / JSONL_FILE_NAME, durable=durable)
        else:
            store = SqliteIdempotencyStore(run_dir / SQLITE_FILE_NAME, durable=durable)
    return store
