"""`livesession stop`, `kill` and `ack` of a run another user's process writes.

An operator logged in as themselves (not the service user that runs the session) cannot look
into the writer's /proc entry, nor signal it (EPERM). `stop` said only `DIR: cannot inspect
pid N: Permission denied` (exit 3), nothing about whether anything was sent or what to do;
where /proc hides other users' processes (`hidepid`), the signal itself met EPERM and the
command said only `livesession: error: Operation not permitted` (exit 2). Both are now a
refusal (exit 3) whose one line says nothing was sent and as whom to run the command (where
/proc hides the process, asked with signal 0 before anything is sent). Every test runs as
root too: the refusal is made by a patched /proc look or signal.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
from pathlib import Path

import pytest

from livesession import control
from livesession._rundir import holderproc
from livesession._rundir.statuswords import describe_trading
from livesession.cli import EXIT_OK, EXIT_REJECTED, main

from _helpers import held_by_a_child


def _denied(*_: object) -> None:
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))


@pytest.fixture
def sealed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    args = ["dryrun", "-q", "--out", str(tmp_path), "--run-id", "r1", "--steps", "5"]
    assert main(args) == EXIT_OK
    assert main(["verify", str(tmp_path / "r1")]) == EXIT_OK
    capsys.readouterr()
    return tmp_path / "r1"


@pytest.mark.parametrize("verb", ["stop", "kill", "ack"])
def test_a_writer_this_user_may_not_look_into_is_refused_saying_nothing_was_sent(
    sealed: Path, verb: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with held_by_a_child(sealed, "livesession dryrun") as child, monkeypatch.context() as m:
        m.setattr(holderproc, "link_target", _denied)  # /proc/PID/fd: EACCES
        m.setattr(os, "kill", _denied)  # never reached
        assert main([verb, str(sealed), "--timeout", "1"]) == EXIT_REJECTED
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"livesession: {verb}: {sealed}: pid {child.pid} (livesession dryrun)")
    assert "this user may not look into it (Permission denied): nothing was sent; " in err
    assert err.endswith("(or as root)\n")
    assert "cannot inspect" not in err


def test_a_writer_proc_hides_is_refused_before_the_signal_is_sent(
    sealed: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sent: list[int] = []

    def kill(pid: int, signum: int) -> None:
        sent.append(signum)
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))  # another user's

    with held_by_a_child(sealed, "livesession dryrun") as child, monkeypatch.context() as m:
        m.setattr(holderproc, "_PROC", tmp_path / "hidepid")  # /proc shows no other user's
        m.setattr(os, "kill", kill)
        assert main(["stop", str(sealed), "--timeout", "1"]) == EXIT_REJECTED
    assert set(sent) == {0}  # asked (whether it lives, and may be signalled), never sent
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"pid {child.pid} (livesession dryrun) this user may not signal it " in err
    assert err.endswith(
        "(Permission denied): nothing was sent; run this command as the user that runs it "
        "(or as root)\n"
    )


def test_the_line_names_the_user_the_writer_runs_as(
    sealed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with held_by_a_child(sealed, "livesession dryrun") as child, monkeypatch.context() as m:
        holder = control.holder_of(sealed)
        assert holder is not None
        assert holder.pid == child.pid
        m.setattr(os, "geteuid", lambda: os.getuid() + 1)  # as another user sees it
        line = holderproc.another_users(holder, "signal")
    me = pwd.getpwuid(os.getuid()).pw_name
    assert f" runs as {me}, and this user may not signal it " in line
    assert line.endswith(f"run this command as {me} (or as root)")


def test_status_names_the_user_another_users_writer_runs_as(
    sealed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator taking a run over sees, before any refusal, whom stop, kill, ack run as."""
    me = pwd.getpwuid(os.getuid()).pw_name
    with held_by_a_child(sealed, "livesession dryrun") as child, monkeypatch.context() as m:
        m.setattr(os, "geteuid", lambda: os.getuid() + 1)  # as another user sees it
        main(["status", str(sealed)])
        text = capsys.readouterr().out
        main(["status", str(sealed), "--json"])
        found = json.loads(capsys.readouterr().out)
    writer = next(line for line in text.splitlines() if line.startswith("writer "))
    assert f"pid {child.pid} on " in writer
    assert writer.endswith(f"; runs as {me}: stop, kill and ack only as {me} (or root)")
    assert found["writer"]["runs_as"] == me


def test_status_names_no_user_for_a_writer_this_user_may_signal(
    sealed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's own user (or root) is told nothing more: its stop, kill and ack go through."""
    with held_by_a_child(sealed, "livesession dryrun"):
        main(["status", str(sealed), "--json"])
        found = json.loads(capsys.readouterr().out)
        main(["status", str(sealed)])
        text = capsys.readouterr().out
    assert found["writer"]["runs_as"] == ""
    assert "runs as" not in text


def test_a_halted_runs_ack_hint_names_the_user_to_run_it_as() -> None:
    """`ack` of another user's halted run is refused: the trading line says as whom to run it."""
    said = describe_trading("HALTED", run_dir="out/runs/r1", live=True, as_user="opa")
    assert said == (
        "HALTED: new orders refused (`livesession ack out/runs/r1`, run as opa, re-enables trading)"
    )
    assert "run as" not in describe_trading("HALTED", run_dir="out/runs/r1", live=True)


def test_status_names_a_writer_whose_uid_has_no_user_name_by_its_uid(
    sealed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a container's process runs as a uid with no entry in /etc/passwd (OpenShift's
    arbitrary uid). Of such a writer, a second process of another uid read in `status` no
    `runs as` at all (`--json` `runs_as` ""), as for a writer it may signal, while its
    `kill` was refused `runs as uid 100123`. Now status names it `uid N` too."""

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    uid = os.getuid()
    with held_by_a_child(sealed, "livesession dryrun"), monkeypatch.context() as m:
        m.setattr(os, "geteuid", lambda: uid + 1)  # as another user sees it
        m.setattr(pwd, "getpwuid", no_entry)
        main(["status", str(sealed), "--json"])
        found = json.loads(capsys.readouterr().out)
        main(["status", str(sealed)])
        text = capsys.readouterr().out
    assert found["writer"]["runs_as"] == f"uid {uid}"
    writer = next(line for line in text.splitlines() if line.startswith("writer "))
    assert writer.endswith(
        f"; runs as uid {uid}: stop, kill and ack only as uid {uid} (or root)"
    ), writer
