"""What a run held and did is said the same by the dryrun summary and ``status``.

- A run preflight rejected never traded: both said ``trading  ACTIVE``.
- A flat position is ``flat`` in ``status`` as in the summary, not ``BTC/USDT 0.000``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livesession.cli import main


def _lines(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    said = capsys.readouterr()
    return said.out, said.err


def _rejected(tmp_path: Path, *extra: str) -> int:
    config = tmp_path / "rej.toml"
    config.write_text('run_id = "rej"\nsteps = 20\nallowlist = ["ETH/USDT"]\n', encoding="utf-8")
    return main(["dryrun", "--config", str(config), "--out", str(tmp_path), *extra])


def test_a_rejected_run_says_it_never_traded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _rejected(tmp_path) == 3
    out, _ = _lines(capsys)
    assert "trading     never traded (rejected at preflight)\n" in out
    assert "ACTIVE" not in out
    assert main(["status", str(tmp_path / "rej")]) == 3
    out, _ = _lines(capsys)
    assert "trading     never traded (rejected at preflight)\n" in out
    assert main(["status", str(tmp_path / "rej"), "--json"]) == 3
    status = json.loads(_lines(capsys)[0])
    assert status["never_traded"] is True
    assert status["trading"] == "ACTIVE"  # the key keeps its meaning: the checkpoint's


def test_a_rejected_runs_json_says_it_never_traded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _rejected(tmp_path, "--json") == 3
    result = json.loads(_lines(capsys)[0])
    assert result["status"] == "REJECTED"
    assert result["never_traded"] is True


def test_a_run_that_traded_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "t", "--steps", "300", "--json"]) == 0
    result = json.loads(_lines(capsys)[0])
    assert result["orders"] > 0
    assert result["never_traded"] is False
    assert main(["status", str(out / "t"), "--json"]) == 0
    assert json.loads(_lines(capsys)[0])["never_traded"] is False


def test_a_flat_position_is_flat_in_status_as_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "t", "--steps", "300"]) == 0
    summary, _ = _lines(capsys)
    # Flat at the seal: the demo strategy's last buy was sold by the session's wind-down.
    assert (
        "position    flat, no open orders (the session flattened SELL 0.010 BTC/USDT as it "
        "wound down)\n"
    ) in summary
    assert main(["status", str(out / "t"), "--json"]) == 0
    status = json.loads(_lines(capsys)[0])
    assert status["positions"] == {"BTC/USDT": "0.000"}  # --json keeps the number
    assert main(["status", str(out / "t")]) == 0
    text, _ = _lines(capsys)
    assert "position    flat\n" in text
    assert "0.000" not in text
