"""The small support modules, through their own interfaces.

``retry_after_s`` (``Retry-After`` in seconds, read by the alert webhook and the ccxt
broker), ``calling``/``called_from`` (who called a deferred verb), ``once`` (one ``async with``
per ``open_session(...)``) and ``BrokerHold`` (one
broker object, one open session): each branch pinned here, found unpinned by
``tools/mutants.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import AsyncIterator

import pytest

from livesession import LiveSessionError, PluginError
from livesession._aio_once import once
from livesession._rundir.brokerhold import hold_broker
from livesession._support.calledfrom import called_from, calling
from livesession._support.retryafter import retry_after_s

_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        (None, None),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:30:00 GMT", 120.0),
        ("Wed, 21 Oct 2015 07:30:00 -0000", 120.0),  # no zone: taken as UTC
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # past: no wait
    ],
)
def test_retry_after_against_the_answers_date(value: str | None, seconds: float | None) -> None:
    assert retry_after_s(value, date=_DATE) == seconds


def test_retry_after_without_a_readable_date_reads_this_clock() -> None:
    for date in (None, "yesterday"):
        assert retry_after_s(_DATE, date=date) == 0.0  # long past by this clock
        far = retry_after_s("Fri, 01 Jan 2100 00:00:00 GMT", date=date)
        assert far is not None
        assert far > 365 * 24 * 3600


def test_called_from_says_who_while_the_call_lasts() -> None:
    unknown = "by a signal handler or a callback, say"
    assert called_from() == unknown
    with calling("a rail"):
        assert called_from() == "from within a rail"
        with calling("an alert sink's post"):
            assert called_from() == "from within an alert sink's post"
        assert called_from() == "from within a rail"
        seen: list[str] = []
        other = threading.Thread(target=lambda: seen.append(called_from()))
        other.start()
        other.join()
        assert seen == [unknown]  # another thread's calls are not this one's
    assert called_from() == unknown
    with pytest.raises(KeyError), calling("a rail"):
        raise KeyError
    assert called_from() == unknown


class _Broker:
    pass


def test_a_broker_held_is_refused_until_its_hold_closes() -> None:
    broker = _Broker()
    first = hold_broker(broker, "btc")
    with pytest.raises(PluginError, match="close\\(\\) the session of run 'btc' first"):
        hold_broker(broker, "eth")
    other = hold_broker(_Broker(), "sol")  # another object: held on its own
    first.close()
    first.close()  # twice: nothing more
    second = hold_broker(broker, "eth")
    first.close()  # an old hold closed again lets go of nothing it no longer holds
    with pytest.raises(PluginError, match="the session of run 'eth' holds"):
        hold_broker(broker, "xrp")
    second.close()
    other.close()
    hold_broker(broker, "xrp").close()


def test_a_hold_dropped_unclosed_lets_go_once_collected() -> None:
    broker = _Broker()
    hold = hold_broker(broker, "btc")
    del hold
    gc.collect()
    hold_broker(broker, "eth").close()


def test_once_enters_once_and_answers_for_its_opener() -> None:
    entered: list[str] = []

    @contextlib.asynccontextmanager
    async def opener(name: str) -> AsyncIterator[str]:
        entered.append(name)
        with contextlib.suppress(KeyError):  # the block's KeyError, swallowed by the opener
            yield name

    async def play() -> None:
        opening = once(opener)("btc")
        async with opening as name:
            assert name == "btc"
            raise KeyError  # suppressed: the opener's __aexit__ answer is kept
        with pytest.raises(LiveSessionError, match="was entered already"):
            async with opening:
                pass
        async with once(opener)("eth"):
            pass

    asyncio.run(play())
    assert entered == ["btc", "eth"]
    assert once(opener).__name__ == "opener"
