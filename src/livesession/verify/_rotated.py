"""A run file's rotated part beside it: the host's logrotate (or a person) moved the record.

A glob such as ``out/*/*.jsonl`` in logrotate's config catches a run's record: ``create``
leaves ``events.jsonl`` empty and its lines in ``events.jsonl.1``, ``copytruncate`` leaves
them in ``events.jsonl.1`` and the file cut, ``compress`` and ``dateext`` name the part
``events.jsonl.1.gz`` or ``events.jsonl-20261208``. ``verify`` then found an empty file, or
events starting at ``seq 667``, and hundreds of violations after, naming no cause. Its
summary now names the part beside the file, and how it is put back.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Final

from .._artifacts import names

__all__ = ["rotated_parts"]

_SHOWN: Final = 3
"""Parts named; the rest counted."""

_RECORD: Final = (names.EVENTS, names.SNAPSHOTS, names.AUDIT, names.JOURNAL)
_PART: Final = re.compile(
    r"(?P<name>" + "|".join(map(re.escape, _RECORD)) + r")(?:\.\d+|-[0-9A-Za-z_.]+)(?:\.gz)?"
    r"|(?P<zipped>" + "|".join(map(re.escape, _RECORD)) + r")\.gz"
)


def rotated_parts(run_dir: Path) -> str:
    """The summary's words of the rotated parts of the run's record in ``run_dir``; "" if none."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        found = sorted(p.name for p in run_dir.iterdir() if _PART.fullmatch(p.name) is not None)
    if not found:
        return ""
    shown = ", ".join(found[:_SHOWN])
    if len(found) > _SHOWN:
        shown += f" and {len(found) - _SHOWN} more"
    return (
        f"{shown} beside the run's files: a part of its record rotated away (logrotate with a "
        "glob that caught it, or a person): put the lines back in the file they came from "
        "(`mv` a moved one back, `gunzip` a .gz first), then verify again; only "
        "session.log.jsonl may be rotated"
    )
