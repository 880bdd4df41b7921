"""The names of every file a run directory holds, and the formats they declare.

One owner for these names: the recorder, the run directory, the tools (``verify``,
``report``, ``prom``, ``evidence``) and the CLI all take them from here. The four contract
artifacts are specified in the artifact contract (docs/artifacts.md); the others are
operational files beside them.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALERTS",
    "ARTIFACTS",
    "AUDIT",
    "BURNIN",
    "CHECKPOINT",
    "CHECKPOINT_FORMAT",
    "CONFIG",
    "CONTRACT",
    "EVENTS",
    "IDEMPOTENCY_JSONL",
    "IDEMPOTENCY_SQLITE",
    "JOURNAL",
    "MANIFEST",
    "MARKET_JOURNAL",
    "METRICS",
    "METRICS_LOG",
    "PROM",
    "REPORT",
    "RESUME_APPENDS",
    "RESUME_OPENS",
    "RESUME_REPLACES",
    "RESUME_WRITES",
    "RUN_FORMAT",
    "RUN_FORMATS_READ",
    "RUN_META",
    "SESSION_LOG",
    "SNAPSHOTS",
    "TIMINGS",
    "WRITER_LOCK",
    "is_evidence_document",
]

# -- the four contract artifacts (docs/artifacts.md) -----------------------------------------
EVENTS: Final = "events.jsonl"
SNAPSHOTS: Final = "state_snapshots.jsonl"
AUDIT: Final = "audit.jsonl"
METRICS: Final = "metrics.json"
CONTRACT: Final = (EVENTS, SNAPSHOTS, METRICS, AUDIT)
ARTIFACTS: Final = {"events": EVENTS, "states": SNAPSHOTS, "audit": AUDIT}
"""The append-only line artifacts, by the recorder's sink name."""

# -- what a run directory keeps to resume ------------------------------------------------------
CONFIG: Final = "config.json"
CHECKPOINT: Final = "checkpoint.json"
CHECKPOINT_FORMAT: Final = "livesession-checkpoint/1"
JOURNAL: Final = "broker_journal.jsonl"
RUN_META: Final = "run.json"
RUN_FORMAT: Final = "livesession-run/2"
"""What ``run.json`` says a run of this release is: /2 from 0.2 (links, writer lock, config
keys 0.1.x does not know), so that 0.1.x refuses such a run as another version's."""
RUN_FORMATS_READ: Final = ("livesession-run/1", RUN_FORMAT)
"""The formats this release reads (verify, status, report, list); ``resume`` continues a
run of this release only, by ``run.json``'s ``version``."""
IDEMPOTENCY_JSONL: Final = "idempotency.jsonl"
IDEMPOTENCY_SQLITE: Final = "idempotency.sqlite"
MARKET_JOURNAL: Final = "market_data.jsonl"
"""The venue's candles a ``feed = "venue"`` run received, each before a step used it."""

# -- operational files (wall-clock measurements and logs, outside the audit chain) ----------
TIMINGS: Final = "timings.json"
METRICS_LOG: Final = "metrics.ndjson"
SESSION_LOG: Final = "session.log.jsonl"
ALERTS: Final = "alerts.jsonl"
"""Alert deliveries: each webhook attempt and outcome (written only when a webhook is set)."""
VENUE_PAUSE: Final = "venue_pause.json"
"""A ``ccxt:`` run's venue's last pause (``Retry-After``), on the wall clock: a resume waits."""
WRITER_LOCK: Final = "writer.lock"
"""Held (an OS lock) by the one process writing the run; it names that process."""
RESUME_WRITES: Final = (
    WRITER_LOCK,
    EVENTS,
    AUDIT,
    SNAPSHOTS,
    JOURNAL,
    MARKET_JOURNAL,
    IDEMPOTENCY_JSONL,
    IDEMPOTENCY_SQLITE,
    f"{IDEMPOTENCY_SQLITE}-wal",
    f"{IDEMPOTENCY_SQLITE}-shm",
)
"""The files a resume opens to write in place: rewritten (``writer.lock``), cut back to the
checkpoint (the artifacts and journals: ``O_RDWR``, even with nothing to cut), or a database."""
RESUME_APPENDS: Final = (SESSION_LOG, METRICS_LOG, ALERTS)
"""The files a resume only appends to (``O_APPEND``): an append-only one (``chattr +a``) takes
its lines."""
RESUME_REPLACES: Final = (CHECKPOINT, METRICS)
"""The files a resume replaces (a new one renamed over each): the rename is refused over an
immutable or append-only one, whatever its mode."""
RESUME_OPENS: Final = (RESUME_WRITES, RESUME_APPENDS, RESUME_REPLACES)
"""``unwritable_run``'s ``writes``, ``appends`` and ``replaces``: what a resume does to each."""

# -- what the tools write by default ------------------------------------------------------------
REPORT: Final = "report.html"
PROM: Final = "livesession.prom"
BURNIN: Final = "burnin"
"""The stem of the burn-in report: ``burnin.md`` and ``burnin.json`` (``livesession burnin``)."""
MANIFEST: Final = "manifest.json"
"""The evidence bundle's manifest (``livesession evidence``; ``verify --manifest`` reads it)."""


def is_evidence_document(name: str) -> bool:
    """Whether ``name`` is the evidence bundle's document, ``EV-<date>-<run_id>.md``."""
    return name.startswith("EV-") and name.endswith(".md")
