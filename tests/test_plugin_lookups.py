"""A plug-in whose attribute lookup raises something other than ``AttributeError``.

A desk's strategy that reads its settings as attributes (``def __getattr__(self, name):
return self.params[name]``) raises ``KeyError`` for a name it lacks, where Python's
``hasattr`` expects ``AttributeError``. Looking for the protocol's methods (``set_state``)
and for a ``close()`` is such a lookup. Bug: a factory returning one without ``set_state``
ended ``dryrun`` with a traceback and exit 1 (a feed of that kind too, looked up for
``first_ts_ns`` as the session was built, and a broker, for ``lookup``) (nothing on stdout under ``--json``), where
docs/plugins.md promises one line naming the reference, exit 2; and one with every method
but no ``close()`` completed and sealed its run, then the session's look for ``close``
raised out of the close: a traceback and exit 1 for a completed run.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from livesession import DryrunConfig, PluginError, create_run, load_config, verify_run
from livesession._cli_output import EXIT_BAD_INPUT
from livesession.cli import EXIT_OK

from crash_harness import cli

_PLUG = '''
from livesession import MockBroker

class ParamBacked:
    """Settings read as attributes: a missing one is a KeyError, not an AttributeError."""

    def __init__(self, strategy_id, **params):
        self.strategy_id = strategy_id
        self.params = params

    def __getattr__(self, name):
        return self.params[name]

    def on_bar(self, bar, view):
        return []


class Whole(ParamBacked):
    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def lacking(*, strategy_id, **params):
    return ParamBacked(strategy_id, **params)


def whole(*, strategy_id, **params):
    return Whole(strategy_id, **params)


class Feed:
    """A feed of one's own, its settings read as attributes too."""

    def __init__(self, *, symbol, **params):
        self.symbol = symbol
        self.params = params

    def __getattr__(self, name):
        return self.params[name]

    def next_bar(self, ts_ns):
        return None

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def feed(*, symbol, **params):
    return Feed(symbol=symbol, **params)


class Venue(MockBroker):
    """A simulated venue of one's own, its settings read as attributes."""

    simulated = True

    def __init__(self, **params):
        super().__init__(seed=1)
        self.params = params

    def __getattr__(self, name):
        return self.params[name]


def venue(**params):
    return Venue(**params)
'''


def _raising(tmp_path: Path, factory: str, nth: int) -> str:
    """`` (at .../strat.py:LINE in __getattr__)``: the ``nth`` (from 0) of _PLUG's look-ups.

    Each refusal names the line of the plug-in's own code that raised: nothing of the run is
    written yet, its traceback in no log.
    """
    lines = textwrap.dedent(_PLUG).splitlines()
    numbers = [n for n, line in enumerate(lines, 1) if "return self.params[name]" in line]
    return f" (at {tmp_path / f'desk_{factory}' / 'strat.py'}:{numbers[nth]} in __getattr__)"


def _config(tmp_path: Path, factory: str) -> Path:
    """A config of the package ``desk_<factory>`` (a name of its own: a process imports once)."""
    package = tmp_path / f"desk_{factory}"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "strat.py").write_text(textwrap.dedent(_PLUG), encoding="utf-8")
    config = tmp_path / "desk.toml"
    config.write_text(
        f'run_id = "pb"\nsteps = 20\nstrategy_factory = "desk_{factory}.strat:{factory}"\n'
        "[strategy_params]\nlookback = 3\n",
        encoding="utf-8",
    )
    return config


def test_a_factory_s_product_whose_lookup_raises_is_refused_in_one_line(tmp_path: Path) -> None:
    config = _config(tmp_path, "lacking")
    said = (
        "strategy_factory 'desk_lacking.strat:lacking' returned a ParamBacked, not a Strategy: "
        f"looking up its get_state raised KeyError: 'get_state'{_raising(tmp_path, 'lacking', 0)}"
        " (a __getattr__ or a property must raise AttributeError for a name it lacks)"
    )
    with pytest.raises(PluginError) as refused:
        create_run(load_config(config), tmp_path / "runs")
    assert str(refused.value) == said
    assert not (tmp_path / "runs").exists()
    done = cli("dryrun", "-c", config, "--out", tmp_path / "runs", "--json")
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    assert done.stderr == f"livesession: error: {said}\n"
    assert json.loads(done.stdout)["error"] == said
    assert not (tmp_path / "runs").exists()


# Python 3.12 and later look a runtime protocol's methods up statically (``isinstance`` with
# ``inspect.getattr_static``): the plug-in's ``__getattr__`` never runs for ``close``, so
# nothing raises and nothing is said; 3.11 asks ``hasattr``, which runs it.
_CLOSE_LOOKUP_SAID = (
    "looking up the strategy's close() raised KeyError: 'close'"
    if sys.version_info < (3, 12)
    else ""
)


def test_a_close_lookup_that_raises_leaves_the_run_as_it_ended(tmp_path: Path) -> None:
    config = _config(tmp_path, "whole")
    with create_run(load_config(config), tmp_path / "runs") as session:
        result = session.run_to_end(20)
    assert result.status.value == "COMPLETED", result
    assert session.inspect().plugin_close_failed == _CLOSE_LOOKUP_SAID
    assert verify_run(tmp_path / "runs" / "pb").ok
    done = cli("dryrun", "-c", config, "--out", tmp_path / "cli", "-q")
    assert done.returncode == EXIT_OK, done.stderr
    assert "Traceback" not in done.stderr
    if _CLOSE_LOOKUP_SAID:
        assert _CLOSE_LOOKUP_SAID in done.stderr
    else:
        assert "close()" not in done.stderr
    assert verify_run(tmp_path / "cli" / "pb").ok


def test_a_feed_whose_optional_lookup_raises_is_refused_in_one_line(tmp_path: Path) -> None:
    config = _config(tmp_path, "feed")
    text = config.read_text(encoding="utf-8").replace("strategy_factory", "feed")
    config.write_text(text.replace("[strategy_params]", "[feed_params]"), encoding="utf-8")
    done = cli("dryrun", "-c", config, "--out", tmp_path / "runs", "--json")
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    said = (
        "feed 'desk_feed.strat:feed' returned a Feed: looking up its checked raised KeyError: "
        f"'checked'{_raising(tmp_path, 'feed', 1)} (a __getattr__ or a property must raise "
        "AttributeError for a name it lacks)"
    )
    assert done.stderr == f"livesession: error: {said}\n"
    assert json.loads(done.stdout)["error"] == said
    assert not (tmp_path / "runs").exists()


def test_a_broker_whose_optional_lookup_raises_is_refused_in_one_line(tmp_path: Path) -> None:
    config = _config(tmp_path, "venue")
    text = config.read_text(encoding="utf-8").replace("strategy_factory", "broker")
    config.write_text(text.replace("[strategy_params]", "[broker_params]"), encoding="utf-8")
    done = cli("dryrun", "-c", config, "--out", tmp_path / "runs", "--json")
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    said = (
        "broker 'desk_venue.strat:venue' returned a Venue: looking up its count_positions_from "
        f"raised KeyError: 'count_positions_from'{_raising(tmp_path, 'venue', 2)} (a "
        "__getattr__ or a property must raise AttributeError for a name it lacks)"
    )
    assert done.stderr == f"livesession: error: {said}\n"
    assert json.loads(done.stdout)["error"] == said
    assert not (tmp_path / "runs").exists()


class _ParamFeed:
    """The feed above, handed in as an object."""

    def __init__(self, **params: object) -> None:
        self.symbol = "BTC/USDT"
        self.params = params

    def __getattr__(self, name: str) -> object:
        return self.params[name]

    def next_bar(self, ts_ns: int) -> None:
        return None

    def get_state(self) -> dict[str, object]:
        return {}

    def set_state(self, state: object) -> None:
        pass


def test_an_object_whose_lookup_raises_is_refused_by_create_run(tmp_path: Path) -> None:
    """From Python the ``KeyError`` came out of ``create_run`` itself (nothing written)."""
    config = DryrunConfig(run_id="obj", steps=5)
    with pytest.raises(PluginError) as refused:
        create_run(config, tmp_path / "runs", feed=_ParamFeed(seed=1))
    assert str(refused.value) == (
        "feed= got a _ParamFeed: looking up its checked raised KeyError: 'checked' (at "
        f"{__file__}:{_ParamFeed.__getattr__.__code__.co_firstlineno + 1} in __getattr__) (a "
        "__getattr__ or a property must raise AttributeError for a name it lacks)"
    )
    assert not (tmp_path / "runs" / "obj").exists()
