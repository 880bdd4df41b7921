"""A run directory's alerts: the webhook its config or environment names, or none.

Only sessions built from run directories (``create_run``, ``resume_run``, the CLI) get the
webhook; a session embedded in an application posts to the ``AlertSink`` it is given, and
the ``evidence`` re-run passes ``alerts=False``, so a re-run never alerts.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from .._artifacts import names
from .._artifacts.webhook import WebhookAlertSink, refuse_closed_webhook
from .._domain.runtime_config import Secret
from .._exceptions import PluginError
from .._support.filemode import user_name
from .._support.references import not_a
from .._support.secrets import redact_text
from .._support.text import valid_text
from .._typing import AlertSink
from .holder import program_name

if TYPE_CHECKING:
    from pathlib import Path

    from .._domain.config import DryrunConfig

__all__ = ["choose_alerts", "open_alerts", "posted", "run_place"]


def choose_alerts(cfg: DryrunConfig, alerts: AlertSink | bool) -> AlertSink | Secret | None:
    """Where the run's alerts go, decided (and a bad URL refused) before anything is written.

    ``True``: the webhook ``LIVESESSION_ALERT_WEBHOOK_URL`` names, else ``[alerts]
    webhook_url``, else none; ``False``: none; a sink: that sink. Anything else is refused
    (``PluginError``), and so is a ``WebhookAlertSink`` already closed.
    """
    if alerts is False:
        return None
    if alerts is True:
        return cfg.alerts.url(os.environ)
    if not isinstance(alerts, AlertSink):  # "yes" would post nothing, and say nothing
        raise PluginError(
            f"alerts= got {not_a(alerts, AlertSink)} (pass True: the configured webhook, "
            "False: none, or an AlertSink)"
        )
    refuse_closed_webhook(alerts)
    return alerts


def open_alerts(
    cfg: DryrunConfig, run_dir: Path, choice: AlertSink | Secret | None
) -> AlertSink | None:
    """The session's alert sink as chosen: a webhook logs its deliveries to alerts.jsonl."""
    if choice is None or not isinstance(choice, Secret):
        return choice
    return WebhookAlertSink(
        choice,
        log_path=run_dir / names.ALERTS,
        timeout_s=cfg.alerts.timeout_ms / 1000,
        retries=cfg.alerts.retries,
        queue_size=cfg.alerts.queue_size,
        place=run_place(run_dir),
    )


def run_place(run_dir: Path) -> dict[str, str]:
    """Where ``run_dir`` is, for its alerts: its path, this host, this user, this program.

    The program is the one writing it: ``livesession`` for the CLI, as ``writer.lock``
    names it.

    The user is whom ``stop``, ``kill`` and ``ack`` of the run must run as (or root); they
    signal only the CLI: an application's run (``uvicorn``) has its own controls.
    """
    where = valid_text(redact_text(os.path.abspath(run_dir)))  # noqa: PTH100 - not resolved
    program = program_name()
    return {
        "run_dir": where,
        "host": socket.gethostname(),
        "user": user_name(os.geteuid()),
        "program": valid_text(redact_text(program)),
    }


def posted(run_dir: Path, meta: dict[str, Any]) -> bool:
    """The run posted to a webhook: ``run.json`` (``meta``) says so, or ``alerts.jsonl`` is."""
    return meta.get("alerts") == "webhook" or (run_dir / names.ALERTS).exists()
