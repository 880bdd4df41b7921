"""The JSONL store's file: what it syncs, which lines it takes back, what a refusal leaves.

Each line is synced before its call returns (none with ``durable=False``), and a new file's
entry in its directory once; a line this store could not have written is damage, whichever
field is wrong; a file refused on open is left unlocked, even while the refusal is kept.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from livesession._exceptions import RunDirectoryError, StoreFailure
from livesession.stores import JsonlIdempotencyStore
from livesession.stores import jsonl as jsonl_module

from store_contract import FP_A

_FIRST = b'{"fingerprint":"fp","key":"k1","op":"reserve"}\n'


def _count_syncs(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[Path]]:
    """The descriptors ``os.fsync`` is asked to sync and the directories ``fsync_dir`` is."""
    files: list[int] = []
    directories: list[Path] = []
    sync = os.fsync

    def counted(fd: int) -> None:
        files.append(fd)
        sync(fd)

    monkeypatch.setattr(os, "fsync", counted)
    monkeypatch.setattr(jsonl_module, "fsync_dir", directories.append)
    return files, directories


@pytest.mark.parametrize(("durable", "syncs"), [(True, 2), (False, 0)])
def test_every_line_is_synced_unless_not_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool, syncs: int
) -> None:
    path = tmp_path / "idempotency.jsonl"
    path.write_bytes(b"")
    store = JsonlIdempotencyStore(path) if durable else JsonlIdempotencyStore(path, durable=False)
    files, _ = _count_syncs(monkeypatch)
    try:
        store.reserve("k1", FP_A)
        store.complete("k1", "FILLED")
    finally:
        store.close()
    assert len(files) == syncs


def test_a_new_file_is_synced_into_its_directory_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new file's directory entry is synced when it is made, not when it is reopened."""
    _, directories = _count_syncs(monkeypatch)
    path = tmp_path / "idempotency.jsonl"
    JsonlIdempotencyStore(path).close()
    assert directories == [tmp_path]
    JsonlIdempotencyStore(path).close()
    assert directories == [tmp_path]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b'{"fingerprint":"fp","op":"reserve"}', "missing key"),
        (b'{"fingerprint":"fp","key":"","op":"reserve"}', "missing key"),
        (b'{"fingerprint":"fp","key":7,"op":"reserve"}', "missing key"),
        (b'{"key":"k2","op":"reserve"}', "missing fingerprint"),
        (b'{"fingerprint":"","key":"k2","op":"reserve"}', "missing fingerprint"),
        (b'{"fingerprint":7,"key":"k2","op":"reserve"}', "missing fingerprint"),
        (b'{"key":"k1","op":"complete"}', "missing outcome"),
        (b'{"key":"k1","op":"complete","outcome":""}', "missing outcome"),
        (b'{"key":"k1","op":"complete","outcome":7}', "missing outcome"),
    ],
)
def test_a_record_with_a_field_wrong_is_damage(tmp_path: Path, line: bytes, why: str) -> None:
    """Each field a record needs: absent, empty or not a string, the line is refused."""
    path = tmp_path / "idempotency.jsonl"
    path.write_bytes(_FIRST + line + b"\n")
    with pytest.raises(RunDirectoryError, match=f"line 2 is corrupt \\({why}\\)"):
        JsonlIdempotencyStore(path)


def test_a_file_refused_on_open_is_left_unlocked(tmp_path: Path) -> None:
    """The refusal keeps the failed store in its traceback: its file is closed (and so
    unlocked) before the refusal is raised, so the file mended opens at once."""
    path = tmp_path / "idempotency.jsonl"
    path.write_bytes(b"not json\n" + _FIRST)
    with pytest.raises(RunDirectoryError, match="line 1 is corrupt") as refused:
        JsonlIdempotencyStore(path)
    path.write_bytes(_FIRST)
    store = JsonlIdempotencyStore(path)
    try:
        assert store.get("k1").fingerprint == "fp"
    finally:
        store.close()
    assert refused.value is not None  # kept until here


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (OSError(5, "Input/output error"), "OSError: Input/output error"),
        (OSError("the disk went away"), "OSError: the disk went away"),
    ],
    ids=["errno", "no errno"],
)
def test_a_refused_write_names_its_cause_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, said: str
) -> None:
    """The cause's words without its errno; an error that has none says what it says."""
    store = JsonlIdempotencyStore(tmp_path / "idempotency.jsonl")

    def refuse(_fd: int) -> None:
        raise error

    monkeypatch.setattr(os, "fsync", refuse)
    try:
        with pytest.raises(StoreFailure) as refused:
            store.reserve("k1", FP_A)
    finally:
        store.close()
    assert str(refused.value) == f"the idempotency store {store!r} refused a write ({said})"


_CALLS = {
    "reserve": lambda store: store.reserve("k1", FP_A),
    "complete": lambda store: store.complete("k1", "FILLED"),
    "get": lambda store: store.get("k1"),
    "reservations": lambda store: store.reservations(),
}


@pytest.mark.parametrize("call", sorted(_CALLS))
def test_a_closed_store_refuses_every_call(tmp_path: Path, call: str) -> None:
    store = JsonlIdempotencyStore(tmp_path / "idempotency.jsonl")
    store.reserve("k1", FP_A)
    store.close()
    with pytest.raises(ValueError, match="is closed"):
        _CALLS[call](store)


def _fail(_fd: int) -> None:
    raise OSError(5, "Input/output error")


@pytest.mark.parametrize("call", sorted(_CALLS))
def test_a_store_a_write_failed_in_refuses_every_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    """After a failed write nothing said about the file can be trusted: reopen it."""
    path = tmp_path / "idempotency.jsonl"
    store = JsonlIdempotencyStore(path)
    store.reserve("k1", FP_A)
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", _fail)
        with pytest.raises(StoreFailure):
            store.reserve("k2", FP_A)
    before = path.read_bytes()
    try:
        with pytest.raises(ValueError, match="failed on an earlier write: reopen it"):
            _CALLS[call](store)
    finally:
        store.close()
    assert path.read_bytes() == before
