"""The venue a run traded on, and the faults it injected, as the evidence bundle states them.

A fault drill on the ``realish`` broker (a share of submits failing, timing out, fills
reported late) left a bundle that named neither the broker nor a fault rate: ``EV-*.md``
read as a clean run's, and a drill of late fills, which leave no event of their own, said
``broker_fault | no | not exercised in this session``. The manifest records the venue
(``venue``: ``broker``, its ``fill_model`` and, on ``realish``, its ``realish`` faults, as
``config.json`` records them under the audited config hash) and the document says each
knob in words below the limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._support.text import md_code, md_text

if TYPE_CHECKING:
    from .._domain.config import DryrunConfig

__all__ = ["run_venue", "venue_lines"]

_SIMULATED = ("mock", "realish")


def run_venue(cfg: DryrunConfig) -> dict[str, Any]:
    """The venue of ``cfg``: its broker and the tables that shape it, as recorded."""
    recorded = cfg.to_dict()
    venue: dict[str, Any] = {"broker": cfg.broker}
    if cfg.broker in _SIMULATED:
        venue["fill_model"] = recorded["fill_model"]
    if cfg.broker == "realish":
        venue["realish"] = recorded["realish"]
    return venue


def _fill_rows(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        ("reject_rate", f"{md_text(f['reject_rate'])} of orders", "rejected by the venue"),
        (
            "partial_fill_ratio",
            f"{md_text(f['partial_fill_ratio'])} of orders",
            "filled in two parts",
        ),
        ("slippage_bps", f"{md_text(f['slippage_bps'])} bps", "a market order's slip"),
        ("latency_ms", f"{md_text(f['latency_ms'])} ms", "before the venue's reports arrive"),
    ]


def _fault_rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (
            "transient_rate",
            f"{md_text(r['transient_rate'])} of submits",
            "fail before reaching the venue, resent (BROKER_CALL_RETRIED)",
        ),
        (
            "timeout_rate",
            f"{md_text(r['timeout_rate'])} of submits",
            "time out after reaching the venue, looked up (ORDER_OUTCOME_UNKNOWN)",
        ),
        (
            "duplicate_ack_rate",
            f"{md_text(r['duplicate_ack_rate'])} of orders",
            "acknowledged twice (DUPLICATE_REPORT)",
        ),
        (
            "late_fill_rate",
            f"{md_text(r['late_fill_rate'])} of orders",
            (
                f"fills reported {md_text(r['late_fill_ms'])} ms late (no event of their own: "
                "their ORDER_FILLED comes that much later)"
            ),
        ),
        ("latency_ms", f"{md_text(r['latency_ms'])} ms", "the network's, on every report"),
    ]


def venue_lines(venue: object) -> list[str]:
    """The venue as a section of ``EV-*.md`` (a manifest without it: no lines)."""
    if not isinstance(venue, dict):
        return []
    broker = venue["broker"]
    lines = ["", "## The venue", ""]
    if "fill_model" not in venue:
        return [*lines, f"Broker {md_code(broker)}: livesession injects no fault into it."]
    injected = "realish" in venue
    lines += [
        (
            f"Broker {md_code(broker)}, a simulated venue"
            + (" behind a network that injects seeded faults" if injected else "")
            + " (`config.json`'s `broker`"
            + (", `fill_model` and `realish`" if injected else " and `fill_model`")
            + ", under the audited config hash):"
        ),
        "",
        "| knob | set to | what it does |",
        "| --- | --- | --- |",
    ]
    rows = [(f"fill_model.{k}", s, w) for k, s, w in _fill_rows(venue["fill_model"])]
    if injected:
        rows += [(f"realish.{k}", s, w) for k, s, w in _fault_rows(venue["realish"])]
    return lines + [f"| {md_code(k)} | {said} | {what} |" for k, said, what in rows]
