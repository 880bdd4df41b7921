"""The report's one stylesheet, inline in its ``<style>``: nothing fetched, no script."""

from __future__ import annotations

from typing import Final

__all__ = ["CSS"]

CSS: Final = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  margin: 0 auto; max-width: 1160px; padding: 24px; color: #111827; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.sub { color: #4b5563; margin: 0; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600;
  border: 1px solid; }
.ok { color: #15803d; } .bad { color: #b91c1c; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid #f3f4f6;
  vertical-align: top; }
th { font-weight: 600; color: #374151; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font: 11px system-ui, sans-serif; fill: #374151; }
svg text.strong { font-weight: 600; fill: #111827; }
.legend { color: #4b5563; font-size: 12px; margin: 2px 0 0; }
.legend span { margin-right: 16px; }
.empty { color: #6b7280; font-style: italic; }
ul.violations { font-family: ui-monospace, monospace; font-size: 12px; padding-left: 18px; }
caption { text-align: left; color: #4b5563; font-size: 12px; padding: 2px 0; }
svg path.side { fill: none; stroke: #fff; stroke-width: 1.5; pointer-events: none; }
svg text.flag { font-size: 10px; }
footer { margin-top: 32px; color: #6b7280; font-size: 12px; }
td { overflow-wrap: anywhere; }
td.num { overflow-wrap: normal; white-space: nowrap; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  h2 { break-after: avoid; }
  h3, caption { break-after: avoid; }
  thead { display: table-header-group; }
  svg, tr, .legend { break-inside: avoid; }
  .badge, .ok, .bad { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"""
