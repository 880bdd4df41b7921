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
    assert line.endswith("start it with another --run-id")
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
