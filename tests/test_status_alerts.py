"""``status`` says what the webhook did not deliver, over every process of the run.

Before, only ``alerts.jsonl`` and the closing line of the process that posted knew: a
person who came to the run later with ``livesession status`` was not told that its kill
switch or its seal paged nobody.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from livesession._artifacts import names
from livesession._domain.alerts import ALERT_ENV
from livesession.cli import main
from livesession.report import render_report
from livesession.status import run_status

from _helpers import closed_port

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

TOKEN = "T0KEN9secret9path9XYZ123"


def _run_to_a_dead_webhook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(ALERT_ENV, raising=False)
    config = tmp_path / "run.toml"
    with closed_port() as port:
        config.write_text(
            f'run_id = "dead"\nsteps = 30\n\n[alerts]\nwebhook_url = '
            f'"http://127.0.0.1:{port}/hooks/{TOKEN}"\nretries = 0\n',
            encoding="utf-8",
        )
        assert main(["dryrun", "--config", str(config), "--out", str(tmp_path / "runs"), "-q"]) == 0
    return tmp_path / "runs" / "dead"


def test_status_says_the_alerts_the_webhook_did_not_take(tmp_path, monkeypatch, capsys):
    run_dir = _run_to_a_dead_webhook(tmp_path, monkeypatch)
    capsys.readouterr()
    found = run_status(run_dir)
    counts = {"posted": 1, "delivered": 0, "failed": 1, "dropped": 0, "abandoned": 0}
    assert found.to_json()["alerts"] == counts
    said = [line for line in found.lines() if line.startswith("alerts ")]
    line = (
        "alerts      0 of 1 delivered (failed 1, dropped 0, abandoned 0): the webhook's "
        f"errors are in {run_dir / names.ALERTS}"
    )
    assert said == [line]
    assert TOKEN not in "\n".join(found.lines())


def test_status_counts_the_deliveries_of_a_process_killed_before_its_closed_line(
    tmp_path, monkeypatch
):
    """A first process delivered the kill switch's alert, then was killed (SIGKILL: no
    ``closed`` line); its resume could not deliver the seal's. ``alerts.jsonl`` holds both
    processes' lines, and status counts both."""
    run_dir = _run_to_a_dead_webhook(tmp_path, monkeypatch)
    log = run_dir / names.ALERTS
    crashed = {"audit_seq": 2, "code": "KILL_SWITCH", "http_status": 200, "outcome": "delivered"}
    log.write_bytes(orjson.dumps(crashed) + b"\n" + log.read_bytes())
    assert run_status(run_dir).alerts == {
        "posted": 2,
        "delivered": 1,
        "failed": 1,
        "dropped": 0,
        "abandoned": 0,
    }


def test_status_counts_the_dropped_alerts_past_those_listed(tmp_path, monkeypatch):
    """A full queue's dropped alerts: the ``closed`` line counts them all."""
    run_dir = _run_to_a_dead_webhook(tmp_path, monkeypatch)
    log = run_dir / names.ALERTS
    lines = log.read_bytes().splitlines()
    closed = orjson.loads(lines[-1])
    closed.update(dropped=1500, posted=closed["posted"] + 1500)
    listed = [orjson.dumps({"code": "TRADING_HALTED", "outcome": "dropped"})] * 1000
    log.write_bytes(b"\n".join([*lines[:-1], *listed, orjson.dumps(closed)]) + b"\n")
    counts = run_status(run_dir).alerts
    assert counts is not None
    assert (counts["posted"], counts["dropped"], counts["failed"]) == (1501, 1500, 1)


def test_status_of_a_run_without_a_webhook_says_nothing_of_alerts(tmp_path, monkeypatch):
    monkeypatch.delenv(ALERT_ENV, raising=False)
    out = tmp_path / "runs"
    assert main(["dryrun", "--steps", "5", "--run-id", "quiet", "--out", str(out), "-q"]) == 0
    found = run_status(out / "quiet")
    assert found.alerts is None
    assert not [line for line in found.lines() if line.startswith("alerts ")]


def test_the_report_says_the_alerts_the_webhook_did_not_take(tmp_path, monkeypatch):
    """Before, report.html said nothing of alerts: a reviewer could not see a page missed."""
    run_dir = _run_to_a_dead_webhook(tmp_path, monkeypatch)
    page = render_report(run_dir)
    assert (
        "<td>alerts (webhook)</td><td>0 of 1 delivered (failed 1, dropped 0, abandoned 0): "
        "the webhook&#x27;s errors are in alerts.jsonl</td>"
    ) in page
    assert TOKEN not in page


def test_an_alerts_log_that_is_a_fifo_is_not_read(tmp_path: Path) -> None:
    """A FIFO where ``alerts.jsonl`` belongs is not opened: reading it would wait for a
    writer for good (``status`` and ``report`` refuse such a run before, and say why)."""
    import os
    import threading

    from livesession._rundir.alertlog import alert_tally

    os.mkfifo(tmp_path / names.ALERTS)
    found: list[object] = []
    reader = threading.Thread(target=lambda: found.append(alert_tally(tmp_path)), daemon=True)
    reader.start()
    reader.join(timeout=30)  # a safety net: it returns at once
    assert not reader.is_alive(), "alert_tally waited on the FIFO"
    assert found == [None]
