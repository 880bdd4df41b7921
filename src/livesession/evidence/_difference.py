"""Where a determinism re-run first parts from the run: the line, and the field.

``first_difference`` compares a file line by line (``events.jsonl``,
``state_snapshots.jsonl``); ``audit_difference`` compares the audit records as the re-run's
verdict does, ``seq`` and ``prev_hash`` left out and the records a re-run cannot have set
aside. Two lines of different kinds are named by kind (``SIGNAL (seq 40) in the run, BAR
(seq 40) in the re-run``); two of one kind by the first field that differs, with its value
on each side (``payload.close 42010.50 in the run, 42010.60 in the re-run``), which is
where to start looking for what is not deterministic; two events by their step and its
bar's time too (``events.jsonl line 40 (step 12, its bar of 2026-01-01T00:12:00Z)``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts.runread import json_object
from .._domain.clock import format_utc_ns

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ASIDE", "audit_difference", "audit_records", "first_difference", "mismatch_said"]

ASIDE: Final = ("C2_RESUME",)
"""Audit records a re-run cannot have: a resume of the run's process."""
_ABSENT: Final = object()
_DERIVED: Final = frozenset({"event_id"})
"""Fields that hash the rest of the line: named only when nothing else differs."""
_SHOWN_CHARS: Final = 80
_BOM: Final = b"\xef\xbb\xbf"
_BAR: Final = b'"event_type":"BAR"'
_EVENT_STEP: Final = re.compile(r"events\.jsonl line \d+ \(step (\d+)[,)]")
"""The step ``first_difference`` names of two events (its own words)."""
SAME_RECORD: Final = "the same record"
"""How a difference a copy made is said (line ends, a BOM): the file changed, not the code."""


def first_difference(run: Path, rerun: Path) -> str:
    """Where the re-run's file first differs from the run's: its line, and what each holds.

    ``events.jsonl line 40 (step 12, its bar of 2026-01-01T00:12:00Z): ORDER_SUBMITTED (seq
    40) in the run, ORDER_REJECTED (seq 40) in the re-run``; of one kind, ``events.jsonl line
    101 (step 33, ...), BAR (seq 101): payload.close 42010.50 in the run, 42010.60 in the
    re-run``. The step of an event is the one whose bar came last before it (events carry
    none): a strategy's decision that differs is told by its bar, not by a line number.
    """
    bars, bar_ns = 0, None  # the BAR events before the line, the same in both files
    with run.open("rb") as ours, rerun.open("rb") as theirs:
        for number, (mine, again) in enumerate(itertools.zip_longest(ours, theirs), start=1):
            if mine != again:
                step = "" if _copied(mine, again) else _step(bars, bar_ns, mine, again)
                return f"{run.name} line {number}{step}{_lines_differ(mine, again)}"
            if _BAR in mine:
                bars, bar_ns = bars + 1, (_record(mine) or {}).get("ts_sim")
    return f"{run.name}: no line differs"  # pragma: no cover - the digests said they differ


def _step(bars: int, bar_ns: object, mine: bytes | None, again: bytes | None) -> str:
    """`` (step 2, its bar of 2026-01-01T00:02:00Z)`` for two event lines, else nothing.

    Two BARs that differ are the next step's bar; any other difference is in the step of
    the last bar both files hold (``before the first bar`` when there is none yet).
    """
    records = [_record(line) for line in (mine, again)]
    kinds = [None if record is None else record.get("event_type") for record in records]
    if not any(kinds):  # snapshot lines name their own step; audit lines are not read here
        return ""
    if kinds == ["BAR", "BAR"]:
        bars, bar_ns = bars + 1, (records[0] or {}).get("ts_sim")
    if bars == 0:
        return " (before the first bar)"
    when = f", its bar of {format_utc_ns(bar_ns)}" if type(bar_ns) is int else ""
    return f" (step {bars}{when})"


def mismatch_said(
    determinism: Mapping[str, Any],
    sources: Mapping[str, Any],
    resumes: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The problem a determinism mismatch is, with where the runs part and what to suspect.

    ``the determinism re-run does not match: events.jsonl line 13: SIGNAL (seq 13) in the
    run, BAR (seq 13) in the re-run (is strategy 'desk.alpha:make' deterministic? ...)``:
    the document showed where, the one line a desk reads first said neither. The code of
    one's own is what a re-run of the same livesession most often finds changed (an
    unseeded random source, the wall clock, the order of a set; an environment variable the
    re-run's environment sets otherwise), each plug-in named.

    A run resumed (``resumes``, the run's ``C2_RESUME`` payloads) from a checkpoint before
    the step the two part at went on from what its plug-ins' ``get_state`` gave there, which
    the uninterrupted re-run never needed: a ``get_state`` that leaves part of the memory
    out is asked about first (``(the run was resumed from step 20, and they part after it,
    at step 21: does the get_state of strategy 'desk.alpha:make' hold all its memory ...``).
    """
    said = "the determinism re-run does not match"
    if determinism.get("first_difference"):
        said += f": {determinism['first_difference']}"
    if SAME_RECORD in str(determinism.get("first_difference", "")):
        # The re-run wrote that record: a copy changed the file's bytes, and the plug-ins
        # are not what to suspect there (verify names each change).
        return said + (
            " (a copy changed the run's bytes after it was written: check a copy that keeps "
            "them, byte for byte)"
        )
    own = [
        f"{role} {record['ref']!r}"
        for role, record in sorted(sources.items())
        if isinstance(record, Mapping) and isinstance(record.get("ref"), str)
    ]
    if own:
        named = " and ".join(own)
        ask = f"is {named} deterministic?"
        resumed = _resumed_before(str(determinism.get("first_difference", "")), resumes)
        if resumed is not None:
            ask = (
                f"the run was resumed from step {resumed[0]}, and they part after it, at step "
                f"{resumed[1]}: does the get_state of {named} hold all the memory, and "
                "set_state restore it? a resumed run goes on from what get_state gave at the "
                "checkpoint; or is it not deterministic?"
            )
        said += (
            f" ({ask} an unseeded random source, the wall clock, the order of a set, id() or "
            "hash(), threads, state kept outside the object, or an environment variable or "
            "file that differs here: docs/plugins.md, 'A strategy that repeats'; the testing "
            "kit's run_failure_matrix finds most, docs/testing.md)"
        )
    return said


def _resumed_before(first: str, resumes: Sequence[Mapping[str, Any]]) -> tuple[int, int] | None:
    """(the step the last resume before it went on from, the step of the first difference).

    None when the difference is no event's with a step, or comes before every resume from a
    checkpoint (a resume from the start restored no state).
    """
    found = _EVENT_STEP.match(first)
    if found is None:
        return None
    step = int(found.group(1))
    froms = [resume.get("from_step") for resume in resumes if resume.get("checkpoint") is not False]
    before = [s for s in froms if isinstance(s, int) and not isinstance(s, bool) and s < step]
    return (max(before), step) if before else None


def audit_records(path: Path, aside: tuple[str, ...] = ASIDE) -> list[bytes]:
    """Audit lines without seq/prev_hash, and without the ``aside`` codes (to compare)."""
    return [record for _, record, _ in _audit_lines(path, aside)]


def audit_difference(run: Path, rerun: Path, aside: tuple[str, ...] = ASIDE) -> str:
    """The first audit record that differs, compared as ``audit_records`` compares them.

    ``audit.jsonl line 12 (line 11 in the re-run), C2_ORDER_SUBMITTED (seq 12):
    payload.quantity 0.010 in the run, 0.020 in the re-run``.
    """
    pairs = itertools.zip_longest(_audit_lines(run, aside), _audit_lines(rerun, aside))
    for ours, theirs in pairs:
        if ours is None or theirs is None or ours[1] != theirs[1]:
            where = f"line {ours[0]}" if ours is not None else "after its last record"
            if theirs is not None and (ours is None or theirs[0] != ours[0]):
                where += f" (line {theirs[0]} in the re-run)"
            said = _lines_differ(
                None if ours is None else ours[1],
                None if theirs is None else theirs[1],
                named=(None if ours is None else ours[2], None if theirs is None else theirs[2]),
            )
            return f"{run.name} {where}{said}"
    return f"{run.name}: no record differs"  # pragma: no cover - the comparison said they do


def _audit_lines(path: Path, aside: tuple[str, ...]) -> list[tuple[int, bytes, bytes]]:
    """(line number, the record without seq and prev_hash, the line) of the records compared."""
    kept = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        record = orjson.loads(line)
        if record.get("code") in aside:
            continue
        record.pop("seq", None)
        record.pop("prev_hash", None)
        kept.append((number, orjson.dumps(record, option=orjson.OPT_SORT_KEYS), line))
    return kept


def _lines_differ(
    mine: bytes | None,
    again: bytes | None,
    *,
    named: tuple[bytes | None, bytes | None] | None = None,
) -> str:
    """``: SIGNAL (seq 9) in the run, BAR (seq 9) in the re-run``, or of one kind its field.

    ``named`` are the lines to name the records by (the audit's, with their ``seq``), when
    ``mine`` and ``again`` are what was compared.
    """
    shown = (mine, again) if named is None else named
    ours, theirs = _record(mine), _record(again)
    copied = _copied(mine, again)
    if copied:
        return f", {_what(shown[0].removeprefix(_BOM) if shown[0] else None)}: {copied}"
    if ours is not None and theirs is not None and _kind(ours) == _kind(theirs):
        path, left, right = _field_difference(ours, theirs)
        return (
            f", {_what(shown[0])}: {path or 'the line'} {_shown(left)} in the run, "
            f"{_shown(right)} in the re-run"
        )
    return f": {_what(shown[0])} in the run, {_what(shown[1])} in the re-run"


def _copied(mine: bytes | None, again: bytes | None) -> str:
    r"""What a copy added to the re-run's line to make the run's ("" if not that alone).

    Git's ``core.autocrlf`` or a transfer in text mode ends each line with \r\n, and a
    Windows editor or copy may put a byte order mark before the first: the record is the
    one the re-run wrote, and what to suspect is the copy, not the code.
    """
    if mine is None or again is None or mine == again:
        return ""
    added = []
    if mine.startswith(_BOM):
        mine = mine.removeprefix(_BOM)
        added.append("starts with a UTF-8 byte order mark (BOM)")
    if mine.endswith(b"\r\n") and again.endswith(b"\n") and not again.endswith(b"\r\n"):
        mine = mine.removesuffix(b"\r\n") + b"\n"
        added.append("ends with \\r\\n, the re-run's with \\n alone")
    if mine != again:
        return ""
    return (
        f"{SAME_RECORD} on both sides, but the run's line {' and '.join(added)} (a copy "
        "changed the file: Windows line endings, git's core.autocrlf, an editor's BOM?)"
    )


def _record(line: bytes | None) -> dict[str, Any] | None:
    return None if line is None else json_object(line)


def _kind(record: dict[str, Any]) -> object:
    """An event's type, a snapshot's trigger or an audit record's code."""
    return record.get("event_type") or record.get("trigger") or record.get("code")


def _field_difference(ours: Any, theirs: Any, path: str = "") -> tuple[str, Any, Any]:
    """The dotted path of the first field that differs, and its value on each side.

    Keys are taken in the run's order, then those only the re-run has (the top level's
    ``event_id``, a hash of the rest, last); a list of one length is compared item by item
    (``payload.open_orders.0``).
    """
    if isinstance(ours, dict) and isinstance(theirs, dict):
        keys = [*ours, *(key for key in theirs if key not in ours)]
        if not path:
            keys = [k for k in keys if k not in _DERIVED] + [k for k in keys if k in _DERIVED]
        for key in keys:
            left, right = ours.get(key, _ABSENT), theirs.get(key, _ABSENT)
            if left != right:
                return _field_difference(left, right, f"{path}.{key}" if path else str(key))
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        for index, (left, right) in enumerate(zip(ours, theirs, strict=True)):
            if left != right:
                return _field_difference(left, right, f"{path}.{index}" if path else str(index))
    return path, ours, theirs


def _shown(value: Any) -> str:
    """A field's value in a few words: text as it is, anything else as compact JSON."""
    if value is _ABSENT:
        return "(absent)"
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _what(line: bytes | None) -> str:
    """A line's event type, snapshot trigger or audit code, in a few words."""
    if line is None:
        return "nothing (the file ends)"
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "a line that is not JSON"
    if not isinstance(record, dict):
        return "a line that is not an object"
    kind = _kind(record) or "a record"
    step = f" at step {record['step']}" if isinstance(record.get("step"), int) else ""
    return f"{kind}{step} (seq {record.get('seq')})"
