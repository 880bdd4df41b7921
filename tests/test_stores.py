"""The idempotency stores (memory, jsonl, sqlite), their factory and the checkpoint file."""

from __future__ import annotations

import contextlib
import decimal
import inspect
import os
import random
import re
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

import livesession.stores
from livesession._exceptions import (
    CheckpointError,
    ConfigError,
    IdempotencyConflict,
    RunDirectoryError,
    StoreFailure,
)
from livesession._typing import CheckpointStore, IdempotencyStore
from livesession.stores import (
    IDEMPOTENCY_BACKENDS,
    FileCheckpointStore,
    JsonlIdempotencyStore,
    MemoryIdempotencyStore,
    SqliteIdempotencyStore,
    open_idempotency_store,
)

from _helpers import campaign, child
from store_contract import (
    FP_A,
    FP_B,
    CheckpointContract,
    CloseContract,
    CompleteContract,
    DurabilityContract,
    GetContract,
    ListingContract,
    ModelContract,
    ReserveContract,
)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start_ns: int = 1_000) -> None:
        self.ns = start_ns

    def monotonic_ns(self) -> int:
        return self.ns

    def advance(self, ns: int) -> None:
        self.ns += ns


def _open(backend: str, directory: Path, clock: FakeClock):
    if backend == "memory":
        return MemoryIdempotencyStore(clock)
    if backend == "jsonl":
        return JsonlIdempotencyStore(directory / "idempotency.jsonl")
    return SqliteIdempotencyStore(directory / "idempotency.sqlite")


@pytest.fixture(name="clock")
def _clock():
    return FakeClock()


@pytest.fixture(params=["memory", "jsonl", "sqlite"], name="store")
def _store(request, tmp_path, clock):
    store = _open(request.param, tmp_path, clock)
    yield store
    store.close()


@pytest.fixture(params=["jsonl", "sqlite"], name="make_store")
def _make_store(request, tmp_path, clock):
    opened = []

    def make():
        store = _open(request.param, tmp_path, clock)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


class TestReserve(ReserveContract):
    """Every backend keeps the reserve contract."""


class TestComplete(CompleteContract):
    """Every backend keeps the complete contract."""


class TestGet(GetContract):
    """Every backend keeps the get contract."""


class TestClose(CloseContract):
    """Every backend keeps the close contract."""


class TestListing(ListingContract):
    """Every backend lists its keys."""


class TestModel(ModelContract):
    """Every backend behaves like the dict model."""


class TestDurability(DurabilityContract):
    """The file-backed stores keep what they promised across reopening."""


class TestProtocol:
    """Every store satisfies the IdempotencyStore protocol at runtime."""

    def test_is_an_idempotency_store(self, store):
        """isinstance against the runtime-checkable protocol holds."""
        assert isinstance(store, IdempotencyStore)


def _jsonl_with(tmp_path: Path, tail: bytes) -> Path:
    path = tmp_path / "idempotency.jsonl"
    store = JsonlIdempotencyStore(path)
    store.reserve("k1", FP_A)
    store.complete("k1", "FILLED")
    store.reserve("k2", FP_B)
    store.close()
    with path.open("ab") as handle:
        handle.write(tail)
    return path


class TestJsonlRepair:
    """A torn last line is cut aside on open; damage before it is refused."""

    def test_lines_are_sorted_json(self, tmp_path):
        """Each call appends one JSON line with sorted keys."""
        path = _jsonl_with(tmp_path, b"")
        assert path.read_bytes().splitlines() == [
            b'{"fingerprint":"' + FP_A.encode() + b'","key":"k1","op":"reserve"}',
            b'{"key":"k1","op":"complete","outcome":"FILLED"}',
            b'{"fingerprint":"' + FP_B.encode() + b'","key":"k2","op":"reserve"}',
        ]

    def test_line_without_newline_is_torn(self, tmp_path):
        """A last line with no newline moves to .torn and its key is free again."""
        tail = b'{"fingerprint":"x","key":"k3","op":"res'
        path = _jsonl_with(tmp_path, tail)
        whole = path.read_bytes()[: -len(tail)]
        store = JsonlIdempotencyStore(path)
        try:
            assert store.torn_tail == tail
            assert path.read_bytes() == whole
            assert Path(f"{path}.torn").read_bytes() == tail
            assert store.get("k1").outcome == "FILLED"
            assert store.get("k3") is None
            assert store.reserve("k3", FP_A).created
        finally:
            store.close()

    def test_last_line_not_json_is_torn(self, tmp_path):
        """A last line that ends in a newline but is not JSON is also cut aside."""
        path = _jsonl_with(tmp_path, b'{"key":"k3",\x00\x00\n')
        store = JsonlIdempotencyStore(path)
        try:
            assert store.torn_tail == b'{"key":"k3",\x00\x00\n'
            assert store.get("k2").fingerprint == FP_B
        finally:
            store.close()

    def test_torn_bytes_accumulate(self, tmp_path):
        """A second repair appends to the existing .torn file."""
        path = _jsonl_with(tmp_path, b"first")
        JsonlIdempotencyStore(path).close()
        with path.open("ab") as handle:
            handle.write(b"second")
        JsonlIdempotencyStore(path).close()
        assert Path(f"{path}.torn").read_bytes() == b"firstsecond"

    def test_whole_file_is_not_touched(self, tmp_path):
        """Opening an undamaged file creates no .torn file and changes no byte."""
        path = _jsonl_with(tmp_path, b"")
        before = path.read_bytes()
        store = JsonlIdempotencyStore(path)
        store.close()
        assert store.torn_tail == b""
        assert path.read_bytes() == before
        assert not Path(f"{path}.torn").exists()

    def test_corrupt_middle_line_names_file_and_line(self, tmp_path):
        """A bad line before the last raises RunDirectoryError naming file and line."""
        path = _jsonl_with(
            tmp_path, b"not json\n" + b'{"key":"k1","op":"complete","outcome":"X"}\n'
        )
        before = path.read_bytes()
        with pytest.raises(RunDirectoryError) as caught:
            JsonlIdempotencyStore(path)
        message = str(caught.value)
        assert str(path) in message
        assert "line 4" in message
        assert "\n" not in message
        assert path.read_bytes() == before
        assert not Path(f"{path}.torn").exists()

    @pytest.mark.parametrize(
        "line",
        [
            b'{"key":"k9","op":"complete","outcome":"X"}\n',
            b'{"key":"k1","op":"reserve","fingerprint":"other"}\n',
            b'{"key":"k1","op":"delete"}\n',
            b"[1, 2]\n",
        ],
        ids=["complete-unknown", "reserve-twice", "unknown-op", "not-object"],
    )
    def test_impossible_last_record_is_refused(self, tmp_path, line):
        """A last line that is JSON but no record this store writes is damage, not a tear."""
        path = _jsonl_with(tmp_path, line)
        with pytest.raises(RunDirectoryError, match="line 4"):
            JsonlIdempotencyStore(path)

    @pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX only")
    def test_second_open_is_refused(self, tmp_path):
        """A file already open in a store cannot be opened by a second store."""
        path = tmp_path / "idempotency.jsonl"
        first = JsonlIdempotencyStore(path)
        try:
            with pytest.raises(RunDirectoryError, match="already open"):
                JsonlIdempotencyStore(path)
        finally:
            first.close()
        JsonlIdempotencyStore(path).close()

    def test_failed_write_leaves_no_partial_line(self, tmp_path, monkeypatch):
        """A failed fsync cuts the line back, reserves nothing and blocks further use."""
        path = tmp_path / "idempotency.jsonl"
        store = JsonlIdempotencyStore(path)
        store.reserve("k1", FP_A)
        before = path.read_bytes()

        def failing_fsync(fd):
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(os, "fsync", failing_fsync)
        # Raised as the store's failure, naming the store and the cause (a session then
        # seals nothing: its run is a crash that resume continues).
        refused = re.escape(f"the idempotency store {store!r} refused a write (OSError: ")
        with pytest.raises(StoreFailure, match=refused + "Input/output error"):
            store.reserve("k2", FP_A)
        monkeypatch.undo()
        assert path.read_bytes() == before
        with pytest.raises(ValueError, match="reopen"):
            store.get("k2")
        store.close()
        reopened = JsonlIdempotencyStore(path)
        try:
            assert reopened.get("k2") is None
            assert reopened.reserve("k2", FP_A).created
        finally:
            reopened.close()

    def test_closed_store_refuses_use(self, tmp_path):
        """Calls on a closed store raise ValueError instead of silently doing nothing."""
        store = JsonlIdempotencyStore(tmp_path / "idempotency.jsonl")
        store.close()
        with pytest.raises(ValueError, match="closed"):
            store.reserve("k1", FP_A)


class TestMemoryTtl:
    """The memory store forgets keys once they are older than the TTL."""

    @pytest.fixture(name="store")
    def _store(self, clock):
        return MemoryIdempotencyStore(clock, ttl_ns=1_000)

    def test_key_lives_until_ttl(self, store, clock):
        """Just before the TTL the key is still reserved."""
        store.reserve("k1", FP_A)
        clock.advance(999)
        assert store.get("k1").fingerprint == FP_A
        with pytest.raises(IdempotencyConflict):
            store.reserve("k1", FP_B)

    def test_expired_key_may_be_reserved_anew(self, store, clock):
        """At the TTL the key reads as absent and can be reserved with any fingerprint."""
        store.reserve("k1", FP_A)
        store.complete("k1", "FILLED")
        clock.advance(1_000)
        assert store.get("k1") is None
        record = store.reserve("k1", FP_B)
        assert (record.created, record.fingerprint, record.outcome) == (True, FP_B, None)

    def test_expired_key_cannot_be_completed(self, store, clock):
        """Completing an expired key raises KeyError like an unknown key."""
        store.reserve("k1", FP_A)
        clock.advance(5_000)
        with pytest.raises(KeyError):
            store.complete("k1", "FILLED")

    def test_expired_keys_are_dropped(self, store, clock):
        """Expired keys do not accumulate in memory."""
        for index in range(50):
            store.reserve(f"old{index}", FP_A)
        clock.advance(1_000)
        store.reserve("new", FP_A)
        assert len(store) == 1

    def test_expiry_counts_from_reservation(self, store, clock):
        """Completing a key does not extend its life."""
        store.reserve("k1", FP_A)
        clock.advance(600)
        store.complete("k1", "FILLED")
        clock.advance(400)
        assert store.get("k1") is None

    def test_no_ttl_keeps_keys(self, clock):
        """Without a TTL a key never expires."""
        store = MemoryIdempotencyStore(clock)
        store.reserve("k1", FP_A)
        clock.advance(10**18)
        assert store.get("k1").fingerprint == FP_A

    @pytest.mark.parametrize("ttl_ns", [0, -1, True, 1.5])
    def test_bad_ttl_is_refused(self, clock, ttl_ns):
        """A TTL that is not a positive integer raises ValueError."""
        with pytest.raises(ValueError, match="ttl_ns"):
            MemoryIdempotencyStore(clock, ttl_ns=ttl_ns)


class TestSqlite:
    """The SQLite store's pragmas and its sharing of one file."""

    def test_pragmas(self, tmp_path):
        """The connection runs in WAL mode with synchronous=FULL and a busy timeout."""
        store = SqliteIdempotencyStore(tmp_path / "s.sqlite")
        try:
            connection = store._open_connection()
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2
            assert connection.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        finally:
            store.close()

    def test_two_stores_share_a_file(self, tmp_path):
        """A second store object on the same file sees and guards the first one's keys."""
        first = SqliteIdempotencyStore(tmp_path / "s.sqlite")
        second = SqliteIdempotencyStore(tmp_path / "s.sqlite")
        try:
            assert first.reserve("k1", FP_A).created
            assert not second.reserve("k1", FP_A).created
            with pytest.raises(IdempotencyConflict):
                second.reserve("k1", FP_B)
            second.complete("k1", "FILLED")
            assert first.get("k1").outcome == "FILLED"
        finally:
            first.close()
            second.close()

    def test_not_a_database(self, tmp_path):
        """A file that is not SQLite raises RunDirectoryError naming it, in one line."""
        path = tmp_path / "idempotency.sqlite"
        path.write_bytes(b"this is not a database, just text" * 100)
        with pytest.raises(RunDirectoryError) as caught:
            SqliteIdempotencyStore(path)
        assert str(path) in str(caught.value)
        assert "\n" not in str(caught.value)

    def test_closed_store_refuses_use(self, tmp_path):
        """Calls on a closed store raise ValueError."""
        store = SqliteIdempotencyStore(tmp_path / "s.sqlite")
        store.close()
        with pytest.raises(ValueError, match="closed"):
            store.get("k1")


def race_order(count: int, seed: str) -> list[int]:
    """The order a race worker walks the keys in: its own, so both contend across the range."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order


_RACE_WORKER = (
    textwrap.dedent(
        """
    import hashlib
    import random
    import sys
    from pathlib import Path

    import orjson

    from livesession.stores import SqliteIdempotencyStore
    """
    )
    + inspect.getsource(race_order)
    + textwrap.dedent(
        """

    db, count, out, seed = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    work, block = int(sys.argv[5]), int(sys.argv[6])
    order = race_order(count, seed)
    store = SqliteIdempotencyStore(db)
    print("ready", flush=True)
    created = []
    for start in range(0, count, block):
        sys.stdin.readline()  # both workers walk their next block at once
        for index in order[start : start + block]:
            record = store.reserve(f"key-{index:05d}", "fp-race")
            if record.created:
                created.append(index)
            # Some CPU work between reservations, as a session does between orders;
            # without it one writer holds the lock so steadily that the other rarely
            # gets a turn.
            digest = b""
            for _ in range(work):
                digest = hashlib.sha256(digest).digest()
        print("done", flush=True)
    store.close()
    out.write_bytes(orjson.dumps(created))
    """
    )
)


_RACE_WORK = 200  # sha256 rounds between reservations in each race worker
_RACE_BLOCK = 100  # keys each worker walks between two rendezvous


class TestSqliteRace:
    """Two processes racing for the same keys on one file never both get one."""

    @pytest.mark.slow
    def test_each_key_granted_exactly_once(self, tmp_path):
        """Across the keys (2,000; 10,000 in the deep campaign) reserved by two processes at
        once, each is created once.

        The workers walk their orders in blocks, both at once, meeting between blocks: a
        loaded machine that let one worker run through every key before the other started
        left no race (the test failed saying so). Keys both walk in the same block are
        contended at the same time; there are some in every run (the orders are fixed).
        """
        count = campaign(10_000, 2_000)
        orders = [race_order(count, f"w{index}") for index in range(2)]
        blocks = [
            [set(order[start : start + _RACE_BLOCK]) for order in orders]
            for start in range(0, count, _RACE_BLOCK)
        ]
        assert sum(len(mine & theirs) for mine, theirs in blocks) > 0  # contended at once
        db = tmp_path / "race.sqlite"
        SqliteIdempotencyStore(db).close()  # create the schema before the race starts
        src = Path(livesession.stores.__file__).resolve().parents[2]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
        outputs = [tmp_path / f"worker{index}.json" for index in range(2)]
        with contextlib.ExitStack() as running:  # each killed, if still running, and closed
            workers = [
                running.enter_context(
                    child(
                        [
                            sys.executable,
                            "-c",
                            _RACE_WORKER,
                            str(db),
                            str(count),
                            str(out),
                            f"w{index}",
                            str(_RACE_WORK),
                            str(_RACE_BLOCK),
                        ],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        env=env,
                        text=True,
                    )
                )
                for index, out in enumerate(outputs)
            ]
            for worker in workers:
                assert worker.stdout.readline().strip() == "ready"
            for _ in blocks:
                for worker in workers:
                    worker.stdin.write("go\n")
                    worker.stdin.flush()
                for worker in workers:
                    assert worker.stdout.readline().strip() == "done"
            for worker in workers:
                worker.communicate(timeout=120)
                assert worker.returncode == 0
        granted = [set(orjson.loads(out.read_bytes())) for out in outputs]
        assert granted[0], "worker 0 got no key: there was no race"
        assert granted[1], "worker 1 got no key: there was no race"
        assert granted[0].isdisjoint(granted[1])
        assert granted[0] | granted[1] == set(range(count))
        with sqlite3.connect(db) as connection:
            rows = connection.execute("SELECT COUNT(*) FROM idempotency").fetchone()[0]
        connection.close()
        assert rows == count


class TestFactory:
    """open_idempotency_store opens a backend by name."""

    @pytest.mark.parametrize("backend", IDEMPOTENCY_BACKENDS)
    def test_opens_each_backend(self, tmp_path, clock, backend):
        """Each listed backend opens and keeps a key."""
        store = open_idempotency_store(backend, tmp_path, clock=clock)
        try:
            assert isinstance(store, IdempotencyStore)
            assert store.reserve("k1", FP_A).created
        finally:
            store.close()

    @pytest.mark.parametrize(
        ("backend", "file_name"),
        [("jsonl", "idempotency.jsonl"), ("sqlite", "idempotency.sqlite")],
    )
    def test_file_names(self, tmp_path, clock, backend, file_name):
        """File backends keep their keys in a fixed file name inside the run directory."""
        open_idempotency_store(backend, tmp_path, clock=clock).close()
        assert (tmp_path / file_name).is_file()

    def test_memory_writes_nothing(self, tmp_path, clock):
        """The memory backend leaves the run directory empty."""
        open_idempotency_store("memory", tmp_path, clock=clock).close()
        assert list(tmp_path.iterdir()) == []

    def test_unknown_backend_lists_choices(self, tmp_path, clock):
        """An unknown backend raises ConfigError naming every valid choice."""
        with pytest.raises(ConfigError) as caught:
            open_idempotency_store("redis", tmp_path, clock=clock)
        message = str(caught.value)
        assert "'redis'" in message
        for backend in ("memory", "jsonl", "sqlite"):
            assert backend in message

    def test_missing_run_dir(self, tmp_path, clock):
        """A file backend in a missing run directory raises RunDirectoryError."""
        with pytest.raises(RunDirectoryError, match="does not exist"):
            open_idempotency_store("sqlite", tmp_path / "nope", clock=clock)


class TestFileCheckpointContract(CheckpointContract):
    """The file checkpoint store keeps the checkpoint contract."""

    @pytest.fixture(name="make_checkpoints")
    def _make_checkpoints(self, tmp_path):
        return lambda: FileCheckpointStore(tmp_path / "checkpoint.json")

    @pytest.fixture(name="checkpoints")
    def _checkpoints(self, make_checkpoints):
        return make_checkpoints()


class TestFileCheckpointStore:
    """The checkpoint file is replaced atomically and read back strictly."""

    @pytest.fixture(name="checkpoints")
    def _checkpoints(self, tmp_path):
        return FileCheckpointStore(tmp_path / "checkpoint.json")

    def test_is_a_checkpoint_store(self, checkpoints):
        """It satisfies the CheckpointStore protocol."""
        assert isinstance(checkpoints, CheckpointStore)

    def test_missing_file_loads_none(self, checkpoints):
        """Before the first save, load returns None."""
        assert checkpoints.load() is None

    def test_round_trip(self, checkpoints):
        """What was saved is loaded back."""
        state = {"step": 7, "offsets": {"events": 1024}, "qty": "0.015", "done": False}
        checkpoints.save(state)
        assert checkpoints.load() == state

    def test_bytes_are_canonical(self, checkpoints):
        """Keys are sorted, so equal mappings give equal bytes."""
        checkpoints.save({"b": 1, "a": {"d": 2, "c": 3}})
        first = checkpoints.path.read_bytes()
        checkpoints.save({"a": {"c": 3, "d": 2}, "b": 1})
        assert checkpoints.path.read_bytes() == first
        assert first.index(b'"a"') < first.index(b'"b"')
        assert first.endswith(b"\n")

    def test_save_replaces_and_leaves_no_tmp(self, checkpoints, tmp_path):
        """A second save replaces the first and leaves only the checkpoint file."""
        checkpoints.save({"step": 1})
        checkpoints.save({"step": 2})
        assert checkpoints.load() == {"step": 2}
        assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]

    def test_unserialisable_keeps_previous(self, checkpoints, tmp_path):
        """A value JSON cannot hold raises CheckpointError and keeps the old checkpoint."""
        checkpoints.save({"step": 1})
        with pytest.raises(CheckpointError, match=r"checkpoint\.json"):
            checkpoints.save({"qty": decimal.Decimal("1.5")})
        assert checkpoints.load() == {"step": 1}
        assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]

    @pytest.mark.parametrize(
        "content",
        [b'{"step": 1', b"", b"\xff\xfe", b"[1, 2]\n"],
        ids=["cut", "empty", "binary", "list"],
    )
    def test_bad_file_is_one_line_error(self, checkpoints, content):
        """A damaged checkpoint raises CheckpointError with one line naming the file."""
        checkpoints.path.write_bytes(content)
        with pytest.raises(CheckpointError) as caught:
            checkpoints.load()
        message = str(caught.value)
        assert str(checkpoints.path) in message
        assert "\n" not in message

    @pytest.mark.parametrize("durable", [True, False])
    def test_a_save_is_synced_unless_not_durable(self, tmp_path, monkeypatch, durable):
        """A store made without ``durable`` syncs what it saves; ``durable=False`` does not."""
        synced: list[int] = []
        sync = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), sync(fd))[1])
        path = tmp_path / "checkpoint.json"
        store = FileCheckpointStore(path) if durable else FileCheckpointStore(path, durable=False)
        store.save({"step": 1})
        assert bool(synced) is durable

    def test_missing_directory_is_checkpoint_error(self, tmp_path):
        """Saving into a directory that does not exist raises CheckpointError."""
        store = FileCheckpointStore(tmp_path / "gone" / "checkpoint.json")
        with pytest.raises(CheckpointError, match="cannot write"):
            store.save({"step": 1})


class TestPackage:
    """The stores package exports what it lists."""

    def test_all_is_sorted_and_complete(self):
        """__all__ is sorted (constants, then classes, then functions) and every name exists."""
        names = livesession.stores.__all__

        def kind(name):
            return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

        assert list(names) == sorted(names, key=kind)
        for name in names:
            assert hasattr(livesession.stores, name)


def _refusal(code: int, message: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # as SQLite sets it
    return error


_LIKELY_CAUSES = (
    "(likely causes: a file size limit, `ulimit -f`; a failing disk, which the "
    "kernel log names; a file that is no SQLite database on a local disk)"
)


@pytest.mark.parametrize(
    ("error", "free", "said"),
    [
        (_refusal(13, "database or disk is full"), 0, "the disk is full (0 bytes free in"),
        (_refusal(10 | (3 << 8), "disk I/O error"), 4096, "the disk is full (4096 bytes free in"),
        (  # room on the disk: the file size limit is one of the likely causes (no limit here)
            _refusal(10, "disk I/O error"),
            1 << 30,
            _LIKELY_CAUSES,
        ),
        # a mebibyte free is room; a byte less is a full disk
        (_refusal(10, "disk I/O error"), 1 << 20, _LIKELY_CAUSES),
        (_refusal(10, "disk I/O error"), (1 << 20) - 1, "the disk is full (1048575 bytes free in"),
        (_refusal(26, "file is not a database"), 0, "is it a SQLite file on a local disk?"),
        (  # SQLITE_CORRUPT is one bit from SQLITE_IOERR: the file is suspect, not the disk
            _refusal(11, "database disk image is malformed"),
            1 << 30,
            "database disk image is malformed (is it a SQLite file on a local disk?)",
        ),
    ],
    ids=[
        "SQLITE_FULL",
        "IOERR on a full disk",
        "IOERR with room",
        "IOERR with a mebibyte",
        "IOERR with a byte less",
        "not a database",
        "corrupt",
    ],
)
def test_opening_the_sqlite_store_on_a_full_disk_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error, free, said
) -> None:
    """A full disk while opening idempotency.sqlite said "disk I/O error (is it a SQLite
    file on a local disk?)": ENOSPC comes back from SQLite as an I/O error, so the free
    space decides, and the message says the disk is full and to make room."""
    from livesession.stores import sqlite as store

    def refuse(*_args: object, **_kwargs: object) -> sqlite3.Connection:
        raise error

    monkeypatch.setattr(store, "connect", refuse)
    monkeypatch.setattr(
        store.shutil, "disk_usage", lambda _path: type("Usage", (), {"free": free})()
    )
    with pytest.raises(RunDirectoryError) as raised:
        SqliteIdempotencyStore(tmp_path / "idempotency.sqlite")
    message = str(raised.value)
    assert "\n" not in message
    assert said in message
    assert message.startswith(f"cannot open idempotency database {tmp_path}")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
@pytest.mark.parametrize("store", ["checkpoint", "jsonl", "sqlite"])
def test_a_store_a_host_points_at_a_fifo_refuses_it_at_once(tmp_path, store):
    """A host's own store on a FIFO: loading the checkpoint waited for a writer for ever,
    and opening the JSONL store for a reader (neither heard SIGTERM). The SQLite store
    said ``disk I/O error (likely causes: a file size limit, ...; a failing disk, ...)``
    of a FIFO, where the others name it."""
    import threading

    fifo = tmp_path / "store"
    os.mkfifo(fifo)
    outcome: dict[str, BaseException] = {}

    def open_it() -> None:
        try:
            if store == "checkpoint":
                FileCheckpointStore(fifo).load()
            elif store == "sqlite":
                SqliteIdempotencyStore(fifo)
            else:
                JsonlIdempotencyStore(fifo)
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=open_it, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # let it go: a writer and a reader come and go at once
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        os.close(reader)
        pytest.fail(f"{store} store waited on the FIFO {fifo}")
    error = outcome["error"]
    if store == "checkpoint":
        assert isinstance(error, CheckpointError)
        assert str(error) == f"cannot read checkpoint {fifo}: not a regular file (a FIFO)"
    elif store == "sqlite":
        assert isinstance(error, RunDirectoryError)
        said = f"cannot open idempotency database {fifo}: not a regular file (a FIFO)"
        assert str(error) == said
    else:
        assert isinstance(error, OSError)
        assert "not a regular file (a FIFO)" in str(error)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
