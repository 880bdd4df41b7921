"""A reference's import leaves the process's ``sys.path`` alone: the host's threads import on.

A session that imported its plug-in by reference swapped ``sys.path`` for the import (the
config's directory in front, the current directory out): another thread of the embedding
application importing a module of its own from the current directory meanwhile failed
(``ModuleNotFoundError``), and an entry it added to ``sys.path`` was undone when the swap
was. Found with a host script running a session on a thread while its main thread
imported.
"""

from __future__ import annotations

import sys
import threading
import types
from typing import TYPE_CHECKING, Any

from livesession import DryrunConfig, create_run
from livesession.verify import verify_run

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

PLUGIN = """\
import embed_gate

embed_gate.importing.set()
embed_gate.proceed.wait(60)  # the host's main thread imports meanwhile


class Quiet:
    strategy_id = "strat"

    def on_bar(self, bar, view):
        return []

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def make(**params):
    return Quiet()
"""


def test_a_reference_import_on_a_thread_leaves_sys_path_to_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = tmp_path / "plugins"
    (plugins / "slowplug").mkdir(parents=True)
    (plugins / "slowplug" / "__init__.py").write_text("")
    (plugins / "slowplug" / "strat.py").write_text(PLUGIN)
    host = tmp_path / "host"
    host.mkdir()
    (host / "hostmod_embed.py").write_text("ANSWER = 42\n")
    extra = tmp_path / "extra"
    monkeypatch.chdir(host)
    monkeypatch.syspath_prepend("")  # a REPL's or a notebook's: the current directory
    gate: Any = types.ModuleType("embed_gate")
    gate.importing, gate.proceed = threading.Event(), threading.Event()
    monkeypatch.setitem(sys.modules, "embed_gate", gate)
    for name in ("slowplug", "slowplug.strat", "hostmod_embed"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    config = DryrunConfig.from_mapping(
        {
            "run_id": "plug",
            "steps": 5,
            "strategy_factory": "slowplug.strat:make",
            "base_dir": str(plugins),
        }
    )
    outcome: dict[str, Any] = {}

    def session() -> None:
        try:
            with create_run(config, tmp_path / "runs") as run:
                outcome["status"] = run.run_to_end(5).status.value
        except BaseException as exc:  # reported by the main thread
            outcome["error"] = exc
        finally:
            gate.importing.set()

    before = list(sys.path)
    worker = threading.Thread(target=session)
    worker.start()
    try:
        assert gate.importing.wait(60)
        assert "error" not in outcome, outcome
        seen = list(sys.path)  # the plugin is importing on the worker now
        sys.path.append(str(extra))
        import hostmod_embed  # from the current directory, as a host would

        assert hostmod_embed.ANSWER == 42
    finally:
        gate.proceed.set()
        worker.join()
        kept = str(extra) in sys.path  # the host's entry, added while the plugin imported
        if kept:
            sys.path.remove(str(extra))
    assert seen == before
    assert kept
    assert outcome == {"status": "COMPLETED"}
    assert sys.modules["slowplug.strat"].__file__ == str(plugins / "slowplug" / "strat.py")
    assert verify_run(tmp_path / "runs" / "plug").ok
