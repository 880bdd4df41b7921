"""The feeds: the integer walk gives the Decimal formulae's bars; a data file's row as a bar."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livesession._domain.ids import stable_id
from livesession._domain.model import Bar
from livesession._domain.random import DeterministicStream
from livesession._market.datavalues import volume_problem
from livesession._market.feeds import RandomWalkFeed, _Grid, bar_volume, row_bar

GRIDS = ["1", "0.5", "0.25", "0.1", "0.05", "0.01", "1.00", "0.001", "0.000001", "0.3", "2"]


def _pair(**kwargs: object) -> tuple[RandomWalkFeed, RandomWalkFeed]:
    return RandomWalkFeed(**kwargs), RandomWalkFeed(**kwargs)  # type: ignore[arg-type]


def _same(fast: RandomWalkFeed, reference: RandomWalkFeed, bars: int) -> None:
    for i in range(bars):
        got = fast.next_bar(i)
        want = reference._next_bar_decimal(i)
        # Equal values *and* equal text: the text is what lands in events.jsonl.
        assert got == want
        assert [str(v) for v in (got.open, got.high, got.low, got.close, got.volume)] == [
            str(v) for v in (want.open, want.high, want.low, want.close, want.volume)
        ]
    assert fast.get_state() == reference.get_state()


@given(
    seed=st.integers(0, 2**32),
    tick=st.sampled_from(GRIDS),
    lot=st.sampled_from(GRIDS),
    price=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10**9), places=6),
    vol=st.integers(0, 12_000),
)
def test_integer_walk_equals_decimal_formulae(
    seed: int, tick: str, lot: str, price: Decimal, vol: int
) -> None:
    fast, reference = _pair(
        symbol="BTC/USDT",
        seed=seed,
        initial_price=price,
        tick=Decimal(tick),
        lot=Decimal(lot),
        volatility_bps=vol,
    )
    _same(fast, reference, 40)


@given(lot=st.sampled_from(GRIDS))
def test_a_volume_made_once_is_the_one_the_formulae_give_each_time(lot: str) -> None:
    """A bar's volume is one of 1,000 (1 to 1,000 lots), each Decimal made once and reused:
    over 3,000 bars every reused one still equals the formulae's, value and text."""
    fast, reference = _pair(
        symbol="BTC/USDT",
        seed=3,
        initial_price=Decimal("42000.00"),
        tick=Decimal("0.01"),
        lot=Decimal(lot),
    )
    _same(fast, reference, 3000)
    assert len(fast._volumes) < 1000  # some were reused


def test_demo_grid_uses_the_integer_walk_and_odd_grids_do_not() -> None:
    assert _Grid.of(Decimal("0.01")) is not None
    assert _Grid.of(Decimal("0.001")) is not None
    assert _Grid.of(Decimal("0.3")) is None  # 1/3 does not terminate
    assert _Grid.of(Decimal("1E-8")) is None  # str() would switch to exponent notation
    assert _Grid.of(Decimal("1E+1")) is None


def test_walk_near_the_digit_limit_hands_over_to_the_formulae() -> None:
    fast, reference = _pair(
        symbol="X",
        seed=7,
        initial_price=Decimal(10**16),
        tick=Decimal("0.01"),
        lot=Decimal("0.001"),
        volatility_bps=9_000,
    )
    _same(fast, reference, 60)


def test_a_bar_that_leaps_past_the_grid_is_refused_as_the_formulae_refuse_it() -> None:
    """Bug: ``volatility_bps = 9223372036854775807`` took the integer walk from 42000.00 to a
    high of 6404273181669793721294531703356333.86 in its first bar, which ``* unit`` rounded
    to 28 digits (...1703000000, off the tick's grid): the run wrote the bar and verify
    failed it. The formulae refuse a high past what the grid carries; the walk does too."""
    fast, reference = _pair(
        symbol="BTC/USDT",
        seed=123,
        initial_price=Decimal("42000.00"),
        tick=Decimal("0.01"),
        lot=Decimal("0.001"),
        volatility_bps=2**63 - 1,
    )
    with pytest.raises(ValueError, match=r"^the random walk reached ") as formulae:
        reference._next_bar_decimal(0)
    with pytest.raises(ValueError, match=r"^the random walk reached ") as walk:
        fast.next_bar(0)
    said = str(walk.value).removeprefix("the random walk reached ")
    assert said.startswith("6404273181669793721294531703356333.86, more than the 28 digits")
    assert str(formulae.value).endswith(said.partition(",")[2])
    assert fast.get_state() == reference.get_state()  # both drew the bar's block


def test_state_round_trip_resumes_the_same_walk() -> None:
    kwargs: dict[str, object] = {
        "symbol": "BTC/USDT",
        "seed": 3,
        "initial_price": Decimal("42000.00"),
        "tick": Decimal("0.01"),
        "lot": Decimal("0.001"),
    }
    whole = RandomWalkFeed(**kwargs)  # type: ignore[arg-type]
    first = [whole.next_bar(i) for i in range(30)]
    part = RandomWalkFeed(**kwargs)  # type: ignore[arg-type]
    for i in range(12):
        part.next_bar(i)
    resumed = RandomWalkFeed(**kwargs)  # type: ignore[arg-type]
    resumed.set_state(part.get_state())
    assert [resumed.next_bar(i) for i in range(12, 30)] == first[12:]


@given(seed=st.integers(0, 2**32), start=st.integers(0, 10**6))
def test_a_block_is_one_sha256_split_into_four_draws(seed: int, start: int) -> None:
    """Block k = SHA-256(stable_id(seed, component), k as 8 big-endian bytes), 4 x u64."""
    block = DeterministicStream(seed, "feed:X", counter=start)
    one = DeterministicStream(seed, "feed:X", counter=start)
    digest = hashlib.sha256(
        stable_id(seed, "feed:X").encode("ascii") + start.to_bytes(8, "big")
    ).digest()
    expected = tuple(int.from_bytes(digest[i : i + 8], "big") for i in range(0, 32, 8))
    assert block.block4() == expected
    assert one.next_u64() == expected[0]
    assert block.counter == one.counter == start + 1


@given(
    digits=st.integers(1, 10**28 - 1),
    exponent=st.integers(-28, 27),
    lot=st.sampled_from([*GRIDS, "1E-20", "0.000001", "100"]),
)
def test_every_volume_the_check_takes_is_a_bars_at_any_lot(
    digits: int, exponent: int, lot: str
) -> None:
    """Bug: a volume of 1e25 (26 digits) passed the check, and the run then failed
    ``FEED_ERROR (InvalidOperation: [<class 'decimal.DivisionImpossible'>])`` at a lot of
    0.001: ``value % lot`` needs the count of lots (1e28) in 28 digits."""
    volume = Decimal(digits).scaleb(exponent)
    if volume_problem(volume) is not None:
        return  # refused by the check, with its line, column and value
    placed = bar_volume(volume, Decimal(lot))
    assert placed == volume


def test_a_volume_of_1e25_keeps_its_text_at_a_fine_lot() -> None:
    volume = Decimal(10**25)
    assert str(bar_volume(volume, Decimal("0.001"))) == "10000000000000000000000000"
    assert str(bar_volume(Decimal("1.5000"), Decimal("0.001"))) == "1.500"  # as before


def test_a_data_files_row_is_one_bar_for_csv_and_parquet_alike() -> None:
    """``row_bar``, which both file feeds build their bars with: the prices at the tick's
    places, the volume as ``bar_volume`` keeps it; other columns of the row are not read."""
    row = {
        "open": Decimal("1.1"),
        "high": Decimal("1.25"),
        "low": Decimal("1.0"),
        "close": Decimal("1.20"),
        "volume": Decimal("1.5000"),
        "timestamp": Decimal("NaN"),
    }
    bar = row_bar("EURUSD", 7, row, tick=Decimal("0.05"), lot=Decimal("0.001"))
    assert bar == Bar(
        symbol="EURUSD",
        ts_ns=7,
        open=Decimal("1.10"),
        high=Decimal("1.25"),
        low=Decimal("1.00"),
        close=Decimal("1.20"),
        volume=Decimal("1.500"),
    )
    assert [str(v) for v in (bar.open, bar.low, bar.close, bar.volume)] == [
        "1.10",
        "1.00",
        "1.20",
        "1.500",
    ]
