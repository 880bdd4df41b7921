"""A crashed run whose record before its checkpoint was damaged is not resumed.

`resume` (CLI and API) used to check only the audit chain and the files' sizes there: a
byte changed in `events.jsonl` or `state_snapshots.jsonl`, a line deleted, repeated or
moved, line endings rewritten, and the resumed run traded on and sealed on top of it;
`verify` failed it at the end, after more orders went out. Now `resume` refuses it (exit 2,
one line naming the file, the line and the damage, nothing changed), the API raises the
same, and `status` says `needs_operator` (exit 5) with that line. A damaged tail past the
checkpoint (a crash's half line) still resumes, as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

from livesession import resume_run
from livesession._exceptions import RunDirectoryError
from livesession.cli import main
from livesession.status import Verdict, run_status
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
