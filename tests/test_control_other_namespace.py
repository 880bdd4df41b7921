"""`stop`, `kill`, `ack` and `status` of a run whose writer runs in another PID namespace.

A container has its own process ids: a writer that is its container's first process names
itself pid 1 (or pid 5 under a shell) on the pod's host name, and a second container sharing
the run's volume and host name (a sidecar, a `kubectl exec` into another container) has a
process of that pid of its own, or none. There `kill` said `pid 5 ended: unfinished (no
C2_DRYRUN_STOP) ... resume it and kill it at once` of a run trading on, or `pid 1 does not
have .../writer.lock open: it is not this run's writer`, and `status` named that other
process's user and stop as the writer's. The run's directory lock names the pid its writer
sees itself as; held under that pid while this host's process of the pid does not have the
run open (or is none), the writer is one this command can neither see nor signal.

Every test here stands for the other namespace with a patched /proc look: a child process
holds the run, and /proc shows no process of its pid, or one without the run open.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from livesession._rundir import holderproc, holderread
from livesession.cli import EXIT_OK, EXIT_REJECTED, main

from _helpers import held_by_a_child

_ELSEWHERE = (
    ", yet the run is held: its writer (livesession dryrun, pid {pid} as it counts) runs "
    "where this command can neither see nor signal it, in another PID namespace on {host} "
    "(another container: of this pod, or one sharing its host name) or on another machine "
    "named {host} that shares this directory: nothing was sent; run this command there (in "
    "Kubernetes, `kubectl exec` into the writer's container)\n"
)


@pytest.fixture
def sealed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    args = ["dryrun", "-q", "--out", str(tmp_path), "--run-id", "r1", "--steps", "5"]
    assert main(args) == EXIT_OK
    capsys.readouterr()
    return tmp_path / "r1"


def _no_such_process(pid: int, sent: list[int]):
    """``os.kill`` as another namespace sees ``pid``: no such process; what was sent kept."""
    kill = os.kill

    def patched(target: int, signum: int) -> None:
        if target != pid:
            kill(target, signum)
            return
        sent.append(signum)
        raise ProcessLookupError(errno.ESRCH, os.strerror(errno.ESRCH))

    return patched


@contextlib.contextmanager
def _held_from_elsewhere(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, opened: str = os.devnull
) -> Iterator[tuple[subprocess.Popen[str], pytest.MonkeyPatch]]:
    """A child holds ``run_dir``, seen through a /proc in which its pid is another process
    (a shell) that has ``opened`` open, not the run: the child and the patch, for the block."""
    with held_by_a_child(run_dir, "livesession dryrun") as child, monkeypatch.context() as m:
        proc = tmp_path / "proc" / str(child.pid)
        (proc / "fd").mkdir(parents=True)
        (proc / "fd" / "0").symlink_to(opened)
        (proc / "cmdline").write_bytes(b"/bin/sh\0")
        (proc / "stat").write_bytes(f"{child.pid} (sh) S 0".encode())
        m.setattr(holderproc, "_PROC", tmp_path / "proc")
        yield child, m


@contextlib.contextmanager
def _no_process_here(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sent: list[int]
) -> Iterator[tuple[subprocess.Popen[str], pytest.MonkeyPatch]]:
    """A child holds ``run_dir``, seen through a /proc without its pid, and no such process
    for a signal (what is sent kept in ``sent``): the child and the patch, for the block."""
    (tmp_path / "proc").mkdir()
    with held_by_a_child(run_dir, "livesession dryrun") as child, monkeypatch.context() as m:
        m.setattr(holderproc, "_PROC", tmp_path / "proc")  # no /proc/PID of the writer
        m.setattr(os, "kill", _no_such_process(child.pid, sent))
        yield child, m


@pytest.mark.parametrize("verb", ["stop", "kill", "ack"])
def test_a_writer_no_process_here_has_the_pid_of_is_refused_as_unseen(
    sealed: Path,
    tmp_path: Path,
    verb: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sent: list[int] = []
    with _no_process_here(sealed, tmp_path, monkeypatch, sent) as (child, _):
        assert main([verb, str(sealed), "--timeout", "1"]) == EXIT_REJECTED
    assert [s for s in sent if s] == []  # asked whether it lives, never sent
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    host = os.uname().nodename
    assert err == (
        f"livesession: {verb}: {sealed}: no process here is pid {child.pid}"
        + _ELSEWHERE.format(pid=child.pid, host=host)
    )


def test_a_writer_whose_pid_is_another_process_here_is_refused_as_unseen(
    sealed: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _held_from_elsewhere(sealed, tmp_path, monkeypatch) as (child, _):
        assert main(["kill", str(sealed), "--timeout", "1"]) == EXIT_REJECTED
    err = capsys.readouterr().err
    lock = sealed.resolve() / "writer.lock"
    assert err == (
        f"livesession: kill: {sealed}: pid {child.pid} here is another process (it does not "
        f"have {lock} open)" + _ELSEWHERE.format(pid=child.pid, host=os.uname().nodename)
    )


def test_status_says_the_writer_is_unseen_and_names_no_user_of_the_pid_here(
    sealed: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _held_from_elsewhere(sealed, tmp_path, monkeypatch) as (child, m):
        m.setattr(holderproc, "_other_user", lambda _pid: "someone")  # the pid here's user
        main(["status", "--json", str(sealed)])
        found = json.loads(capsys.readouterr().out)
        main(["status", str(sealed)])
        lines = capsys.readouterr().out.splitlines()
    lock = sealed.resolve() / "writer.lock"
    here = f"pid {child.pid} here is another process (it does not have {lock} open)"
    assert found["writer"]["unseen"] == here
    assert found["writer"]["runs_as"] == ""
    writer = next(line for line in lines if line.startswith("writer "))
    assert writer.endswith(
        f"(livesession dryrun); {here}: the writer runs in another PID namespace (another "
        "container) or on another machine of that name: stop, kill and ack only from there"
    ), writer
    assert "someone" not in writer


def test_a_writer_this_process_sees_is_not_unseen(
    sealed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with held_by_a_child(sealed, "livesession dryrun"):
        main(["status", "--json", str(sealed)])
    assert json.loads(capsys.readouterr().out)["writer"]["unseen"] == ""


@pytest.mark.parametrize("verb", ["resume", "dryrun"])
def test_a_writer_refused_by_another_containers_pid_1_is_not_told_it_holds_the_run(
    sealed: Path,
    tmp_path: Path,
    verb: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Bug: a container's command is its first process, pid 1, and so is the writer's in
    another container on the same host name: a `resume` (or `dryrun` of the run id) there
    was refused `... is being written by pid 1 on HOST ..., which is this very process: a
    session it opened still holds the run; nothing was changed (one writer per run: close()
    that session first, ...)`. A process that holds no run is not the holder, whatever its
    pid; and the way out names the writer's container, where `stop` can reach it."""
    args = {"resume": [str(sealed)], "dryrun": ["--out", str(sealed.parent), "--run-id", "r1"]}
    # This process, pid 1 too in its own namespace, has the lock file open as it tries it.
    lock = str(sealed.resolve() / "writer.lock")
    with _held_from_elsewhere(sealed, tmp_path, monkeypatch, opened=lock) as (child, m):
        m.setattr(os, "getpid", lambda: child.pid)
        assert main([verb, *args[verb], "-q"]) == EXIT_REJECTED
    err = capsys.readouterr().err
    assert "this very process" not in err
    assert err.startswith(
        f"livesession: rejected: {sealed} is being written by pid {child.pid} on "
    ), err
    advice = {
        "resume": (
            f"wait for it to end, or stop it with `livesession stop {sealed}` in the writer's "
            "container (it runs in another PID namespace, where this one cannot signal it))"
        ),
        "dryrun": "choose another --run-id; waiting will not free this one, which stays that run's)",
    }
    assert err.endswith(
        f"(livesession dryrun); nothing was changed (one writer per run: {advice[verb]}\n"
    ), err


@pytest.mark.parametrize("verb", ["status", "resume"])
def test_a_writer_no_process_here_has_the_pid_of_is_named_without_waiting(
    sealed: Path,
    tmp_path: Path,
    verb: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Bug: `status` in a sidecar took half a second more than anywhere else, every time
    (and a `resume` refused there as long): the lock file names a pid no process here has,
    which is read as a dead writer's name a new writer is about to overwrite, so it was
    read again 50 times. The run directory's own lock names that very pid: the name is
    the writer's, said at once."""
    pauses: list[float] = []
    with _no_process_here(sealed, tmp_path, monkeypatch, []) as (child, m):
        m.setattr(holderread, "time", types.SimpleNamespace(sleep=pauses.append))
        code = main([verb, str(sealed), "-q"] if verb == "resume" else [verb, str(sealed)])
    said = capsys.readouterr()
    assert pauses == []
    if verb == "status":
        writer = next(line for line in said.out.splitlines() if line.startswith("writer "))
        assert f"pid {child.pid} on " in writer
        assert f"no process here is pid {child.pid}: the writer runs in another" in writer
    else:
        assert code == EXIT_REJECTED
        assert f"is being written by pid {child.pid} on " in said.err
        assert "(livesession dryrun); nothing was changed" in said.err
