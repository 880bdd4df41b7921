"""Tests for ``livesession.report.lifecycle_diagram`` and the diagram embedded in docs/lifecycle.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from livesession._domain.lifecycle import (
    TERMINAL_STATES,
    TRANSITIONS,
    SessionState,
    SessionStatus,
)
from livesession.report.lifecycle_diagram import (
    BEGIN_MARKER,
    END_MARKER,
    lifecycle_mermaid,
    main,
    update_markdown,
)

LIFECYCLE_DOC = Path(__file__).parents[1] / "docs" / "lifecycle.md"
EDGE = re.compile(r"^    (\w+) --> (\w+): (\w+)$")


class TestLifecycleMermaid:
    """The diagram is generated from the transition table, deterministically."""

    def test_header(self):
        """The source is a stateDiagram-v2 starting at INIT."""
        lines = lifecycle_mermaid().splitlines()

        assert lines[:2] == ["stateDiagram-v2", "    [*] --> INIT"]

    def test_edges_are_the_table(self):
        """Rebuilding (trigger, source, destination) from the edges gives TRANSITIONS, in order."""
        edges = [m.groups() for m in map(EDGE.match, lifecycle_mermaid().splitlines()) if m]

        assert [(t, s, d) for s, d, t in edges] == [
            (t.value, s.value, d.value) for t, s, d in TRANSITIONS
        ]

    def test_terminal_states(self):
        """Each terminal state, and only those, leads to the end marker."""
        ends = {
            line.split()[0] for line in lifecycle_mermaid().splitlines() if line.endswith("--> [*]")
        }

        assert ends == {state.value for state in TERMINAL_STATES}

    def test_every_state_has_a_status_class(self):
        """Every state is coloured by the status an operator sees in it."""
        classed = {
            state
            for line in lifecycle_mermaid().splitlines()
            if line.startswith("    class ")
            for state in line.split()[1].split(",")
        }

        assert classed == {state.value for state in SessionState}

    def test_status_colours_are_the_report_s(self):
        """Each status's class has the colours the HTML report gives that status: one table."""
        from livesession.report._svg import STATUS_COLOURS

        styles = dict(
            line.split()[1:3]
            for line in lifecycle_mermaid().splitlines()
            if line.startswith("    classDef ")
        )

        assert styles == {
            status.value.lower(): "fill:{},stroke:{}".format(*STATUS_COLOURS[status.value])
            for status in SessionStatus
        }

    def test_deterministic(self):
        """Two calls give the same text, ending in one newline."""
        text = lifecycle_mermaid()

        assert text == lifecycle_mermaid()
        assert text.endswith("\n")
        assert not text.endswith("\n\n")


class TestDocs:
    """docs/lifecycle.md embeds exactly the generated diagram."""

    def test_doc_block_matches_generator(self):
        """The block between the markers is the generator's output (regenerate on drift)."""
        text = LIFECYCLE_DOC.read_text(encoding="utf-8")
        block = text.split(BEGIN_MARKER)[1].split(END_MARKER)[0]

        assert block == f"\n```mermaid\n{lifecycle_mermaid()}```\n", (
            "docs/lifecycle.md is out of date: run `python -m livesession.report.lifecycle_diagram docs/lifecycle.md`"
        )

    def test_update_is_idempotent(self):
        """Updating an up-to-date document changes nothing."""
        text = LIFECYCLE_DOC.read_text(encoding="utf-8")

        assert update_markdown(text) == text

    def test_update_replaces_stale_block(self):
        """A stale block is replaced and the text around it is kept."""
        stale = f"before\n{BEGIN_MARKER}\nold\n{END_MARKER}\nafter\n"

        updated = update_markdown(stale)

        assert updated.startswith(f"before\n{BEGIN_MARKER}\n```mermaid\nstateDiagram-v2\n")
        assert updated.endswith(f"```\n{END_MARKER}\nafter\n")

    @pytest.mark.parametrize(
        "text",
        ["no markers", f"{BEGIN_MARKER}{BEGIN_MARKER}{END_MARKER}", f"{END_MARKER}x{BEGIN_MARKER}"],
    )
    def test_bad_markers(self, text):
        """Missing, repeated or reversed markers are refused."""
        with pytest.raises(ValueError, match="MERMAID"):
            update_markdown(text)

    def test_main_rewrites_files(self, tmp_path):
        """The command-line entry point rewrites the named file in place."""
        doc = tmp_path / "doc.md"
        doc.write_text(f"{BEGIN_MARKER}{END_MARKER}\n", encoding="utf-8")

        assert main([str(doc)]) == 0
        assert lifecycle_mermaid() in doc.read_text(encoding="utf-8")

    def test_main_without_arguments(self, capsys):
        """Without a file the entry point prints its usage and returns 2."""
        assert main([]) == 2
        assert "usage" in capsys.readouterr().err
