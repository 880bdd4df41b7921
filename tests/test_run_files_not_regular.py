"""A run file that is not a regular file (a symlink, a FIFO, a device) is named, never used.

A reviewer replaced a crashed run's ``session.log.jsonl``, ``events.jsonl``, ``audit.jsonl``,
``state_snapshots.jsonl`` and ``broker_journal.jsonl`` by symlinks to a file elsewhere:
``resume`` appended to (and cut back) that file, and ``verify`` said OK. An
``events.jsonl`` that is a FIFO made ``status`` and ``list`` wait for a writer for ever; one
that leads to ``/dev/zero`` made ``status`` read until the memory ran out. Now every tool
says ``events.jsonl is not a regular file (a FIFO)`` before it reads a byte: ``resume``
and the readers refuse the run (exit 2, one line, nothing written), ``status`` makes it
its problem (``needs_operator``, exit 5) and ``verify`` counts it as a violation (exit 1).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest

from livesession import FileLineSink, RunDirectoryError, resume_run
from livesession._artifacts import runread
from livesession._support import fsutil
from livesession._support.fsutil import NotAFile
from livesession._support.torn import truncate_to
from livesession.cli import main
from livesession.status import Verdict, run_status

from _helpers import without_waiting_on
from crash_harness import KILLED, Profile, dryrun

pytestmark = [
    pytest.mark.broken_run("it puts symlinks and FIFOs in runs to see every tool refuse them"),
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs and symlinks"),
]

_WRITTEN_BY_RESUME = (
    "session.log.jsonl",
    "events.jsonl",
    "audit.jsonl",
    "state_snapshots.jsonl",
    "broker_journal.jsonl",
    "writer.lock",
)


def _snapshot(root: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Every entry under ``root`` as it is, never opening one that is not a regular file."""
    found: dict[str, tuple[int, int, bytes | None]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        data = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
        found[str(path.relative_to(root))] = (info.st_mode, info.st_mtime_ns, data)
    return found


@pytest.fixture(name="crashed_template", scope="module")
def _crashed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("crashed")
    profile = Profile(name="crashed", seed=3)
    assert dryrun(profile, out, crash_at="write_events:280").returncode == KILLED
    return out / profile.name


@pytest.fixture(name="sealed_template", scope="module")
def _sealed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed")
    assert main(["dryrun", "--out", str(out), "--run-id", "done", "--steps", "40", "-q"]) == 0
    return out / "done"


@pytest.fixture(name="crashed")
def _crashed(crashed_template: Path, tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "crashed"
    shutil.copytree(crashed_template, run)
    return run


@pytest.fixture(name="sealed")
def _sealed(sealed_template: Path, tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "done"
    shutil.copytree(sealed_template, run)
    return run


def _plant_link(run: Path, name: str, victim: Path) -> None:
    """``run/name`` made a symlink to ``victim``, which holds what the file held."""
    shutil.copyfile(run / name, victim)
    (run / name).unlink()
    (run / name).symlink_to(victim)


def _said(run: Path, name: str, kind: str) -> str:
    return (
        f"{run / name} is not a regular file ({kind}): a run writes only regular files, so "
        "someone else put it there; nothing was read or written: keep the run as it is and "
        f"find out who changed it (`livesession verify {run}` names every such file)"
    )


class TestResumeNeverWritesThroughASymlink:
    @pytest.mark.parametrize("name", _WRITTEN_BY_RESUME)
    def test_refused_in_one_line_and_nothing_written(
        self, crashed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
    ) -> None:
        victim = tmp_path / "victim"
        _plant_link(crashed, name, victim)
        before = _snapshot(tmp_path)

        assert main(["resume", str(crashed), "-q"]) == 2

        assert (
            capsys.readouterr().err
            == f"livesession: error: {_said(crashed, name, 'a symbolic link')}\n"
        )
        assert _snapshot(tmp_path) == before  # the victim, and every file of the run

    def test_resume_run_refuses_it_too(self, crashed: Path, tmp_path: Path) -> None:
        _plant_link(crashed, "audit.jsonl", tmp_path / "victim")
        before = _snapshot(tmp_path)
        with pytest.raises(RunDirectoryError) as caught:
            resume_run(crashed)
        assert str(caught.value) == _said(crashed, "audit.jsonl", "a symbolic link")
        assert _snapshot(tmp_path) == before

    def test_several_are_counted(self, crashed: Path, tmp_path: Path) -> None:
        for name in _WRITTEN_BY_RESUME[:3]:
            _plant_link(crashed, name, tmp_path / f"victim-{name}")
        problem = run_status(crashed).problem
        assert problem.startswith(
            f"{crashed / 'audit.jsonl'} is not a regular file (a symbolic link) (and 2 more): "
        )


class TestWritersOpenNoSymlink:
    """Below the up-front check, the files a run appends to are opened without following a
    symlink, and never wait on a FIFO (a swap between the check and the opening)."""

    def test_a_line_sink_appends_to_no_symlink(self, tmp_path: Path) -> None:
        (tmp_path / "victim").write_bytes(b"kept\n")
        (tmp_path / "events.jsonl").symlink_to(tmp_path / "victim")
        with pytest.raises(RunDirectoryError) as caught:
            FileLineSink(tmp_path / "events.jsonl", append=True)
        assert str(caught.value) == (
            f"FileLineSink({str(tmp_path / 'events.jsonl')!r}): {tmp_path / 'events.jsonl'} is "
            "not a regular file (a symbolic link): a sink appends only to a regular file, never "
            "through a symlink"
        )
        assert (tmp_path / "victim").read_bytes() == b"kept\n"

    def test_a_line_sink_waits_on_no_fifo(self, tmp_path: Path) -> None:
        fifo = tmp_path / "audit.jsonl"
        os.mkfifo(fifo)
        outcome = without_waiting_on(fifo, lambda: FileLineSink(fifo, append=True))
        assert isinstance(outcome.get("error"), RunDirectoryError), outcome
        assert "is not a regular file (a FIFO)" in str(outcome["error"])

    def test_the_cut_of_a_resume_follows_no_symlink(self, tmp_path: Path) -> None:
        (tmp_path / "victim").write_bytes(b'{"seq":1}\n{"se')
        (tmp_path / "events.jsonl").symlink_to(tmp_path / "victim")
        with pytest.raises(NotAFile, match=r"not a regular file \(a symbolic link\)"):
            truncate_to(tmp_path / "events.jsonl", 10)
        assert (tmp_path / "victim").read_bytes() == b'{"seq":1}\n{"se'

    def test_the_journals_and_logs_follow_no_symlink(self, tmp_path: Path) -> None:
        (tmp_path / "victim").write_bytes(b"kept\n")
        (tmp_path / "session.log.jsonl").symlink_to(tmp_path / "victim")
        with pytest.raises(NotAFile, match=r"not a regular file \(a symbolic link\)"):
            fsutil.open_append(tmp_path / "session.log.jsonl")
        assert (tmp_path / "victim").read_bytes() == b"kept\n"


class TestVerifyCountsThem:
    def test_a_symlinked_artifact_is_a_violation(
        self, sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _plant_link(sealed, "events.jsonl", tmp_path / "victim")
        _plant_link(sealed, "session.log.jsonl", tmp_path / "victim-log")

        assert main(["verify", str(sealed)]) == 1

        out = capsys.readouterr().out
        assert "events.jsonl: is not a regular file (a symbolic link)" in out
        assert "session.log.jsonl: is not a regular file (a symbolic link)" in out

    def test_a_fifo_is_a_violation_read_never(
        self, sealed: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (sealed / "events.jsonl").unlink()
        os.mkfifo(sealed / "events.jsonl")
        fifo = sealed / "events.jsonl"
        assert without_waiting_on(fifo, lambda: main(["verify", str(sealed)])) == {"value": 1}
        assert "events.jsonl: is not a regular file (a FIFO)" in capsys.readouterr().out


class TestReadersSayItAndWaitNot:
    """``status`` and ``list`` waited for ever on a FIFO; ``report`` and ``prom`` too."""

    @pytest.fixture(name="fifo")
    def _fifo(self, sealed: Path) -> Path:
        (sealed / "events.jsonl").unlink()
        os.mkfifo(sealed / "events.jsonl")
        return sealed / "events.jsonl"

    def test_status_makes_it_the_problem(
        self, sealed: Path, fifo: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        outcome = without_waiting_on(fifo, lambda: main(["status", str(sealed)]))
        assert outcome == {"value": Verdict.NEEDS_OPERATOR.value}
        out = capsys.readouterr().out
        assert _said(sealed, "events.jsonl", "a FIFO") in out
        assert "position" not in out  # nothing was read: no "flat", no "none"
        status = run_status(sealed)
        assert (status.unread, status.to_json()["unread"]) == (True, True)

    def test_list_shows_it_needs_an_operator(
        self, sealed: Path, fifo: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        outcome = without_waiting_on(fifo, lambda: main(["list", str(sealed.parent)]))
        assert outcome == {"value": 0}
        assert "needs_operator" in capsys.readouterr().out

    @pytest.mark.parametrize("command", ["report", "prom", "evidence"])
    def test_the_other_readers_refuse_it_in_one_line(
        self,
        sealed: Path,
        fifo: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        command: str,
    ) -> None:
        before = _snapshot(tmp_path)
        outcome = without_waiting_on(fifo, lambda: main([command, str(sealed)]))
        assert outcome == {"value": 2}
        assert capsys.readouterr().err == (
            f"livesession: error: {_said(sealed, 'events.jsonl', 'a FIFO')}\n"
        )
        assert _snapshot(tmp_path) == before

    @pytest.mark.parametrize("name", ["checkpoint.json", "run.json", "events.jsonl"])
    def test_the_exporter_answers_503_and_waits_not(self, sealed: Path, name: str) -> None:
        """Found scraping every run of a desk's out/runs with ``make_exporter``: a
        ``checkpoint.json`` that is a FIFO held the scrape for ever (the exporter asked it
        whether the run had crashed), and a ``run.json`` that is one was answered ``200``,
        where ``livesession prom`` refuses both. Every such file is the one-line ``503``."""
        pytest.importorskip("prometheus_client")
        import wsgiref.util

        from livesession.prom import make_exporter

        (sealed / name).unlink()
        os.mkfifo(sealed / name)
        environ: dict[str, object] = {}
        wsgiref.util.setup_testing_defaults(environ)
        statuses: list[str] = []

        def scrape() -> bytes:
            app = make_exporter(sealed)
            return b"".join(app(environ, lambda status, *_: statuses.append(status)))

        outcome = without_waiting_on(sealed / name, scrape)
        assert statuses == ["503 Service Unavailable"]
        said = f"{sealed / name}: not a regular file (a FIFO)"
        assert outcome == {"value": f"livesession: cannot read the run {sealed}: {said}\n".encode()}

    def test_a_symlink_to_a_device_is_named_and_not_read(
        self, sealed: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``events.jsonl`` -> /dev/zero: status read until the memory ran out (here a
        stand-in that ends at once: /dev/null)."""
        (sealed / "events.jsonl").unlink()
        (sealed / "events.jsonl").symlink_to(os.devnull)
        assert main(["status", str(sealed)]) == Verdict.NEEDS_OPERATOR.value
        assert _said(sealed, "events.jsonl", "a symbolic link") in capsys.readouterr().out


class TestTheWriterLockIsAskedWithoutWaiting:
    """``dryrun --run-id`` of a run whose ``writer.lock`` is a FIFO waited for ever while it
    asked whether a writer held the run; a symlink there was asked through."""

    @pytest.mark.parametrize("kind", ["fifo", "symlink"])
    def test_dryrun_over_it_is_refused_at_once(
        self, sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
    ) -> None:
        lock = sealed / "writer.lock"
        lock.unlink()
        if kind == "fifo":
            os.mkfifo(lock)
        else:
            (tmp_path / "victim").write_bytes(b"kept\n")
            lock.symlink_to(tmp_path / "victim")
        argv = ["dryrun", "--out", str(sealed.parent), "--run-id", "done", "--steps", "5"]
        assert without_waiting_on(lock, lambda: main(argv)) == {"value": 2}
        assert "already exists and holds a finished run" in capsys.readouterr().err
        if kind == "symlink":
            assert (tmp_path / "victim").read_bytes() == b"kept\n"


class TestTheLastLineIsReadFromABoundedTail:
    def test_a_last_line_longer_than_the_bound_is_not_read_whole(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A file of one endless line was read whole to find its last line (status of a run
        whose events.jsonl is a huge file without a newline): now ``_LONGEST_TAIL`` at most."""
        monkeypatch.setattr(runread, "_TAIL_BYTES", 64)
        monkeypatch.setattr(runread, "_LONGEST_TAIL", 256)
        path = tmp_path / "state_snapshots.jsonl"
        path.write_bytes(b'{"found":1}\n' + b"x" * 1000 + b"\n")
        assert runread.last_whole_line(path) is None  # the object lies 1000 bytes back
        monkeypatch.setattr(runread, "_LONGEST_TAIL", 2048)
        assert runread.last_whole_line(path) == {"found": 1}

    def test_a_fifo_is_refused_unread(self, tmp_path: Path) -> None:
        fifo = tmp_path / "audit.jsonl"
        os.mkfifo(fifo)
        outcome = without_waiting_on(fifo, lambda: runread.last_whole_line(fifo))
        assert isinstance(outcome.get("error"), NotAFile), outcome
        assert outcome["error"].strerror == "not a regular file (a FIFO)"


def _to_lfs_pointer(path: Path) -> int:
    """``path`` replaced by the Git LFS pointer a clone without git-lfs holds; its size."""
    data = path.read_bytes()
    oid = hashlib.sha256(data).hexdigest()
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"
    path.write_text(pointer)
    return len(data)


def _lfs_said(run: Path, name: str, size: int, more: str = "") -> str:
    return (
        f"{run / name} is a Git LFS pointer to {size} bytes, not the file{more}: the run came "
        "out of a git repository without its LFS objects (a clone without git-lfs, or with "
        "GIT_LFS_SKIP_SMUDGE); nothing was read or written: fetch them (`git lfs pull` in the "
        "clone), then check it again"
    )


class TestAGitLfsPointer:
    """A run committed to a repository that keeps large files in Git LFS (GitHub takes no
    file over 100 MB), cloned without git-lfs: each such file is a pointer of some 130 bytes.
    ``verify`` said ``broken run: 17 violation(s)`` (``events.jsonl:1: not valid JSON``, a
    line each), ``status`` that the seal was not borne out, ``evidence`` NOT VERIFIED: damage,
    where the files were only not fetched. Each now names the pointer and the fetch."""

    def test_verify_names_each_pointer(
        self, sealed: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        size = _to_lfs_pointer(sealed / "events.jsonl")
        assert main(["verify", str(sealed)]) == 1
        out = capsys.readouterr().out.splitlines()
        assert (
            f"events.jsonl: is a Git LFS pointer to {size} bytes, not the file: the run came "
            "out of a git repository without its LFS objects (a clone without git-lfs, or with "
            "GIT_LFS_SKIP_SMUDGE): fetch it (`git lfs pull`)"
        ) in out
        assert not [line for line in out if "not valid JSON" in line]

    @pytest.mark.parametrize("command", ["report", "evidence", "prom"])
    def test_status_and_the_readers_say_it_in_one_line(
        self,
        sealed: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        command: str,
    ) -> None:
        size = _to_lfs_pointer(sealed / "audit.jsonl")
        _to_lfs_pointer(sealed / "events.jsonl")
        said = _lfs_said(sealed, "audit.jsonl", size, " (and 1 more)")
        standing = run_status(sealed)
        assert (standing.verdict, standing.problem) == (Verdict.NEEDS_OPERATOR, said)
        before = _snapshot(tmp_path)
        assert main([command, str(sealed)]) == 2
        assert capsys.readouterr().err == f"livesession: error: {said}\n"
        assert _snapshot(tmp_path) == before

    def test_resume_refuses_it_and_changes_nothing(
        self, crashed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        size = _to_lfs_pointer(crashed / "state_snapshots.jsonl")
        before = _snapshot(tmp_path)
        assert main(["resume", str(crashed), "-q"]) == 2
        err = capsys.readouterr().err
        assert err == f"livesession: error: {_lfs_said(crashed, 'state_snapshots.jsonl', size)}\n"
        assert _snapshot(tmp_path) == before

    def test_the_exporter_answers_503_naming_it(self, sealed: Path) -> None:
        pytest.importorskip("prometheus_client")
        import wsgiref.util

        from livesession.prom import make_exporter

        size = _to_lfs_pointer(sealed / "events.jsonl")
        environ: dict[str, object] = {}
        wsgiref.util.setup_testing_defaults(environ)
        statuses: list[str] = []
        app = make_exporter(sealed)
        body = b"".join(app(environ, lambda status, *_: statuses.append(status)))
        assert statuses == ["503 Service Unavailable"]
        assert body.decode() == (
            f"livesession: cannot read the run {sealed}: {sealed / 'events.jsonl'}: a Git LFS "
            f"pointer to {size} bytes, not the file: the run came out of a git repository "
            "without its LFS objects (a clone without git-lfs, or with GIT_LFS_SKIP_SMUDGE): "
            "fetch it (`git lfs pull`)\n"
        )

    def test_a_small_file_that_is_no_pointer_is_the_runs(self, sealed: Path) -> None:
        (sealed / "writer.lock").write_text("version https://git-lfs.github.com/spec/v2\n")
        assert run_status(sealed).verdict is Verdict.COMPLETED
        assert main(["verify", str(sealed)]) == 0


def _to_annex_link(run: Path, name: str, repository: Path) -> None:
    """``run/name`` made what ``git annex add`` makes of it: a link into the annex's objects."""
    objects = repository / ".git" / "annex" / "objects" / "Xy" / "Zw"
    objects.mkdir(parents=True, exist_ok=True)
    (run / name).rename(objects / name)
    (run / name).symlink_to(os.path.relpath(objects / name, run))


class TestAGitAnnexLink:
    """A run kept with ``git annex add`` (each file a symlink into ``.git/annex/objects``) and
    cloned: every tool refused it as it refuses a symlink planted by someone, ``keep the run
    as it is and find out who changed it``. The link is still never followed; it is said as
    the annex's, with the way to make the files files."""

    def test_verify_and_status_say_whose_link_it_is(
        self, sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _to_annex_link(sealed, "events.jsonl", tmp_path)
        assert main(["verify", str(sealed)]) == 1
        assert (
            "events.jsonl: is not a regular file (a symbolic link into git-annex's objects): "
            "the run came out of a git-annex repository, which keeps a file as a link: make "
            "it a file (`git annex get`, then `git annex unlock`)"
        ) in capsys.readouterr().out.splitlines()
        assert run_status(sealed).problem == (
            f"{sealed / 'events.jsonl'} is not a regular file (a symbolic link into git-annex's "
            "objects): the run came out of a git-annex repository, which keeps a file as a "
            "link; nothing was read or written: make them files (`git annex get`, then `git "
            "annex unlock`, or a copy of the run made with `cp -rL`), then check it again"
        )

    def test_resume_refuses_it_and_changes_nothing(
        self, crashed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _to_annex_link(crashed, "audit.jsonl", tmp_path)
        before = _snapshot(tmp_path)
        assert main(["resume", str(crashed), "-q"]) == 2
        assert "(a symbolic link into git-annex's objects)" in capsys.readouterr().err
        assert _snapshot(tmp_path) == before
