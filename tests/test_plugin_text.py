r"""Text a plug-in hands the session, on its way into the run's files and messages.

A name from ``os.listdir`` holds a lone surrogate for each byte that is not UTF-8
(``b"report_\xff.csv"`` is ``"report_\udcff.csv"``), and no JSON line can hold one. An
exception message (the strategy's, the feed's, the broker's, a sink's) is recorded with each
lone surrogate backslash-escaped (``\xff``, the byte it stands for); an ``OrderIntent``'s text (its reason, its
symbol) is the strategy's input and is refused as the strategy's error. Either way the run
takes the path the RUNBOOK gives it, and verifies (docs/artifacts.md, "Text from plug-ins").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import (
    Bar,
    CancelIntent,
    CheckResult,
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryLineSink,
    MemoryMetricsSink,
    SessionState,
    SessionStatus,
)
from livesession._artifacts.recorder import Recorder
from livesession._cli_endings import say_rejected
from livesession._cli_output import emit_json
from livesession._domain.alerts import alert_for, unsealed_alert
from livesession._exceptions import OutcomeUnknown
from livesession._session.answers import NONE_RETURNED
from livesession._session.broker_guard import GuardedBroker
from livesession._support.references import raised
from livesession._support.text import one_line, valid_text
from livesession.verify import verify_run
from test_broker_guard import Bare, _order

from _helpers import Sinks

NAME = b"report_\xff.csv".decode("utf-8", "surrogateescape")  # as os.listdir gives it
ESCAPED = "report_\\xff.csv"


def _session(sinks: Sinks, **edges: Any) -> LiveSessionOrchestrator:
    config = DryrunConfig(run_id="text", strategy_id="scripted", steps=20, seed=5)
    edges.setdefault("feed", ScriptedFeed(["40000.00"]))
    return LiveSessionOrchestrator(config, **edges, **sinks.kwargs())


def _verified(sinks: Sinks, tmp: Path) -> None:
    """Every artifact is valid UTF-8 and the run verifies."""
    tmp.mkdir(parents=True, exist_ok=True)
    for name, content in (
        ("events.jsonl", sinks.events.getvalue()),
        ("state_snapshots.jsonl", sinks.states.getvalue()),
        ("audit.jsonl", sinks.audit.getvalue()),
        ("metrics.json", sinks.metrics.content),
    ):
        content.decode("utf-8")  # strict
        (tmp / name).write_bytes(content)
    result = verify_run(tmp)
    assert result.ok, "\n".join(result.violations[:20])


def _audit(sinks: Sinks, code: str) -> list[dict[str, Any]]:
    records = [orjson.loads(line) for line in sinks.audit.lines]
    return [r["payload"] for r in records if r["code"] == code]


class _Raising(ScriptedStrategy):
    """Buys on bar 2, then raises ``error`` on bar 4."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(at({2: [buy("0.010")]}))
        self._error = error

    def on_bar(self, bar: Bar, view: Any) -> Any:
        if int(bar.volume) == 4:
            raise self._error
        return super().on_bar(bar, view)


class _RaisingFeed(ScriptedFeed):
    def next_bar(self, ts_ns: int) -> Bar:
        if self._n == 4:
            raise OSError(f"cannot read {NAME}")
        return super().next_bar(ts_ns)


def _wound_down(sinks: Sinks, orch: LiveSessionOrchestrator, reason: str) -> None:
    result = orch.result()
    assert (result.state, result.status, result.reason) == (
        SessionState.STOPPED,
        SessionStatus.FAILED,
        reason,
    )
    assert sinks.events_of("OPERATOR_ACK")[0]["payload"] == {"operator": "cli"}
    flatten = [e for e in sinks.events_of("ORDER_SUBMITTED") if e["payload"]["reason"] == "flatten"]
    assert len(flatten) == 1
    assert not any(orch.book.positions.values())


def test_a_strategy_error_with_an_undecodable_byte_is_recorded_and_wound_down(tmp_path: Path):
    """Bug: the message's lone surrogate made the STRATEGY_ERROR line unwritable (orjson's
    TypeError): UNEXPECTED_ERROR, sealed in ERROR_REQUIRES_OPERATOR without a wind-down, the
    position open, and the strategy's own error in no file. It is the strategy's error now,
    its message written with the byte escaped."""
    sinks = Sinks()
    orch = _session(sinks, strategy=_Raising(RuntimeError(f"cannot read {NAME}")))
    result = orch.run_to_end(20, operator="cli")
    _wound_down(sinks, orch, "STRATEGY_ERROR")
    (event,) = sinks.events_of("STRATEGY_ERROR")
    assert event["payload"] == {
        "error": "RuntimeError",
        "message": f"cannot read {ESCAPED}",
        "step": 4,
    }
    assert _audit(sinks, "C2_STRATEGY_ERROR") == [event["payload"]]
    assert result.detail == f"RuntimeError: cannot read {ESCAPED}"
    _verified(sinks, tmp_path / "run")


class _Unprintable(Exception):
    """An exception class whose ``__str__`` has a bug of its own (its format and its
    arguments do not fit)."""

    def __str__(self) -> str:
        return "%s at %s" % self.args  # noqa: UP031 - the bug: one argument for two places


def test_a_strategy_error_whose_str_raises_is_the_strategy_s_error_and_wound_down(
    tmp_path: Path,
):
    """Bug: describing the strategy's error called its ``__str__``, which raised: the
    second error (TypeError: not enough arguments ...) became UNEXPECTED_ERROR, sealed in
    ERROR_REQUIRES_OPERATOR without a wind-down, the position left open, and the run named
    an error the strategy never raised. The strategy's error is recorded by its type, its
    message Python's own placeholder, and the run is wound down."""
    sinks = Sinks()
    orch = _session(sinks, strategy=_Raising(_Unprintable("lookback")))
    result = orch.run_to_end(20, operator="cli")
    _wound_down(sinks, orch, "STRATEGY_ERROR")
    (event,) = sinks.events_of("STRATEGY_ERROR")
    assert event["payload"] == {
        "error": "_Unprintable",
        "message": "<exception str() failed>",
        "step": 4,
    }
    assert result.detail == "_Unprintable: <exception str() failed>"
    _verified(sinks, tmp_path / "run")


def test_a_broker_error_whose_str_raises_is_a_failed_send_not_the_session_s_error():
    """The same bug on the broker's side: a submit raising such an exception faulted the
    run UNEXPECTED_ERROR; it is a send that failed, as any other exception of submit is."""
    with pytest.raises(OutcomeUnknown, match=r"^submit raised _Unprintable: <exception str"):
        GuardedBroker(Bare(submit=_Unprintable("x"))).submit(_order(), 0)


def test_a_plug_in_whose_load_error_has_no_str_is_still_named():
    assert raised(_Unprintable("x")) == "raised _Unprintable: <exception str() failed>"


def test_a_feed_error_with_an_undecodable_byte_is_the_feed_s_error(tmp_path: Path):
    sinks = Sinks()
    strategy = ScriptedStrategy(at({2: [buy("0.010")]}))
    orch = _session(sinks, strategy=strategy, feed=_RaisingFeed(["40000.00"]))
    orch.run_to_end(20, operator="cli")
    _wound_down(sinks, orch, "FEED_ERROR")
    (event,) = sinks.events_of("FEED_ERROR")
    assert event["payload"]["message"] == f"cannot read {ESCAPED}"
    _verified(sinks, tmp_path / "run")


@pytest.mark.parametrize("field", ["reason", "symbol"])
def test_an_intent_s_text_with_a_lone_surrogate_is_the_strategy_s_error(tmp_path: Path, field: str):
    """Bug: an intent whose reason held a lone surrogate ended the run UNEXPECTED_ERROR
    without a wind-down (its SIGNAL line could not be written). The intent is the strategy's
    input, recorded as given or not at all: refused, naming the field and the character."""
    given = "BTC/USDT" if field == "symbol" else "in"
    bad = attrs.evolve(buy("0.010"), **{field: f"{given} {NAME}"})
    sinks = Sinks()
    orch = _session(sinks, strategy=ScriptedStrategy(at({2: [buy("0.010")], 4: [bad]})))
    orch.run_to_end(20, operator="cli")
    _wound_down(sinks, orch, "STRATEGY_ERROR")
    (event,) = sinks.events_of("STRATEGY_ERROR")
    assert event["payload"]["error"] == "ValueError"
    assert event["payload"]["message"].startswith(
        f"an OrderIntent's {field} must be valid Unicode text, got "
    )
    assert "(a lone surrogate U+DCFF at index " in event["payload"]["message"]
    assert len(sinks.events_of("SIGNAL")) == 1  # the bad intent was never recorded
    _verified(sinks, tmp_path / "run")


@pytest.mark.parametrize("field", ["reason", "symbol", "cancel"])
def test_an_intent_s_text_of_megabytes_is_the_strategy_s_error(tmp_path: Path, field: str):
    """Bug: an intent's reason (or symbol) of 10 MB was recorded as given, in its SIGNAL and
    its ORDER_SUBMITTED: a 20 MB run from one order, 20 GB from the 1,000 intents a bar may
    give. Refused past 1,000 characters, naming the field and its length; 1,000 pass."""
    long = "r" * 1_001
    bad: Any = (
        CancelIntent(client_order_id="abc", reason=long)
        if field == "cancel"
        else attrs.evolve(buy("0.010"), **{field: long})
    )
    fits = attrs.evolve(buy("0.010"), reason="r" * 1_000)
    sinks = Sinks()
    orch = _session(sinks, strategy=ScriptedStrategy(at({2: [fits], 4: [bad]})))
    orch.run_to_end(20, operator="cli")
    _wound_down(sinks, orch, "STRATEGY_ERROR")
    (event,) = sinks.events_of("STRATEGY_ERROR")
    owner = "a CancelIntent's reason" if field == "cancel" else f"an OrderIntent's {field}"
    assert event["payload"]["message"].startswith(
        f"{owner} must be at most 1,000 characters, got 1,001: it is recorded"
    )
    assert len(sinks.events_of("SIGNAL")) == 1  # the long one was never recorded
    _verified(sinks, tmp_path / "run")


class _RefusingSink(MemoryLineSink):
    """A sink of the host's own whose error quotes a file name with an undecodable byte."""

    def write_line(self, line: bytes) -> None:
        raise OSError(f"cannot write {NAME}")


def test_a_sink_error_with_an_undecodable_byte_reaches_metrics_json():
    """Bug: the dead sink's error, quoted in metrics.json, made metrics.json unwritable."""
    metrics = MemoryMetricsSink()
    recorder = Recorder(
        run_id="r",
        strategy_id="s",
        events=MemoryLineSink(),
        states=_RefusingSink(),
        audit=MemoryLineSink(),
        metrics=metrics,
    )
    with pytest.raises(Exception, match="states sink failed"):
        recorder.snapshot({"fsm_state": "INIT"})
    recorder.write_metrics()
    document = orjson.loads(metrics.content)
    assert document["states_sink_error"] == f"OSError: cannot write {ESCAPED}"
    said = f"states sink failed at line 1 (OSError: cannot write {ESCAPED})"
    assert recorder.failure_summary() == said


def test_any_payload_text_with_a_lone_surrogate_is_written_escaped():
    """Whatever else carries a plug-in's text into a record (a venue's id or message, say):
    the event, snapshot and audit lines are written with the surrogate escaped, never lost."""
    sinks = Sinks()
    recorder = Recorder(
        run_id="r",
        strategy_id="s",
        events=sinks.events,
        states=sinks.states,
        audit=sinks.audit,
        metrics=sinks.metrics,
    )
    recorder.emit("ORDER_OUTCOME_UNKNOWN", {"client_order_id": "c1", "note": NAME})
    recorder.snapshot({"fsm_state": "INIT", "note": NAME})
    recorder.write_metrics()
    (line,) = sinks.events.lines
    assert orjson.loads(line)["payload"]["note"] == ESCAPED
    assert orjson.loads(sinks.states.lines[0])["note"] == ESCAPED
    assert _audit(sinks, "C2_ORDER_OUTCOME_UNKNOWN") == [{"client_order_id": "c1", "note": ESCAPED}]


def test_the_json_output_escapes_a_lone_surrogate(capsys: pytest.CaptureFixture[str]):
    emit_json({"run_dir": f"runs/{NAME}"})
    assert capsys.readouterr().out == '{"run_dir":"runs/report_\\\\xff.csv"}\n'


def test_valid_text_leaves_valid_text_alone():
    for text in ("plain", "caf\u00e9 \u2014 \U0001f600", ""):
        assert valid_text(text) is text
    assert valid_text(f"{NAME} and \ud800") == f"{ESCAPED} and \\ud800"


_RAISING_PACKAGE = """
from decimal import Decimal
from livesession import OrderIntent, Side

class S:
    def __init__(self, *, strategy_id):
        self.strategy_id, self.n = strategy_id, 0
    def on_bar(self, bar, view):
        self.n += 1
        if self.n == 2:
            return [OrderIntent(symbol=bar.symbol, side=Side.BUY,
                                quantity=Decimal("0.010"), reason="in")]
        if self.n == 5:
            raise RuntimeError(MESSAGE)
        return []
    def get_state(self):
        return {"n": self.n}
    def set_state(self, state):
        self.n = state["n"]

def make(*, strategy_id):
    return S(strategy_id=strategy_id)
"""


def _raised_at(tmp_path: Path) -> str:
    """What the CLI's failed line says of where the raising package's ``on_bar`` raised."""
    line = _RAISING_PACKAGE.splitlines().index("            raise RuntimeError(MESSAGE)") + 1
    at = f"{tmp_path / 'raisepkg' / 's.py'}:{line} in on_bar"
    return f"; raised at {at}; traceback in session.log.jsonl"


def _cli_run_raising(
    tmp_path: Path, message: str
) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    """A CLI dry run whose strategy (a package by reference) raises ``message`` on bar 5."""
    package = tmp_path / "raisepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "s.py").write_text(_RAISING_PACKAGE.replace("MESSAGE", message))
    config = tmp_path / "raise.toml"
    config.write_text(
        'run_id = "r"\nsteps = 10\nstrategy_id = "r"\nstrategy_factory = "raisepkg.s:make"\n'
    )
    out = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "dryrun", "-c", str(config), "--out", str(out)],
        capture_output=True,
        check=False,
        timeout=120,
    )
    return done, out / "r"


def test_the_cli_winds_a_strategy_error_with_an_undecodable_byte_down(tmp_path: Path):
    """The reviewer's run: exit 4, STRATEGY_ERROR, wound down, sealed FAILED, verified."""
    message = "'cannot read ' + b'report_\\xff.csv'.decode('utf-8', 'surrogateescape')"
    done, run_dir = _cli_run_raising(tmp_path, message)
    assert done.returncode == 4, done.stderr
    assert done.stderr.decode("utf-8") == (
        f"livesession: failed: STRATEGY_ERROR (RuntimeError: cannot read {ESCAPED}"
        f"{_raised_at(tmp_path)}); wound "
        f"down (cancelled, flattened) and sealed FAILED: {run_dir}\n"
    )
    assert verify_run(run_dir).ok
    audit = (run_dir / "audit.jsonl").read_text(encoding="utf-8")
    said = '"payload":{"error":"RuntimeError","message":"cannot read report_\\\\xff.csv"'
    assert f'"code":"C2_STRATEGY_ERROR",{said}' in audit


def test_a_check_s_detail_with_a_lone_surrogate_rejects_the_run_as_it_should(tmp_path: Path):
    """A caller's preflight check that quotes a file name: the run is REJECTED by that check
    (not an error of the session's), its PREFLIGHT_CHECK written, the result's detail valid."""

    def inputs_present(_ctx: object) -> CheckResult:
        return CheckResult(name="inputs", passed=False, reason="MISSING", detail=f"no {NAME}")

    sinks = Sinks()
    config = DryrunConfig(run_id="text", strategy_id="scripted", steps=20)
    orch = LiveSessionOrchestrator(config, checks=(inputs_present,), **sinks.kwargs())
    assert not orch.preflight()
    orch.close()
    result = orch.result()
    assert (result.status, result.reason, result.detail) == (
        SessionStatus.REJECTED,
        "MISSING",
        f"no {ESCAPED}",
    )
    failed = [e for e in sinks.events_of("PREFLIGHT_CHECK") if not e["payload"]["passed"]]
    assert [e["payload"]["detail"] for e in failed] == [f"no {ESCAPED}"]
    _verified(sinks, tmp_path / "run")


def test_an_alert_carries_a_lone_surrogate_escaped():
    """Audit observers see a record before it is written: an alert made from one whose text
    holds a lone surrogate (a lease backend's error, say) is still a JSON document."""
    alert = alert_for(
        "C2_LEASE_LOST",
        {"reason": f"gone {NAME}", "error": f"cannot read {NAME}"},
        run_id="r",
        state="ERROR_REQUIRES_OPERATOR",
        status="FAILED",
        ts="2026-01-01T00:00:00Z",
        audit_seq=3,
    )
    assert alert is not None
    document = orjson.loads(orjson.dumps(alert.to_json()))
    assert document["detail"]["error"] == f"cannot read {ESCAPED}"
    assert document["reason"] == f"gone {ESCAPED}"


@pytest.mark.parametrize("made_by", ["audit record", "RUN_UNSEALED"])
def test_every_alert_shows_its_reason_and_detail_by_one_rule(made_by: str):
    """An alert raised by an audit record and the ``RUN_UNSEALED`` one no record raises show
    their reason and detail alike: a secret redacted, a lone surrogate escaped."""
    reason = f"token=abcd1234 gone {NAME}"
    detail = {"error": f"cannot read {NAME}", "password": "hunter2"}
    where: dict[str, Any] = {
        "run_id": "r",
        "state": "ERROR_REQUIRES_OPERATOR",
        "status": "FAILED",
        "ts": "2026-01-01T00:00:00Z",
        "audit_seq": 3,
    }
    if made_by == "audit record":
        alert = alert_for("C2_LEASE_LOST", {"reason": reason, **detail}, **where)
    else:
        alert = unsealed_alert(why=reason, audit_code="C2_LEASE_LOST", detail=detail, **where)
    assert alert is not None
    document = orjson.loads(orjson.dumps(alert.to_json()))
    assert document["reason"] == f"token=*** gone {ESCAPED}"
    assert document["detail"]["error"] == f"cannot read {ESCAPED}"
    assert document["detail"]["password"] == "***"
    assert "abcd1234" not in document["text"]
    assert "hunter2" not in orjson.dumps(document).decode()


def test_the_cli_s_failed_line_escapes_a_nul_and_every_other_control(tmp_path: Path):
    """Bug: the one stderr line joined whitespace (newlines, tabs, U+2028) into spaces, but a
    NUL, an ESC (which a terminal acts on), a DEL or a C1 control went out as they were. Each
    is its ``\\xNN`` escape now; the run's files keep the message as the strategy gave it."""
    message = '"nul\\x00 esc\\x1b[31m del\\x7f csi\\x9b bell\\x07 nl\\n cr\\r ls\\u2028 end"'
    done, run_dir = _cli_run_raising(tmp_path, message)
    assert done.returncode == 4, done.stderr
    assert done.stderr.decode("utf-8") == (
        "livesession: failed: STRATEGY_ERROR (RuntimeError: nul\\x00 esc\\x1b[31m del\\x7f "
        f"csi\\x9b bell\\x07 nl cr ls end{_raised_at(tmp_path)}); wound down (cancelled, "
        "flattened) and sealed FAILED: "
        f"{run_dir}\n"
    )
    (line,) = [
        event
        for event in map(orjson.loads, (run_dir / "events.jsonl").read_bytes().splitlines())
        if event["event_type"] == "STRATEGY_ERROR"
    ]
    assert line["payload"]["message"] == (
        "nul\x00 esc\x1b[31m del\x7f csi\x9b bell\x07 nl\n cr\r ls\u2028 end"
    )
    assert verify_run(run_dir).ok


def test_the_cli_s_failed_line_shows_a_bidi_control_as_its_escape(tmp_path: Path):
    """Bug: a strategy's error holding U+202E (RIGHT-TO-LEFT OVERRIDE) went to the terminal as
    it was, and the terminal drew the rest of the line right to left: the line could read
    otherwise than it is (``report.html`` already escaped it). Each bidi control is its
    ``\\uNNNN`` escape now; the run's files keep the message as the strategy gave it."""
    controls = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    done, run_dir = _cli_run_raising(tmp_path, f'"model {controls} end"')
    assert done.returncode == 4, done.stderr
    escapes = "".join(f"\\u{ord(char):04x}" for char in controls)
    assert done.stderr.decode("utf-8") == (
        f"livesession: failed: STRATEGY_ERROR (RuntimeError: model {escapes} end"
        f"{_raised_at(tmp_path)}); wound down "
        f"(cancelled, flattened) and sealed FAILED: {run_dir}\n"
    )
    (line,) = [
        event
        for event in map(orjson.loads, (run_dir / "events.jsonl").read_bytes().splitlines())
        if event["event_type"] == "STRATEGY_ERROR"
    ]
    assert line["payload"]["message"] == f"model {controls} end"
    assert verify_run(run_dir).ok


def test_the_rejected_line_is_one_printable_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A check's detail (a plug-in's text) on the ``rejected:`` line was printed as it was:
    a NUL and an ESC went to the terminal."""

    def inputs_present(_ctx: object) -> CheckResult:
        return CheckResult(
            name="inputs", passed=False, reason="MISSING", detail=f"no\x00 {NAME}\x1b[2J here"
        )

    config = DryrunConfig(run_id="text", strategy_id="scripted", steps=20)
    orch = LiveSessionOrchestrator(config, checks=(inputs_present,), **Sinks().kwargs())
    assert not orch.preflight()
    orch.close()
    say_rejected(orch.result(), tmp_path, config)
    said = f"livesession: rejected: MISSING: no\\x00 {ESCAPED}\\x1b[2J here; sealed REJECTED, nothing traded: {tmp_path}\n"
    assert capsys.readouterr().err == said


def test_a_plug_in_that_fails_to_load_is_named_on_one_printable_line():
    assert raised(ValueError("bad\x00 lookback\n\x1b[2J")) == (
        "raised ValueError: bad\\x00 lookback \\x1b[2J"
    )


def test_one_line():
    assert one_line("a\tb\n\nc\u2028d\x85e") == "a b c d e"
    assert one_line("\x00\x01\x1b\x7f\x80\x9f") == "\\x00\\x01\\x1b\\x7f\\x80\\x9f"
    assert one_line(f" {NAME} caf\u00e9 ") == f"{ESCAPED} caf\u00e9"


def test_a_check_s_detail_of_many_lines_is_recorded_on_one(tmp_path: Path):
    """Bug: a caller's check whose detail had a newline (a listing of the files it missed)
    was recorded as it was, and the run failed verify (the schema keeps a check's detail
    to one line): the PREFLIGHT_CHECK event and its C2_REJECT record were schema
    violations. The detail is recorded on one line, as the CLI prints it."""

    def inputs_present(_ctx: object) -> CheckResult:
        detail = "missing:\n  prices.csv\n  fx\x00.csv"
        return CheckResult(name="inputs", passed=False, reason="MISSING", detail=detail)

    sinks = Sinks()
    config = DryrunConfig(run_id="text", strategy_id="scripted", steps=20)
    orch = LiveSessionOrchestrator(config, checks=(inputs_present,), **sinks.kwargs())
    assert not orch.preflight()
    orch.close()
    one = "missing: prices.csv fx\\x00.csv"
    assert orch.result().detail == one
    failed = [e for e in sinks.events_of("PREFLIGHT_CHECK") if not e["payload"]["passed"]]
    assert [e["payload"]["detail"] for e in failed] == [one]
    assert _audit(sinks, "C2_REJECT_MISSING")[0]["detail"] == one
    _verified(sinks, tmp_path / "run")


_DESK_PACKAGE = """
from decimal import Decimal


def stretched(close):
    return close * 0.999  # a float where a Decimal is meant


class MeanRev:
    def __init__(self, *, strategy_id, mode):
        self.strategy_id, self.mode, self.n = strategy_id, mode, 0

    def on_bar(self, bar, view):
        self.n += 1
        if self.n < 3:
            return []
        if self.mode == "raise":
            stretched(bar.close)
        return None  # a forgotten return: the session refuses it, no line of this raised

    def get_state(self):
        return {"n": self.n}

    def set_state(self, state):
        self.n = state["n"]


def make(*, strategy_id, mode):
    return MeanRev(strategy_id=strategy_id, mode=mode)
"""


def _desk_dryrun(
    tmp_path: Path, module: str, source: str, config: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``livesession dryrun`` of run ``r`` (10 steps) on package ``mydesk``'s ``module``,
    which fails its strategy (exit 4): the process, and the runs' directory."""
    (tmp_path / "mydesk").mkdir()
    (tmp_path / "mydesk" / "__init__.py").write_text("")
    (tmp_path / "mydesk" / f"{module}.py").write_text(source)
    (tmp_path / "desk.toml").write_text(f'run_id = "r"\nsteps = 10\n{config}')
    out = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "dryrun", "-c", str(tmp_path / "desk.toml"),
         "--out", str(out), "-q"],
        capture_output=True, text=True, check=False, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    return done, out


@pytest.mark.parametrize("mode", ["raise", "return"])
def test_the_cli_s_failed_line_names_the_line_of_the_desk_s_code_that_raised(tmp_path, mode):
    """Bug: a desk's strategy that raised (``bar.close * 0.999``, a Decimal times a float)
    ended ``dryrun`` with ``failed: STRATEGY_ERROR (TypeError: unsupported operand type(s)
    for *: 'decimal.Decimal' and 'float'); wound down ...``: no file, no line, and nothing
    said that the traceback was in the run's session log. The line names the innermost line
    of the desk's own code now, and where the traceback is. When no line of it raised (the
    session refused what ``on_bar`` returned: ``on_bar returned None``) the message says
    what, and the line named no file: it now says where ``on_bar`` is defined."""
    done, out = _desk_dryrun(
        tmp_path,
        "strat",
        _DESK_PACKAGE,
        f'strategy_id = "mr"\nstrategy_factory = "mydesk.strat:make"\n'
        f'[strategy_params]\nmode = "{mode}"\n',
    )
    if mode == "raise":
        line = (
            _DESK_PACKAGE.splitlines().index(
                "    return close * 0.999  # a float where a Decimal is meant"
            )
            + 1
        )
        assert done.stderr == (
            "livesession: failed: STRATEGY_ERROR (TypeError: unsupported operand type(s) for *: "
            f"'decimal.Decimal' and 'float'; raised at {tmp_path / 'mydesk' / 'strat.py'}:{line} "
            "in stretched; traceback in session.log.jsonl); wound down (cancelled, flattened) "
            f"and sealed FAILED: {out / 'r'}\n"
        )
        log = (out / "r" / "session.log.jsonl").read_text(encoding="utf-8")
        assert f'strat.py\\", line {line}, in stretched' in log
    else:
        assert "raised at" not in done.stderr
        defined = _DESK_PACKAGE.splitlines().index("    def on_bar(self, bar, view):") + 1
        assert done.stderr == (
            f"livesession: failed: STRATEGY_ERROR (TypeError: {NONE_RETURNED}; on_bar is at "
            f"{tmp_path / 'mydesk' / 'strat.py'}:{defined}); wound down (cancelled, flattened) "
            f"and sealed FAILED: {out / 'r'}\n"
        )
        events = (out / "r" / "events.jsonl").read_text(encoding="utf-8")
        assert "on_bar is at" not in events  # a path is no part of the run's evidence
    assert verify_run(out / "r").ok


_COUNTING_PACKAGE = """\
from collections import Counter


class Counting:
    def __init__(self, *, strategy_id):
        self.strategy_id = strategy_id
        self.seen = Counter()

    def on_bar(self, bar, view):
        self.seen["bars"] += 1
        return []

    def get_state(self):
        return {"seen": self.seen}

    def set_state(self, state):
        self.seen = state["seen"]


def make(*, strategy_id):
    return Counting(strategy_id=strategy_id)
"""


def test_the_cli_s_failed_line_names_where_get_state_is(tmp_path):
    """Bug: a state the checkpoint refused (a Counter, which a resume would hand back as a
    plain dict) ended ``dryrun`` with ``failed: STRATEGY_ERROR (TypeError: get_state gave
    what JSON cannot hold ...); wound down ...``, naming no file: no line of the desk's code
    raised. It now says where ``get_state`` is, as it does ``on_bar`` for an answer it
    refused; the run's record holds no path."""
    done, out = _desk_dryrun(
        tmp_path, "counting", _COUNTING_PACKAGE, 'strategy_factory = "mydesk.counting:make"\n'
    )
    defined = _COUNTING_PACKAGE.splitlines().index("    def get_state(self):") + 1
    assert done.stderr == (
        "livesession: failed: STRATEGY_ERROR (TypeError: get_state gave what JSON cannot hold "
        "(Type is not JSON serializable: Counter) at state['seen'] (dict(x) is it as JSON: a "
        "resume hands set_state a plain dict, to make a Counter again): use only JSON types, "
        f"and store Decimals as strings; get_state is at {tmp_path / 'mydesk' / 'counting.py'}:"
        f"{defined}); wound down (cancelled, flattened) and sealed FAILED: {out / 'r'}\n"
    )
    events = (out / "r" / "events.jsonl").read_text(encoding="utf-8")
    assert "get_state is at" not in events  # a path is no part of the run's evidence
    assert verify_run(out / "r").ok
