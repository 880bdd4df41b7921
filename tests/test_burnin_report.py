"""What a burn-in report says of the run it judged, beyond each criterion's number.

A prober found that ``burnin`` said PASS of a run whose ``run.json`` was edited, where
``evidence`` says FAIL of the same run.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import orjson
import pytest

from _pages import operator_section
from livesession import ConfigError, DryrunConfig, __version__, create_run
from livesession.burnin import Thresholds
from livesession.cli import main
from test_burnin import _criteria, _dryrun, _oco_run

from _helpers import KILLED_THEN_LIFTED, steered_run
from crash_harness import KILLED
from crash_harness import cli as crash_cli


@pytest.fixture(name="made", scope="module")
def _made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run that meets every criterion but flatten, which no drill has measured."""
    return _oco_run(tmp_path_factory.mktemp("report") / "runs")


@pytest.fixture(name="run")
def _run(made: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made, tmp_path / made.name))


@pytest.mark.broken_run("run.json's version edited after the run: verify fails it too")
def test_a_run_json_changed_after_the_run_is_not_verified(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """run.json is outside the audit chain: a version edited there fails ``verified`` as it
    fails the evidence bundle, in the same words."""
    meta = orjson.loads((run / "run.json").read_bytes())
    (run / "run.json").write_bytes(orjson.dumps(meta | {"version": "9.9.9"}))
    assert main(["burnin", str(run)]) == 1
    said = capsys.readouterr()
    assert said.out.startswith("FAIL  oco")
    assert said.err.splitlines() == [
        f"livesession: burn-in failed: oco: verified (run directory {run})"
    ]
    criterion = _criteria(json.loads((run / "burnin.json").read_text()))["verified"]
    assert criterion == {
        "name": "verified",
        "threshold": "0 violations",
        "value": 1,
        "result": "FAIL",
        "detail": (
            "run.json says livesession 9.9.9, but the run's audited record (SESSION_STARTED, "
            f"C2_DRYRUN_START) says livesession {__version__} wrote it: run.json was changed "
            "after the run; keep the run as it is and report it"
        ),
    }


class TestFlattenNotMeasured:
    """A skipped criterion never counts as passed: the verdict says so wherever it is read.

    The summary line and burnin.md said PASS of a run whose flatten no drill measured. The
    exit code stays 0 (no criterion failed, RUNBOOK), but the word is
    ``PASS (flatten not measured)``.
    """

    def test_the_line_the_report_and_the_json_say_it(
        self, run: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["burnin", str(run)]) == 0
        first = capsys.readouterr().out.splitlines()[0]
        assert first == f"PASS (flatten not measured) oco  {run / 'burnin.md'}"
        md = (run / "burnin.md").read_text(encoding="utf-8")
        assert "Result: **PASS (flatten not measured)**\n" in md
        report = json.loads((run / "burnin.json").read_text())
        assert (report["ok"], report["verdict"]) == (True, "PASS (flatten not measured)")
        assert report["not_measured"] == ["flatten"]
        assert main(["burnin", str(run), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert (doc["ok"], doc["exit_code"], doc["failed"]) == (True, 0, [])
        assert doc["not_measured"] == ["oco: flatten"]
        assert doc["sessions"][0]["verdict"] == "PASS (flatten not measured)"

    def test_a_measured_run_says_pass(self, run: Path, capsys: pytest.CaptureFixture) -> None:
        head = hashlib.sha256((run / "audit.jsonl").read_bytes().splitlines()[-1]).hexdigest()
        drill = {"status": "measured", "wall_s": 0.01, "source": "test"}
        manifest = {"run_id": "oco", "audit_head": head, "kill_drill": drill}
        (run / "manifest.json").write_bytes(orjson.dumps(manifest))
        assert main(["burnin", str(run), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert (doc["sessions"][0]["verdict"], doc["not_measured"]) == ("PASS", [])
        assert "Result: **PASS**\n" in (run / "burnin.md").read_text(encoding="utf-8")

    def test_a_failure_says_both(self, run: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["burnin", str(run), "--min-signals", "100000"]) == 1
        assert capsys.readouterr().out.startswith("FAIL  oco  ")
        md = (run / "burnin.md").read_text(encoding="utf-8")
        assert "Result: **FAIL** (failed: signals; flatten not measured)\n" in md


class TestWhatWasAccepted:
    """burnin.json and .md did not say what they accepted: a batch of mixed configs (another
    strategy, other risk limits) read like one of a single config."""

    def test_each_report_names_the_config_version_strategy_and_audit_head(
        self, run: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        started = json.loads((run / "events.jsonl").read_text().splitlines()[0])
        head = hashlib.sha256((run / "audit.jsonl").read_bytes().splitlines()[-1]).hexdigest()
        assert main(["burnin", str(run)]) == 0
        assert "note" not in capsys.readouterr().out
        report = json.loads((run / "burnin.json").read_text())
        assert {k: report[k] for k in ("strategy_id", "config_hash", "run_version")} == {
            "strategy_id": "sma_demo",
            "config_hash": started["payload"]["config_sha256"],
            "run_version": __version__,
        }
        assert report["audit_head"] == head
        md = (run / "burnin.md").read_text(encoding="utf-8")
        assert (
            f"Strategy `sma_demo`, config hash `{started['payload']['config_sha256']}`, "
            f"livesession {__version__}, audit head `{head}`.\n"
        ) in md

    def test_runs_of_different_configs_are_said_to_be(
        self, run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Other strategy parameters and another seed: one line names what differs."""
        config = tmp_path / "other.toml"
        config.write_text('[strategy]\nfast = 4\nslow = 8\nprotect_pct = "0.002"\n')
        other = _dryrun(tmp_path / "runs", "other", "--config", str(config), "--seed", "5")
        assert main(["burnin", str(run), str(other)]) == 0
        notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note")]
        said = (
            "the runs are of 2 different configs: they differ in seed, strategy.fast "
            "(config.json; each report has the run's config hash)"
        )
        values = "the runs' settings differ: seed is 123 (oco), 5 (other); strategy.fast is 3 (oco), 4 (other)"
        assert notes == [f"note  {said}", f"note  {values}"]
        assert main(["burnin", str(run), str(other), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["notes"] == [said, values]

    def test_runs_of_one_config_differ_in_their_run_id_alone(
        self, made: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The run id is each session's name (the config hash covers it): no note."""
        config = tmp_path / "oco.toml"
        config.write_text((made.parent / "oco.toml").read_text())
        other = _dryrun(tmp_path / "runs", "oco-2", "--config", str(config))
        assert main(["burnin", str(made), str(other), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["notes"] == []
        hashes = {s["config_hash"] for s in doc["sessions"]}
        assert len(hashes) == 2


def test_one_config_run_from_two_directories_is_one_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: the same config and strategy package, run from two desks' directories, were
    noted `the runs are of 2 different configs: they differ in sources.strategy.file`:
    the plug-ins' source records (left out of the config hashes) were compared path by
    path. Their code is compared by its SHA-256 now, so only other code is a difference."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    runs = []
    for desk in ("desk-a", "desk-b"):
        shutil.copytree(
            examples / "mydesk", tmp_path / desk / "mydesk",
            ignore=shutil.ignore_patterns("__pycache__"),
        )  # fmt: skip
        toml = tmp_path / desk / "mydesk.toml"
        toml.write_text((examples / "mydesk.toml").read_text().replace('"mydesk"', f'"{desk}"'))
        argv = ("dryrun", "-c", toml, "--out", tmp_path / "runs", "--durability", "none", "-q")
        assert crash_cli(*argv).returncode == 0
        runs.append(str(tmp_path / "runs" / desk))
    lenient = ["--min-signals", "0", "--min-decisions", "0", "--min-oco", "0", "--json"]
    assert main(["burnin", *runs, *lenient]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["notes"] == []

    source = tmp_path / "desk-b" / "mydesk" / "breakout.py"
    source.write_text(source.read_text() + "\n# tuned\n")
    argv = ("dryrun", "-c", tmp_path / "desk-b" / "mydesk.toml", "--run-id", "desk-c")
    assert (
        crash_cli(*argv, "--out", tmp_path / "runs", "--durability", "none", "-q").returncode == 0
    )
    assert main(["burnin", runs[0], str(tmp_path / "runs" / "desk-c"), *lenient]) in (0, 1)
    said = (
        "the runs are of 2 different configs: they differ in sources.strategy.sha256 "
        "(config.json; each report has the run's config hash)"
    )
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert notes[1:] == [said]  # and, first, which run ran which code (test_burnin_week.py)
    assert notes[0].startswith("the strategy's code differs between the runs: source SHA-256 ")


class TestThresholds:
    """``--min-oco 99999999999999999999999`` ended in a traceback (orjson: Integer exceeds
    64-bit range, exit 1) after the work; ``--max-flatten-s inf`` was taken and burnin.json
    recorded null. Both are refused at once: exit 2, one line, nothing written."""

    @pytest.mark.parametrize(
        ("flag", "value", "said"),
        [
            (
                "--min-oco",
                "99999999999999999999999",
                (
                    "burn-in threshold min_oco (--min-oco) must be a whole number from 0 to "
                    "9223372036854775807 (the largest 64-bit integer), got "
                    "99999999999999999999999"
                ),
            ),
            (
                "--min-signals",
                "9223372036854775808",
                (
                    "burn-in threshold min_signals (--min-signals) must be a whole number from "
                    "0 to 9223372036854775807 (the largest 64-bit integer), got "
                    "9223372036854775808"
                ),
            ),
            (
                "--max-flatten-s",
                "inf",
                "argument --max-flatten-s: must be a finite number of seconds >= 0, got 'inf'",
            ),
            (
                "--max-flatten-s",
                "1e999",
                "argument --max-flatten-s: must be a finite number of seconds >= 0, got '1e999'",
            ),
            (  # float() read it as 10: a number is written as a data file's (numbertext)
                "--max-flatten-s",
                "1_0",
                "argument --max-flatten-s: must be a finite number of seconds >= 0, got '1_0'",
            ),
            (
                "--max-flatten-s",
                " 2 ",
                "argument --max-flatten-s: must be a finite number of seconds >= 0, got ' 2 '",
            ),
        ],
        ids=["huge-oco", "past-64-bit", "inf", "overflow", "digit-group", "spaces"],
    )
    def test_a_threshold_no_report_can_hold_is_refused(
        self, run: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, said: str
    ) -> None:
        before = sorted(p.name for p in run.iterdir())
        assert main(["burnin", str(run), flag, value]) == 2
        assert capsys.readouterr() == ("", f"livesession: error: {said}\n")
        assert main(["burnin", str(run), flag, value, "--json"]) == 2
        assert json.loads(capsys.readouterr().out) == {
            "ok": False,
            "exit_code": 2,
            "error": said,
        }
        assert sorted(p.name for p in run.iterdir()) == before

    def test_the_largest_count_is_taken(self, run: Path, capsys: pytest.CaptureFixture) -> None:
        assert main(["burnin", str(run), "--min-oco", "9223372036854775807"]) == 1
        report = json.loads((run / "burnin.json").read_text())
        assert report["thresholds"]["min_oco"] == 9223372036854775807

    @pytest.mark.parametrize(
        "wrong",
        [
            {"max_flatten_s": math.inf},
            {"max_flatten_s": math.nan},
            {"min_oco": -1},
            {"min_oco": 2**64},
        ],
    )
    def test_the_library_refuses_them_too(self, wrong: dict[str, float]) -> None:
        with pytest.raises(ConfigError, match="burn-in threshold"):
            Thresholds(**wrong)


class TestHowTheSessionEnded:
    """A COMPLETED run halted by the kill switch for most of its steps, or stopped early by
    SIGTERM, passed silently; RUNBOOK says "A COMPLETED run can have stopped trading at step
    27 of 2,000: read those lines". The report now has those lines (no criterion fails)."""

    def test_a_run_halted_to_its_end_says_from_which_step(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        cfg = DryrunConfig(run_id="halted", steps=200, durability="none")
        run = steered_run(cfg, tmp_path, [(30, lambda s: s.kill("desk"))])
        said = (
            "trading HALTED from step 30 to the end of the run (170 of its 200 steps without "
            "a new order): an operator's kill (KILL_SWITCH reason desk)"
        )
        lenient = ["--min-signals", "1", "--min-decisions", "1", "--min-oco", "0"]
        assert main(["burnin", str(run), *lenient]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[:2] == [
            f"PASS (flatten not measured) halted  {run / 'burnin.md'}",
            f"      note         {said}",
        ]
        assert json.loads((run / "burnin.json").read_text())["notes"] == [said]
        assert f"\nNote: {said}.\n" in (run / "burnin.md").read_text(encoding="utf-8")

    def test_a_halt_lifted_says_until_when(self, tmp_path: Path) -> None:
        cfg = DryrunConfig(run_id="lifted", steps=120, durability="none")
        steered_run(cfg, tmp_path, KILLED_THEN_LIFTED)
        assert main(["burnin", str(tmp_path / "lifted")]) in (0, 1)
        notes = json.loads((tmp_path / "lifted" / "burnin.json").read_text())["notes"]
        said = (
            "trading HALTED from step 30 until alice re-enabled it after step 50: an "
            "operator's kill (KILL_SWITCH reason desk)"
        )
        assert notes == [said]

    def test_a_run_stopped_early_says_at_which_step(self, tmp_path: Path) -> None:
        """As the CLI stops on SIGTERM: the seal records the signal."""
        cfg = DryrunConfig(run_id="cut", steps=500, durability="none")
        with create_run(cfg, tmp_path) as session:
            session.preflight()
            session.activate()
            session.run_n_steps(120)
            session.request_stop("SIGNAL_SIGTERM", sealed_as=True)
        assert main(["burnin", str(tmp_path / "cut")]) in (0, 1)
        notes = json.loads((tmp_path / "cut" / "burnin.json").read_text())["notes"]
        assert notes == ["the session stopped at step 120 of 500 planned (SIGNAL_SIGTERM)"]

    def test_a_crashed_run_is_not_said_to_have_stopped(self, tmp_path: Path) -> None:
        """Bug: a run killed at step 200 of 500 (no SESSION_STOPPED, not sealed) got the
        note `the session stopped at step 200 of 500 planned`, which a stop earns: it
        never stopped. The note now says that its process ended there, unsealed."""
        out = tmp_path / "runs"
        argv = ("dryrun", "--out", out, "--run-id", "cut", "--steps", "500", "-q")
        assert crash_cli(*argv, crash_at="checkpoint:2").returncode == KILLED
        bars = (out / "cut" / "events.jsonl").read_bytes().count(b'"event_type":"BAR"')
        assert 0 < bars < 500
        assert main(["burnin", str(out / "cut")]) == 1
        notes = json.loads((out / "cut" / "burnin.json").read_text())["notes"]
        said = (
            f"the session recorded {bars} of 500 planned steps and never stopped: its "
            "process ended there, unsealed (a crash)"
        )
        assert notes == [said]
        assert main(["resume", str(out / "cut"), "-q"]) == 0  # sealed now, as verify wants

    def test_a_run_that_ran_its_course_has_no_note(self, run: Path) -> None:
        assert main(["burnin", str(run)]) == 0
        assert json.loads((run / "burnin.json").read_text())["notes"] == []
        assert "Note:" not in (run / "burnin.md").read_text(encoding="utf-8")


class TestTheRunbookTable:
    """RUNBOOK's criteria table said complete_chain needs trades to "trace back", not that
    at least one must: a run with no trade fails it."""

    @staticmethod
    def _rows() -> dict[str, str]:
        section = operator_section("Burn-in acceptance before going live")
        cells = [line.split(" | ") for line in section.splitlines() if line.startswith("| ")]
        return {row[0].removeprefix("| "): row[1] for row in cells[2:]}

    def test_it_names_every_criterion_burnin_judges(self, run: Path) -> None:
        assert main(["burnin", str(run)]) == 0
        judged = _criteria(json.loads((run / "burnin.json").read_text()))
        assert set(self._rows()) == set(judged)

    def test_complete_chain_needs_one_traced_trade(self, tmp_path: Path) -> None:
        config = tmp_path / "risk.toml"
        config.write_text('[risk]\nper_trade_risk_pct = "0.00005"\n')  # every entry refused
        run = _dryrun(tmp_path, "flat", "--config", str(config), "--seed", "23", steps=300)
        assert main(["burnin", str(run)]) == 1
        chain = _criteria(json.loads((run / "burnin.json").read_text()))["complete_chain"]
        assert (chain["result"], chain["value"]) == ("FAIL", 0)
        assert chain["threshold"] == ">= 1 and none broken"
        assert "at least one trade" in self._rows()["complete_chain"]
