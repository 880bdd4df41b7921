"""The hash-chained audit log (``audit.jsonl``, schema ``C2_AUDIT_V1``).

Each line carries ``prev_hash``: the SHA-256 of the previous line's raw bytes without its
newline (64 zeros for the first). A verifier hashes what it reads and never re-serialises.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import orjson

from .._support.secrets import redact
from .._support.text import valid_payload

__all__ = ["AUDIT_SCHEMA", "GENESIS_HASH", "AuditChain"]

AUDIT_SCHEMA: Final = "C2_AUDIT_V1"
GENESIS_HASH: Final = "0" * 64
_DUMP_OPTS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


class AuditChain:
    """Builds audit lines; the caller writes them and then calls ``commit``.

    Splitting build and commit keeps the chain unchanged when a write fails.
    """

    def __init__(self, run_id: str, *, seq: int = 0, head: str = GENESIS_HASH) -> None:
        self.run_id = run_id
        self.seq = seq
        self.head = head

    def build(self, code: str, payload: dict[str, Any], ts: str) -> bytes:
        """The next line (newline included) for ``code``; the payload is redacted."""
        record = {
            "code": code,
            "payload": redact(payload),
            "prev_hash": self.head,
            "run_id": self.run_id,
            "schema": AUDIT_SCHEMA,
            "seq": self.seq + 1,
            "ts": ts,
        }
        try:
            return orjson.dumps(record, option=_DUMP_OPTS)
        except orjson.JSONEncodeError:  # a plug-in's text with a lone surrogate, say
            return orjson.dumps(valid_payload(record), option=_DUMP_OPTS)

    def commit(self, line: bytes) -> None:
        """Advance the chain past ``line`` once it is written."""
        self.seq += 1
        self.head = hashlib.sha256(line[:-1]).hexdigest()
