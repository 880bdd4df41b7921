"""The read-only tools parse a run's ``checkpoint.json`` once each, not once per question.

A strategy may keep a heavy state (docs/plugins.md, "A heavy state"): with a checkpoint of
80 MB, ``verify`` took 5 to 18 s and ``status`` 2.4 to 6 s, each with some 340 MiB, since
``verify`` and ``report`` parsed the file five times each and ``status`` twice. Each now
parses it once per call (``verify``'s own reader, ``KeptCheckpoint``, for its checks; the
parsed object handed on elsewhere; ``evidence`` once for the status and once in ``verify``), and what each says is unchanged. No speed is asserted:
the parses of the file's bytes are counted. Each call reads the file afresh: nothing is
kept from one call to the next, so a checkpoint changed in between is judged as it is now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import DryrunConfig
from livesession._rundir import create_run
from livesession.evidence import write_evidence
from livesession.report import write_report
from livesession.status import Verdict, run_status
from livesession.verify import verify_run

from _helpers import crash_in_step

STEPS, EVERY, CRASH_AFTER = 30, 10, 17


class Weighty:
    """Trades nothing; its state is a window of floats (a heavy state, in small)."""

    strategy_id = "weighty"

    def __init__(self) -> None:
        self.window = [i / 7 for i in range(2000)]

    def on_bar(self, bar: Any, view: Any) -> list[Any]:
        self.window = [*self.window[1:], float(bar.close)]
        return []

    def get_state(self) -> dict[str, Any]:
        return {"window": self.window}

    def set_state(self, state: dict[str, Any]) -> None:
        self.window = list(state["window"])


def _config() -> DryrunConfig:
    return DryrunConfig(
        run_id="weighty", strategy_id="weighty", steps=STEPS, checkpoint_every=EVERY, seed=7
    )


@pytest.fixture
def sealed(tmp_path: Path) -> Path:
    with create_run(_config(), tmp_path, strategy=Weighty()) as session:
        session.run_to_end(STEPS)
    return tmp_path / "weighty"


@pytest.fixture
def crashed(tmp_path: Path) -> Path:
    crash_in_step(create_run(_config(), tmp_path, strategy=Weighty()), CRASH_AFTER, STEPS)
    return tmp_path / "weighty"


class Parses:
    """Counts the ``orjson.loads`` calls given the bytes of one run's ``checkpoint.json``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, run_dir: Path) -> None:
        self.raw = (run_dir / "checkpoint.json").read_bytes()
        self.count = 0
        loads = orjson.loads

        def counted(data: Any) -> Any:
            given = data.encode() if isinstance(data, str) else bytes(data)
            self.count += given == self.raw
            return loads(data)

        monkeypatch.setattr(orjson, "loads", counted)


def test_verify_parses_the_checkpoint_once(sealed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parses = Parses(monkeypatch, sealed)
    result = verify_run(sealed)
    assert result.ok, result.violations
    assert parses.count == 1


def test_report_parses_the_checkpoint_once(
    sealed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses = Parses(monkeypatch, sealed)
    write_report(sealed, tmp_path / "report.html")
    assert parses.count == 1
    assert "final open orders" in (tmp_path / "report.html").read_text()


def test_status_of_a_sealed_run_parses_the_checkpoint_once(
    sealed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses = Parses(monkeypatch, sealed)
    found = run_status(sealed)
    said = found.to_json()  # its next step too, which holds config.json to the checkpoint's
    assert found.verdict is Verdict.COMPLETED
    assert said["next"].startswith("verify before handing it over")
    assert parses.count == 1


def test_evidence_parses_the_checkpoint_once_for_status_and_once_for_verify(
    sealed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``verify`` keeps its own reader; the burn-in criteria take the status read first."""
    parses = Parses(monkeypatch, sealed)
    write_evidence(sealed, out_dir=tmp_path / "evidence")
    assert parses.count == 2


@pytest.mark.broken_run("a crash, left for a resume")
def test_status_of_a_crashed_run_parses_the_checkpoint_once(
    crashed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses = Parses(monkeypatch, crashed)
    found = run_status(crashed)
    assert found.verdict is Verdict.CRASHED, found.resume_problem
    assert found.steps == 10  # the checkpoint's, where the resume continues from
    assert parses.count == 1


@pytest.mark.broken_run("config.json edited after the run, run.json's hash removed")
def test_a_config_changed_after_the_run_is_still_said_from_the_checkpoint_read(
    sealed: Path,
) -> None:
    """``next`` holds config.json to the checkpoint's config as ``run_status`` read it."""
    config = orjson.loads((sealed / "config.json").read_bytes())
    meta = orjson.loads((sealed / "run.json").read_bytes())
    config["seed"] = 8
    (sealed / "config.json").write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
    meta.pop("config_hash", None)  # as if edited to match: the checkpoint's config tells
    (sealed / "run.json").write_bytes(orjson.dumps(meta))
    said = run_status(sealed).next_step()
    assert "seed" in said
    assert "changed after the run began" in said


@pytest.mark.broken_run("the sealing checkpoint's steps edited")
def test_each_verification_reads_the_checkpoint_afresh(sealed: Path) -> None:
    assert verify_run(sealed).ok
    path = sealed / "checkpoint.json"
    checkpoint = orjson.loads(path.read_bytes())
    checkpoint["steps"] = STEPS + 1
    path.write_bytes(orjson.dumps(checkpoint, option=orjson.OPT_INDENT_2))
    result = verify_run(sealed)
    assert not result.ok
    assert any("the sealing checkpoint is damaged: its steps" in v for v in result.violations)
