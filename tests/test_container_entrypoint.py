"""docs/operations.md's livesession-entrypoint, run as written: a container's command.

It starts the run, resumes it after the container was killed, or says where it stands, then
hands the process over to livesession (``exec``), which as the container's first process
takes the SIGTERM that stops a pod and seals the run. Run here as a container runs it: no
``HOME``, ``TMPDIR`` on a volume of its own, and nothing written but there and in ``OUT``.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from _pages import installed_script
from livesession.verify import verify_run
from test_lease_session import write_config

from _helpers import pid_1_of, running_as_pid_1, stepping, until


@pytest.fixture(name="entrypoint")
def _entrypoint(tmp_path: Path) -> list[str]:
    """The script, with a ``livesession`` on its PATH that is this checkout's CLI."""
    return [str(installed_script("CONTAINER", tmp_path / "bin", "livesession-entrypoint"))]


def _pod_env(tmp_path: Path, **more: str) -> dict[str, str]:
    """A container's environment: no HOME, no LANG, TMPDIR on its own volume."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    path = f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return {"PATH": path, "TMPDIR": str(tmp_path / "tmp"), **more}


def _run(command: list[str], tmp_path: Path, **more: str) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"  # the container's working directory: nothing is written there
    work.mkdir(exist_ok=True)
    return subprocess.run(
        command,
        env=_pod_env(tmp_path, **more),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _nothing_else_written(tmp_path: Path) -> None:
    assert not list((tmp_path / "work").iterdir())
    assert not list((tmp_path / "tmp").iterdir())  # each scratch directory removed


def test_it_starts_the_run_then_says_it_is_sealed(tmp_path: Path, entrypoint: list[str]) -> None:
    config = write_config(tmp_path / "session.toml", steps=40)
    out = tmp_path / "runs"
    first = _run([*entrypoint, str(out), "r1", str(config)], tmp_path)
    assert first.returncode == 0, first.stderr
    assert verify_run(out / "r1").ok
    mode = stat.S_IMODE((out / "r1" / "audit.jsonl").stat().st_mode)
    assert mode == 0o664  # umask 002: another pod of the group may resume it

    again = _run([*entrypoint, str(out), "r1", str(config)], tmp_path)
    assert again.returncode == 0, again.stderr
    assert "verdict     completed (exit 0)" in again.stdout
    _nothing_else_written(tmp_path)


def test_it_resumes_a_run_its_killed_container_left(tmp_path: Path, entrypoint: list[str]) -> None:
    config = write_config(tmp_path / "session.toml", steps=400, checkpoint_every=25)
    out = tmp_path / "runs"
    command = [*entrypoint, str(out), "r2", str(config)]
    killed = _run(command, tmp_path, LIVESESSION_CRASH_AT="checkpoint:4")
    assert killed.returncode == -9, killed.stderr
    assert not verify_run(out / "r2").ok

    resumed = _run(command, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert verify_run(out / "r2").ok
    _nothing_else_written(tmp_path)


def test_as_pid_1_the_pods_sigterm_seals_the_run(tmp_path: Path, entrypoint: list[str]) -> None:
    config = write_config(tmp_path / "session.toml", steps=1_000_000)
    out = tmp_path / "runs"
    run_dir = out / "r3"
    (tmp_path / "work").mkdir()
    command = [*entrypoint, str(out), "r3", str(config)]
    with running_as_pid_1(command, env=_pod_env(tmp_path), cwd=tmp_path / "work") as proc:
        until("the run to step", lambda: stepping(run_dir), proc)
        os.kill(pid_1_of(proc.pid), signal.SIGTERM)  # as the container's runtime does
        proc.wait(timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert verify_run(run_dir).ok
    stop = json.loads((run_dir / "audit.jsonl").read_bytes().splitlines()[-1])
    assert (stop["code"], stop["payload"]["reason"]) == ("C2_DRYRUN_STOP", "SIGNAL_SIGTERM")
    _nothing_else_written(tmp_path)
