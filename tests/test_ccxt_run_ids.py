"""A run id that traded a venue account before, from another ``--out``: refused at preflight.

A client order id comes from the run id and the strategy id alone, so a run of the same ids
(the next free ``<strategy_id>-NNN`` of a fresh folder, or of another host) sends the ids
the earlier run sent on the same account. The venue then takes its orders for that run's: a
lookup adopts the earlier run's order and its fills, a "duplicate" its open order. PostgreSQL
refuses such a run id across the hosts sharing it; a run on the local stores asks the venue
(``venue_run_id_unused``). Before, the second run traded, sending every id a second time.
"""

from __future__ import annotations

import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

from _ccxt_route import dryrun, events, route_to

pytestmark = pytest.mark.ccxt

STEPS = 60


def test_a_run_id_that_traded_the_account_from_another_folder_is_refused(
    fake, monkeypatch, tmp_path, capsys
):
    """The second run of an id (another --out, the same account) is REJECTED and sends nothing;
    the same run under another id trades."""
    route_to(fake, monkeypatch)
    assert dryrun(tmp_path / "monday", "desk-001", STEPS) == 0
    sent = dict(fake.created)
    assert sent, "the first run must have traded for the ids to matter"
    capsys.readouterr()

    code = dryrun(tmp_path / "tuesday", "desk-001", STEPS)
    err = capsys.readouterr().err

    assert code == 3, err
    assert dict(fake.created) == sent  # no client order id sent a second time
    (line,) = err.splitlines()
    assert line.startswith("livesession: rejected: RUN_ID_USED: the venue already has an order")
    assert "a run of id 'desk-001' and strategy 'sma_demo' traded this account before" in line
    assert line.endswith(
        f"start it with another --run-id; sealed REJECTED, nothing traded: {tmp_path / 'tuesday' / 'desk-001'}"
    )
    checks = {c["check"]: c for c in events(tmp_path / "tuesday" / "desk-001", "PREFLIGHT_CHECK")}
    refused = checks["venue_run_id_unused"]
    assert (refused["passed"], refused["reason"]) == (False, "RUN_ID_USED")
    assert refused["detail"] in line

    assert dryrun(tmp_path / "tuesday", "desk-002", STEPS) == 0
    assert max(fake.created.values()) == 1


def test_a_fresh_run_id_passes_the_check(fake, monkeypatch, tmp_path):
    """A run whose ids the venue has never seen passes ``venue_run_id_unused`` and trades."""
    route_to(fake, monkeypatch)
    assert dryrun(tmp_path, "fresh", STEPS) == 0
    checks = {c["check"]: c for c in events(tmp_path / "fresh", "PREFLIGHT_CHECK")}
    assert checks["venue_run_id_unused"] == {
        "check": "venue_run_id_unused",
        "passed": True,
        "reason": "",
    }
    assert fake.created


def test_the_look_is_tried_again_while_the_venue_is_busy(fake, monkeypatch, tmp_path, capsys):
    """A 429 and a 503 on the look by client order id are tried again, as the other
    preflight reads are: the run id is still found used (not refused as unanswered), and
    a venue that stays busy refuses the run naming why, nothing sent."""
    route_to(fake, monkeypatch)
    assert dryrun(tmp_path / "monday", "desk-001", STEPS) == 0
    sent = dict(fake.created)
    capsys.readouterr()

    fake.add_fault("http_429", method="GET")
    fake.add_fault("http_5xx", method="GET")
    assert dryrun(tmp_path / "tuesday", "desk-001", STEPS) == 3
    assert "rejected: RUN_ID_USED: " in capsys.readouterr().err
    assert fake.pending_faults() == 0

    fake.add_fault("http_5xx", method="GET", times=3)
    assert dryrun(tmp_path / "tuesday", "desk-002", STEPS) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("livesession: rejected: LOOKUP_UNAVAILABLE: the venue could not say")
    assert dict(fake.created) == sent
