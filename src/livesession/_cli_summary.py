"""The CLI's account of a run: the dryrun summary's lines and the ``--json`` objects.

``dryrun``/``resume`` print the summary (``trading``, ``position``, ``rejected``, ``broker``
lines, and the ``failed:`` line; what they say of alerts is ``_cli_alerts``'s); with
``--json`` the same facts are one object (``result_json``), as are ``verify``'s and
``evidence``'s (``verify_json``, ``evidence_json``). ``dryrun --print-config`` prints the
config a run would use instead (``print_config``).
"""

from __future__ import annotations

import codecs
import json
import os
import re
import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._artifacts import names
from ._artifacts.runread import read_json_object
from ._cli_output import emit_json
from ._domain.decimal import plain
from ._domain.lifecycle import SessionState
from ._domain.reasons import LEASE_LOST
from ._risk.rails import RAIL_RULES
from ._rundir.halts import faulted_in_wind_down_in, kill_reasons, wind_down_words
from ._rundir.resumes import resumes_of
from ._rundir.seal import lease_lost_words
from ._rundir.statuswords import NEVER_TRADED, nonzero
from ._support.oserrors import oserror_text
from ._support.secrets import redact, redact_text, redact_url
from ._support.text import command, json_path, one_line, path_text
from .testing._culprit import raised_at

if TYPE_CHECKING:
    from ._artifacts.metrics import MetricsCollector
    from ._domain.config import DryrunConfig
    from ._session.results import DryrunResult
    from .evidence import EvidenceResult
    from .evidence._bundle import BundleCheck
    from .verify import VerifyResult

__all__ = [
    "broker_failures_line",
    "desk_rules",
    "evidence_json",
    "exposure_line",
    "failure_line",
    "left_at_venue",
    "print_config",
    "rejected_line",
    "result_json",
    "resumed_line",
    "risk_blocks",
    "say_log_lost",
    "say_timings_lost",
    "trading_line",
    "verify_json",
]

_SHOW_RULES_UP_TO: Final = 4


def desk_rules(run_dir: Path) -> frozenset[str]:
    """The rules of the desk's own rails the run in ``run_dir`` recorded (``sources``).

    ``config.json`` keeps each rail's ``rule`` in its source record (``rails[N]``); a run
    without rails of its own, or whose config cannot be read, has none.
    """
    try:
        sources = read_json_object(run_dir / names.CONFIG).get("sources")
    except OSError:  # the summary's breakdown only: the count stands without it
        return frozenset()
    records = sources.values() if isinstance(sources, dict) else ()
    return frozenset(
        record["rule"]
        for record in records
        if isinstance(record, dict) and isinstance(record.get("rule"), str)
    )


def risk_blocks(metrics: MetricsCollector, desk: Collection[str] = ()) -> str:
    """RISK_REJECTED count, and by rule when that is short and the metrics tell them apart.

    ``rejects_by_reason`` counts the venue's refusals with the rails' (``ORDER_REJECTED``
    by its reason): when the venue refused orders too, only the rails' own rules are
    taken, the built-in ones and the desk's (``desk``, ``desk_rules``).
    """
    blocks = metrics.count("RISK_REJECTED")
    if not blocks:
        return "0"
    by_reason = metrics.rejects_by_reason
    if not metrics.count("ORDER_REJECTED"):
        by_rule = by_reason  # no venue rejects: every reject counted mid-run is a rail's
    else:
        rules = RAIL_RULES | set(desk)
        by_rule = {rule: n for rule, n in by_reason.items() if rule in rules}
    if sum(by_rule.values()) != blocks or len(by_rule) > _SHOW_RULES_UP_TO:
        return str(blocks)
    return f"{blocks} (" + ", ".join(f"{r} {n}" for r, n in sorted(by_rule.items())) + ")"


def rejected_line(metrics: MetricsCollector) -> str:
    """The venue's refusals, and apart from them the sends that failed, when there were any.

    Both are ``ORDER_REJECTED``, but a failed send (``SEND_FAILED``) never reached the
    venue: counted as the venue's, it sent an operator to the venue for a refusal that was
    a connection's.
    """
    failed = metrics.send_failures()
    said = f"{metrics.venue_rejects()} by the venue"
    return said + (f", {failed} send{'' if failed == 1 else 's'} failed" if failed else "")


def broker_failures_line(result: DryrunResult) -> list[str]:
    """``broker      70 failed calls (poll 70)``, or nothing when every call was answered.

    Failed polls (and the reconciler's failed queries) are asked again on the next pass,
    so they are no retries and write no event: said only here and in the session log.
    """
    failed = result.broker_failures
    if not failed:
        return []
    total = sum(failed.values())
    per = ", ".join(f"{operation} {n}" for operation, n in failed.items())
    return [f"broker      {total} failed call{'' if total == 1 else 's'} ({per})"]


def failure_line(result: DryrunResult, run_dir: Path, cause: BaseException | None = None) -> str:
    """Why a run failed and what the CLI did about it, in one line (RUNBOOK's exit codes).

    A run sealed in ``ERROR_REQUIRES_OPERATOR`` left the venue in doubt. After
    ``STOP_INCOMPLETE`` its wind-down ran but did not finish (cancels and a flatten may be
    at the venue, unconfirmed); after a fault in a wind-down (``faulted_in_wind_down``, as
    the run's snapshots say) the line says how far it had got, in ``wind_down_words``: the
    words ``status``, the report and the evidence say; after any other fault nothing was
    wound down. After ``LEASE_LOST`` what the venue holds is the new holder's (or, when the
    lease table was reset under the run, maybe another session's): the line says so, as
    ``status`` and RUNBOOK do, rather than to check it. After the strategy's or the feed's
    error, ``cause`` (the session's ``fault_cause``) names the line of the desk's code that
    raised, which the run's files do not hold (its traceback is in the session log).
    """
    what = result.reason or "FAILED"
    if result.detail:  # a plug-in's text: a NUL or an ESC in it would reach the terminal
        what += f" ({one_line(result.detail)}{raised_at(result.reason, result.detail, cause)})"
    if result.state.value == "STOPPED":
        return f"{what}; wound down (cancelled, flattened) and sealed FAILED: {path_text(run_dir)}"
    at = faulted_in_wind_down_in(run_dir, result.reason)
    how = wind_down_words(result.reason, at) or "without a wind-down"
    if result.reason == LEASE_LOST:  # not the general advice: the venue's are not its own
        said = lease_lost_words(run_dir)
        return f"{what}; sealed FAILED in {result.state.value} {how}: {said}: {path_text(run_dir)}"
    return (
        f"{what}; sealed FAILED in {result.state.value} {how}: check the venue's open orders "
        f"and positions (RUNBOOK): {path_text(run_dir)}"
    )


def trading_line(
    result: DryrunResult, metrics: MetricsCollector, run_dir: Path | None = None
) -> str:
    """Whether new orders were allowed at the end, and what changed that on the way.

    A run the kill switch halted still ends COMPLETED; this says that trading was halted,
    and by what: the kill switch, a broker that stopped answering (``BROKER_UNHEALTHY``),
    or the execution throttle (its refusals, ``EXECUTION_THROTTLE``: each halts trading,
    and with the built-in rails none is checked once halted; before, a throttle's halt
    read ``HALTED`` alone). A run preflight rejected never traded (``NEVER_TRADED``),
    whatever it was built with.
    """
    if result.state is SessionState.PREFLIGHT_FAILED:
        return NEVER_TRADED
    changes = [
        f"{label} {n}{by}"
        for label, n, by in (
            ("kill switch", result.kills, _killed_by(run_dir, result.kills)),
            ("broker unhealthy", metrics.count("BROKER_UNHEALTHY"), ""),
            ("execution throttle", metrics.rejects_by_reason.get("EXECUTION_THROTTLE", 0), ""),
            ("re-enabled", metrics.count("TRADING_REENABLED"), ""),
        )
        if n
    ]
    return result.trading.value + (f" ({', '.join(changes)})" if changes else "")


def _killed_by(run_dir: Path | None, kills: int) -> str:
    """`` by DAILY_LOSS``: what pulled the kill switch, as the run's audit records it."""
    reasons = kill_reasons(run_dir) if kills and run_dir is not None else []
    return f" by {' and '.join(map(one_line, reasons))}" if reasons else ""


def exposure_line(result: DryrunResult) -> str:
    """What the run holds when it ends: ``flat, no open orders`` or what it left open.

    After a fill the book refused (``position_in_doubt``) the book's position is only the
    book's: ``flat in the book, ...; in doubt: the venue's fill ... (not booked)``.
    """
    held = ", ".join(f"{symbol} {plain(qty)}" for symbol, qty in result.positions.items() if qty)
    n = len(result.open_orders)
    orders = f"{n} open order{'' if n == 1 else 's'}" if n else "no open orders"
    if result.flattened:  # the strategy did not end flat: the session closed it
        orders += f" (the session flattened {', '.join(result.flattened)} as it wound down)"
    if result.position_in_doubt:
        doubt = one_line(result.position_in_doubt)
        return f"{held or 'flat'} in the book, {orders}; in doubt: {doubt} (not booked)"
    return f"{held or 'flat'}, {orders}"


def resumed_line(run_dir: Path) -> list[str]:
    """``resumed     2 times, the last from step 200`` for a run resumed, as ``status`` says it."""
    said = resumes_of(run_dir).says()
    return [f"resumed     {said}"] if said else []


def result_json(
    result: DryrunResult,
    run_dir: Path,
    wall_s: float,
    metrics: MetricsCollector,
    *,
    code: int,
    planned: int | None = None,
    alerts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A finished ``dryrun`` or ``resume`` as one object; ``alerts``: ``alert_counts``.

    ``steps_planned`` is the steps the run was given, as ``status --json`` names it: a
    run that ended short of its plan (a feed that ran out) shows it, as the text does
    (None: not known, as ``status`` says of a run whose config it could not read).
    ``resumes`` and ``resumed`` say the run's resumes, as ``status --json`` does.
    """
    resumed = resumes_of(run_dir)
    return {
        "ok": code == 0,
        "exit_code": code,
        "status": result.status.value,
        "state": result.state.value,
        "reason": result.reason,
        "detail": redact_text(result.detail),
        "run_id": result.run_id,
        "run_dir": json_path(run_dir),
        "steps": result.steps,
        "steps_planned": planned,
        "resumes": resumed.count,
        "resumed": resumed.says(),
        "orders": result.orders_submitted,
        "fills": result.fills,
        "risk_blocks": metrics.count("RISK_REJECTED"),
        "venue_rejects": metrics.venue_rejects(),
        "send_failures": metrics.send_failures(),
        "trading": result.trading.value,
        "never_traded": result.state.value == "PREFLIGHT_FAILED",  # rejected: `trading` unused
        "kills": result.kills,
        "positions": {symbol: plain(qty) for symbol, qty in result.positions.items()},
        "position_in_doubt": redact_text(result.position_in_doubt),
        "open_orders": list(result.open_orders),
        "flattened": list(result.flattened),
        "retries": {
            "sink": metrics.count("SINK_WRITE_RETRIED"),
            "broker": metrics.count("BROKER_CALL_RETRIED"),
        },
        "broker_failures": dict(result.broker_failures),
        "pnl": plain(result.pnl),
        "equity": plain(result.equity),
        "wall_s": round(wall_s, 3),
        "alerts": alerts,
    }


def verify_json(
    result: VerifyResult, run_dir: Path, *, code: int, bundle: BundleCheck | None = None
) -> dict[str, Any]:
    """``verify``'s outcome as one object: every violation, not only the first shown.

    ``live`` is the plain output's note of a live run (who writes it, and up to which step
    it was read), "" for a run no process writes; ``incomplete`` is ``VerifyResult``'s (a
    crashed run's, not a corrupt one's). With ``--manifest``, ``manifest`` says
    what was held to the run: the manifest's SHA-256 (to compare with the published one),
    and whether it is the run's (its differences are among ``violations``).
    """
    out = {
        "ok": result.ok,
        "exit_code": code,
        "run_dir": json_path(run_dir),
        "summary": result.summary,
        "live": result.live,  # a cut up to the last checkpoint is no whole run
        "incomplete": result.incomplete,  # the summary is ``incomplete run: ...``
        "counts": dict(result.counts),
        "run_version": result.run_version,  # the release that wrote it (SESSION_STARTED's)
        "total": result.total,
        "violations": list(result.violations),
    }
    if bundle is not None:
        out["manifest"] = {
            "sha256": bundle.sha256,
            "sha256_as_written": bundle.sha256_as_written,  # of the bytes evidence wrote
            "converted": bundle.converted,  # what a copy changed in them ("" nothing)
            "matches": not bundle.problems,
            "run_id": bundle.run_id,
            "audit_head": bundle.audit_head,  # the run's, to compare with the published one
            "files": bundle.files,
            "bundle_result": bundle.verdict,  # the evidence's: VERIFIED or NOT VERIFIED
            "bundle_run_ended": bundle.run_ended,
        }
    return out


def evidence_json(result: EvidenceResult, *, code: int) -> dict[str, Any]:
    """``evidence``'s outcome as one object: where the bundle went and what failed."""
    return {
        "ok": result.ok,
        "exit_code": code,
        "manifest": json_path(result.manifest),
        "document": json_path(result.document),
        "audit_head": result.audit_head,
        "manifest_sha256": result.manifest_sha256,
        "problems": list(result.problems),
        # ``ok`` is the evidence's verdict; how the run ended is said apart (``_verdict``).
        "evidence": "VERIFIED" if result.ok else "NOT VERIFIED",
        "run_ended": result.run_ended["ended"],
        "run_outcome": result.run_ended["said"],
    }


def left_at_venue(run_dir: Path) -> str:
    """What a run sealed FAILED left at the venue, as its files say, and what to do.

    For ``livesession stop`` of a run whose wind-down did not finish (``STOP_INCOMPLETE``),
    or faulted (``RECONCILE_MISMATCH``). The orders and position are the book's, which the
    venue did not confirm: a cancel the venue refused as not open (a fill not reported
    yet) leaves its order in the book, and fills the venue made that the book never took
    (``position_in_doubt``) leave the venue's position other than the book's. Closing the
    book's position at the venue could open one, so the line says to act on the venue's.
    A run that lost its lease in its wind-down (``LEASE_LOST``) is told as ``failure_line``
    tells it: what the venue holds is the new holder's, not to be closed by this run's book.
    """
    from .status import run_status  # noqa: PLC0415 - only when a stop failed

    standing = run_status(run_dir)
    if standing.reason == LEASE_LOST:  # the venue's orders are the new holder's
        return f"{lease_lost_words(run_dir)}: {path_text(run_dir)}"
    held = ", ".join(f"{s} {q}" for s, q in sorted(standing.positions.items()) if nonzero(q))
    orders, doubt = len(standing.open_orders), standing.position_in_doubt
    if not held and not orders and not doubt:
        return (
            f"flat with no open order: read {names.AUDIT} for C2_OPERATOR_REQUIRED and its "
            f"reason, then `{command('verify', run_dir)}`"
        )
    left = f"the book still holds {orders} open order(s), position {held or 'flat'}"
    if doubt:
        left += f" (in doubt: {doubt} (not booked))"
    return (
        f"the wind-down did not finish: {left}, which the venue did not confirm: check the "
        "venue's own open orders and positions and close what is still there (RUNBOOK: When "
        f"a session is in ERROR_REQUIRES_OPERATOR), the run is sealed and cannot be resumed: "
        f"{path_text(run_dir)}"
    )


def say_log_lost(path: Path, refused: int, refusal: OSError | None) -> None:
    """One stderr line when the system refused lines of the session log (a full disk).

    The log is for people and never stops a run, so the exit code stays the run's; but an
    operator reading the log must know it is not whole. Only for a command that said no
    error: a run the disk tore says what refused it in its error line.
    """
    if refused and refusal is not None:
        print(  # noqa: T201 - the CLI's output
            f"livesession: {path} lost {refused} line(s) ({oserror_text(refusal)}): the session "
            "log only; the run's record is in its other files",
            file=sys.stderr,
        )


def say_timings_lost(lost: str | None) -> None:
    """One stderr line when a wall-clock file (``timings.json``, ``metrics.ndjson``) was refused.

    They are measurements beside the run's record, so the exit code stays the run's. Only
    for a run that ended without an error line (which would say what refused it).
    """
    if lost:
        print(  # noqa: T201 - the CLI's output
            f"livesession: not written: {lost}: the wall-clock timings only; the run's record "
            "is in its other files",
            file=sys.stderr,
        )


def config_json(cfg: DryrunConfig) -> dict[str, Any]:
    """The config a run of ``cfg`` would use: ``config.json``'s keys, and ``[alerts]``.

    ``to_dict`` (defaults filled in, the flags applied) with secrets redacted (``redact``),
    without ``base_dir`` (the config file's directory: never a setting). The webhook is the
    one alerts would go to (``ALERT_ENV`` wins over the file) as its scheme and host.
    """
    data: dict[str, Any] = redact(cfg.to_dict())
    data.pop("base_dir", None)
    alerts = {name: getattr(cfg.alerts, name) for name in attrs.fields_dict(type(cfg.alerts))}
    url = cfg.alerts.url(os.environ)
    alerts["webhook_url"] = None if url is None else redact_url(url.reveal())
    data["alerts"] = {key: value for key, value in alerts.items() if value is not None}
    return data


def print_config(cfg: DryrunConfig, *, as_json: bool) -> None:
    """Print ``config_json(cfg)``: as TOML a config file takes back, or as one JSON object.

    Either says where its relative paths are read from (``resolves_from``: the config
    file's directory, or the working directory): a strategy reference or a data file
    named relatively is read from there, not from where the printed copy is put.
    """
    data = config_json(cfg)
    where = str(Path(cfg.base_dir or ".").resolve())
    if as_json:
        emit_json({"ok": True, "exit_code": 0, "config": data, "resolves_from": where})
        return
    lines = [f"# relative references and data file paths below are read from {_toml(where)}"]
    lines += [f"{_toml_key(k)} = {_toml(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    for table, values in data.items():
        if isinstance(values, Mapping):
            lines += ["", f"[{_toml_key(table)}]"]
            lines += [f"{_toml_key(k)} = {_toml(v)}" for k, v in values.items()]
    text = "\n".join(lines)
    if codecs.lookup(getattr(sys.stdout, "encoding", None) or "utf-8").name != "utf-8":
        text = _ascii_toml(text)  # a TOML file is UTF-8: another encoding's bytes are none
    print(text)  # noqa: T201 - the CLI's output


_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_BMP_LAST: Final = 0xFFFF
"""The last code point a TOML ``\\uXXXX`` escape holds; past it, ``\\UXXXXXXXX``."""


def _ascii_toml(text: str) -> str:
    r"""``text`` with each character past ASCII as a TOML escape (``\u00e4``).

    Such a character is in a string (a bare key is ASCII) or in the first line's comment, so
    the file reads back the same; an ASCII stdout's own ``\xe4`` is no TOML escape.
    """
    return "".join(
        char
        if char.isascii()
        else (f"\\u{ord(char):04x}" if ord(char) <= _BMP_LAST else f"\\U{ord(char):08x}")
        for char in text
    )


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml(key)


def _toml(value: object) -> str:
    """A TOML value: what a config holds (strings, numbers, booleans, arrays, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # finite: a config refuses nan and inf
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    # JSON's escapes are TOML's, but for DEL, which a TOML string may not hold as it is.
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")
