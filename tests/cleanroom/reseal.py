"""Rewrite a sealed run as a forger would: change the files, then recompute the closing
digests, the whole audit chain and metrics' counts and audit head, so that every hash
agrees again. What is left for a verifier to find is the rule the change breaks.

Written from the artifact contract alone, as the verifier is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from .verifier import AUDIT, EVENTS, METRICS, SNAPSHOTS, ZERO_HASH, stable_id

Obj = dict[str, Any]


def dumps(obj: Any) -> bytes:
    """The contract's line form."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def read(run: Path, name: str) -> list[bytes]:
    """The lines of a JSON Lines file, without their `\\n`."""
    return (run / name).read_bytes().splitlines()


def write(run: Path, name: str, lines: list[bytes]) -> None:
    """Write `lines`, each with its `\\n`."""
    (run / name).write_bytes(b"".join(line + b"\n" for line in lines))


def with_event_id(event: Obj) -> Obj:
    """The event with its event_id recomputed from its own fields."""
    parts = (event["run_id"], event["strategy_id"], event["event_type"], event["seq"])
    return {**event, "event_id": stable_id(*parts, event["payload"])}


def edit(run: Path, name: str, index: int, change: Callable[[Obj], Obj | bytes]) -> None:
    """Replace line `index` of `name` by what `change` makes of it (an object, or raw bytes)."""
    lines = read(run, name)
    made = change(orjson.loads(lines[index]))
    lines[index] = made if isinstance(made, bytes) else dumps(made)
    write(run, name, lines)


def reseal(run: Path, *, genesis: str = ZERO_HASH, counts: bool = True) -> None:
    """Make every hash of the run agree with its files again.

    The stop record's digests are those of events.jsonl and state_snapshots.jsonl as they
    stand; each audit line's prev_hash is the hash of the line before (`genesis` for the
    first); metrics' audit_head is the last line's hash, and with `counts` its line counts
    are the files'.
    """
    digests = {
        name: hashlib.sha256((run / name).read_bytes()).hexdigest() for name in (EVENTS, SNAPSHOTS)
    }
    lines, previous = [], genesis
    for raw in read(run, AUDIT):
        record = orjson.loads(raw)
        record["prev_hash"] = previous
        if record["code"] == "C2_DRYRUN_STOP":
            record["payload"] = {**record["payload"], "digests": digests}
        line = dumps(record)
        lines.append(line)
        previous = hashlib.sha256(line).hexdigest()
    write(run, AUDIT, lines)
    metrics = orjson.loads((run / METRICS).read_bytes())
    metrics["audit_head"] = previous
    if counts:
        metrics["audit_events"] = len(lines)
        metrics["events_emitted"] = len(read(run, EVENTS))
        metrics["state_snapshots"] = len(read(run, SNAPSHOTS))
    (run / METRICS).write_bytes(orjson.dumps(metrics, option=orjson.OPT_SORT_KEYS))
