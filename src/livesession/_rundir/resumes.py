"""How often a run was resumed, and from where: its audit log's ``C2_RESUME`` records.

Each ``livesession resume`` (``resume_run``) writes one ``C2_RESUME`` before its first step,
and a later resume keeps it: the records are the run's resumes, sealed or not. ``status``
and the summary a ``resume`` prints say them, as ``evidence`` does from the whole log. The
log is read backwards from its end, a chunk at a time, and no further than ``_BUDGET``
bytes: a supervisor polls ``status``, and the audit log of a long run may be large (a
reject is a record). When the budget ends the reading, the count is a floor, said so.

The same records count the bytes each resume set aside in ``<file>.torn`` (``torn_bytes``):
a ``.torn`` file holding more is a run a resume cut back to its checkpoint and that ended
before its record reached the log (killed there, or refused and unable to put the tails
back), which ``status`` says (``uncounted``), as the next resume counts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import attrs

from .._artifacts import names
from .._artifacts.runread import events_back, payload
from .._support.fsutil import size_if_any
from .._support.torn import torn_path

__all__ = ["Resumes", "resumed_from", "resumes_of"]

_ENDED: Final = (
    "a resume ended between cutting the run back and its record (killed, or refused and "
    "unable to put the tails back)"
)
"""Why a ``.torn`` file holds bytes no ``C2_RESUME`` record counts."""

_BUDGET: Final = 8 << 20
"""How far back the audit log is read for ``C2_RESUME`` records (its whole, but for a long one)."""


@attrs.frozen
class Resumes:
    """The ``C2_RESUME`` records read, and where the newest went on from."""

    count: int = 0
    last_from: str = ""
    """Where the newest resume went on from: ``step 200``, or ``the start`` (no checkpoint)."""
    read_back: int = 0
    """The bytes read back from the end when they did not reach the start (0: all read)."""
    uncounted: tuple[tuple[str, int], ...] = ()
    """Each artifact whose ``.torn`` holds bytes no record counts, and how many (all read)."""

    def uncounted_said(self) -> str:
        """``2,773 bytes in events.jsonl.torn that no C2_RESUME counts: ...``; "" none."""
        if not self.uncounted:
            return ""
        held = ", ".join(f"{size:,} bytes in {name}.torn" for name, size in self.uncounted)
        return f"{held} that no C2_RESUME counts: {_ENDED}"

    def set_aside(self, run_dir: Path, checkpoint: dict[str, Any]) -> str:
        """``status``'s words for ``uncounted`` ("" none), each file against ``checkpoint``."""
        if not self.uncounted:
            return ""
        recorder = checkpoint.get("recorder")
        offsets = recorder.get("offsets") if isinstance(recorder, dict) else None
        offsets = offsets if isinstance(offsets, dict) else {}
        artifacts = {file: name for name, file in names.ARTIFACTS.items()}
        said = []
        for file, size in self.uncounted:
            at = offsets.get(artifacts[file])
            cut = isinstance(at, int) and size_if_any(run_dir / file) == at
            where = "cut back to its checkpoint" if cut else "past its checkpoint"
            said.append(f"{size:,} bytes in {file}.torn ({file} {where})")
        return f"{', '.join(said)} that no C2_RESUME counts: {_ENDED}; the next resume counts them"

    def says(self) -> str:
        """``2 times, the last from step 200``; ``once, from step 100``; "" for none."""
        if not self.count:
            return ""
        if self.count == 1 and not self.read_back:
            return f"once, from {self.last_from}"
        floor = f"at least {'once' if self.count == 1 else f'{self.count} times'}"
        times = f"{self.count} times" if not self.read_back else floor
        read = f" (counted in the last {self.read_back >> 20} MiB of {names.AUDIT})"
        return f"{times}, the last from {self.last_from}{read if self.read_back else ''}"


def resumes_of(run_dir: Path, *, budget: int = _BUDGET) -> Resumes:
    """The run's resumes, as its audit log's ``C2_RESUME`` records say them (none: ``count`` 0).

    Raises:
        OSError: the host refused to read the audit log (``raise_if_refused``).
    """
    audit = run_dir / names.AUDIT
    found = list(events_back(audit, ("C2_RESUME",), budget=budget, key="code"))
    records = [record for record in found if record is not None]
    cut = bool(found) and found[-1] is None and audit.is_file()  # the budget ended the reading
    uncounted = () if cut else _uncounted(run_dir, records)
    if not records:
        return Resumes(uncounted=uncounted)
    return Resumes(
        count=len(records),
        last_from=resumed_from(payload(records[0])),
        read_back=budget if cut else 0,
        uncounted=uncounted,
    )


def _uncounted(run_dir: Path, records: list[dict[str, Any]]) -> tuple[tuple[str, int], ...]:
    """Each artifact's ``.torn`` bytes beyond what the ``C2_RESUME`` ``records`` count."""
    counted: dict[str, int] = {}
    for record in records:
        sizes = payload(record).get("torn_bytes")
        for name, size in (sizes if isinstance(sizes, dict) else {}).items():
            if isinstance(size, int) and not isinstance(size, bool):
                counted[str(name)] = counted.get(str(name), 0) + size
    found = []
    for name in names.ARTIFACTS.values():
        held = size_if_any(torn_path(run_dir / name)) or 0
        if held > counted.get(name, 0):
            found.append((name, held - counted.get(name, 0)))
    return tuple(found)


def resumed_from(resume: dict[str, Any]) -> str:
    """``step 200``, or ``the start``: where the resume a ``C2_RESUME`` payload records went on."""
    return "the start" if resume.get("checkpoint") is False else f"step {resume.get('from_step')}"
