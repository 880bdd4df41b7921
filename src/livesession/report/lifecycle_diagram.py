"""The lifecycle as a Mermaid ``stateDiagram-v2``, generated from ``TRANSITIONS``.

``docs/lifecycle.md`` embeds the diagram between two markers; a test fails when the two
drift apart. Regenerate the block with
``python -m livesession.report.lifecycle_diagram docs/lifecycle.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

from .._domain.lifecycle import INITIAL_STATE, STATUS_BY_STATE, TERMINAL_STATES, TRANSITIONS
from ._svg import STATUS_COLOURS

__all__ = ["BEGIN_MARKER", "END_MARKER", "lifecycle_mermaid", "main", "update_markdown"]

BEGIN_MARKER: Final = "<!-- BEGIN GENERATED MERMAID -->"
END_MARKER: Final = "<!-- END GENERATED MERMAID -->"


def lifecycle_mermaid() -> str:
    """The diagram's source, ending in a newline; the same table gives the same text.

    Transitions appear in table order, terminal states and status classes in name order.
    """
    lines = ["stateDiagram-v2", f"    [*] --> {INITIAL_STATE.value}"]
    lines += [
        f"    {source.value} --> {destination.value}: {trigger.value}"
        for trigger, source, destination in TRANSITIONS
    ]
    lines += [
        f"    {state.value} --> [*]" for state in sorted(TERMINAL_STATES, key=lambda s: s.value)
    ]
    by_status: dict[str, list[str]] = {}
    for state, status in STATUS_BY_STATE.items():
        by_status.setdefault(status.value, []).append(state.value)
    # Coloured by status, as the report shows them: what an operator would see in each state.
    for name in sorted(by_status):
        fill, stroke = STATUS_COLOURS[name]
        lines.append(f"    classDef {name.lower()} fill:{fill},stroke:{stroke}")
    lines += [
        f"    class {','.join(sorted(states))} {name.lower()}"
        for name, states in sorted(by_status.items())
    ]
    return "\n".join(lines) + "\n"


def update_markdown(text: str) -> str:
    """``text`` with the block between the markers replaced by the fenced diagram.

    Raises:
        ValueError: the markers are missing, repeated or out of order.
    """
    if text.count(BEGIN_MARKER) != 1 or text.count(END_MARKER) != 1:
        raise ValueError(f"expected exactly one {BEGIN_MARKER} and one {END_MARKER}")
    head, rest = text.split(BEGIN_MARKER)
    if END_MARKER not in rest:
        raise ValueError(f"{END_MARKER} comes before {BEGIN_MARKER}")
    tail = rest.split(END_MARKER)[1]
    block = f"\n```mermaid\n{lifecycle_mermaid()}```\n"
    return f"{head}{BEGIN_MARKER}{block}{END_MARKER}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Rewrite the generated block of each Markdown file named in ``argv``; 0 on success."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        sys.stderr.write(
            "usage: python -m livesession.report.lifecycle_diagram FILE.md [FILE.md ...]\n"
        )
        return 2
    for name in paths:
        path = Path(name)
        path.write_text(update_markdown(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
