"""The run directory's writer lock: one holder, queried without being taken, never stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from livesession import DryrunConfig, RunDirectoryError, RunHeld, create_run, resume_run
from livesession._artifacts import names
from livesession._rundir import holderread
from livesession._rundir.holder import Holder
from livesession._rundir.holderproc import not_a_cli_writer, stop_advice
from livesession._rundir.lock import RunLock, holder_of, is_held
from livesession.cli import main

from _helpers import held_by_a_child

# A host whose request handler fails before close(): the session it made is dropped. In a
# process of its own, as an application is: the tests' session tracker keeps every session.
_DROP = """
import gc, sys, warnings, weakref
from pathlib import Path
from livesession import DryrunConfig, create_run, resume_run, verify_run
from livesession._rundir.lock import holder_of

out, collect = Path(sys.argv[1]), sys.argv[2] == "collect"
gc.disable()  # no collection but the ones asked for (the host's, or resume's own)

def handle_request():
    cfg = DryrunConfig(run_id="dropped", steps=60, clock_mode="sim", checkpoint_every=5)
    session = create_run(cfg, out, alerts=False)
    session.preflight(); session.activate(); session.run_n_steps(25)
    dropped.append(weakref.ref(session))
    raise RuntimeError("the host's handler failed before close()")

dropped = []
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        handle_request()
    except RuntimeError:
        pass
    if collect:
        gc.collect()
        print("alive", dropped[0]() is not None, "holder", holder_of(out / "dropped"))
    resumed = resume_run(out / "dropped", alerts=False)
    print("resumed", resumed.steps_done, resumed.run_to_end(60).status.value)
print("warnings", [str(w.message) for w in caught])
print("verify", verify_run(out / "dropped").ok)
"""


def test_a_free_directory_has_no_holder(tmp_path: Path) -> None:
    assert not is_held(tmp_path)
    assert holder_of(tmp_path) is None
    assert not (tmp_path / names.WRITER_LOCK).exists(), "a query must not create the file"


def test_a_second_acquire_in_the_same_process_is_refused_naming_the_holder(
    tmp_path: Path,
) -> None:
    with RunLock.acquire(tmp_path, "livesession dryrun") as lock:
        holder = holder_of(tmp_path)
        assert holder == lock.holder
        with pytest.raises(RunHeld, match=rf"pid {lock.holder.pid} on .* \(livesession dryrun\)"):
            RunLock.acquire(tmp_path, "livesession resume")
        # The refusal changed nothing: the file still names the first holder.
        assert holder_of(tmp_path) == lock.holder
    assert not is_held(tmp_path)
    assert holder_of(tmp_path) is None


def test_readers_closing_the_file_in_process_do_not_release_the_writer(tmp_path: Path) -> None:
    with RunLock.acquire(tmp_path, "writer"):
        for _ in range(3):
            assert is_held(tmp_path)
            (tmp_path / names.WRITER_LOCK).read_text(encoding="utf-8")
        with pytest.raises(RunHeld):
            RunLock.acquire(tmp_path, "second")


def test_release_is_idempotent_and_lets_the_next_writer_in(tmp_path: Path) -> None:
    first = RunLock.acquire(tmp_path, "first")
    first.release()
    first.release()
    assert "released" in repr(first)
    with RunLock.acquire(tmp_path, "second") as second:
        assert holder_of(tmp_path) == second.holder


def test_another_process_is_refused_and_a_killed_holder_leaves_no_stale_lock(
    tmp_path: Path,
) -> None:
    with held_by_a_child(tmp_path) as child:
        holder = holder_of(tmp_path)
        assert holder is not None
        assert holder.pid == child.pid
        assert holder.command == "child"
        with pytest.raises(RunHeld, match=f"pid {child.pid}"):
            RunLock.acquire(tmp_path, "parent")
    # SIGKILL: the kernel dropped the lock; the file's stale content is not a holder.
    assert (tmp_path / names.WRITER_LOCK).exists()
    assert holder_of(tmp_path) is None
    with RunLock.acquire(tmp_path, "after") as lock:
        assert lock.holder.pid != child.pid


def test_a_missing_directory_is_a_run_directory_error(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match="not a directory"):
        RunLock.acquire(tmp_path / "nope", "writer")


def test_abandon_puts_the_lock_file_back_as_it_was(tmp_path: Path) -> None:
    """A writer refused after taking the lock (a resume that fails its checks) changes nothing."""
    fresh = RunLock.acquire(tmp_path, "first")
    fresh.abandon()
    assert not (tmp_path / names.WRITER_LOCK).exists()
    (tmp_path / names.WRITER_LOCK).write_bytes(b"stale holder\n")
    lock = RunLock.acquire(tmp_path, "second")
    assert (tmp_path / names.WRITER_LOCK).read_bytes() != b"stale holder\n"
    lock.abandon()
    lock.abandon()
    assert (tmp_path / names.WRITER_LOCK).read_bytes() == b"stale holder\n"
    assert not is_held(tmp_path)


def test_resume_of_a_held_run_exits_3_naming_the_holder_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second writer (here: a resume while the run's first session is still open) is refused."""
    session = create_run(DryrunConfig(run_id="held", steps=40, clock_mode="sim"), tmp_path)
    try:
        assert session.preflight()
        session.activate()
        session.run_n_steps(10)
        run_dir = tmp_path / "held"
        before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
        assert main(["resume", str(run_dir), "-q"]) == 3
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert f"pid {os.getpid()}" in err[0]
        assert "livesession: rejected:" in err[0]
        after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
        assert after == before
    finally:
        session.run_n_steps(30)
        session.close()
    assert holder_of(tmp_path / "held") is None


def test_a_run_this_process_still_holds_is_refused_saying_so(tmp_path: Path) -> None:
    """Bug: resuming a run whose session this very process still had open said to wait for
    pid <own pid>, or to stop it with `livesession stop`, which would SIGTERM the
    application itself. The refusal says the holder is this process: close() that session,
    or drop every reference to it (a session never closed holds its run while referenced)."""
    cfg = DryrunConfig(run_id="own", steps=20, clock_mode="sim")
    session = create_run(cfg, tmp_path)
    run_dir = tmp_path / "own"
    try:
        own = f"pid {os.getpid()} on "
        this = ", which is this very process: a session it opened still holds the run"
        with pytest.raises(RunHeld) as resumed:
            resume_run(run_dir)
        said = str(resumed.value)
        assert said.startswith(f"{run_dir} is being written by {own}"), said
        assert said.endswith(
            f"{this}; nothing was changed (one writer per run: close() that session first, "
            "or drop every reference to it)"
        ), said
        assert "livesession stop" not in said
        with pytest.raises(RunHeld) as created:
            create_run(cfg, tmp_path)
        assert str(created.value).endswith(
            f"{this}; nothing was changed (one writer per run: choose another run_id: this "
            "one is that session's)"
        ), created.value
    finally:
        session.run_to_end(20)
        session.close()
    # Another process holding a run is still another process, with the advice for one: a
    # livesession CLI writer is stopped with `livesession stop`, an application by its own
    # controls (test_a_run_an_application_holds_is_not_sent_to_livesession_stop).
    with held_by_a_child(tmp_path, "livesession dryrun"), pytest.raises(RunHeld) as other:
        RunLock.acquire(tmp_path, "parent")
    assert "this very process" not in str(other.value)
    assert str(other.value).endswith(f"or stop it with `livesession stop {tmp_path}`)")
    with held_by_a_child(tmp_path), pytest.raises(RunHeld) as other:
        RunLock.acquire(tmp_path, "parent")
    assert "this very process" not in str(other.value)
    assert str(other.value).endswith(
        "or stop it through the program that runs it, child (an application embedding "
        f"livesession has its own controls: `livesession stop {tmp_path}` signals only "
        "`livesession dryrun` and `resume`))"
    )


_PAUSES_TO_WRITE = 3
"""After how many of the reader's pauses the new holder has written its name (a few)."""


def _writes_after_some_pauses(
    monkeypatch: pytest.MonkeyPatch, path: Path, name: bytes
) -> list[float]:
    """The holder writes ``name`` into ``path`` while the reader pauses for the third time.

    The reader's own pauses are the clock, not a timer racing them: a 0.05 s timer against
    the reader's half second of re-reads failed on a loaded machine. The pauses are kept.
    """
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == _PAUSES_TO_WRITE:
            path.write_bytes(name)

    monkeypatch.setattr(holderread, "time", types.SimpleNamespace(sleep=pause))
    return pauses


def test_a_refusal_waits_for_the_new_holder_to_write_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a second writer raced the first between its lock and its name.

    Two ``resume`` processes started together: the loser read the lock file while it still
    named the previous (killed) holder, and its refusal named a dead process. A name of a
    dead process on this host is read again until the live holder's name is there.
    """
    with subprocess.Popen([sys.executable, "-c", "pass"]) as gone:
        gone.wait(timeout=10)
    path = tmp_path / names.WRITER_LOCK
    with RunLock.acquire(tmp_path, "winner") as lock:
        real = path.read_bytes()
        stale = {"pid": gone.pid, "host": lock.holder.host, "since": "earlier", "command": "old"}
        path.write_text(json.dumps(stale), encoding="utf-8")
        pauses = _writes_after_some_pauses(monkeypatch, path, real)
        with pytest.raises(RunHeld) as refused:
            RunLock.acquire(tmp_path, "loser")
        assert len(pauses) == _PAUSES_TO_WRITE  # read again until the live holder's name came
        assert f"pid {os.getpid()} " in str(refused.value)
        assert "(winner)" in str(refused.value)


def test_holder_of_waits_for_a_new_holder_to_write_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: `dryrun` of a run id another `dryrun` had just locked said "being written by
    pid 0 on ? since ? (?)": the name was read before the winner wrote it. It is read
    again for a moment; a name still missing is said in words, not as pid 0."""
    path = tmp_path / names.WRITER_LOCK
    with RunLock.acquire(tmp_path, "winner"):
        real = path.read_bytes()
        path.write_bytes(b"")  # taken, not yet named
        pauses = _writes_after_some_pauses(monkeypatch, path, real)
        holder = holder_of(tmp_path)
        assert len(pauses) == _PAUSES_TO_WRITE  # read again until the name came
        assert holder is not None
        assert (holder.pid, holder.command) == (os.getpid(), "winner")
        path.write_bytes(b"")  # and never named, for as long as the refusal waits
        unnamed = holder_of(tmp_path)
        assert unnamed is not None
        assert unnamed.describe() == "another process (starting: its name is not written yet)"
        path.write_bytes(real)


@pytest.mark.parametrize("host", ["collect", "leave"])
def test_a_session_dropped_without_close_lets_go_of_its_run(tmp_path: Path, host: str) -> None:
    """Bug: a session an application dropped without close() (its handler raised) kept
    its run's writer lock for the life of the process: the lock's descriptor stayed open,
    resume_run there said a session of this very process held the run though none
    existed, and `status` said running. Its files were closed only by the interpreter,
    with four ResourceWarnings. Now the dropped session, once collected, lets go of its
    files and then the lock: an ordinary crashed run, which resume continues in the same
    process; resume collects the garbage itself before refusing (``leave``: the host never
    runs the collector)."""
    done = subprocess.run(
        [sys.executable, "-c", _DROP, str(tmp_path), host],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    said = done.stdout.splitlines()
    collected = ["alive False holder None"] if host == "collect" else []
    assert said == [*collected, "resumed 25 COMPLETED", "warnings []", "verify True"], said


_CREATE_AGAIN = """
import gc, sys
from pathlib import Path
from livesession import DryrunConfig, RunExists, create_run
out = Path(sys.argv[1])
gc.disable()  # no collection but create_run's own, as between a notebook's cells
cfg = DryrunConfig(run_id="again", steps=60, checkpoint_every=5)
session = create_run(cfg, out, alerts=False)
session.preflight(); session.activate(); session.run_n_steps(12)
session = None  # the cell's variable given another value: the session is dropped
try:
    create_run(cfg, out, alerts=False)  # the cell run again
except RunExists as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.broken_run("dropped unclosed on purpose: the run is left crashed")
def test_create_run_of_a_dropped_sessions_run_id_says_the_run_is_crashed(tmp_path: Path) -> None:
    """Bug: in a notebook, a cell that creates a run was run again after its session had been
    dropped unclosed (``s = None``, ``s`` given another value): ``create_run`` said ``RunHeld:
    ... which is this very process: a session it opened still holds the run`` though no
    session lived, and named no place to close it, until the collector happened to run.
    It now collects this process's garbage before refusing, as ``resume_run`` does, and says
    what the run is: a crash, with the call that continues it."""
    done = subprocess.run(
        [sys.executable, "-c", _CREATE_AGAIN, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path.resolve() / "again"
    assert done.stdout.splitlines() == [
        (
            f"RunExists run directory {run_dir} already exists: choose another run_id, or "
            f"continue the crashed run with resume_run('{run_dir}')"
        )
    ]


_EXIT_UNCLOSED = """
import sys
from livesession import DryrunConfig, create_run
config = DryrunConfig(run_id="left", steps=100, broker=sys.argv[2])
session = create_run(config, sys.argv[1])
session.preflight(); session.activate()
for _ in range(30):
    session.step()
"""


@pytest.mark.broken_run("the host exits without closing: the run is left crashed")
@pytest.mark.parametrize("broker", ["mock", "realish"])
def test_a_host_exiting_with_a_session_open_hears_no_resource_warning(
    tmp_path: Path, broker: str
) -> None:
    """Bug: a host that exited with a session still open (never closed, still referenced)
    under ``-X dev -W error`` printed ``Exception ignored in: <_io.FileIO name=5 mode='ab'
    closefd=True>`` / ``ResourceWarning: unclosed file``: the venue's journal (and the
    realish venue's attempt journal) was a file object the interpreter found unclosed as it
    shut down, alone among the run's files. Now each is a bare descriptor, as they are."""
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", _EXIT_UNCLOSED, str(tmp_path), broker],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert main(["status", str(tmp_path / "left")]) == 6  # an ordinary crash, resumable


# An application embedding livesession: a run of its own, held open until its stdin closes.
_APP = """
import sys
from pathlib import Path
from livesession import DryrunConfig, create_run

session = create_run(DryrunConfig(run_id="app", steps=40, durability="step"), Path(sys.argv[1]))
session.preflight(); session.activate(); session.run_n_steps(10)
print("held", flush=True)
sys.stdin.read()
session.run_to_end(40); session.close()
"""


def test_a_run_an_application_holds_is_not_sent_to_livesession_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `livesession resume DIR` of a run an application embedding livesession holds (a
    `create_run` in a desk's script or service) said `wait for it to end, or stop it with
    livesession stop DIR`, and that command then refused it, exit 3 (`an application
    embedding livesession has its own controls: nothing was sent`). The refusal now names
    the program to stop it through, and says why `livesession stop` cannot."""
    run_dir = tmp_path / "app"
    with subprocess.Popen(
        [sys.executable, "-c", _APP, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as app:
        assert app.stdin is not None
        assert app.stdout is not None
        try:
            assert app.stdout.readline().strip() == "held"
            assert main(["resume", str(run_dir)]) == 3
            err = capsys.readouterr().err
            assert "livesession stop" in err  # what it cannot do, said once
            assert f"or stop it with `livesession stop {run_dir}`" not in err, err
            assert err.endswith(
                "; nothing was changed (one writer per run: wait for it to end, or stop it "
                "through the program that runs it, -c dryrun (an application embedding "
                f"livesession has its own controls: `livesession stop {run_dir}` signals "
                "only `livesession dryrun` and `resume`))\n"
            ), err
            assert main(["stop", str(run_dir)]) == 3  # as the refusal said it would
            assert "has its own controls" in capsys.readouterr().err
        finally:
            app.stdin.close()
            assert app.wait(timeout=60) == 0
    assert json.loads((run_dir / names.METRICS).read_text())["status"] == "COMPLETED"


@pytest.mark.parametrize("command", ["livesession dryrun", "livesession resume", "deskapp dryrun"])
def test_a_writer_on_another_host_is_stopped_there(tmp_path: Path, command: str) -> None:
    """Bug: `livesession resume DIR` (or a second `dryrun --run-id`) of a run a `livesession
    dryrun` on another host writes (a folder both hosts mount) said `wait for it to end, or
    stop it with livesession stop DIR`, and that command, run here, refused it, exit 3 (`it
    is held by pid P on host-a ...: run this command on host-a`). The refusal now says
    where to run it, as it did for an application's run on another host."""
    holder = Holder(pid=4242, host="host-a", since="2026-12-07T10:00:00Z", command=command)
    assert stop_advice(holder, tmp_path) == (
        f"wait for it to end, or stop it with `livesession stop {tmp_path}` on host-a"
    )
    assert not_a_cli_writer(holder, tmp_path).endswith(": run this command on host-a")


@pytest.mark.parametrize(
    ("argv0", "named"),
    [
        ("/srv/desk/deskapp/__main__.py", "deskapp dryrun"),
        ("/venv/lib/python3.12/site-packages/livesession/__main__.py", "livesession dryrun"),
        ("/venv/lib/python3.12/site-packages/livesession/cli.py", "livesession dryrun"),
        ("/venv/bin/livesession", "livesession dryrun"),
        ("/srv/desk/service.py", "service.py dryrun"),
        ("-c", "-c dryrun"),
    ],
    ids=["python-m-app", "python-m-livesession", "python-m-livesession.cli", "script", "file", "c"],
)
def test_the_writer_is_named_by_the_program_that_runs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv0: str, named: str
) -> None:
    """Bug: an application run as a package (``python -m deskapp``, whose ``sys.argv[0]`` is
    ``.../deskapp/__main__.py``) took its run's writer lock as ``livesession dryrun``, as
    any ``__main__.py`` was named: ``livesession status`` said ``writer ... (livesession
    dryrun)`` of the application's run, and ``livesession stop`` refused it saying ``(livesession
    dryrun) is not `livesession dryrun` or `resume```. Only livesession's own are named so."""
    monkeypatch.setattr(sys, "argv", [argv0])
    session = create_run(DryrunConfig(run_id="named", steps=5), tmp_path, alerts=False)
    try:
        holder = holder_of(tmp_path / "named")
        assert holder is not None
        assert holder.command == named
    finally:
        session.close()
