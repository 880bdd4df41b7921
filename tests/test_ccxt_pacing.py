"""The pause a venue asks for (``Retry-After``) on the loopback Binance: honoured, bounded.

Before, the broker never read ``Retry-After``: after a 429 asking for 30 s the session's
retry (on simulated time) sent the order again at once, five times within a second, and
a venue that had banned the address (418) was asked on every step. The broker's clock
here moves only when the broker waits (``Pacer``), so nothing waits on the wall.
"""

from __future__ import annotations

import os
import re
import stat
from decimal import Decimal

import orjson
import pytest

ccxt = pytest.importorskip("ccxt")

from livesession._domain.config import DryrunConfig  # noqa: E402
from livesession._domain.model import Order, Side  # noqa: E402
from livesession._domain.runtime_config import RuntimeConfig  # noqa: E402
from livesession._exceptions import ConfigError, OutcomeUnknown, Transient  # noqa: E402
from livesession._rundir import brokers as _rundir_brokers  # noqa: E402
from livesession._support import fsutil  # noqa: E402
from livesession.brokers.ccxt import ccxt_preflight_checks, make_ccxt_broker  # noqa: E402
from livesession.brokers.ccxt.keptpause import KEPT_MAX_NS  # noqa: E402
from livesession.brokers.ccxt.pacing import MAX_PAUSE_NS  # noqa: E402
from livesession.cli import main  # noqa: E402

import fake_binance  # noqa: E402
from _ccxt_route import crashed_dryrun, dryrun, dryrun_args, route_to  # noqa: E402
from fake_binance import TESTNET_PREFIX, FakeBinance, LoopbackRoute  # noqa: E402

pytestmark = pytest.mark.ccxt

S = 1_000_000_000
ORDER = ("POST", "/api/v3/order")
ACCOUNT = ("GET", "/api/v3/account")
CREDENTIALS = {
    "LIVESESSION_BINANCE_API_KEY": fake_binance.TEST_API_KEY,
    "LIVESESSION_BINANCE_API_SECRET": fake_binance.TEST_API_SECRET,
}


class Pacer:
    """The broker's clock (ns) and its wait, which moves the clock; the waits asked."""

    def __init__(self) -> None:
        self.now = 5_000 * S
        self.waits: list[int] = []

    def clock(self) -> int:
        return self.now

    def wait(self, ns: int) -> None:
        self.waits.append(ns)
        self.now += ns


def _config() -> RuntimeConfig:
    return RuntimeConfig.from_env(CREDENTIALS, mode="ccxt:binance")


@pytest.fixture(name="fake")
def _fake():
    fake = FakeBinance().start()
    yield fake
    fake.stop()
    assert max(fake.created.values(), default=0) <= 1, fake.created


@pytest.fixture(name="pacer")
def _pacer():
    return Pacer()


def _loopback_broker(fake, pacer, **options):
    """A broker on ``fake``, its clock and waits ``pacer``'s (no request made)."""
    route = LoopbackRoute(fake.port)
    return make_ccxt_broker(
        "binance",
        runtime_config=_config(),
        timeout_ms=2_000,
        enable_rate_limit=False,
        session_hook=lambda session: session.mount(TESTNET_PREFIX, route),
        wait_ns=pacer.wait,
        clock_ns=pacer.clock,
        **options,
    )


@pytest.fixture(name="broker")
def _broker(fake, pacer):
    broker = _loopback_broker(fake, pacer)
    broker.load_markets()
    yield broker
    broker.close()


def _run_broker(fake, pacer, monkeypatch, cfg: DryrunConfig):
    """The broker a run of ``cfg`` builds (its bound on a pause), on ``fake`` and ``pacer``."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    route = LoopbackRoute(fake.port)
    return _rundir_brokers._ccxt_broker(
        cfg,
        session_hook=lambda session: session.mount(TESTNET_PREFIX, route),
        enable_rate_limit=False,
        wait_ns=pacer.wait,
        clock_ns=pacer.clock,
    )


def _order(cid: str) -> Order:
    return Order(client_order_id=cid, symbol="BTC/USDT", side=Side.BUY, quantity=Decimal("0.01"))


def test_a_429s_retry_after_is_waited_before_the_resend(broker, fake, pacer):
    """The resend after a 429 asking for 30 s waits those 30 s first; one order."""
    fake.add_fault("http_429", retry_after="30")
    with pytest.raises(Transient, match=r"asked for a pause of 30 s \(Retry-After\)"):
        broker.submit(_order("rl1"), 0)
    assert pacer.waits == []
    pacer.now += 4 * S  # the session's own backoff and steps took 4 s of it
    broker.submit(_order("rl1"), 0)
    assert pacer.waits == [26 * S]
    assert fake.count(*ORDER) == 2
    assert fake.created["rl1"] == 1
    broker.balances()  # the pause was waited: the next request goes at once
    assert pacer.waits == [26 * S]


def test_a_ban_longer_than_the_bound_sends_nothing_until_it_ends(broker, fake, pacer):
    """A 418 asking for 600 s: no request reaches the venue until under 60 s are left."""
    fake.add_fault("http_418", method="GET", path=ACCOUNT[1], retry_after="600")
    with pytest.raises(
        Transient, match="more than the 60 s the broker waits: none is sent till it ends"
    ):
        broker.balances()
    asked = len(fake.requests)
    for _ in range(3):
        with pytest.raises(
            Transient, match=r"no request for 600 s more \(Retry-After 600 s on HTTP 418\)"
        ):
            broker.balances()
        with pytest.raises(Transient, match="not sent"):
            broker.submit(_order("ban1"), 0)
    assert len(fake.requests) == asked
    assert pacer.waits == []
    pacer.now += 600 * S - MAX_PAUSE_NS
    assert broker.balances()["USDT"] == Decimal(10000)
    assert pacer.waits == [MAX_PAUSE_NS]
    assert fake.count(*ACCOUNT) == 2


@pytest.mark.parametrize("asked", ["1000000000000", "9" * 400], ids=["10**12 s", "400 digits"])
def test_a_retry_after_over_3_days_holds_the_broker_3_days(broker, fake, pacer, asked):
    """Bug: a venue asking for 10**12 s had every request refused unsent for that long in
    the process (the pause file keeps 3 days, ``KEPT_MAX_NS``), and one asking for more
    digits than a float holds raised OverflowError out of the broker. The live pause is
    capped as the file's is: refused unsent until under the bound is left, then waited."""
    fake.add_fault("http_429", retry_after=asked)
    with pytest.raises(Transient, match=r"a pause of 259200 s or more \(Retry-After; the broker "):
        broker.submit(_order("cap1"), 0)
    sent = len(fake.requests)
    pacer.now += KEPT_MAX_NS - MAX_PAUSE_NS - S
    with pytest.raises(Transient, match=r"no request for 61 s more .*: not sent"):
        broker.balances()
    assert len(fake.requests) == sent
    pacer.now += S
    assert broker.balances()["USDT"] == Decimal(10000)
    assert pacer.waits == [MAX_PAUSE_NS]


def test_a_ban_heard_before_a_crash_holds_the_next_process(fake, tmp_path):
    """A ban (418, Retry-After 600) one process heard holds a broker built later on its
    pause file, on another monotonic clock (a resume's): refused unsent while over the
    bound, what is left under it waited before the first request. Before, the pause lived
    in the crashed process's memory: the resumed one sent its first request into the ban."""
    wall = [1_700_000_000 * S]
    kept = {"pause_file": tmp_path / "venue_pause.json", "wall_ns": lambda: wall[0]}
    crashed = _loopback_broker(fake, Pacer(), **kept)
    crashed.load_markets()
    fake.add_fault("http_418", method="GET", path=ACCOUNT[1], retry_after="600")
    with pytest.raises(Transient, match="none is sent till it ends"):
        crashed.balances()
    crashed.close()  # killed: its clock and its pause go with it
    asked = len(fake.requests)
    wall[0] += 10 * S
    pacer = Pacer()
    pacer.now = 3 * S  # another process's monotonic clock
    resumed = _loopback_broker(fake, pacer, **kept)
    with pytest.raises(
        Transient,
        match=r"binance asked for no request for 590 s more \(Retry-After 600 s on HTTP 418\), "
        r"longer than the broker waits before one \(60 s\): not sent",
    ):
        resumed.balances()
    with pytest.raises(Transient, match="not sent"):
        resumed.submit(_order("ban2"), 0)
    assert len(fake.requests) == asked
    resumed.close()
    wall[0] += 560 * S  # 30 s of the ban left: the next process waits them, then asks
    again = _loopback_broker(fake, pacer := Pacer(), **kept)
    assert again.balances()["USDT"] == Decimal(10000)
    assert pacer.waits == [30 * S]
    assert len(fake.requests) > asked
    again.close()


def test_a_pause_file_over_or_another_venues_keeps_no_pause(fake, tmp_path):
    """A pause file whose pause has ended (removed as it is read), or of another venue: no
    wait. Before, the ended one stayed in the run directory for good."""
    path = tmp_path / "venue_pause.json"
    ended = {"pause_ns": 30 * S, "until_ns": 5 * S, "venue": "binance", "why": "Retry-After 30 s"}
    for record, stays in ((ended, False), (ended | {"until_ns": 99 * S, "venue": "okx"}, True)):
        path.write_bytes(orjson.dumps(record))
        broker = _loopback_broker(fake, pacer := Pacer(), pause_file=path, wall_ns=lambda: 6 * S)
        assert path.exists() is stays
        assert broker.balances()["USDT"] == Decimal(10000)
        assert pacer.waits == []
        broker.close()


def test_a_503s_retry_after_as_an_http_date(broker, fake, pacer):
    """An HTTP date is read against the answer's Date; the outcome stays unknown, looked up."""
    fake.add_fault("http_5xx", retry_after="Thu, 01 Jan 2026 00:00:12 GMT")  # its Date: 00:00:00
    with pytest.raises(OutcomeUnknown, match=r"pause of 12 s"):
        broker.submit(_order("u1"), 0)
    assert broker.lookup("u1") is None
    assert pacer.waits[0] == 12 * S
    broker.submit(_order("u1"), 0)
    assert fake.created["u1"] == 1


def test_an_unreadable_retry_after_is_none(broker, fake, pacer):
    """``soon`` asks for no pause of its own: the 429 is one without Retry-After (backoff)."""
    fake.add_fault("http_429", retry_after="soon")
    with pytest.raises(Transient, match="rate limited without Retry-After") as raised:
        broker.submit(_order("rl2"), 0)
    assert "(Retry-After)" not in str(raised.value)
    broker.submit(_order("rl2"), 0)
    assert pacer.waits == [S]


def test_an_unreadable_retry_after_on_a_503_is_no_pause(broker, fake, pacer):
    """Only a 429 backs off on its own: a 503 without a pause asked is resent at once."""
    fake.add_fault("http_5xx", retry_after="soon")
    with pytest.raises(OutcomeUnknown) as raised:
        broker.submit(_order("u2"), 0)
    assert "Retry-After" not in str(raised.value)
    assert broker.lookup("u2") is None
    broker.submit(_order("u2"), 0)
    assert set(pacer.waits) == {250_000_000}  # the lookup's own interval only
    assert fake.created["u2"] == 1


def test_429s_without_retry_after_back_off_doubling_to_a_bound(broker, fake, pacer):
    """OKX and Bybit send no Retry-After: 1 s after the first 429, doubled for each one in a
    row, at most 30 s; once the venue was left alone that long, the next 429 starts at 1 s.

    Before, each resend followed at once (spaced by ccxt's throttle only): no wait at all."""
    for _ in range(7):
        fake.add_fault("http_429")
    said = []
    for _ in range(7):
        with pytest.raises(Transient) as raised:
            broker.submit(_order("rl3"), 0)
        said.append(str(raised.value))
    broker.submit(_order("rl3"), 0)
    assert pacer.waits == [1 * S, 2 * S, 4 * S, 8 * S, 16 * S, 30 * S, 30 * S]
    assert fake.created["rl3"] == 1
    assert said[0].endswith(
        "; rate limited without Retry-After: the broker backs off, the next request waits "
        "1 s (doubled for each 429 in a row, up to 30 s)"
    )
    assert "rate limited again without Retry-After" in said[1]
    assert "the next request waits 30 s" in said[-1]
    pacer.now += 60 * S  # quiet: the venue was left alone twice the last pause
    fake.add_fault("http_429", method="GET", path=ACCOUNT[1])
    with pytest.raises(Transient, match="the next request waits 1 s"):
        broker.balances()
    assert broker.venue_pause() == (
        "no request to binance for 1 s more (backing off 1 s after HTTP 429 without Retry-After)"
    )
    broker.balances()
    assert pacer.waits[-1] == S


def test_a_runs_backoff_is_bounded_by_its_lease(fake, pacer, monkeypatch):
    """A run's broker (15 s at most before one request) backs off at most 15 s: waited,
    never refused unsent."""
    broker = _run_broker(fake, pacer, monkeypatch, DryrunConfig(broker="ccxt:binance"))
    try:
        for _ in range(6):
            fake.add_fault("http_429", method="GET", path=ACCOUNT[1])
        for _ in range(6):
            with pytest.raises(Transient, match="up to 15 s"):
                broker.balances()
        broker.balances()
        assert pacer.waits == [1 * S, 2 * S, 4 * S, 8 * S, 15 * S, 15 * S]
    finally:
        broker.close()


def test_a_run_waits_for_the_venue_before_resending(tmp_path, monkeypatch):
    """A run whose order a 429 refused (Retry-After 10) sends it again 10 s later: one order.

    A run's broker waits at most half its ``lease_ttl_ms`` (15 s with the default)."""
    with FakeBinance() as fake:
        fake.add_fault("http_429", retry_after="10")
        waits = route_to(fake, monkeypatch)
        assert dryrun(tmp_path, "paced", 40) == 0
        assert fake.count(*ORDER) == len(fake.created) + 1  # and the one the 429 refused
    assert max(fake.created.values()) == 1
    assert any(9 * S < ns <= 10 * S for ns in waits), waits
    log = (tmp_path / "paced" / "session.log.jsonl").read_text()
    assert "the venue asked for a pause of 10 s (Retry-After): the next request waits for it" in log


def test_a_run_backs_off_from_429s_without_retry_after(tmp_path, monkeypatch):
    """Three 429s without Retry-After on the first order: resent 1 s, then 2 s, then 4 s
    later (before: at once), one order made, the run COMPLETED and verified."""
    with FakeBinance() as fake:
        for _ in range(3):
            fake.add_fault("http_429")
        waits = route_to(fake, monkeypatch)
        assert dryrun(tmp_path, "backoff", 40) == 0
        assert fake.count(*ORDER) == len(fake.created) + 3
    assert max(fake.created.values()) == 1
    backoffs = [ns for ns in waits if ns > S // 2]
    assert len(backoffs) == 3, waits
    assert all(n * S * 9 // 10 < ns <= n * S for n, ns in zip((1, 2, 4), backoffs, strict=True))
    log = (tmp_path / "backoff" / "session.log.jsonl").read_text()
    assert (
        "rate limited without Retry-After: the broker backs off, the next request waits 1 s" in log
    )


def test_a_ban_at_the_flatten_sends_it_once_and_says_the_stop_is_incomplete(tmp_path, monkeypatch):
    """The venue bans the address (418, Retry-After 600) at the wind-down's flatten: the
    flatten is not sent again (it was 500 times, within a second), the run says its stop
    is incomplete, and the book's position is the venue's."""
    with FakeBinance() as fake:
        fake.ban_from_order(4, "600")  # the three orders of the strategy go through
        route_to(fake, monkeypatch)
        assert dryrun(tmp_path, "banned", 60) == 4
        assert fake.count(*ORDER) == 4
    assert max(fake.created.values()) == 1
    assert len(fake.created) == 3
    run = tmp_path / "banned"
    stopped = [
        e
        for e in map(orjson.loads, (run / "events.jsonl").read_bytes().splitlines())
        if e["event_type"] == "SESSION_STOPPED"
    ]
    assert stopped[-1]["payload"]["reason"] == "STOP_INCOMPLETE"
    log = (run / "session.log.jsonl").read_text()
    assert (
        "(Retry-After 600 s on HTTP 418), longer than the broker waits before one (15 s): not sent"
        in log
    )


def test_a_run_resumed_during_a_ban_sends_nothing_into_it(tmp_path, monkeypatch):
    """A run killed during a ban (418, Retry-After 600) and resumed at once: the resume
    sends no request while the ban is on (Binance lengthens a ban for requests made during
    it). Before, its first request (the markets, for the credentials' check) went to the
    venue: the pause lived only in the killed process."""
    with FakeBinance() as fake:
        fake.ban_from_order(2, "600")
        args = dryrun_args(tmp_path, "banned", 40)
        assert crashed_dryrun(fake, args, "write_events:60") == -9
        run = tmp_path / "banned"
        kept = orjson.loads((run / "venue_pause.json").read_bytes())
        assert (kept["venue"], kept["why"]) == ("binance", "Retry-After 600 s on HTTP 418")
        asked = len(fake.requests)
        route_to(fake, monkeypatch)
        main(["resume", str(run), "-q"])
        assert fake.requests[asked:] == []
    log = (run / "session.log.jsonl").read_text()
    assert "(Retry-After 600 s on HTTP 418), longer than the broker waits before one" in log


@pytest.mark.parametrize(
    ("attempts", "interval", "said"),
    [
        (5, -1, "lookup_interval_ns must be an integer of nanoseconds >= 0, got -1"),
        (5, 0.25, "lookup_interval_ns must be an integer of nanoseconds >= 0, got 0.25"),
        (5, True, "lookup_interval_ns must be an integer of nanoseconds >= 0, got True"),
        (5, 30 * S, "lookup_attempts x lookup_interval_ns must be at most 60 s"),
        (20, 3 * S + 1, "got 20 x 3000000001 ns"),
        (21, 0, "lookup_attempts must be an integer from 1 to 20 (each attempt asks the venue"),
        (10**9, 0, "lookup_attempts must be an integer from 1 to 20"),
        (0, 0, "lookup_attempts must be an integer from 1 to 20"),
    ],
)
def test_a_lookup_interval_out_of_bounds_is_refused_when_built(attempts, interval, said):
    """Before, -1 failed the run UNEXPECTED_ERROR at its first lookup (``time.sleep``'s
    ValueError), 0.25 (seconds meant) paused nothing, 30 s blocked a step 15 minutes, and
    10**9 attempts 0 ns apart were taken: a lookup of an absent order asked the venue two
    billion times in a burst."""
    with pytest.raises(ConfigError, match=re.escape(said)):
        make_ccxt_broker(
            "binance",
            runtime_config=_config(),
            lookup_attempts=attempts,
            lookup_interval_ns=interval,
        )
    make_ccxt_broker(
        "binance", runtime_config=_config(), lookup_attempts=20, lookup_interval_ns=3 * S
    ).close()  # 60 s in all: within the bound


def test_the_preflight_waits_for_the_venue_between_its_tries(broker, fake, pacer):
    """A balance read refused twice with a 429 asking for 20 s passes on its third try,
    each 20 s after the last (before: a quarter of a second apart, ``lookup_interval_ns``)."""
    fake.add_fault("http_429", method="GET", path=ACCOUNT[1], retry_after="20", times=2)
    checks = {name: (passed, reason) for name, passed, reason in ccxt_preflight_checks(broker)}
    assert checks["balance_fetch"] == (True, "")
    assert [ns for ns in pacer.waits if ns > S] == [20 * S - 250_000_000] * 2


def test_a_runs_broker_waits_at_most_half_its_lease_ttl(fake, pacer, monkeypatch):
    """The pause is waited after the session's last look at its lease, before the send: a
    run's broker waits at most half ``lease_ttl_ms`` (4 s of 8 s), and sends nothing sooner."""
    cfg = DryrunConfig(broker="ccxt:binance", lease_ttl_ms=8_000)
    broker = _run_broker(fake, pacer, monkeypatch, cfg)
    try:
        fake.add_fault("http_429", method="GET", path=ACCOUNT[1], retry_after="6")
        with pytest.raises(Transient, match="more than the 4 s the broker waits"):
            broker.balances()
        with pytest.raises(Transient, match=r"before one \(4 s\): not sent"):
            broker.balances()
        pacer.now += 3 * S
        broker.balances()
        assert pacer.waits == [3 * S]
    finally:
        broker.close()


def test_a_run_rejected_at_preflight_for_a_pause_says_so(tmp_path, monkeypatch):
    """A balance read refused with a 429 asking for 30 s, over a run's 15 s: asked once, not
    three times within half a second, and the rejection names the pause."""
    with FakeBinance() as fake:
        fake.add_fault("http_429", method="GET", path=ACCOUNT[1], retry_after="30")
        route_to(fake, monkeypatch)
        assert dryrun(tmp_path, "paused", 5) == 3
        assert fake.count(*ACCOUNT) == 1
    checks = [
        e["payload"]
        for e in map(orjson.loads, (tmp_path / "paused" / "events.jsonl").read_bytes().splitlines())
        if e["event_type"] == "PREFLIGHT_CHECK" and e["payload"]["check"] == "venue_balance_fetch"
    ]
    assert checks[0]["detail"].startswith(
        "the venue's balances could not be fetched (BALANCE_UNAVAILABLE): binance asked for no "
        "request for "
    )
    assert checks[0]["detail"].endswith(" s more (Retry-After 30 s on HTTP 429)")


def test_a_418_without_retry_after_backs_off_the_longest(broker, fake, pacer, monkeypatch):
    """A ban (418) that says not how long: 30 s before the next request (a run's broker: its
    bound, 15 s), waited, never refused. Before, no pause at all: the next request went at
    once into the ban, which Binance lengthens for each (2 minutes the shortest)."""
    fake.add_fault("http_418", method="GET", path=ACCOUNT[1])
    with pytest.raises(
        Transient,
        match=r"; banned \(HTTP 418\) without Retry-After: the broker backs off its longest, "
        r"the next request waits 30 s$",
    ):
        broker.balances()
    assert broker.venue_pause() == (
        "no request to binance for 30 s more (backing off 30 s after HTTP 418 without Retry-After)"
    )
    fake.add_fault("http_429", method="GET", path=ACCOUNT[1])  # one 429 in a row after it
    with pytest.raises(Transient, match="rate limited again without Retry-After"):
        broker.balances()
    broker.balances()
    assert pacer.waits == [30 * S, 30 * S]
    ran = _run_broker(fake, run_pacer := Pacer(), monkeypatch, DryrunConfig(broker="ccxt:binance"))
    try:
        fake.add_fault("http_418", method="GET", path=ACCOUNT[1])
        with pytest.raises(Transient, match=r"the next request waits 15 s$"):
            ran.balances()
        ran.balances()
        assert run_pacer.waits == [15 * S]
    finally:
        ran.close()


def _kept_broker(fake, path, wall, pacer=None):
    """A broker on ``fake`` keeping its pause in ``path``, on the wall clock ``wall[0]``."""
    return _loopback_broker(fake, pacer or Pacer(), pause_file=path, wall_ns=lambda: wall[0])


def _throttle(broker, fake, times):
    """``times`` 429s without Retry-After on the balance read, each refused ``Transient``."""
    for _ in range(times):
        fake.add_fault("http_429", method="GET", path=ACCOUNT[1])
        with pytest.raises(Transient, match="without Retry-After"):
            broker.balances()


def test_a_backoff_is_doubled_across_a_resume(fake, tmp_path):
    """Killed after five 429s in a row (1, 2, 4, 8, then 16 s), resumed 3 s later: the first
    request waits the 13 s left, and the next 429 doubles the 16 s (to the 30 s bound), as
    in the killed process. Before, the resume started again at 1 s. Left alone as long as
    the last pause, the venue's next 429 starts at 1 s (and the file is gone)."""
    path, wall = tmp_path / "venue_pause.json", [1_700_000_000 * S]
    killed = _kept_broker(fake, path, wall, pacer := Pacer())
    killed.load_markets()
    _throttle(killed, fake, 5)
    assert [ns // S for ns in pacer.waits] == [1, 2, 4, 8]
    wall[0] += 3 * S  # killed (not closed), resumed at once
    resumed = _kept_broker(fake, path, wall, pacer := Pacer())
    _throttle(resumed, fake, 1)
    resumed.balances()
    assert pacer.waits == [13 * S, 30 * S]
    resumed.close()
    assert path.exists()  # the 30 s backoff's window is open: a 429 would double it
    wall[0] += 60 * S
    later = _kept_broker(fake, path, wall, pacer := Pacer())
    assert not path.exists()
    _throttle(later, fake, 1)
    later.balances()
    assert pacer.waits == [S]
    later.close()


def test_the_pause_file_is_written_by_the_atomic_writer_and_removed_once_over(
    fake, tmp_path, monkeypatch
):
    """Each pause heard is written through ``atomic_write_bytes`` (its crash point counted,
    no other file left beside it); the broker closed with nothing left removes the file,
    one closed during the pause keeps it. Before, its own temporary file passed no crash
    point, and the file stayed in the run directory for good."""
    points: list[str] = []
    monkeypatch.setattr(fsutil, "crashpoint", points.append)
    path, wall = tmp_path / "venue_pause.json", [1_700_000_000 * S]
    broker = _kept_broker(fake, path, wall, pacer := Pacer())
    broker.load_markets()
    fake.add_fault("http_429", method="GET", path=ACCOUNT[1], retry_after="10")
    with pytest.raises(Transient, match="pause of 10 s"):
        broker.balances()
    assert points == ["checkpoint_tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["venue_pause.json"]
    broker.close()  # during the pause: kept for the next process
    assert orjson.loads(path.read_bytes())["why"] == "Retry-After 10 s on HTTP 429"
    again = _kept_broker(fake, path, wall, pacer)
    again.balances()
    assert pacer.waits == [10 * S]
    again.close()  # waited out, nothing left
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (b"{", "venue_pause.json is not JSON"),
        (b"[]", "venue_pause.json is no JSON object"),
        (b'{"venue": "binance", "why": 3}', "venue_pause.json: its why is not text"),
        (
            b'{"pause_ns": -5, "until_ns": 9, "venue": "binance", "why": "x"}',
            "venue_pause.json: its pause_ns is no whole number of ns from 0 to 3 days (got -5)",
        ),
        (
            b'{"pause_ns": 1e30, "until_ns": 1e30, "venue": "binance", "why": "x"}',
            "venue_pause.json: its pause_ns is no whole number of ns from 0 to 3 days (got 1e+30)",
        ),
        (
            b'{"pause_ns": 10000000000000000000, "until_ns": 1, "venue": "binance", "why": "x"}',
            (
                "venue_pause.json: its pause_ns is no whole number of ns from 0 to 3 days "
                "(got 10000000000000000000)"
            ),
        ),
        (
            b'{"pause_ns": 5, "until_ns": 9, "venue": "binance", "why": "x", "backoff_ns": 1}',
            "venue_pause.json: its backoff_until_ns is no whole number of ns 0 or more (got None)",
        ),
    ],
)
def test_a_pause_file_that_cannot_be_believed_gets_the_longest_backoff(fake, tmp_path, text, said):
    """A garbled or hand-edited pause file: the broker is built (no traceback), says why in
    one line and waits the longest backoff (30 s) once before its first request, the file
    written anew. Before, one not JSON or of a negative number waited nothing (a ban may be
    on), and one of a pause of 10**30 ns refused every request for good."""
    path = tmp_path / "venue_pause.json"
    path.write_bytes(text)
    broker = _kept_broker(fake, path, [1_700_000_000 * S], pacer := Pacer())
    assert broker.venue_pause() == (
        f"no request to binance for 30 s more ({said}: the longest backoff, 30 s, in case a "
        "pause was on)"
    )
    assert orjson.loads(path.read_bytes())["pause_ns"] == 30 * S
    assert broker.balances()["USDT"] == Decimal(10000)
    assert pacer.waits == [30 * S]
    broker.close()


def test_a_pause_file_that_is_a_fifo_is_not_read(fake, tmp_path):
    """A FIFO where the pause file belongs: said, the longest backoff, and left as it is
    (never written through). Before, reading it waited for a writer: a resume hung for good."""
    path = tmp_path / "venue_pause.json"
    os.mkfifo(path)
    broker = _kept_broker(fake, path, [1_700_000_000 * S], pacer := Pacer())
    assert broker.venue_pause().startswith(
        "no request to binance for 30 s more (venue_pause.json: not a regular file (a FIFO): "
    )
    broker.balances()
    broker.close()
    assert pacer.waits == [30 * S]
    assert stat.S_ISFIFO(path.lstat().st_mode)


def test_a_pause_file_ending_far_in_the_future_holds_no_more_than_its_pause(fake, tmp_path):
    """An end set to the year 2255 by hand holds no more than the file's own pause (600 s)."""
    path = tmp_path / "venue_pause.json"
    record = {
        "pause_ns": 600 * S,
        "until_ns": 9 * 10**18,
        "venue": "binance",
        "why": "Retry-After 600 s on HTTP 418",
    }
    path.write_bytes(orjson.dumps(record))
    broker = _kept_broker(fake, path, [1_700_000_000 * S])
    assert broker.venue_pause().startswith("binance asked for no request for 600 s more (Retry")
    broker.close()


def test_a_run_resumed_with_a_garbled_pause_file_says_so_and_waits_once(tmp_path, monkeypatch):
    """A run killed, its ``venue_pause.json`` garbled by hand, resumed: the session log says
    why in one line, the resume waits the longest backoff (15 s in a run) once, and the run
    ends verified. Before, a file not JSON kept no pause, said nothing."""
    with FakeBinance() as fake:
        args = dryrun_args(tmp_path, "garbled", 40)
        assert crashed_dryrun(fake, args, "write_events:60") == -9
        run = tmp_path / "garbled"
        (run / "venue_pause.json").write_bytes(b"{not json")
        waits = route_to(fake, monkeypatch)
        assert main(["resume", str(run), "-q"]) == 0
    assert 14 * S < waits[0] <= 15 * S, waits  # the broker's clock ran meanwhile
    lines = [
        line
        for line in map(orjson.loads, (run / "session.log.jsonl").read_bytes().splitlines())
        if line.get("event") == "venue_pause_unreadable"
    ]
    assert [(line["run_id"], line["reason"]) for line in lines] == [
        (
            "garbled",
            "venue_pause.json is not JSON: the longest backoff, 15 s, in case a pause was on",
        )
    ]
    assert not (run / "venue_pause.json").exists()  # waited out: removed as the run closed
