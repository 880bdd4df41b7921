"""An atomic write's temporary file belongs to the process that holds it, not to its pid.

``.<name>.<pid>.<n>.tmp`` beside a file being replaced, left by a writer killed between
the write and the rename, is removed by the next write of that file (or a ``resume``).
It was removed only when no process here had its pid: in a container every command is
pid 1 of its own PID namespace, so a killed pid-1 ``report`` left ``.report.html.1.0.tmp``
that every ``report`` after it (pid 1 too) took for its own and kept for good; and a live
writer in another namespace, whose pid is no process here, would have had its file taken
away (its rename failed). Its writer holds it (a ``flock``, let go by the kernel when the
process dies, whatever its namespace) from its creation until after the rename.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import pytest

from livesession._support import fsutil, tmpfiles
from livesession._support.fsutil import atomic_write_bytes, atomic_write_set

from _helpers import ended_pid, held_by_a_process


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("clean", ["the next write", "a resume"])
@pytest.mark.parametrize("whose", ["this process's pid", "a live process's pid"])
def test_a_killed_containers_leftover_goes_though_its_pid_is_alive(
    tmp_path: Path, whose: str, clean: str
) -> None:
    """Bug: a container's ``report`` killed mid-write (pid 1) left ``.report.html.1.0.tmp``,
    and every ``report`` after it, pid 1 too, took it for its own and left it."""
    pid = os.getpid() if whose == "this process's pid" else os.getppid()
    target = tmp_path / "report.html"
    (tmp_path / f".report.html.{pid}.0.tmp").write_bytes(b"<html")
    if clean == "the next write":
        tmpfiles.remove_dead_tmp_of(target)
    else:
        tmpfiles.remove_dead_tmp(tmp_path)
    atomic_write_bytes(target, b"<html></html>")
    assert _names(tmp_path) == ["report.html"]


@pytest.mark.parametrize("clean", ["the next write", "a resume"])
def test_a_live_writers_file_stays_though_no_process_here_has_its_pid(
    tmp_path: Path, clean: str
) -> None:
    """A writer in another PID namespace (another container on the volume) counts itself a
    pid no process here has: its file is its own while it holds it, not a dead one's."""
    target = tmp_path / "livesession.prom"
    live = tmp_path / f".livesession.prom.{ended_pid()}.0.tmp"
    live.write_bytes(b"# HELP")
    with held_by_a_process(live):
        if clean == "the next write":
            tmpfiles.remove_dead_tmp_of(target)
        else:
            tmpfiles.remove_dead_tmp(tmp_path)
        assert live.read_bytes() == b"# HELP"
    assert _names(tmp_path) == [live.name]


def test_a_write_holds_its_file_until_it_is_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another command's clean-up between the write and the rename leaves it alone."""
    target = tmp_path / "checkpoint.json"

    def meanwhile(label: str) -> None:
        assert len(list(tmp_path.glob(".*.tmp"))) == 1
        tmpfiles.remove_dead_tmp_of(target)
        tmpfiles.remove_dead_tmp(tmp_path)

    monkeypatch.setattr(fsutil, "crashpoint", meanwhile)
    atomic_write_bytes(target, b"{}")
    assert _names(tmp_path) == ["checkpoint.json"]
    atomic_write_set([(tmp_path / "a", b"1"), (tmp_path / "b", b"2")])
    assert _names(tmp_path) == ["a", "b", "checkpoint.json"]


def test_a_file_a_clean_up_takes_before_its_writer_holds_it_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between its creation and its lock a new temporary file is held by no one: another
    command's clean-up may take it for a dead one's. Its writer makes another then."""
    real_hold = fsutil.hold_tmp
    made: list[Path] = []

    def hold(fd: int, tmp: Path) -> bool:
        made.append(tmp)
        if len(made) == 1:
            tmpfiles.remove_dead_tmp(tmp_path)
        return real_hold(fd, tmp)

    monkeypatch.setattr(fsutil, "hold_tmp", hold)
    atomic_write_bytes(tmp_path / "out.json", b"{}")
    assert len(made) == 2
    assert made[0] != made[1]
    assert _names(tmp_path) == ["out.json"]
    assert (tmp_path / "out.json").read_bytes() == b"{}"


def test_where_no_locks_are_taken_a_leftover_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system that takes no locks cannot tell a live writer's file from a dead
    one's: every one stays there, and the writes still work."""

    def flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    left = tmp_path / f".out.json.{ended_pid()}.0.tmp"
    left.write_bytes(b"{")
    monkeypatch.setattr(fcntl, "flock", flock)
    tmpfiles.remove_dead_tmp_of(tmp_path / "out.json")
    tmpfiles.remove_dead_tmp(tmp_path)
    atomic_write_bytes(tmp_path / "out.json", b"{}")
    assert _names(tmp_path) == [left.name, "out.json"]
