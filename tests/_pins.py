"""Pinned artifact digests: the comparison, and how to re-pin on purpose.

A failing pin prints one line ``NEW-PIN <run_id> <json>`` with the digests the run has
now. After a deliberate change of what runs record, re-pin in a commit of its own that
says why (and bump the minor version once per release)::

    python -m pytest tests/test_pinned_bytes.py tests/test_pinned_paths.py -q \\
        | python tests/repin.py

``repin.py`` rewrites the ``PINNED`` tables of both files from those lines.
"""

from __future__ import annotations

import json


def assert_pinned(pinned: dict[str, dict[str, str]], run_id: str, got: dict[str, str]) -> None:
    """``got`` must equal the pin of ``run_id``; else say what the new pin would be."""
    if got != pinned.get(run_id):
        print(f"NEW-PIN {run_id} {json.dumps(got, sort_keys=True)}")  # noqa: T201 - for repin.py
    assert got == pinned.get(run_id), f"pinned bytes of {run_id} changed (see NEW-PIN)"
