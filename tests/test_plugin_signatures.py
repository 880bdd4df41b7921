"""A plug-in whose method the session cannot call as it calls it is refused as it is built.

A strategy's ``on_bar(self, bar)`` (the view forgotten), a feed's ``next_bar(self)`` or a
``set_state`` without ``self`` used to start the run: its first step failed with the call's
own ``TypeError`` (``on_bar() takes 2 positional arguments but 3 were given``), which names
no line of the plug-in's, the run sealed FAILED, and the failure matrix said the strategy
"returned what the session cannot act on", which it never did. Now it is refused before
anything is written, as a plug-in that lacks a method is, naming the method, what it takes,
how the session calls it and where it is defined.
"""

from __future__ import annotations

import functools
import json
import textwrap
from decimal import Decimal

import pytest

from livesession import (
    LiveSessionOrchestrator,
    MockBroker,
    PluginError,
    RandomWalkFeed,
    SmaCrossover,
    create_run,
    load_config,
)
from livesession._support.references import a_, uncallable
from livesession._typing import Broker, MarketFeed, Strategy
from livesession.cli import main
from livesession.testing import run_failure_matrix


class Forgetful(SmaCrossover):
    """An SMA whose on_bar forgot the view."""

    def on_bar(self, bar):  # type: ignore[override]  # the bug under test
        return ()


class KeywordsOnly(SmaCrossover):
    def on_bar(self, *, bar, view):  # type: ignore[override]  # the bug under test
        return ()


class NoSelf(SmaCrossover):
    @staticmethod
    def set_state(state):  # type: ignore[override]  # fine: a static method takes the state
        pass


class Takes(SmaCrossover):
    """What the session's call fits: defaults, ``*args``, a decorator's wrapper."""

    def on_bar(self, bar, view, extra=None):  # type: ignore[override]
        return ()

    def get_state(self, *args):  # type: ignore[override]
        return super().get_state()

    @functools.wraps(SmaCrossover.set_state)
    def set_state(self, *args, **kwargs):  # type: ignore[override]
        pass


def forgetful(*, strategy_id: str = "sma") -> Forgetful:
    return Forgetful(strategy_id=strategy_id, fast=3, slow=8, order_qty=Decimal("0.01"))


class StillFeed(RandomWalkFeed):
    def next_bar(self):  # type: ignore[override]  # the bug under test
        return None


def walk(cls: type[RandomWalkFeed] = RandomWalkFeed) -> RandomWalkFeed:
    return cls(
        symbol="BTC/USDT", seed=1, initial_price=Decimal(100), tick=Decimal("0.01"),
        lot=Decimal("0.001"),
    )  # fmt: skip


def still_feed() -> RandomWalkFeed:
    return walk(StillFeed)


def sma(*, strategy_id: str = "sma") -> SmaCrossover:
    return SmaCrossover(strategy_id=strategy_id, fast=3, slow=8, order_qty=Decimal("0.01"))


_ON_BAR = (
    "its on_bar takes (bar), but the session calls on_bar(bar, view) "
    f"(on_bar is at {__file__}:{Forgetful.on_bar.__code__.co_firstlineno})"
)


def test_each_method_is_checked_as_the_session_calls_it():
    assert uncallable(forgetful(), Strategy) == _ON_BAR
    keywords = KeywordsOnly(strategy_id="k", fast=3, slow=8, order_qty=Decimal("0.01"))
    assert uncallable(keywords, Strategy).startswith(
        "its on_bar takes (*, bar, view), but the session calls on_bar(bar, view)"
    )
    assert uncallable(still_feed(), MarketFeed).startswith(
        "its next_bar takes (), but the session calls next_bar(ts_ns) (next_bar is at "
    )
    bare = sma()
    bare.on_bar = None  # type: ignore[assignment,method-assign]
    assert uncallable(bare, Strategy) == (
        "its on_bar is None, not a method: the session calls on_bar(bar, view)"
    )
    # What the call fits passes: a default, *args, a wrapper, a static method, the built-ins.
    qty = Decimal("0.01")
    for fits in (
        Takes(strategy_id="t", fast=3, slow=8, order_qty=qty),
        NoSelf(strategy_id="n", fast=3, slow=8, order_qty=qty),
        sma(),
    ):
        assert uncallable(fits, Strategy) == ""
    assert uncallable(walk(), MarketFeed) == ""
    broker = MockBroker(seed=1, price_tick=Decimal("0.01"), qty_lot=Decimal("0.001"))
    assert uncallable(broker, Broker) == ""


def test_a_session_given_one_is_refused_before_anything_is_written(tmp_path):
    cfg = load_config(None, {"run_id": "sig", "strategy_id": "sma"})
    said = f"strategy= got a Forgetful: {_ON_BAR}"
    with pytest.raises(PluginError) as refused:
        create_run(cfg, tmp_path / "runs", strategy=forgetful())
    assert str(refused.value) == said
    assert not (tmp_path / "runs").exists()
    with pytest.raises(PluginError) as refused:
        LiveSessionOrchestrator(cfg, strategy=forgetful())
    assert str(refused.value) == said
    with pytest.raises(PluginError, match=r"^feed= got a StillFeed: its next_bar takes \(\)"):
        LiveSessionOrchestrator(cfg, feed=still_feed())


def test_the_failure_matrix_refuses_it_before_any_run():
    said = f"strategy_factory returned a Forgetful: {_ON_BAR}"
    with pytest.raises(TypeError) as refused:
        run_failure_matrix(forgetful, examples=1, steps=10, seed=1)
    assert str(refused.value) == said  # not "the strategy returned what ... cannot act on"
    with pytest.raises(TypeError, match=r"^feed_factory returned a StillFeed: its next_bar "):
        run_failure_matrix(sma, examples=1, steps=10, seed=1, feed_factory=still_feed)


_PLUG = """
    from livesession import SmaCrossover


    class Forgetful(SmaCrossover):
        def on_bar(self, bar):
            return ()


    def make(*, strategy_id):
        return Forgetful(strategy_id=strategy_id, fast=3, slow=8, order_qty="0.01")
"""


def test_dryrun_refuses_it_exit_2_writing_nothing(tmp_path, capsys):
    (tmp_path / "sigplug.py").write_text(textwrap.dedent(_PLUG))
    config = tmp_path / "desk.toml"
    config.write_text('strategy_factory = "sigplug:make"\n')
    out = tmp_path / "runs"
    # It ran, and sealed FAILED at its first step (exit 4), a run a reviewer was handed.
    assert main(["dryrun", "-c", str(config), "--out", str(out), "--json", "-q"]) == 2
    err = capsys.readouterr()
    plug = tmp_path / "sigplug.py"
    said = (
        "strategy_factory 'sigplug:make' returned a Forgetful: its on_bar takes (bar), but the "
        f"session calls on_bar(bar, view) (on_bar is at {plug}:6)"
    )
    assert err.err == f"livesession: error: {said}\n"
    assert json.loads(err.out)["error"] == said
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("S", "an S"),  # was "a S": a one-letter class, read as its letter
        ("RSIStrategy", "an RSIStrategy"),
        ("HTTPBroker", "an HTTPBroker"),
        ("URLFeed", "a URLFeed"),
        ("Momentum", "a Momentum"),
        ("AlertSink", "an AlertSink"),
        ("int", "an int"),
        ("str", "a str"),
    ],
)
def test_a_plug_in_s_class_takes_the_article_it_is_read_with(name: str, said: str) -> None:
    """A refusal names the plug-in's class with its article (``returned a Momentum: ...``);
    one named by a letter or an initialism is read as letters: ``an S``, ``an RSIStrategy``."""
    assert a_(name) == said
