"""What ``status`` advises next where a run's reason decides it, not its verdict alone.

``statusnext.next_advice`` looks a run's (verdict, reason) up here before it gives the
verdict's own advice (``status._NEXT``); the report's header and the evidence's run line
say the same words (``reason_next``), so a reviewer holding either reads status's next step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._artifacts import names
from .._artifacts.runread import newest_event, read_json_object
from .._session.conflicts import settle_said
from .._support.text import command
from .leaselost import lease_backend

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "OWN_SINKS_NEXT",
    "REASON_NEXT",
    "bundle_next",
    "fault_next",
    "reason_advice",
    "reason_next",
]

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
_LEASE_HELD_POSTGRES: Final = (  # ("REJECTED", "LEASE_HELD") of a PostgreSQL lease
    "another live session held its lease in PostgreSQL (the dryrun's refusal named it; "
    "status reads only the run's files, and its lease line says it was never granted): do "
    "not start a second one; start a new run once it ended (this one stays as evidence)"
)
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


def reason_advice(verdict: str, reason: str, run_dir: Path) -> str | None:
    """``REASON_NEXT``'s line for ``status``, unformatted; None for a reason that decides none.

    A run refused a lease PostgreSQL holds has no holder in its files (status reads only
    them; its lease line says ``never granted``): its line says where the holder was named.
    A run whose fault said what to do says it (``fault_next``), whatever its reason.
    """
    if (verdict, reason) == ("REJECTED", "LEASE_HELD") and lease_backend(run_dir) == "postgres":
        return _LEASE_HELD_POSTGRES
    if verdict == "NEEDS_OPERATOR" and (settle := fault_next(run_dir)):
        return settle
    return REASON_NEXT.get((verdict, reason))


def fault_next(run_dir: Path) -> str:
    """What a run whose fault's words say what to do leaves to do: "" for any other run.

    A resumed run on a venue that lost what it held at the crash (``RECONCILE_MISMATCH``,
    ``IDEMPOTENCY_CONFLICT``) cannot be finished: its fault's message says to settle the
    venue by hand (``conflicts.settle_said``). Read from the newest ``STATE_CHANGED`` of
    ``events.jsonl`` (its end: the fault, right before the seal); "" when it cannot be read.
    """
    try:
        fault, _ = newest_event(run_dir / names.ARTIFACTS["events"], ("STATE_CHANGED",))
    except OSError:
        return ""
    detail = (fault or {}).get("payload", {}).get("detail")
    settle = settle_said(detail) if isinstance(detail, dict) else ""
    if not settle:
        return ""
    return (
        "a person must look (RUNBOOK: When a session is in ERROR_REQUIRES_OPERATOR): as the "
        f"run's fault says (audit.jsonl's C2_OPERATOR_REQUIRED), {settle}"
    )


def reason_next(verdict: str, reason: object, run_dir: str) -> str:
    """``REASON_NEXT``'s words for a run of ``verdict`` and ``reason``, naming ``run_dir``.

    "" for a run whose reason decides nothing (status gives its verdict's own advice).
    ``status`` says these of a run its strategy's error sealed ``FAILED``; the report and
    the evidence said nothing after the fault, and now say them too.
    """
    said = REASON_NEXT.get((verdict, str(reason)))
    return "" if said is None else said.format_map(_Commands(run_dir))


def bundle_next(run_dir: Path, run_id: str | None) -> str | None:
    """What ``status`` advises of a COMPLETED run whose evidence bundle lies beside it.

    None when there is none of these records (no ``manifest.json``, one of another run or
    audit head, or its ``EV-*.md`` gone): the verdict's own advice (verify, then evidence)
    stands. Read only: the manifest and ``metrics.json``, both small; ``verify --manifest``
    is what holds the run to the bundle, file by file.
    """
    try:
        manifest = read_json_object(run_dir / names.MANIFEST)
        head = read_json_object(run_dir / names.METRICS).get("audit_head")
    except OSError:
        return None
    created, verdict = manifest.get("created_utc"), manifest.get("evidence")
    ours = run_id is not None and manifest.get("run_id") == run_id
    if not (ours and head and manifest.get("audit_head") == head and isinstance(created, str)):
        return None
    document = f"EV-{created[:10].replace('-', '')}-{run_id}.md"
    if not (run_dir / document).is_file():
        return None
    if verdict == "VERIFIED":
        word = command("verify", str(run_dir)).removeprefix("livesession verify ")
        held = f"livesession verify --manifest {word} {word}"  # the bundle's folder: the run's
        return (
            f"hand over its evidence bundle ({document} and {names.MANIFEST}: VERIFIED, "
            f"written {created[:19]}Z); `{held}` holds the run to it first (status reads "
            "only the ends of the files)"
        )
    return (
        f"its evidence bundle says {verdict} ({document} says why): put that right, then "
        f"`{command('evidence', str(run_dir))}` writes it again"
    )
