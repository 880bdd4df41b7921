"""A crashed run whose record before its checkpoint was damaged is not resumed.

`resume` (CLI and API) used to check only the audit chain and the files' sizes there: a
byte changed in `events.jsonl` or `state_snapshots.jsonl`, a line deleted, repeated or
moved, line endings rewritten, and the resumed run traded on and sealed on top of it;
`verify` failed it at the end, after more orders went out. Now `resume` refuses it (exit 2,
one line naming the file, the line and the damage, nothing changed), the API raises the
same, and `status` says `needs_operator` (exit 5) with that line. A damaged tail past the
checkpoint (a crash's half line) still resumes, as before. What no line check sees (a
`ts_utc` digit, a snapshot's equity) the checkpoint's SHA-256 of each file up to its offset
does (`TestDigest`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from typing import TYPE_CHECKING

import orjson
import pytest

from livesession import resume_run
from livesession._exceptions import RunDirectoryError
from livesession._support.logging import configure_logging, disable_logging
from livesession.cli import main
from livesession.status import Verdict, run_status
from livesession.verify import verify_run
from test_resume_errors import (  # noqa: F401 - its crashed run, copied for each test
    _run_dir,
    _template,
    tree_hash,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

BROKEN = pytest.mark.broken_run("it damages a crashed run's record to test that resume refuses it")


def _offset(run_dir: Path, name: str) -> int:
    checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    return int(checkpoint["recorder"]["offsets"][name])


def _damage(run_dir: Path, file_name: str, key: str, change: Callable[[list[bytes]], None]) -> None:
    """Apply ``change`` to the lines of ``file_name`` before the checkpoint; the rest stays."""
    path = run_dir / file_name
    data = path.read_bytes()
    offset = _offset(run_dir, key)
    lines = data[:offset].split(b"\n")[:-1]
    change(lines)
    path.write_bytes(b"".join(line + b"\n" for line in lines) + data[offset:])


def _at(number: int, edit: Callable[[bytes], bytes]) -> Callable[[list[bytes]], None]:
    def change(lines: list[bytes]) -> None:
        lines[number - 1] = edit(lines[number - 1])

    return change


def _bar_close(lines: list[bytes]) -> None:
    """The close of the BAR at line 20 or after one cent off: valid JSON, the same length."""
    number = next(n for n in range(20, len(lines)) if b'"close":"' in lines[n - 1])
    line = lines[number - 1]
    at = line.index(b'"close":"') + len(b'"close":"')
    end = line.index(b'"', at) - 1
    lines[number - 1] = (
        line[:end] + (b"1" if line[end : end + 1] != b"1" else b"2") + line[end + 1 :]
    )
    _bar_close.number = number  # type: ignore[attr-defined]


def _deleted(number: int) -> Callable[[list[bytes]], None]:
    return lambda lines: lines.pop(number - 1) and None


def _repeated(number: int) -> Callable[[list[bytes]], None]:
    return lambda lines: lines.insert(number - 1, lines[number - 1])


def _crlf(lines: list[bytes]) -> None:
    lines[:] = [line + b"\r" for line in lines]


def _ts_sim_later(line: bytes) -> bytes:
    at = line.index(b'"ts_sim":') + len(b'"ts_sim":')
    return line[:at] + b"2" + line[at + 1 :]


def _refused(run_dir: Path, capsys, fragment: str) -> str:
    """CLI, API and status all refuse ``run_dir`` with one line holding ``fragment``."""
    before = tree_hash(run_dir.parent)
    assert main(["resume", str(run_dir), "-q"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("livesession: error: ")
    assert fragment in lines[0]
    assert "nothing was changed" in lines[0] or "audit.jsonl" in fragment
    with pytest.raises(RunDirectoryError) as raised:
        resume_run(run_dir)
    assert str(raised.value) == lines[0].removeprefix("livesession: error: ")
    assert tree_hash(run_dir.parent) == before
    standing = run_status(run_dir)
    assert standing.verdict is Verdict.NEEDS_OPERATOR
    assert standing.resume_problem == str(raised.value)
    assert main(["status", str(run_dir)]) == 5
    assert f"resumable   no: {raised.value}" in capsys.readouterr().out
    assert tree_hash(run_dir.parent) == before
    return lines[0]


@BROKEN
class TestEvents:
    """events.jsonl damaged before the checkpoint's offset."""

    @pytest.mark.parametrize(
        ("change", "fragment"),
        [
            (_bar_close, "events.jsonl:{bar}: does not hash to its event_id"),
            (_at(20, lambda line: b"X" + line[1:]), "events.jsonl:20: is not valid JSON"),
            (_at(20, _ts_sim_later), "events.jsonl:20: ts_sim 2"),
            (_deleted(20), "events.jsonl:20: holds seq 21 where 20 belongs"),
            (_repeated(20), "events.jsonl:21: holds seq 20 where 21 belongs"),
            (_crlf, "events.jsonl:1: ends with \\r\\n, not \\n"),
        ],
        ids=["a-byte-of-a-price", "not-json", "ts_sim", "deleted", "repeated", "crlf"],
    )
    def test_refused(self, run_dir, capsys, change, fragment):
        _damage(run_dir, "events.jsonl", "events", change)
        _refused(run_dir, capsys, fragment.format(bar=getattr(_bar_close, "number", 0)))

    def test_cut_short(self, run_dir, capsys):
        """A bad copy that cut the file before the offset: named with both sizes."""
        path = run_dir / "events.jsonl"
        offset = _offset(run_dir, "events")
        path.write_bytes(path.read_bytes()[: offset - 7])
        _refused(
            run_dir,
            capsys,
            f"is shorter than its checkpoint says ({offset - 7} bytes, where it says {offset})",
        )


@BROKEN
class TestSnapshots:
    """state_snapshots.jsonl damaged before the checkpoint's offset."""

    @pytest.mark.parametrize(
        ("change", "fragment"),
        [
            (_at(2, lambda line: line[:-1] + b"]"), "state_snapshots.jsonl:2: is not valid JSON"),
            (_repeated(2), "state_snapshots.jsonl:3: holds seq 2 where 3 belongs"),
            (
                _at(3, lambda line: line.replace(b'"activate"', b'"activatf"')),
                (
                    "state_snapshots.jsonl:3: moves PREFLIGHT_OK --activatf--> DRYRUN_ACTIVE, which "
                    "is not the next STATE_CHANGED"
                ),
            ),
            (
                _at(2, lambda line: line.replace(b'","', b'", "', 1)),
                "state_snapshots.jsonl:2: is not a snapshot line as the run writes it",
            ),
            (_crlf, "state_snapshots.jsonl:1: ends with \\r\\n, not \\n"),
        ],
        ids=["not-json", "repeated", "transition", "rewritten", "crlf"],
    )
    def test_refused(self, run_dir, capsys, change, fragment):
        _damage(run_dir, "state_snapshots.jsonl", "states", change)
        _refused(run_dir, capsys, fragment)


@BROKEN
class TestAudit:
    """The audit chain's own check names the line and the damage too."""

    def test_crlf(self, run_dir, capsys):
        _damage(run_dir, "audit.jsonl", "audit", _crlf)
        _refused(run_dir, capsys, "audit.jsonl:1: ends with \\r\\n, not \\n")

    @pytest.mark.parametrize(
        ("old", "new", "fragment"),
        [
            (b'"ts":"2', b'"ts":"3', "audit head does not match the checkpoint: the line"),
            (b',"payload":', b', "payload":', "the checkpoint's offset"),
        ],
        ids=["a-byte", "a-space-added"],
    )
    def test_the_last_record(self, run_dir, capsys, old, new, fragment):
        """The last record before the offset changed: its line named, not the file alone."""
        checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
        last = checkpoint["recorder"]["audit_seq"]
        _damage(run_dir, "audit.jsonl", "audit", _at(last, lambda line: line.replace(old, new, 1)))
        _refused(run_dir, capsys, f"audit.jsonl:{last}: {fragment}")


def test_a_damaged_tail_still_resumes(run_dir, capsys):
    """Past the offset, a changed byte and a half line are a crash's tail: cut, and resumed.

    The resumed run is verified at teardown, as every run is.
    """
    path = run_dir / "events.jsonl"
    offset = _offset(run_dir, "events")
    data = path.read_bytes()
    last = data[: offset - 1].rsplit(b"\n", 1)[-1]
    tail = data[offset:] + last.replace(b'"seq":', b'"seq":9', 1) + b"\n" + last[:40]
    path.write_bytes(data[:offset] + tail)
    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
    assert (run_dir / "events.jsonl.torn").read_bytes().endswith(tail)


def _tail_line_changed(run_dir: Path) -> int:
    """A whole event line put just past the checkpoint's offset, one no run wrote (the last
    line before it with another seq); its number. The crash's half line stays after it."""
    path = run_dir / "events.jsonl"
    offset = _offset(run_dir, "events")
    data = path.read_bytes()
    last = data[: offset - 1].rsplit(b"\n", 1)[-1]
    path.write_bytes(data[:offset] + last.replace(b'"seq":', b'"seq":9', 1) + b"\n" + data[offset:])
    return data[:offset].count(b"\n") + 1


@BROKEN
def test_verify_says_what_resume_does_with_a_damaged_tail(run_dir, capsys):
    """Damage only past the checkpoint: ``verify`` said ``resume cannot repair that: keep
    the run as it is``, while ``status`` said resumable and ``resume`` continued the run
    (setting the tail aside, as above). It now says what resume does, and to report it."""
    assert run_status(run_dir).damaged_tail == ""  # a crash's torn line is no damage
    number = _tail_line_changed(run_dir)
    summary = verify_run(run_dir).summary
    assert summary.startswith(
        "corrupt run: no C2_DRYRUN_STOP, and past its checkpoint more is wrong than a crash "
        f"leaves (a torn last line): events.jsonl:{number} is not the event its event_id was "
        "made from; a resume sets what follows the checkpoint aside (in events.jsonl.torn) "
        "and continues from it: keep a copy of the run and report the damage; continue it "
        "with `livesession resume "
    ), summary
    assert "cannot repair" not in summary
    found = run_status(run_dir)
    assert (found.verdict, found.resumable) == (Verdict.CRASHED, True)
    seq = int(f"9{number - 1}")  # the line before the offset, its seq given a 9 in front
    assert found.damaged_tail == (
        f"events.jsonl:{number} holds seq {seq} where {number} belongs: {seq - number} "
        "line(s) before it are missing (deleted), or lines were moved"
    )
    assert main(["status", str(run_dir)]) == Verdict.CRASHED.value
    said = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert said["resumable"] == (
        f"yes; past its checkpoint, {found.damaged_tail}: more than a crash leaves (a torn "
        "last line), which resume sets aside with the rest of the tail (events.jsonl.torn)"
    )
    assert said["next"].startswith(
        "keep a copy of the run and report the damage past its checkpoint, then continue "
        "it: livesession resume "
    )
    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
    assert verify_run(run_dir).ok


@BROKEN
@pytest.mark.parametrize(
    ("line", "what"),
    [(b'{"seq":99}', "is not snapshot {n} as the run writes it"), (b"{not", "is not valid JSON")],
)
def test_status_says_a_damaged_snapshot_tail(run_dir, capsys, line, what):
    """A whole snapshot line past the checkpoint that is not the next snapshot."""
    states = run_dir / "state_snapshots.jsonl"
    offset = _offset(run_dir, "states")
    data = states.read_bytes()
    states.write_bytes(data[:offset] + line + b"\n" + data[offset:])
    number = data[:offset].count(b"\n") + 1
    assert run_status(run_dir).damaged_tail.startswith(
        f"state_snapshots.jsonl:{number} {what.format(n=number)}"
    )
    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err


@BROKEN
@pytest.mark.parametrize(
    ("line", "what"),
    [
        (b"garbage", "is not valid JSON"),
        (b'{"seq":1}', "is not audit record {n} as the run writes it"),
        (None, "does not chain to the record before it (prev_hash)"),
    ],
)
def test_a_damaged_audit_tail_is_said_as_resume_treats_it(run_dir, capsys, line, what):
    """A whole audit line past the checkpoint that is not the next record of the chain, and
    a line after it: ``verify`` said ``resume cannot repair that: keep the run as it is`` and ``status`` said
    nothing, while ``resume`` set it aside (audit.jsonl.torn) and continued the run."""
    path = run_dir / "audit.jsonl"
    offset = _offset(run_dir, "audit")
    data = path.read_bytes()
    number = data[:offset].count(b"\n") + 1
    if line is None:  # the first record again, numbered next: its prev_hash is the genesis
        first = orjson.loads(data.split(b"\n", 1)[0])
        line = orjson.dumps({**first, "seq": number}, option=orjson.OPT_SORT_KEYS)
    after = data.split(b"\n", 1)[0] + b"\n"  # a whole line after it: it is not the last
    path.write_bytes(data[:offset] + line + b"\n" + after + data[offset:])
    summary = verify_run(run_dir).summary
    assert summary.startswith(
        "corrupt run: no C2_DRYRUN_STOP, and past its checkpoint more is wrong than a crash "
        f"leaves (a torn last line): audit.jsonl:{number} "
    ), summary
    assert "(in audit.jsonl.torn) and continues from it" in summary
    found = run_status(run_dir)
    assert (found.verdict, found.resumable) == (Verdict.CRASHED, True)
    assert found.damaged_tail.startswith(f"audit.jsonl:{number} {what.format(n=number)}")
    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
    assert (run_dir / "audit.jsonl.torn").read_bytes().startswith(line + b"\n")
    assert verify_run(run_dir).ok


@BROKEN
def test_damage_before_the_checkpoint_too_is_still_beyond_repair(run_dir):
    """With damage before the checkpoint as well, resume refuses: verify says so, as before."""
    _tail_line_changed(run_dir)
    _damage(run_dir, "events.jsonl", "events", _bar_close)
    summary = verify_run(run_dir).summary
    assert summary.startswith("corrupt run: no C2_DRYRUN_STOP, but more is wrong"), summary
    assert "resume cannot repair that: keep the run as it is and report it" in summary


def _digit(field: bytes) -> Callable[[bytes], bytes]:
    """The last digit of ``field``'s string value changed: the same length, valid JSON."""

    def edit(line: bytes) -> bytes:
        at = line.index(field) + len(field)
        end = line.index(b'"', at) - 1
        while not line[end : end + 1].isdigit():
            end -= 1
        return line[:end] + (b"1" if line[end : end + 1] != b"1" else b"2") + line[end + 1 :]

    return edit


def _ts_sim_earlier(lines: list[bytes]) -> None:
    """A BAR's ts_sim 1 ns earlier, still after the line before it (not in the event_id)."""
    for number in range(30, len(lines)):
        line, before = lines[number - 1], lines[number - 2]
        ts = orjson.loads(line)["ts_sim"]
        if b'"BAR"' in line and ts - 1 > orjson.loads(before)["ts_sim"]:
            lines[number - 1] = line.replace(b'"ts_sim":%d' % ts, b'"ts_sim":%d' % (ts - 1))
            return
    raise AssertionError("no BAR after a later one")


DIFFERS = "differs from what the session wrote before its checkpoint"


@BROKEN
class TestDigest:
    """What the line checks cannot see, the checkpoint's SHA-256 of each file does.

    A changed ``ts_utc`` digit, a snapshot's equity or time, a ``ts_sim`` still in order:
    each kept every line check, so the run resumed and sealed, and ``C2_DRYRUN_STOP``'s
    digests were of the damaged file (``verify`` passed it).
    """

    @pytest.mark.parametrize(
        ("file_name", "key", "change"),
        [
            ("events.jsonl", "events", _at(20, _digit(b'"ts_utc":"'))),
            ("events.jsonl", "events", _ts_sim_earlier),
            ("state_snapshots.jsonl", "states", _at(3, _digit(b'"equity":"'))),
            ("state_snapshots.jsonl", "states", _at(3, _digit(b'"ts_utc":"'))),
        ],
        ids=["events-ts_utc", "events-ts_sim-in-order", "snapshot-equity", "snapshot-ts_utc"],
    )
    def test_refused(self, run_dir, capsys, file_name, key, change):
        _damage(run_dir, file_name, key, change)
        line = _refused(run_dir, capsys, f"{run_dir / file_name} {DIFFERS}")
        assert f"its first {_offset(run_dir, key)} bytes hash to SHA-256" in line

    @pytest.mark.parametrize(
        ("file_name", "key", "change"),
        [
            ("events.jsonl", "events", _at(20, _digit(b'"ts_utc":"'))),
            ("state_snapshots.jsonl", "states", _at(3, _digit(b'"equity":"'))),
        ],
        ids=["events-ts_utc", "snapshot-equity"],
    )
    def test_verify_says_so(self, run_dir, file_name, key, change):
        """Not an incomplete run to resume: a corrupt one, the file named (no stop record
        covers a crashed run's files; its checkpoint's digests do)."""
        _damage(run_dir, file_name, key, change)
        result = verify_run(run_dir)
        assert result.summary.startswith("corrupt run: no C2_DRYRUN_STOP, but more is wrong")
        assert f"{file_name} {DIFFERS}; resume cannot repair that" in result.summary
        said = [v for v in result.violations if DIFFERS in v]
        assert len(said) == 1
        offset = _offset(run_dir, key)
        assert said[0].startswith(f"{file_name}: {DIFFERS}: its first {offset} bytes hash to")

    def test_verify_of_a_file_cut_short(self, run_dir):
        """Cut before its checkpoint's offset: named so, not left to the counts."""
        path = run_dir / "state_snapshots.jsonl"
        offset = _offset(run_dir, "states")
        path.write_bytes(path.read_bytes()[: offset - 7])
        result = verify_run(run_dir)
        message = f"is shorter than the {offset} bytes its checkpoint covers"
        assert f"{path.name}: {message}" in result.violations
        assert f"state_snapshots.jsonl {message}; resume cannot" in result.summary

    def test_verify_of_a_fifo_for_a_checkpoint(self, run_dir):
        """A FIFO in checkpoint.json's place is named as such, never read for its digests."""
        path = run_dir / "checkpoint.json"
        path.unlink()
        os.mkfifo(path)
        result = verify_run(run_dir)
        assert "checkpoint.json: is not a regular file (a FIFO)" in result.violations
        assert not [v for v in result.violations if DIFFERS in v]

    def test_the_line_check_comes_first(self, run_dir, capsys):
        """Damage a line check sees is named by its line, as before, not by the digest."""
        _damage(run_dir, "events.jsonl", "events", _at(20, lambda line: b"X" + line[1:]))
        line = _refused(run_dir, capsys, "events.jsonl:20: is not valid JSON")
        assert DIFFERS not in line


def test_a_checkpoint_without_digests_still_resumes(run_dir, capsys):
    """A checkpoint of an earlier build: the line checks alone, and the session log says so."""
    path = run_dir / "checkpoint.json"
    checkpoint = orjson.loads(path.read_bytes())
    del checkpoint["recorder"]["sha256"]
    path.write_bytes(orjson.dumps(checkpoint))
    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
    said = [
        orjson.loads(line)
        for line in (run_dir / "session.log.jsonl").read_bytes().splitlines()
        if b"checkpoint_without_digests" in line
    ]
    assert len(said) == 1
    assert said[0]["level"] == "warning"
    assert "checked line by line only" in said[0]["detail"]


def test_resume_run_says_it_to_the_callers_log_too(run_dir):
    """From Python, ``resume_run`` logs it as it resumes (the CLI says it again in the
    run's session log, which opens only once the resume is made)."""
    path = run_dir / "checkpoint.json"
    checkpoint = orjson.loads(path.read_bytes())
    del checkpoint["recorder"]["sha256"]
    path.write_bytes(orjson.dumps(checkpoint))
    log = io.StringIO()
    configure_logging(log, level=logging.WARNING)
    try:
        with resume_run(run_dir) as session:
            session.run_to_end(session.config.steps)
    finally:
        disable_logging()
    said = [orjson.loads(line) for line in log.getvalue().splitlines()]
    assert [r["event"] for r in said if "checkpoint" in r["event"]] == [
        "checkpoint_without_digests"
    ]
    assert verify_run(run_dir).ok


def test_a_checkpoint_holds_each_files_digest(run_dir, capsys):
    """Each file's SHA-256 up to its offset, as the recorder had it when it was saved; the
    resume checks them and says nothing of them, and verify calls the crash incomplete."""
    recorder = orjson.loads((run_dir / "checkpoint.json").read_bytes())["recorder"]
    for key, name in (("events", "events.jsonl"), ("states", "state_snapshots.jsonl")):
        data = (run_dir / name).read_bytes()[: recorder["offsets"][key]]
        assert recorder["sha256"][key] == hashlib.sha256(data).hexdigest()
    assert verify_run(run_dir).summary.startswith("incomplete run: no C2_DRYRUN_STOP; continue")
    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
    assert b"checkpoint_without_digests" not in (run_dir / "session.log.jsonl").read_bytes()
