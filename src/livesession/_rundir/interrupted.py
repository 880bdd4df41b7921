"""What stopped a crashed run when its process refused to go on: its session log's last line.

A run whose idempotency store (or simulated venue's journal) refused a write mid-run is
torn (``StoreFailure``): nothing is sealed, and no run artifact records why (the byte
contract holds no such record). The process said it in one line on stderr, and its session
log (``session.log.jsonl``, outside the contract) ends with the torn session's
``session_interrupted`` record, which names the store and its error. ``status`` says it
from there, so that it can still be told afterwards which store refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._artifacts import names
from .._artifacts.runread import last_whole_line
from .._support.text import one_line

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["store_refused_says"]


def store_refused_says(run_dir: Path) -> str:
    """The store that refused a write and stopped the run, as its process logged it; "".

    Only the session log's last whole line counts: a process that wrote after it (a resume)
    has its own ending, and a log at ``--log-level error``, or none (a run an application
    made with its own log), says nothing. Not a regular file, unreadable: "" too.
    """
    try:
        last = last_whole_line(run_dir / names.SESSION_LOG)
    except OSError:  # the session log only: status reads the run without it
        return ""
    if not last or last.get("event") != "session_interrupted":
        return ""
    if last.get("interrupted_by") != "StoreFailure" or not isinstance(last.get("error"), str):
        return ""
    return f"{one_line(last['error'])} ({names.SESSION_LOG}'s last line, session_interrupted)"
