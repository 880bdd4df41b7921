"""The evidence's human-readable document, ``EV-<date>-<run_id>.md``, from its manifest.

Every piece of text the run's files gave the manifest (a plug-in's exception message, an
operator's words, a file's name, a field a forged run holds) goes in as ``md_text`` or
``md_code`` has it: one printable line that renders as itself. Copied raw, a strategy's
message with newlines wrote a ``- Result: **PASS**`` line and a ``## Secret scan`` section of
its own, and an unclosed ``<!--`` hid the rest of the document from a reviewer's viewer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._domain.reasons import DAILY_LOSS_KILL
from .._risk.kinds import rails_and_checks
from .._risk.shares import daily_loss_words
from .._rundir.halts import ACTED_BY
from .._support.text import md_code, md_said, md_text, natural_key
from ..burnin import render_markdown
from ..controls import control_lines
from ._exits import exit_lines
from ._limits import limit_lines
from ._outcome import outcome_lines
from ._venue import venue_lines
from ._verdict import evidence_said

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["markdown"]

_ORDER_CHECKS_SAID = (
    "An order check is the session's own (`QTY_BELOW_LOT`, `REDUCE_ONLY`, `PRICE_OFF_TICK`, "
    "`NO_MARKET_PRICE`): it fires by refusing an order no venue would take, not by a limit "
    "of `[risk]`."
)
"""Said under the table when an order check refused an order: the table counts it apart."""


def _rail_fired(m: dict[str, Any], rule: str, count: int) -> str:
    """``count``, and for DAILY_LOSS how many of its firings pulled the kill switch."""
    kills = sum(
        1
        for k in m["fired"]["kill_switch"]
        if k.get("event") == "KILL_SWITCH" and k.get("reason") == rule == DAILY_LOSS_KILL
    )
    return f"{count} ({kills} by pulling the kill switch)" if kills else str(count)


def _kill_line(k: dict[str, Any]) -> str:
    """A kill switch record in words, at the run's time: ``trading_state`` is what it halted."""
    seq = md_text(k.get("seq"))
    head = f"- {md_code(k.get('event'))} at {md_text(k.get('at'))} (event seq {seq})"
    if k.get("event") == "KILL_SWITCH_FLAT":
        ns = k.get("time_to_flat_ns")
        took = f"{ns / 1e9:g} s" if type(ns) is int else md_text(ns)
        return f"{head}: flat {took} of run time after the kill switch tripped."
    reason = k.get("reason")
    who = ACTED_BY.get(reason) if isinstance(reason, str) else None
    flat = "was flat already" if k.get("flat") is True else "held a position to flatten"
    crossed = daily_loss_words(k, amounts=True) if reason == DAILY_LOSS_KILL else None
    return (
        f"{head}: reason {md_code(reason)}"
        + (f" ({md_text(who)})" if who else "")
        + (f": {md_text(crossed)}" if crossed else "")
        + f"; trading {md_text(k.get('trading_state'))} went HALTED; "
        f"{md_text(k.get('open_orders'))} open order(s) to cancel; the book {flat}."
    )


def _plugin_lines(plugins: dict[str, Any]) -> list[str]:
    if not plugins:
        return []
    lines = ["## Code that ran", ""]
    roles = sorted(plugins, key=natural_key)  # rails[2] before rails[10] (not as text)
    lines += [f"- {md_text(plugins[role]['summary'])}" for role in roles]
    return [*lines, ""]


def _positions(positions: dict[str, str]) -> str:
    return ", ".join(
        f"{md_text(symbol)} {md_text(qty)}" for symbol, qty in sorted(positions.items())
    )


def _data_lines(data: object) -> list[str]:
    """The data file the run read, which its re-run reads again at the same path."""
    if not isinstance(data, dict):
        return []
    feed, path, digest = (md_code(data.get(key)) for key in ("feed", "path", "sha256"))
    size = data.get("bytes")
    line = f"- Data file: {feed} at {path}, SHA-256 {digest}, {size} bytes: the re-run reads it."
    return [line]


def _verdict_lines(m: dict[str, Any]) -> list[str]:
    """The bundle's two verdicts apart: the evidence's, then how the run ended (``_verdict``)."""
    word, why = evidence_said(m["ok"], [md_said(p) for p in m["problems"]])
    ended = m["run_ended"]
    said = ended["said"].removeprefix(f"{ended['ended']}: ")
    return [
        f"- Evidence: **{word}** ({why}).",
        f"- Run ended: **{md_text(ended['ended'])}**: {md_said(said)}.",
    ]


def _commit_said(commit: object) -> str:
    """The manifest's ``git_commit`` in words: null is said as what it means, not unknown."""
    if commit:
        return f"git commit `{commit}`"
    return (
        "no git commit (it ran from an installed package, not from a git checkout of "
        "livesession: the manifest's `git_commit` is null)"
    )


def markdown(m: dict[str, Any], where: Path) -> str:
    """The EV document of the manifest ``m`` (its sections in the manifest's order).

    ``where`` is the run's absolute path: the document's advice names it, so a command
    pasted from the document read elsewhere finds the run.
    """
    lines = [
        f"# Evidence: run {md_code(m['run_id'])}",
        "",
        *_verdict_lines(m),
        f"- Created (UTC): {m['created_utc']}",
        f"- livesession {m['livesession_version']}, {_commit_said(m['git_commit'])}",
        (
            "- Config SHA-256 (`config_sha256`, in the audit chain: `SESSION_STARTED`, "
            f"`C2_DRYRUN_START`): {md_code(m['config_hash'] or 'not recorded')}"
        ),
        (
            "- Full config hash (`run.json` `config_hash`: `durability`, `checkpoint_every` "
            f"and `base_dir` too): `{m['full_config_sha256']}`"
        ),
        (
            f"- **Audit head: `{m['audit_head']}`**. Compare it with the audit head published "
            "when the run ended, apart from these files: the chain has no key, so a run "
            "rewritten with its chain recomputed passes every check below, and only that "
            'head tells it apart (docs/artifacts.md, "What the chain proves, and what it '
            'does not").'
        ),
        (
            "- Check a copy of the run against this bundle: `livesession verify RUN_DIR "
            "--manifest manifest.json` holds the run to the manifest (its run id, audit head, "
            'config hash and the SHA-256 of each file under "Artifacts") and prints the '
            "manifest's SHA-256 to compare with the published one; it runs nothing. This "
            "document is the manifest made readable: the published SHA-256 covers "
            "`manifest.json`, not this file."
        ),
        *_data_lines(m.get("data")),
        "",
        *outcome_lines(m["outcome"], where, data_file=isinstance(m.get("data"), dict)),
        *_plugin_lines(m.get("plugins") or {}),
        "## Verification",
        "",
        f"Independent verification: **{'clean' if m['verify']['ok'] else 'VIOLATIONS'}**.",
    ]
    lines += [f"- {md_text(v)}" for v in m["verify"]["violations"][:50]]
    det = m["determinism"]
    lines += ["", "## Determinism re-run", "", f"Status: **{det['status']}**"]
    if det["status"] in ("ERROR", "not_applicable") and det.get("reason"):
        lines += ["", f"Reason: {md_text(det['reason'])}."]
    if det.get("note"):
        lines += ["", md_text(det["note"]), ""]
    for name, same in det.get("compared", {}).items():
        lines.append(f"- {md_text(name)}: {'identical' if same else 'DIFFERENT'}")
    if det.get("first_difference"):
        lines += ["", f"First difference: {md_text(det['first_difference'])}."]
    if det.get("operator_actions"):
        lines += ["", "The re-run took the operator's actions where the run took them:", ""]
        lines += [f"- {md_code(action)}" for action in det["operator_actions"]]
    lines += [
        "",
        "## Preflight checks and safety rails",
        "",
        (
            "A preflight check fires by failing: it refuses the run before it trades. A rail "
            "fires by refusing an order (the daily-loss cap: by pulling the kill switch)."
        ),
        "",
        "| kind | name | times failed (a check) or fired (a rail) |",
        "| --- | --- | --- |",
    ]
    checks, rails = m["fired"]["checks"], m["fired"]["rails"]
    lines += [f"| check | {md_text(n)} | {md_text(c)} |" for n, c in checks.items()]
    rails_only, order_checks = rails_and_checks(rails.items())
    lines += [f"| rail | {md_text(n)} | {md_text(_rail_fired(m, n, c))} |" for n, c in rails_only]
    lines += [f"| order check | {md_text(n)} | {md_text(c)} |" for n, c in order_checks]
    if order_checks:
        lines += ["", _ORDER_CHECKS_SAID]
    lines += limit_lines(m.get("limits"))
    lines += venue_lines(m.get("venue"))
    lines += ["", "## Kill switch", ""]
    kills = m["fired"]["kill_switch"]
    if kills:
        lines += [_kill_line(k) for k in kills]
    else:
        lines.append("The run did not trip its kill switch.")
    drill = m["kill_drill"]
    if drill.get("status") in ("measured", "not_flat"):
        lines += [
            "",
            (
                "Kill drill (a re-run of this config on its simulated venue, killed once it "
                f"held {_positions(drill['position_at_kill'])}): **{md_text(drill['status'])}**, "
                + (
                    f"kill switch to flat in {drill['wall_s']:.6f} s wall time, "
                    f"{drill['steps_to_flat']} step(s)."
                    if drill["status"] == "measured"
                    else f"still not flat {drill['steps_to_flat']} step(s) "
                    f"({drill['wall_s']:.6f} s wall time) after the kill switch tripped."
                )
            ),
        ]
    else:
        said = f"{md_text(drill.get('status'))} ({md_text(drill.get('reason', ''))})"
        lines += ["", f"Kill drill: {said}."]
    lines += exit_lines(m.get("exits"))
    lines += control_lines(m["controls"])
    lines += ["", render_markdown(m["burnin"], level=2).rstrip("\n")]
    lines += ["", "## Secret scan", ""]
    findings = m["secret_scan"]["findings"]
    lines += (
        [f"- {md_text(f)}" for f in findings]
        if findings
        else ["No secrets found in any file of the run."]
    )
    lines += ["", "## Artifacts (SHA-256)", "", "| file | sha256 |", "| --- | --- |"]
    lines += [f"| {md_text(name)} | {md_code(digest)} |" for name, digest in m["artifacts"].items()]
    lines += [
        "",
        "## Approval",
        "",
        "| field | value |",
        "| --- | --- |",
        "| Name | |",
        "| Role | |",
        "| Date | |",
        "| Signature | |",
        "",
    ]
    return "\n".join(lines)
