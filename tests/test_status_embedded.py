"""``livesession status`` of a run an application embedding livesession holds (a web service).

Such a writer answers no signal of the CLI's: ``livesession ack``, ``stop`` and ``kill``
refuse it (its controls are its own). Its halted run's trading line named `livesession ack
DIR` as what re-enables trading all the same.
"""

from __future__ import annotations

import gc
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from livesession import DryrunConfig, SmaCrossover, create_run, resume_run
from livesession._rundir.holder import writer_command
from livesession.cli import main
from livesession.status import RunStatus, Verdict, run_status
from livesession.testing import mark_verified

if TYPE_CHECKING:
    from pathlib import Path


def _trading(found: RunStatus) -> str:
    [line] = [line for line in found.lines() if line.startswith("trading")]
    return line


def test_an_application_s_halted_run_is_not_sent_to_livesession_ack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a service's run halted by its kill switch (`POST /runs/r/kill`): status said
    `HALTED by the kill switch (POST kill): new orders refused (`livesession ack DIR`
    re-enables trading)`, and `livesession ack DIR` then refused it (exit 3, `... is not
    livesession dryrun or resume (an application embedding livesession has its own
    controls): nothing was sent`). The line names the program that holds the run and the
    session's verb instead."""
    config = DryrunConfig(run_id="svc", steps=40, durability="step")
    run_dir = tmp_path / "svc"
    with create_run(config, tmp_path) as session:  # this process: an application
        session.preflight()
        session.activate()
        session.run_n_steps(5)
        assert session.kill("POST kill")
        session.run_n_steps(2)  # the halt on disk
        line = _trading(run_status(run_dir))
        assert main(["ack", str(run_dir)]) == 3  # the CLI refuses it, as the line says
        assert "has its own controls" in capsys.readouterr().err
        program = writer_command("dryrun")
        assert line == (
            "trading     HALTED by the kill switch (POST kill): new orders refused "
            "(`livesession ack` signals only `livesession dryrun` and `resume`: in "
            f"{program}, which holds the run, the session's reenable_trading() re-enables "
            f"trading); since KILL_SWITCH (POST kill), run time {line.rsplit('run time ', 1)[1]}"
        ), line


@pytest.mark.parametrize("program", ["uvicorn dryrun", "deskapp resume", "-c dryrun"])
def test_the_trading_line_of_a_run_an_application_holds(program: str) -> None:
    """Any writer but the CLI's (`livesession dryrun`, `livesession resume`) is told so; the
    CLI's is told `livesession ack DIR`, as before; a crashed run (no writer) too, which a
    resume continues halted."""
    writer = {"pid": 4242, "host": "h", "since": "2026-01-01T00:00:00Z", "command": program}
    held = RunStatus(run_dir="r", verdict=Verdict.RUNNING, trading="HALTED", writer=writer)
    assert _trading(held) == (
        "trading     HALTED: new orders refused (`livesession ack` signals only "
        f"`livesession dryrun` and `resume`: in {program}, which holds the run, the session's "
        "reenable_trading() re-enables trading)"
    )
    for cli in ("livesession dryrun", "livesession resume"):
        by_cli = RunStatus(
            run_dir="r",
            verdict=Verdict.RUNNING,
            trading="HALTED",
            writer={**writer, "command": cli},
        )
        assert _trading(by_cli) == (
            "trading     HALTED: new orders refused (`livesession ack r` re-enables trading)"
        )
    crashed = RunStatus(run_dir="r", verdict=Verdict.CRASHED, trading="HALTED")
    assert _trading(crashed) == (
        "trading     HALTED: new orders refused (`livesession ack r` re-enables trading)"
    )


def test_a_crashed_halted_run_started_with_objects_is_told_what_re_enables_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a service's run started with a strategy object, halted by its kill switch, its
    process then gone: status said `HALTED by the kill switch (POST kill): new orders
    refused (`livesession ack DIR` re-enables trading)`, but `livesession ack` refused it
    (exit 8, `nothing holds DIR: ... continue it with `livesession resume DIR``) and
    `livesession resume` refused it too (exit 2, `... the command line cannot rebuild it`).
    The line names what works: resume_run with the object again, then the session's
    reenable_trading()."""
    config = DryrunConfig(run_id="svc", steps=40, checkpoint_every=1)
    run_dir = tmp_path / "svc"

    def strategy() -> SmaCrossover:
        return SmaCrossover(strategy_id=config.strategy_id, order_qty=Decimal("0.01"))

    session = create_run(config, tmp_path, strategy=strategy())
    session.preflight()
    session.activate()
    session.run_n_steps(5)
    assert session.kill("POST kill")
    session.run_n_steps(2)  # the halt checkpointed
    mark_verified(session)
    del session  # the service's process gone: nothing holds the run
    gc.collect()
    found = run_status(run_dir)
    assert found.verdict is Verdict.CRASHED
    call = f"resume_run({str(run_dir)!r}, strategy=<a livesession._market.strategies.SmaCrossover>)"
    assert _trading(found) == (
        "trading     HALTED by the kill switch (POST kill): new orders refused (a resume keeps "
        f"the halt: continue it with {call} from Python, as it was started with objects the "
        "command line cannot rebuild, then the session's reenable_trading() re-enables "
        "trading)"
    )
    assert main(["resume", str(run_dir)]) == 2  # the command line cannot, as the line says
    assert "cannot rebuild" in capsys.readouterr().err
    # Nor does `ack` reach it, which said to continue it with `livesession resume DIR`.
    assert main(["ack", str(run_dir)]) == 8
    assert capsys.readouterr().err == (
        f"livesession: ack: nothing holds {run_dir}: unfinished (no C2_DRYRUN_STOP): continue "
        f"it from Python: {call} (it was started with objects, which the command line cannot "
        "rebuild)\n"
    )
    with resume_run(run_dir, strategy=strategy()) as resumed:  # what the line says works
        assert resumed.reenable_trading("POST ack")
        resumed.run_to_end(40)
    assert run_status(run_dir).verdict is Verdict.COMPLETED
