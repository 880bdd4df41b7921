"""A run directory's alerts: the webhook its config or environment names, or none.

Only sessions built from run directories (``create_run``, ``resume_run``, the CLI) get the
webhook; a session embedded in an application posts to the ``AlertSink`` it is given, and
the ``evidence`` re-run passes ``alerts=False``, so a re-run never alerts.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._artifacts import names
from .._artifacts.webhook import WebhookAlertSink
from .._domain.runtime_config import Secret

if TYPE_CHECKING:
    from pathlib import Path

    from .._domain.config import DryrunConfig
    from .._typing import AlertSink

__all__ = ["choose_alerts", "open_alerts"]


def choose_alerts(cfg: DryrunConfig, alerts: AlertSink | bool) -> AlertSink | Secret | None:
    """Where the run's alerts go, decided (and a bad URL refused) before anything is written.

    ``True``: the webhook ``LIVESESSION_ALERT_WEBHOOK_URL`` names, else ``[alerts]
    webhook_url``, else none; ``False``: none; a sink: that sink.
    """
    if alerts is False:
        return None
    if alerts is True:
        return cfg.alerts.url(os.environ)
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
    )
