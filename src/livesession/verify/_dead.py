"""Dead sinks: what metrics.json says a contract file lost, checked against that file.

A sink that fails for good while the run writes it leaves its file short, and the run
unsealed: ``metrics.json`` names the first line (the audit log's: record) the sink could
not write, N (``<sink>_sink_failed_at``, for ``audit``, ``events`` or ``states``), and why
(``<sink>_sink_error``). The claim must match exactly: the file holds N-1 whole lines and
the audit log no ``C2_DRYRUN_STOP``. Then the lines never written are the one violation
reported for it, and the checks that need them are left out; otherwise the claim is
itself a violation, and so is a ``SINK_WRITE_FAILED`` (in the events, or its audit record)
naming a sink that metrics.json says nothing of.

But for one case: a full disk that refused a sink's line refuses ``metrics.json`` too (it is
rewritten whole, beside itself, then put in place), so the run is left with the
``metrics.json`` of its last checkpoint, written before the audit log's
``C2_SINK_WRITE_FAILED`` record (its ``audit_events`` is short of that record's ``seq``).
Its silence is then no claim: the sink is taken as failed where its file's whole lines end,
its cause unknown (``DeadSink.inferred``), and reported once as such, not as a metrics.json
that contradicts the audit log and the checks the lost lines fail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs

from .._support.secrets import redact_text
from ._reading import AUDIT, EVENTS, METRICS, SNAPSHOTS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._reading import RunFiles
    from ._result import Violations

__all__ = ["SINK_FILES", "DeadSink", "check_dead_sinks"]

SINK_FILES: Final = {"audit": AUDIT, "events": EVENTS, "states": SNAPSHOTS}
"""The contract files written line by line, by the name of their sink."""


@attrs.frozen
class DeadSink:
    """A sink that failed at line ``at`` of its file (the audit log's: record), and why."""

    name: str
    at: int
    error: str
    inferred: bool = False
    """metrics.json, written before the failure, says nothing of it: ``at`` is where the
    file's whole lines end, and ``error`` says the cause is not recorded."""

    def describe(self) -> str:
        """``events sink failed at line 100 (OSError: ...)``."""
        unit = "record" if self.name == "audit" else "line"
        return f"{self.name} sink failed at {unit} {self.at} ({self.error})"


def check_dead_sinks(
    files: RunFiles, checks: Violations, said_by_events: Iterable[str]
) -> tuple[DeadSink, ...]:
    """The dead sinks metrics.json claims and the files bear out; the rest are violations.

    ``said_by_events``: the sinks a valid ``SINK_WRITE_FAILED`` event names.
    """
    metrics = files.metrics
    if metrics is None:
        return ()
    audit = files.lines[AUDIT]
    closed = any(
        line.obj is not None and line.obj["code"] == "C2_DRYRUN_STOP"
        for line in audit[: _whole(files, AUDIT)]
    )
    said = dict.fromkeys(_said_by_audit(audit), "the audit log says")
    said.update(dict.fromkeys(said_by_events, "the events say"))
    dead: list[DeadSink] = []
    for name, file in SINK_FILES.items():
        sink = _claimed(files, checks, name, closed=closed, said=said.get(name))
        if sink is not None:
            checks.add(
                file,
                sink.at,
                f"never written: the {sink.describe()}, so the run has no C2_DRYRUN_STOP",
            )
            dead.append(sink)
    return tuple(dead)


def _claimed(
    files: RunFiles, checks: Violations, name: str, *, closed: bool, said: str | None
) -> DeadSink | None:
    """The claim about sink ``name``, if metrics.json makes one that its file bears out."""
    metrics: dict[str, Any] = files.metrics or {}
    field = f"{name}_sink_failed_at"
    failed_at = metrics.get(field)
    if failed_at is None:
        before = None if closed else _written_before(files, name)
        if before is not None:
            return DeadSink(
                name,
                _whole(files, SINK_FILES[name]) + 1,
                f"cause not recorded: {METRICS} predates it (audit record {before}), as a "
                "full disk leaves it",
                inferred=True,
            )
        if said is not None:
            checks.add(METRICS, 1, f"{field} is missing, but {said} it failed")
        return None
    file = SINK_FILES[name]
    whole = _whole(files, file)
    if closed or whole != failed_at - 1:
        unit = "record" if name == "audit" else "line"
        checks.add(
            METRICS,
            files.metrics_line(field),
            f"{field} is {failed_at}, but {file} holds {whole} {unit}(s)"
            f"{' and is closed' if closed else ''}",
        )
        return None
    # Redacted again: a run written before sink errors were redacted may hold a secret.
    return DeadSink(name, failed_at, redact_text(str(metrics.get(f"{name}_sink_error", ""))))


def _whole(files: RunFiles, name: str) -> int:
    """How many whole lines (ending with a newline) the file ``name`` holds."""
    count = files.counts.get(name, 0)
    return count if files.ends_with_newline.get(name) or not count else count - 1


def _written_before(files: RunFiles, name: str) -> int | None:
    """The ``seq`` of the audit record saying sink ``name`` failed, if metrics.json predates it.

    None when no whole ``C2_SINK_WRITE_FAILED`` record names ``name`` (the last, with no
    ``C2_RESUME`` after it: a resume went on writing the file), or metrics.json's
    ``audit_events`` (how many records there were when it was written) is not a count short
    of that record's ``seq``: then metrics.json was written after it and its silence is a claim.
    """
    written = (files.metrics or {}).get("audit_events")
    if not isinstance(written, int) or isinstance(written, bool):
        return None
    failed: int | None = None
    for line in files.lines[AUDIT][: _whole(files, AUDIT)]:
        record = line.obj
        if record is None:
            continue
        if record["code"] == "C2_RESUME":
            failed = None
        elif record["code"] == "C2_SINK_WRITE_FAILED":
            sinks, seq = record["payload"].get("sinks"), record.get("seq")
            if isinstance(sinks, list) and name in sinks and isinstance(seq, int):
                failed = seq
    return failed if failed is not None and 0 <= written < failed else None


def _said_by_audit(audit: Iterable[Any]) -> set[str]:
    """The sinks a ``C2_SINK_WRITE_FAILED`` record of the audit log names."""
    said: set[str] = set()
    for line in audit:
        record = line.obj
        if record is not None and record["code"] == "C2_SINK_WRITE_FAILED":
            sinks = record["payload"].get("sinks")
            if isinstance(sinks, list):
                said.update(str(sink) for sink in sinks)
    return said
