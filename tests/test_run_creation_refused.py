"""A dryrun the host refuses at its start: one line naming the cause, nothing left behind.

Bugs: under ``ulimit -n 8`` ``livesession dryrun`` took every ``RunDirectoryError`` for
another dryrun having taken its run id, tried the next twenty and said ``no free run id in
OUT after 20 tries``, leaving demo-001 … demo-020 half written (``create_run`` could not
remove them: the files its session had opened were still open). With ``--run-id`` it said
``unable to open database file (is it a SQLite file on a local disk?)`` and left the
directory; under ``ulimit -n 12`` an import named structlog's ``__init__.py`` and left a run
directory that never ran. A dangling or looping symlink given as ``--out`` was said to be a
run directory that ``already exists``. A run directory deeper than SQLite opens a database
in (its path over 504 bytes, where the system takes 4096) was told ``(is it a SQLite file
on a local disk?)``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from livesession import DryrunConfig, RunDirectoryError, create_run
from livesession._rundir import create
from livesession.cli import main
from livesession.stores import SqliteIdempotencyStore
from livesession.stores import sqlite as sqlite_store
from livesession.verify import verify_run

from _helpers import campaign, cli_under

resource = pytest.importorskip("resource")  # POSIX

_FDS = Path("/proc/self/fd")
_EMFILE = "Too many open files"
_ULIMIT = "raise the open-file limit (`ulimit -n`)"


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def _open_under(directory: Path) -> list[str]:
    """The files under ``directory`` this process holds open now."""
    held = []
    for fd in _FDS.iterdir():
        try:
            target = fd.readlink()
        except OSError:  # closed since the listing (the listing's own descriptor)
            continue
        if target.is_relative_to(directory):
            held.append(str(target))
    return held


# -- only a taken run id moves dryrun to the next one ---------------------------------------


def test_a_failure_that_is_no_id_collision_stops_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failure that leaves its directory (it could not be removed) is not another
    dryrun's id: dryrun used to take the next id, twenty times, and leave all twenty."""
    out = tmp_path / "runs"
    tried: list[str] = []

    def failing(cfg: DryrunConfig, out_dir: Path, **_: Any) -> None:
        tried.append(cfg.run_id)
        (Path(out_dir) / cfg.run_id).mkdir(parents=True)
        raise RunDirectoryError(f"cannot open idempotency database {cfg.run_id}: {_EMFILE}")

    monkeypatch.setattr(create, "create_run", failing)
    assert main(["dryrun", "--out", str(out), "--steps", "20", "--json"]) == 2
    captured = capsys.readouterr()
    assert tried == ["demo-001"]
    said = json.loads(captured.out)["error"]
    assert said == f"cannot open idempotency database demo-001: {_EMFILE}"
    assert captured.err == f"livesession: error: {said}\n"


@pytest.mark.skipif(not _FDS.is_dir(), reason="needs /proc/self/fd")
def test_a_run_not_built_holds_no_file_open_while_it_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store refused (no file descriptor left): the artifact files, the journal and the
    lock opened before it are closed before create_run removes the run directory, which a
    process out of descriptors could not do while it held them."""
    from livesession._rundir import session

    out = tmp_path / "runs"
    held_at_removal: list[list[str]] = []
    real_rmtree = create.shutil.rmtree

    def refused(*_: object, **__: object) -> None:
        raise OSError(errno.EMFILE, _EMFILE, str(out / "r" / "idempotency.sqlite"))

    def rmtree(path: Path, **kwargs: Any) -> None:
        held_at_removal.append(_open_under(out))
        real_rmtree(path, **kwargs)

    monkeypatch.setattr(session, "open_store", refused)
    monkeypatch.setattr(create.shutil, "rmtree", rmtree)
    with pytest.raises(RunDirectoryError) as caught:
        create_run(DryrunConfig(run_id="r", steps=20), out)
    assert held_at_removal == [[]]
    assert str(caught.value) == (
        f"cannot create run {out / 'r'}: {_EMFILE} ({out / 'r' / 'idempotency.sqlite'}): "
        f"{_ULIMIT}; nothing was left behind"
    )
    assert _tree(out) == []


def test_a_directory_it_may_not_write_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """mkdir refused (EACCES; as root chmod stops nothing, so it is injected): the line
    says which directory to make writable."""
    out = tmp_path / "ro" / "runs"
    real_mkdir = os.mkdir

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).is_relative_to(tmp_path / "ro"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        real_mkdir(path, *args, **kwargs)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(os, "mkdir", mkdir)
    assert main(["dryrun", "--out", str(out), "-q"]) == 2
    assert capsys.readouterr().err == (
        f"livesession: error: cannot create run directory {out / 'demo-001'}: Permission "
        f"denied: make {tmp_path / 'ro'} writable\n"
    )
    assert _tree(tmp_path / "ro") == []


# -- a real open-file limit -------------------------------------------------------------------


def _cli(*args: str | Path, nofile: int | None = None) -> subprocess.CompletedProcess[str]:
    return cli_under(*args, limit=None if nofile is None else (resource.RLIMIT_NOFILE, nofile))


@pytest.mark.broken_run("the open-file limit refuses the run on purpose; it is resumed after")
@pytest.mark.parametrize("nofile", campaign(range(6, 16), (6, 9, 12, 15)))
def test_an_open_file_limit_refuses_in_one_line_and_leaves_no_half_run(
    tmp_path: Path, nofile: int
) -> None:
    """Whatever the limit meets: refused before the run (one line, nothing left behind), a
    run left unsealed that ``resume`` finishes once the limit is raised, or a clean run."""
    out = tmp_path / "runs"
    done = _cli("dryrun", "--out", out, "--steps", "30", "--json", "-q", nofile=nofile)
    if done.returncode == 0:
        assert verify_run(out / "demo-001").ok
        return
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert json.loads(done.stdout)["error"] == line.removeprefix("livesession: error: ")
    assert _EMFILE in line, line
    assert "`ulimit -n`" in line, line
    assert "is it a SQLite file" not in line
    if "the run is not sealed" not in line:
        assert _tree(out) == [], line  # nothing was left behind
        return
    run_dir = out / "demo-001"
    assert [path.name for path in out.iterdir()] == ["demo-001"]
    assert _cli("status", run_dir).returncode == 6  # crashed: resumable
    resumed = _cli("resume", run_dir, "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert verify_run(run_dir).ok


# -- SQLite names the cause it hides ---------------------------------------------------------


def test_sqlite_out_of_descriptors_says_so(tmp_path: Path) -> None:
    """Two descriptors left: SQLite's ``unable to open database file`` gets its cause."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    held: list[int] = []
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 256), hard))
    try:
        try:
            while True:
                held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        for _ in range(2):
            os.close(held.pop())
        with pytest.raises(RunDirectoryError) as caught:
            SqliteIdempotencyStore(tmp_path / "idempotency.sqlite")
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert str(caught.value) == (
        f"cannot open idempotency database {tmp_path / 'idempotency.sqlite'}: unable to open "
        f"database file ({_EMFILE}: {_ULIMIT})"
    )


def test_sqlite_hint_only_where_the_file_is_suspect(tmp_path: Path) -> None:
    """No directory to hold it: that is said, not a foreign file or a network disk."""
    path = tmp_path / "missing" / "idempotency.sqlite"
    with pytest.raises(RunDirectoryError) as caught:
        SqliteIdempotencyStore(path)
    assert str(caught.value) == (
        f"cannot open idempotency database {path}: unable to open database file (No such "
        "file or directory)"
    )
    foreign = tmp_path / "foreign.sqlite"
    foreign.write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(RunDirectoryError, match=r"\(is it a SQLite file on a local disk\?\)$"):
        SqliteIdempotencyStore(foreign)


def _deep(base: Path, size: int, name: str) -> Path:
    """``base/.../name``, made down to its directory, whose real path is ``size`` bytes."""
    parts, room = [], size - len(os.fsencode(base.resolve())) - len(name) - 1
    while room > 0:
        part = room - 1 if room <= 201 else 100  # "/" and the name: 101 bytes a part
        parts.append("d" * part)
        room -= part + 1
    path = base.resolve().joinpath(*parts, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert len(os.fsencode(path)) == size
    return path


_TOO_LONG = (
    "unable to open database file (its path is {size} bytes, its symlinks resolved, and "
    "SQLite opens none longer than 504: put the run where its path is shorter, or keep its "
    "client order ids in a JSONL file (`--idempotency-backend jsonl`, "
    "idempotency_backend='jsonl' from Python))"
)


def test_sqlite_path_too_long_says_so(tmp_path: Path) -> None:
    """SQLite takes 504 bytes of path (512 with its ``-journal``), resolved; past it, says so."""
    SqliteIdempotencyStore(_deep(tmp_path / "a", 504, "idempotency.sqlite")).close()
    path = _deep(tmp_path / "b", 505, "idempotency.sqlite")
    with pytest.raises(RunDirectoryError) as caught:
        SqliteIdempotencyStore(path)
    assert str(caught.value) == f"cannot open idempotency database {path}: " + _TOO_LONG.format(
        size=505
    )
    # Given through a short symlink, the path SQLite measures is the one it leads to.
    (tmp_path / "short").symlink_to(path.parent)
    with pytest.raises(RunDirectoryError, match=re.escape(_TOO_LONG.format(size=505))):
        SqliteIdempotencyStore(tmp_path / "short" / "idempotency.sqlite")


def _refused_to_open(
    path: Path, monkeypatch: pytest.MonkeyPatch, code: int, said: str
) -> RunDirectoryError:
    """What opening a store at ``path`` raises when SQLite refuses with ``code``."""
    error = sqlite3.OperationalError(said)
    error.sqlite_errorcode = code

    def refuse(*_args: object, **_kwargs: object) -> sqlite3.Connection:
        raise error

    monkeypatch.setattr(sqlite_store, "connect", refuse)
    with pytest.raises(RunDirectoryError) as caught:
        SqliteIdempotencyStore(path)
    return caught.value


def test_a_file_beside_the_database_it_cannot_write_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its write-ahead log there already, but no file it can open to write: that is said."""
    path = tmp_path / "idempotency.sqlite"
    path.with_name("idempotency.sqlite-wal").mkdir()
    refused = _refused_to_open(path, monkeypatch, 14, "unable to open database file")
    assert str(refused) == (
        f"cannot open idempotency database {path}: unable to open database file (Is a directory)"
    )


@pytest.mark.parametrize(
    ("code", "said", "size"),
    [
        (14, "unable to open database file", 504),  # the longest SQLite opens
        (15, "locking protocol", 505),  # SQLITE_PROTOCOL, one bit from SQLITE_CANTOPEN
    ],
)
def test_the_path_is_blamed_only_for_a_refusal_to_open_past_its_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, said: str, size: int
) -> None:
    path = _deep(tmp_path, size, "idempotency.sqlite")
    assert str(_refused_to_open(path, monkeypatch, code, said)) == (
        f"cannot open idempotency database {path}: {said} (is it a SQLite file on a local disk?)"
    )


def test_a_run_too_deep_for_sqlite_is_refused_in_one_line_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _deep(tmp_path, 520, "runs")  # idempotency.sqlite: 520 + len("/r1/...") bytes
    out.mkdir()
    argv = ["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "5", "-q"]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    database = out / "r1" / "idempotency.sqlite"
    size = len(os.fsencode(database))
    assert line == (
        f"livesession: error: cannot open idempotency database {database}: "
        + _TOO_LONG.format(size=size)
    )
    assert _tree(out) == []
    assert main([*argv, "--idempotency-backend", "jsonl"]) == 0  # the way out it names


# -- a symlink that leads nowhere ------------------------------------------------------------


_LOOP = "loop is a symlink loop (Too many levels of symbolic links): point it at a directory"
_BROKEN = "{link} is a broken symlink: it points to {nowhere}, which does not exist: {fix}"
_MAKE_IT = "create {nowhere}, or point dangling at a directory"


@pytest.mark.parametrize(
    ("out", "link", "fix"),
    [
        ("dangling", "dangling", _MAKE_IT),
        ("dangling/deeper", "dangling", _MAKE_IT),  # mkdir's parents meet it
        ("loop", "loop", ""),
        ("real", "real/abc", "choose another --run-id, or remove it"),  # the run's own
    ],
)
def test_a_symlink_that_leads_nowhere_is_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *,
    out: str,
    link: str,
    fix: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    nowhere = tmp_path / "nowhere"
    Path("real").mkdir()
    if link == "loop":
        Path("loop").symlink_to("loop")
    else:
        Path(link).symlink_to(nowhere)
    before = _tree(tmp_path)
    assert main(["dryrun", "--out", out, "--run-id", "abc", "-q"]) == 2
    said = _LOOP if link == "loop" else _BROKEN.format(link=link, nowhere=nowhere, fix=fix)
    expected = f"cannot create run directory {Path(out) / 'abc'}: " + said.format(nowhere=nowhere)
    assert capsys.readouterr() == ("", f"livesession: error: {expected}\n")
    assert _tree(tmp_path) == before  # nothing written, the link's target not made


@pytest.mark.parametrize("chain", [False, True])
def test_a_relative_or_chained_symlink_names_what_to_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], chain: bool
) -> None:
    """Bug: ``--out desk/runs``, ``desk/runs`` a symlink ``../nowhere`` (or ``../latest``, a
    symlink to ``/mnt/gone``), advised ``create ../nowhere`` (``create ../latest``): read
    from the current folder, not the link's, and in the chain a link that is there. The
    missing end is named, from where the user stands."""
    monkeypatch.chdir(tmp_path)
    Path("desk").mkdir()
    Path("desk/runs").symlink_to("../latest" if chain else "../nowhere")
    if chain:
        Path("latest").symlink_to(tmp_path / "gone")
    before = _tree(tmp_path)
    assert main(["dryrun", "--out", "desk/runs/x", "--run-id", "abc", "-q"]) == 2
    lead = f"../latest, leading to {tmp_path / 'gone'}" if chain else "../nowhere"
    create = tmp_path / "gone" if chain else "nowhere"
    assert capsys.readouterr() == (
        "",
        (
            "livesession: error: cannot create run directory desk/runs/x/abc: desk/runs is a "
            f"broken symlink: it points to {lead}, which does not exist: create {create}, or point "
            "desk/runs at a directory\n"
        ),
    )
    assert _tree(tmp_path) == before


def test_a_refused_start_takes_away_every_directory_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/data.md and docs/plugins.md: a data file or a reference refused exits 2 with
    nothing written. The run directory and ``--out`` were taken away again, but not the
    directories made on the way to ``--out``: ``livesession dryrun --feed csv:missing.csv``
    in a fresh directory left an empty ``out/`` (the default ``--out`` is ``out/runs``)."""
    missing = tmp_path / "missing.csv"
    out = tmp_path / "fresh" / "out" / "runs"
    assert main(["dryrun", "--out", str(out), "--feed", f"csv:{missing}", "-q"]) == 2
    assert "cannot open data file" in capsys.readouterr().err
    assert _tree(tmp_path) == []
    monkeypatch.chdir(tmp_path)
    assert main(["dryrun", "--strategy", "nosuch.mod:make", "-q"]) == 2
    assert "cannot import 'nosuch.mod:make'" in capsys.readouterr().err
    assert _tree(tmp_path) == []
    (tmp_path / "out").mkdir()  # a directory there before stays, made or not by a run
    assert main(["dryrun", "--feed", f"csv:{missing}", "-q"]) == 2
    assert _tree(tmp_path) == ["out"]
