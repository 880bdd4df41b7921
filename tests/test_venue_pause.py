"""``VenuePause``, through its own interface: the pause a venue asks for, and the broker's own.

On a clock of the test's own and answers built by hand (an exception whose ``response``
has a status and headers, as ccxt's do): what is waited and when, the bound, what a
``Retry-After`` and a backoff say, which end is kept, when a 429 doubles the backoff, and
when ``close`` removes the pause file.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from livesession import OutcomeUnknown, Rejected, Transient
from livesession.brokers.ccxt.keptpause import KeptPause
from livesession.brokers.ccxt.pacing import VenuePause, retry_after_ns

S = 1_000_000_000


class _Answer(Exception):
    """A refusal whose answer had ``status`` and ``headers``."""

    def __init__(self, status: object, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.response = SimpleNamespace(status_code=status, headers=headers)


def _pause(
    max_ns: int = 10 * S, kept: KeptPause | None = None
) -> tuple[VenuePause, list[int], list[int]]:
    now: list[int] = [0]
    waits: list[int] = []
    pause = VenuePause(
        "binance", wait_ns=waits.append, clock_ns=lambda: now[0], max_ns=max_ns, kept=kept
    )
    return pause, now, waits


def test_a_retry_after_within_the_bound_is_waited_once() -> None:
    pause, now, waits = _pause()
    said = pause.heard(
        _Answer(429, {"Retry-After": "10"}), Transient("refused", client_order_id="c1")
    )
    assert type(said) is Transient
    assert said.client_order_id == "c1"
    assert str(said) == (
        "refused; the venue asked for a pause of 10 s (Retry-After): the next request waits for it"
    )
    assert (
        pause.asked() == "binance asked for no request for 10 s more (Retry-After 10 s on HTTP 429)"
    )
    now[0] += 4 * S + 1  # what is left is said in whole seconds, rounded up
    assert pause.asked().startswith("binance asked for no request for 6 s more")
    pause.before_request()
    assert waits == [6 * S - 1]
    assert pause.asked() == ""
    pause.before_request()
    assert waits == [6 * S - 1]


def test_a_pause_over_the_bound_sends_nothing_until_it_is_within() -> None:
    pause, now, waits = _pause()
    said = pause.heard(_Answer(418, {"Retry-After": "11"}), Transient("banned"))
    assert str(said).endswith(
        "pause of 11 s (Retry-After): more than the 10 s the broker waits: none is sent till it ends"
    )
    with pytest.raises(Transient) as refused:
        pause.before_request("c2")
    assert str(refused.value) == (
        "binance asked for no request for 11 s more (Retry-After 11 s on HTTP 418), longer "
        "than the broker waits before one (10 s): not sent"
    )
    assert refused.value.client_order_id == "c2"
    assert waits == []
    now[0] += S  # 10 s left: the bound itself is waited
    pause.before_request()
    assert waits == [10 * S]


def test_a_pause_of_the_bound_is_waited() -> None:
    pause, _, waits = _pause()
    said = pause.heard(_Answer(503, {"Retry-After": "10"}), Transient("down"))
    assert str(said).endswith("the next request waits for it")
    pause.before_request()
    assert waits == [10 * S]


def test_the_later_end_is_kept() -> None:
    pause, now, _ = _pause()
    pause.heard(_Answer(429, {"Retry-After": "8"}), Transient("x"))
    pause.heard(_Answer(503, {"Retry-After": "8"}), Transient("x"))  # the same end
    pause.heard(_Answer(503, {"Retry-After": "2"}), Transient("x"))  # an earlier one
    assert (
        pause.asked() == "binance asked for no request for 8 s more (Retry-After 8 s on HTTP 429)"
    )
    now[0] += S
    pause.heard(_Answer(503, {"Retry-After": "8"}), Transient("x"))  # a later one
    assert (
        pause.asked() == "binance asked for no request for 8 s more (Retry-After 8 s on HTTP 503)"
    )


def test_429s_without_retry_after_double_within_the_last_ones_length() -> None:
    pause, now, waits = _pause()
    waited = []
    for at, said in [
        (0, "rate limited without Retry-After: the broker backs off, the next request waits 1 s"),
        (
            S,
            "rate limited again without Retry-After: the broker backs off, the next request waits 2 s",
        ),
        (
            3 * S,
            "rate limited again without Retry-After: the broker backs off, the next request waits 4 s",
        ),
        (
            7 * S,
            "rate limited again without Retry-After: the broker backs off, the next request waits 8 s",
        ),
        (
            15 * S,
            "rate limited again without Retry-After: the broker backs off, the next request waits 10 s",
        ),
    ]:
        now[0] = at
        error = pause.heard(_Answer(429), Rejected("no", reason="RATE", client_order_id="c"))
        assert type(error) is Rejected
        assert (error.reason, error.client_order_id) == ("RATE", "c")
        assert str(error) == f"no; {said} (doubled for each 429 in a row, up to 10 s)"
        pause.before_request()
        waited.append(waits[-1])
    assert waited == [S, 2 * S, 4 * S, 8 * S, 10 * S]
    assert pause.asked() == ""
    now[0] = 35 * S  # the last backoff ended at 25 s and lasted 10: its window just closed
    error = pause.heard(_Answer(429), OutcomeUnknown("maybe", client_order_id="c"))
    assert type(error) is OutcomeUnknown
    assert str(error).startswith("maybe; rate limited without Retry-After: ")
    assert (
        pause.asked()
        == "no request to binance for 1 s more (backing off 1 s after HTTP 429 without Retry-After)"
    )


def test_a_ban_without_retry_after_backs_off_the_longest() -> None:
    pause, _, waits = _pause(max_ns=40 * S)
    error = pause.heard(_Answer(418), Transient("banned"))
    assert str(error) == (
        "banned; banned (HTTP 418) without Retry-After: the broker backs off its longest, "
        "the next request waits 30 s"
    )
    pause.before_request()
    assert waits == [30 * S]


@pytest.mark.parametrize(
    "answer", [_Answer(500), _Answer(500, {"Retry-After": "soon"}), ValueError("x")]
)
def test_no_pause_for_an_answer_that_asks_none(answer: BaseException) -> None:
    pause, _, waits = _pause()
    error = Transient("failed")
    assert pause.heard(answer, error) is error
    pause.before_request()
    assert (waits, pause.asked()) == ([], "")


def test_no_backoff_when_the_broker_waits_nothing() -> None:
    pause, _, waits = _pause(max_ns=0)
    error = Transient("throttled")
    assert pause.heard(_Answer(429), error) is error
    pause.before_request()
    assert waits == []


def test_retry_after_is_read_from_the_answer_in_the_chain() -> None:
    outer = _Answer("429", {"Retry-After": "5"})  # no status: skipped
    outer.__cause__ = _Answer(429, {"Retry-After": "3"})
    assert retry_after_ns(outer) == (3 * S, 429)
    assert retry_after_ns(_Answer(429, None)) is None
    assert retry_after_ns(_Answer(429, {})) is None


def test_close_removes_the_file_once_nothing_is_left(tmp_path: Path) -> None:
    path, wall = tmp_path / "venue_pause.json", [1_700_000_000 * S]
    kept = KeptPause(path, wall_ns=lambda: wall[0])
    pause, now, _ = _pause(kept=kept)
    pause.heard(_Answer(429, {"Retry-After": "5"}), Transient("x"))
    pause.close()  # during the pause
    assert path.exists()
    now[0] = 5 * S  # over
    pause.close()
    assert not path.exists()
    pause.heard(_Answer(429), Transient("x"))  # a 1 s backoff: doubles till 2 s
    now[0] += S
    pause.close()
    assert path.exists()
    now[0] += S
    pause.close()
    assert not path.exists()
