"""A crashed run on a run directory that cannot be written (read-only media, another user's).

`status` advised `livesession resume DIR`, which then failed with `DIR: cannot open
writer.lock: Read-only file system` (exit 2). Now `status` says the directory cannot be
written and what makes it writable (`needs_operator`, exit 5: a person must act), `resume`
says the same before it reads anything, and so do `stop`, `kill` and `ack`; the commands
that only read the run (`verify`, `report --output`, `prom --output`, `evidence --out`
elsewhere) still work. Tests run as root, for whom a mode stops nothing: the refusal is
injected as the system gives it (`statvfs`'s read-only flag, `access`, and `EROFS` or
`EACCES` from any write into the run directory).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import types
from pathlib import Path

import orjson
import pytest

from livesession import evidence
from livesession._support import oserrors
from livesession.cli import main
from livesession.status import Verdict, run_status

from _ccxt_route import tree
from _helpers import held_by_a_child
from crash_harness import KILLED, Profile, dryrun

_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_REMOUNT = "remount its file system read-write"
_PERMIT = "give this user write permission to it (or resume as the user who owns it)"


@pytest.fixture(name="template", scope="module")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ro-template")
    profile = Profile(name="ro", seed=3)
    assert dryrun(profile, out, crash_at="write_events:120").returncode == KILLED
    return out / profile.name


@pytest.fixture(name="run")
def _run(template: Path, tmp_path: Path) -> Path:
    run = tmp_path / "ro"
    shutil.copytree(template, run)
    return run


def _unwritable(monkeypatch: pytest.MonkeyPatch, run: Path, code: int) -> None:
    """Make ``run`` refuse every write with ``code``, as a read-only mount or mode does."""
    real_statvfs, real_access, real_open = os.statvfs, os.access, os.open

    def statvfs(path: os.PathLike[str] | str) -> object:
        found = real_statvfs(path)
        if code == errno.EROFS and Path(path) == run:
            return types.SimpleNamespace(f_flag=found.f_flag | os.ST_RDONLY)
        return found

    def access(path: os.PathLike[str] | str, mode: int, **kwargs: object) -> bool:
        if Path(path) == run and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)  # type: ignore[arg-type]

    def opened(path: os.PathLike[str] | str, flags: int, *args: object, **kwargs: object) -> int:
        if Path(path).parent == run and flags & _WRITES:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "statvfs", statvfs)
    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "open", opened)


@pytest.fixture(name="read_only")
def _read_only(run: Path, monkeypatch: pytest.MonkeyPatch):
    """``run`` on a read-only file system; made writable again and resumed at the end."""
    _unwritable(monkeypatch, run, errno.EROFS)
    yield run
    monkeypatch.undo()
    assert main(["resume", str(run), "-q"]) == 0  # writable again: it continues, and verifies


def _way_out(run: Path, why: str, how: str) -> str:
    return (
        f"the run directory cannot be written ({why}), and a resume writes into it: {how}, "
        f"then `livesession resume {run}` continues it"
    )


def test_status_says_the_directory_cannot_be_written(read_only, capsys) -> None:
    """Not `crashed` (exit 6, which a supervisor resumes): a person must make it writable."""
    said = run_status(read_only)
    assert said.verdict is Verdict.NEEDS_OPERATOR
    assert not said.resumable
    assert said.resume_problem == _way_out(read_only, "Read-only file system", _REMOUNT)
    assert main(["status", str(read_only)]) == 5
    out = capsys.readouterr().out
    assert f"resumable   no: {said.resume_problem}\n" in out
    assert "continue it: livesession resume" not in out
    assert main(["status", str(read_only), "--json"]) == 5
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["verdict"] == "needs_operator"
    assert said.resume_problem in shown["next"]


def test_status_of_a_writable_copy_is_unchanged(run) -> None:
    said = run_status(run)
    assert said.verdict is Verdict.CRASHED
    assert said.resumable
    assert main(["resume", str(run), "-q"]) == 0


def _resume_refused(run: Path, monkeypatch, capsys, code: int, said: str) -> None:
    """``resume`` of ``run`` refusing writes with ``code`` exits 2 with ``said``, unchanged."""
    before = tree(run)
    _unwritable(monkeypatch, run, code)
    assert main(["resume", str(run)]) == 2
    monkeypatch.undo()
    assert capsys.readouterr().err == f"livesession: error: {said}\n"
    assert tree(run) == before


@pytest.mark.parametrize(
    "refusal",
    [
        (errno.EROFS, "Read-only file system", _REMOUNT),
        (errno.EACCES, "Permission denied", _PERMIT),
    ],
)
def test_resume_says_so_and_changes_nothing(run, monkeypatch, capsys, refusal) -> None:
    """It said `DIR: cannot open writer.lock: Read-only file system`."""
    code, why, how = refusal
    said = f"cannot resume {run} (nothing was changed): {_way_out(run, why, how)}"
    _resume_refused(run, monkeypatch, capsys, code, said)
    assert main(["resume", str(run), "-q"]) == 0


def test_an_immutable_run_directory_is_said_so(run, monkeypatch, capsys) -> None:
    """`chattr +i DIR` (root too meets EPERM, and `access` says no): `resume` and `status`
    said `Permission denied` and `give this user write permission to it`, which changes
    nothing; the run's own line said `once the run directory is writable again
    (permission denied: make it writable)`."""
    how = (
        "it is immutable or append-only (`lsattr -d` shows it): clear that as root (`chattr -i -a`)"
    )
    said = f"cannot resume {run} (nothing was changed): {_way_out(run, 'Operation not permitted', how)}"
    with monkeypatch.context() as flagged:
        flagged.setattr(oserrors, "attribute_refuses", lambda path: Path(path) == run)
        _resume_refused(run, flagged, capsys, errno.EPERM, said)
    assert oserrors.once_fixed(errno.EPERM) == (
        "the run directory is writable again (operation not permitted: an immutable or "
        "append-only attribute refuses it, as `lsattr` shows: `chattr -i -a`, as root; else "
        "make it writable)"
    )
    assert main(["resume", str(run), "-q"]) == 0


def test_an_append_only_events_file_is_not_called_resumable(run, monkeypatch, capsys) -> None:
    """`chattr +a events.jsonl` (as root): `access` says yes of it, so `status` said
    `resumable   yes` (exit 6), and `resume` then failed opening it to cut it back to the
    checkpoint (EPERM). The flags are read as the run directory's are (`attribute_refuses`,
    injected here): status says no, with the `chattr -a` that fixes it, and resume refuses
    before it changes anything."""
    events = run / "events.jsonl"
    how = (
        "it is immutable or append-only (`lsattr` shows it), which refuses its cut back to the "
        f"checkpoint: clear that as root (`chattr -i -a {events}`)"
    )
    problem = (
        f"its events.jsonl cannot be written (Operation not permitted), and a resume writes "
        f"into it: {how}, then `livesession resume {run}` continues it"
    )
    before = tree(run)
    with monkeypatch.context() as flagged:
        flagged.setattr(oserrors, "attribute_refuses", lambda path: Path(path) == events)
        said = run_status(run)
        assert (said.verdict, said.resumable, said.resume_problem) == (
            Verdict.NEEDS_OPERATOR,
            False,
            problem,
        )
        assert main(["status", str(run)]) == 5
        assert f"resumable   no: {problem}\n" in capsys.readouterr().out
        assert main(["resume", str(run), "-q"]) == 2
        assert capsys.readouterr().err == (
            f"livesession: error: cannot resume {run} (nothing was changed): {problem}\n"
        )
    assert tree(run) == before
    assert main(["resume", str(run), "-q"]) == 0


@pytest.mark.parametrize("verb", ["stop", "kill", "ack"])
def test_stop_kill_and_ack_say_so(read_only, capsys, verb) -> None:
    """They said `continue it with `livesession resume DIR``, which would fail."""
    assert main([verb, str(read_only)]) == 8
    err = capsys.readouterr().err
    assert err == (
        f"livesession: {verb}: nothing holds {read_only}: unfinished (no C2_DRYRUN_STOP): "
        f"{_way_out(read_only, 'Read-only file system', _REMOUNT)}\n"
    )


def test_the_readers_work(read_only, tmp_path, capsys) -> None:
    """verify, and report, prom and evidence written elsewhere, read a read-only run."""
    before = tree(read_only)
    assert main(["verify", str(read_only), "--json"]) == 1  # unsealed: incomplete
    summary = orjson.loads(capsys.readouterr().out)["summary"]
    assert summary.endswith(_way_out(read_only, "Read-only file system", _REMOUNT))
    assert main(["report", str(read_only), "--output", str(tmp_path / "r.html")]) == 0
    assert main(["prom", str(read_only), "--output", str(tmp_path / "r.prom")]) == 0
    assert (tmp_path / "r.html").stat().st_size
    assert (tmp_path / "r.prom").stat().st_size
    assert tree(read_only) == before


def test_evidence_elsewhere_says_why_it_is_not_resumed(read_only, tmp_path, capsys) -> None:
    """FAIL for the seal alone: a crash is not re-run for determinism (no whole run to match).

    A crash resume could not continue was re-run and compared with the cut-off run: a
    `MISMATCH` that said nothing of the run.
    """
    before = tree(read_only)
    assert main(["evidence", str(read_only), "--out", str(tmp_path / "ev"), "--json"]) == 1
    shown = orjson.loads(capsys.readouterr().out)
    manifest = orjson.loads((tmp_path / "ev" / "manifest.json").read_bytes())
    assert manifest["determinism"]["status"] == "not_applicable"
    reason = _way_out(read_only, "Read-only file system", _REMOUNT)
    assert f"the run is not sealed and cannot be resumed ({reason})" in str(shown)
    assert "determinism re-run does not match" not in str(shown)
    # How the run ended says the same way out, not "resume it", which fails here.
    said = f"NOT SEALED: it crashed or was cut short, and cannot be resumed here: {reason}; then"
    assert shown["run_outcome"] == f"{said} write its evidence again"
    assert manifest["run_ended"]["said"] == shown["run_outcome"]
    assert tree(read_only) == before


def test_evidence_of_a_reviewers_read_only_copy_says_how_it_resumes(
    run, tmp_path, monkeypatch, capsys
) -> None:
    """A copy made read-only (`chmod -R a-w`) said `NOT SEALED: it crashed or was cut short:
    resume it, then write its evidence again`, beside its own problem line saying the run
    cannot be resumed there."""
    _unwritable(monkeypatch, run, errno.EACCES)
    assert main(["evidence", str(run), "--out", str(tmp_path / "ev")]) == 1
    monkeypatch.undo()
    out = capsys.readouterr().out
    reason = _way_out(run, "Permission denied", _PERMIT)
    assert (
        f"run       NOT SEALED: it crashed or was cut short, and cannot be resumed here: {reason};"
        " then write its evidence again\n"
    ) in out
    assert "resume it, then" not in out
    assert main(["evidence", str(run), "--out", str(tmp_path / "ev2")]) == 1  # writable again
    assert (
        "run       NOT SEALED: it crashed or was cut short: resume it, then write its evidence"
        " again\n"
    ) in capsys.readouterr().out
    assert main(["resume", str(run), "-q"]) == 0  # and it continues, and verifies


def test_the_apis_evidence_into_a_read_only_run_is_refused_before_the_work(
    read_only, monkeypatch
) -> None:
    """`write_evidence(RUN)` of a read-only run verified it, re-ran it whole (seconds, or
    minutes for a long run) and only then raised `[Errno 30] Read-only file system:
    'RUN/manifest.json'`. It is refused before the work now, saying the way out."""

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the work started")

    monkeypatch.setattr(evidence.Rerun, "start", never)
    before = tree(read_only)
    with pytest.raises(OSError) as refused:
        evidence.write_evidence(read_only)
    assert refused.value.errno == errno.EROFS
    assert str(refused.value) == (
        f"[Errno 30] Read-only file system: write the bundle elsewhere (out_dir): '{read_only}'"
    )
    assert tree(read_only) == before


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_resume_of_a_sealed_run_says_there_is_nothing_to_resume(run, monkeypatch, capsys, code):
    """Bug: `cannot resume DIR: the run directory cannot be written ...: remount its file
    system read-write, then `livesession resume DIR` continues it`, of a run sealed
    COMPLETED: remounted, that resume found nothing to resume. Now it says so at once."""
    assert main(["resume", str(run), "-q"]) == 0  # sealed COMPLETED
    said = (
        "nothing to resume: run ro already ended with status COMPLETED "
        f"(`livesession verify {run}` checks it, `livesession report {run}` shows it)"
    )
    _resume_refused(run, monkeypatch, capsys, code, said)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_resume_of_a_run_another_process_writes_says_it_is_held(run, monkeypatch, capsys, code):
    """Bug: a reviewer's `resume` of another user's live run (or of one on a read-only
    mount) said `the run directory cannot be written (Permission denied) ...: give this
    user write permission to it ..., then `livesession resume DIR` continues it` (exit 2)
    while the run's writer was running. Now it names the writer (exit 3), as it does to the
    run's owner, and changes nothing."""
    with held_by_a_child(run, "livesession dryrun") as child:
        before = tree(run)
        _unwritable(monkeypatch, run, code)
        assert main(["resume", str(run)]) == 3
        monkeypatch.undo()
        err = capsys.readouterr().err
        assert err.startswith(f"livesession: rejected: {run} is being written by pid {child.pid} ")
        assert "nothing was changed" in err
        assert "cannot be written" not in err
        assert tree(run) == before
    assert main(["resume", str(run), "-q"]) == 0  # its writer gone: it continues, and verifies


def test_the_refusal_of_another_users_live_run_names_who_may_stop_it(
    run, monkeypatch, capsys
) -> None:
    """`... or stop it with `livesession stop DIR``, which this user's `stop` then refuses
    (`run this command as desk`): the advice names that user now. The writer runs as root
    here; this process is made another user by its effective uid."""
    with held_by_a_child(run, "livesession dryrun"):
        _unwritable(monkeypatch, run, errno.EACCES)
        monkeypatch.setattr(os, "geteuid", lambda: 4242)
        assert main(["resume", str(run)]) == 3
        monkeypatch.undo()
    err = capsys.readouterr().err
    assert err.endswith(f"or stop it with `livesession stop {run}` as root)\n")
    assert main(["resume", str(run), "-q"]) == 0


_STOPPED_WRITING = (
    "its file system stopped writing after an error, mounted read-write all the same (the "
    "kernel's log says which): unmount it, check it (fsck) and mount it again"
)


def test_a_file_system_that_stopped_writing_is_said_so(run, monkeypatch, capsys) -> None:
    """Bug: ext4 mounted ``errors=remount-ro`` that met an error (Linux 6 marks it
    ``emergency_ro``) still says read-write to ``statvfs`` and ``access``, and only a write
    meets ``EROFS``: `status` said `resumable yes` (exit 6) and `resume` failed with `DIR:
    cannot open writer.lock: Read-only file system`. Injected as that kernel gives it: the
    mount's flags and ``access`` say writable, every open to write says ``EROFS``.
    tests/test_real_mounts.py meets it on a real file system."""
    before = tree(run)
    real_open = os.open

    def opened(path: os.PathLike[str] | str, flags: int, *args: object, **kwargs: object) -> int:
        if Path(path).parent == run and flags & _WRITES:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", opened)
    assert not os.statvfs(run).f_flag & os.ST_RDONLY
    assert os.access(run, os.W_OK)
    way_out = _way_out(run, "Read-only file system", _STOPPED_WRITING)
    said = run_status(run)
    assert (said.verdict, said.resume_problem) == (Verdict.NEEDS_OPERATOR, way_out)
    assert main(["resume", str(run)]) == 2
    assert capsys.readouterr().err == (
        f"livesession: error: cannot resume {run} (nothing was changed): {way_out}\n"
    )
    assert main(["stop", str(run)]) == 8
    assert capsys.readouterr().err.endswith(f"unfinished (no C2_DRYRUN_STOP): {way_out}\n")
    monkeypatch.undo()
    assert tree(run) == before
    assert main(["resume", str(run), "-q"]) == 0  # writing again: it continues, and verifies


def _chattr(flag: str, path: Path) -> bool:
    """``chattr flag path`` as this user may (root, on a file system with the flags)."""
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False, timeout=30)
    return done.returncode == 0


def _flagged(monkeypatch: pytest.MonkeyPatch, path: Path, flags: int) -> None:
    """``path``'s inode flags read as ``flags`` (0x10 immutable, 0x20 append-only)."""
    real = oserrors.inode_flags
    monkeypatch.setattr(oserrors, "inode_flags", lambda at: flags if Path(at) == path else real(at))


def test_an_append_only_session_log_is_resumable(run, monkeypatch, capsys) -> None:
    """Bug: `chattr +a session.log.jsonl` made status say `resumable   no: its
    session.log.jsonl cannot be written (Operation not permitted) ... which refuses its cut
    back to the checkpoint`: a resume never cuts the session log (nor metrics.ndjson,
    alerts.jsonl), it only appends to them (`O_APPEND`), which append-only allows. Status
    says yes now; an immutable one (`+i`) stays refused."""
    log = run / "session.log.jsonl"
    if _chattr("+a", log):  # the flag itself, where this user may set it: the truth
        try:
            before = log.stat().st_size
            assert main(["status", str(run)]) == 6
            assert "resumable   yes\n" in capsys.readouterr().out
            assert main(["resume", str(run), "-q"]) == 0  # appended to, as status said
            assert log.stat().st_size > before
        finally:
            _chattr("-a", log)
        return
    with monkeypatch.context() as flagged:  # elsewhere, the flags as the ioctl gives them
        _flagged(flagged, log, 0x20)
        assert run_status(run).resumable
        assert main(["resume", str(run), "-q"]) == 0  # as status said: not refused


def test_an_immutable_session_log_is_not_called_resumable(run, monkeypatch) -> None:
    """Immutable (`chattr +i`), the session log takes no line: refused, and said why."""
    log = run / "session.log.jsonl"
    with monkeypatch.context() as flagged:
        _flagged(flagged, log, 0x10)
        said = run_status(run)
    assert not said.resumable
    assert said.resume_problem == (
        "its session.log.jsonl cannot be written (Operation not permitted), and a resume "
        "writes into it: it is immutable or append-only (`lsattr` shows it), which refuses "
        f"its lines: clear that as root (`chattr -i -a {log}`), then `livesession resume "
        f"{run}` continues it"
    )
    assert main(["resume", str(run), "-q"]) == 0


@pytest.mark.parametrize("name", ["metrics.json", "checkpoint.json"])
def test_an_append_only_file_a_resume_replaces_is_not_called_resumable(
    run, monkeypatch, capsys, name
) -> None:
    """Bug: `chattr +a metrics.json` (or checkpoint.json) left status saying `resumable
    yes`, and the resume then cut the files back and stepped on until it renamed a new
    metrics.json over the old (`the metrics sink failed writing ... Operation not
    permitted: ... -> metrics.json`): unsealed again. A rename over an immutable or
    append-only file is refused whatever its mode: status says no, and resume refuses
    before it changes anything."""
    path = run / name
    problem = (
        f"its {name} cannot be replaced (Operation not permitted), and a resume writes a new "
        "one over it: it is immutable or append-only (`lsattr` shows it), which refuses that: "
        f"clear that as root (`chattr -i -a {path}`), then `livesession resume {run}` "
        "continues it"
    )
    before = tree(run)
    if _chattr("+a", path):  # the flag itself, where this user may set it: the truth
        try:
            assert main(["status", str(run)]) == 5
            assert f"resumable   no: {problem}\n" in capsys.readouterr().out
            assert main(["resume", str(run), "-q"]) == 2
            assert capsys.readouterr().err == (
                f"livesession: error: cannot resume {run} (nothing was changed): {problem}\n"
            )
        finally:
            _chattr("-a", path)
    with monkeypatch.context() as flagged:  # elsewhere too, the flags as the ioctl gives them
        _flagged(flagged, path, 0x20)
        said = run_status(run)
        assert (said.verdict, said.resumable, said.resume_problem) == (
            Verdict.NEEDS_OPERATOR,
            False,
            problem,
        )
    assert tree(run) == before
    assert main(["resume", str(run), "-q"]) == 0
