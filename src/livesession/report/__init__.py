"""A one-file HTML report of a run, for a person reviewing it.

``render_report`` reads a run directory and returns one self-contained HTML document:
inline CSS, inline SVG charts drawn here, no scripts, no external URLs, so it can be
mailed, archived or opened offline. Every piece of text from the run is escaped.

The report shows the run's identity (config hash, seed, broker, strategy and data with
their SHA-256), its limits, preflight checks and the rails that fired; what its own
integrity checks found (or, asked for or handed in, the verifier's verdict) and key
metrics; PnL from the book replayed at every bar (equity marked to market, drawdown,
realised and unrealised); the price with orders, fills and rail blocks marked;
the trades; kills, halts, resumes, operator actions and faults as flags on every time
chart; and the state timeline, all on absolute UTC axes. Long runs are thinned to two points per
pixel column, and no mark is dropped. It reads the run once, thinning the lines as it
goes, so time and memory stay in proportion to the run; it checks the audit chain, the
digests it closes with and ``seq`` on the way, and runs the full verifier only when asked
(``verify=True``, ``livesession report --verify``). It reads the artifacts leniently, so it
also renders runs that are incomplete or broken (the verdict then lists what is wrong); a
run that is not sealed is shown as its events leave it, never with a "final" value.
The same run directory always gives the same bytes. See ``docs/report.md``.

Modules: ``_reading`` (the run as the report reads it), ``_scan`` (the one pass that
reads it), ``_integrity`` (the checks made on the way), ``_book`` (the replayed book:
PnL, drawdown, trades), ``_why`` (why each fill happened: its order's reason and
terms), ``_series`` (what the charts draw), ``_svg`` (the charts), ``_alt`` (each chart said
in words, for a screen reader and paper),
``_sections`` (identity, limits, PnL, trades, events), ``_fired`` (the tables of the
rails that fired and, apart, the session's own order checks), ``_refused`` (the header's lines
for the orders the rails refused and why a run resumed), ``_html`` (the document),
``_style`` (its stylesheet);
``lifecycle_diagram`` generates the Mermaid lifecycle diagram of ``docs/lifecycle.md``.
"""

from __future__ import annotations

from ._html import render_report, write_report

__all__ = ["render_report", "write_report"]
