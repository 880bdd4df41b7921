"""A week's burn-in handed to a committee as files: each report says the batch it was in.

``burnin day1 ... day5`` printed the batch's notes (runs of different configs, the failure
paths no session went through) on stdout only, and each ``burnin.md`` named its own run
alone: a committee deciding from the files could not tell which sessions the burn-in was,
nor that one of them ran other code (a fix mid-week) or another desk's strategy. The
config note said which keys differ (``strategy_id``, ``sources.strategy.sha256``) but not
which runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from livesession.cli import main

from crash_harness import cli as crash_cli

_LENIENT = ("--min-signals", "0", "--min-decisions", "0", "--min-oco", "0")


def _desk_run(tmp_path: Path, desk: str, *, tuned: bool = False) -> str:
    """The example desk's strategy run from ``desk``'s own copy (its source edited if tuned)."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    shutil.copytree(
        examples / "mydesk", tmp_path / desk / "mydesk",
        ignore=shutil.ignore_patterns("__pycache__"),
    )  # fmt: skip
    if tuned:
        source = tmp_path / desk / "mydesk" / "breakout.py"
        source.write_text(source.read_text() + "\n# fixed mid-week\n")
    toml = tmp_path / desk / "mydesk.toml"
    toml.write_text((examples / "mydesk.toml").read_text().replace('"mydesk"', f'"{desk}"'))
    argv = ("dryrun", "-c", toml, "--out", tmp_path / "runs", "--durability", "none", "-q")
    assert crash_cli(*argv).returncode == 0
    return str(tmp_path / "runs" / desk)


@pytest.fixture(name="week", scope="module")
def _week(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """day1 and day2 of one code, day3 after a fix, and another desk's demo run."""
    tmp = tmp_path_factory.mktemp("week")
    runs = [_desk_run(tmp, "day1"), _desk_run(tmp, "day2"), _desk_run(tmp, "day3", tuned=True)]
    argv = ("dryrun", "--out", tmp / "runs", "--run-id", "other", "--steps", "300")
    assert crash_cli(*argv, "--durability", "none", "-q").returncode == 0
    return [*runs, str(tmp / "runs" / "other")]


def test_the_notes_name_which_run_ran_which_strategy_and_code(
    week: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["burnin", *week, *_LENIENT, "--out", str(tmp_path / "b"), "--json"]) in (0, 1)
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert notes[0] == (
        "the runs are of 2 strategies: breakout (day1, day2, day3), sma_demo (other): a "
        "burn-in judges one strategy's sessions"
    )
    assert notes[1].startswith("the strategy's code differs between the runs: source SHA-256 ")
    assert notes[1].endswith(
        "... (day3), no source recorded (other) (each report names its run's code)"
    )
    assert "... (day1, day2), source SHA-256 " in notes[1]


def test_each_report_of_the_batch_says_the_batch(
    week: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b"
    code = main(["burnin", *week[:3], *_LENIENT, "--out", str(out)])
    said = capsys.readouterr().out
    note = next(line[len("note  ") :] for line in said.splitlines() if "code differs" in line)
    for run_id in ("day1", "day2", "day3"):
        doc = json.loads((out / f"{run_id}-burnin.json").read_text())
        batch = doc["batch"]
        assert [s["run_id"] for s in batch["sessions"]] == ["day1", "day2", "day3"]
        assert [s["run_dir"] for s in batch["sessions"]] == [
            str(Path(r).resolve()) for r in week[:3]
        ]
        assert batch["verdict"] == ("PASS" if code == 0 else "FAIL")
        assert note in batch["notes"]
        md = (out / f"{run_id}-burnin.md").read_text()
        assert "## The burn-in this session was judged in" in md
        assert code == 0  # no criterion failed, none measured flatten (no evidence run yet)
        assert (
            "3 sessions judged together by one `livesession burnin`; no criterion failed in "
            "any: **PASS** (3 of them with a criterion not measured, never passed: see its "
            "result)."
        ) in md
        assert f"Note: {note}." in md
        for s in batch["sessions"]:
            assert f"| `{s['run_id']}` | {s['verdict']} | `{s['audit_head']}` |" in md


def test_a_report_of_one_session_has_no_batch(
    week: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "one"
    main(["burnin", week[0], *_LENIENT, "--out", str(out)])
    capsys.readouterr()
    assert "batch" not in json.loads((out / "day1-burnin.json").read_text())
    assert "judged in" not in (out / "day1-burnin.md").read_text()


def test_the_note_names_the_day_that_ran_another_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`the runs are of 2 different configs: they differ in risk.daily_loss_pct` named no
    day, nor the limits; a paper week's data files (feed, start_time) are no setting."""
    runs = []
    for day, cap in (("day1", None), ("day2", "0.0001"), ("day3", None)):
        toml = tmp_path / f"{day}.toml"
        toml.write_text(f'[risk]\ndaily_loss_pct = "{cap}"\n' if cap else "", encoding="utf-8")
        argv = ["dryrun", "-c", str(toml), "--out", str(tmp_path / "runs"), "--run-id", day]
        assert main([*argv, "--steps", "60", "-q", "--durability", "none"]) == 0
        runs.append(str(tmp_path / "runs" / day))
    assert main(["burnin", *runs, *_LENIENT, "--json"]) in (0, 1)
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert notes[-1] == (
        'the runs\' settings differ: risk.daily_loss_pct is "0.01" (day1, day3), "0.0001" (day2)'
    )
