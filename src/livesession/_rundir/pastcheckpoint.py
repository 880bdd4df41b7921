"""What lies past a crashed run's checkpoint that a crash does not explain, for ``status``.

A crash tears the last line at most; a resume cuts the tail past the checkpoint's offsets
(``<file>.torn``) and goes on. ``status`` reads that tail to say a whole line there that
the run did not write (of the audit log, one that is not the next record of its chain;
``beforecheckpoint`` checks the part before the offsets).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names
from .beforecheckpoint import _HEAD, _TAIL, _Damage, _event_damage, _ids, _unlike

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["damage_past", "damage_past_checkpoint"]

_PAST_READ: Final = 1 << 26
"""The bytes past a checkpoint's offset ``damage_past_checkpoint`` reads at most (64 MiB)."""


def damage_past(run_dir: Path, checkpoint: Mapping[str, Any]) -> str:
    """``damage_past_checkpoint`` of a crashed run's checkpoint ("" without one)."""
    recorder = checkpoint.get("recorder")
    return damage_past_checkpoint(run_dir, recorder) if isinstance(recorder, dict) else ""


def damage_past_checkpoint(run_dir: Path, recorder: Mapping[str, Any]) -> str:
    """What lies past a crashed run's checkpoint that a crash does not explain; "" if none.

    A crash tears the last line at most. A whole line past the checkpoint's offset that is
    not the next event the run wrote (its numbering, its ``event_id``), or not the next
    snapshot (a JSON object numbered so), is more: ``events.jsonl:279 does not hash to its
    event_id: ...``. A resume sets it aside all the same (``<file>.torn``), with the rest
    of the tail; ``status`` says it. At most ``_PAST_READ`` bytes of each are read.
    """
    try:
        offsets, events = recorder["offsets"], run_dir / names.ARTIFACTS["events"]
        with events.open("rb") as handle:
            first = handle.readline(_PAST_READ)
        ids = _ids(1, first.rstrip(b"\n")) if first.endswith(b"\n") else None
        last = int(recorder["ts_sim"])
        for number, line in enumerate(
            _past(events, int(offsets["events"])), start=int(recorder["event_seq"]) + 1
        ):
            if ids is None or not _event_written(line, number, ids):
                damage = _event_damage(number, line, ids or (b"", b""), last, 1 << 63)
                return f"{names.EVENTS}:{damage.line} {damage.what}"
        states = run_dir / names.ARTIFACTS["states"]
        for number, raw in enumerate(
            _past(states, int(offsets["states"])), start=int(recorder["snapshot_seq"]) + 1
        ):
            if _snapshot_seq(raw) != number:
                return f"{names.SNAPSHOTS}:{number} {_unlike(raw, f'snapshot {number}')}"
        return _audit_damage(run_dir, recorder)
    except _Damage as damage:
        return f"{names.EVENTS}:{damage.line} {damage.what}"
    except (OSError, KeyError, TypeError, ValueError):  # unread, or a checkpoint of no shape
        return ""


def _audit_damage(run_dir: Path, recorder: Mapping[str, Any]) -> str:
    """The first audit line past the checkpoint that is not the next record of its chain.

    Each whole line there must be a JSON object numbered on from the checkpoint's
    ``audit_seq`` whose ``prev_hash`` is the SHA-256 of the line before it (the first: the
    checkpoint's ``audit_head``); "" when each is.
    """
    head, seq = str(recorder["audit_head"]), int(recorder["audit_seq"])
    audit = run_dir / names.ARTIFACTS["audit"]
    for number, raw in enumerate(_past(audit, int(recorder["offsets"]["audit"])), seq + 1):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            record = None
        if not isinstance(record, dict) or record.get("seq") != number:
            return f"{names.AUDIT}:{number} {_unlike(raw, f'audit record {number}')}"
        if record.get("prev_hash") != head:
            return f"{names.AUDIT}:{number} does not chain to the record before it (prev_hash)"
        head = hashlib.sha256(raw).hexdigest()
    return ""


def _past(path: Path, offset: int) -> list[bytes]:
    """The whole lines of ``path`` from ``offset`` (a torn last one left out)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(_PAST_READ).split(b"\n")[:-1]


def _snapshot_seq(raw: bytes) -> object:
    """The ``seq`` of snapshot line ``raw``; None when it is no JSON object."""
    try:
        snapshot = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return snapshot.get("seq") if isinstance(snapshot, dict) else None


def _event_written(line: bytes, number: int, ids: tuple[bytes, bytes]) -> bool:
    """Whether ``line`` is event ``number`` as the run writes it (its id its content's)."""
    head, at_tail = _HEAD.match(line), line.rfind(b',"run_id":%b,' % ids[0])
    end = re.compile(_TAIL % (re.escape(ids[0]), re.escape(ids[1]))).fullmatch(line, at_tail)
    if head is None or end is None or end[1] != b"%d" % number:
        return False
    made = b"".join(
        (b"[%b,%b," % ids, head[2], b",", end[1], b",", line[head.end() : at_tail], b"]")
    )
    return hashlib.sha256(made).hexdigest()[:24].encode() == head[1]
