"""The opening of the audit log: ``C2_DRYRUN_START``, after any resume that started over."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from ._reading import AUDIT

if TYPE_CHECKING:
    from ._reading import Line
    from ._result import Violations

__all__ = ["check_opening"]


def check_opening(checks: Violations, lines: list[Line]) -> None:
    """The audit opens with ``C2_DRYRUN_START``, after any resume that started over.

    A run resumed before its first checkpoint starts over, its first records set aside,
    so ``C2_RESUME`` records may come before ``C2_DRYRUN_START``; nothing else may, and
    such a record says ``checkpoint`` false and ``from_step`` 0.
    """
    for line in lines:
        record = line.obj
        if record is None:
            return
        if record["code"] != "C2_RESUME":
            if record["code"] != "C2_DRYRUN_START":
                said = f"the first record is {record['code']}, not C2_DRYRUN_START"
                checks.add(AUDIT, line.number, said)
            return
        payload = record.get("payload")
        if not isinstance(payload, dict):
            continue
        checkpoint, step = payload.get("checkpoint"), payload.get("from_step")
        if checkpoint is not False or type(step) is not int or step != 0:
            says = f"checkpoint {_json(checkpoint)}, from_step {_json(step)}"
            said = (
                f"C2_RESUME before C2_DRYRUN_START says {says}: a resume before the first"
                " checkpoint starts over (checkpoint false, from_step 0)"
            )
            checks.add(AUDIT, line.number, said)


def _json(value: object) -> str:
    """``value`` as the record writes it (``true``, ``12``, ``null``)."""
    return orjson.dumps(value).decode()
