"""A relative path given to the API while another thread of the host changes directory.

A desk's scheduler runs sessions on threads; the current directory is the process's, so
one thread's ``os.chdir`` moves every relative path the others hold. ``create_run(cfg,
"runs")`` resolved its path again at each use: a directory changed in the middle of the
call (here, deterministically, where another thread's ``chdir`` would land) made the run
directory in one place and looked for it in another (``No such file or directory``), and
the clean-up of the failed creation removed ``runs/<run_id>`` in the new directory, another
run of that name. Each entry point now resolves the path once, as it is called.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests._helpers import crash_in_step

import livesession._rundir as rundir
import livesession.verify as verify_module
from livesession import DryrunConfig, PluginError, create_run, open_session, resume_run, verify_run
from livesession._rundir import create as create_module
from livesession._rundir import resume as resume_module


def _moving_to(away: Path, call: Callable[..., Any], *, then: Exception | None = None) -> Any:
    """``call`` made after the current directory moved to ``away`` (another thread's chdir)."""

    def moved(*args: Any, **kwargs: Any) -> Any:
        os.chdir(away)
        if then is not None:
            raise then
        return call(*args, **kwargs)

    return moved


@pytest.fixture
def desks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Two desks' directories; the test starts in the first."""
    here, away = tmp_path / "desk-a", tmp_path / "desk-b"
    here.mkdir()
    away.mkdir()
    monkeypatch.chdir(here)
    return here, away


def test_a_run_is_made_whole_where_the_call_named_it(
    desks: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, away = desks
    moved = _moving_to(away, create_module.open_plugins)
    monkeypatch.setattr(create_module, "open_plugins", moved)
    session = create_run(DryrunConfig(run_id="desk-1", steps=20), "runs")
    assert session.run_to_end(20).status.value == "COMPLETED"
    assert verify_run(here / "runs" / "desk-1").ok
    assert list(away.iterdir()) == []  # nothing of it where the directory moved to


def test_a_failed_creation_removes_only_what_it_made(
    desks: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, away = desks
    other = away / "runs" / "desk-1"  # another desk's run of the same name
    other.mkdir(parents=True)
    (other / "events.jsonl").write_bytes(b"theirs\n")
    refused = PluginError("the strategy could not be built")
    moved = _moving_to(away, create_module.open_plugins, then=refused)
    monkeypatch.setattr(create_module, "open_plugins", moved)
    with pytest.raises(PluginError, match="could not be built"):
        create_run(DryrunConfig(run_id="desk-1", steps=20), "runs")
    assert (other / "events.jsonl").read_bytes() == b"theirs\n"  # left as it was
    assert not (here / "runs").exists()  # and what the call made is gone


def test_a_resume_continues_the_run_the_call_named(
    desks: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, away = desks
    crash_in_step(create_run(DryrunConfig(run_id="desk-1", steps=40), "runs"), 10, 40)
    moved = _moving_to(away, resume_module.read_run_config)
    monkeypatch.setattr(resume_module, "read_run_config", moved)
    session = resume_run("runs/desk-1")
    assert session.run_to_end(40).status.value == "COMPLETED"
    assert verify_run(here / "runs" / "desk-1").ok
    assert list(away.iterdir()) == []


def test_open_session_makes_the_run_where_it_was_called(
    desks: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, away = desks
    # The session's own thread builds it after the call: another thread moved by then.
    monkeypatch.setattr(rundir, "create_run", _moving_to(away, rundir.create_run))

    async def main() -> Path | None:
        config = DryrunConfig(run_id="desk-1", steps=20)
        async with open_session(config, out_dir="runs") as session:
            await session.run_steps(20)
            return session.run_dir

    assert asyncio.run(main()) == here / "runs" / "desk-1"
    assert verify_run(here / "runs" / "desk-1").ok
    assert list(away.iterdir()) == []


_FACTORY = """
import os
from decimal import Decimal

from livesession import SmaCrossover


def make(*, strategy_id):
    os.chdir(os.environ["DESK_AWAY"])  # as if another thread of the host changed it now
    return SmaCrossover(strategy_id=strategy_id, order_qty=Decimal("0.01"))
"""


def test_a_directory_changed_while_a_plug_in_is_built_is_the_hosts(
    desks: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: the change was blamed on the plug-in (`strategy_factory ... changed the working
    directory`, the run refused) and undone, under the thread that made it."""
    here, away = desks
    (away / "deskplug_moves.py").write_text(_FACTORY)
    monkeypatch.syspath_prepend(str(away))
    monkeypatch.setenv("DESK_AWAY", str(away))
    config = DryrunConfig(run_id="desk-1", steps=20, strategy_factory="deskplug_moves:make")
    session = create_run(config, "runs")
    assert Path.cwd() == away  # the host's change stands
    assert session.run_to_end(20).status.value == "COMPLETED"
    assert verify_run(here / "runs" / "desk-1").ok
    assert not (away / "runs").exists()


def test_a_run_is_verified_where_the_call_named_it(
    desks: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: its files were read from the directory moved to: a sound run judged broken
    (`run directory runs/desk-1 does not exist`), the verdict a governance review reads."""
    _, away = desks
    assert create_run(DryrunConfig(run_id="desk-1", steps=20), "runs").run_to_end(20).accepted
    monkeypatch.setattr(
        verify_module, "_config_bytes", _moving_to(away, verify_module._config_bytes)
    )
    result = verify_run("runs/desk-1")
    assert result.ok, result.summary


def test_an_out_dir_a_failed_creation_beside_took_away_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Desks creating their runs in one new `runs/` at once: the one whose plug-in fails
    removes `runs/` (it made it, and it is empty again), and when that falls between
    another's making `runs/` and making its run directory in it, that one was refused
    (`cannot create run directory .../runs/desk-2: No such file or directory`). Found by
    reading the clean-up; the interleaving is forced here."""
    out = tmp_path / "runs"
    make = Path.mkdir
    taken: list[Path] = []

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self == out / "desk-2" and not taken:
            taken.append(out)
            out.rmdir()  # the other creation's clean-up, at the worst moment
        make(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    session = create_run(DryrunConfig(run_id="desk-2", steps=20), out)
    assert taken == [out]
    assert session.run_to_end(20).status.value == "COMPLETED"
    assert verify_run(out / "desk-2").ok
