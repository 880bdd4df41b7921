"""A resume refused once its session is built lets go of everything at once, writing nothing.

Bug: ``resume_run`` refused after it built the session (a desk venue's ``mark`` that raised
as the venue was brought to the checkpoint) left the session to the garbage collector: an
application resuming in a loop kept six descriptors of the run open per refusal (its
artifact files and idempotency store), the config's own venue was never closed, and the
broker object it passed to the next ``resume_run`` was refused as "held by the session of
run ..., still open", a session the caller never had to close.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    MockBroker,
    PluginError,
    create_run,
    resume_run,
)
from livesession._rundir import resume as resume_module
from livesession._rundir.catchup import venue_catch_up
from livesession._rundir.session import runs_held
from livesession.testing import mark_verified

from _helpers import crash_in_step

REFUSALS = 50


class _DeskVenue(MockBroker):
    """A desk's venue asking a price server, down until ``prices_up``."""

    simulated = True
    prices_up = False

    def mark(self, symbol: str, price: object) -> None:
        if not self.prices_up:
            raise RuntimeError("the desk's price server is down")
        super().mark(symbol, price)  # type: ignore[arg-type]


def _config(run_id: str) -> DryrunConfig:
    return DryrunConfig.from_mapping(
        {
            "run_id": run_id,
            "steps": 60,
            "checkpoint_every": 1,
            "durability": "none",
            "strategy": {"fast": 2, "slow": 5},
        }
    )


def _opened_in(run_dir: Path) -> list[str]:
    """The files of ``run_dir`` this process holds open."""
    held = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:  # the listing's own descriptor, closed since
            continue
        if target.startswith(f"{run_dir}{os.sep}"):
            held.append(target)
    return sorted(held)


def _files(run_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(run_dir.iterdir())}


@pytest.fixture
def uncollected(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No garbage collection while the test runs: what is let go is let go by the call.

    The sessions the refused resumes built are left out of the teardown's verification,
    which closes every session a test built: no caller holds a refused one to close.
    """
    built = resume_module.open_session

    def untracked(*args: Any, **kwargs: Any) -> LiveSessionOrchestrator:
        session = built(*args, **kwargs)
        mark_verified(session)  # the run directory is still verified, after the test
        return session

    monkeypatch.setattr(resume_module, "open_session", untracked)
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_a_resume_refused_by_the_venue_lets_go_of_the_run_and_the_broker(
    tmp_path: Path, uncollected: None
):
    venue = _DeskVenue()
    crash_in_step(create_run(_config("desk"), tmp_path, broker=venue), 20, 60)
    run_dir = tmp_path / "desk"
    for attempt in range(REFUSALS):
        with pytest.raises(PluginError, match=r"^cannot resume run desk: the broker's mark "):
            resume_run(run_dir, broker=venue)
        assert _opened_in(run_dir) == [], attempt
        if attempt == 0:  # the first cut the run back to its checkpoint: the rest change nothing
            files = _files(run_dir)
        assert _files(run_dir) == files, attempt
    assert runs_held() == []  # the writer lock let go too
    venue.prices_up = True  # the same broker object, once the price server is back
    session = resume_run(run_dir, broker=venue)  # not refused as held by a refused session
    session.close()  # (the object's venue went on past the checkpoint: not run further)


def test_the_config_s_own_venue_is_closed_when_the_resume_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uncollected: None
):
    crash_in_step(create_run(_config("own"), tmp_path), 20, 60)
    closed: list[MockBroker] = []
    close = MockBroker.close

    def counted(self: MockBroker) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(MockBroker, "close", counted)

    def refused(*_args: object) -> None:
        raise PluginError("cannot resume run own: refused for the test")

    monkeypatch.setattr(resume_module, "venue_catch_up", refused)
    with pytest.raises(PluginError, match="refused for the test"):
        resume_run(tmp_path / "own")
    assert len(closed) == 1
    assert _opened_in(tmp_path / "own") == []
    monkeypatch.setattr(resume_module, "venue_catch_up", venue_catch_up)
    monkeypatch.setattr(MockBroker, "close", close)
    session = resume_run(tmp_path / "own")
    assert session.run_to_end(60).status.value == "COMPLETED"
    session.close()
