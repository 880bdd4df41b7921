"""Idempotency and checkpoint stores, grouped by backend.

``open_idempotency_store(backend, run_dir, clock=...)`` picks one of
``IDEMPOTENCY_BACKENDS``. Every idempotency store passes the same contract suite
(``tests/store_contract.py``).
"""

from __future__ import annotations

from ._factory import (
    IDEMPOTENCY_BACKENDS,
    JSONL_FILE_NAME,
    SQLITE_FILE_NAME,
    open_idempotency_store,
)
from ._record import Reservation
from .checkpoint_file import FileCheckpointStore
from .jsonl import JsonlIdempotencyStore
from .memory import MemoryIdempotencyStore
from .sqlite import SqliteIdempotencyStore

__all__ = [
    "IDEMPOTENCY_BACKENDS",
    "JSONL_FILE_NAME",
    "SQLITE_FILE_NAME",
    "FileCheckpointStore",
    "JsonlIdempotencyStore",
    "MemoryIdempotencyStore",
    "Reservation",
    "SqliteIdempotencyStore",
    "open_idempotency_store",
]
