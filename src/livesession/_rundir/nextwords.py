"""What ``status`` advises next where a run's reason decides it, not its verdict alone.

``standing.next_advice`` looks a run's (verdict, reason) up here before it gives the
verdict's own advice (``status._NEXT``); the report's header and the evidence's run line
say the same words (``reason_next``), so a reviewer holding either reads status's next step.
"""

from __future__ import annotations

from typing import Final

from .._support.text import command

__all__ = ["OWN_SINKS_NEXT", "REASON_NEXT", "reason_next"]

_TRACEBACK: Final = "the session log its traceback (input_failed; the CLI's: session.log.jsonl)"
_FIX: Final = "fix it and start a new run (this one stays as evidence; `{verify}` checks it)"

REASON_NEXT: Final = {  # what ``status`` advises for a run its reason decided: (verdict, reason)
    # Preflight found another live session on the account and strategy.
    ("REJECTED", "LEASE_HELD"): "another live session held its lease (the lease line names it "
    "while it does): do not start a second one; start a new run once it ended (this one "
    "stays as evidence)",
    # ("NEEDS_OPERATOR", "LEASE_LOST"): lease_lost_next, by the run's lease backend.
    # The desk's own code or data: the run was wound down and sealed, nothing is in doubt.
    ("FAILED", "STRATEGY_ERROR"): "the strategy raised, or gave what the session cannot act "
    f"on: audit.jsonl's C2_STRATEGY_ERROR says what, {_TRACEBACK}; {_FIX}",
    ("FAILED", "FEED_ERROR"): "the feed raised, or gave a bar the session cannot use (a data "
    f"file's row names its line): audit.jsonl's C2_FEED_ERROR says what, {_TRACEBACK}; {_FIX}",
}
OWN_SINKS_NEXT: Final = (  # a sealed COMPLETED run without run.json: an application's sinks
    "verify before handing it over: `{verify}` (status reads only the ends of the files); "
    "it has no run.json (an application wrote it on its own sinks), so `livesession "
    "evidence`, which re-runs a run directory, cannot take it: hand over the verified files "
    "and their audit head (metrics.json's audit_head)"
)


class _Commands(dict[str, str]):
    """``{verify}`` and any other verb of a ``REASON_NEXT`` line: the command on ``run_dir``."""

    def __init__(self, run_dir: str) -> None:
        super().__init__()
        self.run_dir = run_dir

    def __missing__(self, verb: str) -> str:
        return command(verb, self.run_dir)


def reason_next(verdict: str, reason: object, run_dir: str) -> str:
    """``REASON_NEXT``'s words for a run of ``verdict`` and ``reason``, naming ``run_dir``.

    "" for a run whose reason decides nothing (status gives its verdict's own advice).
    ``status`` says these of a run its strategy's error sealed ``FAILED``; the report and
    the evidence said nothing after the fault, and now say them too.
    """
    said = REASON_NEXT.get((verdict, str(reason)))
    return "" if said is None else said.format_map(_Commands(run_dir))
