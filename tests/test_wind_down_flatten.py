"""Every tool says when the session, not the strategy, closed the position at the end.

Before, a run whose strategy still held a position at its last bar was said to end flat by
the ``dryrun`` summary (``position    flat, no open orders``), its ``--json`` and
``DryrunResult``, and the report's key metrics (``final positions flat``): the wind-down's
own flatten order had sold it, and a reviewer read that the strategy ended flat (the
default demo run is one: its last buy is still held at step 1000). The evidence said it
(``tests/test_evidence_flatten.py``); now the summary, ``--json`` (``flattened``), the API
result and the report say it in the same words. A kill's flatten is the kill's to tell.
"""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING

from _scripted import ScriptedStrategy, at, held_to_the_end
from livesession import DryrunConfig, create_run
from livesession.cli import main
from livesession.report import render_report

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

_SOLD = "SELL 0.010 BTC/USDT"


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_result_and_the_report_say_the_wind_downs_flatten(tmp_path: Path) -> None:
    result = held_to_the_end(tmp_path, "held")
    assert result.positions == {"BTC/USDT": 0}
    assert result.flattened == (_SOLD,)
    page = _text(render_report(tmp_path / "held"))
    assert (
        f"flattened by the session {_SOLD} after step 8 (2026-01-01T00:08:00Z): "
        "what the strategy held as the run wound down"
    ) in page


def test_a_kills_flatten_is_the_kills_to_tell(tmp_path: Path) -> None:
    result = held_to_the_end(tmp_path, "killed", kill_after=5)
    assert result.kills == 1
    assert result.flattened == ()
    assert "flattened by the session" not in _text(render_report(tmp_path / "killed"))


def test_a_strategy_that_ended_flat_has_no_flatten_said(tmp_path: Path) -> None:
    cfg = DryrunConfig(run_id="flat", strategy_id="scripted", steps=4, durability="none")
    with create_run(cfg, tmp_path, strategy=ScriptedStrategy(at({})), feed=None) as s:
        s.run_to_end(4)
    assert s.result().flattened == ()
    assert "flattened by the session" not in _text(render_report(tmp_path / "flat"))


def test_the_dryrun_summary_and_json_say_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "d", "--steps", "300"]) == 0
    said = capsys.readouterr().out
    assert (
        f"position    flat, no open orders (the session flattened {_SOLD} as it wound down)\n"
    ) in said
    assert main(["dryrun", "--out", str(out), "--run-id", "j", "--steps", "300", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["flattened"] == [_SOLD]
    assert found["positions"] == {"BTC/USDT": "0.000"}
