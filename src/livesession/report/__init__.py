"""A one-file HTML report of a run, for a person reviewing it.

``render_report`` reads a run directory and returns one self-contained HTML document:
inline CSS, inline SVG charts drawn here, no scripts, no external URLs, so it can be
mailed, archived or opened offline. Every piece of text from the run is escaped.

The report shows the run id, strategy and status; the verifier's verdict; key metrics; a
state timeline; the price with order submits and fills marked; position and equity over
simulated time; and rejects by reason. It reads the artifacts leniently, so it also
renders runs that are incomplete or broken (the verdict then lists what is wrong).
The same run directory always gives the same bytes.

Modules: ``_reading`` (the run as the report reads it), ``_series`` (what the charts
draw), ``_svg`` (the charts), ``_html`` (the document); ``lifecycle_diagram`` generates
the Mermaid lifecycle diagram of ``docs/lifecycle.md``.
"""

from __future__ import annotations

from ._html import render_report, write_report

__all__ = ["render_report", "write_report"]
