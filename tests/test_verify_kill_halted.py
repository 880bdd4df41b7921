"""``verify`` holds a sealing checkpoint's ``kill_halted`` to the audit records that set trading.

``status`` says a sealed run's halt was the kill switch's by the checkpoint's ``kill_halted``
(``HALTED at the end by the kill switch``), which the audit chain does not cover. Edited out
of the checkpoint of a run the kill switch halted, ``status`` dropped ``by the kill switch``
and the run verified clean; edited into one never killed, the same. ``verify`` now names it
(``checkpoint.json: the sealing checkpoint is damaged: its kill_halted missing, but
audit.jsonl:2's C2_KILL_SWITCH halted trading, ...``), as it names the checkpoint's other
keys the seal's records do not bear out.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from livesession._artifacts import names
from livesession.cli import main
from livesession.verify import verify_run
from livesession.verify._kept import check_kill_halted
from livesession.verify._result import Violations

if TYPE_CHECKING:
    from pathlib import Path

_DAMAGED = "checkpoint.json: the sealing checkpoint is damaged: its kill_halted "


@pytest.fixture(name="runs", scope="module")
def _runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``killed``: the daily-loss cap pulled the kill switch, to the end; ``plain``: none."""
    out = tmp_path_factory.mktemp("runs")
    config = out / "killed.toml"
    config.write_text('run_id = "killed"\nsteps = 120\n[risk]\ndaily_loss_pct = "0.0000001"\n')
    assert main(["dryrun", "-c", str(config), "--out", str(out), "-q"]) == 0
    assert main(["dryrun", "--run-id", "plain", "--steps", "60", "--out", str(out), "-q"]) == 0
    assert orjson.loads((out / "killed" / names.CHECKPOINT).read_bytes())["kill_halted"] is True
    return out


def _edited(runs: Path, tmp_path: Path, name: str, kill_halted: bool | None) -> Path:
    run = tmp_path / name
    shutil.copytree(runs / name, run)
    checkpoint = orjson.loads((run / names.CHECKPOINT).read_bytes())
    checkpoint.pop("kill_halted", None)
    if kill_halted is not None:
        checkpoint["kill_halted"] = kill_halted
    (run / names.CHECKPOINT).write_bytes(orjson.dumps(checkpoint, option=orjson.OPT_INDENT_2))
    return run


def test_the_runs_as_written_verify(runs: Path) -> None:
    for name in ("killed", "plain"):
        assert verify_run(runs / name).ok, verify_run(runs / name).violations


@pytest.mark.broken_run("the sealing checkpoint's kill_halted is edited on purpose")
@pytest.mark.parametrize(
    ("name", "kill_halted", "said"),
    [
        ("killed", None, "missing, but audit.jsonl:2's C2_KILL_SWITCH halted trading"),
        ("killed", False, "false, but audit.jsonl:2's C2_KILL_SWITCH halted trading"),
        ("plain", True, "true, but audit.jsonl holds no C2_KILL_SWITCH"),
    ],
    ids=["removed", "false", "added"],
)
def test_an_edited_kill_halted_is_named(
    runs: Path, tmp_path: Path, name: str, kill_halted: bool | None, said: str
) -> None:
    run = _edited(runs, tmp_path, name, kill_halted)
    found = verify_run(run)
    assert not found.ok
    assert (
        [v for v in found.violations if v.startswith(_DAMAGED)]
        == [v for v in found.violations if v.startswith(_DAMAGED + said)]
        != []
    ), found.violations


def _audit(*codes: str) -> list[dict[str, Any]]:
    return [{"code": code, "seq": seq} for seq, code in enumerate(codes, start=1)]


@pytest.mark.parametrize(
    ("audit", "kill_halted", "told"),
    [
        (_audit("C2_KILL_SWITCH", "C2_OPERATOR_REENABLE"), True, "true, but audit.jsonl:2's"),
        (_audit("C2_KILL_SWITCH", "C2_OPERATOR_REENABLE"), None, ""),
        (_audit("C2_KILL_SWITCH", "C2_TRADING_STATE", "C2_KILL_SWITCH"), True, ""),
        (_audit("C2_TRADING_STATE", "C2_KILL_SWITCH", "C2_TRADING_STATE"), True, "true, but"),
    ],
)
def test_only_the_newest_record_that_set_trading_counts(
    tmp_path: Path, audit: list[dict[str, Any]], kill_halted: bool | None, told: str
) -> None:
    checkpoint: dict[str, Any] = {"sealed": True, "version": "0.2.0", "reason": ""}
    if kill_halted is not None:
        checkpoint["kill_halted"] = kill_halted
    (tmp_path / names.CHECKPOINT).write_bytes(orjson.dumps(checkpoint))
    report = Violations()
    check_kill_halted(report, tmp_path, audit)
    found = report.lines
    assert (found != []) == bool(told), found
    assert all(told in said for said in found), found
    checkpoint["reason"] = "LEASE_LOST"  # a lost lease halts so without a kill: not held to it
    (tmp_path / names.CHECKPOINT).write_bytes(orjson.dumps(checkpoint))
    check_kill_halted(quiet := Violations(), tmp_path, audit)
    assert quiet.lines == []
