"""A scratch directory's owner is the process that holds it, not the pid in its name.

``<prefix><pid>-<random>`` in the temporary directory (the evidence's re-run, the kill
drill, a resume's copy of its idempotency store) left by a process killed with SIGKILL is
removed by the next one of its kind. It was removed only when no process here had its pid:
in a container every command is pid 1 of its own PID namespace, so with the temporary
directory (or the working directory) on a shared volume a killed container's directories
were the pid of every command after it, and piled up for good; and a live owner in another
namespace, whose pid is no process here, would have had its directory taken away. Its
maker holds it (a ``flock``, let go by the kernel when the process dies, whatever its
namespace) for as long as it uses it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from livesession._support import tmpfiles
from livesession._support.signals import scratch_directory

from _helpers import ended_pid, held_by_a_process

_PREFIX = "livesession-replay-"


@pytest.fixture(name="scratch")
def _scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's temporary directory, for this test alone: what is left there shows."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def _left(scratch: Path, pid: int, tag: str) -> Path:
    left = scratch / f"{_PREFIX}{pid}-{tag}"
    (left / "replay").mkdir(parents=True)
    (left / "replay" / "events.jsonl").write_bytes(b"{}\n")
    return left


@pytest.mark.parametrize("whose", ["this process's pid", "a live process's pid"])
def test_a_killed_containers_scratch_goes_with_the_next_though_its_pid_is_alive(
    scratch: Path, whose: str
) -> None:
    """Bug: a container's `evidence` killed as it re-ran (pid 1) left
    ``livesession-replay-1-...`` on the volume, and every `evidence` after it, pid 1 too,
    took it for its own and left it: one more at every kill. A sidecar's, whose pid 1 is
    another process, took it for a live one's."""
    pid = os.getpid() if whose == "this process's pid" else os.getppid()
    left = _left(scratch, pid, "k1lled_x")
    with scratch_directory(_PREFIX) as made:
        assert made.is_dir()
        assert not left.exists()
    assert list(scratch.iterdir()) == []


def test_a_live_owners_scratch_stays_though_no_process_here_has_its_pid(scratch: Path) -> None:
    """An owner in another PID namespace (another container on the volume) counts itself a
    pid no process here has: its directory is its own while it holds it, not a dead one's."""
    live = _left(scratch, ended_pid(), "l1ve_xyz")
    with held_by_a_process(live), scratch_directory(_PREFIX):
        pass
    assert [p.name for p in scratch.iterdir()] == [live.name]
    assert (live / "replay" / "events.jsonl").read_bytes() == b"{}\n"


def test_a_scratch_directory_is_held_while_it_is_used_and_let_go_when_removed(
    scratch: Path,
) -> None:
    with scratch_directory(_PREFIX) as made:
        tmpfiles.remove_dead_scratch(_PREFIX)  # another command's clean-up, meanwhile
        assert made.is_dir()
        (made / "kept").write_bytes(b"x")
        tmpfiles.remove_dead_scratch(_PREFIX)
        assert (made / "kept").read_bytes() == b"x"
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("when", ["before it is opened", "before it is locked"])
def test_a_directory_a_clean_up_takes_before_its_maker_holds_it_is_made_again(
    scratch: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """Between ``mkdtemp`` and its lock a new directory is held by no one: another
    command's clean-up may take it for a dead one's. Its maker makes another then, and
    never uses a directory that is gone."""
    real_mkdtemp, real_opened = tempfile.mkdtemp, tmpfiles._opened
    made: list[str] = []

    def mkdtemp(*args: object, **kwargs: object) -> str:
        made.append(real_mkdtemp(*args, **kwargs))  # type: ignore[arg-type]
        if when == "before it is opened" and len(made) == 1:
            tmpfiles.remove_dead_scratch(_PREFIX)
        return made[-1]

    cleaned: list[Path] = []

    def opened(directory: Path) -> int:
        fd = real_opened(directory)
        if when == "before it is locked" and not cleaned:
            cleaned.append(directory)  # the maker's open: a clean-up takes it right then
            tmpfiles.remove_dead_scratch(_PREFIX)
        return fd

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(tmpfiles, "_opened", opened)
    path, held = tmpfiles.make_scratch(_PREFIX)
    try:
        assert len(made) == 2
        assert not Path(made[0]).exists()
        assert str(path) == made[1]
        assert path.is_dir()
        tmpfiles.remove_dead_scratch(_PREFIX)
        assert path.is_dir()  # held
    finally:
        tmpfiles.remove_scratch(path, held)
    assert list(scratch.iterdir()) == []
