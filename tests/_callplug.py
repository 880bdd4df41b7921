"""A strategy package written for a CLI test: the demo's SMA, with code of the test's at
some of its ``on_bar`` calls (a strategy that closes stdout, installs a handler...)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_STRATEGY = """
import os
import signal
import sys
from decimal import Decimal

from livesession import SmaCrossover


class AtCalls(SmaCrossover):
    calls = 0

    def on_bar(self, bar, view):
        self.calls += 1
{calls}
        return super().on_bar(bar, view)


def make(*, strategy_id):
    return AtCalls(strategy_id=strategy_id, order_qty=Decimal("0.010"))
"""


def strategy_at_calls(home: Path, package: str, at: dict[int, str], *, steps: int) -> Path:
    """Write ``package`` in ``home`` running ``at[n]`` at its ``n``-th ``on_bar``, and a
    ``desk.toml`` naming it (``steps`` steps); the config file's path."""
    calls = "\n".join(
        f"        if self.calls == {n}:\n{textwrap.indent(code, ' ' * 12)}"
        for n, code in sorted(at.items())
    )
    (home / package).mkdir()
    (home / package / "__init__.py").write_text("")
    (home / package / "parts.py").write_text(_STRATEGY.replace("{calls}", calls))
    config = home / "desk.toml"
    config.write_text(f'steps = {steps}\nstrategy_factory = "{package}.parts:make"\n')
    return config
