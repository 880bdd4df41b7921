"""What a reviewer reads in a burn-in report beside the verdict.

A desk preparing a governance review of its own strategy (a package of its own, a dated CSV
of minute bars) found three things missing from the reports it would hand over:

- which run: ``livesession burnin .`` in the run directory wrote ``"run_dir": "."``, and
  ``burnin out/paper-day1`` wrote other bytes than ``burnin /abs/out/paper-day1`` of the
  same run. A report is read elsewhere: it names the run by its absolute path, as its
  advice already did;
- on what: the data file's SHA-256 and the strategy code's were in the evidence bundle
  only; a burn-in report named the strategy id alone;
- through what: a PASS said nothing of which failure paths the session went through (a
  rail firing, the kill switch, the strategy or the feed raising, the venue failing, a
  crash resumed, a stop signal), so a review could not tell a session that met them from
  one that met none. Each is now listed, exercised or not exercised in this session.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shlex
import shutil
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from _scripted import ScriptedFeed, daily_loss_kill
from livesession import (
    Bar,
    DryrunConfig,
    LiveSessionOrchestrator,
    OrderIntent,
    Side,
    StrategyView,
    create_run,
)
from livesession.cli import main
from test_burnin import _dryrun, _oco_run

from _helpers import pin_drill_clock
from crash_harness import KILLED, read_jsonl
from crash_harness import cli as crash_cli

_PATHS = (
    "rail",
    "kill_switch",
    "strategy_error",
    "feed_error",
    "broker_fault",
    "crash_resume",
    "stop_signal",
)
_LENIENT = ("--min-signals", "0", "--min-decisions", "0", "--min-oco", "0")


@pytest.fixture(name="made", scope="module")
def _made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _oco_run(tmp_path_factory.mktemp("review") / "runs")


@pytest.fixture(name="run")
def _run(made: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made, tmp_path / "runs" / made.name))


class TestTheRunDirectory:
    def test_a_report_names_the_run_by_its_absolute_path(
        self, run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.chdir(run)
        assert main(["burnin", "."]) == 0
        capsys.readouterr()
        report = json.loads((run / "burnin.json").read_text())
        assert report["run_dir"] == str(run.resolve())
        assert f"Run directory `{run.resolve()}`" in (run / "burnin.md").read_text()
        assert main(["burnin", ".", "--json"]) == 0  # the output keeps the path as typed
        assert json.loads(capsys.readouterr().out)["sessions"][0]["run_dir"] == "."

    def test_the_reports_are_the_same_bytes_however_the_run_is_named(
        self, run: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        written = []
        monkeypatch.chdir(run.parent.parent)
        for named in (
            str(run.resolve()),
            f"runs/{run.name}",
            f"runs/{run.name}/",
            "runs/../runs/" + run.name,
        ):
            assert main(["burnin", named]) == 0
            written.append([(run / f"burnin.{ext}").read_bytes() for ext in ("json", "md")])
        assert all(each == written[0] for each in written)


def _exercised(run: Path) -> dict[str, tuple[int, str]]:
    """Each failure path burnin.json lists that was exercised: its count and detail."""
    paths = json.loads((run / "burnin.json").read_text())["failure_paths"]
    assert [p["path"] for p in paths] == list(_PATHS)
    return {p["path"]: (p["count"], p["detail"]) for p in paths if p["exercised"]}


class TestWhatItRanOn:
    def test_the_data_file_and_the_strategy_code_by_their_sha256(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        examples = Path(__file__).resolve().parents[1] / "examples"
        shutil.copytree(
            examples / "mydesk", tmp_path / "mydesk", ignore=shutil.ignore_patterns("__pycache__")
        )
        shutil.copy(examples / "mydesk.toml", tmp_path / "mydesk.toml")
        rows = ["timestamp,open,high,low,close,volume"]
        for i in range(120):
            price = 3000 + (i % 17) * 1.5 - (i % 5)
            rows.append(
                f"2026-11-02T{14 + i // 60:02d}:{i % 60:02d}:00Z,"
                f"{price:.2f},{price + 2:.2f},{price - 2:.2f},{price + 0.5:.2f},12.5"
            )
        csv = tmp_path / "ETHUSDT-1m-2026-11-02.csv"
        csv.write_bytes(("\n".join(rows) + "\n").encode())
        # In a child: the strategy's package is imported there, not in the suite's process.
        argv = ("dryrun", "-c", tmp_path / "mydesk.toml", "--feed", f"csv:{csv}", "-q")
        argv += ("--symbol", "ETH/USDT", "--steps", "100", "--out", tmp_path / "runs")
        assert crash_cli(*argv, "--run-id", "desk").returncode == 0
        run = tmp_path / "runs" / "desk"
        main(["burnin", str(run), *_LENIENT])
        capsys.readouterr()
        report = json.loads((run / "burnin.json").read_text())
        data_sha = hashlib.sha256(csv.read_bytes()).hexdigest()
        code_sha = hashlib.sha256((tmp_path / "mydesk" / "breakout.py").read_bytes()).hexdigest()
        assert report["data"] == {
            "feed": f"csv:{csv}",
            "sha256": data_sha,
            "bytes": csv.stat().st_size,
        }
        ref = "mydesk.breakout:make_strategy"
        assert report["code"] == {"strategy": {"ref": ref, "sha256": code_sha}}
        md = (run / "burnin.md").read_text()
        assert (
            f"Data file `csv:{csv}`, SHA-256 `{data_sha}`, {csv.stat().st_size} bytes.\n"
            f"Code of the strategy: `{ref}`, source SHA-256 `{code_sha}`.\n"
        ) in md

    def test_objects_are_named_as_objects_not_as_the_configs_feed_or_a_none_ref(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Bug: a run built with a ``CsvReplayFeed`` and an ``SmaCrossover`` given as objects
        said ``Data file `random_walk`, SHA-256 ...`` (the config's feed, beside the hash of
        the file the object read) and ``Code of the feed: `None`, ...`` (an object has no
        reference), in ``burnin.md`` and the evidence's burn-in section alike."""
        from decimal import Decimal

        from livesession import CsvReplayFeed, SmaCrossover

        rows = ["timestamp,open,high,low,close,volume"]
        rows += [f"2026-11-02T14:{i:02d}:00Z,100.00,100.10,99.90,100.05,1" for i in range(60)]
        csv = tmp_path / "bars.csv"
        csv.write_bytes(("\n".join(rows) + "\n").encode())
        cfg = DryrunConfig(run_id="objects", steps=30)
        feed = CsvReplayFeed(csv, symbol=cfg.symbol, tick=Decimal("0.01"), lot=cfg.qty_lot)
        strategy = SmaCrossover(strategy_id=cfg.strategy_id, order_qty=Decimal("0.002"))
        with create_run(cfg, tmp_path, alerts=False, feed=feed, strategy=strategy) as session:
            session.run_to_end(30)
        run = tmp_path / "objects"
        main(["burnin", str(run), *_LENIENT])
        capsys.readouterr()
        report = json.loads((run / "burnin.json").read_text())
        config = json.loads((run / "config.json").read_text())
        given = {role: config["sources"][role] for role in ("feed", "strategy")}
        supplied = "(an object supplied in-process)"
        data_sha = hashlib.sha256(csv.read_bytes()).hexdigest()
        assert report["data"] == {
            "feed": f"{given['feed']['object']} {supplied}",
            "sha256": data_sha,
            "bytes": csv.stat().st_size,
        }
        assert report["code"] == {
            role: {"ref": None, "object": record["object"], "sha256": record["sha256"]}
            for role, record in given.items()
        }
        md = (run / "burnin.md").read_text()
        assert (
            f"Data file `{given['feed']['object']} {supplied}`, SHA-256 `{data_sha}`, "
            f"{csv.stat().st_size} bytes.\n"
            f"Code of the feed: `{given['feed']['object']}` {supplied}, source SHA-256 "
            f"`{given['feed']['sha256']}`.\n"
        ) in md

    def test_a_demo_run_says_it_read_no_file_and_ran_no_plug_in(self, run: Path) -> None:
        assert main(["burnin", str(run)]) == 0
        report = json.loads((run / "burnin.json").read_text())
        assert report["data"] == {"feed": "random_walk", "sha256": None, "bytes": None}
        assert report["code"] == {}
        md = (run / "burnin.md").read_text()
        assert "Feed `random_walk` (no data file).\nCode: livesession's own (no plug-in).\n" in md


class TestFailurePaths:
    def test_a_quiet_session_lists_each_as_not_exercised(
        self, run: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["burnin", str(run)]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[-1] == "      paths        not exercised: " + ", ".join(_PATHS)
        assert _exercised(run) == {}
        md = (run / "burnin.md").read_text()
        assert "\n## Failure paths\n" in md
        assert "| crash_resume | no | not exercised in this session |\n" in md
        assert main(["burnin", str(run), "--json"]) == 0
        (session,) = json.loads(capsys.readouterr().out)["sessions"]
        assert len(session["failure_paths"]) == len(_PATHS)

    def test_a_kill_and_a_sigterm_stop(self, tmp_path: Path, capsys) -> None:
        def sigterm(session: LiveSessionOrchestrator) -> None:
            session.run_n_steps(20)
            session.request_stop("SIGNAL_SIGTERM", sealed_as=True)

        _killed_at_step_30(tmp_path, 200, sigterm)
        main(["burnin", str(tmp_path / "killed"), *_LENIENT])
        assert capsys.readouterr().out.splitlines()[-1] == (
            "      paths        exercised: kill_switch 1, stop_signal 1; not exercised: rail, "
            "strategy_error, feed_error, broker_fault, crash_resume"
        )
        assert _exercised(tmp_path / "killed") == {
            "kill_switch": (1, "1 kill switch trip(s), by reason: desk 1"),
            "stop_signal": (1, "1 stop by SIGNAL_SIGTERM"),
        }

    def test_a_batch_says_which_no_session_went_through(
        self, run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A burn-in of several days: the reviewer asks what the whole of it left to other
        evidence, not each day's list."""
        _killed_at_step_30(tmp_path, 120, lambda session: session.run_to_end(120))
        batch = [str(run), str(tmp_path / "killed"), *_LENIENT]
        main(["burnin", *batch])
        left = "rail, strategy_error, feed_error, broker_fault, crash_resume, stop_signal"
        assert capsys.readouterr().out.splitlines()[-1] == (
            f"paths not exercised by any session: {left}"
        )
        main(["burnin", *batch, "--json"])
        assert json.loads(capsys.readouterr().out)["not_exercised"] == left.split(", ")
        main(["burnin", str(run)])  # one session: its own paths line says it
        assert capsys.readouterr().out.splitlines()[-1].startswith("      paths ")

    def test_a_kill_drill_is_named_where_the_session_never_tripped(
        self, run: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pin_drill_clock(monkeypatch)
        assert main(["burnin", str(run), "--drill"]) == 0
        paths = json.loads((run / "burnin.json").read_text())["failure_paths"]
        kill = next(p for p in paths if p["path"] == "kill_switch")
        assert kill["detail"] == (
            "not exercised in this session (the flatten criterion's kill drill tripped it "
            "on a re-run)"
        )

    def test_a_crash_resumed(self, tmp_path: Path) -> None:
        out = tmp_path / "runs"
        argv = ("dryrun", "--out", out, "--run-id", "cut", "--steps", "300", "-q")
        assert crash_cli(*argv, crash_at="checkpoint:2").returncode == KILLED
        assert main(["resume", str(out / "cut"), "-q"]) == 0
        main(["burnin", str(out / "cut"), *_LENIENT])
        assert _exercised(out / "cut") == {
            "crash_resume": (1, "1 resume(s) after a crash (C2_RESUME in the audit)")
        }

    def test_rails_and_a_failing_venue(self, tmp_path: Path) -> None:
        config = tmp_path / "risk.toml"
        config.write_text('[risk]\nper_trade_risk_pct = "0.00005"\n')  # every entry refused
        run = _dryrun(tmp_path, "rails", "--config", str(config), "--seed", "23", steps=300)
        main(["burnin", str(run), *_LENIENT])
        count, detail = _exercised(run)["rail"]
        assert count > 0
        assert detail == f"{count} order(s) refused by a safety rail: PER_TRADE_RISK {count}"
        venue = _dryrun(tmp_path, "venue", "--broker", "realish", "--seed", "3", steps=400)
        main(["burnin", str(venue), *_LENIENT])
        count, detail = _exercised(venue)["broker_fault"]
        assert count > 0
        assert detail.startswith(f"{count} venue event(s) of a fault: ")

    def test_a_protected_position_the_strategy_closed_is_no_venue_fault(
        self, tmp_path: Path
    ) -> None:
        """Bug: a paper session on the mock venue, no fault armed, whose strategy closed its
        protected positions itself (a market exit, its legs still resting) listed
        ``broker_fault`` as exercised (``RECONCILED 12``) in burnin.json, burnin.md and the
        evidence document: the reconciler cancelling those legs (``ORPHAN_OCO_SIBLING``,
        ``why`` ``position_gone``) is the book's own upkeep, not the venue failing, so a
        reviewer was told of a failure path the session never went through."""
        cfg = DryrunConfig(run_id="exits", steps=60, durability="none")
        with create_run(cfg, tmp_path, strategy=_ExitsItself(cfg.strategy_id)) as session:
            assert session.run_to_end(60).status.value == "COMPLETED"
        run = tmp_path / "exits"
        upkeep = [
            e["payload"]
            for e in read_jsonl(run / "events.jsonl")
            if e["event_type"] == "RECONCILED"
        ]
        assert upkeep
        assert {(p["kind"], p["why"]) for p in upkeep} == {("ORPHAN_OCO_SIBLING", "position_gone")}
        main(["burnin", str(run), *_LENIENT])
        assert "broker_fault" not in _exercised(run)

    def test_a_daily_loss_kill_is_no_order_refused(self, tmp_path: Path) -> None:
        """Bug: the daily-loss cap that pulled the kill switch on bar 3, with no order refused
        in the run (no ``RISK_REJECTED``), was said as ``1 order(s) refused by a safety rail:
        DAILY_LOSS 1`` in burnin.json, burnin.md and the evidence document. The rail path
        counts it (RUNBOOK: an order refused, or the daily-loss cap pulling the kill
        switch), and says which it was now."""
        run = daily_loss_kill(tmp_path, "capped")
        main(["burnin", str(run), *_LENIENT])
        said = "1 safety rail firing(s): the daily-loss cap pulled the kill switch 1 time(s)"
        assert _exercised(run)["rail"] == (1, f"{said} (DAILY_LOSS 1)")

    def test_a_strategy_that_raised(self, tmp_path: Path) -> None:
        (tmp_path / "bomb.py").write_text(
            "class Bomb:\n"
            "    def __init__(self, strategy_id):\n"
            "        self.strategy_id, self.n = strategy_id, 0\n"
            "    def on_bar(self, bar, view):\n"
            "        self.n += 1\n"
            "        if self.n == 20:\n"
            "            raise RuntimeError('boom')\n"
            "        return ()\n"
            "    def get_state(self):\n"
            "        return {'n': self.n}\n"
            "    def set_state(self, state):\n"
            "        self.n = state['n']\n"
            "def make(*, strategy_id='bomb'):\n"
            "    return Bomb(strategy_id)\n"
        )
        (tmp_path / "bomb.toml").write_text('strategy_factory = "bomb:make"\n')
        argv = ("dryrun", "--out", tmp_path / "runs", "--run-id", "bomb", "--steps", "50")
        assert crash_cli(*argv, "-q", "-c", tmp_path / "bomb.toml").returncode == 4
        main(["burnin", str(tmp_path / "runs" / "bomb"), *_LENIENT])
        assert _exercised(tmp_path / "runs" / "bomb") == {
            "strategy_error": (
                1,
                "1 STRATEGY_ERROR(s): the strategy raised, or gave what the session cannot act on",
            )
        }

    @pytest.mark.broken_run("its strategy returns None on bar 5: the run is sealed FAILED")
    def test_a_strategy_that_returned_what_the_session_cannot_act_on(self, tmp_path: Path) -> None:
        """Bug: a strategy whose ``on_bar`` returned None (a forgotten ``return``), raising
        nothing, was said in burnin.json, burnin.md and the evidence document to have
        raised (``1 STRATEGY_ERROR(s): the strategy raised``): a reviewer was told of an
        exception the strategy's code never threw. The record cannot tell the two apart
        (``STRATEGY_ERROR`` names an error type either way), so the path says both."""
        cfg = DryrunConfig(run_id="forgot", steps=20, durability="none")
        with create_run(cfg, tmp_path, strategy=_ForgetsItsReturn(cfg.strategy_id)) as session:
            assert session.run_to_end(20).status.value == "FAILED"
        run = tmp_path / "forgot"
        main(["burnin", str(run), *_LENIENT])
        said = "1 STRATEGY_ERROR(s): the strategy raised, or gave what the session cannot act on"
        assert _exercised(run) == {"strategy_error": (1, said)}

    @pytest.mark.broken_run("its feed gives a close off the price grid on bar 5: sealed FAILED")
    def test_a_feed_that_gave_a_bar_the_session_cannot_use(self, tmp_path: Path) -> None:
        """Bug: a feed that gave a bar off the price grid, raising nothing, was said to have
        raised (``1 FEED_ERROR(s): the feed raised``), as the strategy's error was."""
        cfg = DryrunConfig(run_id="offgrid", steps=20, durability="none")
        feed = ScriptedFeed(["40000.00"] * 4 + ["40000.005"])
        with create_run(cfg, tmp_path, feed=feed) as session:
            assert session.run_to_end(20).status.value == "FAILED"
        run = tmp_path / "offgrid"
        main(["burnin", str(run), *_LENIENT])
        said = "1 FEED_ERROR(s): the feed raised, or gave a bar the session cannot use"
        assert _exercised(run) == {"feed_error": (1, said)}


class _ForgetsItsReturn:
    """Returns ``[]`` but on bar 5, where it returns None, as a forgotten ``return`` does."""

    def __init__(self, strategy_id: str) -> None:
        self.strategy_id, self.n = strategy_id, 0

    def on_bar(self, bar: Bar, view: StrategyView) -> list[OrderIntent] | None:
        self.n += 1
        return None if self.n == 5 else []

    def get_state(self) -> dict[str, Any]:
        return {"n": self.n}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.n = state["n"]


class _ExitsItself:
    """Buys 0.010 with a take profit and a stop every 10 bars, and sells it 3 bars later
    itself (a market order), the legs still resting."""

    def __init__(self, strategy_id: str) -> None:
        self.strategy_id, self.n = strategy_id, 0

    def on_bar(self, bar: Bar, view: StrategyView) -> list[OrderIntent]:
        self.n += 1
        held = view.position(bar.symbol)
        if self.n % 10 == 1 and held == 0:
            pct = Decimal("0.05")
            buy = OrderIntent(
                symbol=bar.symbol,
                side=Side.BUY,
                quantity=Decimal("0.010"),
                take_profit_pct=pct,
                stop_loss_pct=pct,
            )
            return [buy]
        if self.n % 10 == 4 and held > 0:
            return [OrderIntent(symbol=bar.symbol, side=Side.SELL, quantity=held, reduce_only=True)]
        return []

    def get_state(self) -> dict[str, int]:
        return {"n": self.n}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.n = state["n"]


def _day_of_bars(path: Path, day: str, seed: int) -> None:
    """A day of ETH/USDT minute bars as an exchange exports them: a seeded walk on the tick."""
    walk = random.Random(seed)
    rows, price = ["timestamp,open,high,low,close,volume"], 312145
    for minute in range(1440):
        close = max(1000, price + walk.randint(-300, 300))
        high, low = max(price, close) + walk.randint(0, 90), min(price, close) - walk.randint(0, 90)
        stamp = f"{day}T{minute // 60:02d}:{minute % 60:02d}:00Z"
        cells = (price / 100, high / 100, low / 100, close / 100)
        rows.append(stamp + "".join(f",{c:.2f}" for c in cells) + f",{walk.randint(5, 400)}.5")
        price = close
    path.write_text("\n".join(rows) + "\n")


def test_the_runbook_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """RUNBOOK's burn-in walkthrough, its config and each command as written: each exits 0,
    and each report names the day's data file by its SHA-256."""
    text = (Path(__file__).resolve().parents[1] / "RUNBOOK.md").read_text(encoding="utf-8")
    block = text.split("<!-- BEGIN BURNIN WALKTHROUGH -->")[1].split("<!-- END BURNIN")[0]
    (toml,) = re.findall(r"```toml\n(.*?)```", block, re.DOTALL)
    (bash,) = re.findall(r"```bash\n(.*?)```", block, re.DOTALL)
    days = {"day1": "2026-11-02", "day2": "2026-11-03"}
    for seed, (name, day) in enumerate(days.items()):
        config = toml.replace("day1", name).replace(days["day1"], day)
        (tmp_path / f"paper-{name}.toml").write_text(config)
        _day_of_bars(tmp_path / f"ETHUSDT-1m-{day}.csv", day, seed)
    commands = [shlex.split(line, comments=True) for line in bash.splitlines()]
    for words in filter(None, commands):
        assert words[0] == "livesession", words
        done = crash_cli(*words[1:], cwd=tmp_path)
        assert done.returncode == 0, (words, done.stdout, done.stderr)
    for name, day in days.items():
        report = json.loads(
            (tmp_path / "out" / "runs" / f"paper-{name}" / "burnin.json").read_text()
        )
        data = (tmp_path / f"ETHUSDT-1m-{day}.csv").read_bytes()
        assert report["data"]["sha256"] == hashlib.sha256(data).hexdigest()
        assert report["verdict"] == "PASS", report


def _killed_at_step_30(
    tmp_path: Path, steps: int, then: Callable[[LiveSessionOrchestrator], object]
) -> None:
    """Run ``killed`` of ``steps``: the desk's kill at step 30, then ``then`` to its end."""
    cfg = DryrunConfig(run_id="killed", steps=steps, durability="none")
    with create_run(cfg, tmp_path) as session:
        session.preflight()
        session.activate()
        session.run_n_steps(30)
        assert session.kill("desk")
        then(session)
