"""The operator's two pages: RUNBOOK.md, what to do, and docs/operations.md, every case in detail.

A claim the runbook makes is on one of them: the short form on RUNBOOK.md, the whole case on
docs/operations.md, under the same section names. The tests that hold the pages to the code
read both through these helpers, and the tests that run a page's commands take each block
from the one page that holds it.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK = ROOT / "RUNBOOK.md"
OPERATIONS = ROOT / "docs" / "operations.md"
OPERATOR_PAGES = (RUNBOOK, OPERATIONS)


def operator_text() -> str:
    """RUNBOOK.md and docs/operations.md, one after the other."""
    return "\n\n".join(page.read_text(encoding="utf-8") for page in OPERATOR_PAGES)


def operator_flat() -> str:
    """Both pages with their line breaks and whitespace runs made one space."""
    return " ".join(operator_text().split())


def operator_section(title: str) -> str:
    """The section ``## title`` of each page that has it, up to its next ``## ``, joined."""
    found = []
    for page in OPERATOR_PAGES:
        text = page.read_text(encoding="utf-8")
        if f"\n## {title}\n" in text:
            found.append(text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0])
    assert found, f"no page has a section {title!r}"
    return "\n\n".join(found)


def marked_block(name: str) -> str:
    """What ``<!-- BEGIN name -->`` ... ``<!-- END name -->`` holds, on the one page holding it."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    held = [page for page in OPERATOR_PAGES if begin in page.read_text(encoding="utf-8")]
    assert len(held) == 1, f"{name}: on {[page.name for page in held]}, not on one page"
    return held[0].read_text(encoding="utf-8").split(begin, 1)[1].split(end, 1)[0]


def installed_script(name: str, bin_dir: Path, script: str) -> Path:
    """The ``sh`` block ``name`` holds, installed in ``bin_dir`` as ``script``, executable.

    Beside it a ``livesession`` that is this checkout's CLI under this Python, so that the
    script runs as written with ``bin_dir`` first on its ``PATH``.
    """
    import sys

    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / script
    path.write_text(marked_block(name).split("```sh\n", 1)[1].split("```", 1)[0], "utf-8")
    path.chmod(0o755)
    shim = bin_dir / "livesession"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m livesession.cli "$@"\n', "utf-8")
    shim.chmod(0o755)
    return path
