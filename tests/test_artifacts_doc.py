"""docs/artifacts.md says how livesession reads the contract where the code goes further.

An independent verifier reads our files by that page (and the contract it summarises).
"""

from __future__ import annotations

from pathlib import Path

from _scripted import ScriptedFeed, ScriptedStrategy

from _helpers import session

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "artifacts.md"


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    return text.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]


class TestStatusRule:
    def test_the_page_says_failed_is_sticky_beside_the_contracts_rule(self):
        """The contract's status rule, and the project's reading of it, side by side."""
        section = " ".join(_section("state_snapshots.jsonl").split())

        assert "Status follows the state: INIT before preflight;" in section
        assert "FAILED at ERROR_REQUIRES_OPERATOR or on a fail-closed sink failure." in section
        assert "livesession reads it with `FAILED` sticky" in section
        assert "`ERROR_REQUIRES_OPERATOR`/`FAILED` → `STOPPING`/`FAILED` → `STOPPED`/`FAILED`" in (
            section
        )

    def test_an_acknowledged_fault_stays_failed_as_the_page_says(self):
        """A strategy error acknowledged as the CLI does: FAILED in every snapshot after it."""

        class Raising(ScriptedStrategy):
            def on_bar(self, bar: object, view: object) -> object:
                if self.bars == 3:
                    raise RuntimeError("boom")
                return super().on_bar(bar, view)  # type: ignore[arg-type]

        orch, sinks = session(steps=20, strategy=Raising(lambda *_: ()), feed=ScriptedFeed(["1"]))
        orch.run_to_end(20, operator="cli")
        moves = [(s["fsm_state"], s["status"]) for s in sinks.snapshots()]

        fault = moves.index(("ERROR_REQUIRES_OPERATOR", "FAILED"))
        assert moves[fault:] == [
            ("ERROR_REQUIRES_OPERATOR", "FAILED"),
            ("STOPPING", "FAILED"),
            ("STOPPED", "FAILED"),
            ("STOPPED", "FAILED"),  # the final snapshot
        ]
