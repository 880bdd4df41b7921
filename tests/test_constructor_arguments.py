"""The constructors a developer embedding livesession calls: documented, and refusing bad input.

Bug: ``MockBroker``, ``CsvReplayFeed``, ``ParquetReplayFeed``, ``RandomWalkFeed``, the
PostgreSQL stores and lease, and ``FileLease`` documented none of their arguments, and
several took anything: ``MockBroker(price_tick=Decimal(0))`` or ``RandomWalkFeed(tick=
Decimal(0))`` failed later with a bare ``DivisionByZero``, a float price with ``unsupported
operand type(s)``, ``MockBroker(fill_model={})`` at its first order, and a replay feed's
``symbol=""`` named every bar of the run so.
"""

from __future__ import annotations

import inspect
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from livesession import (
    ConfigError,
    CsvReplayFeed,
    FileLease,
    MockBroker,
    ParquetReplayFeed,
    RandomWalkFeed,
)
from livesession.leases import PostgresLease
from livesession.stores.postgres import PostgresCheckpointStore, PostgresIdempotencyStore

DOCUMENTED = [
    MockBroker,
    CsvReplayFeed,
    ParquetReplayFeed,
    RandomWalkFeed,
    PostgresIdempotencyStore,
    PostgresCheckpointStore,
    PostgresLease,
    FileLease,
]


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda cls: cls.__name__)
def test_each_constructor_argument_is_documented_with_what_is_refused(cls: type) -> None:
    """``help(cls)`` says what each argument is, and what the constructor raises."""
    doc = inspect.getdoc(cls.__init__) or ""
    if cls is MockBroker:  # documented on the class, which help() shows first
        doc = inspect.getdoc(cls) or ""
    params = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
    missing = [name for name in params if f"{name}:" not in doc]
    assert not missing, f"{cls.__name__} does not document {missing}"
    assert "Raises:" in doc


@pytest.mark.parametrize(
    ("kwargs", "error", "said"),
    [
        ({"seed": -1}, ValueError, "MockBroker(seed=...) must be a non-negative integer, got -1"),
        ({"seed": True}, ValueError, "must be a non-negative integer, got True"),
        (
            {"price_tick": Decimal(0)},
            ValueError,
            (
                "MockBroker(price_tick=...) must be a positive Decimal (Decimal('0.01')), "
                "got Decimal('0')"
            ),
        ),
        ({"price_tick": 0.01}, ValueError, "must be a positive Decimal"),
        (
            {"qty_lot": Decimal("NaN")},
            ValueError,
            "MockBroker(qty_lot=...) must be a positive Decimal",
        ),
        ({"fill_model": {}}, TypeError, "MockBroker(fill_model=...) takes a FillModel or None"),
        ({"journal": 5}, TypeError, "MockBroker(journal=...) must be a path"),
    ],
)
def test_mock_broker_refuses_a_bad_argument_naming_it(
    kwargs: dict[str, Any], error: type[Exception], said: str
) -> None:
    with pytest.raises(error) as caught:
        MockBroker(**kwargs)
    assert said in str(caught.value)
    assert "\n" not in str(caught.value)


_WALK: dict[str, Any] = {
    "symbol": "BTC/USDT",
    "seed": 1,
    "initial_price": Decimal(100),
    "tick": Decimal("0.01"),
    "lot": Decimal("0.001"),
}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"tick": Decimal(0)}, "RandomWalkFeed(tick=...) must be a positive Decimal"),
        ({"initial_price": 100.0}, "RandomWalkFeed(initial_price=...) must be a positive"),
        ({"lot": Decimal(-1)}, "RandomWalkFeed(lot=...) must be a positive Decimal"),
        ({"seed": -1}, "RandomWalkFeed(seed=...) must be a non-negative integer, got -1"),
        ({"volatility_bps": -5}, "RandomWalkFeed(volatility_bps=...) must be a non-negative"),
        ({"symbol": ""}, "RandomWalkFeed(symbol=...) must be a non-empty str, got ''"),
    ],
)
def test_the_random_walk_refuses_a_bad_argument_naming_it(
    change: dict[str, Any], said: str
) -> None:
    with pytest.raises(ConfigError, match=r"^" + said.replace("(", r"\(").replace(")", r"\)")):
        RandomWalkFeed(**{**_WALK, **change})


@pytest.mark.parametrize("feed", [CsvReplayFeed, ParquetReplayFeed], ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"symbol": ""}, "(symbol=...) must be a non-empty str, got ''"),
        ({"symbol": 5}, "(symbol=...) must be a non-empty str, got 5"),
        ({"lot": Decimal(0)}, "(lot=...) must be a positive Decimal (Decimal('0.001'))"),
        ({"lot": 0.001}, "(lot=...) must be a positive Decimal"),
    ],
)
def test_a_replay_feed_refuses_a_bad_symbol_or_lot_before_it_opens_the_file(
    tmp_path: Path, feed: type, change: dict[str, Any], said: str
) -> None:
    args: dict[str, Any] = {"symbol": "ACME", "tick": None, "lot": Decimal("0.001"), **change}
    with pytest.raises(ConfigError) as caught:
        feed(tmp_path / "not-there", **args)  # refused before the (missing) file is read
    assert str(caught.value).startswith(feed.__name__ + said)


def test_a_checkpoint_store_names_its_own_argument() -> None:
    """``PostgresCheckpointStore(dsn, run_key="")`` said ``idempotency run_key``."""
    with pytest.raises(ValueError, match=r"^checkpoint run_key must not be empty$"):
        PostgresCheckpointStore("postgresql://nobody@127.0.0.1:1/none", run_key="")
