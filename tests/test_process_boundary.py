"""What crosses a process boundary: a host running sessions in worker processes.

A desk's service may run its sessions in a ``concurrent.futures.ProcessPoolExecutor`` (or
``multiprocessing``): what a worker returns, and what it raises, is pickled back to the
host. Every error livesession exports must come back as itself, its attributes with it;
one that could not be rebuilt there broke the whole pool (``BrokenProcessPool``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import multiprocessing
import os
import pickle
from pathlib import Path

import pytest

import livesession
from livesession import (
    DryrunConfig,
    InvalidTransition,
    LiveSessionError,
    LiveSessionOrchestrator,
    MemoryLineSink,
)
from livesession._support.fsutil import FileTooLarge

_SAMPLES: dict[str, LiveSessionError] = {
    "LiveSessionError": livesession.LiveSessionError("base"),
    "ConfigError": livesession.ConfigError.unknown_key("bogus", ["max_order_qty"], table="risk"),
    "DataFileError": livesession.DataFileError(
        "bad cell", path=Path("bars.csv"), line=2, column="open", value="1.07160"
    ),
    "PluginError": livesession.PluginError("cannot import desk.strategy"),
    "UnrecordablePath": livesession.UnrecordablePath("path beyond ASCII"),
    "InvalidTransition": livesession.InvalidTransition(
        "activate", "INIT", why="run preflight() first", call=True
    ),
    "RunDirectoryError": livesession.RunDirectoryError("no run here"),
    "AuditCorruption": livesession.AuditCorruption("line 3 breaks the chain"),
    "LeaseHeld": livesession.LeaseHeld("held by desk-2"),
    "RunExists": livesession.RunExists("runs/a exists"),
    "RunHeld": livesession.RunHeld("pid 12 holds runs/a"),
    "SealCheckpointWritten": livesession.SealCheckpointWritten("sealed", status="COMPLETED"),
    "CheckpointError": livesession.CheckpointError("unreadable checkpoint"),
    "PluginStateError": livesession.PluginStateError("FEED_ERROR", ValueError("no state")),
    "IdempotencyConflict": livesession.IdempotencyConflict("key reserved with another"),
    "SinkFailure": livesession.SinkFailure("events sink failed at line 4"),
    "StoreFailure": livesession.StoreFailure("disk full"),
    "MissingExtra": livesession.MissingExtra("ccxt", "ccxt", broken="ImportError: numpy"),
    "LeaseError": livesession.LeaseError("lease file corrupt"),
    "Fenced": livesession.Fenced("fenced", fence=3, newest=4),
    "PostgresError": livesession.PostgresError("server gone"),
    "BrokerError": livesession.BrokerError("broker", client_order_id="abc"),
    "Transient": livesession.Transient("timeout", client_order_id="abc"),
    "OutcomeUnknown": livesession.OutcomeUnknown("read timeout", client_order_id="abc"),
    "Rejected": livesession.Rejected("no funds", reason="INSUFFICIENT", client_order_id="abc"),
}


def _round_trip(value: object) -> object:
    """``value`` pickled and unpickled, as a process pool hands it over."""
    return pickle.loads(pickle.dumps(value))  # noqa: S301 - the bytes just pickled here


def _attributes(error: BaseException) -> dict[str, object]:
    """``error``'s attributes, an exception among them by its type and message."""
    return {
        name: (type(value), str(value)) if isinstance(value, BaseException) else value
        for name, value in vars(error).items()
    }


def test_every_exported_error_has_a_sample():
    exported = {
        name
        for name in livesession.__all__
        if isinstance(getattr(livesession, name), type)
        and issubclass(getattr(livesession, name), BaseException)
    }
    assert exported == set(_SAMPLES)


@pytest.mark.parametrize("name", sorted(_SAMPLES))
def test_an_error_pickles_and_copies_as_itself(name):
    error = _SAMPLES[name]
    for again in (_round_trip(error), copy.copy(error), copy.deepcopy(error)):
        assert type(again) is type(error)
        assert str(again) == str(error)
        assert again.args == error.args
        assert _attributes(again) == _attributes(error)


def _activate_unstarted() -> None:
    """A host's mistake in a worker: activate() before preflight() (InvalidTransition)."""
    session = LiveSessionOrchestrator(
        DryrunConfig(run_id="worker", steps=5), audit_sink=MemoryLineSink()
    )
    session.activate()


def _steps_run() -> int:
    session = LiveSessionOrchestrator(
        DryrunConfig(run_id="worker", steps=5), audit_sink=MemoryLineSink()
    )
    return session.run_to_end(5).steps


def test_a_workers_error_comes_back_and_the_pool_goes_on():
    """The worker's InvalidTransition is raised to the host; the pool's next task runs."""
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        with pytest.raises(InvalidTransition) as raised:
            pool.submit(_activate_unstarted).result(timeout=60)
        assert raised.value.trigger == "activate"
        assert raised.value.state == "INIT"
        assert pool.submit(_steps_run).result(timeout=60) == 5


def _store_on(path: str) -> None:
    """A host's mistake in a worker: a JSON Lines store pointed at a FIFO (refused)."""
    livesession.JsonlIdempotencyStore(Path(path))


def test_a_workers_refused_store_path_comes_back_and_the_pool_goes_on(tmp_path):
    """Bug: the ``OSError`` a ``JsonlIdempotencyStore`` (or ``FileCheckpointStore``) raises
    for a path that is no regular file (``not a regular file (a FIFO)``), and the one for
    a file too large to read, could not be unpickled (nor copied): their ``__init__`` takes
    other arguments than OSError's, which rebuilt them with its own. A worker that raised
    one broke the host's whole pool (``BrokenProcessPool``). It comes back as itself."""
    fifo = tmp_path / "keys.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match=r"not a regular file \(a FIFO\)") as raised:
        _store_on(str(fifo))
    error = raised.value
    for again in (_round_trip(error), copy.copy(error)):
        assert type(again) is type(error)
        assert (str(again), again.errno, again.filename) == (str(error), error.errno, str(fifo))
        assert vars(again) == vars(error)  # its kind, "a FIFO"
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        with pytest.raises(OSError, match=r"not a regular file \(a FIFO\)") as came:
            pool.submit(_store_on, str(fifo)).result(timeout=60)
        assert type(came.value) is type(error)
        assert pool.submit(_steps_run).result(timeout=60) == 5
    too_large = FileTooLarge(fifo, 10, 5)
    again = _round_trip(too_large)
    assert (str(again), vars(again)) == (str(too_large), vars(too_large))


def test_a_runs_results_pickle_as_they_are(tmp_path):
    """What a worker hands back of a run: its result, a verb's, the book, and verify's."""
    session = livesession.create_run(DryrunConfig(run_id="worker", steps=20), tmp_path)
    with session:
        result = session.run_to_end(20)
        verb = session.kill("too late")
        book = session.book
    verified = livesession.verify_run(tmp_path / "worker")
    assert verified.ok
    for value in (result, verb, book, verified):
        again = _round_trip(value)
        assert again == value
        assert repr(again) == repr(value)
    again = _round_trip(verified)
    assert dict(again.counts) == dict(verified.counts)
    with pytest.raises(TypeError):  # read-only, as verify_run gave it
        again.counts["bars"] = 0  # type: ignore[index]


def test_a_session_is_neither_pickled_nor_copied(tmp_path):
    """It stays in its process: pickle refused it only by chance (a ``_hashlib.HASH``)."""
    said = (
        "cannot be pickled or copied: its run's files, lock and owner thread stay in the "
        "process that built it; build the session in the worker (create_run there) and send "
        "back its result()"
    )
    session = livesession.create_run(DryrunConfig(run_id="stays", steps=5), tmp_path)
    with session:
        for attempt in (pickle.dumps, copy.copy, copy.deepcopy):
            with pytest.raises(TypeError) as refused:
                attempt(session)
            assert str(refused.value) == f"a session (LiveSessionOrchestrator) {said}"
        session.run_to_end(5)

    async def main() -> None:
        config = DryrunConfig(run_id="stays-aio", steps=5)
        async with livesession.open_session(config, audit_sink=MemoryLineSink()) as aio:
            for attempt in (pickle.dumps, copy.copy):
                with pytest.raises(TypeError) as refused:
                    attempt(aio)
                assert str(refused.value) == f"a session (AsyncSession) {said}"

    asyncio.run(main())
