"""A system-clock run resumed where this machine's clock reads before the run's last record.

Bug: the resume took the run, wrote ``C2_RESUME`` and failed its first step
(``CLOCK_REGRESSION``): sealed ``FAILED`` in ``ERROR_REQUIRES_OPERATOR``, its position left
held and no resume able to continue it, when the clock was an hour behind (another host's,
or one stepped back since the crash). ``resume`` refuses it now with nothing changed
(exit 2), ``status`` says why it cannot be resumed yet, and once the clock reads past the
last record the run resumes and seals as it would have.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from livesession import DryrunConfig, create_run
from livesession._domain import clock as _clock
from livesession.cli import main
from livesession.status import Verdict, run_status
from livesession.verify import verify_run

from _ccxt_route import tree
from _helpers import crash_in_step


@pytest.fixture
def crashed(tmp_path: Path) -> Path:
    """A system-clock run crashed in its 12th step, after its checkpoint at step 10."""
    cfg = DryrunConfig(run_id="wall", steps=30, checkpoint_every=5, clock_mode="system")
    crash_in_step(create_run(cfg, tmp_path, alerts=False), 12, 30)
    return tmp_path / "wall"


def _clock_behind(monkeypatch: pytest.MonkeyPatch, hours: int) -> None:
    real = _clock.SystemClock.now
    monkeypatch.setattr(
        _clock.SystemClock, "now", lambda self: real(self) - dt.timedelta(hours=hours)
    )


def test_a_resume_behind_the_runs_last_record_is_refused_with_nothing_changed(
    crashed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree(crashed)
    with monkeypatch.context() as behind:
        _clock_behind(behind, 1)
        assert main(["resume", str(crashed)]) == 2
        [said] = capsys.readouterr().err.splitlines()
        assert "(nothing was changed): this machine's clock reads " in said, said
        assert re.search(r", (59 min|1 h 0 min) before the run's last record \(", said), said
        assert "set this machine's clock right, or resume once it reads past " in said
        assert tree(crashed) == before
        found = run_status(crashed)
        assert found.resumable is False
        assert "this machine's clock reads" in (found.resume_problem or "")
    assert run_status(crashed).verdict is Verdict.CRASHED
    assert main(["resume", str(crashed), "-q"]) == 0
    assert verify_run(crashed).ok
    assert run_status(crashed).verdict is Verdict.COMPLETED
