"""The failure matrix and the user's plug-ins' own failures: a feed's interrupt, a
``set_state`` that raises, a ``get_state`` that interrupts. Each is a finding naming the
plug-in and its line, never the end of the matrix (nor a bare error out of it)."""

from __future__ import annotations

import functools
import re
import signal
import sys
import types
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from livesession import Bar, ConfigError, OrderIntent, PluginError, SmaCrossover
from livesession._typing import Closable, MarketFeed
from livesession.testing import (
    ALIASES,
    ALL_FAULTS,
    FaultAt,
    FaultBroker,
    MatrixCase,
    check_case,
    run_failure_matrix,
)

from _helpers import zigzag_bar


def _line_of(text: str) -> str:
    """``this file:line`` of the first line holding ``text``."""
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    return f"{__file__}:{next(n for n, line in enumerate(lines, 1) if text in line)}"


def sma() -> SmaCrossover:
    return SmaCrossover(strategy_id="sma", fast=3, slow=8, order_qty=Decimal("0.01"))


class Stopping:
    """A zigzag feed that on its 10th bar raises KeyboardInterrupt or SystemExit, or Ctrl-C
    is pressed (``how``: ``interrupt``, ``exit``, ``ctrl-c``; another: none of them)."""

    symbol = "BTC/USDT"

    def __init__(self, *, how: str) -> None:
        self.bars = 0
        self.how = how

    def next_bar(self, ts_ns: int) -> Bar:
        self.bars += 1
        if self.bars == 10:
            if self.how == "ctrl-c":
                signal.raise_signal(signal.SIGINT)
            elif self.how == "exit":
                sys.exit(4)
            elif self.how == "interrupt":
                raise KeyboardInterrupt
        return zigzag_bar(self.symbol, self.bars, ts_ns)

    def get_state(self) -> dict[str, Any]:
        return {"bars": self.bars}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.bars = state["bars"]


class Counting:
    """Counts its bars; its ``set_state`` raises, or from its 5th bar on its ``get_state``
    raises KeyboardInterrupt (``bad``)."""

    strategy_id = "counting"

    def __init__(self, *, bad: str) -> None:
        self.bars = 0
        self.bad = bad

    def on_bar(self, bar: Bar, view: Any) -> Sequence[OrderIntent]:
        self.bars += 1
        return ()

    def get_state(self) -> dict[str, Any]:
        if self.bad == "get_state" and self.bars >= 5:
            raise KeyboardInterrupt  # from get_state
        return {"bars": self.bars}

    def set_state(self, state: Mapping[str, Any]) -> None:
        if self.bad == "set_state":
            raise RuntimeError(f"no key 'count' in {sorted(state)}")
        self.bars = state["bars"]


class GivesASet(Counting):
    def __init__(self) -> None:
        super().__init__(bad="")

    def get_state(self) -> dict[str, Any]:  # a set
        return {"bars": {self.bars}}


class RestoresBadly(Stopping):
    """The zigzag feed, whose ``set_state`` raises."""

    def set_state(self, state: Mapping[str, Any]) -> None:
        raise ValueError("the feed's file moved")


class TestAFeedsInterrupt:
    @pytest.mark.parametrize(
        ("how", "said", "line"),
        [
            ("interrupt", "KeyboardInterrupt", "raise KeyboardInterrupt"),
            ("exit", "SystemExit(4)", "sys.exit(4)"),
        ],
    )
    def test_a_feed_that_interrupts_is_a_finding(self, how: str, said: str, line: str):
        """Bug: the strategy's interrupt in on_bar was a finding, but the feed's in next_bar
        still tore the session and aborted the whole matrix (under pytest, the whole test
        session), naming nothing."""
        feed = functools.partial(Stopping, how=how)
        with pytest.raises(AssertionError) as caught:
            run_failure_matrix(sma, feed_factory=feed, examples=2, steps=14, seed=0)
        message = str(caught.value)
        assert "fails with no fault at all (seed=0, steps=14): " in message
        assert (
            f"uninterrupted run: the feed raised FeedInterrupt: next_bar raised {said}, which "
            "would tear a session (its run left unsealed at its last checkpoint, and the "
            "process interrupted): return the bar (None when the feed is exhausted), or raise "
            f"an Exception (step 10, at {_line_of(line)} in next_bar)\n"
        ) in message
        assert isinstance(caught.value.__cause__.__cause__, (KeyboardInterrupt, SystemExit))
        with pytest.raises(AssertionError, match=re.escape(f"next_bar raised {said}")):
            check_case(sma, MatrixCase(latency_s=0, faults=(), kill_after=5), steps=14,
                       feed_factory=feed)  # fmt: skip

    @pytest.mark.broken_run("the operator's Ctrl-C tears the session: a crash at its checkpoint")
    def test_the_operators_ctrl_c_while_the_feed_reads_still_interrupts(self):
        """A KeyboardInterrupt the SIGINT raised is no finding: the matrix ends as before."""
        feed = functools.partial(Stopping, how="ctrl-c")
        with pytest.raises(KeyboardInterrupt):
            run_failure_matrix(sma, feed_factory=feed, examples=2, steps=14, seed=0)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back

    def test_the_feed_the_session_gets_is_the_users_in_all_but_its_interrupts(self):
        """What the session reads of a feed besides its three methods (``dated``, a
        ``close``...) is read through; livesession's own feeds are handed over as they are."""
        from livesession import RandomWalkFeed
        from livesession.testing._interrupts import CtrlC, interruptible_feed

        class Closing(Stopping):
            dated = True
            closed = 0

            def close(self) -> None:
                self.closed += 1

        users = Closing(how="interrupt")
        feed = interruptible_feed(users, CtrlC())
        assert isinstance(feed, MarketFeed)
        assert isinstance(feed, Closable)
        assert feed.dated is True  # type: ignore[attr-defined]
        assert repr(feed) == repr(users)
        feed.close()  # type: ignore[attr-defined]
        assert users.closed == 1
        assert not isinstance(interruptible_feed(Stopping(how="x"), CtrlC()), Closable)

        own = RandomWalkFeed(
            symbol="BTC/USDT",
            seed=1,
            initial_price=Decimal(100),
            tick=Decimal("0.01"),
            lot=Decimal("0.001"),
        )
        assert interruptible_feed(own, CtrlC()) is own


class TestSetStateAndGetState:
    def test_a_strategys_set_state_that_raises_is_a_finding(self):
        """Bug: a set_state that raised on the resume raised its bare RuntimeError out of
        run_failure_matrix: no finding, no case, no re-run line, nothing saying that the
        crash could not be resumed."""
        factory = functools.partial(Counting, bad="set_state")
        with pytest.raises(AssertionError) as caught:
            run_failure_matrix(factory, examples=2, steps=14, seed=0)
        message = str(caught.value)
        assert "fails with no fault at all (seed=0, steps=14): " in message
        assert (
            "a crash cannot be resumed: the strategy's set_state, given the state its "
            "get_state gave, raised RuntimeError: no key 'count' in ['bars'] (killed after "
            f"step 7, at {_line_of('raise RuntimeError(f')} in set_state)\n"
        ) in message
        assert isinstance(caught.value.__cause__, RuntimeError)
        assert "\nre-run it: " in message

    def test_a_feeds_set_state_that_raises_is_a_finding(self):
        with pytest.raises(AssertionError) as caught:
            check_case(
                sma,
                MatrixCase(latency_s=0, faults=(), kill_after=5),
                steps=14,
                feed_factory=functools.partial(RestoresBadly, how="never"),
            )
        assert str(caught.value) == (
            "a crash cannot be resumed: the feed's set_state, given the state its get_state "
            "gave, raised ValueError: the feed's file moved (killed after step 5, at "
            f"{_line_of('raise ValueError(')} in set_state)"
        )

    def test_a_get_state_that_interrupts_is_a_finding(self):
        """Bug: a get_state raising KeyboardInterrupt passed the checkpoint untouched and
        aborted the whole matrix. Then its finding named neither the step nor the line, as
        one of on_bar's or set_state's does."""
        factory = functools.partial(Counting, bad="get_state")
        with pytest.raises(AssertionError) as caught:
            run_failure_matrix(factory, examples=2, steps=14, seed=0)
        message = str(caught.value)
        assert "fails with no fault at all (seed=0, steps=14): " in message
        assert (
            "a crash cannot be resumed: the strategy's get_state raised KeyboardInterrupt, "
            "which would tear a session (its run left unsealed at its last checkpoint, and the "
            "process interrupted): return the state, or raise an Exception (killed after step 7, "
            f"at {_line_of('raise KeyboardInterrupt  # from get_state')} in get_state)\n"
        ) in message

    def test_a_feeds_get_state_that_raises_names_its_line(self):
        with pytest.raises(AssertionError) as caught:
            check_case(
                sma,
                MatrixCase(latency_s=0, faults=(), kill_after=5),
                steps=14,
                feed_factory=functools.partial(HoldingSavesBadly, made=[]),
            )
        line = _line_of("raise " + "OSError(")  # the feed's line, not this one
        assert str(caught.value) == (
            "a crash cannot be resumed: the feed's get_state raised OSError: the feed's file is "
            f"gone (killed after step 5, at {line} in get_state)"
        )
        assert isinstance(caught.value.__cause__, OSError)

    def test_a_get_state_giving_what_json_cannot_hold_names_where_it_is(self):
        """No line of the user's raised (the session refused what get_state gave): the
        finding names where get_state is defined, as one of on_bar's does."""
        with pytest.raises(AssertionError) as caught:
            check_case(GivesASet, MatrixCase(latency_s=0, faults=(), kill_after=5), steps=14)
        message = str(caught.value)
        assert message.startswith(
            "a crash cannot be resumed: the strategy's get_state gave what JSON cannot hold ("
        )
        assert message.endswith(
            f" (killed after step 5; get_state is at {_line_of('def get_state(self) -> dict[str, Any]:  # a set')})"
        )


class TestTheFactorysName:
    def test_a_partials_name_shows_no_address_and_no_secret(self):
        """Bug: the finding's first line named a functools.partial by its repr: the
        function's memory address, and every bound argument as given, an API key too."""
        secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
        factory = functools.partial(Keyed, bad="set_state", token=secret)
        with pytest.raises(AssertionError) as caught:
            run_failure_matrix(factory, examples=1, steps=14, seed=0)
        message = str(caught.value)
        assert message.startswith(
            "failure matrix: functools.partial(Keyed, bad='set_state', token='"
        )
        assert secret not in message
        assert " at 0x" not in message.split("\n", maxsplit=1)[0]

    def test_a_factory_that_cannot_be_pickled_is_named_alike(self):
        factory = functools.partial(Keyed, bad=lambda: 1)
        with pytest.raises(TypeError) as caught:
            run_failure_matrix(factory, examples=1, steps=14, seed=0)
        assert str(caught.value).startswith(
            "strategy_factory functools.partial(Keyed, bad=TestTheFactorysName.test_a_factory_"
            "that_cannot_be_pickled_is_named_alike.<locals>.<lambda>) cannot be re-created in a "
            "child process"
        )
        assert " at 0x" not in str(caught.value)


class Keyed(Counting):
    """``Counting`` with a key bound to its factory, as a venue's strategy may have."""

    def __init__(self, *, bad: Any, token: str = "") -> None:
        super().__init__(bad=bad)
        self.token = token


def make_counting(*, strategy_id: str, bad: str) -> Counting:
    """A factory without ``**kwargs``: one it does not take is refused by its signature."""
    counting = Counting(bad=bad)
    counting.strategy_id = strategy_id
    return counting


class TestFactoriesRefused:
    @pytest.mark.parametrize(
        ("strategy", "feed", "said"),
        [
            (
                "mydesk.breakout:make_strategy",
                None,
                (
                    "strategy_factory must be a callable that returns a new strategy, got a str: "
                    'pass the factory itself (a config\'s "module:function" names it; import it and '
                    "pass it, or a functools.partial of it)"
                ),
            ),
            (
                functools.partial(make_counting, strategy_id="c", bad="", windw=3),
                None,
                (
                    "strategy_factory functools.partial(make_counting, strategy_id='c', bad='', "
                    "windw=3) binds what make_counting does not take (got an unexpected keyword "
                    "argument 'windw')"
                ),
            ),
            (
                sma,
                "tests.feeds:Stopping",
                (
                    "feed_factory must be a callable that returns a new feed, got a str: pass the "
                    'factory itself (a config\'s "module:function" names it; import it and pass '
                    "it, or a functools.partial of it)"
                ),
            ),
            (
                sma,
                functools.partial(Stopping, how="never", every=2),
                (
                    "feed_factory functools.partial(Stopping, how='never', every=2) binds what "
                    "Stopping does not take (got an unexpected keyword argument 'every')"
                ),
            ),
            (
                sma,
                Stopping,
                (
                    "feed_factory must be callable with no argument (called bare: missing the "
                    "required argument 'how'); bind its arguments first: "
                    'functools.partial(make_feed, symbol="BTC/USDT", ...)'
                ),
            ),
            (
                sma,
                functools.partial(print, end=""),
                (
                    "feed_factory returned None, not a MarketFeed (does the factory end with "
                    "`return`?)"
                ),
            ),
        ],
    )
    def test_a_factory_the_matrix_cannot_use_is_refused_by_name(
        self, strategy: Any, feed: Any, said: str
    ):
        """Bug: a config's "module:function" string was told to bind its arguments; a
        partial binding an unknown argument raised the function's own TypeError from within
        the matrix; a feed factory given as a string raised "'str' object is not callable",
        and one returning None (no ``return``) quietly ran the config's feed instead."""
        with pytest.raises(TypeError) as caught:
            run_failure_matrix(strategy, feed_factory=feed, examples=1, steps=10, seed=0)
        assert str(caught.value) == said
        with pytest.raises(TypeError, match=re.escape(said)):
            check_case(strategy, MatrixCase(latency_s=0, faults=(), kill_after=5), steps=10,
                       feed_factory=feed)  # fmt: skip


class TestASlowStrategy:
    def test_the_childrens_time_limit_allows_for_what_the_case_took_here(
        self, monkeypatch: pytest.MonkeyPatch
    ):
        """Bug: the children run the fault-free case about three times over (the run, its
        crash, its resumes) within a fixed 2 minutes. A strategy slow per bar (a model's
        inference, say, 0.7 s a bar over 40 steps) failed the matrix, most surely its own
        re-run line's examples=1, with "did not finish within 122 s and was stopped",
        though nothing was wrong but its speed. Here the case "took" 100 s in this process
        (a clock of the matrix's own that moves 100 s a reading)."""
        from livesession.testing import _crossprocess, matrix

        readings = iter(range(0, 10_000, 100))
        monkeypatch.setattr(
            matrix, "time", types.SimpleNamespace(perf_counter=lambda: next(readings))
        )
        started: list[Any] = []
        start = _crossprocess.ChildRun.start

        def starting(*args: Any, **kwargs: Any) -> Any:
            child = start(*args, **kwargs)
            started.append(child)
            return child

        monkeypatch.setattr(_crossprocess.ChildRun, "start", starting)
        run_failure_matrix(sma, examples=1, steps=14, seed=0)
        (child,) = started
        fixed = _crossprocess.TIMEOUT_BASE_S + _crossprocess.TIMEOUT_PER_STEP_S * 14
        assert child.timeout_s >= fixed + 8 * 100


class TestArgumentsRefused:
    def test_an_unknown_config_field_is_named_with_the_nearest(self):
        """Bug: ``config={"rsk": ...}`` raised "DryrunConfig.__init__() got an unexpected
        keyword argument 'rsk'", naming a class the user never called, where a config
        file's unknown key says what it may have meant."""
        with pytest.raises(ConfigError, match=r"^unknown config key rsk \(did you mean risk\?\)"):
            run_failure_matrix(sma, examples=1, steps=10, config={"rsk": {}})

    def test_a_config_setting_what_the_matrix_does_not_use_is_refused(self):
        """Bug: ``config={"broker": "desk.venues:make", ...}`` (a desk's config passed as it
        is) ran every case on the matrix's own FaultBroker and passed, without a word that
        the desk's venue, or a ``strategy_factory`` other than the one given, never ran. A
        key left at its default (as ``DryrunConfig.to_dict()`` writes every key) passes."""
        from livesession import DryrunConfig

        said = (
            "config sets broker, broker_params, which the matrix does not use: it runs "
            "strategy_factory's strategy on a FaultBroker of its own (docs/testing.md); drop "
            "them from config"
        )
        mine = {"broker": "desk.venues:make", "broker_params": {"seed": 3}}
        with pytest.raises(ConfigError) as caught:
            run_failure_matrix(sma, examples=1, steps=10, config=mine)
        assert str(caught.value) == said
        with pytest.raises(ConfigError, match=r"^config sets strategy_factory, "):
            run_failure_matrix(sma, examples=1, steps=10, config={"strategy_factory": "a.b:c"})
        defaults = DryrunConfig(strategy_id="sma").to_dict()
        report = run_failure_matrix(sma, examples=1, steps=10, config=defaults, cross_process=False)
        assert report.examples >= 1

    def test_a_config_that_is_no_mapping_is_refused_by_name(self):
        """Bug: a list of pairs raised "'list' object is not a mapping"."""
        with pytest.raises(TypeError) as caught:
            run_failure_matrix(sma, examples=1, steps=10, config=[("symbol", "ETH/USDT")])  # type: ignore[arg-type]
        assert str(caught.value) == "config must be a mapping of DryrunConfig fields, got a list"

    def test_check_case_refuses_the_steps_the_matrix_refuses(self):
        """Bug: ``check_case(..., steps=1)`` ran and passed, though no kill fits in one step
        and the matrix refuses it."""
        with pytest.raises(ValueError, match=r"^steps must be at least 2, got 1$"):
            check_case(sma, MatrixCase(latency_s=0, faults=(), kill_after=1), steps=1)

    @pytest.mark.parametrize(
        ("seed", "said"),
        [
            (None, "seed must be an int, got None (NoneType)"),
            ("1", "seed must be an int, got '1' (str)"),
            (1.0, "seed must be an int, got 1.0 (float)"),
            (True, "seed must be an int, got True (bool)"),
        ],
    )
    def test_a_seed_that_is_no_int_is_refused_by_name(self, seed: Any, said: str):
        """Bug: any seed was taken. None drew other cases at each call (two calls with the
        same arguments could disagree, the report saying seed=None), and a str or a float
        was hashed into a seed the docs never promised."""
        with pytest.raises(TypeError) as caught:
            run_failure_matrix(sma, examples=1, steps=10, seed=seed)
        assert str(caught.value) == said

    def test_a_negative_or_large_seed_is_an_int_like_any(self):
        report = run_failure_matrix(sma, examples=1, steps=10, seed=-(2**70), cross_process=False)
        assert report.seed == -(2**70)


class Holding(Stopping):
    """The zigzag feed as one holding a file would be: each one made is put in ``made``,
    and counts its ``close()`` calls."""

    def __init__(self, *, made: list[Holding]) -> None:
        super().__init__(how="never")
        self.closes = 0
        made.append(self)

    def close(self) -> None:
        self.closes += 1


class HoldingRestoresBadly(Holding):
    def set_state(self, state: Mapping[str, Any]) -> None:
        raise ValueError("the feed's file moved")


class HoldingSavesBadly(Holding):
    def get_state(self) -> dict[str, Any]:
        raise OSError("the feed's file is gone")


def _zigzag_csv(path: Path, rows: int) -> None:
    lines = ["timestamp,open,high,low,close,volume"]
    for n in range(rows):
        close = 42_000 + 50 * (n % 9)
        prices = f"{close},{close + 10},{close - 10},{close}"
        lines.append(f"2026-01-01T{n // 60:02d}:{n % 60:02d}:00Z,{prices},1")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class TestTheMatrixClosesWhatItOpens:
    """Bug: the matrix closed no feed of a session it killed (nor of one it gave up on), so
    a feed holding a file kept it open until garbage collection: one more per example."""

    def test_check_case_closes_every_feed_it_made_once(self):
        made: list[Holding] = []
        factory = functools.partial(Holding, made=made)
        case = MatrixCase(latency_s=0, faults=(), kill_after=5)
        _, resumed = check_case(sma, case, steps=14, feed_factory=factory)
        assert resumed
        assert len(made) == 3  # the uninterrupted run's, and the resumed run's two
        assert [feed.closes for feed in made] == [1, 1, 1]

    def test_the_matrix_closes_every_feed_it_made_once(self):
        made: list[Holding] = []
        factory = functools.partial(Holding, made=made)
        report = run_failure_matrix(
            sma, examples=4, steps=14, seed=0, feed_factory=factory, cross_process=False
        )
        assert report.resumes > 0
        assert made
        assert [feed.closes for feed in made] == [1] * len(made)

    @pytest.mark.parametrize(
        ("feed", "said", "feeds"),
        [
            (HoldingRestoresBadly, "the feed's set_state", 3),
            (HoldingSavesBadly, "the feed's get_state raised OSError", 2),
        ],
    )
    def test_a_resume_that_fails_closes_its_feeds_too(self, feed: Any, said: str, feeds: int):
        made: list[Holding] = []
        factory = functools.partial(feed, made=made)
        case = MatrixCase(latency_s=0, faults=(), kill_after=5)
        with pytest.raises(AssertionError, match=said):
            check_case(sma, case, steps=14, feed_factory=factory)
        assert len(made) == feeds
        assert [feed.closes for feed in made] == [1] * feeds

    def test_the_child_processes_runs_close_their_feeds(self):
        """The crash the child process makes, and the resume in a new process, alike."""
        from livesession.testing import matrix

        made: list[Holding] = []
        factory = functools.partial(Holding, made=made)
        _, survivors = matrix.reference_lines(sma, factory, None, 14)
        assert survivors
        for left in survivors:
            matrix.resumed_lines(sma, factory, None, 14, left)
        assert len(made) == 2 + len(survivors)  # the run, the crash, and each resume
        assert [feed.closes for feed in made] == [1] * len(made)

    def test_the_configs_data_file_is_closed_too(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ):
        from livesession._market.feeds import CsvReplayFeed

        opened: list[Any] = []
        closed: list[Any] = []
        init, close = CsvReplayFeed.__init__, CsvReplayFeed.close

        def opening(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            opened.append(self)

        def closing(self: Any) -> None:
            closed.append(self)
            close(self)

        monkeypatch.setattr(CsvReplayFeed, "__init__", opening)
        monkeypatch.setattr(CsvReplayFeed, "close", closing)
        _zigzag_csv(tmp_path / "bars.csv", 40)
        config = {"feed": f"csv:{tmp_path / 'bars.csv'}"}
        _, resumed = check_case(
            sma, MatrixCase(latency_s=0, faults=(), kill_after=5), steps=14, config=config
        )
        assert resumed
        assert opened
        assert sorted(map(id, closed)) == sorted(map(id, opened))

    def test_check_case_closes_every_strategy_it_made_once(self):
        """Bug: no strategy's ``close()`` was ever called: one holding a model server's
        handle kept it, one more per run. Each is closed once its run is done, as its feed
        is (by the session as it closes, or at the kill); the one made only to learn the
        strategy's id at once."""
        made: list[ClosingSma] = []
        factory = functools.partial(ClosingSma, made=made)
        _, resumed = check_case(factory, MatrixCase(latency_s=0, faults=(), kill_after=5), steps=14)
        assert resumed
        assert len(made) == 4  # the id's, the uninterrupted run's, and the resumed run's two
        assert [strategy.closes for strategy in made] == [1] * 4

    def test_the_matrix_closes_every_strategy_it_made_once(self):
        made: list[ClosingSma] = []
        factory = functools.partial(ClosingSma, made=made)
        report = run_failure_matrix(factory, examples=4, steps=14, seed=0, cross_process=False)
        assert report.resumes > 0
        assert made
        assert [strategy.closes for strategy in made] == [1] * len(made)

    @pytest.mark.broken_run("the operator's Ctrl-C tears the session: a crash at its checkpoint")
    def test_the_operators_ctrl_c_leaves_no_feed_or_strategy_open(self):
        """Bug: the session a Ctrl-C tore was never closed, nor its feed: the matrix ended
        with the feed's file (and now the strategy's resource) still open."""
        feeds: list[HoldingCtrlC] = []
        strategies: list[ClosingSma] = []
        with pytest.raises(KeyboardInterrupt):
            run_failure_matrix(
                functools.partial(ClosingSma, made=strategies),
                feed_factory=functools.partial(HoldingCtrlC, made=feeds),
                examples=2,
                steps=14,
                seed=0,
            )
        assert len(feeds) == 1  # the first run's: the Ctrl-C came in its 10th bar
        assert [feed.closes for feed in feeds] == [1]
        assert [strategy.closes for strategy in strategies] == [1, 1]  # the id's, the run's


class ClosingSma(SmaCrossover):
    """The demo strategy as one holding a resource would be: each one made is put in
    ``made``, and counts its ``close()`` calls."""

    def __init__(self, *, made: list[ClosingSma]) -> None:
        super().__init__(strategy_id="sma", fast=3, slow=8, order_qty=Decimal("0.01"))
        self.closes = 0
        made.append(self)

    def close(self) -> None:
        self.closes += 1


class HoldingCtrlC(Stopping):
    """The zigzag feed holding a file, in whose 10th bar the operator presses Ctrl-C."""

    def __init__(self, *, made: list[HoldingCtrlC]) -> None:
        super().__init__(how="ctrl-c")
        self.closes = 0
        made.append(self)

    def close(self) -> None:
        self.closes += 1


_NAMES = sorted(ALL_FAULTS + tuple(ALIASES))


class TestACaseRefusesWhatCannotRun:
    @pytest.mark.parametrize(
        ("latency_s", "error", "said"),
        [
            (-30, ValueError, "latency_s must not be negative, got -30"),
            (float("nan"), TypeError, "latency_s must be an int, got nan (float)"),
            (float("inf"), TypeError, "latency_s must be an int, got inf (float)"),
            (True, TypeError, "latency_s must be an int, got True (bool)"),
            (30.0, TypeError, "latency_s must be an int, got 30.0 (float)"),
        ],
    )
    def test_a_latency_that_is_no_int_of_seconds_is_refused_by_name(
        self, latency_s: Any, error: type[Exception], said: str
    ):
        """Bug: any latency_s was taken: a bool ran as 1 s, and a negative, NaN or infinite
        one failed only once the run began, naming the broker's ``latency_ns``, which the
        user never gave."""
        with pytest.raises(error) as caught:
            MatrixCase(latency_s=latency_s, faults=(), kill_after=5)
        assert str(caught.value) == said

    @pytest.mark.parametrize(
        ("kill_after", "error", "said"),
        [
            (0, ValueError, "kill_after must be at least 1, got 0"),
            (True, TypeError, "kill_after must be an int, got True (bool)"),
            (2.5, TypeError, "kill_after must be an int, got 2.5 (float)"),
        ],
    )
    def test_a_kill_step_that_is_no_step_is_refused_by_name(
        self, kill_after: Any, error: type[Exception], said: str
    ):
        with pytest.raises(error) as caught:
            MatrixCase(latency_s=0, faults=(), kill_after=kill_after)
        assert str(caught.value) == said

    @pytest.mark.parametrize("kill_after", [14, 15, 100])
    def test_check_case_refuses_a_kill_after_the_last_step(self, kill_after: int):
        """Bug: a kill_after of steps or more ran the case without its resume, and
        check_case passed it, returning only ``resumed=False`` to say so: the docs' case is
        killed and resumed (the matrix draws kill_after below steps)."""
        case = MatrixCase(latency_s=0, faults=(), kill_after=kill_after)
        with pytest.raises(ValueError) as caught:
            check_case(sma, case, steps=14)
        assert str(caught.value) == (
            f"kill_after must be below steps, got kill_after={kill_after} with steps=14: the run"
            " is killed after a step and resumed for those after it"
        )

    def test_check_case_takes_a_kill_after_the_last_but_one_step(self):
        _, resumed = check_case(sma, MatrixCase(latency_s=0, faults=(), kill_after=13), steps=14)
        assert isinstance(resumed, bool)

    @pytest.mark.parametrize(
        ("fields", "error", "said"),
        [
            ({"step": -1}, ValueError, "step must not be negative, got -1"),
            ({"step": 1.0}, TypeError, "step must be an int, got 1.0 (float)"),
            ({"step": True}, TypeError, "step must be an int, got True (bool)"),
            ({"fault": 3}, TypeError, "fault must be a str, got 3 (int)"),
            ({"fault": "dorp"}, ValueError, f"unknown fault 'dorp': expected one of {_NAMES}"),
            ({"times": 0}, ValueError, "times must be at least 1, got 0"),
            ({"times": "2"}, TypeError, "times must be an int, got '2' (str)"),
        ],
    )
    def test_a_fault_at_that_cannot_be_armed_is_refused_as_it_is_made(
        self, fields: dict[str, Any], error: type[Exception], said: str
    ):
        """Bug: any FaultAt was taken. A misspelt fault or a times of 0 was refused only
        when the run reached its step, by ``FaultBroker.arm``; a negative step never armed
        at all, and the case passed without its fault."""
        with pytest.raises(error) as caught:
            FaultAt(**{"step": 1, "fault": "drop", **fields})
        assert str(caught.value) == said

    def test_a_fault_at_keeps_the_name_it_was_given(self):
        assert FaultAt(step=0, fault="drop").fault == "drop"  # the re-run line shows it so
        assert FaultAt(step=0, fault="timeout_before", times=6).times == 6

    def test_arm_refuses_a_fault_that_is_no_str_by_type(self):
        """Bug: ``arm(3)`` said "unknown fault 3", a ValueError, and ``arm(["drop"])``
        "unhashable type: 'list'", where a times that is no int is a TypeError naming it."""
        broker = FaultBroker()
        with pytest.raises(TypeError) as caught:
            broker.arm(["drop"])  # type: ignore[arg-type]
        assert str(caught.value) == "fault must be a str, got ['drop'] (list)"
        assert not broker.armed

    @pytest.mark.parametrize(
        ("faults", "said"),
        [
            (
                FaultAt(step=1, fault="drop"),
                (
                    "faults must be a tuple of FaultAt, got FaultAt(step=1, fault='drop',"
                    " times=1) (FaultAt)"
                ),
            ),
            (
                (FaultAt(step=1, fault="drop"), (2, "reject")),
                "faults[1] must be a FaultAt, got (2, 'reject') (tuple)",
            ),
        ],
    )
    def test_faults_that_are_no_fault_ats_are_refused_by_name(self, faults: Any, said: str):
        """Bug: a lone FaultAt, or a plain tuple in the schedule, was taken and failed at
        its run's first step with "object is not iterable" or "has no attribute 'step'"."""
        with pytest.raises(TypeError) as caught:
            MatrixCase(latency_s=0, faults=faults, kill_after=5)
        assert str(caught.value) == said

    def test_a_list_of_fault_ats_is_a_schedule_as_a_tuple_is(self):
        planned = [FaultAt(step=1, fault="drop")]
        assert MatrixCase(latency_s=0, faults=planned, kill_after=5).faults == planned  # type: ignore[arg-type]

    @pytest.mark.parametrize("step", [14, 15, 100])
    def test_check_case_refuses_a_fault_after_the_last_step(self, step: int):
        """Bug: a fault at or beyond the run's steps was never armed, and check_case passed
        the case as though its fault had been tried."""
        planned = FaultAt(step=step, fault="reject")
        case = MatrixCase(
            latency_s=0, faults=(FaultAt(step=2, fault="drop"), planned), kill_after=5
        )
        with pytest.raises(ValueError) as caught:
            check_case(sma, case, steps=14)
        assert str(caught.value) == (
            f"a fault's step must be below steps, got faults[1].step={step} with steps=14: a"
            " fault is armed before its step (0-based, the last is 13), so"
            f" FaultAt(step={step}, fault='reject', times=1) would never be armed"
        )

    def test_check_case_arms_a_fault_at_the_last_step(self):
        case = MatrixCase(latency_s=0, faults=(FaultAt(step=13, fault="reject"),), kill_after=5)
        _, resumed = check_case(sma, case, steps=14)
        assert isinstance(resumed, bool)


class EthFeed(Stopping):
    symbol = "ETH/USDT"


class TestAFeedOfAnotherSymbol:
    def test_the_finding_says_which_config_trades_it(self):
        """Bug: the finding said the session trades another symbol, not how to make it
        trade the feed's: the matrix's config (its symbol BTC/USDT by default) is set by
        ``config``, which the message never named."""
        feed = functools.partial(EthFeed, how="never")
        case = MatrixCase(latency_s=0, faults=(), kill_after=5)
        with pytest.raises(AssertionError) as caught:
            check_case(sma, case, steps=14, feed_factory=feed)
        assert str(caught.value) == (
            "uninterrupted run: the feed returned what the session cannot use (step 1): "
            "next_bar returned a bar of 'ETH/USDT'; the session trades 'BTC/USDT' (next_bar is "
            f"at {_line_of('def next_bar(')}); the feed's symbol is 'ETH/USDT', the config's "
            "'BTC/USDT': to trade the feed's, pass config={'symbol': 'ETH/USDT'}"
        )
        _, resumed = check_case(
            sma, case, steps=14, feed_factory=feed, config={"symbol": "ETH/USDT"}
        )  # as the finding says
        assert resumed

    def test_a_feed_of_the_configs_symbol_gets_no_such_hint(self):
        with pytest.raises(AssertionError) as caught:
            check_case(
                sma,
                MatrixCase(latency_s=0, faults=(), kill_after=5),
                steps=14,
                feed_factory=functools.partial(Stopping, how="exit"),
            )
        assert "config=" not in str(caught.value)


def test_a_config_rail_that_cannot_be_built_leaves_no_strategy_or_feed_open(tmp_path: Path):
    """Bug: a config naming a rail (``rails``) the session could not build raised out of the
    matrix with the strategy and the feed it had made for the run never closed: no
    session took them, and nothing else let go of them."""
    strategies: list[ClosingSma] = []
    feeds: list[Holding] = []
    config = {"base_dir": str(tmp_path), "rails": ["nosuchdesk.rails:max_position"]}
    with pytest.raises(PluginError, match=r"rails\[0\]: cannot import"):
        run_failure_matrix(
            functools.partial(ClosingSma, made=strategies),
            feed_factory=functools.partial(Holding, made=feeds),
            examples=1,
            steps=10,
            seed=0,
            config=config,
        )
    assert strategies
    assert feeds
    assert [strategy.closes for strategy in strategies] == [1] * len(strategies)
    assert [feed.closes for feed in feeds] == [1] * len(feeds)
