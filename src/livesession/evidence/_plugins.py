"""The manifest's ``plugins``: each plug-in's source record, with one line a reviewer reads.

A broker of the caller's (an object, a reference, a ``broker_factory``'s) is said as
preflight's ``user_broker`` check judged it: declared simulated or not, and for one that
declares nothing, livesession's own simulated venue (exactly a ``MockBroker``, say) in the
words the run's own check recorded, read from its events; read only, no run byte changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._artifacts.runread import iter_records, payload
from .._risk.checks import OWN_VENUE
from .._support.provenance import imported_said
from .._support.text import natural_key

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["plugins_shown"]

_UNDECLARED: Final = "no simulated declaration"


def plugins_shown(run_dir: Path, sources: dict[str, Any]) -> dict[str, Any]:
    """The plug-ins' source records, each with one line a reviewer reads (``summary``)."""
    shown: dict[str, Any] = {}
    for role in sorted(sources, key=natural_key):  # rails[2] before rails[10]
        record = sources[role]
        what = record.get("ref") or f"{record.get('object')} ({record.get('supplied')})"
        rule = f" (rule {record['rule']})" if isinstance(record.get("rule"), str) else ""
        line = f"{role} {what}{rule}, source SHA-256 {record.get('sha256') or 'unknown'}"
        if imported := imported_said(record):
            line += f"; with {imported}"
        if role == "broker":
            declared = record.get("declared_simulated")
            said = (
                "declared simulated"
                if declared is True
                else "declared NOT simulated"
                if declared is False
                else _own_venue(run_dir) or _UNDECLARED
            )
            line = f"user-supplied broker, {said}: {what}"
        shown[role] = record | {"summary": line}
    return shown


def _own_venue(run_dir: Path) -> str:
    """``livesession's own simulated venue (kind 'mock')``, as the run's check said it.

    From the first ``user_broker`` check in the run's events (preflight's, before its first
    bar); "" when it judged the broker otherwise, or the run never got that far.
    """
    for event in iter_records(run_dir / names.EVENTS):
        kind = event.get("event_type")
        fields = payload(event)
        if kind == "BAR":
            break
        if kind == "PREFLIGHT_CHECK" and fields.get("check") == "user_broker":
            detail = fields.get("detail")
            if fields.get("passed") is True and isinstance(detail, str) and OWN_VENUE in detail:
                return detail[detail.index(OWN_VENUE) :]
            break
    return ""
