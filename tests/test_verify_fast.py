"""The fast verifier: compiled schemas that agree with the reference, streaming, progress.

``verify`` checks each line with a compiled validator (fastjsonschema, draft-07) built
from the draft 2020-12 schema files; ``jsonschema`` on the files themselves stays the
reference, and these tests hold the two to the same verdict on real lines and on lines
broken in every way the contract cares about. The reader streams the files in chunks:
its verdicts do not depend on where a chunk ends, nor on whether the run is read from a
directory or from bytes (``verify_contents``).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from _terminal import cli_on_terminal
from livesession import verify as verify_package
from livesession.testing import mark_verified, verify_session
from livesession.verify import ARTIFACT_NAMES, verify_contents, verify_run
from livesession.verify import _reading as reading
from livesession.verify._schemas import Schemas

from _helpers import carried_chunks, session
from _runfactory import SCENARIOS, build_run

SCHEMA_DIR = Path(__file__).parents[1] / "src" / "livesession" / "schemas"
SCHEMA_FILES = {
    "events.jsonl": "events.schema.json",
    "state_snapshots.jsonl": "state_snapshots.schema.json",
    "audit.jsonl": "audit.schema.json",
    "metrics.json": "metrics.schema.json",
}
# Values that probe each keyword: types (bool is not an integer), enums and consts (True
# is not 1), patterns (a trailing newline, an empty string), bounds and nesting.
ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 2**70, "", "x", "A\n", "\n", "BAR", "BUY", "FAILED",
    "1.5", "-0.5", "1.", "0" * 64, "0" * 64 + "\n", "0" * 24, "a" * 129, "C2_DRYRUN_STOP",
    "C2_REJECT_X", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z\n", [], [1], {}, {"a": 1},
]  # fmt: skip


def _reference(artifact: str) -> jsonschema.protocols.Validator:
    schema = orjson.loads((SCHEMA_DIR / SCHEMA_FILES[artifact]).read_bytes())
    return jsonschema.Draft202012Validator(schema)


def _records(run_dir: Path, artifact: str) -> list[dict[str, Any]]:
    raw = (run_dir / artifact).read_bytes()
    if artifact == "metrics.json":
        return [orjson.loads(raw)]
    return [orjson.loads(line) for line in raw.splitlines()]


def _kind(record: dict[str, Any]) -> object:
    return record.get("event_type", record.get("code", record.get("trigger")))


def _payload_fields(artifact: str) -> dict[object, set[str]]:
    """Per event type (or audit code), the payload fields its schema branch names."""
    schema = orjson.loads((SCHEMA_DIR / SCHEMA_FILES[artifact]).read_bytes())
    fields: dict[object, set[str]] = {}
    for branch in schema.get("allOf", []):
        condition = branch.get("if", {}).get("properties", {})
        kinds = condition.get("event_type", condition.get("code", {}))
        named = set(
            branch.get("then", {}).get("properties", {}).get("payload", {}).get("properties", {})
        )
        for kind in kinds.get("enum", [kinds.get("const")]):
            fields.setdefault(kind, set()).update(named)
    return fields


def _variants(record: dict[str, Any], optional: set[str]) -> list[Any]:
    """``record`` broken one field at a time: each key dropped or set to each odd value.

    In the payload too, with the optional fields its schema names (absent from most
    records) set to each odd value as well.
    """
    out: list[Any] = [record, {**record, "unexpected": 1}]
    for key in sorted(record):
        out.append({k: v for k, v in record.items() if k != key})
        out.extend({**record, key: value} for value in ODD_VALUES)
    payload = record.get("payload")
    if isinstance(payload, dict):
        for sub in sorted(set(payload) | optional):
            out.append({**record, "payload": {k: v for k, v in payload.items() if k != sub}})
            out.extend({**record, "payload": {**payload, sub: value}} for value in ODD_VALUES)
    return out


@pytest.fixture(scope="module")
def corpus_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("corpus")
    return [build_run(root / scenario, scenario=scenario) for scenario in SCENARIOS]


@pytest.mark.parametrize("artifact", sorted(SCHEMA_FILES))
def test_compiled_schemas_agree_with_the_reference(corpus_runs, artifact):
    """Valid lines of real runs, and each broken many ways: the same verdict from both."""
    reference = _reference(artifact)
    fast = Schemas.get()
    every = [r for run_dir in corpus_runs for r in _records(run_dir, artifact)]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for record in every:  # two of each kind of record: the corpus stays quick to check
        same = by_kind.setdefault(repr(_kind(record)), [])
        if len(same) < 2:
            same.append(record)
    fields = _payload_fields(artifact)
    variants = [
        v
        for same in by_kind.values()
        for record in same
        for v in _variants(record, fields.get(_kind(record), set()))
    ]
    if artifact == "events.jsonl":  # every event type with every other's payload
        types = sorted({r["event_type"] for r in every} | {k for k in fields if k})
        variants += [
            {**r, "event_type": t} for same in by_kind.values() for r in same for t in types
        ]

    disagree = [v for v in variants if reference.is_valid(v) != fast.is_valid(artifact, v)]

    assert not disagree[:3]
    verdicts = {reference.is_valid(v) for v in variants}
    assert verdicts == {True, False}  # the corpus holds both, or the test proves nothing


def test_errors_explain_what_the_compiled_validator_rejects(corpus_runs):
    """A rejected line gets the reference's readable message, not the compiled one's."""
    event = _records(corpus_runs[0], "events.jsonl")[3]

    errors = Schemas.get().errors("events.jsonl", {**event, "seq": "7"})

    assert errors == ["schema: seq: '7' is not of type 'integer'"]


def _contents(run_dir: Path) -> dict[str, bytes | None]:
    return {
        name: (run_dir / name).read_bytes() if (run_dir / name).is_file() else None
        for name in ARTIFACT_NAMES
    }


def _break(run_dir: Path, rng: random.Random) -> None:
    """One of the ways a run breaks: a line lost, doubled, changed, torn or made garbage."""
    path = run_dir / rng.choice(["events.jsonl", "state_snapshots.jsonl", "audit.jsonl"])
    lines = path.read_bytes().split(b"\n")[:-1]
    i = rng.randrange(len(lines))
    how = rng.choice(["drop", "double", "torn", "garbage", "space", "char"])
    if how == "drop":
        del lines[i]
    elif how == "double":
        lines.insert(i, lines[i])
    elif how == "garbage":
        lines[i] = b"{not json"
    elif how == "space":
        lines[i] = lines[i].replace(b":", b": ", 1)
    elif how == "char":
        lines[i] = lines[i].replace(b"0", b"1", 1)
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(data[:-3] if how == "torn" else data)


@pytest.mark.broken_run("an odd event_type on purpose")
@pytest.mark.parametrize("odd", [v for v in ODD_VALUES if v != 2**70], ids=repr)
def test_any_event_type_is_checked_never_crashes(tmp_path, odd):
    """Whatever ``event_type`` holds (a dict, a list, a number), the schema says so."""
    run_dir = build_run(tmp_path / "r")
    path = run_dir / "events.jsonl"
    lines = path.read_bytes().splitlines()
    event = orjson.loads(lines[1])
    lines[1] = orjson.dumps({**event, "event_type": odd}, option=orjson.OPT_SORT_KEYS)
    path.write_bytes(b"\n".join(lines) + b"\n")

    found = verify_run(run_dir, live=None).violations

    assert not [v for v in found if "could not be checked" in v]
    if not isinstance(odd, str):
        assert [v for v in found if v.startswith("events.jsonl:2: schema: event_type: ")]


@pytest.mark.broken_run("torn on purpose")
def test_a_last_line_without_its_newline_is_still_the_last(tmp_path):
    """events.jsonl without its final newline: torn, but SESSION_STOPPED is still last."""
    run_dir = build_run(tmp_path / "r")
    path = run_dir / "events.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[:-1])
    count = data.count(b"\n")
    stop = (run_dir / "audit.jsonl").read_bytes().count(b"\n")

    found = verify_run(run_dir, live=None).violations

    assert found == (
        f"events.jsonl:{count}: last line does not end with \\n (torn line)",
        (
            f"audit.jsonl:{stop}: digest of events.jsonl does not match the file, but does with "
            "its final \\n back: changed on the way (taken for text), not in its records; get a "
            "byte-exact copy"
        ),
    )


@pytest.mark.broken_run("broken on purpose, to compare the two ways of reading them")
def test_chunks_and_bytes_give_the_same_verdicts(tmp_path, monkeypatch):
    """Read in chunks of a few bytes, or from bytes: the same result as the whole file."""
    rng = random.Random(5)
    runs = []
    for n, scenario in enumerate(SCENARIOS * 4):
        run_dir = build_run(tmp_path / f"r{n}", scenario=scenario)
        if n >= len(SCENARIOS):
            _break(run_dir, rng)
        runs.append(run_dir)
    whole = [verify_run(r, live=None) for r in runs]
    monkeypatch.setattr(reading, "_CHUNK", 7)

    chunked = [verify_run(r, live=None) for r in runs]
    from_bytes = [verify_contents(_contents(r), run_dir=r) for r in runs]

    assert chunked == whole
    assert from_bytes == whole
    assert sum(not r.ok for r in whole) >= len(SCENARIOS) * 2  # most breaks are seen


def test_progress_grows_to_the_total(tmp_path, monkeypatch):
    """The callback sees the bytes read so far, never going back, ending at the total."""
    run_dir = build_run(tmp_path / "r", bars=60)
    total = sum((run_dir / name).stat().st_size for name in ARTIFACT_NAMES)
    monkeypatch.setattr(reading, "_CHUNK", 1000)
    calls: list[tuple[int, int]] = []

    assert verify_run(run_dir, live=None, progress=lambda done, of: calls.append((done, of))).ok

    assert len(calls) > total // 1000  # one call per chunk at least
    assert all(of == total for _, of in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert done[-1] == total


def test_progress_reaches_the_total_of_a_broken_run(tmp_path):
    """A missing file counts for nothing; what there is to read is read to the end."""
    run_dir = build_run(tmp_path / "r")
    (run_dir / "audit.jsonl").unlink()
    calls: list[tuple[int, int]] = []

    verify_run(run_dir, live=None, progress=lambda done, of: calls.append((done, of)))

    total = sum((run_dir / n).stat().st_size for n in ARTIFACT_NAMES if n != "audit.jsonl")
    assert calls[-1] == (total, total)


def test_memory_sessions_are_verified_from_their_bytes():
    """``verify_contents`` on a session's memory sinks: clean, then the change seen."""
    orch, sinks = session(steps=40)
    orch.run_to_end(40)
    contents = {
        "events.jsonl": b"".join(sinks.events.lines),
        "state_snapshots.jsonl": b"".join(sinks.states.lines),
        "audit.jsonl": b"".join(sinks.audit.lines),
        "metrics.json": sinks.metrics.content,
    }

    assert verify_contents(contents).ok
    broken = verify_contents({**contents, "metrics.json": None})
    assert broken.violations == ("metrics.json: missing",)


def test_verify_is_exported():
    """``verify_contents`` is public, next to ``verify_run``."""
    assert "verify_contents" in verify_package.__all__


def _cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", *args],
        env=env,
        check=False,
        timeout=60,
        **kwargs,
    )


def test_the_cli_draws_no_bar_off_a_terminal(tmp_path):
    """Piped, ``verify`` prints what it always did, and nothing on stderr."""
    run_dir = build_run(tmp_path / "r")

    plain = _cli("verify", str(run_dir), capture_output=True)
    as_json = _cli("verify", "--json", str(run_dir), capture_output=True)

    assert plain.returncode == 0
    assert plain.stdout.decode().startswith(f"OK {run_dir}: ")
    assert plain.stdout.count(b"\n") == 1
    assert plain.stderr == b""
    assert orjson.loads(as_json.stdout)["ok"] is True
    assert as_json.stderr == b""


def test_the_cli_draws_a_bar_on_a_terminal(tmp_path):
    """With stderr a terminal, the bar is drawn there; stdout is the same as ever."""
    run_dir = build_run(tmp_path / "r")
    done, drawn = cli_on_terminal("verify", str(run_dir), timeout=60)

    assert done.returncode == 0
    assert done.stdout.decode().startswith(f"OK {run_dir}: ")
    assert b"verify" in drawn


def test_the_kit_verifies_sessions_without_files(monkeypatch):
    """``verify_session`` checks the sinks' bytes as they are: it writes no file."""
    orch, sinks = session(steps=30)
    orch.run_to_end(30)
    orch.close()
    Schemas.get()  # the schema files are read once per process, maybe here

    def no_files(*args: object, **kwargs: object) -> None:
        raise AssertionError("verify_session wrote a file")

    monkeypatch.setattr(tempfile, "mkdtemp", no_files)
    monkeypatch.setattr(Path, "write_bytes", no_files)
    monkeypatch.setattr(Path, "open", no_files)

    assert verify_session(orch) == []
    sinks.events.lines.pop(3)
    found = verify_session(orch)
    assert found[0].startswith("session t: events.jsonl:4: seq is 5, expected 4")
    mark_verified(orch)


def _peak_bytes(run_dir: Path) -> int:
    tracemalloc.start()
    try:
        assert verify_run(run_dir, live=None).ok
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_run(tmp_path, monkeypatch):
    """Ten times the bars: the verifier's peak grows by a small part of the file's growth."""
    short = build_run(tmp_path / "short", bars=300)
    long = build_run(tmp_path / "long", bars=3000)
    monkeypatch.setattr(reading, "_CHUNK", 16384)
    Schemas.get()  # built once per process: not part of either peak
    _peak_bytes(short)

    grown = _peak_bytes(long) - _peak_bytes(short)

    more_bytes = (long / "events.jsonl").stat().st_size - (short / "events.jsonl").stat().st_size
    assert more_bytes > 500_000
    assert grown < more_bytes / 10, (grown, more_bytes)


@pytest.mark.broken_run("a line no run writes, to read it in many chunks")
def test_a_long_line_is_cut_by_the_line_carry_chunk_by_chunk(tmp_path, monkeypatch):
    """Each chunk is handed once to ``LineCarry``, which joins a line's pieces once.

    Found on a hostile run: one line of 200 MB in ``events.jsonl`` took ``verify`` 30 s (and
    ``report``, ``burnin`` as long), a sparse ``events.jsonl`` of 20 GB (``truncate -s``,
    one line of NULs) more than the two minutes it was given: the line so far was
    concatenated with each 1 MB chunk and split again, so the bytes copied grew with the
    square of the line. Speed is not timed here (bench/ measures it): the reader must cut
    every chunk through ``LineCarry`` (tests/test_linecarry.py holds its join-once rule),
    and the long line must come out whole.
    """
    run_dir = build_run(tmp_path / "r", bars=5)
    events = run_dir / "events.jsonl"
    lines = events.read_bytes().split(b"\n")
    lines[2] = b'{"x":"' + b"A" * (64 << 10) + b'"}'
    events.write_bytes(b"\n".join(lines))
    fed = carried_chunks(reading, monkeypatch)
    monkeypatch.setattr(reading, "_CHUNK", 64)

    result = verify_run(run_dir, live=None)

    assert not result.ok  # the changed line's event id no longer matches
    assert result.counts["events.jsonl"] == len(lines) - 1
    assert sum(fed) >= events.stat().st_size  # every byte of events.jsonl went through it
    assert max(fed) <= 64


@pytest.mark.broken_run("a line no run writes, larger than the memory given")
def test_a_line_larger_than_memory_is_said_and_the_other_files_read(tmp_path, monkeypatch):
    """One line the reader cannot hold: that file is said unreadable, the others checked.

    Found with a sparse ``events.jsonl`` of 20 GB (one line of NULs, no newline) under
    ``ulimit -v 2000000``: ``verify`` printed ``events.jsonl:?`` (the torn line's place,
    never filled), ``(run directory): could not be checked: MemoryError:`` and a
    ``KeyError: 'audit.jsonl'`` for each file it had not come to. The memory runs out here
    once a line's pieces pass 1 KB.
    """
    run_dir = build_run(tmp_path / "r", bars=5)
    events = run_dir / "events.jsonl"
    events.write_bytes(events.read_bytes() + b"\0" * 4096)  # a torn last line of NULs

    class _Small(reading.LineCarry):
        def lines(self, chunk: bytes) -> list[bytes]:
            if len(self.rest()) > 1024:
                raise MemoryError
            return super().lines(chunk)

    monkeypatch.setattr(reading, "LineCarry", _Small)
    monkeypatch.setattr(reading, "_CHUNK", 256)

    result = verify_run(run_dir, live=None)

    assert not result.ok
    said = "\n".join(result.violations)
    assert "cannot be read: a line too long to hold in memory (MemoryError)" in said
    assert ":?" not in said
    assert "KeyError" not in said
    assert "could not be checked" not in said
    assert result.counts["audit.jsonl"] > 0
