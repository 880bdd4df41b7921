"""``feed = "venue"``: the venue's own closed candles, journaled, on the loopback Binance.

The runs take the operator's path (``create_run`` / ``resume_run`` with ``open_broker``)
with two test edges: the ccxt broker is routed to ``fake_binance.FakeBinance`` on
127.0.0.1 (as in ``test_ccxt_cli``), and the feed is paced on ``VenueClock``, a clock that
moves only when the feed waits on it (never the wall). The fake serves its klines at that
clock's time, so "closed" and "still open" mean the same to both sides.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

import orjson

from livesession import load_config
from livesession._artifacts import names
from livesession._domain.clock import from_epoch_ns
from livesession._exceptions import ConfigError
from livesession._market.venue import read_journal
from livesession._rundir import brokers as _rundir_brokers
from livesession._rundir import create_run, resume_run
from livesession._rundir import venue as _rundir_venue
from livesession._support.logging import configure_logging, disable_logging
from livesession.cli import main
from livesession.evidence import write_evidence
from livesession.verify import verify_run

from _helpers import crash_in_step
from fake_binance import (
    TEST_API_KEY,
    TEST_API_SECRET,
    TESTNET_PREFIX,
    LoopbackRoute,
)

pytestmark = pytest.mark.ccxt

MINUTE_MS = 60_000
START_INDEX = 30
"""The session starts just after candle 30 opened: candle 29 is the latest closed one."""


class VenueClock:
    """The feed's clock: epoch milliseconds that move only when the feed waits."""

    def __init__(self, ms: int) -> None:
        self.ms = ms
        self.waits: list[int] = []

    def now(self) -> dt.datetime:
        return from_epoch_ns(self.ms * 1_000_000)

    def monotonic_ns(self) -> int:
        return self.ms * 1_000_000

    def wait_ns(self, ns: int) -> None:
        self.waits.append(ns)
        self.ms += -(-ns // 1_000_000)


@pytest.fixture(name="clock")
def _clock(fake, monkeypatch):
    """Credentials set, the broker routed to the fake, the feed paced on a VenueClock."""
    monkeypatch.setenv("LIVESESSION_BINANCE_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("LIVESESSION_BINANCE_API_SECRET", TEST_API_SECRET)
    clock = VenueClock(fake.candles.at(START_INDEX) + 1_000)
    fake.candles.now_ms = lambda: clock.ms
    route = LoopbackRoute(fake.port)
    original = _rundir_brokers._ccxt_broker

    def loopback_broker(cfg: Any, **options: Any) -> Any:
        test_options = {
            "session_hook": lambda session: session.mount(TESTNET_PREFIX, route),
            "enable_rate_limit": False,
            "timeout_ms": 2_000,
            "lookup_interval_ns": 1_000,
            "wait_ns": lambda _ns: None,
        }
        return original(cfg, **(test_options | options))

    monkeypatch.setattr(_rundir_brokers, "_ccxt_broker", loopback_broker)
    monkeypatch.setattr(
        _rundir_venue, "venue_options", lambda _cfg: {"clock": clock, "wait_ns": clock.wait_ns}
    )
    return clock


def _config(run_id: str, steps: int, **extra: Any) -> Any:
    values = {
        "run_id": run_id,
        "steps": steps,
        "broker": "ccxt:binance",
        "feed": "venue",
        "step_interval_ms": MINUTE_MS,
        "durability": "step",
    }
    return load_config(None, values | extra)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _events(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in _jsonl(run_dir / names.EVENTS) if e["event_type"] == kind]


def _bar_times(run_dir: Path) -> list[int]:
    return [
        e["ts_sim"] // 1_000_000 for e in _jsonl(run_dir / names.EVENTS) if e["event_type"] == "BAR"
    ]


def _run(tmp_path: Path, run_id: str, steps: int) -> Path:
    cfg = _config(run_id, steps)
    session = create_run(cfg, tmp_path)
    session.run_to_end(cfg.steps, operator="cli")
    session.close()
    return tmp_path / run_id


def _final(run_dir: Path) -> dict[str, Any]:
    return _jsonl(run_dir / names.SNAPSHOTS)[-1]


def test_ohlcv_closed_candles_paced_and_journaled_before_use(fake, clock, tmp_path):
    """Each bar is a closed candle, taken once its interval closed, journaled before its step."""
    run_dir = _run(tmp_path, "paced", 12)
    assert verify_run(run_dir).ok
    assert _final(run_dir)["status"] == "COMPLETED"
    times = _bar_times(run_dir)
    first = fake.candles.at(START_INDEX - 1)
    assert times == [first + i * MINUTE_MS for i in range(12)]
    journal, _ = read_journal(run_dir / names.MARKET_JOURNAL)
    assert [c.open_ms for c in journal] == times  # every bar used is journaled, in order
    bars = _events(run_dir, "BAR")
    # The still-open candle (close = open + 1 in the fake) was never used.
    assert all(Decimal(b["close"]) - Decimal(b["open"]) == 5 for b in bars), bars
    assert bars[0]["close"] == str(journal[0].close)
    # Paced: the feed waited on its clock to each close, never on the wall.
    assert clock.ms >= times[-1] + MINUTE_MS
    # The first bar was already closed; each later one was waited for until it closed.
    second = 1_000_000_000
    assert clock.waits == [59 * second] + [60 * second] * 10
    assert fake.count("GET", "/api/v3/klines") == 12
    assert _events(run_dir, "FEED_GAP") == []


def test_ohlcv_gap_late_and_duplicate_candles(fake, clock, tmp_path):
    """A gap: FEED_GAP and no bar; a late candle: used once; a duplicate: ignored."""
    candles = fake.candles
    gap, late, dup = candles.at(START_INDEX + 2), candles.at(START_INDEX + 5), candles.at(40)
    candles.missing.add(gap)
    candles.late[late] = late + MINUTE_MS + 25_000  # published 25 s after it closed
    candles.duplicate.add(dup)
    run_dir = _run(tmp_path, "rules", 14)
    assert verify_run(run_dir).ok
    times = _bar_times(run_dir)
    assert gap not in times
    assert times.count(late) == 1
    assert times.count(dup) == 1
    assert times == sorted(set(times))
    (feed_gap,) = _events(run_dir, "FEED_GAP")
    assert feed_gap == {
        "symbol": "BTC/USDT",
        "interval_ms": MINUTE_MS,
        "missing": 1,
        "first_missing_ms": gap,
        "next_ms": gap + MINUTE_MS,
    }
    events = [e["event_type"] for e in _jsonl(run_dir / names.EVENTS)]
    at = events.index("FEED_GAP")
    assert events[at + 1] == "BAR"  # recorded just before the bar after the gap
    journal, _ = read_journal(run_dir / names.MARKET_JOURNAL)
    assert [c.open_ms for c in journal] == times


def test_ohlcv_transient_fetch_error_is_retried(fake, clock, tmp_path):
    """Two failed klines requests within one step are retried: every bar is still there."""
    fake.add_fault("http_5xx", method="GET", path="/api/v3/klines")
    fake.add_fault("http_429", method="GET", path="/api/v3/klines")
    run_dir = _run(tmp_path, "retried", 6)
    assert verify_run(run_dir).ok
    assert fake.pending_faults() == 0
    assert len(_bar_times(run_dir)) == 6
    assert _events(run_dir, "BROKER_UNHEALTHY") == []
    assert fake.count("GET", "/api/v3/klines") == 6 + 2


def test_ohlcv_persistent_fetch_error_halts_broker_unhealthy(fake, clock, tmp_path):
    """A venue that keeps failing its klines: BROKER_UNHEALTHY, HALTED, then the operator."""
    cfg = _config("down", 20)
    session = create_run(cfg, tmp_path)
    assert session.preflight()
    session.activate()
    session.run_n_steps(3)
    fake.candles.down = True
    session.run_n_steps(cfg.broker_max_consecutive_failures)
    assert session.trading_state.value == "HALTED"
    assert session.state.value == "DRYRUN_ACTIVE"
    assert session.steps_done == 3  # no bar, no step
    session.run_n_steps(1)  # still failing once unhealthy: no market data, operator needed
    assert session.state.value == "ERROR_REQUIRES_OPERATOR"
    session.acknowledge("test")
    session.close()
    run_dir = tmp_path / "down"
    (unhealthy,) = _events(run_dir, "BROKER_UNHEALTHY")
    assert unhealthy["operation"] == "fetch_ohlcv"
    assert unhealthy["reason"] == "CONSECUTIVE_FAILURES"
    assert unhealthy["failures"] == cfg.broker_max_consecutive_failures
    (error,) = _events(run_dir, "FEED_ERROR")
    assert error["error"] == "Transient"
    # A candle fetch is a read: its 503 is a failed read, not an order to look up (it said
    # "outcome unknown (ExchangeNotAvailable): look the order up").
    assert error["message"] == "the read failed (ExchangeNotAvailable)"
    # Each failed step retried its fetch (the default policy: 5 attempts) before failing.
    assert fake.count("GET", "/api/v3/klines") == 3 + 5 * (cfg.broker_max_consecutive_failures + 1)
    assert verify_run(run_dir).ok
    assert _final(run_dir)["status"] == "FAILED"


def test_ohlcv_resume_continues_from_the_journal(fake, clock, tmp_path):
    """A crash after step 6: the resume re-uses the journaled bars, then fetches newer ones."""
    cfg = _config("crash", 12, checkpoint_every=3)
    # A crash in step 7: checkpointed after step 6, step 7's candle is journaled only.
    crash_in_step(create_run(cfg, tmp_path), 7, 12)
    run_dir = tmp_path / "crash"
    journal, _ = read_journal(run_dir / names.MARKET_JOURNAL)
    assert len(journal) == 7
    # Meanwhile the venue republishes an older candle as a duplicate: never used again.
    fake.candles.duplicate.add(journal[-1].open_ms)
    fetches = fake.count("GET", "/api/v3/klines")
    resumed = resume_run(run_dir)
    resumed.run_to_end(cfg.steps, operator="cli")
    resumed.close()
    assert verify_run(run_dir).ok
    times = _bar_times(run_dir)
    assert times == [journal[0].open_ms + i * MINUTE_MS for i in range(12)]
    after, _ = read_journal(run_dir / names.MARKET_JOURNAL)
    assert [c.open_ms for c in after] == times
    assert after[:7] == journal
    # Step 7 came from the journal, not from the venue: 5 more fetches for steps 8 to 12.
    assert fake.count("GET", "/api/v3/klines") == fetches + 5


def test_ohlcv_evidence_replays_the_journal_against_the_mock(fake, clock, tmp_path):
    """evidence replays the journaled bars through the strategy; the SIGNALs must match."""
    run_dir = _run(tmp_path, "evidence", 60)
    assert _events(
        run_dir, "SIGNAL"
    )  # the wave crosses its averages: there is something to compare
    result = write_evidence(run_dir, out_dir=tmp_path / "ev")
    manifest = orjson.loads(result.manifest.read_bytes())
    det = manifest["determinism"]
    assert det["status"] == "match", det
    assert det["compared"] == {"SIGNAL events (venue bars replayed on the mock venue)": True}
    assert "acks and fills are not replayable" in det["note"]
    assert "acks and fills are not replayable" in result.document.read_text()


def test_ohlcv_evidence_says_mismatch_when_the_journal_changed(fake, clock, tmp_path):
    """A journal edited after the run replays other bars: the determinism check fails."""
    run_dir = _run(tmp_path, "edited", 60)
    path = run_dir / names.MARKET_JOURNAL
    lines = path.read_bytes().splitlines(keepends=True)
    record = orjson.loads(lines[30])
    record["close"] = "1.00"
    lines[30] = orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n"
    path.write_bytes(b"".join(lines))
    manifest = orjson.loads(write_evidence(run_dir, out_dir=tmp_path / "ev").manifest.read_bytes())
    assert manifest["determinism"]["status"] == "MISMATCH"


def test_ohlcv_feed_venue_needs_a_ccxt_broker():
    """``feed = "venue"`` on the mock broker is one clear ConfigError."""
    with pytest.raises(ConfigError, match="needs a ccxt:<exchange> broker"):
        load_config(None, {"feed": "venue"})


def test_ohlcv_an_interval_the_exchange_has_no_candles_of_is_refused_up_front(
    fake, clock, tmp_path, capsys
):
    """Bug: step_interval_ms = 7000 (no Binance timeframe) created a run and failed it at
    its first fetch (exit 4). ccxt knows the timeframes without a request: exit 2, one line
    naming the key, the value and the timeframes; nothing written, nothing asked."""
    config = tmp_path / "venue.toml"
    config.write_text("step_interval_ms = 7000\n", encoding="utf-8")
    out = tmp_path / "runs"
    args = ["dryrun", "--config", str(config), "--broker", "ccxt:binance", "--feed", "venue"]
    code = main([*args, "--out", str(out), "--run-id", "odd", "--steps", "5", "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert "binance has no candles of step_interval_ms=7000 (its timeframes: 1s, 1m," in err
    assert err.startswith(f"livesession: error: config file {config}, line 1: feed 'venue': ")
    assert not out.exists()
    assert fake.requests == []
    with pytest.raises(ConfigError, match="step_interval_ms=7000"):
        create_run(_config("odd", 5, step_interval_ms=7000), out)
    assert not out.exists()


def test_ohlcv_an_interval_refused_names_the_config_files_line(fake, clock, tmp_path, capsys):
    """Bug: the refusal named no file and line, where every other refusal of a config
    file's value does (docs/config.md): the line setting step_interval_ms is named."""
    config = tmp_path / "venue.toml"
    config.write_text(
        'broker = "ccxt:binance"\nfeed = "venue"\n# candles of 7 s\nstep_interval_ms = 7000\n',
        encoding="utf-8",
    )
    out = tmp_path / "runs"
    code = main(["dryrun", "--config", str(config), "--out", str(out), "--steps", "5", "-q"])
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(
        f"livesession: error: config file {config}, line 4: feed 'venue': binance has no"
        " candles of step_interval_ms=7000 (its timeframes: 1s, 1m,"
    )
    assert not out.exists()
    assert fake.requests == []


def test_ohlcv_cli_dryrun_on_the_venue_feed(fake, clock, tmp_path):
    """``livesession dryrun --broker ccxt:binance --feed venue``: exit 0, verified, journaled."""
    config = tmp_path / "venue.toml"
    config.write_text("step_interval_ms = 60000\n", encoding="utf-8")
    code = main(
        [
            "dryrun",
            "--config",
            str(config),
            "--broker",
            "ccxt:binance",
            "--feed",
            "venue",
            "--out",
            str(tmp_path / "runs"),
            "--run-id",
            "cli",
            "--steps",
            "5",
            "-q",
        ]
    )
    assert code == 0
    run_dir = tmp_path / "runs" / "cli"
    assert verify_run(run_dir).ok
    journal, _ = read_journal(run_dir / names.MARKET_JOURNAL)
    assert [c.open_ms for c in journal] == _bar_times(run_dir)
    assert len(journal) == 5
    assert orjson.loads((run_dir / names.CONFIG).read_bytes())["feed"] == "venue"


class _SlowerThanTheBar:
    """A strategy whose every bar takes 90 s of the feed's clock: longer than the interval."""

    strategy_id = "slow"

    def __init__(self, clock: VenueClock) -> None:
        self._clock = clock

    def on_bar(self, bar: Any, view: Any) -> list[Any]:
        self._clock.ms += 90_000
        return []

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Any) -> None:
        pass


def test_ohlcv_a_strategy_slower_than_the_bar_is_said_to_fall_behind(fake, clock, tmp_path):
    """Bug: a strategy taking 90 s a bar on 1 m candles took every candle in turn, each later
    than the one before (the tenth over 5 min after its close), and nothing said so. The
    candles are still all taken, in order (the run's bytes stay the same); the session log
    warns ``venue_bars_behind`` on the first late bar and each tenfold."""
    cfg = _config("behind", 12, strategy_id="slow")
    log = io.StringIO()
    configure_logging(log, level=logging.INFO)
    try:
        session = create_run(cfg, tmp_path, strategy=_SlowerThanTheBar(clock))
        session.run_to_end(cfg.steps, operator="cli")
        session.close()
    finally:
        disable_logging()
    run_dir = tmp_path / "behind"
    assert verify_run(run_dir).ok
    first = fake.candles.at(START_INDEX - 1)
    assert _bar_times(run_dir) == [first + i * MINUTE_MS for i in range(12)]  # none skipped
    said = [orjson.loads(line) for line in log.getvalue().splitlines()]
    behind = [r for r in said if r["event"] == "venue_bars_behind"]
    assert [(r["level"], r["bars_late"]) for r in behind] == [("warning", 1), ("warning", 10)]
    assert behind[0]["run_id"] == "behind"
    assert behind[0]["symbol"] == "BTC/USDT"
    assert behind[0]["interval_s"] == 60
    assert behind[1]["late_s"] > 5 * 60  # it falls further behind at each bar


@pytest.mark.parametrize("rotation", ["create", "copytruncate"])
def test_ohlcv_a_journal_rotated_under_the_run_is_never_written_again(
    fake, clock, tmp_path, monkeypatch, rotation
):
    """Bug: ``market_data.jsonl`` caught by a logrotate glob (``out/*/*.jsonl``) took its next
    candle after a hole of NUL bytes as long as it had been (``create``: in the new empty
    file; ``copytruncate``: in the cut one), and the run went on: a journal no replay reads
    (``market_data.jsonl:1: not a market-data journal line``). The feed now refuses the
    candle, naming the journal and what was done to it: a feed error, a person looks."""
    run_dir = tmp_path / "rot"
    journal = run_dir / names.MARKET_JOURNAL
    wait_ns = clock.wait_ns

    def rotate(ns: int) -> None:
        if len(clock.waits) == 5:
            if rotation == "create":
                journal.rename(run_dir / "market_data.jsonl.1")
                journal.touch()
            else:
                journal.write_bytes(b"")
        wait_ns(ns)

    monkeypatch.setattr(clock, "wait_ns", rotate)
    cfg = _config("rot", 12)
    session = create_run(cfg, tmp_path)
    session.run_to_end(cfg.steps, operator="cli")
    session.close()
    assert journal.read_bytes() == b""  # was: NUL bytes, then the candle
    [stop] = [r["payload"] for r in _jsonl(run_dir / names.AUDIT) if r["code"] == "C2_FEED_ERROR"]
    done = (
        "was moved to market_data.jsonl.1 and another file made in its place (logrotate's create)"
        if rotation == "create"
        else "was cut from 678 to 0 bytes"
    )
    assert stop["error"] == "RunFileChanged"
    assert f"market_data.jsonl {done} while this process appended to it" in stop["message"]
    assert _final(run_dir)["status"] == "FAILED"  # a feed that cannot journal: a person looks
