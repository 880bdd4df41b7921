"""A run file the host's own tools cut, move or remove under a live run (logrotate, cleanup).

Bug: logrotate with a glob that caught ``events.jsonl`` (``out/*/*.jsonl``) went unnoticed.
``copytruncate`` cut the file and the run appended its next lines at its start; ``create``
renamed it and the run went on writing into the renamed file, the one at its name left
empty. Either way the run sealed ``COMPLETED``, exit 0, and ``verify`` then found hundreds
of violations (``events.jsonl:1: the first event is not SESSION_STARTED``) without a word
of why. The run's sink now checks, before each write, that its file is still the one it
wrote, as it left it: told otherwise it writes nothing more and the run stops unsealed,
exit 2, its line naming the file and what was done to it (``was moved to events.jsonl.1``,
``was cut from N to 0 bytes``). A file moved back is resumed to the bytes of a run nobody
touched.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from livesession import FileLineSink
from livesession._artifacts import names
from livesession._artifacts.timings import StepTimer
from livesession._exceptions import StoreFailure
from livesession._support.underfoot import RunFileChanged
from livesession.cli import main
from livesession.stores import JsonlIdempotencyStore
from livesession.verify import verify_run
from test_alerts import Webhook
from test_mock_resume import _order, _venue

from _helpers import cli_under

ARGS = ("--steps", "400", "--durability", "none", "-q")
T = 1_000


def _sink_with_a_line(path: Path) -> FileLineSink:
    sink = FileLineSink(path)
    sink.write_line(b'{"n": 1}\n')
    sink.flush()
    return sink


def _refused(sink: FileLineSink) -> RunFileChanged:
    sink.write_line(b'{"n": 2}\n')
    with pytest.raises(RunFileChanged) as raised:
        sink.flush()
    with pytest.raises(RunFileChanged):  # and every later write: the sink writes no more
        sink.flush()
    with pytest.raises(RunFileChanged):
        sink.close()
    assert raised.value.errno == errno.ESTALE
    return raised.value


def test_a_file_cut_under_its_sink_is_never_written_again(tmp_path: Path) -> None:
    path = tmp_path / names.EVENTS
    sink = _sink_with_a_line(path)
    os.truncate(path, 0)  # logrotate's copytruncate, after its copy
    said = str(_refused(sink))
    assert f"{path.name} was cut from 9 to 0 bytes while this process appended to it" in said
    assert path.read_bytes() == b""  # was: {"n": 2} at the start of the cut file


def test_a_file_renamed_under_its_sink_says_where_its_lines_are(tmp_path: Path) -> None:
    path = tmp_path / names.EVENTS
    sink = _sink_with_a_line(path)
    path.rename(tmp_path / "events.jsonl.1")  # logrotate's create
    path.touch()
    said = str(_refused(sink))
    assert f"{path.name} was moved to events.jsonl.1 and another file made in its place" in said
    assert (tmp_path / "events.jsonl.1").read_bytes() == b'{"n": 1}\n'  # was: both lines
    assert path.read_bytes() == b""


def test_a_file_removed_under_its_sink_says_so(tmp_path: Path) -> None:
    path = tmp_path / names.EVENTS
    sink = _sink_with_a_line(path)
    path.rename(tmp_path / "events.jsonl.1")  # logrotate's compress: gzip removes it
    (tmp_path / "events.jsonl.1").unlink()
    said = str(_refused(sink))
    assert f"{path.name} was removed while this process appended to it" in said
    assert not path.exists()


def test_a_file_another_process_appends_to_is_not_written_into(tmp_path: Path) -> None:
    path = tmp_path / names.EVENTS
    sink = _sink_with_a_line(path)
    with path.open("ab") as other:
        other.write(b"stray\n")
    assert f"{path.name} grew by 6 bytes this process did not write" in str(_refused(sink))


def _rotated_at_step_200(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    rotation: str,
    name: str = names.EVENTS,
    *args: str,
) -> tuple[Path, str]:
    """A dry run whose ``name`` logrotate touches at step 200: its dir and its one line."""
    run_dir = tmp_path / "rot"
    events = run_dir / name
    on_step = StepTimer.on_step

    def rotate(timer: StepTimer, done: int) -> None:
        if done == 200:
            if rotation == "create":
                events.rename(run_dir / f"{name}.1")
                events.touch()
            else:  # copytruncate
                (run_dir / f"{name}.1").write_bytes(events.read_bytes())
                os.truncate(events, 0)
        on_step(timer, done)

    monkeypatch.setattr(StepTimer, "on_step", rotate)
    assert main(["dryrun", *ARGS, "--out", str(tmp_path), "--run-id", "rot", *args]) == 2  # was 0
    monkeypatch.undo()
    [line] = capsys.readouterr().err.splitlines()
    assert (run_dir / name).read_bytes() == b""  # nothing written at its name since
    return run_dir, line


def test_a_run_whose_events_logrotate_renamed_stops_and_resumes_once_moved_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, line = _rotated_at_step_200(tmp_path, monkeypatch, capsys, "create")
    assert line.startswith(f"livesession: error: the events sink failed writing {run_dir}/")
    assert "events.jsonl was moved to events.jsonl.1 and another file made in its place" in line
    assert line.endswith(
        "the run is not sealed; once the file is back at its name as the run left it (another "
        "tool moved, cut or removed it under the run, as said: `mv` a moved one back; a cut "
        "or removed one only a whole copy puts back; rotate, cut, move or delete none of a "
        f"run's files but session.log.jsonl), `livesession status {run_dir}` says whether "
        f"`livesession resume {run_dir}` can continue it"
    ), line
    (run_dir / "events.jsonl.1").rename(run_dir / names.EVENTS)
    status = cli_under("status", run_dir, "--json")
    assert status.returncode == 6, status.stdout  # crashed: resumable
    assert json.loads(status.stdout)["next"].endswith(f"continue it: livesession resume {run_dir}")
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert verify_run(run_dir).ok
    assert main(["dryrun", *ARGS, "--out", str(tmp_path / "s"), "--run-id", "rot"]) == 0
    straight = tmp_path / "s" / "rot" / names.EVENTS
    assert (run_dir / names.EVENTS).read_bytes() == straight.read_bytes()


@pytest.mark.broken_run("events.jsonl is cut under the run on purpose (logrotate copytruncate)")
def test_a_run_whose_events_logrotate_cut_stops_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, line = _rotated_at_step_200(tmp_path, monkeypatch, capsys, "copytruncate")
    assert f"writing {run_dir / names.EVENTS} (RunFileChanged: " in line
    assert "events.jsonl was cut from " in line
    assert " to 0 bytes while this process appended to it (logrotate's copytruncate" in line
    status = cli_under("status", run_dir)
    assert status.returncode == 5, status.stdout  # its record is gone: a person must look
    assert "events.jsonl is shorter than its checkpoint says (0 bytes" in status.stdout


@pytest.mark.parametrize("rotation", ["create", "copytruncate"])
def test_a_venue_journal_rotated_under_it_is_never_written_again(
    tmp_path: Path, rotation: str
) -> None:
    """The mock venue's journal (``broker_journal.jsonl``, caught by ``*.jsonl`` too) went on
    into the renamed file, or at the start of the cut one: a crash then left a journal that
    ``resume`` rebuilt the venue from wrongly. Its append now refuses, naming the journal."""
    journal = tmp_path / names.JOURNAL
    venue = _venue(journal)
    venue.submit(_order("a"), T)
    before = journal.read_bytes()
    if rotation == "create":
        journal.rename(tmp_path / "broker_journal.jsonl.1")
        journal.touch()
        done = "was moved to broker_journal.jsonl.1 and another file made in its place (logrotate's create)"
    else:
        os.truncate(journal, 0)
        done = f"was cut from {len(before)} to 0 bytes"
    with pytest.raises(StoreFailure) as refused:
        venue.submit(_order("b"), T)
    assert str(refused.value).startswith(
        f"the simulated venue's journal {journal} refused a write (ESTALE: "
        f"broker_journal.jsonl {done} while this process appended to it"
    ), refused.value
    assert journal.read_bytes() == b""  # "b" never reached the venue, nor any file
    venue.close()


@pytest.mark.parametrize("rotation", ["create", "copytruncate", "remove"])
def test_an_idempotency_store_rotated_under_it_is_never_written_again(
    tmp_path: Path, rotation: str
) -> None:
    """The jsonl idempotency store (``idempotency.jsonl``, caught by ``*.jsonl`` too) went on
    into the renamed file, or at the start of the cut one: a resume then opened a store
    without the keys already sent, and could send their orders again. It now refuses,
    naming the file and what was done to it, and writes nothing more."""
    path = tmp_path / names.IDEMPOTENCY_JSONL
    store = JsonlIdempotencyStore(path, durable=False)
    store.reserve("k1", "f1")
    before = path.read_bytes()
    if rotation == "create":
        path.rename(tmp_path / "idempotency.jsonl.1")
        path.touch()
        done = "was moved to idempotency.jsonl.1 and another file made in its place (logrotate's create)"
    elif rotation == "copytruncate":
        os.truncate(path, 0)
        done = f"was cut from {len(before)} to 0 bytes"
    else:  # logrotate's compress: gzip removes the renamed file
        path.unlink()
        done = "was removed"
    with pytest.raises(StoreFailure) as refused:
        store.reserve("k2", "f2")
    said = f"refused a write (RunFileChanged: idempotency.jsonl {done} while this process appended"
    assert said in str(refused.value), refused.value
    assert isinstance(refused.value.__cause__, RunFileChanged)
    with pytest.raises(ValueError, match="failed on an earlier write"):  # nor ever after
        store.complete("k1", "FILLED")
    store.close()
    assert not path.exists() if rotation == "remove" else path.read_bytes() == b""


def test_a_run_whose_idempotency_store_logrotate_renamed_stops_and_resumes_once_moved_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = ("--idempotency-backend", "jsonl")
    run_dir, line = _rotated_at_step_200(
        tmp_path, monkeypatch, capsys, "create", names.IDEMPOTENCY_JSONL, *backend
    )
    assert line.startswith("livesession: error: the idempotency store "), line
    assert (
        "refused a write (RunFileChanged: idempotency.jsonl was moved to idempotency.jsonl.1 "
        "and another file made in its place (logrotate's create) while this process appended "
        "to it: its lines are there; move it back to its name before the run is resumed)"
    ) in line
    assert "the run is not sealed" in line
    (run_dir / "idempotency.jsonl.1").rename(run_dir / names.IDEMPOTENCY_JSONL)
    assert cli_under("status", run_dir).returncode == 6  # crashed: resumable
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert verify_run(run_dir).ok
    straight = tmp_path / "s"
    assert main(["dryrun", *ARGS, "--out", str(straight), "--run-id", "rot", *backend]) == 0
    assert (run_dir / names.EVENTS).read_bytes() == (straight / "rot" / names.EVENTS).read_bytes()
    kept = JsonlIdempotencyStore(run_dir / names.IDEMPOTENCY_JSONL)
    sent = JsonlIdempotencyStore(straight / "rot" / names.IDEMPOTENCY_JSONL)
    assert kept.reservations() == sent.reservations()  # every key of the first part kept
    kept.close()
    sent.close()


@pytest.mark.parametrize("rotation", ["create", "copytruncate"])
def test_a_rotated_alerts_log_stops_no_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rotation: str
) -> None:
    """``alerts.jsonl`` (the webhook's deliveries, caught by ``*.jsonl`` too) is a log of the
    wall clock outside the record, as ``session.log.jsonl`` is: rotated under a live run it
    stops nothing (a run is not cancelled and flattened for a log), and its next lines go
    to the file at its name, never after a hole."""
    run_dir = tmp_path / "rot"
    log = run_dir / names.ALERTS
    on_step = StepTimer.on_step

    def rotate(timer: StepTimer, done: int) -> None:
        if done == 200:
            log.write_bytes(b'{"outcome":"delivered"}\n')  # as an earlier alert's line
            if rotation == "create":
                log.rename(run_dir / f"{names.ALERTS}.1")
                log.touch()
            else:
                os.truncate(log, 0)
        on_step(timer, done)

    hook = Webhook()
    try:
        monkeypatch.setenv("LIVESESSION_ALERT_WEBHOOK_URL", hook.url)
        monkeypatch.setattr(StepTimer, "on_step", rotate)
        assert main(["dryrun", *ARGS, "--out", str(tmp_path), "--run-id", "rot"]) == 0
    finally:
        hook.close()
    assert hook.codes() == ["RUN_SEALED"]
    lines = [json.loads(line) for line in log.read_bytes().splitlines()]  # no NUL before
    assert [line["outcome"] for line in lines] == ["delivered", "closed"], lines
    assert verify_run(run_dir).ok


@pytest.mark.broken_run("a run's seal is cut off on purpose, as a kill leaves it")
def test_the_backup_recipe_copies_only_sealed_runs_no_process_writes(tmp_path: Path) -> None:
    """docs/operations.md, "The host's own housekeeping": its backup command runs as written,
    copying a sealed run and leaving a crashed one (its files may still change) for later."""
    text = (Path(__file__).resolve().parent.parent / "docs/operations.md").read_text("utf-8")
    block = text.split("<!-- BEGIN HOUSEKEEPING BACKUP -->")[1].split("<!-- END HOUSEKEEPING")[0]
    (script,) = re.findall(r"```bash\n(.*?)```", block, re.DOTALL)
    out, backup = tmp_path / "out", tmp_path / "backup"
    backup.mkdir()
    assert main(["dryrun", *ARGS, "--out", str(out), "--run-id", "sealed"]) == 0
    assert main(["dryrun", *ARGS, "--out", str(out), "--run-id", "crashed"]) == 0
    (out / "crashed" / names.AUDIT).write_bytes(  # as a kill before the seal leaves it
        (out / "crashed" / names.AUDIT).read_bytes().splitlines(keepends=True)[0]
    )
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PATH": path, "OUT": str(out), "BACKUP": str(backup)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in backup.iterdir()) == ["sealed"]
    assert verify_run(backup / "sealed").ok


@pytest.mark.broken_run("a sealed run's events.jsonl is rotated away on purpose")
@pytest.mark.parametrize(
    ("part", "how"),
    [("events.jsonl.1", "create"), ("events.jsonl.1.gz", "compress"), ("audit.jsonl-20261208", "")],
)
def test_verify_names_a_part_of_the_record_rotated_away_beside_it(
    tmp_path: Path, part: str, how: str
) -> None:
    """Bug: a sealed run whose record logrotate had rotated (``out/*/*.jsonl``) was said by
    ``verify`` as ``broken run: 10 violation(s)`` and ``events.jsonl: empty file``, never
    naming the part left beside it. Its summary now opens with the part and the way back."""
    assert main(["dryrun", *ARGS, "--out", str(tmp_path), "--run-id", "r"]) == 0
    run_dir = tmp_path / "r"
    original = run_dir / (part.split(".jsonl", maxsplit=1)[0] + ".jsonl")
    original.rename(run_dir / part)  # its bytes are no matter: only its name is read
    if how == "create":
        original.touch()
    result = verify_run(run_dir)
    assert not result.ok
    assert result.summary.startswith(
        f"{part} beside the run's files: a part of its record rotated away (logrotate with a "
        "glob that caught it, or a person): put the lines back in the file they came from "
        "(`mv` a moved one back, `gunzip` a .gz first), then verify again; "
    ), result.summary
    (run_dir / part).rename(run_dir / "README.txt")  # a stray file of another name: no part
    assert not verify_run(run_dir).summary.startswith("README.txt")
