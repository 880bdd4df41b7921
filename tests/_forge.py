"""Re-sealing a run after a change, as a forger would: only what the files say gives it away.

The stop record's digests, every audit line's ``prev_hash``, metrics.json's ``audit_head``
and a changed event's ``event_id`` are recomputed, so a verifier can find the change only
by what the changed line says against the rest of the run.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from livesession._domain.ids import stable_id

__all__ = ["copy_of", "reseal", "setting", "tampered"]


def _canonical(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def reseal(run: Path) -> None:
    """Seal ``run`` again over its files as they are now: what a forger would do.

    The stop record's digests, every audit line's ``prev_hash`` and metrics.json's
    ``audit_head`` are recomputed, so only what the files say can give a change away.
    """
    digests = {
        name: hashlib.sha256((run / name).read_bytes()).hexdigest()
        for name in ("events.jsonl", "state_snapshots.jsonl")
    }
    lines, prev = [], "0" * 64
    for raw in (run / "audit.jsonl").read_bytes().splitlines():
        record = orjson.loads(raw)
        if record["code"] == "C2_DRYRUN_STOP":
            record["payload"]["digests"] = digests
        record["prev_hash"] = prev
        line = _canonical(record)
        prev = hashlib.sha256(line).hexdigest()
        lines.append(line)
    (run / "audit.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    metrics = orjson.loads((run / "metrics.json").read_bytes())
    metrics["audit_head"] = prev
    (run / "metrics.json").write_bytes(
        orjson.dumps(metrics, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    )


def tampered(
    run: Path, name: str, wanted: Callable[[dict[str, Any]], bool], change: Callable[..., None]
) -> int:
    """Change the first record of ``name`` that is ``wanted``; re-seal; its line number."""
    path = run / name
    lines = path.read_bytes().splitlines()
    number = next(n for n, raw in enumerate(lines, 1) if wanted(orjson.loads(raw)))
    record = orjson.loads(lines[number - 1])
    change(record)
    if name == "events.jsonl":
        record["event_id"] = stable_id(
            record["run_id"],
            record["strategy_id"],
            record["event_type"],
            record["seq"],
            record["payload"],
        )
    lines[number - 1] = _canonical(record)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    reseal(run)
    return number


def copy_of(run: Path, tmp_path: Path) -> Path:
    """A copy of ``run`` under ``tmp_path`` to forge, the made run kept whole for the next."""
    copy = tmp_path / "copy" / run.name
    shutil.copytree(run, copy)
    return copy


def setting(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change for ``tampered``: ``record[key] = value``."""

    def change(record: dict[str, Any]) -> None:
        record[key] = value

    return change
