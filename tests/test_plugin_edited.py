"""A plug-in module edited after this process imported it is refused, not misrecorded.

A module is imported once per process. An application that runs sessions for days (a
desk's scheduler) while the strategy's file is edited ran the code the module held when
first imported, yet ``config.json`` recorded the SHA-256 of the file as edited: the run
named code it did not run, and its evidence's re-run (a fresh process, the new code) did
not match it for a reason the run could not show. Found with a host script running two
sessions in one process, the strategy's file edited between them.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
import types
from typing import TYPE_CHECKING

import pytest

from livesession import DryrunConfig, PluginError, create_run
from livesession._support.reloaded import stale
from livesession.verify import verify_run

if TYPE_CHECKING:
    from pathlib import Path

STRATEGY = """\
VERSION = {version}


class Counting:
    strategy_id = "strat"

    def __init__(self):
        self.bars = 0

    def on_bar(self, bar, view):
        self.bars += 1
        return []

    def get_state(self):
        return {{"bars": self.bars, "version": VERSION}}

    def set_state(self, state):
        self.bars = state["bars"]


def make(**params):
    return Counting()
"""


def _run(plugins: Path, out: Path, run_id: str) -> Path:
    config = DryrunConfig.from_mapping(
        {
            "run_id": run_id,
            "steps": 5,
            "strategy_factory": "editedplug.strat:make",
            "base_dir": str(plugins),
        }
    )
    with create_run(config, out) as session:
        assert session.run_to_end(5).status.value == "COMPLETED"
    assert verify_run(out / run_id).ok
    return out / run_id


def _recorded(run_dir: Path) -> str:
    config = json.loads((run_dir / "config.json").read_text())
    return str(config["sources"]["strategy"]["sha256"])


def test_a_strategy_file_edited_since_its_import_is_refused_until_reloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins, out = tmp_path / "plugins", tmp_path / "runs"
    source = plugins / "editedplug" / "strat.py"
    source.parent.mkdir(parents=True)
    (plugins / "editedplug" / "__init__.py").write_text("")
    source.write_text(STRATEGY.format(version=1))
    for name in ("editedplug", "editedplug.strat"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    try:
        first = _run(plugins, out, "first")
        assert _recorded(first) == hashlib.sha256(source.read_bytes()).hexdigest()

        source.write_text(STRATEGY.format(version=22))  # edited as the process runs on (a new size)
        with pytest.raises(PluginError, match="changed since this process imported"):
            _run(plugins, out, "second")
        assert not (out / "second").exists()  # refused before anything was written

        importlib.reload(sys.modules["editedplug.strat"])  # the code as the file holds it
        third = _run(plugins, out, "third")
        assert _recorded(third) == hashlib.sha256(source.read_bytes()).hexdigest()
        assert sys.modules["editedplug.strat"].VERSION == 22
    finally:
        for name in ("editedplug", "editedplug.strat"):
            sys.modules.pop(name, None)


def test_a_strategy_object_whose_class_file_was_edited_since_its_import_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for an object handed in: ``config.json`` records its class's file's hash."""
    source = tmp_path / "code" / "editedobj.py"
    source.parent.mkdir()
    source.write_text(STRATEGY.format(version=1))
    monkeypatch.syspath_prepend(str(source.parent))
    monkeypatch.delitem(sys.modules, "editedobj", raising=False)
    out = tmp_path / "runs"

    def run(run_id: str) -> Path:
        module = importlib.import_module("editedobj")
        with create_run(
            DryrunConfig(run_id=run_id, steps=5, strategy_id="strat"), out, strategy=module.make()
        ) as s:
            assert s.run_to_end(5).status.value == "COMPLETED"
        assert verify_run(out / run_id).ok
        return out / run_id

    try:
        assert _recorded(run("first")) == hashlib.sha256(source.read_bytes()).hexdigest()
        source.write_text(STRATEGY.format(version=22))
        with pytest.raises(PluginError, match="changed since this process imported editedobj"):
            run("second")
        assert not (out / "second").exists()
        importlib.reload(sys.modules["editedobj"])
        assert _recorded(run("third")) == hashlib.sha256(source.read_bytes()).hexdigest()
    finally:
        sys.modules.pop("editedobj", None)


def test_a_strategy_object_made_before_its_module_was_reloaded_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook's habit: edit the file, ``importlib.reload`` it, pass the object made before.

    That object keeps its old class, and so the old code: the run ran it and recorded the
    SHA-256 of the file as edited, since the reload had made the module's record new.
    """
    source = tmp_path / "code" / "reloadedobj.py"
    source.parent.mkdir()
    source.write_text(STRATEGY.format(version=1))
    monkeypatch.syspath_prepend(str(source.parent))
    monkeypatch.delitem(sys.modules, "reloadedobj", raising=False)
    # no .pyc: a reload within the second of an edit that keeps the file's size takes the
    # cached code (Python checks a .pyc by its source's mtime in seconds and its size)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    out = tmp_path / "runs"

    def run(run_id: str, strategy: object) -> Path:
        config = DryrunConfig(run_id=run_id, steps=5, strategy_id="strat")
        with create_run(config, out, strategy=strategy) as s:
            assert s.run_to_end(5).status.value == "COMPLETED"
        assert verify_run(out / run_id).ok
        return out / run_id

    try:
        module = importlib.import_module("reloadedobj")
        made_before = module.make()
        run("first", module.make())
        importlib.reload(module)  # the file unchanged: the object's code is the module's
        run("unchanged", made_before)
        source.write_text(STRATEGY.format(version=22))  # a global only: the code is the same
        importlib.reload(module)
        run("same-code", made_before)
        source.write_text(STRATEGY.format(version=1).replace("bars += 1", "bars += 333"))
        importlib.reload(module)  # a method's code changed: the object's is the old one
        with pytest.raises(PluginError, match=r"from before reloadedobj was reloaded") as raised:
            run("second", made_before)
        assert "make it again from the reloaded module (reloadedobj.Counting)" in str(raised.value)
        assert not (out / "second").exists()  # refused before anything was written
        third = run("third", module.make())
        assert _recorded(third) == hashlib.sha256(source.read_bytes()).hexdigest()
    finally:
        sys.modules.pop("reloadedobj", None)


def test_a_class_typed_again_in_a_script_s_shell_leaves_the_first_one_usable() -> None:
    """``__main__`` is never reloaded: a class redefined at ``python -i``'s prompt is the
    user's new one, and an object of the first (the script's own code) stays usable."""
    main = types.ModuleType("__main__")
    first: dict[str, object] = {"__name__": "__main__"}
    exec("class Desk:\n    def on_bar(self):\n        return 1\n", first)  # noqa: S102
    exec("class Desk:\n    def on_bar(self):\n        return 2\n", vars(main))  # noqa: S102
    assert not stale(first["Desk"], main)
    elsewhere = types.ModuleType("desk")
    exec("class Desk:\n    def on_bar(self):\n        return 2\n", vars(elsewhere))  # noqa: S102
    assert stale(first["Desk"], elsewhere)  # the same class in a reloaded module is stale


def test_a_singleton_bound_to_its_class_s_name_is_not_taken_for_a_reload() -> None:
    """A module that binds its one instance to its class's name (``Desk = Desk()``) holds
    no code there: its object was refused as made before a reload it never had."""
    module = types.ModuleType("singletondesk")
    exec(  # noqa: S102
        "class Desk:\n    def on_bar(self):\n        return 1\n\nDesk = Desk()\n", vars(module)
    )
    assert not stale(type(module.Desk), module)
    other = types.ModuleType("singletondesk")  # a name bound to other code is still stale
    exec("class Desk:\n    def on_bar(self):\n        return 2\n", vars(other))  # noqa: S102
    assert stale(type(module.Desk), other)
