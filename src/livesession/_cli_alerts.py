"""What ``dryrun`` and ``resume`` say of the alerts their process posted to a webhook.

The counts of ``alerts.jsonl``'s ``closed`` line (``alert_counts``: ``--json``'s
``alerts``), the stderr line when the webhook did not take every alert
(``say_undelivered``), and the one when a resume posts no alerts of a run that did, or lost
its log (``say_unalerted``). The run's exit code is never theirs.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import orjson

from ._artifacts import names
from ._artifacts.runread import read_json_object
from ._rundir.alertlog import ALERT_COUNTS, delivered_words, lost_of
from ._support.secrets import ALERT_ENV

if TYPE_CHECKING:
    from pathlib import Path

    from ._domain.config import DryrunConfig

__all__ = ["alert_counts", "alerts_line", "say_unalerted", "say_undelivered"]


def say_unalerted(run_dir: Path, cfg: DryrunConfig) -> None:
    """One stderr line when a resume posts no alerts, or lost the log, of a webhook run.

    The run directory never keeps the URL, so a resume takes it only from ``ALERT_ENV``: a
    run whose config named it resumed (by hand, or by a restart recipe) without the
    variable, and paged nobody about its kill switch or its seal, and said nothing. A run
    that posted to a webhook says so in ``run.json`` (``alerts``) and ``alerts.jsonl``: one
    whose ``alerts.jsonl`` was removed said nothing either, with the variable or without.
    """
    logged = (run_dir / names.ALERTS).exists()
    marked = read_json_object(run_dir / names.RUN_META).get("alerts") == "webhook"
    lost = f"; its {names.ALERTS} is missing" if marked and not logged else ""
    if cfg.alerts.url(os.environ) is None and (logged or marked):
        print(  # noqa: T201 - the CLI's output
            f"livesession: resume: this resume posts no alerts: {run_dir} posted to a webhook "
            f"before ({names.ALERTS if logged else names.RUN_META + lost}), but a resume takes "
            f"its URL only from {ALERT_ENV}, which is not set (the run directory never keeps it)",
            file=sys.stderr,
        )
    elif lost:
        print(  # noqa: T201 - the CLI's output
            f"livesession: resume: {run_dir} posted to a webhook ({names.RUN_META}), but its "
            f"{names.ALERTS} (made with the run) is missing: the record of its deliveries before "
            f"the crash was removed; this resume logs its own to a new {names.ALERTS}",
            file=sys.stderr,
        )


def alert_counts(run_dir: Path, cfg: DryrunConfig) -> dict[str, int] | None:
    """This process's alert counts, from ``alerts.jsonl``'s ``closed`` line; None for none.

    A process with no webhook posted nothing: the file's last counts are another's.
    """
    if cfg.alerts.url(os.environ) is None:
        return None
    try:
        last = (run_dir / names.ALERTS).read_bytes().rstrip(b"\n").rpartition(b"\n")[2]
        counts = orjson.loads(last)
    except (OSError, orjson.JSONDecodeError):
        return None  # no webhook (no file), or nothing to go by
    if not isinstance(counts, dict) or counts.get("outcome") != "closed":
        return None
    return {key: n if isinstance(n := counts.get(key), int) else 0 for key in ALERT_COUNTS}


def say_undelivered(run_dir: Path, counts: dict[str, int] | None) -> None:
    """One stderr line when the webhook did not take every alert of this process.

    Alerts never change the run (nor its exit code), but an operator who set a webhook
    expects to be paged: ``alerts.jsonl``'s ``closed`` line has the counts (``counts``, from
    ``alert_counts``), and the reasons.
    """
    lost = lost_of(counts or {})
    if any(lost.values()):
        said = ", ".join(f"{k} {n}" for k, n in lost.items())
        print(  # noqa: T201 - the CLI's output
            f"livesession: {sum(lost.values())} alert(s) not delivered ({said}): the "
            f"webhook's errors are in {run_dir / names.ALERTS}",
            file=sys.stderr,
        )


def alerts_line(counts: dict[str, int] | None) -> list[str]:
    """The summary's ``alerts`` line of a process that posted to a webhook; none without one.

    ``alerts      3 delivered``; when the webhook did not take them all, how many it took
    and what became of the rest: ``alerts      1 of 3 delivered (failed 2, dropped 0,
    abandoned 0)`` (``say_undelivered``'s stderr line says where the errors are). The
    summary said nothing of alerts before, and stderr only of those not delivered: an
    operator who set a webhook was not told that it took every one. ``counts`` as
    ``alert_counts`` gives them (None: no webhook, or no ``closed`` line to go by).
    """
    if counts is None:
        return []
    return [f"alerts      {delivered_words(counts)}"]
