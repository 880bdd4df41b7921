"""The EV document's "Protective exits": what the run's stops and take profits did.

Said only for a run that placed an exit (or had one refused, or lost one): the manifest of
a run without exits has no ``exits`` and its document no section. The figures are the
manifest's ``exits`` (``_rundir.exits.ExitTally``, which reads the fills as the report's
Trades rows do), said so that a reviewer need not open the report: how many stops fired
and how many the bar gapped through (the worst by how much), how many take profits
filled, how many pairs ended unfilled, and whether a held position was ever left without
its exits (``PROTECTION_LOST``).
"""

from __future__ import annotations

from typing import Any

from .._support.text import md_code, md_text

__all__ = ["exit_lines"]


def exit_lines(exits: dict[str, Any] | None) -> list[str]:
    """The section's lines (a blank line first), or none for a run without exits."""
    if not exits:
        return []
    e = {key: md_text(value) for key, value in exits.items() if key != "protection_lost"}
    stops = f"- Stops filled: {e['stops_filled']}"
    if exits["stops_gapped_through"]:
        stops += (
            f"; {e['stops_gapped_through']} gapped through (filled worse than the stop; the "
            f"worst {e['worst_gap_through']} past it, event seq {e['worst_gap_through_seq']})."
        )
    else:
        none = "; none gapped through (each filled at its stop)."
        stops += none if exits["stops_filled"] else "."
    lines = [
        "",
        "## Protective exits",
        "",
        (
            f"- Exit pairs placed: {e['pairs_placed']} ({e['stops_placed']} stop loss, "
            f"{e['take_profits_placed']} take profit leg(s))."
        ),
        stops,
        (
            f"- Take profits filled: {e['take_profits_filled']} "
            f"({e['take_profits_filled_better']} better than their limit)."
        ),
        (
            f"- Pairs that ended with neither leg filled (cancelled or refused): "
            f"{e['pairs_ended_unfilled']}; "
            f"still open at the end: {e['pairs_open_at_end']}."
        ),
        (
            f"- Legs refused by the venue: {e['legs_refused_by_venue']}; legs not sent (a "
            f"rail refused them): {e['legs_not_sent']}."
        ),
    ]
    lost = exits["protection_lost"]
    if not lost:
        lines.append(
            "- No held position was left without its exits: the kill switch never fired "
            f"{md_code('PROTECTION_LOST')}."
        )
        return lines
    lines.append(
        f"- **A held position was left without its exits {len(lost)} time(s)**: the kill "
        f'switch fired {md_code("PROTECTION_LOST")} (trading HALTED; see "Kill switch") at '
        + ", ".join(f"{md_text(k.get('at'))} (event seq {md_text(k.get('seq'))})" for k in lost)
        + "."
    )
    return lines
