"""Alerts: which audit records call a person, and what the message says.

An alert is derived from one audit record as the session writes it (``alert_for``), so it
needs no call of its own anywhere in the session. The webhook URL that delivers alerts is
a secret (its path is the credential of a Slack, Discord or Teams hook): ``AlertsConfig``
holds it in a ``Secret`` and no config dictionary, artifact or repr ever shows it.
"""

from __future__ import annotations

import unicodedata
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .._exceptions import ConfigError
from .._support.secrets import ALERT_ENV, redact, redact_text
from .._support.text import valid_payload, valid_text
from .fields import array_of_tables
from .reasons import HALTED_TO_FAULT
from .runtime_config import Secret

__all__ = [
    "ALERT_CODES",
    "ALERT_ENV",
    "SEAL_AUDIT_CODE",
    "Alert",
    "AlertsConfig",
    "alert_for",
    "alerts_config",
    "has_userinfo",
    "unsealed_alert",
]


# Audit code -> alert code. C2_TRADING_STATE and C2_DRYRUN_STOP depend on their payload.
_BY_AUDIT_CODE: Final = {
    "C2_OPERATOR_REQUIRED": "OPERATOR_REQUIRED",
    "C2_KILL_SWITCH": "KILL_SWITCH",
    "C2_LEASE_LOST": "LEASE_LOST",
    "C2_SINK_WRITE_FAILED": "SINK_FAILED",
}
_TRADING: Final = {"HALTED": "TRADING_HALTED", "REDUCING": "TRADING_REDUCING"}
SEAL_AUDIT_CODE: Final = "C2_DRYRUN_STOP"
"""The seal's record: its alert (RUN_FAILED, RUN_SEALED) waits until the seal is on disk."""

# Alert code -> what the message says, in the order RUNBOOK lists the codes.
_SUMMARY: Final = {
    "OPERATOR_REQUIRED": "needs an operator",
    "KILL_SWITCH": "kill switch fired",
    "TRADING_HALTED": "trading HALTED",
    "TRADING_REDUCING": "trading REDUCING (reduce-only)",
    "LEASE_LOST": "session lease lost",
    "SINK_FAILED": "an artifact sink failed",
    "RUN_FAILED": "run sealed FAILED",
    "RUN_SEALED": "run sealed",
    "RUN_UNSEALED": "run not sealed (resume it once the cause is put right)",
}
# Alert code -> what a person does about it (RUNBOOK's words); RUN_SEALED's by its status.
_STATUS_OF_RUN: Final = "`livesession status` of its run directory"
_HALTED: Final = (
    f"new orders are refused: find the cause (the reason, {_STATUS_OF_RUN}); "
    "`livesession ack` re-enables trading, `livesession stop` ends the run"
)
_HALTED_TO_FAULT: Final = (
    "the session faults with it (an OPERATOR_REQUIRED alert follows, saying what to check): "
    "new orders are refused, and `livesession ack` then cancels, flattens and stops the run; "
    "it does not re-enable trading"
)
_NEXT: Final = {
    "OPERATOR_REQUIRED": f"a person must look: {_STATUS_OF_RUN}, then the venue's own open "
    "orders and positions (RUNBOOK: When a session is in ERROR_REQUIRES_OPERATOR)",
    "KILL_SWITCH": _HALTED,
    "TRADING_HALTED": _HALTED,
    "TRADING_REDUCING": "only orders that reduce the position go: read the reason, "
    f"{_STATUS_OF_RUN}",
    "LEASE_LOST": "another process may trade this account and strategy: find it before any "
    f"resume ({_STATUS_OF_RUN}: its lease line)",
    "SINK_FAILED": "a run file could not be written (a full disk, a failing mount): put the "
    f"cause right, then {_STATUS_OF_RUN}",
    "RUN_FAILED": "read its audit.jsonl for C2_OPERATOR_REQUIRED and its reason, check the "
    "venue's own open orders and positions, and run `livesession verify` on it",
    "RUN_UNSEALED": f"{_STATUS_OF_RUN} says whether `livesession resume` can continue it",
    "COMPLETED": "`livesession verify`, then `livesession evidence` of its run directory",
    "REJECTED": "fix what the reason names and start a new run (this one stays as evidence)",
}
ALERT_CODES: Final = tuple(_SUMMARY)
"""Every alert code, in the order RUNBOOK lists them."""
_MAX_TIMEOUT_MS: Final = 60_000
_MAX_RETRIES: Final = 10


@attrs.frozen(kw_only=True)
class Alert:
    """One alert: what happened to which run, derived from one audit record.

    Attributes:
        run_id: The run.
        code: One of ``ALERT_CODES``.
        state: The session's lifecycle state when the record was written.
        status: The session's status then (``RUN_SEALED`` carries the final one).
        reason: Why, in the session's words (a reason code, redacted).
        ts: The audit record's ``ts`` (the session clock's time).
        audit_seq: The audit record's ``seq`` (the record that raised the alert;
            ``RUN_UNSEALED``, which no record raises: the last record the audit holds).
        audit_code: The audit record's code.
        detail: The audit record's payload, redacted (``RUN_UNSEALED``: the dead sinks).
    """

    run_id: str
    code: str
    state: str
    status: str
    reason: str
    ts: str
    audit_seq: int
    audit_code: str
    detail: Mapping[str, Any] = attrs.field(factory=dict, hash=False)  # a dict has no hash

    @property
    def text(self) -> str:
        """One Slack-compatible line (``text`` of Slack, Mattermost, Discord-via-slack)."""
        reason = f": {self.reason}" if self.reason else ""
        todo = _NEXT.get(self.status if self.code == "RUN_SEALED" else self.code)
        if self.code == "TRADING_HALTED" and self.reason in HALTED_TO_FAULT:
            todo = _HALTED_TO_FAULT
        return (
            f"livesession run {self.run_id}: {_SUMMARY.get(self.code, self.code)}{reason} "
            f"[{self.code}; state {self.state}, status {self.status}; {self.ts}]"
            + (f"; next: {todo}" if todo else "")
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON document the webhook receives."""
        return {
            "run_id": self.run_id,
            "code": self.code,
            "state": self.state,
            "status": self.status,
            "reason": self.reason,
            "ts": self.ts,
            "audit_seq": self.audit_seq,
            "audit_code": self.audit_code,
            "detail": dict(self.detail),
            "text": self.text,
        }


def alert_for(
    audit_code: str,
    payload: Mapping[str, Any],
    *,
    run_id: str,
    state: str,
    status: str,
    ts: str,
    audit_seq: int,
) -> Alert | None:
    """The alert an audit record raises, or None (most records raise none)."""
    code = _BY_AUDIT_CODE.get(audit_code)
    if audit_code == "C2_TRADING_STATE":
        code = _TRADING.get(str(payload.get("to")))
    elif audit_code == SEAL_AUDIT_CODE:
        status = str(payload.get("status", status))
        code = "RUN_FAILED" if status == "FAILED" else "RUN_SEALED"
    if code is None:
        return None
    reason = payload.get("reason")
    if not isinstance(reason, str) or not reason:
        reason = {"LEASE_LOST": "LEASE_LOST", "SINK_FAILED": "SINK_WRITE_FAILED"}.get(code, "")
    return _shown(
        Alert(
            run_id=run_id,
            code=code,
            state=state,
            status=status,
            reason=reason,
            ts=ts,
            audit_seq=audit_seq,
            audit_code=audit_code,
            detail=payload,  # the record as its observers see it, before the audit writes it
        )
    )


def unsealed_alert(
    *,
    run_id: str,
    state: str,
    status: str,
    why: str,
    ts: str,
    audit_seq: int,
    audit_code: str,
    detail: Mapping[str, Any],
) -> Alert:
    """``RUN_UNSEALED``: the session ended and its run is not sealed, so a person must act.

    No audit record raises it (the run has no seal record, or one a failure left short of
    the disk): ``audit_seq`` and ``audit_code`` are those of the last record the audit holds,
    and ``why`` says what kept the seal from the disk (a dead sink, a refused store).
    """
    return _shown(
        Alert(
            run_id=run_id,
            code="RUN_UNSEALED",
            state=state,
            status=status,
            reason=why,
            ts=ts,
            audit_seq=audit_seq,
            audit_code=audit_code,
            detail=detail,
        )
    )


def _shown(alert: Alert) -> Alert:
    """``alert`` as every alert leaves the session: its ``reason`` and ``detail`` redacted.

    Both are also made fit for JSON: a plug-in's text (a lease backend's error, say) may
    still hold a lone surrogate no JSON can carry.
    """
    return attrs.evolve(
        alert,
        reason=valid_text(redact_text(alert.reason)),
        detail=valid_payload(redact(dict(alert.detail))),
    )


def _webhook_url(value: object, name: str = "alerts.webhook_url") -> Secret | None:
    """The URL as a ``Secret``; the error names ``name`` and never repeats the value.

    Whitespace around it is trimmed (a secret file's last newline, a space pasted with it):
    only what is within the URL is refused.
    """
    if value is None or isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {type(value).__name__}")
    url = value.strip()
    if not url:
        return None
    # The scheme is case-insensitive (RFC 3986): HTTPS:// is https://, as urllib takes it.
    if not url[:8].lower().startswith(("https://", "http://")) or len(url) <= len("https://"):
        raise ConfigError(
            f"{name} must be an http:// or https:// URL (value not shown: it is a secret)"
        )
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in url):
        # No HTTP client sends it, and the error it raises quotes the path (the token).
        raise ConfigError(
            f"{name} must not contain whitespace or control characters, such as a tab pasted "
            "with it (value not shown: it is a secret)"
        )
    if not url.isascii():  # http.client sends no other: every attempt would fail
        raise ConfigError(
            f"{name} must be ASCII: percent-encode any other character (a euro sign is "
            "%E2%82%AC) and write an international host name in its xn-- form (value not "
            "shown: it is a secret)"
        )
    _refuse_without_host(url, name)
    return Secret(url)


def _refuse_without_host(url: str, name: str) -> None:
    """Refuse a URL no request can be made to: every delivery would fail, run after run.

    ``http:///TOKEN`` has no host, ``http://[::1/TOKEN`` an unclosed bracket, and
    ``http://host:80x/TOKEN`` a port that is no number; the errors never quote the URL.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        host, _port = parts.hostname, parts.port  # .port raises for one that is no number
    except ValueError:
        raise ConfigError(
            f"{name} is not a valid URL: its host or port cannot be read (an unclosed [ of an "
            "IPv6 address, a port that is not a number from 0 to 65535; value not shown: it "
            "is a secret)"
        ) from None
    if not host:
        raise ConfigError(
            f"{name} has no host: it must be http://HOST/... or https://HOST/... (value not "
            "shown: it is a secret)"
        )
    if has_userinfo(url):
        raise ConfigError(
            f"{name} must not hold a user name or password (USER:PASSWORD@HOST): they are "
            "never sent, and a webhook's token goes in its path (value not shown: it is a "
            "secret)"
        )


def has_userinfo(url: str) -> bool:
    """Whether ``url`` names a user (``http://USER:PASSWORD@HOST/``), in any form.

    urllib does not send it as credentials: it cuts the host at the last ``:`` of
    ``USER:PASSWORD@HOST``, and asks DNS to resolve the password with it. An ``@`` in a
    host that cannot be read counts too.
    """
    try:
        return "@" in urllib.parse.urlsplit(url).netloc
    except ValueError:
        return "@" in url.partition("://")[2].partition("/")[0]


def _bounded(name: str, low: int, high: int) -> Any:
    def check(_inst: object, _attr: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            # The table holds the webhook's secret: a text in the wrong key is not repeated.
            got = "a string (value not shown)" if isinstance(value, str) else repr(value)
            raise ConfigError(f"alerts.{name} must be an integer from {low} to {high}, got {got}")

    return check


@attrs.frozen(kw_only=True)
class AlertsConfig:
    """The ``[alerts]`` table: where alerts go and how hard delivery tries.

    Kept out of ``config.json`` and the config hash (``DryrunConfig.to_dict``): where a
    run's alerts go is not part of what the run did, and the URL is a secret.

    Attributes:
        webhook_url: The webhook (a ``Secret``); None: no webhook unless ``ALERT_ENV`` is set.
        timeout_ms: The bound on one HTTP attempt (connect and answer).
        retries: Attempts after the first failed one.
        queue_size: Alerts waiting for delivery before new ones are dropped (and counted).
    """

    webhook_url: Secret | None = attrs.field(default=None, converter=_webhook_url)
    timeout_ms: int = attrs.field(
        default=2_000, validator=_bounded("timeout_ms", 1, _MAX_TIMEOUT_MS)
    )
    retries: int = attrs.field(default=2, validator=_bounded("retries", 0, _MAX_RETRIES))
    queue_size: int = attrs.field(default=256, validator=_bounded("queue_size", 1, 100_000))

    def url(self, environ: Mapping[str, str]) -> Secret | None:
        """The webhook to use: ``ALERT_ENV`` when set and not blank, else ``webhook_url``."""
        from_env = _webhook_url(environ.get(ALERT_ENV), ALERT_ENV)
        return from_env if from_env is not None else self.webhook_url


def alerts_config(value: AlertsConfig | Mapping[str, Any]) -> AlertsConfig:
    """The ``[alerts]`` table as an ``AlertsConfig`` (unknown keys refused, by name)."""
    if isinstance(value, AlertsConfig):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"alerts must be a table{array_of_tables('alerts', value)}")
    known = {field.name for field in attrs.fields(AlertsConfig)}
    unknown = sorted(str(key) for key in value if key not in known)
    if unknown:
        raise ConfigError.unknown_key(unknown[0], known, table="alerts")
    return AlertsConfig(**value)
